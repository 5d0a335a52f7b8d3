/** Shorthands for the configuration unit tests: the config, the errors or the warnings of a load. */
import { loadConfig, formatIssue, type ConfigIssue, type StartOptions } from '../../src/config';
import type { Config } from '../../src/types';

export const MiB = 1024 ** 2;
export const GiB = 1024 ** 3;

/** The resolved config; throws (with the formatted lines) when the load has errors. */
export function config(env: NodeJS.ProcessEnv, options?: StartOptions): Config {
  const result = loadConfig(env, options);
  if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
  return result.config;
}

/** The errors; throws when the load succeeds. */
export function errors(env: NodeJS.ProcessEnv, options?: StartOptions): ConfigIssue[] {
  const result = loadConfig(env, options);
  if (result.ok) throw new Error(`expected errors, got ${JSON.stringify(result.config)}`);
  return result.issues;
}

/** The warnings, whether or not the load succeeds. */
export function warnings(env: NodeJS.ProcessEnv, options?: StartOptions): ConfigIssue[] {
  return loadConfig(env, options).warnings;
}
