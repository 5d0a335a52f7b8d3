import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { root, run, tool } from '../helpers/prometheus';

interface ComposeService {
  image?: string;
  build?: unknown;
  restart?: string;
  healthcheck?: unknown;
  mem_limit?: string;
  environment?: Record<string, string> | string[];
  command?: string[];
  volumes?: (string | { source?: string; type?: string })[];
}
const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
const compose = parse(composeText) as { services: Record<string, ComposeService> };

/**
 * Configuration keys of the contrib release pinned in docker-compose.yml, per component type,
 * read from the components' Config structs (sources and commits in the file itself).
 */
type KeySpec = true | { enum: string[] } | { [key: string]: KeySpec };
interface ComponentKeys {
  module: string;
  source: string;
  deprecated?: Record<string, string>;
  keys: Record<string, KeySpec>;
}
const keyTable = JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'operator', 'collector-keys.json'), 'utf8')) as {
  release: string;
  image: string;
  components: Record<'receivers' | 'processors' | 'exporters' | 'connectors' | 'extensions', Record<string, ComponentKeys>>;
  service: { keys: Record<string, KeySpec> };
};

/** Every key path of `value` that `spec` does not allow, with why. */
function unknownKeys(value: unknown, spec: KeySpec, path: string): string[] {
  if (spec === true) return [];
  if ('enum' in spec && Array.isArray(spec.enum)) {
    return spec.enum.includes(value as string) ? [] : [`${path}: ${JSON.stringify(value)} is not one of ${spec.enum.join(', ')}`];
  }
  const s = spec as Record<string, KeySpec>;
  if (s['[]']) {
    if (!Array.isArray(value)) return [`${path}: expected a list`];
    return value.flatMap((v, i) => unknownKeys(v, s['[]']!, `${path}[${i}]`));
  }
  if (value === null || value === undefined) return [];
  if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected a mapping`];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const sub = s[k] ?? s['*'];
    return sub ? unknownKeys(v, sub, `${path}.${k}`) : [`${path}.${k}: not a key of this component in ${keyTable.release}`];
  });
}

type Kind = 'receivers' | 'processors' | 'exporters' | 'connectors' | 'extensions';
const kinds: Kind[] = ['receivers', 'processors', 'exporters', 'connectors', 'extensions'];
type Section = Record<string, Record<string, unknown> | null>;
type CollectorConfig = Record<Kind, Section> & {
  service: {
    extensions: string[];
    pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }>;
    telemetry?: unknown;
  };
};
const collectorText = readFileSync(join(root, 'otel-collector', 'config.yaml'), 'utf8');
const collector = parse(collectorText) as CollectorConfig;
/** `memory_limiter/2` is an instance of the type `memory_limiter`. */
const typeOf = (id: string): string => id.split('/')[0]!;

describe('otel-collector/config.yaml', () => {
  it('uses only keys the pinned release’s component configuration structs accept (and no deprecated one)', () => {
    const problems: string[] = [];
    for (const kind of kinds) {
      for (const [id, cfg] of Object.entries(collector[kind] ?? {})) {
        const known = keyTable.components[kind][typeOf(id)];
        if (!known) {
          problems.push(`${kind}.${id}: no component of type ${typeOf(id)} in the key table`);
          continue;
        }
        problems.push(...unknownKeys(cfg ?? {}, known.keys, `${kind}.${id}`));
        for (const key of Object.keys(known.deprecated ?? {})) if (cfg && key in cfg) problems.push(`${kind}.${id}.${key}: deprecated (${known.deprecated![key]})`);
      }
    }
    problems.push(...unknownKeys(collector.service, keyTable.service.keys, 'service'));
    expect(problems).toEqual([]);
  });

  it('the key check catches a misspelled, a deprecated and a removed key (it can fail)', () => {
    const spec = keyTable.components.processors.memory_limiter!.keys;
    expect(unknownKeys({ limit_mb: 400 }, spec, 'processors.memory_limiter')).toEqual([`processors.memory_limiter.limit_mb: not a key of this component in ${keyTable.release}`]);
    const prom = keyTable.components.exporters.prometheus!;
    expect(unknownKeys({ translation_strategy: 'UnderscoreEscaping' }, prom.keys, 'exporters.prometheus')[0]).toMatch(/is not one of/);
    expect(Object.keys(prom.deprecated ?? {})).toEqual(expect.arrayContaining(['add_metric_suffixes', 'resource_to_telemetry_conversion']));
    expect(unknownKeys({ logs: { x: { conditions: ['true'], attribute: [] } } }, keyTable.components.connectors.count!.keys, 'c')).toEqual([`c.logs.x.attribute: not a key of this component in ${keyTable.release}`]);
  });

  it('pins the same release in docker-compose.yml as the key table was read from', () => {
    expect(compose.services['otel-collector']!.image).toBe(keyTable.image);
    expect(keyTable.image).toBe(`otel/opentelemetry-collector-contrib:${keyTable.release}`);
  });

  it('names only components it defines, in pipelines of the right kind', () => {
    const pipelines = collector.service.pipelines;
    for (const [name, p] of Object.entries(pipelines)) {
      for (const kind of ['receivers', 'processors', 'exporters'] as const) {
        expect(p[kind].length, `${name}.${kind}`).toBeGreaterThan(0);
        for (const id of p[kind]) {
          const defined = Object.keys(collector[kind] ?? {}).includes(id) || (kind !== 'processors' && Object.keys(collector.connectors ?? {}).includes(id));
          expect(defined, `${name} uses ${kind} ${id}`).toBe(true);
        }
      }
    }
    for (const id of collector.service.extensions) expect(Object.keys(collector.extensions)).toContain(id);
    // A connector is the exporter of one pipeline and the receiver of another.
    for (const id of Object.keys(collector.connectors ?? {})) {
      expect(Object.values(pipelines).some((p) => p.exporters.includes(id)), `${id} as exporter`).toBe(true);
      expect(Object.values(pipelines).some((p) => p.receivers.includes(id)), `${id} as receiver`).toBe(true);
    }
  });

  it('counts the agent’s shutdown and warning log records into metrics that reach the Prometheus exporter', () => {
    const count = collector.connectors['count/oomguard'] as { logs: Record<string, { conditions: string[]; attributes: { key: string }[] }> };
    // Shadow mode's observed shutdowns are not shutdowns.
    expect(count.logs['oomguard.shutdowns']!.conditions).toEqual(['attributes["oomguard.level"] == "shutdown" and attributes["oomguard.observed"] == nil']);
    expect(count.logs['oomguard.shutdowns']!.attributes.map((a) => a.key)).toEqual(['oomguard.reason', 'oomguard.signal']);
    expect(count.logs['oomguard.warnings']!.conditions).toEqual(['attributes["oomguard.level"] == "warn"']);
    const pipelines = collector.service.pipelines;
    expect(pipelines.logs!.receivers).toContain('otlp');
    expect(pipelines.logs!.exporters).toContain('count/oomguard');
    const fromCount = Object.values(pipelines).filter((p) => p.receivers.includes('count/oomguard'));
    expect(fromCount.flatMap((p) => p.exporters)).toContain('prometheus');
  });

  it('scrapes the agent under the app’s service name, with a scrape config Prometheus itself accepts', async () => {
    const promtool = tool('promtool');
    const scrape = (collector.receivers.prometheus as { config: { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] } }).config;
    expect(scrape.scrape_configs.flatMap((s) => s.static_configs.flatMap((c) => c.targets))).toContain('app:9465');
    const env = compose.services.app!.environment as Record<string, string>;
    expect(scrape.scrape_configs.map((s) => s.job_name)).toContain(env.OTEL_SERVICE_NAME);
    if (!promtool) return;
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'oomguard-scrape-'));
    try {
      writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(scrape));
      const r = await run(promtool, ['check', 'config', join(dir, 'prometheus.yml')]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('limits its own memory with a fixed limit below its container limit, memory_limiter first in every pipeline', () => {
    const ml = collector.processors.memory_limiter as Record<string, number>;
    expect(ml).not.toHaveProperty('limit_percentage');
    const containerMiB = Number(/^(\d+)m$/.exec(compose.services['otel-collector']!.mem_limit ?? '')?.[1]);
    expect(containerMiB).toBeGreaterThan(0);
    expect(ml.limit_mib).toBeLessThanOrEqual(containerMiB * 0.85);
    expect(ml.spike_limit_mib).toBeLessThan(ml.limit_mib!);
    const env = compose.services['otel-collector']!.environment as Record<string, string>;
    expect(env.GOMEMLIMIT).toBe(`${ml.limit_mib! - ml.spike_limit_mib!}MiB`);
    for (const [name, p] of Object.entries(collector.service.pipelines)) expect(p.processors[0], name).toBe('memory_limiter');
  });

  it('keeps the app’s own resource attributes: no system detector, no override', () => {
    const rd = collector.processors.resourcedetection as { detectors: string[]; override: boolean };
    expect(rd.detectors).not.toContain('system');
    expect(rd.override).toBe(false);
  });

  it('exports to Prometheus under the agent’s own metric names, plus debug, with the health_check extension', () => {
    const prom = collector.exporters.prometheus as { translation_strategy: string; endpoint: string };
    expect(prom.translation_strategy).toBe('UnderscoreEscapingWithoutSuffixes');
    expect(prom.endpoint).toMatch(/:8889$/);
    expect(collector.exporters).toHaveProperty('debug');
    expect(collector.service.extensions).toContain('health_check');
    expect(collectorText).toMatch(/^\s*# prometheusremotewrite:/m);
    expect(collectorText).toMatch(/^\s*# otlp:/m);
  });
});

describe('docker-compose.yml', () => {
  const dockerCompose = tool('docker-compose');
  it.skipIf(!dockerCompose)('validates with docker-compose config -q', async () => {
    const r = await run(dockerCompose!, ['-f', 'docker-compose.yml', 'config', '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('validates against the Compose Specification JSON schema', () => {
    const schema = JSON.parse(readFileSync(join(root, '..', 'shared', 'schemas', 'compose-spec.json'), 'utf8')) as Record<string, unknown>;
    delete schema.$schema;
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    expect(validate(compose), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it('runs the app, the contrib collector, Prometheus, Alertmanager and Grafana, every image pinned', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['alertmanager', 'app', 'grafana', 'load', 'otel-collector', 'prometheus']);
    expect(compose.services['otel-collector']!.image).toMatch(/^otel\/opentelemetry-collector-contrib:/);
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.build) {
        expect(s.image, name).toBe('oomguard-demo:local');
        continue;
      }
      // A version tag (x.y.z) or a digest; never latest, never a bare major.
      expect(s.image, name).toMatch(/(:v?\d+\.\d+\.\d+([-.][\w.-]+)?|@sha256:[0-9a-f]{64})$/);
    }
    for (const line of readFileSync(join(root, 'Dockerfile'), 'utf8').split('\n').filter((l) => /^FROM /i.test(l))) {
      expect(line).toMatch(/^FROM \S+:\d+\.\d+\.\d+\S*( AS \w+)?$/i);
    }
  });

  it('gives the app a memory limit its heap fits in, a restart policy, the oomguard preload, a data volume and a guard health check', () => {
    const app = compose.services.app!;
    expect(app.build).toBeDefined();
    expect(app.mem_limit).toMatch(/^\d+m$/);
    const env = app.environment as Record<string, string>;
    const heapMiB = Number(/--max-old-space-size=(\d+)/.exec(env.NODE_OPTIONS ?? '')?.[1]);
    expect(heapMiB).toBeLessThanOrEqual(0.75 * Number(app.mem_limit!.slice(0, -1)));
    expect(app.restart).toMatch(/^(always|unless-stopped|on-failure)/);
    expect(app.healthcheck).toMatchObject({ test: ['CMD', 'node', 'demo/healthcheck.mjs'] });
    expect(app.volumes).toContain('app-data:/srv/data');
    expect(readFileSync(join(root, 'Dockerfile'), 'utf8')).toMatch(/CMD \["node", "--require", "oomguard\/register", "demo\/app\.mjs"\]/);
    expect(compose.services.load).toMatchObject({ command: ['node', 'demo/load.mjs'], image: 'oomguard-demo:local' });
    for (const name of ['prometheus', 'alertmanager', 'grafana']) expect(compose.services[name]!.healthcheck, name).toBeDefined();
  });

  it('mounts only files and folders that exist in the repository', () => {
    const mounts = Object.values(compose.services).flatMap((s) =>
      (s.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0]! : (v.source ?? ''))),
    );
    const binds = mounts.filter((m) => m.startsWith('.') || isAbsolute(m));
    expect(binds.length).toBeGreaterThanOrEqual(6);
    for (const m of binds) expect(existsSync(join(root, m)), m).toBe(true);
  });

  it('wires Grafana to the provisioned datasource uid the dashboard defaults to', () => {
    const ds = parse(readFileSync(join(root, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    const provider = parse(readFileSync(join(root, 'grafana', 'provisioning', 'dashboards', 'oomguard.yml'), 'utf8')) as {
      providers: { options: { path: string } }[];
    };
    expect(composeText).toContain(`./dashboards:${provider.providers[0]!.options.path}`);
  });
});
