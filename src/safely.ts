/**
 * Small guards the agent wraps around everything it does inside the host's process: a failure
 * of ours becomes a missing value or a short text, never an exception in the app, and no wait of
 * ours outlives its budget or holds the process open.
 */

/** `fn()`, or undefined when it throws. */
export function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** One line for an error: its stack's first two lines, else `name: message`, else `String(err)`. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.stack?.split('\n', 2).join(' ') ?? `${err.name}: ${err.message}`;
  return String(err);
}

/**
 * Wait for `work`, but never longer than `ms`; resolves to its value, or undefined when the time
 * ran out or it rejected. The timer is unref'd: waiting must never keep the process alive.
 */
export async function bounded<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms), undefined);
    timer.unref();
  });
  try {
    return await Promise.race([work.then((v) => v, () => undefined), deadline]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
