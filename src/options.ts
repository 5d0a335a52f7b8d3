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

import type { Config, HeapSampling, MetricsMode, NativeMode, ShutdownAction } from './types';
import type { LogLevel } from './log';
import { EXPECTED, formatBytes, formatDuration, formatThreshold, parseDuration, parseThreshold, type ParseResult } from './units';
import {
  parseAction,
  parseBoolean,
  parseExitCode,
  parseHeapSampling,
  parseHost,
  parseInstrumentations,
  parseLogLevel,
  parseLogsExporter,
  parseMetrics,
  parseMetricsExporter,
  parseNativeMode,
  parseOnOff,
  parseOtlpProtocol,
  parsePath,
  parsePort,
  parseReserve,
  parseTracesExporter,
} from './parsers';
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
  /** `OOMGUARD_ACTION`, default `'auto'`; `'observe'` reports the shutdown it would have made and does not act. */
  action?: ShutdownAction;
  /** `OOMGUARD_NATIVE`, default `'auto'`: the optional native part (V8's near-heap-limit and major-GC callbacks). */
  native?: NativeMode | boolean;
  /** `OOMGUARD_NATIVE_RESERVE`, default `'64MiB'`, at least `'1MiB'`; a number is bytes. */
  nativeReserve?: string | number;
  /**
   * `OOMGUARD_METRICS`, default `'prometheus'` (serve `/metrics`); `'global'`: publish the gauges
   * through the app's global OpenTelemetry MeterProvider, no endpoint; `'none'` or false: neither.
   */
  metrics?: MetricsMode | boolean;
  /** `OOMGUARD_METRICS_HOST`, default: all interfaces; `'127.0.0.1'` keeps the endpoint local. */
  metricsHost?: string;
  /** `OOMGUARD_METRICS_PORT`, default 9465 (9464 is the app's OpenTelemetry exporter's); 0 asks for an ephemeral port. */
  metricsPort?: number | string;
  /** `OOMGUARD_LOG_LEVEL` (else `OTEL_LOG_LEVEL`), default `'error'`: which agent diagnostics reach stderr. */
  logLevel?: LogLevel;
  /** Push over OTLP; default: on when an `OTEL_EXPORTER_OTLP_*ENDPOINT` is set; false ignores them. */
  otlp?: boolean;
  /** `OTEL_SDK_DISABLED`, default false; true: no telemetry at all, the guard still guards. */
  sdkDisabled?: boolean | string;
  /** `OOMGUARD_HEAP_SAMPLING`, default `'warn'`: sample the heap from the first warn line on; `'always'`; `'off'`. */
  heapSampling?: HeapSampling;
  /** `OOMGUARD_PROFILE_DIR`, default none: a shutdown writes a `.heapprofile` (Chrome DevTools) there. */
  profileDir?: string | false;
  /** `OOMGUARD_TERMINATION_LOG`, default `'/dev/termination-log'` where it exists; false: none. */
  terminationLog?: string | false;
  /** `OTEL_EXPORTER_OTLP_PROTOCOL` (every signal), default `'http/protobuf'`; also `'http/json'`, `'grpc'`. */
  otlpProtocol?: string;
  /** `OTEL_TRACES_EXPORTER`: `'otlp'`, `'console'`, `'none'` or a comma-separated list; default: otlp when an endpoint is set. */
  tracesExporter?: string;
  /** `OTEL_METRICS_EXPORTER`: `'prometheus'`, `'otlp'`, `'console'`, `'none'` or a list; default: prometheus, and otlp when an endpoint is set. */
  metricsExporter?: string;
  /** `OTEL_LOGS_EXPORTER`: `'otlp'`, `'console'`, `'none'` or a list; default: otlp when an endpoint is set. */
  logsExporter?: string;
  /** `OOMGUARD_INSTRUMENTATIONS`: `'runtime'`, `'host'`, `'runtime,host'` (default) or `'none'`. */
  instrumentations?: string;
  /** `OOMGUARD_TELEMETRY_DELAY`, default `'5s'`: telemetry loads once the process has lived this long, or at the first warning, and only with room for it below the shutdown lines. */
  telemetryDelay?: string | number;
}

export type OptionName = keyof StartOptions;

/** How values of a setting are written. */
export interface Form {
  /** Parses an environment string, or a `start()` value of a type the form takes (`schema.ts`). */
  readonly parse: (raw: never) => ParseResult<unknown>;
  readonly expected: string;
  /** A resolved value as a variable would write it (`oomguard doctor`, the docs' defaults). */
  readonly show: (value: never) => string;
  /** The "accepted forms" column of docs/configuration.md. */
  readonly docs: string;
}

/** A list of names as a variable writes it; the empty list is `none`. */
function showList(list: readonly string[]): string {
  return list.length === 0 ? 'none' : list.join(',');
}

/** Where the docs explain the forms; links are relative to the repository root. */
const FORMS_DOC = 'docs/configuration.md#forms';

/** Every form, by name. */
export const FORMS = {
  threshold: { parse: parseThreshold, expected: EXPECTED.threshold, show: formatThreshold, docs: `[threshold](${FORMS_DOC}): a size, a percent or \`off\`` },
  duration: { parse: parseDuration, expected: EXPECTED.duration, show: formatDuration, docs: `[duration](${FORMS_DOC}): \`250ms\`, \`1s\`, \`2m\`...` },
  boolean: { parse: parseBoolean, expected: EXPECTED.boolean, show: String, docs: `[boolean](${FORMS_DOC})` },
  exitCode: { parse: parseExitCode, expected: EXPECTED.exitCode, show: String, docs: 'integer 1..125' },
  action: { parse: parseAction, expected: EXPECTED.action, show: String, docs: '`exit`, `signal`, `auto`, `observe` (any case)' },
  metrics: {
    parse: parseMetrics,
    expected: EXPECTED.metrics,
    show: String,
    docs: '`prometheus`, `global`, `none` (any case); boolean words too (`false` = `none`)',
  },
  host: {
    parse: parseHost,
    expected: EXPECTED.host,
    show: (host?: string) => host ?? 'all interfaces',
    docs: 'host name or IP, no scheme, port or path; `[::1]` loses its brackets',
  },
  port: { parse: parsePort, expected: EXPECTED.port, show: String, docs: 'integer 0..65535' },
  onOff: { parse: parseOnOff, expected: EXPECTED.onOff, show: (on: boolean) => (on ? 'on' : 'off'), docs: '`true` or `false`' },
  nativeMode: { parse: parseNativeMode, expected: EXPECTED.nativeMode, show: String, docs: '`auto`, `on`, `off` (any case); boolean words too (`false` = `off`)' },
  reserve: { parse: parseReserve, expected: EXPECTED.reserve, show: formatBytes, docs: `a [size](${FORMS_DOC}) of at least \`1MiB\`` },
  sampling: { parse: parseHeapSampling, expected: EXPECTED.sampling, show: String, docs: '`warn`, `always`, `off` (any case)' },
  path: { parse: parsePath, expected: EXPECTED.path, show: (path?: string) => path ?? 'off', docs: 'a path (relative to the working directory), or `off`' },
  otlpProtocol: { parse: parseOtlpProtocol, expected: EXPECTED.otlpProtocol, show: String, docs: '`http/protobuf`, `http/json`, `grpc`' },
  tracesExporter: { parse: parseTracesExporter, expected: EXPECTED.tracesExporter, show: showList, docs: '`otlp`, `console`, `none`, or a comma-separated list' },
  metricsExporter: {
    parse: parseMetricsExporter,
    expected: EXPECTED.metricsExporter,
    show: showList,
    docs: '`prometheus`, `otlp`, `console`, `none`, or a comma-separated list',
  },
  logsExporter: { parse: parseLogsExporter, expected: EXPECTED.logsExporter, show: showList, docs: '`otlp`, `console`, `none`, or a comma-separated list' },
  instrumentations: { parse: parseInstrumentations, expected: EXPECTED.instrumentations, show: showList, docs: '`runtime`, `host`, `runtime,host`, `none`' },
  logLevel: { parse: parseLogLevel, expected: EXPECTED.logLevel, show: String, docs: '`none`, `error`, `warn`, `info`, `debug`, `verbose`, `all` (any case)' },
} as const satisfies Record<string, Form>;

export type FormName = keyof typeof FORMS;

/** One setting. */
export interface OptionSpec {
  readonly option: OptionName;
  readonly variable: string;
  /** How its values are written: a key of {@link FORMS}. */
  readonly form: FormName;
  /** More variables for the same setting (the per-signal OTLP endpoints). */
  readonly alsoVariables?: readonly string[];
  /** Where the resolved value sits in a {@link Config}. */
  readonly resolved: (config: Config) => unknown;
  /**
   * For settings that steer telemetry or diagnostics only: what a bad value turns off. Such a
   * value is a warning (an error under `OOMGUARD_STRICT`), never a reason to leave the guard off.
   */
  readonly telemetry?: string;
  /** The docs' "default" column, when `form.show` of the default needs words. */
  readonly defaultText?: string;
  /** The docs' "accepted forms" column, when the form's own text needs more. */
  readonly forms?: string;
  /** The meaning, in Markdown; links are relative to the repository root. */
  readonly doc: string;
}

const follows = (option: string): string => `[follows \`${option}\`](docs/configuration.md#warn-levels-that-follow-their-threshold)`;

/** Every setting, in the order the docs and `oomguard doctor` list them; one row per option. */
const ROWS = {
  enabled: {
    variable: 'OOMGUARD_ENABLED',
    form: 'boolean',
    resolved: (c) => c.enabled,
    doc: '`false`: the preload does nothing at all (no timer, no port, no listener) and reads and reports nothing else',
  },
  strict: {
    variable: 'OOMGUARD_STRICT',
    form: 'boolean',
    resolved: (c) => c.strict,
    doc: '`true`: a configuration error exits 78 before the app starts, instead of leaving the guard off',
  },
  heapThreshold: {
    variable: 'OOMGUARD_HEAP_THRESHOLD',
    form: 'threshold',
    resolved: (c) => c.heapThreshold,
    doc: 'shut down when the heap reaches this; a percent is of the old-generation budget, the size at which V8 really aborts ([heap-model.md](docs/heap-model.md)). Not 80%: from there V8 may abort with "ineffective mark-compacts" while the shutdown hooks run ([why 75%](docs/heap-model.md#why-the-default-line-is-75))',
  },
  heapWarn: {
    variable: 'OOMGUARD_HEAP_WARN',
    form: 'threshold',
    resolved: (c) => c.heapWarn,
    defaultText: `\`70%\`, or ${follows('heapThreshold')}`,
    doc: 'warn level for the heap: a warning event, `onPressure` listeners, and polling 4x faster',
  },
  rssThreshold: {
    variable: 'OOMGUARD_RSS_THRESHOLD',
    form: 'threshold',
    resolved: (c) => c.rssThreshold,
    doc: 'shut down when resident memory reaches this; a percent is of the memory limit (cgroup, or `process.constrainedMemory()`) and is off where there is no limit',
  },
  rssWarn: {
    variable: 'OOMGUARD_RSS_WARN',
    form: 'threshold',
    resolved: (c) => c.rssWarn,
    defaultText: `\`80%\`, or ${follows('rssThreshold')}`,
    doc: 'warn level for resident memory',
  },
  pollInterval: {
    variable: 'OOMGUARD_POLL_INTERVAL',
    form: 'duration',
    resolved: (c) => c.pollIntervalMs,
    doc: 'time between two readings, at least `10ms`; past a warn line the guard polls 4x faster, and it also checks after every major GC',
  },
  shutdownTimeout: {
    variable: 'OOMGUARD_SHUTDOWN_TIMEOUT',
    form: 'duration',
    resolved: (c) => c.shutdownTimeoutMs,
    forms: `[duration](${FORMS_DOC}); \`0s\` leaves no time for hooks`,
    doc: "deadline for the shutdown: the hooks first, then the telemetry flush (at most max(250ms, 15%) of it), then the app's own SIGTERM path; then the process exits regardless",
  },
  exitCode: {
    variable: 'OOMGUARD_EXIT_CODE',
    form: 'exitCode',
    resolved: (c) => c.exitCode,
    doc: 'exit code of a memory-pressure shutdown',
  },
  action: {
    variable: 'OOMGUARD_ACTION',
    form: 'action',
    resolved: (c) => c.action,
    doc: "`exit`: run hooks, flush, exit; `signal`: also send SIGTERM to the process so the app's own shutdown path runs (the exit code is still forced, also when a library such as signal-exit re-raises the signal); `auto`: `signal` when the app listens for SIGTERM, else `exit`; `observe`: shadow mode, report the shutdown it would have made (JSON line with `\"observed\":true`, span, log record, `oomguard.shutdowns.observed`) but run no hook and keep the process running ([shadow mode](docs/configuration.md#shadow-mode-oomguard_actionobserve)). On Windows, where a signal to oneself ends the process at once with code 1, `signal` and `auto` exit",
  },
  native: {
    variable: 'OOMGUARD_NATIVE',
    form: 'nativeMode',
    resolved: (c) => c.native,
    doc: 'the optional native part, which hears V8 itself: at the heap limit it shuts down even a runaway synchronous loop (`heap-limit`, exit 2). `auto`: used when it loads; `on`: the same, and a line on stderr when it does not; `off`: the JavaScript guard only ([native.md](docs/native.md))',
  },
  nativeReserve: {
    variable: 'OOMGUARD_NATIVE_RESERVE',
    form: 'reserve',
    resolved: (c) => c.nativeReserveBytes,
    doc: "how far the native part raises V8's heap limit once it is reached, so the shutdown has room to run; never past what the memory limit leaves",
  },
  metrics: {
    variable: 'OOMGUARD_METRICS',
    form: 'metrics',
    resolved: (c) => c.metrics.mode,
    doc: "where the guard's gauges go: `prometheus` serves its own `/metrics` endpoint; `global` publishes them through the app's own OpenTelemetry MeterProvider once the app has registered one (no second endpoint, no provider of ours); `none`: neither. OTLP metrics follow the OTLP endpoint instead ([docs/metrics.md](docs/metrics.md#where-the-gauges-go))",
  },
  metricsHost: {
    variable: 'OOMGUARD_METRICS_HOST',
    form: 'host',
    resolved: (c) => c.metrics.host,
    telemetry: 'the Prometheus endpoint stays off',
    defaultText: 'all interfaces',
    doc: 'address of the `/metrics` endpoint; `127.0.0.1` keeps it to the host (or the pod). `OTEL_EXPORTER_PROMETHEUS_HOST` is the app\'s exporter\'s, not read',
  },
  metricsPort: {
    variable: 'OOMGUARD_METRICS_PORT',
    form: 'port',
    resolved: (c) => c.metrics.port,
    telemetry: 'the Prometheus endpoint stays off',
    doc: "port of the `/metrics` endpoint: not 9464, the OpenTelemetry Prometheus exporter's default, which the app may use; `0` asks for an ephemeral port. `OTEL_EXPORTER_PROMETHEUS_PORT` is the app's exporter's, not read",
  },
  otlp: {
    variable: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    form: 'onOff',
    resolved: (c) => c.otlp,
    alsoVariables: ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT'],
    telemetry: 'OTLP stays off',
    forms: 'an `http://` or `https://` URL; the option is a boolean',
    doc: "push the warning/shutdown event, span and metrics over OTLP (in `otlpProtocol`) when any endpoint is set; `otlp: true` without one uses the exporters' default (`http://localhost:4318`, or `:4317` for grpc), `otlp: false` ignores the variables and the exporter settings below",
  },
  logLevel: {
    variable: 'OOMGUARD_LOG_LEVEL',
    form: 'logLevel',
    resolved: (c) => c.logLevel,
    alsoVariables: ['OTEL_LOG_LEVEL'],
    telemetry: 'the default level stays',
    doc: "which of the agent's own diagnostics reach stderr (a busy default port, telemetry that failed to start...); `OTEL_LOG_LEVEL` counts when `OOMGUARD_LOG_LEVEL` is unset. What the user must act on (a bad configuration, a shutdown, a port that was asked for and cannot be had) is written at every level. The OpenTelemetry `diag` logger is the app's and never used",
  },
  sdkDisabled: {
    variable: 'OTEL_SDK_DISABLED',
    form: 'boolean',
    resolved: (c) => c.sdkDisabled,
    forms: '`true` or `false` (the option also takes the boolean words)',
    doc: '`true`: no telemetry at all (no endpoint, no OTLP); the guard still guards',
  },
  heapSampling: {
    variable: 'OOMGUARD_HEAP_SAMPLING',
    form: 'sampling',
    resolved: (c) => c.heapSampling,
    doc: "when V8's sampling heap profiler runs, through an inspector session of the guard's own: `warn` from the first warn line on, `always` from the start, `off` never. A shutdown names the top allocation sites of what is still alive ([where the memory went](docs/contract.md#where-the-memory-went))",
  },
  profileDir: {
    variable: 'OOMGUARD_PROFILE_DIR',
    form: 'path',
    resolved: (c) => c.profileDir,
    defaultText: 'off',
    doc: 'a shutdown writes its heap profile there as `oomguard-<pid>-<time>.heapprofile`, which Chrome DevTools opens (Memory, Load profile); the directory is created if missing',
  },
  terminationLog: {
    variable: 'OOMGUARD_TERMINATION_LOG',
    form: 'path',
    resolved: (c) => c.terminationLog,
    doc: "a shutdown writes why, and where the memory went, to this file; Kubernetes shows it under `kubectl describe pod`. The default is written only where it exists (the kubelet mounts it); another path is created",
  },
  otlpProtocol: {
    variable: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    form: 'otlpProtocol',
    alsoVariables: ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', 'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL'],
    resolved: (c) => {
      const { traces, metrics, logs } = c.export;
      const same = traces.protocol === metrics.protocol && metrics.protocol === logs.protocol;
      return same ? traces.protocol : `traces ${traces.protocol}, metrics ${metrics.protocol}, logs ${logs.protocol}`;
    },
    telemetry: 'the default http/protobuf stays',
    doc: 'the OTLP protocol; a per-signal variable wins over the general one. The `http/protobuf` (the specification\'s default), `http/json` and `grpc` exporters are loaded only when chosen',
  },
  tracesExporter: {
    variable: 'OTEL_TRACES_EXPORTER',
    form: 'tracesExporter',
    resolved: (c) => exporterList(c.export.traces),
    telemetry: 'the default stays',
    defaultText: '`otlp` when an OTLP endpoint is set, else `none`',
    doc: 'where the warning/shutdown span goes: `none` sends it nowhere, `console` prints it on stdout',
  },
  metricsExporter: {
    variable: 'OTEL_METRICS_EXPORTER',
    form: 'metricsExporter',
    resolved: (c) => [...(c.metrics.enabled ? ['prometheus'] : []), ...exporterList(c.export.metrics)],
    telemetry: 'the default stays',
    defaultText: '`prometheus`, and `otlp` when an OTLP endpoint is set',
    doc: 'where the metrics go: `prometheus` is the `/metrics` endpoint (`OOMGUARD_METRICS`, when set, decides it alone), `none` leaves no endpoint and pushes no metrics',
  },
  logsExporter: {
    variable: 'OTEL_LOGS_EXPORTER',
    form: 'logsExporter',
    resolved: (c) => exporterList(c.export.logs),
    telemetry: 'the default stays',
    defaultText: '`otlp` when an OTLP endpoint is set, else `none`',
    doc: 'where the warning/shutdown log record goes',
  },
  instrumentations: {
    variable: 'OOMGUARD_INSTRUMENTATIONS',
    form: 'instrumentations',
    resolved: (c) => c.instrumentations,
    doc: "the bundled instrumentations that add runtime (`v8js_*`, `nodejs_eventloop_*`) and host/process (`process_*`, `system_*`) metrics to the agent's; `none` when the app already exports them",
  },
  telemetryDelay: {
    variable: 'OOMGUARD_TELEMETRY_DELAY',
    form: 'duration',
    resolved: (c) => c.telemetryDelayMs,
    doc: 'telemetry (the OpenTelemetry SDK, `/metrics`, OTLP) loads once the process has lived this long, or at its first warning, whichever comes first, so a short process (a CLI, a build step) never loads it; never at a shutdown, nor while loading it would bring memory within reach of a shutdown line; `0s`: right after start-up',
  },
} satisfies Record<OptionName, Omit<OptionSpec, 'option'>>;

/** The exporters a signal pushes to, as `OTEL_*_EXPORTER` names them. */
function exporterList(signal: Config['export']['traces']): string[] {
  return [...(signal.otlp ? ['otlp'] : []), ...(signal.console ? ['console'] : [])];
}

// One plain pass over the rows: this runs in the preload, where a chain of map/fromEntries/
// spread over the same rows measured 0.5 ms more (Node 26, fresh processes, median of 11).
const specs: OptionSpec[] = [];
const byName = {} as Record<OptionName, OptionSpec>;
const oomguardVariables: string[] = [];
for (const option of Object.keys(ROWS) as OptionName[]) {
  const spec: OptionSpec = Object.freeze({ option, ...ROWS[option] });
  specs.push(spec);
  byName[option] = spec;
  if (spec.variable.startsWith('OOMGUARD_')) oomguardVariables.push(spec.variable);
}

/** Every setting, in the table's order. */
export const OPTIONS: readonly OptionSpec[] = Object.freeze(specs);
/** The row of each option. */
export const OPTION: Readonly<Record<OptionName, OptionSpec>> = Object.freeze(byName);
export const OPTION_NAMES: readonly OptionName[] = Object.freeze(Object.keys(ROWS) as OptionName[]);

/**
 * Every `OOMGUARD_*` variable the agent reads. Any other `OOMGUARD_*` variable gets a
 * "did you mean" warning, so a module that reads a new variable must add it here.
 * PARENT_PID_VAR is not configuration: a guarded process sets it for its children (parent.ts).
 */
export const KNOWN_OOMGUARD_VARIABLES: readonly string[] = Object.freeze([...oomguardVariables, PARENT_PID_VAR]);
