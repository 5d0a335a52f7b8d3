import { describe, expect, it } from 'vitest';
import { MAIN_WAIT_MAX_MS, MainModule, type RegisterHooks } from '../../src/main-module';
import { FakeClock } from './fake-clock';

type Hooks = Parameters<RegisterHooks>[0];

/** A main-module watcher on a fake clock, with fake module hooks and a fake `import()`. */
function setup(opts: { cjsLoaded?: () => boolean; hooks?: boolean; mainFile?: string } = {}) {
  const clock = new FakeClock(0);
  let hooks: Hooks | undefined;
  let deregistered = 0;
  const imports: { url: string; settle: () => void }[] = [];
  let readyCalls = 0;
  const main = new MainModule({
    clock,
    cjsLoaded: opts.cjsLoaded ?? (() => false),
    registerHooks:
      opts.hooks === false
        ? undefined
        : (h) => {
            hooks = h;
            return { deregister: () => void deregistered++ };
          },
    importModule: (url) => new Promise<void>((resolve) => imports.push({ url, settle: resolve })),
    mainFile: () => opts.mainFile,
  });
  main.start(() => void readyCalls++);
  /** Node resolving and loading a module (no parent: the entry point). */
  const resolve = (url: string, parentURL?: string, format = 'module') => hooks?.resolve(url, { parentURL }, () => ({ url, format }));
  const load = (url: string, format = 'module') => hooks?.load(url, {}, () => ({ format }));
  const flush = () => new Promise((r) => setImmediate(r));
  return { clock, main, resolve, load, imports, flush, readyCalls: () => readyCalls, deregistered: () => deregistered };
}

describe('MainModule: when the main module has been evaluated', () => {
  it('a CommonJS main: on the first turn of the event loop, once Node marked it loaded', () => {
    let loaded = false;
    const { clock, main, readyCalls } = setup({ cjsLoaded: () => loaded });
    expect(main.ready).toBe(false);
    loaded = true; // the main module ran before the event loop started
    clock.advance(0);
    expect(main.ready).toBe(true);
    expect(readyCalls()).toBe(1);
  });

  it('no main file (-e, a REPL) or the guard started by the app: the first turn', () => {
    const { clock, main } = setup();
    clock.advance(0);
    expect(main.ready).toBe(true);
  });

  it('an ES module main: joins Node own module job once Node loads the entry, ready when it settles', async () => {
    const { clock, main, resolve, load, imports, flush, readyCalls, deregistered } = setup();
    resolve('file:///app/main.mjs');
    resolve('file:///app/dep.mjs', 'file:///app/main.mjs');
    clock.advance(0);
    expect(imports).toEqual([]); // resolved, not loading yet: importing now would start a job of our own
    expect(main.ready).toBe(false);
    load('file:///app/main.mjs');
    await flush(); // the hooks remove themselves once this load is over
    expect(deregistered()).toBe(1);
    clock.advance(0);
    expect(imports.map((i) => i.url)).toContain('file:///app/main.mjs');
    expect(main.ready).toBe(false);
    clock.advance(MAIN_WAIT_MAX_MS - 1); // a long top-level await
    expect(main.ready).toBe(false);
    imports[0]!.settle();
    await flush();
    expect(main.ready).toBe(true);
    expect(readyCalls()).toBe(1);
  });

  it('an ES module main resolved only after the first turn (a --require preload on a loaded machine) is still waited for', async () => {
    const { clock, main, resolve, load, imports, flush } = setup({ mainFile: '/app/main.mjs' });
    clock.advance(0); // the first turn: Node was given a main file, not resolved yet
    expect(main.ready).toBe(false);
    resolve('file:///app/main.mjs');
    load('file:///app/main.mjs');
    await flush();
    clock.advance(0);
    expect(imports.map((i) => i.url)).toContain('file:///app/main.mjs');
    expect(main.ready).toBe(false);
    imports[0]!.settle();
    await flush();
    expect(main.ready).toBe(true);
  });

  it('a main file never seen by the hooks: ready at the bound, not before', () => {
    const { clock, main } = setup({ mainFile: '/app/main.wasm' });
    clock.advance(MAIN_WAIT_MAX_MS - 1);
    expect(main.ready).toBe(false);
    clock.advance(1);
    expect(main.ready).toBe(true);
  });

  it('an entry whose evaluation never ends: ready at the bound', () => {
    const { clock, main, resolve, load, readyCalls } = setup();
    resolve('file:///app/main.mjs');
    load('file:///app/main.mjs');
    clock.advance(MAIN_WAIT_MAX_MS - 1);
    expect(main.ready).toBe(false);
    clock.advance(1);
    expect(main.ready).toBe(true);
    expect(readyCalls()).toBe(1);
  });

  it('a CommonJS main run through the ES module loader: ready once Node marks it loaded, no import()', () => {
    let loaded = false;
    const { clock, main, resolve, load, imports } = setup({ cjsLoaded: () => loaded });
    resolve('file:///app/main.cjs', undefined, 'commonjs');
    load('file:///app/main.cjs', 'commonjs');
    clock.advance(0);
    expect(main.ready).toBe(false);
    loaded = true;
    expect(main.ready).toBe(true);
    expect(imports).toEqual([]);
  });

  it('without module hooks (Node before 22.15): the first turn', () => {
    const { clock, main } = setup({ hooks: false });
    clock.advance(0);
    expect(main.ready).toBe(true);
  });

  it('stop(): ready, the timers gone, the hooks removed, onReady not called', () => {
    const { clock, main, readyCalls, deregistered } = setup();
    main.stop();
    expect(main.ready).toBe(true);
    expect(deregistered()).toBe(1);
    expect(clock.pending).toBe(0);
    expect(readyCalls()).toBe(0);
  });
});
