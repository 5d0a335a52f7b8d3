/**
 * The preload: `node --require oomguard/register app.js` (or `--import`, or NODE_OPTIONS).
 *
 * The only module with side effects on import. It never throws into the app: a bad
 * configuration is one clear line on stderr and the app runs unguarded (or, with
 * `OOMGUARD_STRICT=true`, exit 78 before the app starts); an internal failure is one line too.
 */
import { isMainThread } from 'node:worker_threads';
import { slot } from './api';
import { stderrLine } from './log';
import { loadConfig, formatIssue } from './config';

/** sysexits.h EX_CONFIG: what supervisors and shells read as "configuration error". */
const EX_CONFIG = 78;

function register(): void {
  // In a worker (NODE_OPTIONS reaches workers too) the main thread guards the process; the
  // preload only makes the API available, which importing `api` already did.
  if (!isMainThread) return;
  const result = loadConfig(process.env);
  for (const warning of result.warnings) stderrLine(formatIssue(warning));
  if (!result.ok) {
    // One line per problem, each saying what happens next, so the line alone is enough.
    const next = result.strict
      ? `OOMGUARD_STRICT=true: exiting with code ${EX_CONFIG} before the app starts`
      : 'the guard is off; the app runs without it';
    for (const issue of result.issues) stderrLine(`${formatIssue(issue)} (${next})`);
    if (result.strict) process.exit(EX_CONFIG);
    return;
  }
  // OOMGUARD_ENABLED=false: nothing at all is installed (no timer, no port, no listener).
  if (!result.config.enabled) return;
  slot().startResolved(result.config, true);
}

try {
  register();
} catch (err) {
  stderrLine(`oomguard: failed to start (${err instanceof Error ? err.message : String(err)}); the app runs without the guard`);
}
