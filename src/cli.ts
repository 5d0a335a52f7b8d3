#!/usr/bin/env node
/**
 * `oomguard doctor`: what the guard would run with here, and why.
 *
 * It resolves the configuration from this environment exactly as the preload does, and shows
 * the limits the guard would see from THIS process. Run it the way the service runs (same
 * container, same NODE_OPTIONS with the same --max-old-space-size), or pass the node flags after
 * `--` to have them applied: `oomguard doctor -- --max-old-space-size=512`.
 */
import { spawnSync } from 'node:child_process';
import * as v8 from 'node:v8';
import { loadConfig, formatIssue } from './config';
import { processHeapBudget } from './heap';
import { openCgroup } from './cgroup';
import { readMemoryLimit } from './sampler';
import { resolveThresholds } from './policy';
import { formatBytes } from './units';
import type { Config, Reading, ThresholdSpec } from './types';

const USAGE = `usage: oomguard doctor [--json] [-- <node flags>]
       oomguard --version

doctor   print the resolved configuration, the detected heap budget and memory limit with where
         each came from, and warnings (e.g. a V8 heap that cannot fit in the memory limit).
         Node flags after -- (e.g. --max-old-space-size=512) are applied as the service would.`;

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
  warnings: string[];
}

export function doctor(): DoctorReport {
  const warnings: string[] = [];
  const result = loadConfig(process.env);
  const heap = v8.getHeapStatistics();
  const budget = processHeapBudget();
  const cgroup = openCgroup();
  const constrained = typeof process.constrainedMemory === 'function' ? () => process.constrainedMemory() : undefined;
  const limit = readMemoryLimit(cgroup, constrained);
  const report: DoctorReport = {
    ok: result.ok,
    node: process.version,
    v8: process.versions.v8,
    issues: result.ok ? [] : result.issues.map(formatIssue),
    heap: { limit: heap.heap_size_limit, budget: budget.bytes, budgetSource: budget.source },
    memoryLimit: limit,
    cgroup: cgroup ? { version: cgroup.version, dir: cgroup.dir } : undefined,
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

function spec(s: ThresholdSpec): string {
  return s.kind === 'off' ? 'off' : s.kind === 'percent' ? `${s.percent}%` : formatBytes(s.bytes);
}

function opt(n: number | undefined): string {
  return n === undefined ? '-' : formatBytes(n);
}

export function formatReport(r: DoctorReport): string {
  const lines: string[] = [];
  lines.push(`oomguard doctor  (node ${r.node}, V8 ${r.v8}, pid ${process.pid})`, '');
  if (r.issues.length) {
    lines.push('configuration: INVALID (the preload would leave the guard off)');
    for (const i of r.issues) lines.push(`  ${i}`);
  }
  if (r.config && r.thresholds) {
    const c = r.config;
    const src = (...names: string[]): string => {
      const got = names.map((n) => r.sources?.[n]).filter((x): x is string => x !== undefined);
      return got.length ? `   [${[...new Set(got)].join('/')}]` : '';
    };
    lines.push('configuration  [where each came from]:');
    lines.push(`  enabled            ${c.enabled}${src('enabled')}`);
    lines.push(`  heap threshold     ${spec(c.heapThreshold)} -> ${opt(r.thresholds.heap.shutdown)}   (warn ${spec(c.heapWarn)} -> ${opt(r.thresholds.heap.warn)})${src('heapThreshold', 'heapWarn')}`);
    lines.push(`  rss threshold      ${spec(c.rssThreshold)} -> ${opt(r.thresholds.rss.shutdown)}   (warn ${spec(c.rssWarn)} -> ${opt(r.thresholds.rss.warn)})${src('rssThreshold', 'rssWarn')}`);
    lines.push(`  poll interval      ${c.pollIntervalMs} ms${src('pollInterval')}`);
    lines.push(`  shutdown timeout   ${c.shutdownTimeoutMs} ms${src('shutdownTimeout')}`);
    lines.push(`  exit code          ${c.exitCode}${src('exitCode')}`);
    lines.push(`  action             ${c.action}${src('action')}`);
    lines.push(`  metrics            ${c.sdkDisabled ? 'off (OTEL_SDK_DISABLED)' : c.metrics.enabled ? `http://${c.metrics.host ?? '0.0.0.0'}:${c.metrics.port}/metrics` : 'off'}`);
    lines.push(`  otlp               ${c.otlp ? 'on' : 'off'}`);
  }
  lines.push('', 'limits:');
  lines.push(`  heap limit         ${formatBytes(r.heap.limit)}   (V8 heap_size_limit)`);
  lines.push(`  heap budget        ${formatBytes(r.heap.budget)}   (${r.heap.budgetSource})`);
  lines.push(
    r.memoryLimit.bytes === undefined
      ? '  memory limit       none   (no cgroup memory limit, and process.constrainedMemory() reports none)'
      : `  memory limit       ${formatBytes(r.memoryLimit.bytes)}   (${r.memoryLimit.source}${r.memoryLimit.from ? `: ${r.memoryLimit.from}` : ''})`,
  );
  lines.push(`  cgroup             ${r.cgroup ? `v${r.cgroup.version} ${r.cgroup.dir}` : 'none found'}`);
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
  if (args.includes('--version') || args.includes('-v')) {
    console.log(require('../package.json').version);
    return 0;
  }
  if (args[0] !== 'doctor' || args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return args[0] === undefined || args.includes('--help') || args.includes('-h') ? 0 : 64;
  }
  if (nodeFlags.length) {
    // Re-run under the service's node flags: V8 fixes its heap size at start-up.
    const r = spawnSync(process.execPath, [...nodeFlags, __filename, ...args], { stdio: 'inherit' });
    return r.status ?? 1;
  }
  const report = doctor();
  console.log(args.includes('--json') ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.ok ? 0 : 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
