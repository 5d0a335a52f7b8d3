/**
 * Picks each setting from the `start()` options, the environment or the default, parses it with
 * its row's form (`options.ts`), and collects the issues in the order the settings are read.
 */

import type { ParseResult } from './units';
import { OPTION, type OptionName } from './options';
import { showValue, type ConfigIssue } from './issues';

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
      return this.from(name, { source: 'env', raw: value, variable: spec.variable, result: spec.form.parse(value as never) });
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

  issue(picked: Picked, message: string, expected: string, severity: Severity): void {
    (severity === 'error' ? this.errors : this.warnings).push({ variable: picked.variable, value: showValue(picked.raw), expected, message, severity });
  }

  private from(name: OptionName, picked: Picked): Picked {
    this.sources[name] = picked.source;
    return picked;
  }
}
