/**
 * The options outside the unit tests: zod stays off the preload's path (a real child process,
 * its require cache inspected after the preload ran), and `oomguard schema` / `doctor --json`
 * print the options' JSON Schema.
 */
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChild, tempDir, why } from '../helpers/child';
import { dist, ROOT } from '../helpers/dist';

const tmp = tempDir();
afterAll(() => tmp.remove());

/** Printed by a child after its work: whether any file of the zod package was loaded. */
const ZOD_LOADED = "console.log(JSON.stringify({ zod: Object.keys(require.cache).some((f) => /[\\\\/]node_modules[\\\\/]zod[\\\\/]/.test(f)) }))";

/** Settings of every kind, so that every parser and rule of the environment path runs. */
const ENV = {
  OOMGUARD_HEAP_THRESHOLD: '1GiB',
  OOMGUARD_RSS_WARN: '70%',
  OOMGUARD_POLL_INTERVAL: '250ms',
  OOMGUARD_EXIT_CODE: '3',
  OOMGUARD_ACTION: 'exit',
  OOMGUARD_METRICS: 'none',
  OOMGUARD_HEAP_TRESHOLD: '1GiB', // a typo: the did-you-mean path runs too
  OOMGUARD_METRICS_PORT: '99999', // refused with a warning
};

async function zodLoaded(args: string[]): Promise<boolean> {
  const r = await runChild({ args, env: ENV, timeoutMs: 20_000 });
  expect(r.code, why(r)).toBe(0);
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { zod: boolean }).zod;
}

describe('zod stays off the start-up path', () => {
  it('--require oomguard/register configures the guard without loading zod', async () => {
    expect(await zodLoaded(['--require', dist('register.js'), '-e', `if (!require(${JSON.stringify(dist('index.js'))}).status()) throw new Error('guard not running'); ${ZOD_LOADED}`])).toBe(false);
  });

  it('--import oomguard/register configures the guard without loading zod', async () => {
    expect(await zodLoaded(['--import', dist('register.mjs'), '-e', ZOD_LOADED])).toBe(false);
  });

  it('loadConfig(process.env) reads every kind of setting without loading zod', async () => {
    const load = `const r = require(${JSON.stringify(dist('config.js'))}).loadConfig(process.env); if (!r.ok || r.warnings.length !== 2) throw new Error(JSON.stringify(r));`;
    expect(await zodLoaded(['-e', `${load} ${ZOD_LOADED}`])).toBe(false);
  });

  it('loadConfig with start() options does load zod (so the checks above can see it)', async () => {
    const load = `require(${JSON.stringify(dist('config.js'))}).loadConfig(process.env, { pollInterval: '1s' });`;
    expect(await zodLoaded(['-e', `${load} ${ZOD_LOADED}`])).toBe(true);
  });
});

describe('start() options where zod cannot be loaded', () => {
  // Options of every verdict: accepted, refused by a parser, by a rule, by type, NaN.
  const CASES = [{ heapThreshold: '1GiB', pollInterval: 250 }, { pollInterval: '5ms' }, { enabled: 1 }, { heapThreshold: Number.NaN }, { action: 'kill' }, { otlp: 'yes' }];
  const script = (pkg: string) =>
    `const { loadConfig } = require(${JSON.stringify(join(pkg, 'dist', 'config.js'))});` +
    `let zod = true; try { require.resolve('zod', { paths: [${JSON.stringify(pkg)}] }) } catch { zod = false }` +
    `console.log(JSON.stringify({ zod, results: ${JSON.stringify(CASES)}.map((o) => loadConfig({}, o)) }))`;

  it('a copy of the package without its dependencies checks start() options with the same parsers and words', async () => {
    const copy = join(tmp.dir, 'bare', 'node_modules', 'oomguard');
    mkdirSync(copy, { recursive: true });
    cpSync(join(ROOT, 'dist'), join(copy, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(copy, 'package.json'));
    const bare = await runChild({ args: ['-e', script(copy)], timeoutMs: 20_000 });
    const full = await runChild({ args: ['-e', script(ROOT)], timeoutMs: 20_000 });
    expect(bare.code, why(bare)).toBe(0);
    expect(full.code, why(full)).toBe(0);
    const withoutZod = JSON.parse(bare.stdout) as { zod: boolean; results: unknown[] };
    const withZod = JSON.parse(full.stdout) as { zod: boolean; results: unknown[] };
    expect([withoutZod.zod, withZod.zod]).toEqual([false, true]);
    expect(withoutZod.results).toEqual(withZod.results);
    expect(withZod.results.map((r) => (r as { ok: boolean }).ok)).toEqual([true, false, false, false, false, true]);
  });
});

describe('the JSON Schema of the options', () => {
  it('oomguard schema prints it, and doctor --json carries the same as optionsSchema', async () => {
    const schema = await runChild({ args: [dist('cli.js'), 'schema'], timeoutMs: 20_000 });
    expect(schema.code, why(schema)).toBe(0);
    const printed = JSON.parse(schema.stdout) as { $schema: string; properties: Record<string, unknown>; additionalProperties: boolean };
    expect(printed.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(Object.keys(printed.properties)).toContain('heapThreshold');
    expect(printed.additionalProperties).toBe(false);
    const doctor = await runChild({ args: [dist('cli.js'), 'doctor', '--json'], timeoutMs: 20_000 });
    expect(doctor.code, why(doctor)).toBe(0);
    expect((JSON.parse(doctor.stdout) as { optionsSchema: unknown }).optionsSchema).toEqual(printed);
  });
});
