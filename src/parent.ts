/**
 * The process tree: a guarded process tells the `node` children it starts (they inherit
 * `NODE_OPTIONS`, so they run a guard of their own) who their guarded parent is, through one
 * inherited environment variable.
 */

/** Set by a guarded process for its children; not configuration. */
export const PARENT_PID_VAR = 'OOMGUARD_PARENT_PID';
