// Rewrites the options tables of README.md and docs/configuration.md from the option table in
// src/options.ts (through the build in dist/; `npm run docs` builds first). Only the lines
// between the table markers change; test/unit/options-doc.test.ts fails while they differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { renderOptionsTable, replaceOptionsTable } = createRequire(import.meta.url)(join(root, 'dist', 'options-doc.js'));

for (const file of ['README.md', 'docs/configuration.md']) {
  const path = join(root, file);
  const text = readFileSync(path, 'utf8');
  const next = replaceOptionsTable(text, renderOptionsTable(file), file);
  if (next === text) {
    console.log(`${file}: options table up to date`);
  } else {
    writeFileSync(path, next);
    console.log(`${file}: options table rewritten`);
  }
}
