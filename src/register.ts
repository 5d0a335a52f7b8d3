/**
 * The preload: `node --require oomguard/register app.js` (or `--import`, or NODE_OPTIONS).
 *
 * The only module with side effects on import. It never throws into the app: a bad
 * configuration is one clear line on stderr and the app runs unguarded (or, with
 * `OOMGUARD_STRICT=true`, exit 78 before the app starts); an internal failure is one line too.
 *
 * Through `NODE_OPTIONS` it runs in every node process a container starts, so it does as little
 * as it can before the app's first line: with no `OOMGUARD_*` or `OTEL_*` variable set the
 * configuration is the defaults and no parser is loaded; the guard itself is loaded on the
 * first turn of the event loop and telemetry later still (agent.ts). BENCHMARKS.md, figure 4,
 * has what each step costs a short process.
 */
import { isMainThread } from 'node:worker_threads';
import { slot } from './api';
import { stderrLine } from './log';
import { DEFAULTS, hasSettings } from './defaults';
import type { Config } from './types';

/** sysexits.h EX_CONFIG: what supervisors and shells read as "configuration error". */
const EX_CONFIG = 78;

/** The configuration from the environment, its warnings and errors reported; undefined: stay off. */
function configFromEnv(): Config | undefined {
  if (!hasSettings(process.env)) return DEFAULTS;
  const { loadConfig, formatIssue } = require('./config') as typeof import('./config');
  const result = loadConfig(process.env);
  for (const warning of result.warnings) stderrLine(formatIssue(warning));
  if (result.ok) return result.config;
  // One line per problem, each saying what happens next, so the line alone is enough.
  const next = result.strict
    ? `OOMGUARD_STRICT=true: exiting with code ${EX_CONFIG} before the app starts`
    : 'the guard is off; the app runs without it';
  for (const issue of result.issues) stderrLine(`${formatIssue(issue)} (${next})`);
  if (result.strict) process.exit(EX_CONFIG);
  return undefined;
}

function register(): void {
  // In a worker (NODE_OPTIONS reaches workers too) the main thread guards the process; the
  // preload only makes the API available, which importing `api` already did.
  if (!isMainThread) return;
  const config = configFromEnv();
  // OOMGUARD_ENABLED=false: nothing at all is installed (no timer, no port, no listener).
  if (!config?.enabled) return;
  slot().startResolved(config, true);
}

try {
  register();
} catch (err) {
  stderrLine(`oomguard: failed to start (${err instanceof Error ? err.message : String(err)}); the app runs without the guard`);
}
