/**
 * The one table of settings. Each row names an option of `start()`, its environment variable,
 * the form its values take (one parser for both), where the resolved value sits in a
 * {@link Config}, and its documentation. `config.ts` reads the environment and the options
 * through it, `schema.ts` builds the zod schema and the JSON Schema of the options from it,
 * `oomguard doctor` prints the resolved values in its order, and `options-doc.ts` renders the
 * options tables of README.md and docs/configuration.md from it (a unit test keeps them equal).
 *
 * Nothing here loads anything heavy: the preload imports this table before the app's first line.
 */

import type { Config, ShutdownAction } from './types';
import { EXPECTED, MAX_DURATION_MS, MAX_SIZE, MIN_THRESHOLD_BYTES, formatDuration, formatThreshold, parseDuration, parseThreshold, type ParseResult } from './units';
import { ACTIONS, BOOLEAN_WORDS, parseAction, parseBoolean, parseExitCode, parseHost, parseMetrics, parseOnOff, parsePort } from './parsers';
import { PARENT_PID_VAR } from './parent';

/**
 * The programmatic form of the settings, for `start(options)`; each option wins over its
 * environment variable. Strings take the variables' forms; a number is bytes for a threshold
 * and milliseconds for a duration; `false` turns a threshold off. docs/configuration.md has the
 * defaults and forms; `oomguard schema` prints them as a JSON Schema.
 */
export interface StartOptions {
  /** `OOMGUARD_ENABLED`, default true; false installs nothing at all. */
  enabled?: boolean | string;
  /** `OOMGUARD_STRICT`, default false; true: a configuration error exits 78 before the app starts. */
  strict?: boolean | string;
  /** `OOMGUARD_HEAP_THRESHOLD`, default `'75%'` of the old-generation budget; a size, a percent or off. */
  heapThreshold?: string | number | false;
  /** `OOMGUARD_HEAP_WARN`, default `'70%'`, or derived from `heapThreshold` when only that is set. */
  heapWarn?: string | number | false;
  /** `OOMGUARD_RSS_THRESHOLD`, default `'90%'` of the memory limit (a percent is off without a limit). */
  rssThreshold?: string | number | false;
  /** `OOMGUARD_RSS_WARN`, default `'80%'`, or derived from `rssThreshold` when only that is set. */
  rssWarn?: string | number | false;
  /** `OOMGUARD_POLL_INTERVAL`, default `'1s'`, at least `'10ms'`; a number is milliseconds. */
  pollInterval?: string | number;
  /** `OOMGUARD_SHUTDOWN_TIMEOUT`, default `'10s'`: deadline for hooks and the telemetry flush. */
  shutdownTimeout?: string | number;
  /** `OOMGUARD_EXIT_CODE`, default 2; 1..125. */
  exitCode?: number | string;
  /** `OOMGUARD_ACTION`, default `'auto'`. */
  action?: ShutdownAction;
  /** `OOMGUARD_METRICS`, default `'prometheus'` (serve `/metrics`); `'none'` or false: no endpoint. */
  metrics?: 'prometheus' | 'none' | boolean;
  /** `OTEL_EXPORTER_PROMETHEUS_HOST`, default: all interfaces. */
  metricsHost?: string;
  /** `OTEL_EXPORTER_PROMETHEUS_PORT`, default 9464; 0 asks for an ephemeral port. */
  metricsPort?: number | string;
  /** Push over OTLP/HTTP; default: on when an `OTEL_EXPORTER_OTLP_*ENDPOINT` is set; false ignores them. */
  otlp?: boolean;
  /** `OTEL_SDK_DISABLED`, default false; true: no telemetry at all, the guard still guards. */
  sdkDisabled?: boolean | string;
}

export type OptionName = keyof StartOptions;

/** The JS types a form accepts, each with its JSON Schema (pattern, range, examples) for tooling. */
export type JsonForms = Partial<Record<'string' | 'number' | 'boolean', Readonly<Record<string, unknown>>>>;

/** How values of a setting are written. */
export interface Form {
  /** Parses an environment string, or a `start()` value of one of the {@link json} types. */
  readonly parse: (raw: never) => ParseResult<unknown>;
  readonly expected: string;
  /** The types `start()` takes. The parser is the judge; these describe its forms to tooling. */
  readonly json: JsonForms;
  /** A resolved value as a variable would write it (`oomguard doctor`, the docs' defaults). */
  readonly show: (value: never) => string;
  /** The "accepted forms" column of docs/configuration.md. */
  readonly docs: string;
}

// JSON Schema of the string forms. A pattern checks the form only (ranges such as "at least
// 1MiB" are the parsers'), and it never refuses what a parser accepts: a schema stricter than
// start() would fail a CI check of settings that work. JSON Schema has no case-insensitive
// flag, hence anyCase(); `examples` are what editors offer to complete.
const DIGITS = String.raw`\d(?:_?\d)*`;
const NUMBER = String.raw`\+?(?=\.?\d)(?:${DIGITS})?(?:\.(?:${DIGITS})?)?`;
const SIZE_UNIT = String.raw`(?:[bB](?:[yY][tT][eE][sS]?)?|[kKmMgGtTpP][iI]?[bB]|[kKmMgGtTpP][iI]|[kKMGTP])`;
const anyCase = (word: string): string => word.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`);
const trimmed = (body: string, examples?: readonly string[]) => ({ pattern: String.raw`^\s*(?:${body})\s*$`, ...(examples && { examples }) });
const words = (list: readonly string[], examples = list) => trimmed(list.map(anyCase).join('|'), examples);
const BOOLEANS = [...BOOLEAN_WORDS.true, ...BOOLEAN_WORDS.false];
const range = (minimum: number, maximum: number) => ({ minimum, maximum });
const integer = (minimum: number, maximum: number) => ({ type: 'integer', ...range(minimum, maximum) });

export const FORMS = {
  threshold: {
    parse: parseThreshold,
    expected: EXPECTED.threshold,
    json: {
      string: trimmed(String.raw`${anyCase('off')}|${NUMBER}[ \t]*%|${NUMBER}[ \t]*${SIZE_UNIT}?`, ['75%', '512MiB', 'off']),
      number: range(MIN_THRESHOLD_BYTES, MAX_SIZE),
      boolean: { const: false },
    },
    show: formatThreshold,
    docs: 'threshold',
  },
  duration: {
    parse: parseDuration,
    expected: EXPECTED.duration,
    json: { string: trimmed(String.raw`${NUMBER}[ \t]*(?:[mM][sS]|[sSmMhH])`, ['250ms', '1s', '2m']), number: range(0, MAX_DURATION_MS) },
    show: formatDuration,
    docs: 'duration',
  },
  boolean: { parse: parseBoolean, expected: EXPECTED.boolean, json: { boolean: {}, string: words(BOOLEANS) }, show: String, docs: 'boolean' },
  exitCode: {
    parse: parseExitCode,
    expected: EXPECTED.exitCode,
    json: { number: integer(1, 125), string: trimmed(String.raw`\d+`) },
    show: String,
    docs: 'integer 1..125',
  },
  action: {
    parse: parseAction,
    expected: EXPECTED.action,
    json: { string: words(ACTIONS) },
    show: String,
    docs: '`exit`, `signal`, `auto` (any case)',
  },
  metrics: {
    parse: parseMetrics,
    expected: EXPECTED.metrics,
    json: { string: words(['prometheus', 'none', ...BOOLEANS], ['prometheus', 'none']), boolean: {} },
    show: (on: boolean) => (on ? 'prometheus' : 'none'),
    docs: '`prometheus`, `none` (any case); boolean words too (`false` = `none`)',
  },
  host: { parse: parseHost, expected: EXPECTED.host, json: { string: {} }, show: (host?: string) => host ?? 'all interfaces', docs: 'host name or IP, no scheme, port or path; `[::1]` loses its brackets' },
  port: { parse: parsePort, expected: EXPECTED.port, json: { number: integer(0, 65535), string: trimmed(String.raw`\d+`) }, show: String, docs: 'integer 0..65535' },
  onOff: { parse: parseOnOff, expected: EXPECTED.onOff, json: { boolean: {} }, show: (on: boolean) => (on ? 'on' : 'off'), docs: 'boolean' },
} as const satisfies Record<string, Form>;

/** One setting. */
export interface OptionSpec {
  readonly option: OptionName;
  readonly variable: string;
  /** More variables for the same setting (the per-signal OTLP endpoints). */
  readonly alsoVariables?: readonly string[];
  readonly form: Form;
  /** Where the resolved value sits in a {@link Config}. */
  readonly resolved: (config: Config) => unknown;
  /** For `OTEL_*` settings, which steer telemetry only: what a bad value turns off. */
  readonly telemetry?: string;
  /** The docs' "default" column, when `form.show` of the default needs words. */
  readonly defaultText?: string;
  /** The docs' "accepted forms" column, when the form's own text needs more. */
  readonly forms?: string;
  /** The meaning, in Markdown; links are relative to the repository root. */
  readonly doc: string;
}

const WARN_FOLLOWS = '[follows](docs/configuration.md#warn-levels-that-follow-their-threshold)';

/** Every setting, in the order the docs and `oomguard doctor` list them; one row per option. */
const ROWS = {
  enabled: {
    variable: 'OOMGUARD_ENABLED',
    form: FORMS.boolean,
    resolved: (c) => c.enabled,
    doc: '`false`: the preload does nothing at all (no timer, no port, no listener) and reads and reports nothing else',
  },
  strict: {
    variable: 'OOMGUARD_STRICT',
    form: FORMS.boolean,
    resolved: (c) => c.strict,
    doc: '`true`: a configuration error exits 78 before the app starts, instead of leaving the guard off',
  },
  heapThreshold: {
    variable: 'OOMGUARD_HEAP_THRESHOLD',
    form: FORMS.threshold,
    resolved: (c) => c.heapThreshold,
    doc: 'shut down when the heap reaches this; a percent is of the old-generation budget, the size at which V8 really aborts ([heap-model.md](docs/heap-model.md)). Not 80%: from there V8 may abort with "ineffective mark-compacts" while the shutdown hooks run ([why 75%](docs/heap-model.md#why-the-default-line-is-75))',
  },
  heapWarn: {
    variable: 'OOMGUARD_HEAP_WARN',
    form: FORMS.threshold,
    resolved: (c) => c.heapWarn,
    defaultText: `\`70%\`, or ${WARN_FOLLOWS} \`heapThreshold\``,
    doc: 'warn level for the heap: a warning event, `onPressure` listeners, and polling 4x faster',
  },
  rssThreshold: {
    variable: 'OOMGUARD_RSS_THRESHOLD',
    form: FORMS.threshold,
    resolved: (c) => c.rssThreshold,
    doc: 'shut down when resident memory reaches this; a percent is of the memory limit (cgroup, or `process.constrainedMemory()`) and is off where there is no limit',
  },
  rssWarn: {
    variable: 'OOMGUARD_RSS_WARN',
    form: FORMS.threshold,
    resolved: (c) => c.rssWarn,
    defaultText: `\`80%\`, or ${WARN_FOLLOWS} \`rssThreshold\``,
    doc: 'warn level for resident memory',
  },
  pollInterval: {
    variable: 'OOMGUARD_POLL_INTERVAL',
    form: FORMS.duration,
    resolved: (c) => c.pollIntervalMs,
    doc: 'time between two readings, at least `10ms`; past a warn line the guard polls 4x faster, and it also checks after every major GC',
  },
  shutdownTimeout: {
    variable: 'OOMGUARD_SHUTDOWN_TIMEOUT',
    form: FORMS.duration,
    resolved: (c) => c.shutdownTimeoutMs,
    forms: 'duration (`0s` allowed: no time for hooks)',
    doc: 'deadline for the shutdown hooks and the telemetry flush; then the process exits regardless',
  },
  exitCode: {
    variable: 'OOMGUARD_EXIT_CODE',
    form: FORMS.exitCode,
    resolved: (c) => c.exitCode,
    doc: 'exit code of a memory-pressure shutdown',
  },
  action: {
    variable: 'OOMGUARD_ACTION',
    form: FORMS.action,
    resolved: (c) => c.action,
    doc: "`exit`: run hooks, flush, exit; `signal`: also send SIGTERM to the process so the app's own shutdown path runs (the exit code is still forced); `auto`: `signal` when the app listens for SIGTERM, else `exit`",
  },
  metrics: {
    variable: 'OOMGUARD_METRICS',
    form: FORMS.metrics,
    resolved: (c) => c.metrics.enabled,
    doc: 'whether the agent serves a Prometheus `/metrics` endpoint; OTLP metrics follow the OTLP endpoint instead',
  },
  metricsHost: {
    variable: 'OTEL_EXPORTER_PROMETHEUS_HOST',
    form: FORMS.host,
    resolved: (c) => c.metrics.host,
    telemetry: 'the Prometheus endpoint stays off',
    defaultText: 'all interfaces',
    doc: 'address of the `/metrics` endpoint',
  },
  metricsPort: {
    variable: 'OTEL_EXPORTER_PROMETHEUS_PORT',
    form: FORMS.port,
    resolved: (c) => c.metrics.port,
    telemetry: 'the Prometheus endpoint stays off',
    doc: 'port of the `/metrics` endpoint; `0` asks for an ephemeral port (handy in tests and child processes)',
  },
  otlp: {
    variable: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    form: FORMS.onOff,
    resolved: (c) => c.otlp,
    alsoVariables: ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT'],
    telemetry: 'OTLP stays off',
    forms: 'an `http://` or `https://` URL; the option is a boolean',
    doc: "push the warning/shutdown event, span and metrics over OTLP/HTTP when any endpoint is set; `otlp: true` without one uses the exporters' default `http://localhost:4318`, `otlp: false` ignores the variables",
  },
  sdkDisabled: {
    variable: 'OTEL_SDK_DISABLED',
    form: FORMS.boolean,
    resolved: (c) => c.sdkDisabled,
    forms: '`true` or `false` (the option also takes the boolean words)',
    doc: '`true`: no telemetry at all (no endpoint, no OTLP); the guard still guards',
  },
} satisfies Record<OptionName, Omit<OptionSpec, 'option'>>;

export const OPTIONS: readonly OptionSpec[] = Object.freeze(
  Object.entries(ROWS).map(([option, row]): OptionSpec => Object.freeze({ option: option as OptionName, ...row })),
);

/** The row of each option. */
export const OPTION = Object.freeze(Object.fromEntries(OPTIONS.map((spec) => [spec.option, spec]))) as Readonly<Record<OptionName, OptionSpec>>;

export const OPTION_NAMES: readonly OptionName[] = Object.freeze(OPTIONS.map((spec) => spec.option));

/**
 * Every `OOMGUARD_*` variable the agent reads. Any other `OOMGUARD_*` variable gets a
 * "did you mean" warning, so a module that reads a new variable must add it here.
 */
export const KNOWN_OOMGUARD_VARIABLES: readonly string[] = Object.freeze([
  ...OPTIONS.map((spec) => spec.variable).filter((name) => name.startsWith('OOMGUARD_')),
  // Not configuration: a guarded process sets it for its children (parent.ts).
  PARENT_PID_VAR,
]);
