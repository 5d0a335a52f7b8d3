import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { root, run, scaleRuleDurations, tool } from '../helpers/prometheus';

// promtool comes with Debian's `prometheus` package; under CI a missing binary fails the suite.
const promtool = tool('promtool');
const rulesPath = join(root, 'prometheus', 'alerts.yml');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules: Rule[] = (parse(readFileSync(rulesPath, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const alertNames = rules.flatMap((r) => (r.alert ? [r.alert] : []));

describe.skipIf(!promtool)('prometheus configuration and rules (promtool)', () => {
  it('promtool check config accepts prometheus/prometheus.yml and the rule file it names', async () => {
    const r = await run(promtool!, ['check', 'config', 'prometheus/prometheus.yml']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS: 1 rule files found');
  });

  it('promtool check rules accepts prometheus/alerts.yml', async () => {
    const r = await run(promtool!, ['check', 'rules', 'prometheus/alerts.yml']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('promtool test rules passes every firing case and near miss in prometheus/alerts.test.yml', async () => {
    const r = await run(promtool!, ['test', 'rules', 'prometheus/alerts.test.yml']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });

  it('the live test’s shortened copy of the rules is still valid', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'oomguard-rules-'));
    try {
      writeFileSync(join(dir, 'alerts.yml'), scaleRuleDurations(readFileSync(rulesPath, 'utf8'), 60));
      const r = await run(promtool!, ['check', 'rules', join(dir, 'alerts.yml')]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('alert rules explain themselves', () => {
  it.each(alertNames)('%s has summary, description, severity and a runbook section in docs/operators.md', (name) => {
    const rule = rules.find((r) => r.alert === name)!;
    expect(rule.labels?.severity).toMatch(/^(warning|critical)$/);
    expect(rule.annotations?.summary?.length).toBeGreaterThan(20);
    expect(rule.annotations?.description?.length).toBeGreaterThan(60);
    const anchor = name.toLowerCase();
    expect(rule.annotations?.runbook_url).toBe(`docs/operators.md#${anchor}`);
    const docs = readFileSync(join(root, 'docs', 'operators.md'), 'utf8');
    // GitHub's anchor for a heading "### OomguardFoo" is "#oomguardfoo".
    expect(docs).toMatch(new RegExp(`^#{2,4} ${name}\\s*$`, 'm'));
  });

  it.each(alertNames)('%s has a promtool case where it fires and one where it stays silent', (name) => {
    interface AlertTest {
      alertname: string;
      exp_alerts?: unknown[] | null;
    }
    const tests = (parse(readFileSync(join(root, 'prometheus', 'alerts.test.yml'), 'utf8')) as {
      tests: { input_series: { series: string }[]; alert_rule_test?: AlertTest[] }[];
    }).tests;
    const mine = tests.filter((t) => t.alert_rule_test?.some((a) => a.alertname === name));
    const checks = mine.flatMap((t) => t.alert_rule_test!.filter((a) => a.alertname === name));
    expect(checks.some((a) => (a.exp_alerts?.length ?? 0) > 0), 'a firing case').toBe(true);
    // A near miss: an evaluation expecting nothing, or input instances that never appear in
    // the expected alerts.
    const expected = JSON.stringify(checks.map((a) => a.exp_alerts));
    const instances = new Set(mine.flatMap((t) => t.input_series.map((s) => /instance="([^"]+)"/.exec(s.series)?.[1] ?? '')));
    const silent = [...instances].filter((i) => i && !expected.includes(i));
    expect(checks.some((a) => (a.exp_alerts?.length ?? 0) === 0) || silent.length > 0, 'a near miss').toBe(true);
  });

  it('production durations are minutes, not the live test’s seconds', () => {
    for (const r of rules.filter((x) => x.for)) expect(r.for, r.alert).toMatch(/^\d+m$/);
  });
});

describe('scaleRuleDurations', () => {
  it.each([
    ['        for: 5m', '        for: 5s'],
    ['        for: 15m', '        for: 15s'],
    ['rate(x[5m])', 'rate(x[5s])'],
    ['resets(x[1h])', 'resets(x[60s])'],
    ['last_over_time(x[6h])', 'last_over_time(x[360s])'],
    ['predict_linear(oomguard_heap_signal[30m], 3600))', 'predict_linear(oomguard_heap_signal[30s], 60))'],
    ['deriv(x[90s])', 'deriv(x[1500ms])'],
  ])('%s becomes %s at 1/60', (input, output) => {
    expect(scaleRuleDurations(input, 60)).toBe(output);
  });
});
