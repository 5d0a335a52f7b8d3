/**
 * The options tables of README.md and docs/configuration.md, rendered from the option table
 * (`options.ts`), so the docs cannot drift from what the code reads: `npm run docs` rewrites the
 * marked sections, and a unit test fails when a file's table differs from this rendering. The
 * defaults come from `DEFAULTS` itself, shown as a variable would write them.
 */

import { DEFAULTS } from './config';
import { FORMS, OPTIONS, type OptionSpec } from './options';

/** The files that carry an options table, relative to the repository root. */
export type OptionsDoc = 'README.md' | 'docs/configuration.md';

/** The lines around a generated table; what lies between them is replaced. */
export const TABLE_START = '<!-- options-table: generated from src/options.ts; edit there, then run `npm run docs` -->';
export const TABLE_END = '<!-- /options-table -->';

const cell = (text: string): string => text.replaceAll('|', '\\|');
const code = (text: string): string => `\`${text}\``;

function defaultCell(spec: OptionSpec): string {
  return spec.defaultText ?? code(FORMS[spec.form].show(spec.resolved(DEFAULTS) as never));
}

/**
 * The Markdown table for `doc`: option, variable(s), default, accepted forms, meaning. Links in
 * the table are written relative to the repository root and rewritten for files in docs/ (a
 * link into the file itself becomes an anchor).
 */
export function renderOptionsTable(doc: OptionsDoc): string {
  const header = ['option', 'env var', 'default', 'accepted forms', 'meaning'];
  const rows = OPTIONS.map((spec) => [
    code(spec.option),
    [spec.variable, ...(spec.alsoVariables ?? [])].map(code).join(', '),
    defaultCell(spec),
    spec.forms ?? FORMS[spec.form].docs,
    spec.doc,
  ]);
  const lines = [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.map(cell).join(' | ')} |`);
  const table = lines.join('\n');
  if (doc === 'README.md') return table;
  return table.replaceAll(`](${doc}#`, '](#').replaceAll('](docs/', '](');
}

/** `text` with the table between the markers replaced by `table`; throws when the markers are missing. */
export function replaceOptionsTable(text: string, table: string, file: string): string {
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END, start);
  if (start === -1 || end === -1) throw new Error(`${file}: no options table between ${TABLE_START} and ${TABLE_END}`);
  return `${text.slice(0, start + TABLE_START.length)}\n${table}\n${text.slice(end)}`;
}
