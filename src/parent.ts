/**
 * The process tree: a guarded process tells the `node` children it starts (they inherit
 * `NODE_OPTIONS`, so they run a guard of their own) who their guarded parent is, through one
 * inherited environment variable. A child's telemetry reads it to know that the metrics port
 * being taken is expected (the parent holds it), not an error.
 *
 * Functions of an environment and a pid, so tests pass their own; the agent passes
 * `process.env` and `process.pid`.
 */

/** Set by a guarded process for its children; not configuration. */
export const PARENT_PID_VAR = 'OOMGUARD_PARENT_PID';

/**
 * The guarded parent's pid this process inherited, or undefined when it has none. A value equal
 * to this process's own pid is not a parent: it is this process's own mark, left by a guard
 * started earlier in the same process.
 */
export function inheritedParentPid(env: NodeJS.ProcessEnv, pid: number): string | undefined {
  const inherited = env[PARENT_PID_VAR];
  return inherited && inherited !== String(pid) ? inherited : undefined;
}

/** Mark `env` so the children started from now on know this process is their guarded parent. */
export function markAsParent(env: NodeJS.ProcessEnv, pid: number): void {
  env[PARENT_PID_VAR] = String(pid);
}

/**
 * Undo `markAsParent`: put back what the process inherited (`inheritedParentPid`), or remove
 * the variable. Only while it still holds this process's mark: a value the app set since is the
 * app's, and stays.
 */
export function unmarkAsParent(env: NodeJS.ProcessEnv, pid: number, inherited: string | undefined): void {
  if (env[PARENT_PID_VAR] !== String(pid)) return;
  if (inherited === undefined) delete env[PARENT_PID_VAR];
  else env[PARENT_PID_VAR] = inherited;
}
