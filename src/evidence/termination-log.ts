/**
 * The container's termination message: Kubernetes reads the file at `terminationMessagePath`
 * (`/dev/termination-log` by default, which the kubelet mounts into every container) when the
 * container ends and shows it under "Last State: Terminated ... Message" in `kubectl describe pod`
 * (https://kubernetes.io/docs/tasks/debug/debug-application/determine-reason-pod-failure/).
 *
 * The default path is written only where it exists: outside Kubernetes there is no such file,
 * and creating one under /dev would be writing into the host's device directory. A path set in
 * `OOMGUARD_TERMINATION_LOG` is created (for a `terminationMessagePath` of another name, or a
 * supervisor of another kind).
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { describeError } from '../safely';

/** Where Kubernetes looks unless the pod spec says otherwise. */
export const DEFAULT_TERMINATION_LOG = '/dev/termination-log';

/**
 * Replace the file's content with `text`; with `mustExist` (the default path) only if it exists.
 * Returns undefined when written, `'absent'` when it must exist and does not, else the reason it
 * failed. Synchronous: the process is about to exit, and the kubelet reads the file once the
 * container has stopped.
 */
export function writeTerminationLog(path: string, text: string, mustExist = path === DEFAULT_TERMINATION_LOG): undefined | 'absent' | string {
  let fd: number;
  try {
    // r+ never creates; w truncates or creates.
    fd = openSync(path, mustExist ? 'r+' : 'w');
  } catch (err) {
    if (mustExist && (err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    return describeError(err);
  }
  try {
    if (mustExist) {
      try {
        ftruncateSync(fd, 0);
      } catch {
        // Not a regular file (a pipe, /dev/stderr in a test): nothing to truncate.
      }
    }
    writeSync(fd, text);
    return undefined;
  } catch (err) {
    return describeError(err);
  } finally {
    try {
      closeSync(fd);
    } catch {
      // closing a written descriptor does not fail in a way that matters here
    }
  }
}
