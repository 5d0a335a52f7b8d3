/**
 * When the app's main module has been evaluated: the guard's first shutdown waits for it, so a
 * process that starts above the line still gets to register its hooks. Under a preload the
 * guard starts before the main module, and an ES module main is loaded asynchronously (its
 * body can run many turns of the event loop after the preload, later still with top-level
 * await), so one turn of the event loop is not enough.
 *
 * The signal, in order:
 * - a CommonJS main (also one run through the ES module loader) is done when Node marks its
 *   module `loaded` (`process.mainModule.loaded`);
 * - an ES module main: in-thread hooks (`module.registerHooks`, Node 22.15+) see the entry point
 *   (the one module resolved without a parent) and then its load, which Node's own module job
 *   for it asks for; from then on `import()` of the same URL joins that job (never starts one of
 *   its own, which would not be the main module) and settles when its evaluation, top-level
 *   await included, is done. The hooks remove themselves once the entry is loading;
 * - no main file (`-e`, a REPL), or the guard started by the app's own code: the next turn (an
 *   entry not resolved by then, where Node was given a main file, is still followed);
 * - whatever happens, at most `MAIN_WAIT_MAX_MS` after the guard started.
 */
import type { Clock, ClockTimer } from './watcher';
import { safe } from './safely';

/**
 * The longest a shutdown waits for the main module. A main whose top-level await never ends (a
 * worker looping on a queue at top level) is treated as evaluated after this. Loading 50-100 MB
 * of data at import took 2-6 s on a 2-core machine with the load at 10 per core; a shutdown that
 * V8's trajectory says cannot wait (no time for a major GC, V8 counting ineffective
 * mark-compacts, the live set reaching the budget within the emergency horizon) does not wait.
 */
export const MAIN_WAIT_MAX_MS = 10_000;

/** The main file Node was given: none for `-e`/`-p` (whose `process.argv[1]` is a plain argument) or a REPL. */
function nodeMainFile(): string | undefined {
  const evaluates = process.execArgv.some((a) => /^-[a-z]*[ep][a-z]*$/.test(a) || /^--(eval|print)(=|$)/.test(a));
  return evaluates ? undefined : process.argv[1];
}

/** The subset of `module.registerHooks` used here (Node 22.15+). */
export type RegisterHooks = (hooks: {
  resolve: (specifier: string, context: { parentURL?: string | undefined }, next: ResolveNext) => ResolveResult;
  load: (url: string, context: object, next: (url: string, context: object) => LoadResult) => LoadResult;
}) => { deregister(): void };
type ResolveResult = { url: string; format?: string | null | undefined };
type ResolveNext = (specifier: string, context: { parentURL?: string | undefined }) => ResolveResult;
type LoadResult = { format?: string | null | undefined };

export interface MainModuleOptions {
  clock: Pick<Clock, 'setTimeout' | 'setImmediate'>;
  /** Default: `process.mainModule?.loaded`. */
  cjsLoaded?: () => boolean | undefined;
  /** Default: `require('node:module').registerHooks` where it exists. */
  registerHooks?: RegisterHooks | undefined;
  /** Default: dynamic `import()`. */
  importModule?: (url: string) => Promise<unknown>;
  /** Default: `process.argv[1]`, the main file Node was given (none for `-e`, `-p`, a REPL). */
  mainFile?: () => string | undefined;
  maxWaitMs?: number;
}

export class MainModule {
  readonly #opts: MainModuleOptions;
  #ready = false;
  #onReady: (() => void) | undefined;
  #entry: { url: string; format: string | undefined; loading: boolean } | undefined;
  #hooks: { deregister(): void } | undefined;
  #timers: ClockTimer[] = [];

  constructor(options: MainModuleOptions) {
    this.#opts = options;
  }

  /** Whether the main module has been evaluated (or the wait is over). */
  get ready(): boolean {
    // A CommonJS main run through the ES module loader is marked loaded when it has run.
    if (!this.#ready && this.#entry && this.#cjsLoaded()) this.#done(false);
    return this.#ready;
  }

  /**
   * Start watching; `onReady` is called once, when the main module has been evaluated or the
   * wait is over. Installs the resolve hook (before the main module is resolved, under a preload).
   */
  start(onReady: () => void): void {
    this.#onReady = onReady;
    this.#hooks = this.#installHook();
    const { clock } = this.#opts;
    this.#timers.push(clock.setImmediate(() => this.#firstTurn()));
    this.#timers.push(clock.setTimeout(() => this.#done(), this.#opts.maxWaitMs ?? MAIN_WAIT_MAX_MS));
  }

  /** Removes the hook and the timers; `ready` becomes true. */
  stop(): void {
    this.#onReady = undefined;
    this.#done();
  }

  #installHook(): { deregister(): void } | undefined {
    const register = 'registerHooks' in this.#opts ? this.#opts.registerHooks : nodeRegisterHooks();
    if (!register) return undefined;
    try {
      return register({
        resolve: (specifier, context, next) => {
          const result = next(specifier, context);
          // The entry point is the one module resolved without a parent.
          if (!context.parentURL && this.#entry === undefined && !this.#ready) {
            this.#entry = { url: result.url, format: result.format ?? undefined, loading: false };
          }
          return result;
        },
        load: (url, context, next) => {
          const result = next(url, context);
          const entry = this.#entry;
          if (entry && !entry.loading && url === entry.url) {
            entry.loading = true;
            entry.format = result.format ?? entry.format;
            // Not from inside the hook that is running: once this load is over.
            queueMicrotask(() => this.#unhook());
            this.#timers.push(this.#opts.clock.setImmediate(() => this.#follow()));
          }
          return result;
        },
      });
    } catch {
      return undefined;
    }
  }

  #firstTurn(): void {
    if (this.#ready) return;
    // CommonJS (evaluated synchronously before the event loop started).
    if (this.#cjsLoaded()) this.#done();
    else if (!this.#entry) {
      // No main file (`-e`, a REPL), or no hooks to see it by: nothing to wait for. With a main
      // file, an ES module main under a `--require` preload may be resolved only after this turn
      // (seen on loaded machines): the hooks still see it, and the bound ends the wait anyway.
      if (!this.#hooks || !this.#mainFile()) this.#done();
    } else if (this.#entry.loading) this.#follow();
    // else: the load hook follows when Node loads the entry.
  }

  #mainFile(): string | undefined {
    const file = safe(this.#opts.mainFile ?? nodeMainFile);
    return typeof file === 'string' && file !== '' ? file : undefined;
  }

  /** Node is loading the entry: wait for its evaluation by joining its module job. */
  #follow(): void {
    const entry = this.#entry;
    if (this.#ready || !entry) return;
    if (this.#cjsLoaded()) return this.#done();
    // JSON, WebAssembly or a CommonJS main not run yet: `ready` polls, the bound ends the wait.
    if (!entry.format?.startsWith('module')) return;
    const load = this.#opts.importModule ?? ((url: string) => import(url));
    try {
      load(entry.url).then(
        () => this.#done(),
        () => this.#done(),
      );
    } catch {
      this.#done();
    }
  }

  #cjsLoaded(): boolean {
    return safe(this.#opts.cjsLoaded ?? (() => (process as { mainModule?: { loaded?: boolean } }).mainModule?.loaded)) === true;
  }

  #unhook(): void {
    const hooks = this.#hooks;
    this.#hooks = undefined;
    try {
      hooks?.deregister();
    } catch {
      // nothing left to undo
    }
  }

  /** The wait is over; `notify`: tell `onReady` (not when asked from inside a check). */
  #done(notify = true): void {
    if (this.#ready) return;
    this.#ready = true;
    this.#unhook();
    for (const t of this.#timers) t.cancel();
    this.#timers = [];
    const onReady = this.#onReady;
    this.#onReady = undefined;
    if (notify) onReady?.();
  }
}

function nodeRegisterHooks(): RegisterHooks | undefined {
  try {
    const register = (require('node:module') as { registerHooks?: RegisterHooks }).registerHooks;
    return typeof register === 'function' ? register : undefined;
  } catch {
    return undefined;
  }
}
