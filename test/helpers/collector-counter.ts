import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'yaml';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver';

/**
 * What the collector of otel-collector/config.yaml does with the agent's log records, for the
 * live alert test (there is no collector binary here): an OTLP/HTTP receiver, the `count`
 * connector's log metrics as the config defines them (name, conditions, attributes with default
 * values), and the `prometheus` exporter's view of them on `/metrics` (job = the resource's
 * service.name, attribute keys with dots as underscores, `_total` only with a suffixing
 * translation strategy). Conditions are evaluated for the OTTL forms the config uses,
 * `attributes["key"] == "value"` and `attributes["key"] == nil`, joined by `and`; any other form
 * throws, so the config cannot drift away from what this test proves.
 */
export interface CountingCollector {
  /** OTLP endpoint for the agent (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  otlpUrl: string;
  /** `host:port` of the Prometheus exposition, to scrape. */
  target: string;
  otlp: OtlpReceiver;
  close(): Promise<void>;
}

interface LogMetric {
  name: string;
  /** OR of the conditions; each is an AND of terms (`value` null: the attribute is absent). */
  conditions: { key: string; value: string | null }[][];
  attributes: { key: string; default?: string }[];
}

function logMetrics(configYaml: string): { metrics: LogMetric[]; suffixes: boolean } {
  const cfg = parse(configYaml) as {
    connectors?: Record<string, { logs?: Record<string, { conditions?: string[]; attributes?: { key: string; default_value?: string }[] }> }>;
    exporters?: Record<string, { translation_strategy?: string }>;
  };
  const metrics: LogMetric[] = [];
  for (const [id, connector] of Object.entries(cfg.connectors ?? {})) {
    if (id.split('/')[0] !== 'count') continue;
    for (const [name, info] of Object.entries(connector.logs ?? {})) {
      const conditions = (info.conditions ?? []).map((c) =>
        c.split(/\s+and\s+/).map((term) => {
          const m = /^attributes\["([^"]+)"\] == (?:"([^"]*)"|(nil))$/.exec(term.trim());
          if (!m) throw new Error(`count connector ${id}, metric ${name}: condition ${JSON.stringify(c)} is not of the form attributes["key"] == "value" [and ...]`);
          return { key: m[1]!, value: m[3] ? null : m[2]! };
        }),
      );
      metrics.push({ name, conditions, attributes: (info.attributes ?? []).map((a) => ({ key: a.key, default: a.default_value })) });
    }
  }
  if (metrics.length === 0) throw new Error('no count connector log metrics in the collector config');
  const strategy = cfg.exporters?.prometheus?.translation_strategy ?? 'UnderscoreEscapingWithSuffixes';
  return { metrics, suffixes: !/WithoutSuffixes|NoTranslation/.test(strategy) };
}

export async function startCountingCollector(configYaml: string): Promise<CountingCollector> {
  const { metrics, suffixes } = logMetrics(configYaml);
  const otlp = await startOtlpReceiver();
  const exposition = (): string => {
    const lines: string[] = [];
    for (const m of metrics) {
      const prom = m.name.replace(/[^a-zA-Z0-9_]/g, '_') + (suffixes ? '_total' : '');
      const counts = new Map<string, number>();
      for (const log of otlp.logs) {
        // The count connector: OR of the conditions; a record missing an attribute without a default is not counted.
        const holds = (t: { key: string; value: string | null }) => (t.value === null ? log.attributes[t.key] === undefined : String(log.attributes[t.key]) === t.value);
        if (m.conditions.length > 0 && !m.conditions.some((c) => c.every(holds))) continue;
        const labels = [`job="${String(log.service)}"`];
        let complete = true;
        for (const a of m.attributes) {
          const v = log.attributes[a.key] ?? a.default;
          if (v === undefined) complete = false;
          else labels.push(`${a.key.replace(/[^a-zA-Z0-9_]/g, '_')}="${String(v)}"`);
        }
        if (!complete) continue;
        const key = `{${labels.join(',')}}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      if (counts.size > 0) lines.push(`# TYPE ${prom} counter`);
      for (const [labels, n] of counts) lines.push(`${prom}${labels} ${n}`);
    }
    return `${lines.join('\n')}\n`;
  };
  const server: Server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(exposition());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    otlpUrl: otlp.url,
    target: `127.0.0.1:${port}`,
    otlp,
    close: async () => {
      server.close();
      await otlp.close();
    },
  };
}
