/**
 * Cluster mode (`node:cluster`), where the memory that runs out is the workers': every worker
 * runs its own guard, and the operator scrapes one endpoint, the primary's, as before.
 *
 * - A worker never takes the configured port (the primary holds it). Its `/metrics` listens on a
 *   local socket named after its pid (an abstract Unix socket on Linux, a file in the temporary
 *   directory elsewhere, a named pipe on Windows), which nothing but a local process can reach.
 * - The primary's `/metrics` answers with its own metrics, then each live worker's, fetched from
 *   those sockets at scrape time and labelled `oomguard_worker_id` (the cluster's worker id) and
 *   `process_pid`, merged family by family so each metric keeps one `# HELP`/`# TYPE`.
 * - The primary counts the workers that ended with the guard's exit code
 *   (`oomguard.cluster.worker_shutdowns`), so a worker's memory-pressure shutdown stays visible
 *   after its own series are gone; each worker's own OTLP log record and span say the same, with
 *   its `process.pid` and `oomguard.worker.id` on the resource.
 *
 * The app's IPC channel is never used: the primary reads `cluster.workers` (ids and pids) and the
 * cluster module's `exit` events, and the workers need nothing from it.
 */
import type { Worker } from 'node:cluster';
import type { Meter } from '@opentelemetry/api';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Attribute (and, with underscores, label) naming a cluster worker. */
export const ATTR_WORKER_ID = 'oomguard.worker.id';
const WORKER_LABEL = 'oomguard_worker_id';
const PID_LABEL = 'process_pid';

/** How long the primary waits for a worker's exposition during a scrape. */
export const WORKER_SCRAPE_TIMEOUT_MS = 2000;

type Cluster = typeof import('node:cluster').default;

function cluster(): Cluster {
  // CommonJS `require` gives the cluster object itself (the typings call it `default`).
  return require('node:cluster') as Cluster;
}

/** This process's cluster worker id, when it is a cluster worker (NODE_UNIQUE_ID is set by `fork`). */
export function workerId(): number | undefined {
  const c = cluster();
  return c.isWorker ? c.worker?.id : undefined;
}

/** Where a worker's `/metrics` listens: a local socket named after its pid. */
export function workerSocket(pid: number, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'linux') return `\0oomguard-metrics-${pid}`;
  if (platform === 'win32') return `\\\\.\\pipe\\oomguard-metrics-${pid}`;
  return join(tmpdir(), `oomguard-metrics-${pid}.sock`);
}

/** One exposition line: metadata of a family, or a sample of it. */
type Line = { meta: true; family: string; text: string } | { meta: false; text: string };


/**
 * `own` (the primary's exposition) followed by every live worker's, each worker sample labelled
 * with its worker id and pid. A worker that does not answer within the timeout is left out of
 * this scrape. Never rejects.
 */
export async function mergeWorkers(own: string, fetchText: (socket: string) => Promise<string | undefined> = fetchExposition): Promise<string> {
  const c = cluster();
  if (!c.isPrimary || !c.workers) return own;
  const workers = Object.values(c.workers).filter((w): w is Worker => w !== undefined && typeof w.process.pid === 'number' && !w.isDead());
  if (workers.length === 0) return own;
  const texts = await Promise.all(workers.map((w) => fetchText(workerSocket(w.process.pid!)).catch(() => undefined)));
  const sources: { text: string; labels?: string }[] = [{ text: own }];
  workers.forEach((w, i) => {
    const text = texts[i];
    if (text) sources.push({ text, labels: `${WORKER_LABEL}="${w.id}",${PID_LABEL}="${w.process.pid}"` });
  });
  return mergeExpositions(sources);
}

/**
 * Merge Prometheus text expositions family by family: each family's metadata once (from the
 * first source that has it), then its samples from every source in order, `labels` added to the
 * samples of the sources that have them (a label a sample already has is not added twice).
 */
export function mergeExpositions(sources: readonly { text: string; labels?: string | undefined }[]): string {
  const families = new Map<string, { meta: string[]; metaFrom: number; samples: string[] }>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { meta: [], metaFrom: -1, samples: [] }));
    return f;
  };
  sources.forEach((source, index) => {
    let current = '';
    for (const line of lines(source.text)) {
      if (line.meta) {
        current = line.family;
        const f = family(current);
        if (f.metaFrom === -1) f.metaFrom = index;
        if (f.metaFrom === index) f.meta.push(line.text);
        continue;
      }
      const name = sampleName(line.text);
      // Samples follow their family's metadata (a histogram's _bucket, _sum, _count included);
      // one without metadata is a family of its own.
      const owner = current && name.startsWith(current) ? current : name;
      family(owner).samples.push(source.labels ? withLabels(line.text, source.labels) : line.text);
    }
  });
  const out: string[] = [];
  for (const f of families.values()) out.push(...f.meta, ...f.samples);
  return out.length ? `${out.join('\n')}\n` : '';
}

function* lines(text: string): Generator<Line> {
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    const meta = raw.match(/^# (?:HELP|TYPE|UNIT) (\S+)/);
    if (meta) yield { meta: true, family: meta[1]!, text: raw };
    else if (!raw.startsWith('#')) yield { meta: false, text: raw };
  }
}

function sampleName(sample: string): string {
  return sample.match(/^[a-zA-Z_:][a-zA-Z0-9_:]*/)?.[0] ?? '';
}

/** `labels` (`a="1",b="2"`) added to one sample line, skipping any it already has. */
export function withLabels(sample: string, labels: string): string {
  const name = sampleName(sample);
  const rest = sample.slice(name.length);
  const extra = labels.split(',').filter((l) => {
    const key = l.slice(0, l.indexOf('='));
    return !new RegExp(`[{,]${key}="`).test(rest);
  });
  if (extra.length === 0) return sample;
  if (rest.startsWith('{}')) return `${name}{${extra.join(',')}}${rest.slice(2)}`;
  if (rest.startsWith('{')) return `${name}{${extra.join(',')},${rest.slice(1)}`;
  return `${name}{${extra.join(',')}}${rest}`;
}

/** GET /metrics over a worker's local socket; undefined when it does not answer in time. */
export function fetchExposition(socketPath: string, timeoutMs = WORKER_SCRAPE_TIMEOUT_MS): Promise<string | undefined> {
  const http = require('node:http') as typeof import('node:http');
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/metrics', timeout: timeoutMs, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve(undefined);
        return;
      }
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/**
 * In a primary: `oomguard.cluster.worker_shutdowns`, the workers that exited with `exitCode` (the
 * guard's memory-pressure code) since it started, reported once the process has had a worker.
 * Returns what removes the counter's callback and the `exit` listener.
 */
export function registerWorkerShutdowns(meter: Meter, exitCode: number): () => void {
  const c = cluster();
  if (!c.isPrimary) return () => {};
  let shutdowns = 0;
  let hadWorkers = false;
  const onExit = (_worker: Worker, code: number | null): void => {
    if (code === exitCode) shutdowns++;
  };
  c.on('exit', onExit);
  const counter = meter.createObservableCounter(METRIC_WORKER_SHUTDOWNS, {
    description: "Cluster workers that exited with the guard's exit code (a memory-pressure shutdown), since the primary started.",
    unit: '1',
  });
  const callback = (result: { observe(value: number): void }): void => {
    hadWorkers ||= Object.keys(c.workers ?? {}).length > 0;
    if (hadWorkers) result.observe(shutdowns);
  };
  counter.addCallback(callback);
  return () => {
    counter.removeCallback(callback);
    c.off('exit', onExit);
  };
}

/** The counter of workers shut down for memory pressure, on the primary. */
export const METRIC_WORKER_SHUTDOWNS = 'oomguard.cluster.worker_shutdowns';
