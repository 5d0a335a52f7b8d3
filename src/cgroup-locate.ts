/**
 * Where the process's memory cgroup is (Linux, v1 or v2): `/proc/self/cgroup` names its path in
 * each hierarchy, `/proc/self/mountinfo` says where those hierarchies are mounted, and the
 * memory controller's own files tell a usable directory from a look-alike. Reading the limit and
 * usage there is cgroup.ts's job.
 *
 * Pure parsers plus a locator that takes the cgroup root and the text of `/proc/self/cgroup`
 * (and optionally `/proc/self/mountinfo`), so tests point it at fixture trees. Never throws: what
 * cannot be read means "no cgroup". See docs/cgroup.md for the experiments behind the choices.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

/** Where cgroup hierarchies are mounted on practically every Linux distribution and container. */
export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';

/** One line of `/proc/self/cgroup`: `hierarchy-id:controller-list:path`. */
export interface ProcCgroupEntry {
  id: number;
  /** Controllers bound to the hierarchy (`memory`, `cpu,cpuacct`); empty for the v2 line `0::`. */
  controllers: string[];
  /** Path of the process's cgroup inside that hierarchy, e.g. `/kubepods/pod1/abc` or `/`. */
  path: string;
}

/** A cgroup filesystem mount from `/proc/self/mountinfo`. */
export interface CgroupMount {
  /** Where it is mounted, e.g. `/sys/fs/cgroup/memory`. */
  mountPoint: string;
  /** The hierarchy path mounted there (`/` normally; `/docker/<id>` for a v1 container bind). */
  root: string;
  /** `cgroup` (v1) or `cgroup2`. */
  fstype: 'cgroup' | 'cgroup2';
  /** v1 super options: the controllers of the hierarchy (`memory`, `rw`, `name=systemd`, ...). */
  options: string[];
}

/** The process's memory cgroup. */
export interface CgroupLocation {
  version: 1 | 2;
  /** Directory of the process's own cgroup, e.g. `/sys/fs/cgroup/memory/kubepods/pod1/abc`. */
  dir: string;
  /** Directory of the hierarchy's visible top (its mount point); the limit walk stops there. */
  top: string;
}

/** Where the readers look. Every field defaults to the real system. */
export interface CgroupOptions {
  /** Cgroup mount root. Default `/sys/fs/cgroup`. */
  root?: string;
  /** Text of `/proc/self/cgroup`. Default: read it. */
  procSelfCgroup?: string;
  /**
   * Text of `/proc/self/mountinfo`, used to map hierarchy paths to directories. Default: read it
   * when `root` is the default; with a custom `root` and no text, only directory probing is used.
   */
  mountinfo?: string;
}

/** Parses `/proc/self/cgroup`. Malformed lines are skipped. */
export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const out: ProcCgroupEntry[] = [];
  for (const line of text.split('\n')) {
    // The path may itself contain ':' so split only the first two.
    const a = line.indexOf(':');
    const b = a < 0 ? -1 : line.indexOf(':', a + 1);
    if (b < 0) continue;
    const id = Number(line.slice(0, a));
    const p = line.slice(b + 1).trim();
    if (!Number.isInteger(id) || !p.startsWith('/')) continue;
    const list = line.slice(a + 1, b);
    out.push({ id, controllers: list === '' ? [] : list.split(','), path: p });
  }
  return out;
}

/**
 * Parses the cgroup mounts out of `/proc/self/mountinfo`
 * (https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html): field 4 is the mount root,
 * field 5 the mount point, and after the `-` separator come fstype, source and super options.
 */
export function parseMountinfo(text: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 6) continue;
    const fstype = fields[sep + 1];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const root = unescapeMount(fields[3] ?? '');
    const mountPoint = unescapeMount(fields[4] ?? '');
    if (!root.startsWith('/') || !mountPoint.startsWith('/')) continue;
    out.push({ mountPoint, root, fstype, options: (fields[sep + 3] ?? '').split(',') });
  }
  return out;
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

// ---------------------------------------------------------------------------------------------
// Location

/** A file's text, or undefined when it cannot be read. */
export function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** `existsSync`, not a throwing `accessSync`: most candidates are missing, and each throw costs an Error with its stack. */
function exists(file: string): boolean {
  return existsSync(file);
}

/**
 * Candidate directories for a hierarchy path below a mount: the full path first, then with
 * leading components stripped. Inside a container (v1 without a cgroup namespace)
 * `/proc/self/cgroup` shows the host path `/docker/<id>` while the mount shows only the
 * container's subtree, so the tail that exists is the right one; the mount itself comes last.
 */
function candidates(mountDir: string, hierarchyPath: string): string[] {
  const parts = hierarchyPath.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  const out: string[] = [];
  for (let i = 0; i <= parts.length; i++) out.push(join(mountDir, ...parts.slice(i)));
  return out;
}

/** Maps a mount point seen in mountinfo to a directory under `root` (fixtures use a fake root). */
function mountDirUnder(root: string, mountPoint: string): string | undefined {
  if (root === DEFAULT_CGROUP_ROOT) return mountPoint;
  const rel = posix.relative(DEFAULT_CGROUP_ROOT, mountPoint);
  if (rel.startsWith('..') || posix.isAbsolute(rel)) return undefined;
  return join(root, rel);
}

/**
 * Finds the process's memory cgroup. v2 wins only when its directory really has the memory
 * controller's files (`memory.current`): on hybrid systems `/sys/fs/cgroup/unified` is a v2
 * mount without the memory controller (it still has `memory.pressure`), and the `0::/` line
 * exists anyway. Otherwise the v1 hierarchy that lists `memory` (alone or combined, e.g.
 * `memory,cpu`). Undefined when neither is found (not Linux, no cgroup mounted, no permission).
 */
export function locateMemoryCgroup(opts: CgroupOptions = {}): CgroupLocation | undefined {
  try {
    const root = opts.root ?? DEFAULT_CGROUP_ROOT;
    const procText = opts.procSelfCgroup ?? readText('/proc/self/cgroup');
    if (procText === undefined) return undefined;
    const entries = parseProcCgroup(procText);
    const mountText = opts.mountinfo ?? (root === DEFAULT_CGROUP_ROOT ? readText('/proc/self/mountinfo') : undefined);
    const mounts = mountText === undefined ? [] : parseMountinfo(mountText);

    const v2 = entries.find((e) => e.id === 0 && e.controllers.length === 0);
    if (v2) {
      const tops: { dir: string; root: string }[] = [];
      for (const m of mounts) {
        if (m.fstype !== 'cgroup2') continue;
        const d = mountDirUnder(root, m.mountPoint);
        if (d !== undefined) tops.push({ dir: d, root: m.root });
      }
      // Pure v2 mounts at the root; hybrid (systemd) at `unified`.
      tops.push({ dir: root, root: '/' }, { dir: join(root, 'unified'), root: '/' });
      const found = pick(tops, v2.path, 'memory.current');
      if (found) return { version: 2, ...found };
    }

    const v1 = entries.find((e) => e.controllers.includes('memory'));
    if (v1) {
      const tops: { dir: string; root: string }[] = [];
      for (const m of mounts) {
        if (m.fstype !== 'cgroup' || !m.options.includes('memory')) continue;
        const d = mountDirUnder(root, m.mountPoint);
        if (d !== undefined) tops.push({ dir: d, root: m.root });
      }
      // Without mountinfo: the usual names, `memory` and the combined one as /proc lists it.
      const combined = v1.controllers.join(',');
      tops.push({ dir: join(root, 'memory'), root: '/' });
      if (combined !== 'memory') tops.push({ dir: join(root, combined), root: '/' });
      const found = pick(tops, v1.path, 'memory.limit_in_bytes');
      if (found) return { version: 1, ...found };
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** First existing cgroup directory holding `marker`, trying each mount's candidates in order. */
function pick(
  tops: readonly { dir: string; root: string }[],
  hierarchyPath: string,
  marker: string,
): { dir: string; top: string } | undefined {
  for (const t of tops) {
    if (!exists(t.dir)) continue;
    // A mount of a subtree (`root` /docker/abc): strip it from the process's path first.
    let rel = hierarchyPath;
    if (t.root !== '/' && (rel === t.root || rel.startsWith(`${t.root}/`))) rel = rel.slice(t.root.length) || '/';
    for (const c of candidates(t.dir, rel)) {
      if (exists(join(c, marker))) return { dir: c, top: t.dir };
    }
  }
  return undefined;
}
