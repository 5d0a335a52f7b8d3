/**
 * Who the telemetry is about: the resource on every metric, span and log record, and the agent's
 * version on its instrumentation scope.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { Resource } from '@opentelemetry/resources';

/**
 * The SDK's default resource (`telemetry.sdk.*`), the app's `service.name` as `appServiceName`
 * guesses it and `process.pid`, then `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME` over both
 * (the SDK's envDetector reads them), so what an operator sets always wins over a guess.
 */
export function buildResource(): Resource {
  const res = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const fallback = appServiceName();
  const base = res.defaultResource().merge(
    res.resourceFromAttributes({
      ...(fallback ? { 'service.name': fallback } : {}),
      'process.pid': process.pid,
    }),
  );
  return base.merge(res.detectResources({ detectors: [res.envDetector] }));
}

/** The agent's own version, for the scope (`otel_scope_version`); undefined if unreadable. */
export function agentVersion(): string | undefined {
  try {
    // From dist/telemetry/ (and src/telemetry/ under the tests), the package root is two up.
    const pkg = require('../../package.json') as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The app's default `service.name` when `OTEL_SERVICE_NAME` is unset: the `name` of the nearest
 * package.json at or above the main script's directory, else the script's file name without its
 * extension, else undefined (REPL, `-e`). During a preload `require.main` is not set yet, but
 * `process.argv[1]` already holds the script, so that is what we start from.
 * Never throws: an unreadable or malformed package.json is skipped.
 */
export function appServiceName(script: string | undefined = process.argv[1]): string | undefined {
  if (!script) return undefined;
  let dir: string;
  try {
    dir = dirname(resolve(script));
  } catch {
    return undefined;
  }
  for (;;) {
    const name = packageName(join(dir, 'package.json'));
    if (name) return name;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  const base = basename(script, extname(script));
  return base || undefined;
}

function packageName(file: string): string | undefined {
  try {
    if (!existsSync(file)) return undefined;
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (parsed && typeof parsed === 'object' && 'name' in parsed) {
      const name = (parsed as { name: unknown }).name;
      if (typeof name === 'string' && name.length > 0) return name;
    }
  } catch {
    // A broken package.json is the app's business; keep walking up.
  }
  return undefined;
}
