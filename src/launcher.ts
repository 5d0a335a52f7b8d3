/**
 * Launchers: processes that only start the app. `NODE_OPTIONS` reaches every `node` of a
 * container, so under `npm start` the package manager runs a guard too, and so does a cluster
 * primary that forks the workers which serve. Such a process holds little memory of its own, and
 * its exit frees none of the memory that fills the container: measured in a 320 MiB cgroup, an
 * idle cluster primary (46 MiB) shut down for the 300 MiB its worker held, and took its workers
 * with it. A launcher keeps its own lines (heap, own RSS) but never acts on the container's
 * memory (process-tree.ts). A package manager never takes the metrics port (the app behind it
 * should); a cluster primary keeps it and serves its workers' metrics with its own
 * (telemetry/cluster.ts).
 *
 * Who is one: a package manager's CLI, known by its main script (`npm`, `npx`, `yarn`, `pnpm`,
 * `pnpx`, `corepack`), and a cluster primary once it has forked a worker.
 */
import { basename } from 'node:path';

/** Packages whose CLIs only start what a script names (npx is a script of the npm package). */
const LAUNCHER_PACKAGES: ReadonlySet<string> = new Set(['npm', 'yarn', 'pnpm', 'corepack', '@yarnpkg/cli-dist']);

/** The names their bin links are installed under (`/usr/bin/npm -> .../npm/bin/npm-cli.js`). */
const LAUNCHER_BINS: ReadonlySet<string> = new Set(['npm', 'npx', 'yarn', 'yarnpkg', 'pnpm', 'pnpx', 'corepack']);

/** A Yarn 2+ release checked into the project (`yarnPath`): `.yarn/releases/yarn-4.5.0.cjs`. */
const YARN_RELEASE = /(^|\/)\.yarn\/releases\/yarn-[^/]*\.c?js$/;

/**
 * The package a script belongs to: the directory after the last `node_modules/` of its path
 * (with its scope), or undefined outside `node_modules`. The last one, so that a tool npm ships
 * inside its own tree (`.../npm/node_modules/node-gyp/bin/node-gyp.js`) is that tool, not npm.
 */
export function owningPackage(script: string): string | undefined {
  const parts = script.split(/[\\/]/);
  const i = parts.lastIndexOf('node_modules');
  if (i < 0 || i + 1 >= parts.length) return undefined;
  const name = parts[i + 1]!;
  if (name.startsWith('@')) return i + 2 < parts.length ? `${name}/${parts[i + 2]}` : undefined;
  return name;
}

/**
 * Whether a main script is a package manager's CLI. `script` as the process was given it
 * (`process.argv[1]`: a bin link such as `/usr/bin/npm` keeps its name), `real` the same path
 * with links resolved (`.../node_modules/npm/bin/npm-cli.js`), when known.
 */
export function isLauncherScript(script: string | undefined, real?: string): boolean {
  if (!script) return false;
  if (LAUNCHER_BINS.has(basename(script))) return true;
  for (const p of real === undefined ? [script] : [script, real]) {
    const pkg = owningPackage(p);
    if ((pkg !== undefined && LAUNCHER_PACKAGES.has(pkg)) || YARN_RELEASE.test(p)) return true;
  }
  return false;
}

/** Node options whose value is the next argument: never the main script. */
const OPTIONS_WITH_VALUE: ReadonlySet<string> = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader', '-e', '--eval', '-p', '--print', '-C', '--conditions']);

/**
 * Whether another process, by its `/proc/<pid>/cmdline` (arguments separated by NUL), is a
 * launcher. npm renames itself (`process.title = 'npm start'`), which on Linux overwrites its
 * command line, so the first word of argument 0 counts as well as the main script.
 */
export function isLauncherCmdline(cmdline: string): boolean {
  const args = cmdline.split('\0').filter((a) => a !== '');
  const first = args[0]?.split(' ')[0];
  if (first !== undefined && LAUNCHER_BINS.has(basename(first))) return true;
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    if (OPTIONS_WITH_VALUE.has(arg)) {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    return isLauncherScript(arg);
  }
  return false;
}

/** What the role looks at; `processClusterView()` gives the real process. */
export interface ClusterView {
  env: NodeJS.ProcessEnv;
  /** The names of the built-in modules loaded so far (`process.moduleLoadList`). */
  loadedModules: () => readonly string[] | undefined;
  /** `node:cluster`, asked only once the app has loaded it. */
  cluster: () => ClusterModule;
}

/** The part of `node:cluster` used here. */
export interface ClusterModule {
  isPrimary: boolean;
  workers?: Record<string, unknown> | undefined;
  on(event: 'fork', fn: () => void): unknown;
  off(event: 'fork', fn: () => void): unknown;
}

/** The real process's view. */
export function processClusterView(): ClusterView {
  return {
    env: process.env,
    loadedModules: () => {
      const list = (process as { moduleLoadList?: unknown }).moduleLoadList;
      return Array.isArray(list) ? (list as string[]) : undefined;
    },
    cluster: () => require('node:cluster') as ClusterModule,
  };
}

/** `path` with its links resolved, or undefined when it cannot be. */
function realpath(path: string): string | undefined {
  try {
    // The native call: one realpath(3), where the JS one lstat()s every component of the path
    // (this runs in the preload of every process).
    return (require('node:fs') as typeof import('node:fs')).realpathSync.native(path);
  } catch {
    return undefined;
  }
}

/**
 * The main script as given and with links resolved (`/usr/bin/npm`, `.../npm/bin/npm-cli.js`),
 * and whether it is the package manager that started this process's parent script: npm, yarn and
 * pnpm put their own CLI in `npm_execpath` for the scripts they run, so a package manager run
 * from a script (`npm run build` inside `npm start`) is known wherever it is installed.
 */
export function mainScript(argv1: string | undefined = process.argv[1], env: NodeJS.ProcessEnv = process.env): { script: string | undefined; real: string | undefined; execpath?: boolean } {
  if (!argv1) return { script: undefined, real: undefined };
  const real = realpath(argv1);
  const exec = env.npm_execpath;
  return { script: argv1, real, execpath: exec !== undefined && real !== undefined && (exec === real || realpath(exec) === real) };
}

/**
 * This process's role, as the agent keeps it: a launcher by its main script from the start, or a
 * cluster primary from its first fork on (then for good: it supervises from there on). A cluster
 * worker (Node marks them with `NODE_UNIQUE_ID`, which is what `cluster.isWorker` reads) is never
 * a primary. `node:cluster` is consulted only once the app has loaded it: loading it ourselves
 * took 6-65 ms here (Node 26), a cost no process that never forks should pay.
 */
export class ProcessRole {
  readonly #view: ClusterView;
  readonly #byScript: boolean;
  readonly #worker: boolean;
  #primary = false;
  #onLauncher: (() => void) | undefined;
  #cluster: ClusterModule | undefined;
  #listening = false;
  #modulesSeen = -1;
  readonly #onFork = (): void => this.#becomePrimary();

  constructor(view: ClusterView = processClusterView(), main = mainScript()) {
    this.#view = view;
    this.#byScript = main.execpath === true || isLauncherScript(main.script, main.real);
    this.#worker = view.env.NODE_UNIQUE_ID !== undefined;
  }

  /** A package manager's CLI (known at start, before any child is started). */
  get byScript(): boolean {
    return this.#byScript;
  }

  /** Whether this process only starts the app: it then never acts on the container's memory. */
  get launcher(): boolean {
    if (this.#byScript || this.#primary) return true;
    this.#look();
    return this.#primary;
  }

  /** Processes known to be launchers without reading them: a cluster worker's primary. */
  knownLaunchers(): number[] {
    return this.#worker ? [process.ppid] : [];
  }

  /**
   * Call `fn` once, when this process turns into a launcher after `launcher` last said no (a
   * cluster primary's first `fork`, seen through `cluster.on('fork')` once the app has loaded
   * `node:cluster`; the listener goes at the first fork or with `stop()`).
   */
  onLauncher(fn: () => void): void {
    this.#onLauncher = fn;
    this.#look();
  }

  stop(): void {
    if (this.#listening) this.#cluster?.off('fork', this.#onFork);
    this.#listening = false;
    this.#onLauncher = undefined;
  }

  #look(): void {
    if (this.#byScript || this.#primary || this.#worker) return;
    try {
      if (!this.#cluster) {
        // Asked on every reading of a shared cgroup: while no built-in module has been loaded
        // since the last look, node:cluster cannot have been (0.9 us a look without this, 0.05 us with it; Node 26).
        const loaded = this.#view.loadedModules();
        if (!loaded || loaded.length === this.#modulesSeen) return;
        this.#modulesSeen = loaded.length;
        if (!loaded.includes('NativeModule cluster')) return;
        this.#cluster = this.#view.cluster();
      }
      const cluster = this.#cluster;
      if (cluster.isPrimary && Object.keys(cluster.workers ?? {}).length > 0) {
        this.#becomePrimary();
      } else if (this.#onLauncher && !this.#listening) {
        cluster.on('fork', this.#onFork);
        this.#listening = true;
      }
    } catch {
      // Not knowing is not being one: the process is then weighed like any other.
    }
  }

  #becomePrimary(): void {
    if (this.#primary) return;
    this.#primary = true;
    const fn = this.#onLauncher;
    this.stop();
    try {
      fn?.();
    } catch {
      // The caller's; never into the app's fork().
    }
  }
}
