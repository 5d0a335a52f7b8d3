#!/usr/bin/env node
/**
 * `oomguard doctor`: what the guard would run with here, and why. `oomguard schema`: the JSON
 * Schema of the `start()` options, for editors and CI checks of a deployment's settings.
 *
 * doctor resolves the configuration from this environment exactly as the preload does, and shows
 * the limits the guard would see from THIS process. Run it the way the service runs (same
 * container, same NODE_OPTIONS with the same --max-old-space-size), or pass the node flags after
 * `--` to have them applied: `oomguard doctor -- --max-old-space-size=512`.
 */
import { spawnSync } from 'node:child_process';
import * as v8 from 'node:v8';
import { loadConfig, formatIssue, DEFAULTS } from './config';
import { processHeapBudget } from './heap';
import { openCgroup } from './cgroup';
import { readMemoryLimit } from './sampler';
import { resolveThresholds } from './policy';
import { formatBytes } from './units';
import { FORMS, OPTIONS, type OptionSpec } from './options';
import { optionsJsonSchema } from './schema';
import { loadNative, type NativeStatus } from './native';
import { redactUrl } from './redact';
import type { Config, Reading } from './types';

const USAGE = `usage: oomguard doctor [--json] [-- <node flags>]
       oomguard schema
       oomguard --version

doctor   print the resolved configuration, the detected heap budget and memory limit with where
         each came from, and warnings (e.g. a V8 heap that cannot fit in the memory limit).
         Node flags after -- (e.g. --max-old-space-size=512) are applied as the service would.
         --json: the same as JSON, with the options' JSON Schema under "optionsSchema".
schema   print the JSON Schema (draft 2020-12) of the start() options.`;

export interface DoctorReport {
  ok: boolean;
  node: string;
  v8: string;
  config?: Config;
  /** Where each setting came from: `env`, `option`, `default` or `derived` (a warn level that follows its threshold). */
  sources?: Record<string, string>;
  issues: string[];
  heap: { limit: number; budget: number; budgetSource: string };
  memoryLimit: { bytes: number | undefined; source: string; from?: string };
  cgroup: { version: 1 | 2; dir: string } | undefined;
  thresholds?: ReturnType<typeof resolveThresholds>;
  /** Whether the native part (V8's near-heap-limit and major-GC callbacks) would be active here, and why (not). */
  native: NativeStatus & { reserveBytes: number };
  /** The OTLP endpoint variables that are set, each shown without user information, query or headers. */
  otlpEndpoints: Record<string, string>;
  warnings: string[];
}

/** The OTLP endpoint variables doctor shows (redacted: they often carry credentials). */
const OTLP_ENDPOINT_VARIABLES = ['OTEL_EXPORTER_OTLP_ENDPOINT', ...(OPTIONS.find((o) => o.option === 'otlp')?.alsoVariables ?? [])];

function otlpEndpoints(env: NodeJS.ProcessEnv): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const variable of OTLP_ENDPOINT_VARIABLES) {
    const value = env[variable];
    if (value !== undefined && value.trim() !== '') shown[variable] = redactUrl(value);
  }
  return shown;
}

export function doctor(): DoctorReport {
  const warnings: string[] = [];
  const result = loadConfig(process.env);
  const heap = v8.getHeapStatistics();
  const budget = processHeapBudget();
  const cgroup = openCgroup();
  const constrained = typeof process.constrainedMemory === 'function' ? () => process.constrainedMemory() : undefined;
  const limit = readMemoryLimit(cgroup, constrained);
  const settings = result.ok ? result.config : DEFAULTS;
  const { binding: _binding, ...native } = loadNative(settings.native);
  const report: DoctorReport = {
    ok: result.ok,
    node: process.version,
    v8: process.versions.v8,
    issues: result.ok ? [] : result.issues.map(formatIssue),
    heap: { limit: heap.heap_size_limit, budget: budget.bytes, budgetSource: budget.source },
    memoryLimit: limit,
    cgroup: cgroup ? { version: cgroup.version, dir: cgroup.dir } : undefined,
    native: { ...native, reserveBytes: settings.nativeReserveBytes },
    otlpEndpoints: otlpEndpoints(process.env),
    warnings,
  };
  cgroup?.close?.();
  for (const w of result.warnings) warnings.push(formatIssue(w).replace(/^oomguard: (warning: )?/, ''));
  if (result.ok) {
    report.config = result.config;
    report.sources = { ...result.sources };
    const probe = { heapBudget: budget.bytes, memoryLimit: limit.bytes } as Reading;
    report.thresholds = resolveThresholds(probe, result.config);
    if (!result.config.enabled) warnings.push('OOMGUARD_ENABLED=false: the preload does nothing at all');
    if (limit.bytes === undefined && result.config.rssThreshold.kind === 'percent') {
      warnings.push('no memory limit detected: the RSS thresholds are percents of a limit, so they are off');
    }
  }
  if (limit.bytes !== undefined && heap.heap_size_limit > limit.bytes) {
    warnings.push(
      `the V8 heap limit (${formatBytes(heap.heap_size_limit)}) does not fit in the memory limit (${formatBytes(limit.bytes)}): ` +
        'the kernel would kill the process before V8 runs out of heap; lower --max-old-space-size ' +
        `(e.g. to ${Math.floor((limit.bytes * 0.75) / 1048576)}) or raise the limit`,
    );
  }
  return report;
}

const LABEL_WIDTH = 19;

/** `heapThreshold` -> `heap threshold`. */
function label(option: string): string {
  return option.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`).padEnd(LABEL_WIDTH);
}

/** One option as configured, and in bytes where it is a threshold: `75% -> 1.5GiB`. */
function resolvedValue(spec: OptionSpec, r: DoctorReport & { config: Config; thresholds: NonNullable<DoctorReport['thresholds']> }): string {
  const shown = FORMS[spec.form].show(spec.resolved(r.config) as never);
  const threshold = /^(heap|rss)(Threshold|Warn)$/.exec(spec.option);
  if (!threshold) return shown;
  const bytes = r.thresholds[threshold[1] as 'heap' | 'rss'][threshold[2] === 'Warn' ? 'warn' : 'shutdown'];
  return `${shown} -> ${bytes === undefined ? '-' : formatBytes(bytes)}`;
}

function configLines(r: DoctorReport): string[] {
  if (!r.config || !r.thresholds) return [];
  const resolved = { ...r, config: r.config, thresholds: r.thresholds };
  const c = r.config;
  const endpoint = c.sdkDisabled
    ? 'off (OTEL_SDK_DISABLED)'
    : c.metrics.enabled
      ? `http://${c.metrics.host ?? '0.0.0.0'}:${c.metrics.port}/metrics${c.metrics.host === undefined ? ' (all interfaces; OOMGUARD_METRICS_HOST=127.0.0.1 keeps it local)' : ''}`
      : c.metrics.mode === 'global'
        ? "none: the gauges go on the app's global MeterProvider"
        : 'off';
  return [
    'configuration  [where each came from]:',
    ...OPTIONS.map((spec) => `  ${label(spec.option)}${resolvedValue(spec, resolved)}   [${r.sources?.[spec.option] ?? 'default'}]`),
    `  ${label('metricsEndpoint')}${endpoint}`,
    ...Object.entries(r.otlpEndpoints).map(([variable, url]) => `  ${label('otlpEndpoint')}${url}   [${variable}]`),
  ];
}

export function formatReport(r: DoctorReport): string {
  const lines: string[] = [];
  lines.push(`oomguard doctor  (node ${r.node}, V8 ${r.v8}, pid ${process.pid})`, '');
  if (r.issues.length) {
    lines.push('configuration: INVALID (the preload would leave the guard off)');
    for (const i of r.issues) lines.push(`  ${i}`);
  }
  lines.push(...configLines(r));
  lines.push('', 'limits:');
  lines.push(`  heap limit         ${formatBytes(r.heap.limit)}   (V8 heap_size_limit)`);
  lines.push(`  heap budget        ${formatBytes(r.heap.budget)}   (${r.heap.budgetSource})`);
  lines.push(
    r.memoryLimit.bytes === undefined
      ? '  memory limit       none   (no cgroup memory limit, and process.constrainedMemory() reports none)'
      : `  memory limit       ${formatBytes(r.memoryLimit.bytes)}   (${r.memoryLimit.source}${r.memoryLimit.from ? `: ${r.memoryLimit.from}` : ''})`,
  );
  lines.push(`  cgroup             ${r.cgroup ? `v${r.cgroup.version} ${r.cgroup.dir}` : 'none found'}`);
  lines.push(
    r.native.active
      ? `  native part        active, reserve ${formatBytes(r.native.reserveBytes)}   (${r.native.reason})`
      : `  native part        not active: JavaScript mode   (${r.native.reason})`,
  );
  if (r.warnings.length) {
    lines.push('', 'warnings:');
    for (const w of r.warnings) lines.push(`  ! ${w}`);
  }
  return lines.join('\n');
}

function main(argv: string[]): number {
  const dashdash = argv.indexOf('--');
  const args = dashdash === -1 ? argv : argv.slice(0, dashdash);
  const nodeFlags = dashdash === -1 ? [] : argv.slice(dashdash + 1);
  const help = args.includes('--help') || args.includes('-h');
  if (args.includes('--version') || args.includes('-v')) {
    console.log(require('../package.json').version);
    return 0;
  }
  if (args[0] === 'schema' && !help) {
    try {
      console.log(JSON.stringify(optionsJsonSchema(), null, 2));
      return 0;
    } catch (err) {
      console.error(`oomguard: ${err instanceof Error ? err.message : String(err)}`);
      return 1;
    }
  }
  if (args[0] !== 'doctor' || help) {
    console.log(USAGE);
    return args[0] === undefined || help ? 0 : 64;
  }
  if (nodeFlags.length) {
    // Re-run under the service's node flags: V8 fixes its heap size at start-up.
    const r = spawnSync(process.execPath, [...nodeFlags, __filename, ...args], { stdio: 'inherit' });
    return r.status ?? 1;
  }
  const report = doctor();
  if (!args.includes('--json')) {
    console.log(formatReport(report));
    return report.ok ? 0 : 1;
  }
  let optionsSchema: unknown;
  try {
    optionsSchema = optionsJsonSchema();
  } catch (err) {
    report.warnings.push(`no optionsSchema: ${err instanceof Error ? err.message : String(err)}`);
  }
  console.log(JSON.stringify({ ...report, optionsSchema }, null, 2));
  return report.ok ? 0 : 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
