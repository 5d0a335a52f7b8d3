import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { root, run, tool } from '../helpers/prometheus';

/**
 * Components of the otelcol-contrib distribution that this repository's collector config may
 * use, by kind. Source: open-telemetry/opentelemetry-collector-releases,
 * distributions/otelcol-contrib/manifest.yaml at commit 008cde8ca78cc0286ee3f0de92fa95e1641a445a
 * (components v0.136.0, the image tag pinned in docker-compose.yml). Only the entries relevant
 * here are listed; add one (with its module from that manifest) before using it.
 */
const contrib: Record<string, Record<string, string>> = {
  receivers: {
    otlp: 'go.opentelemetry.io/collector/receiver/otlpreceiver',
    prometheus: 'github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver',
    hostmetrics: 'github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver',
  },
  processors: {
    memory_limiter: 'go.opentelemetry.io/collector/processor/memorylimiterprocessor',
    batch: 'go.opentelemetry.io/collector/processor/batchprocessor',
    resourcedetection: 'github.com/open-telemetry/opentelemetry-collector-contrib/processor/resourcedetectionprocessor',
    resource: 'github.com/open-telemetry/opentelemetry-collector-contrib/processor/resourceprocessor',
    filter: 'github.com/open-telemetry/opentelemetry-collector-contrib/processor/filterprocessor',
  },
  exporters: {
    prometheus: 'github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusexporter',
    prometheusremotewrite: 'github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusremotewriteexporter',
    debug: 'go.opentelemetry.io/collector/exporter/debugexporter',
    otlp: 'go.opentelemetry.io/collector/exporter/otlpexporter',
    otlphttp: 'go.opentelemetry.io/collector/exporter/otlphttpexporter',
  },
  extensions: {
    health_check: 'github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension',
    pprof: 'github.com/open-telemetry/opentelemetry-collector-contrib/extension/pprofextension',
    zpages: 'go.opentelemetry.io/collector/extension/zpagesextension',
  },
};

type Section = Record<string, Record<string, unknown> | null>;
interface CollectorConfig {
  receivers: Section;
  processors: Section;
  exporters: Section;
  extensions: Section;
  service: {
    extensions: string[];
    pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }>;
  };
}
const collectorText = readFileSync(join(root, 'otel-collector', 'config.yaml'), 'utf8');
const collector = parse(collectorText) as CollectorConfig;
/** `memory_limiter/2` is an instance of the type `memory_limiter`. */
const typeOf = (id: string): string => id.split('/')[0]!;

describe('otel-collector/config.yaml', () => {
  it('names only components it defines, and defines only components of the contrib distribution', () => {
    const kinds = ['receivers', 'processors', 'exporters'] as const;
    for (const [name, p] of Object.entries(collector.service.pipelines)) {
      for (const kind of kinds) {
        expect(p[kind].length, `${name}.${kind}`).toBeGreaterThan(0);
        for (const id of p[kind]) expect(Object.keys(collector[kind]), `${name} uses ${kind} ${id}`).toContain(id);
      }
    }
    for (const id of collector.service.extensions) expect(Object.keys(collector.extensions)).toContain(id);
    for (const kind of [...kinds, 'extensions'] as const) {
      for (const id of Object.keys(collector[kind])) expect(Object.keys(contrib[kind]!), `${kind} ${id}`).toContain(typeOf(id));
    }
  });

  it('has separate metrics, traces and logs pipelines fed by OTLP, and scrapes the agent', () => {
    const pipelines = collector.service.pipelines;
    for (const signal of ['metrics', 'traces', 'logs']) expect(Object.keys(pipelines)).toContain(signal);
    for (const signal of ['traces', 'logs']) expect(pipelines[signal]!.receivers).toContain('otlp');
    expect(Object.values(pipelines).some((p) => p.receivers.includes('otlp') && p.exporters.length > 0)).toBe(true);
    expect(pipelines.metrics!.receivers).toContain('prometheus');
    const otlp = collector.receivers.otlp as { protocols: Record<string, unknown> };
    expect(Object.keys(otlp.protocols).sort()).toEqual(['grpc', 'http']);
    const scrape = (collector.receivers.prometheus as { config: { scrape_configs: { static_configs: { targets: string[] }[] }[] } }).config
      .scrape_configs;
    expect(scrape.flatMap((s) => s.static_configs.flatMap((c) => c.targets))).toContain('app:9464');
  });

  it('runs memory_limiter first, then resourcedetection and batch, in every pipeline', () => {
    for (const [name, p] of Object.entries(collector.service.pipelines)) {
      expect(p.processors.map(typeOf), name).toEqual(['memory_limiter', 'resourcedetection', 'batch']);
    }
  });

  it('exports to Prometheus under the agent’s own metric names, plus debug, with the health_check extension', () => {
    const prom = collector.exporters.prometheus as { translation_strategy: string; endpoint: string };
    expect(prom.translation_strategy).toBe('UnderscoreEscapingWithoutSuffixes');
    expect(prom.endpoint).toMatch(/:8889$/);
    expect(collector.exporters).toHaveProperty('debug');
    expect(collector.service.extensions).toContain('health_check');
    // The remote-write and OTLP forwarding options are there, commented out.
    expect(collectorText).toMatch(/^\s*# prometheusremotewrite:/m);
    expect(collectorText).toMatch(/^\s*# otlp:/m);
  });
});

interface ComposeService {
  image?: string;
  build?: unknown;
  restart?: string;
  healthcheck?: unknown;
  mem_limit?: string;
  volumes?: (string | { source?: string; type?: string })[];
}
const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
const compose = parse(composeText) as { services: Record<string, ComposeService> };

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
    expect(Object.keys(compose.services).sort()).toEqual(['alertmanager', 'app', 'grafana', 'otel-collector', 'prometheus']);
    expect(compose.services['otel-collector']!.image).toMatch(/^otel\/opentelemetry-collector-contrib:/);
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.build) continue;
      // A version tag (x.y.z) or a digest; never latest, never a bare major.
      expect(s.image, name).toMatch(/(:v?\d+\.\d+\.\d+([-.][\w.-]+)?|@sha256:[0-9a-f]{64})$/);
    }
    for (const line of readFileSync(join(root, 'Dockerfile'), 'utf8').split('\n').filter((l) => /^FROM /i.test(l))) {
      expect(line).toMatch(/^FROM \S+:\d+\.\d+\.\d+\S*( AS \w+)?$/i);
    }
  });

  it('gives the app a memory limit, a restart policy, the oomguard preload and a health check', () => {
    const app = compose.services.app!;
    expect(app.build).toBeDefined();
    expect(app.mem_limit).toMatch(/^\d+m$/);
    expect(app.restart).toMatch(/^(always|unless-stopped|on-failure)/);
    expect(app.healthcheck).toBeDefined();
    expect(readFileSync(join(root, 'Dockerfile'), 'utf8')).toMatch(/CMD \["node", "--require", "oomguard\/register", "demo\/app\.mjs"\]/);
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
