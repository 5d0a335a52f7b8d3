/**
 * The process-level contract: preload forms, one agent per process, exit codes, hooks,
 * configuration errors, the disabled agent. Real children, pinned env, bounded time.
 */
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChild, tempDir, why } from '../helpers/child';
import { dist, ROOT } from '../helpers/dist';
import { freePort } from '../fixtures/telemetry/child';

const FIX = join(__dirname, '..', 'fixtures', 'core');
const LEAK = join(FIX, 'leak.js');
const tmp = tempDir();
afterAll(() => tmp.remove());
let n = 0;
const marker = () => join(tmp.dir, `marker-${++n}.json`);

async function portOpen(port: number): Promise<boolean> {
  const sock = connect(port, '127.0.0.1');
  try {
    await Promise.race([once(sock, 'connect'), once(sock, 'error').then(() => Promise.reject(new Error('refused')))]);
    return true;
  } catch {
    return false;
  } finally {
    sock.destroy();
  }
}

describe.concurrent('exit code 2 whatever the app does', () => {
  it.each(['signal', 'auto'])(
    'OOMGUARD_ACTION=%s: the app SIGTERM handler that calls process.exit(0) still ends with exit 2, after our hook ran',
    async (action) => {
      dist('register.js');
      const m = marker();
      const r = await runChild({
        args: ['--max-old-space-size=96', '--require', 'oomguard/register', LEAK],
        env: { LEAK_MB_PER_S: '40', MARKER: m, SIGTERM_EXIT0: '1', OOMGUARD_ACTION: action },
        timeoutMs: 60_000,
      });
      expect(r.code, why(r)).toBe(2);
      expect(r.stderr).toMatch(/app: SIGTERM received, exiting 0/);
      expect(existsSync(m)).toBe(true);
    },
  );

  it("auto: the app's asynchronous SIGTERM path runs to its end even when our hook emptied the event loop, and its exit listener sees 2", async () => {
    const log = join(tmp.dir, `sigterm-${++n}.log`);
    const r = await runChild({
      args: ['--max-old-space-size=96', '--require', 'oomguard/register', join(FIX, 'sigterm-app.js')],
      env: { OOMGUARD_METRICS: 'none', LOG: log },
      timeoutMs: 60_000,
      noStdio: true,
    });
    const said = readFileSync(log, 'utf8');
    expect(r.code, said).toBe(2);
    expect(said).toMatch(/app: SIGTERM: flushing\n(.|\n)*app: flushed/);
    expect(said).toMatch(/app: exit listener sees code 2/);
  });

  it('OOMGUARD_ACTION=exit: the app SIGTERM handler is not called', async () => {
    const r = await runChild({
      args: ['--max-old-space-size=96', '--require', 'oomguard/register', LEAK],
      env: { LEAK_MB_PER_S: '40', SIGTERM_EXIT0: '1', OOMGUARD_ACTION: 'exit' },
      timeoutMs: 60_000,
    });
    expect(r.code, why(r)).toBe(2);
    expect(r.stderr).not.toMatch(/SIGTERM received/);
  });

  it('a failing hook and a hanging hook are logged by name; the others run; exit code is the configured one', async () => {
    const m = marker();
    const t0 = Date.now();
    const r = await runChild({
      args: ['--require', 'oomguard/register', join(FIX, 'hooks-app.js')],
      env: { MARKER: m, OOMGUARD_HEAP_THRESHOLD: '1MiB', OOMGUARD_HEAP_WARN: 'off', OOMGUARD_EXIT_CODE: '42' },
      timeoutMs: 30_000,
    });
    expect(r.code, why(r)).toBe(42);
    expect(r.stderr).toMatch(/shutdown hook "failing" failed.*disk on fire/);
    expect(r.stderr).toMatch(/shutdown hook "hanging" did not finish/);
    expect(JSON.parse(readFileSync(m, 'utf8'))).toEqual({ reason: 'heap-threshold', level: 'shutdown' });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('the overall deadline ends a shutdown whose hook hangs with no timeout of its own', async () => {
    const r = await runChild({
      args: ['--require', 'oomguard/register', join(FIX, 'hooks-app.js')],
      env: { MARKER: marker(), OOMGUARD_HEAP_THRESHOLD: '1MiB', OOMGUARD_HEAP_WARN: 'off', HANG_TIMEOUT: '1h', OOMGUARD_SHUTDOWN_TIMEOUT: '500ms' },
      timeoutMs: 30_000,
    });
    expect(r.code, why(r)).toBe(2);
    // The deadline timer and the hook's share of it (the time left) end together; either line says so.
    expect(r.stderr).toMatch(/deadline of 500ms passed|"hanging" did not finish within \d+ms/);
    expect(r.ms).toBeLessThan(8_000);
  });
});

describe.concurrent('preload forms and one agent per process', () => {
  it('--import with an .mjs app: the ESM import is the running agent, same as require()', async () => {
    const r = await runChild({ args: ['--import', 'oomguard/register', join(FIX, 'esm-app.mjs')], env: { OOMGUARD_METRICS: 'none' }, timeoutMs: 20_000 });
    expect(r.code, why(r)).toBe(0);
    expect(r.stderr).toMatch(/app: \{"running":true,"sameSlot":true,"hasOnShutdown":"function"\}/);
  });

  it('two installed copies of the package share one agent: a hook registered through one runs on the other\'s shutdown', async () => {
    const dir = join(tmp.dir, 'copies');
    for (const copy of ['a', 'b']) {
      const pkg = join(dir, copy, 'node_modules', 'oomguard');
      mkdirSync(pkg, { recursive: true });
      cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
      cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    }
    const m = marker();
    const r = await runChild({
      args: [join(FIX, 'two-copies.js')],
      env: {
        COPY_A: join(dir, 'a', 'node_modules', 'oomguard'),
        COPY_B: join(dir, 'b', 'node_modules', 'oomguard'),
        MARKER: m,
        // The copies have no node_modules of their own; the guard needs none without telemetry.
        OTEL_SDK_DISABLED: 'true',
      },
      timeoutMs: 20_000,
    });
    expect(r.code, why(r)).toBe(2);
    expect(readFileSync(m, 'utf8')).toBe('hook from copy B ran');
    expect(r.stderr).toMatch(/same status object: true/);
  });

  it('NODE_OPTIONS reaches a worker (API only, no second agent) and a child process (guards itself; the taken port is expected)', async () => {
    const port = await freePort();
    const r = await runChild({
      args: [join(FIX, 'spawn-tree.js')],
      env: { NODE_OPTIONS: '--require oomguard/register', OOMGUARD_METRICS_HOST: '127.0.0.1', OOMGUARD_METRICS_PORT: String(port) },
      timeoutMs: 30_000,
    });
    expect(r.code, why(r)).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      main: boolean;
      worker: { hasApi: boolean; running: boolean };
      child: { running: boolean };
      childStderr: string;
    };
    expect(out.main).toBe(true);
    expect(out.worker).toEqual({ hasApi: true, running: false });
    expect(out.child.running).toBe(true);
    // The child finds the parent on the metrics port: expected, so not a word on its stderr.
    expect(out.childStderr).toBe('');
  });
});

describe('start() without a preload', () => {
  it('start(options) runs the guard; stop() removes it all: no status, no endpoint, nothing holding the process', async () => {
    const port = await freePort();
    const r = await runChild({
      args: [join(FIX, 'start-stop.js')],
      env: { PORT: String(port), OOMGUARD_METRICS_PORT: String(port) },
      timeoutMs: 20_000,
    });
    expect(r.code, why(r)).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toEqual({ running: true, afterStop: false, parentPid: null, stillServing: false, handles: [] });
    expect(r.ms).toBeLessThan(5_000);
  });

  it('start() with a bad option throws OomguardConfigError naming the option, at call time', async () => {
    const r = await runChild({
      args: ['-e', "try { require('oomguard').start({ pollInterval: '5ms' }) } catch (e) { console.log(e.code + ' ' + e.message) }"],
      timeoutMs: 10_000,
    });
    expect(r.stdout).toMatch(/^OOMGUARD_INVALID_CONFIG oomguard: options\.pollInterval="5ms"/);
  });
});

describe.concurrent('configuration', () => {
  it('OOMGUARD_ENABLED=false: a script that does nothing exits at once with code 0, and no port is opened', async () => {
    const port = await freePort();
    let opened = false;
    const r = await runChild({
      args: ['--require', 'oomguard/register', '-e', 'setTimeout(() => {}, 300)'],
      env: { OOMGUARD_ENABLED: 'false', OOMGUARD_METRICS_HOST: '127.0.0.1', OOMGUARD_METRICS_PORT: String(port) },
      timeoutMs: 10_000,
      onSpawn: () => {
        setTimeout(async () => (opened = await portOpen(port)), 200);
      },
    });
    expect(r.code, why(r)).toBe(0);
    expect(r.stderr).toBe('');
    expect(opened).toBe(false);
    // And with nothing to do at all, it is gone as fast as plain node.
    const bare = await runChild({ args: ['--require', 'oomguard/register', join(FIX, 'noop.js')], env: { OOMGUARD_ENABLED: 'false' }, timeoutMs: 10_000 });
    expect(bare.code).toBe(0);
    expect(bare.ms).toBeLessThan(3_000);
  });

  it('with the guard on (defaults, telemetry up), an app that finishes exits when it would anyway, with its own exit code', async () => {
    const port = await freePort();
    const r = await runChild({
      args: ['--require', 'oomguard/register', '-e', 'setTimeout(() => { process.exitCode = 3; }, 700)'],
      env: { OOMGUARD_METRICS_HOST: '127.0.0.1', OOMGUARD_METRICS_PORT: String(port) },
      timeoutMs: 10_000,
    });
    expect(r.code, why(r)).toBe(3);
    expect(r.stderr).toBe('');
    // The timer, the GC observer and the metrics server are all unref'd: nothing holds the loop.
    expect(r.ms).toBeLessThan(3_000);
  });

  it('a bad value: the app runs, exit code unchanged, stderr has one clear line naming variable, value and expected form', async () => {
    const r = await runChild({
      args: ['--require', 'oomguard/register', join(FIX, 'noop.js')],
      env: { OOMGUARD_POLL_INTERVAL: 'fast' },
      timeoutMs: 10_000,
    });
    expect(r.code, why(r)).toBe(0);
    expect(r.stderr).toMatch(/app: ran/);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('oomguard'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/OOMGUARD_POLL_INTERVAL="fast".*expected .*250ms.*the guard is off; the app runs/);
  });

  it('a size threshold above the heap budget is valid but can never fire: one warning line, the guard runs', async () => {
    const r = await runChild({
      args: ['--max-old-space-size=256', '--require', 'oomguard/register', join(FIX, 'noop.js')],
      env: { OOMGUARD_HEAP_THRESHOLD: '1.5GiB', OOMGUARD_METRICS: 'none' },
      timeoutMs: 10_000,
    });
    expect(r.code, why(r)).toBe(0);
    expect(r.stderr).toMatch(/^oomguard: warning: OOMGUARD_HEAP_THRESHOLD=1\.5GiB is at or above the heap budget \(256MiB\)/m);
    expect(r.stderr).toMatch(/app: ran/);
  });

  it('OOMGUARD_STRICT=true with a bad value: exit 78 before the app starts', async () => {
    const r = await runChild({
      args: ['--require', 'oomguard/register', join(FIX, 'noop.js')],
      env: { OOMGUARD_STRICT: 'true', OOMGUARD_EXIT_CODE: '137' },
      timeoutMs: 10_000,
    });
    expect(r.code, why(r)).toBe(78);
    expect(r.stderr).not.toMatch(/app: ran/);
    expect(r.stderr).toMatch(/OOMGUARD_EXIT_CODE="137"/);
  });

  it('oomguard doctor prints the configuration and the limits with where they came from', async () => {
    const r = await runChild({ args: [dist('cli.js'), 'doctor', '--json'], env: {}, timeoutMs: 10_000 });
    expect(r.code, why(r)).toBe(0);
    const report = JSON.parse(r.stdout) as { heap: { budget: number; budgetSource: string }; config: { exitCode: number } };
    expect(report.config.exitCode).toBe(2);
    expect(report.heap.budget).toBeGreaterThan(0);
    expect(report.heap.budgetSource).toMatch(/heap_size_limit|max-old-space-size/);
    const flags = await runChild({ args: [dist('cli.js'), 'doctor', '--', '--max-old-space-size=300'], env: {}, timeoutMs: 10_000 });
    expect(flags.stdout).toMatch(/heap budget\s+300MiB\s+\(--max-old-space-size=300/);
  });
});
