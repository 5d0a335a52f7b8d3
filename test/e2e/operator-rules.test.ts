import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renameTestSeries, root, run, scaleRuleDurations, SUFFIXED_NAMES, tool } from '../helpers/prometheus';

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

  it('promtool test rules passes every firing case and near miss in prometheus/alerts.test.yml (suffix-free names)', async () => {
    const r = await run(promtool!, ['test', 'rules', 'prometheus/alerts.test.yml']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });

  it('the same cases pass with every series renamed to the suffixed names (_bytes, _ratio, _seconds, _total)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oomguard-suffixed-'));
    try {
      const original = readFileSync(join(root, 'prometheus', 'alerts.test.yml'), 'utf8');
      const suffixed = renameTestSeries(original, SUFFIXED_NAMES);
      // Every agent metric the tests feed was renamed: no suffix-free agent name is left.
      for (const name of Object.keys(SUFFIXED_NAMES)) expect(suffixed, name).not.toMatch(new RegExp(`series: '${name}\\{`));
      writeFileSync(join(dir, 'alerts.test.yml'), suffixed);
      writeFileSync(join(dir, 'alerts.yml'), readFileSync(rulesPath, 'utf8'));
      const r = await run(promtool!, ['test', 'rules', join(dir, 'alerts.test.yml')]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('SUCCESS');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the rules fail the suffixed cases without their name normalisation (the second run tests something)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oomguard-suffixed-'));
    try {
      const original = readFileSync(join(root, 'prometheus', 'alerts.test.yml'), 'utf8');
      writeFileSync(join(dir, 'alerts.test.yml'), renameTestSeries(original, SUFFIXED_NAMES));
      // The recording rules read only the suffix-free name: what the rules were before.
      const naive = readFileSync(rulesPath, 'utf8').replace(/^(\s*expr: )(\w+) or \w+$/gm, '$1$2');
      writeFileSync(join(dir, 'alerts.yml'), naive);
      const r = await run(promtool!, ['test', 'rules', join(dir, 'alerts.test.yml')]);
      expect(r.code).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prometheus/render.mjs is in sync: alerts.yml renders to itself and the PrometheusRule carries the same groups', async () => {
    const { renderRules, prometheusRule } = (await import(join(root, 'prometheus', 'render.mjs'))) as {
      renderRules: (text: string, opts?: { runbookBase?: string; ksmSelector?: string }) => string;
      prometheusRule: (text: string) => string;
    };
    const text = readFileSync(rulesPath, 'utf8');
    expect(renderRules(text)).toBe(text);
    const manifestText = readFileSync(join(root, 'prometheus', 'oomguard-prometheusrule.yaml'), 'utf8');
    expect(manifestText).toBe(prometheusRule(text));
    const manifest = parse(manifestText) as { apiVersion: string; kind: string; spec: { groups: unknown } };
    expect(manifest).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule' });
    expect(manifest.spec.groups).toEqual((parse(text) as { groups: unknown }).groups);
  });

  it('render.mjs sets a custom runbook base and kube-state-metrics selector everywhere, and the result is valid', async () => {
    const { renderRules } = (await import(join(root, 'prometheus', 'render.mjs'))) as {
      renderRules: (text: string, opts?: { runbookBase?: string; ksmSelector?: string }) => string;
    };
    const out = renderRules(readFileSync(rulesPath, 'utf8'), { runbookBase: 'https://wiki.example.com/sre/oomguard/', ksmSelector: 'job="ksm", container=~"api|worker"' });
    const custom = (parse(out) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules).filter((r) => r.alert);
    for (const r of custom) expect(r.annotations?.runbook_url, r.alert).toBe(`https://wiki.example.com/sre/oomguard#${r.alert!.toLowerCase()}`);
    expect(out).not.toContain('{job="kube-state-metrics"');
    expect(out).toContain('kube_pod_container_status_restarts_total{job="ksm", container=~"api|worker"}');
    expect(() => renderRules(out, { runbookBase: 'docs/operators.md' })).toThrow(/--runbook-base: "docs\/operators.md" is not an absolute http\(s\) URL/);
    expect(() => renderRules(out, { ksmSelector: 'kube-state-metrics' })).toThrow(/--ksm-selector: "kube-state-metrics" is not a list of PromQL label matchers/);
    const dir = mkdtempSync(join(tmpdir(), 'oomguard-render-'));
    try {
      writeFileSync(join(dir, 'alerts.yml'), out);
      const r = await run(promtool!, ['check', 'rules', join(dir, 'alerts.yml')]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the live test’s shortened copy of the rules is still valid', async () => {
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
  it.each([...new Set(alertNames)])('%s has summary, description, severity and an absolute runbook URL to its section in docs/operators.md', (name) => {
    for (const rule of rules.filter((r) => r.alert === name)) {
      expect(rule.labels?.severity).toMatch(/^(info|warning|critical)$/);
      expect(rule.annotations?.summary?.length).toBeGreaterThan(20);
      expect(rule.annotations?.description?.length).toBeGreaterThan(60);
      // Absolute: Alertmanager, Slack and PagerDuty show it out of any repository context.
      expect(rule.annotations?.runbook_url).toBe(`https://github.com/oomguard/oomguard/blob/main/docs/operators.md#${name.toLowerCase()}`);
    }
    const docs = readFileSync(join(root, 'docs', 'operators.md'), 'utf8');
    // GitHub's anchor for a heading "### OomguardFoo" is "#oomguardfoo".
    expect(docs).toMatch(new RegExp(`^#{2,4} ${name}\\s*$`, 'm'));
  });

  it.each([...new Set(alertNames)])('%s has a promtool case where it fires and one where it stays silent', (name) => {
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

  it('severities and for: follow kubernetes-mixin: no page on its own, state alerts wait, event alerts use a window instead', () => {
    const alerts = rules.filter((r) => r.alert);
    for (const r of alerts) expect(r.labels?.severity, r.alert).toBe('warning');
    // An alert on a state (no window in the expression) waits at least 5 minutes.
    for (const r of alerts.filter((x) => !/\[\d+[mh]\]/.test(x.expr))) expect(Number(r.for?.replace('m', '') ?? 0), r.alert).toBeGreaterThanOrEqual(5);
    expect(rules.find((r) => r.alert === 'OomguardTargetDown')?.for).toBe('10m');
    // No alert on oomguard_state == 2 alone: a 15 s scrape rarely sees the seconds it lasts.
    for (const r of alerts) if (/oomguard:state\S*\)? == 2/.test(r.expr)) expect(r.expr, r.alert).toMatch(/shutdowns/);
  });

  it('every alert reads names through the normalising recording rules, never one name set alone', () => {
    const recorded = new Map(rules.filter((r) => r.record).map((r) => [r.record!, r.expr]));
    for (const [record, expr] of recorded) {
      const m = /^(\w+) or (\w+)$/.exec(expr.trim());
      expect(m, record).not.toBeNull();
      expect(SUFFIXED_NAMES[m![1]!], record).toBe(m![2]);
    }
    for (const r of rules.filter((x) => x.alert)) {
      for (const name of Object.keys(SUFFIXED_NAMES)) {
        const bare = new RegExp(`(^|[^\\w:|"])${name}(?![\\w|])`);
        expect(bare.test(r.expr), `${r.alert} reads ${name} directly`).toBe(false);
      }
    }
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
    ['x unless x offset 15m', 'x unless x offset 15s'],
  ])('%s becomes %s at 1/60', (input, output) => {
    expect(scaleRuleDurations(input, 60)).toBe(output);
  });
});
