/**
 * The agent's own lines on stderr. The app's stderr is not the agent's notebook: a line goes
 * there unasked only when the user must act on it (a bad configuration, a shutdown, a port the
 * user asked for that cannot be had). Everything else is a diagnostic with a level, written only
 * when `OOMGUARD_LOG_LEVEL` (or, when that is unset, `OTEL_LOG_LEVEL`) lets it through; the
 * default lets errors through only. The OpenTelemetry global `diag` logger is the app's and is
 * never used.
 *
 * Written synchronously: the process may be about to exit, and a line that matters (a shutdown,
 * a configuration error) must survive it.
 */
import { writeSync } from 'node:fs';
import { redactSecrets } from './redact';

/** The levels of a diagnostic, most severe first. */
export type DiagLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * What `OOMGUARD_LOG_LEVEL` / `OTEL_LOG_LEVEL` take: the OpenTelemetry levels, lower case
 * (`verbose` and `all` let every diagnostic through, `none` none).
 */
export type LogLevel = 'none' | DiagLevel | 'verbose' | 'all';

export const LOG_LEVELS: readonly LogLevel[] = Object.freeze(['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all']);

/**
 * Where the agent's lines go. Without a level the line is for the user and always written;
 * with one it is a diagnostic, written when the configured level lets it through.
 */
export type AgentLog = (line: string, level?: DiagLevel) => void;

const RANK: Record<LogLevel, number> = { none: 0, error: 1, warn: 2, info: 3, debug: 4, verbose: 5, all: 6 };

/** Write a line to stderr synchronously; a closed stderr is silently ignored. */
export function stderrLine(line: string): void {
  try {
    writeSync(2, line.endsWith('\n') ? line : `${line}\n`);
  } catch {
    // stderr closed: nothing sensible left to do.
  }
}

/**
 * The agent's log at `level`: user lines always, diagnostics up to `level`. Every line passes
 * through `redactSecrets`, because an error from a library may quote an endpoint with its
 * credentials.
 */
export function agentLog(level: LogLevel, write: (line: string) => void = stderrLine): AgentLog {
  const rank = RANK[level];
  return (line, diagLevel) => {
    if (diagLevel === undefined || RANK[diagLevel] <= rank) write(redactSecrets(line));
  };
}
