import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TABLE_END, TABLE_START, renderOptionsTable, replaceOptionsTable, type OptionsDoc } from '../../src/options-doc';
import { OPTIONS } from '../../src/options';

const ROOT = join(__dirname, '..', '..');

describe('the options tables of the docs', () => {
  it.each<OptionsDoc>(['README.md', 'docs/configuration.md'])('%s has the table rendered from src/options.ts (else run `npm run docs`)', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const start = text.indexOf(TABLE_START);
    const end = text.indexOf(TABLE_END);
    expect(start, `${file} has no ${TABLE_START}`).toBeGreaterThan(-1);
    expect(text.slice(start + TABLE_START.length, end).trim()).toBe(renderOptionsTable(file));
  });

  it('renders one row per option, naming its variables and its default from DEFAULTS', () => {
    const lines = renderOptionsTable('README.md').split('\n');
    expect(lines).toHaveLength(OPTIONS.length + 2);
    expect(lines[2]).toBe(
      '| `enabled` | `OOMGUARD_ENABLED` | `true` | [boolean](docs/configuration.md#forms) | `false`: the preload does nothing at all (no timer, no port, no listener) and reads and reports nothing else |',
    );
    expect(lines.find((line) => line.startsWith('| `pollInterval` '))).toContain('| `OOMGUARD_POLL_INTERVAL` | `1s` |');
    expect(lines.find((line) => line.startsWith('| `metricsPort` '))).toContain('| `OOMGUARD_METRICS_PORT` | `9465` |');
  });

  it('writes links relative to the file: from docs/, into docs/ and into the page itself', () => {
    const readme = renderOptionsTable('README.md');
    const page = renderOptionsTable('docs/configuration.md');
    expect(readme).toContain('](docs/heap-model.md#why-the-default-line-is-75)');
    expect(page).toContain('](heap-model.md#why-the-default-line-is-75)');
    expect(page).toContain('[boolean](#forms)');
    expect(page).not.toContain('](docs/');
  });

  it('replaces only what lies between the markers, and refuses a file without them', () => {
    const text = `before\n${TABLE_START}\n| old |\n${TABLE_END}\nafter\n`;
    expect(replaceOptionsTable(text, '| new |', 'x.md')).toBe(`before\n${TABLE_START}\n| new |\n${TABLE_END}\nafter\n`);
    expect(() => replaceOptionsTable('no markers', '| new |', 'x.md')).toThrow(/x\.md: no options table/);
  });
});
