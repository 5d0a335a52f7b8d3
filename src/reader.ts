/**
 * Reading settings and wording their problems. The {@link Reader} picks each setting from the
 * `start()` options, the environment or the default, parses it with its row's form
 * (`options.ts`), and collects every problem as a {@link ConfigIssue} naming the variable (or
 * `options.<name>`), the value as given and the expected form, in the order the settings are
 * read, so one line per problem is enough to fix it.
 */

import type { ParseResult } from './units';
import { FORMS, OPTION, type OptionName } from './options';
import { REDACTED } from './redact';

/** One problem with one variable or option, worded so a human can fix it. */
export interface ConfigIssue {
  /** The environment variable (`OOMGUARD_HEAP_THRESHOLD`) or option (`options.heapThreshold`). */
  variable: string;
  /** The value as given (numbers and booleans as text). */
  value: string;
  /** The accepted form, e.g. `a duration with a unit: 250ms, 1s, ...`. */
  expected: string;
  /** Why this value is wrong or suspicious. */
  message: string;
  /** `error`: the guard stays off (strict: exit 78). `warning`: reported, the guard runs. */
  severity: 'error' | 'warning';
  /**
   * The value may carry a credential (an unknown variable, an OTLP endpoint or header): messages
   * name the variable and the expected form, never the value, and `value` is empty.
   */
  redacted?: boolean;
}

/** Thrown by `start(options)` on a configuration error; `issues` lists every error at once. */
export class OomguardConfigError extends Error {
  readonly code = 'OOMGUARD_INVALID_CONFIG';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'OomguardConfigError';
    this.issues = issues;
  }
}

const MAX_VALUE_IN_MESSAGE = 80;

/**
 * One line naming the variable, the value (quoted, control characters escaped, long values
 * cut) and the expected form, e.g.
 * `oomguard: OOMGUARD_POLL_INTERVAL="1000": a duration needs a unit (...); expected a duration with a unit: 250ms, ...`.
 * A value that may carry a credential is shown as `<redacted>`.
 */
export function formatIssue(issue: ConfigIssue): string {
  const value =
    issue.value.length > MAX_VALUE_IN_MESSAGE ? `${issue.value.slice(0, MAX_VALUE_IN_MESSAGE)}...` : issue.value;
  const prefix = issue.severity === 'warning' ? 'oomguard: warning: ' : 'oomguard: ';
  // A "did you mean X?" message already names what was expected; say it once.
  const expected = issue.message.includes(issue.expected) ? '' : `; expected ${issue.expected}`;
  const shown = issue.redacted ? REDACTED : JSON.stringify(value);
  return `${prefix}${issue.variable}=${shown}: ${issue.message}${expected}`;
}

/** A value as given, for a message: strings as they are, anything else as JSON where it can be. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Where each resolved option came from; `oomguard doctor` prints it. */
export type ConfigSource = 'option' | 'env' | 'default' | 'derived';

export type Severity = ConfigIssue['severity'];

export interface Picked {
  source: ConfigSource;
  /** Set unless the source is `default`. */
  raw?: unknown;
  /** Name for messages: the variable, or `options.<name>`. */
  variable: string;
  /** The parsed value or the reason it was refused; unset for `default`. */
  result?: ParseResult<unknown>;
}

/** Picks each setting from the options, the environment or the default, and collects the issues. */
export class Reader {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];
  readonly sources = {} as Record<OptionName, ConfigSource>;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly options: Readonly<Record<string, unknown>>,
    private readonly verdicts: ReadonlyMap<OptionName, ParseResult<unknown>>,
  ) {}

  /** Empty variables count as unset, as the OpenTelemetry specification asks. */
  pick(name: OptionName): Picked {
    const spec = OPTION[name];
    const verdict = this.verdicts.get(name);
    if (verdict) return this.from(name, { source: 'option', raw: this.options[name], variable: `options.${name}`, result: verdict });
    const value = this.env[spec.variable];
    if (value !== undefined && value.trim() !== '') {
      return this.from(name, { source: 'env', raw: value, variable: spec.variable, result: FORMS[spec.form].parse(value as never) });
    }
    return this.from(name, { source: 'default', variable: spec.variable });
  }

  hasOption(name: OptionName): boolean {
    return this.verdicts.has(name);
  }

  /** The picked value, or `fallback` (the default, or what a refused value turns off). */
  value<T>(picked: Picked, fallback: T, severity: Severity = 'error', consequence?: string): T {
    const result = picked.result;
    if (!result) return fallback;
    if (result.ok) return result.value as T;
    this.issue(picked, consequence ? `${result.message}; ${consequence}` : result.message, result.expected, severity);
    return fallback;
  }

  read<T>(name: OptionName, fallback: T): T {
    return this.value(this.pick(name), fallback);
  }

  /** A telemetry setting: a refused value is reported with what it turns off, at `severity`. */
  readTelemetry<T>(name: OptionName, fallback: T, severity: Severity): { value: T; refused: boolean } {
    const picked = this.pick(name);
    return { value: this.value(picked, fallback, severity, OPTION[name].telemetry), refused: picked.result?.ok === false };
  }

  /** Record a problem with `picked`; `redacted`: its value may carry a credential and is never shown. */
  issue(picked: Picked, message: string, expected: string, severity: Severity, redacted = false): void {
    const issue: ConfigIssue = { variable: picked.variable, value: redacted ? '' : showValue(picked.raw), expected, message, severity };
    if (redacted) issue.redacted = true;
    (severity === 'error' ? this.errors : this.warnings).push(issue);
  }

  private from(name: OptionName, picked: Picked): Picked {
    this.sources[name] = picked.source;
    return picked;
  }
}
