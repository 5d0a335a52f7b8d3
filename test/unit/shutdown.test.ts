import { describe, expect, it } from 'vitest';
import { endAction, flushBudget, Shutdown, SIGNAL_GRACE_MS, type ShutdownDeps } from '../../src/shutdown';
import type { PressureEvent } from '../../src/types';

const event = { level: 'shutdown', signal: 'heap', reason: 'heap-threshold' } as unknown as PressureEvent;

/** Real timers (short deadlines), fake process: records exits, kills, log lines and which timers were let go. */
function fakeDeps(sigtermListeners = 0, platform: NodeJS.Platform = 'linux') {
  const calls: string[] = [];
  const timers: { ms: number; unref: boolean }[] = [];
  const lines: string[] = [];
  let exited: (code: number) => void = () => undefined;
  const exitedP = new Promise<number>((r) => (exited = r));
  const deps: ShutdownDeps = {
    exit(code) {
      calls.push(`exit:${code}`);
      exited(code);
    },
    forceExitCode: (code) => calls.push(`force:${code}`),
    kill: (signal) => calls.push(`kill:${signal}`),
    listenerCount: () => sigtermListeners,
    platform,
    log: (line) => lines.push(line),
    setTimer(fn, ms) {
      const record = { ms, unref: false };
      timers.push(record);
      const t = setTimeout(fn, ms);
      // Never hold the test runner; what the code asked for is recorded.
      t.unref();
      return {
        unref: () => void (record.unref = true),
        ref: () => void (record.unref = false),
        [Symbol.toPrimitive]: () => Number(t),
        timer: t,
      };
    },
    clearTimer: (t) => clearTimeout((t as { timer: NodeJS.Timeout }).timer),
    now: () => Date.now(),
  };
  return { deps, calls, lines, exitedP, timers };
}

const parse = (s: string): number => (s.endsWith('ms') ? Number(s.slice(0, -2)) : Number(s.slice(0, -1)) * 1000);

describe('Shutdown', () => {
  it('forces the exit code before any hook runs, runs every hook, flushes, then exits with the code', async () => {
    const { deps, calls } = fakeDeps();
    const s = new Shutdown(deps, parse);
    s.add(async function flushWal() {
      calls.push('hook:wal');
    });
    s.add(() => {
      calls.push('hook:server');
    });
    await s.run(event, {
      exitCode: 2,
      timeoutMs: 1000,
      action: 'exit',
      flush: async () => {
        calls.push('flush');
      },
    });
    expect(calls).toEqual(['force:2', 'hook:wal', 'hook:server', 'flush', 'exit:2']);
  });

  it('logs a throwing hook by name and still runs the others and exits', async () => {
    const { deps, calls, lines } = fakeDeps();
    const s = new Shutdown(deps, parse);
    s.add(function badHook() {
      throw new Error('disk on fire');
    });
    s.add(async () => {
      calls.push('hook:other');
    });
    const results = await s.run(event, { exitCode: 2, timeoutMs: 1000, action: 'exit' });
    expect(results.map((r) => r.outcome)).toEqual(['error', 'ok']);
    expect(lines.join('\n')).toMatch(/shutdown hook "badHook" failed.*disk on fire/);
    expect(calls).toContain('hook:other');
    expect(calls.at(-1)).toBe('exit:2');
  });

  it('does not wait for a hung hook past its own timeout', async () => {
    const { deps, lines, calls } = fakeDeps();
    const s = new Shutdown(deps, parse);
    s.add(() => new Promise(() => undefined), { name: 'hangs', timeout: '50ms' });
    const t0 = Date.now();
    const results = await s.run(event, { exitCode: 2, timeoutMs: 5000, action: 'exit' });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(results[0]?.outcome).toBe('timeout');
    expect(lines.join('\n')).toMatch(/"hangs" did not finish/);
    expect(calls.at(-1)).toBe('exit:2');
  });

  it('exits at the overall deadline even when a hook never settles and has no timeout of its own', async () => {
    const { deps, exitedP, lines } = fakeDeps();
    const s = new Shutdown(deps, parse);
    s.add(() => new Promise(() => undefined));
    const t0 = Date.now();
    // The hook's implicit timeout is the overall deadline; the deadline timer fires first or together.
    void s.run(event, { exitCode: 7, timeoutMs: 100, action: 'exit' });
    expect(await exitedP).toBe(7);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(lines.length).toBeGreaterThan(0);
  });

  it('gives the telemetry flush its slice of the deadline, not what is left of it', async () => {
    const { deps } = fakeDeps();
    const s = new Shutdown(deps, parse);
    let given = -1;
    await s.run(event, {
      exitCode: 2,
      timeoutMs: 4000,
      action: 'exit',
      flush: async (ms) => {
        given = ms;
      },
    });
    // 15% of 4 s, although almost all of the 4 s is left.
    expect(given).toBe(600);
  });

  it.each([
    [10_000, 9_900, 1_500, 'the default deadline: 15%'],
    [2_000, 1_990, 300, '15% of 2 s'],
    [1_000, 990, 250, 'at least 250 ms...'],
    [1_000, 100, 100, '...when that much is left'],
    [10_000, 0, 0, 'nothing left, nothing given'],
    [10_000, -50, 0, 'never negative'],
  ])('flushBudget(%i, %i) = %i (%s)', (timeout, left, budget) => {
    expect(flushBudget(timeout, left)).toBe(budget);
  });

  it('runs only once, however many times it is asked', async () => {
    const { deps, calls } = fakeDeps();
    const s = new Shutdown(deps, parse);
    let n = 0;
    s.add(() => void n++);
    const a = s.run(event, { exitCode: 2, timeoutMs: 1000, action: 'exit' });
    const b = s.run(event, { exitCode: 3, timeoutMs: 1000, action: 'exit' });
    expect(a).toBe(b);
    await a;
    expect(n).toBe(1);
    expect(calls.filter((c) => c.startsWith('exit'))).toEqual(['exit:2']);
  });

  it.each([
    ['auto with a SIGTERM listener sends SIGTERM and leaves the exit to the app', 'auto', 1, 'kill:SIGTERM'],
    ['auto without a SIGTERM listener exits', 'auto', 0, 'exit:2'],
    ['signal with a listener sends SIGTERM', 'signal', 1, 'kill:SIGTERM'],
    ['signal without any listener exits rather than die of SIGTERM', 'signal', 0, 'exit:2'],
    ['exit never signals', 'exit', 1, 'exit:2'],
  ] as const)('%s', async (_name, action, listeners, last) => {
    const { deps, calls } = fakeDeps(listeners);
    const s = new Shutdown(deps, parse);
    await s.run(event, { exitCode: 2, timeoutMs: 1000, action });
    expect(calls[0]).toBe('force:2');
    expect(calls.at(-1)).toBe(last);
  });

  it('on SIGTERM, lets the deadline go (it still fires) and holds the loop with a short ref\'d grace timer, adding no listener', async () => {
    const { deps, calls, timers } = fakeDeps(1);
    const s = new Shutdown(deps, parse);
    await s.run(event, { exitCode: 2, timeoutMs: 1000, action: 'auto' });
    expect(calls).toEqual(['force:2', 'kill:SIGTERM']);
    expect(timers).toEqual([
      { ms: 1000, unref: true },
      { ms: SIGNAL_GRACE_MS, unref: false },
    ]);
  });

  it.each([
    ['auto', 1, ''],
    ['signal', 1, 'does nothing on Windows'],
  ] as const)('on Windows, %s exits with the code instead of signalling (a signal there is TerminateProcess, code 1)', async (action, listeners, said) => {
    const { deps, calls, lines } = fakeDeps(listeners, 'win32');
    const s = new Shutdown(deps, parse);
    await s.run(event, { exitCode: 2, timeoutMs: 1000, action });
    expect(calls).toEqual(['force:2', 'exit:2']);
    if (said) expect(lines.at(-1)).toContain(said);
    else expect(lines).toEqual([]);
  });

  it.each<[string, NodeJS.Platform, number, 'exit' | 'signal']>([
    ['auto', 'linux', 0, 'exit'],
    ['auto', 'linux', 2, 'signal'],
    ['auto', 'darwin', 1, 'signal'],
    ['signal', 'linux', 0, 'signal'],
    ['exit', 'linux', 3, 'exit'],
    ['auto', 'win32', 1, 'exit'],
    ['signal', 'win32', 1, 'exit'],
  ])('endAction(%s, %s, %i listeners) = %s', (action, platform, listeners, expected) => {
    expect(endAction(action as 'auto', platform, listeners)).toBe(expected);
  });

  it('rejects bad hooks at registration, not at shutdown', () => {
    const s = new Shutdown(fakeDeps().deps, parse);
    expect(() => s.add('nope' as never)).toThrow(/expects a function/);
    expect(() => s.add(() => undefined, { timeout: -1 })).toThrow(/positive duration/);
  });

  it('abort() exits at once with the run\'s code, naming the hooks still running; before run() it does nothing', async () => {
    const { deps, calls, lines, exitedP } = fakeDeps();
    const s = new Shutdown(deps, parse);
    s.abort('too early');
    expect(calls).toEqual([]);
    s.add(() => new Promise(() => undefined), { name: 'slowFlush' });
    void s.run(event, { exitCode: 3, timeoutMs: 5000, action: 'exit' });
    await new Promise((r) => setTimeout(r, 10));
    s.abort('memory is still rising');
    expect(await exitedP).toBe(3);
    expect(lines.at(-1)).toMatch(/memory is still rising; exiting now with code 3 \(unfinished hooks: "slowFlush"\)/);
  });

  it('is running from the first line of run(): a hook, which starts synchronously inside it, already sees it', () => {
    const { deps } = fakeDeps();
    const s = new Shutdown(deps, parse);
    const seen: boolean[] = [];
    s.add(() => void seen.push(s.running));
    expect(s.running).toBe(false);
    void s.run(event, { exitCode: 2, timeoutMs: 100, action: 'exit' });
    expect(seen).toEqual([true]);
  });

  it('abort() from inside a hook names the hooks still running, not a synchronous one that has already returned', async () => {
    const { deps, lines, exitedP } = fakeDeps();
    const s = new Shutdown(deps, parse);
    s.add(() => undefined, { name: 'writeMarker' });
    s.add(() => s.abort('the V8 heap reached its limit during the shutdown'), { name: 'runaway' });
    void s.run(event, { exitCode: 2, timeoutMs: 5000, action: 'exit' });
    expect(await exitedP).toBe(2);
    expect(lines.at(-1)).toMatch(/exiting now with code 2 \(unfinished hooks: "runaway"\)$/);
  });

  it('removes a hook with the function add() returned', async () => {
    const { deps } = fakeDeps();
    const s = new Shutdown(deps, parse);
    let ran = false;
    const remove = s.add(() => void (ran = true));
    remove();
    expect(s.size).toBe(0);
    await s.run(event, { exitCode: 2, timeoutMs: 100, action: 'exit' });
    expect(ran).toBe(false);
  });
});
