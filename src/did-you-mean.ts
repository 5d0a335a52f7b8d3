/**
 * "Did you mean" for names oomguard does not know: an `OOMGUARD_*` variable it does not read, or
 * a key `start()` does not take. A misspelt name is otherwise silent, and the setting the
 * operator meant to change keeps its default, which is the hardest mistake to see.
 *
 * Warnings, never errors: the name may belong to a newer oomguard, and a name should not switch
 * memory protection off. The value is never shown: a variable oomguard does not know may be
 * anything, a token included (`OOMGUARD_API_KEY`), and the warning goes to every process
 * `NODE_OPTIONS` reaches.
 */

import type { ConfigIssue } from './reader';

/** Any name within this many edits is a candidate; longer names allow one more per 5 letters. */
const MIN_EDITS = 2;

/**
 * A warning for every `OOMGUARD_*` variable (any case) in `env` that is not in `known`, with the
 * closest known name when one is near (`OOMGUARD_HEAP_TRESHOLD`).
 */
export function unknownVariables(env: NodeJS.ProcessEnv, known: readonly string[]): ConfigIssue[] {
  return Object.keys(env)
    .filter((name) => name.toUpperCase().startsWith('OOMGUARD_') && !known.includes(name))
    .map((name) => unknown(name, closest(name.toUpperCase(), known), known, 'oomguard does not read this variable'));
}

/** A warning for every key of `options` that is not in `known`, with the closest option name. */
export function unknownOptions(options: Readonly<Record<string, unknown>>, known: readonly string[]): ConfigIssue[] {
  return Object.keys(options)
    .filter((name) => !known.includes(name))
    .map((name) => unknown(`options.${name}`, closest(name, known), known, 'oomguard has no such option'));
}

function unknown(variable: string, suggestion: string | undefined, known: readonly string[], message: string): ConfigIssue {
  return {
    variable,
    value: '',
    expected: suggestion ?? `one of ${known.join(', ')}`,
    message: suggestion ? `${message}; did you mean ${suggestion}?` : message,
    severity: 'warning',
    redacted: true,
  };
}

/** The candidate within a few edits of `name` (case ignored), if exactly one is nearest. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(MIN_EDITS, Math.floor(name.length / 5));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    } else if (distance === bestDistance) {
      best = undefined;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/**
 * Optimal-string-alignment distance: insertions, deletions, substitutions and transpositions of
 * neighbours each cost 1, so `TRESHOLD` is 1 from `THRESHOLD` and `WRAN` 1 from `WARN`.
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}
