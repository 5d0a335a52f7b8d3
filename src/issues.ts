/**
 * A configuration problem and its one line of text. Every error and warning about a setting is
 * a {@link ConfigIssue} naming the variable (or `options.<name>`), the value as given and the
 * expected form, so the line alone is enough to fix it.
 */

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
 */
export function formatIssue(issue: ConfigIssue): string {
  const value =
    issue.value.length > MAX_VALUE_IN_MESSAGE ? `${issue.value.slice(0, MAX_VALUE_IN_MESSAGE)}...` : issue.value;
  const prefix = issue.severity === 'warning' ? 'oomguard: warning: ' : 'oomguard: ';
  // A "did you mean X?" message already names what was expected; say it once.
  const expected = issue.message.includes(issue.expected) ? '' : `; expected ${issue.expected}`;
  return `${prefix}${issue.variable}=${JSON.stringify(value)}: ${issue.message}${expected}`;
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
