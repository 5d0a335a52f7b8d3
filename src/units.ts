/**
 * Pure parsers and formatters for the quantities in configuration values: sizes, percents,
 * thresholds and durations (the word-like forms, booleans, exit codes, ports, hosts, are in
 * `parsers.ts`). They never throw: each returns either the value or a short reason plus the
 * expected form, so `config.ts` can name the variable and the operator can fix it in one go.
 * They are hand-written because they run in the preload, before the app's first line, where
 * `require('zod')` alone (45-90 ms) costs more than the agent's whole 20 ms start-up budget
 * (docs/configuration.md, "Why the parsers are hand-written, and where zod runs").
 *
 * The accepted forms are documented in docs/configuration.md.
 */

import type { ThresholdSpec } from './types';

/** The outcome of parsing one value: the value, or why not and what would have been accepted. */
export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly message: string; readonly expected: string };

/** Expected-form texts of every parser (here and in `parsers.ts`), for the error lines and the docs. */
export const EXPECTED = Object.freeze({
  size: 'a size such as 512MiB, 1.5GB, 512Mi or 1073741824 (bytes)',
  percent: 'a percent above 0% and at most 100%, such as 80% or 72.5%',
  threshold: 'a size (512MiB, 1.5GB, 512Mi, bytes), a percent such as 80%, or off',
  duration: 'a duration with a unit: 250ms, 1s, 1.5s, 2m or 1h',
  boolean: 'true or false (also 1/0, yes/no, on/off)',
  exitCode: 'an integer from 1 to 125',
  action: 'exit, signal, auto or observe',
  metrics: 'prometheus, global or none (or true/false)',
  port: 'a port from 0 to 65535 (0: an ephemeral port)',
  host: 'a host name or IP address, without scheme, port or path',
  url: 'an http:// or https:// URL, such as http://collector:4318',
  onOff: 'true or false',
  nativeMode: 'auto, on or off (or true/false)',
  reserve: 'a size of at least 1MiB, such as 64MiB or 256MiB',
  sampling: 'warn, always or off',
  path: 'a file or directory path, or off',
  tracesExporter: 'otlp, console or none, or a comma-separated list such as otlp,console',
  metricsExporter: 'prometheus, otlp, console or none, or a comma-separated list such as prometheus,otlp',
  logsExporter: 'otlp, console or none, or a comma-separated list such as otlp,console',
  otlpProtocol: 'http/protobuf, http/json or grpc',
  instrumentations: 'runtime, host, both as runtime,host, or none',
  logLevel: 'none, error, warn, info, debug, verbose or all',
  headers: 'comma-separated key=value pairs, such as api-key=...,tenant=...',
});

/** SI and binary prefixes in order: `k` is 1000^1 or 1024^1, ..., `p` 1000^5 or 1024^5. */
const PREFIXES = ['k', 'm', 'g', 't', 'p'] as const;
/**
 * Multi-letter units, matched case-insensitively (`512mb` = `512MB`, never bits): `KB`..`PB` are
 * decimal and `KiB`..`PiB` binary, as IEC 80000-13 defines them; Kubernetes' `Ki`..`Pi` binary.
 */
const LONG_UNITS: ReadonlyMap<string, bigint> = new Map([
  ['b', 1n],
  ['byte', 1n],
  ['bytes', 1n],
  ...PREFIXES.flatMap((prefix, i): [string, bigint][] => [
    [`${prefix}b`, 1000n ** BigInt(i + 1)],
    [`${prefix}ib`, 1024n ** BigInt(i + 1)],
    [`${prefix}i`, 1024n ** BigInt(i + 1)],
  ]),
]);
/**
 * Single-letter units, matched case-sensitively, decimal as in Kubernetes quantities and SI
 * (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/).
 */
const SHORT_UNITS: ReadonlyMap<string, bigint> = new Map([
  ['k', 1000n],
  ...PREFIXES.map((prefix, i): [string, bigint] => [prefix.toUpperCase(), 1000n ** BigInt(i + 1)]),
]);
/**
 * Lowercase letters that two conventions read differently: Kubernetes reads `512m` as 0.512
 * bytes (milli), Docker and the JVM (`-Xmx512m`) as 512 MiB. Guessing wrong moves a threshold
 * by a factor of a billion or by 7%, so these are refused with the two unambiguous spellings.
 */
const AMBIGUOUS_UNITS: ReadonlySet<string> = new Set(['m', 'g', 't', 'p']);

const DURATION_UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ms', 1n],
  ['s', 1000n],
  ['m', 60_000n],
  ['h', 3_600_000n],
]);

/** Digits with single underscores between them (`1_000_000`), an optional fraction, a unit. */
const NUMBER_UNIT = /^(\d(?:_?\d)*)?(?:\.(\d(?:_?\d)*)?)?[ \t]*([A-Za-z]*|%)$/;
/** Longer inputs are refused before any arithmetic: no real value needs them. */
const MAX_INPUT_LENGTH = 64;

/** The largest size accepted: `Number.MAX_SAFE_INTEGER` bytes (8 PiB), exact as a number. */
export const MAX_SIZE = Number.MAX_SAFE_INTEGER;
/**
 * Size thresholds below this are refused: a Node.js process uses more than 1 MiB of heap and
 * far more RSS before the app's first line runs, so a smaller threshold would shut it down at
 * once. In practice it catches a forgotten unit (`OOMGUARD_HEAP_THRESHOLD=512` is 512 bytes).
 */
export const MIN_THRESHOLD_BYTES = 1024 * 1024;
/**
 * The longest duration accepted. Node's timers hold at most 2^31-1 ms; a longer delay fires
 * after 1 ms with a TimeoutOverflowWarning
 * (https://nodejs.org/api/timers.html#settimeoutcallback-delay-args).
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** A refusal: why, and what would have been accepted. */
export function fail<T>(message: string, expected: string): ParseResult<T> {
  return { ok: false, message, expected };
}

interface Split {
  int: string;
  frac: string;
  unit: string;
}

/**
 * Splits `" 1_536.5 MiB "` into digits, fraction and unit, or explains why it cannot. Shared
 * checks (empty, sign, NaN, Infinity, exponent, length) live here so every parser words them
 * the same way.
 */
function split(input: string, expected: string): Split | ParseResult<never> {
  const text = input.trim();
  if (text === '') return fail('the value is empty', expected);
  if (text.length > MAX_INPUT_LENGTH) return fail(`the value is longer than ${MAX_INPUT_LENGTH} characters`, expected);
  if (text.startsWith('-')) return fail('a negative value makes no sense here', expected);
  if (/^\+?(nan|inf(inity)?)$/i.test(text)) return fail(`${text} is not a number`, expected);
  const match = NUMBER_UNIT.exec(text.startsWith('+') ? text.slice(1) : text);
  const int = match?.[1] ?? '';
  const frac = match?.[2] ?? '';
  if (!match || (int === '' && frac === '')) {
    if (/^[\d._]+e[+-]?\d+/i.test(text)) return fail('exponent notation is not accepted', expected);
    if (/,/.test(text)) return fail('use . as the decimal separator and _ (or nothing) between thousands', expected);
    return fail('this is not a number followed by an optional unit', expected);
  }
  return { int: int.replaceAll('_', ''), frac: frac.replaceAll('_', ''), unit: match[3] ?? '' };
}

function isSplit(value: Split | ParseResult<never>): value is Split {
  return 'int' in value;
}

/** `int.frac * multiplier`, rounded down, exactly (no binary floating point on the way). */
function scale(int: string, frac: string, multiplier: bigint): bigint {
  const whole = BigInt(int === '' ? '0' : int) * multiplier;
  if (frac === '') return whole;
  return whole + (BigInt(frac) * multiplier) / 10n ** BigInt(frac.length);
}

/**
 * Parses a byte size. Plain numbers are bytes. Units (a space before them is fine):
 * - `KB MB GB TB PB` are decimal (1000^n) and `KiB MiB GiB TiB PiB` binary (1024^n), as IEC
 *   80000-13 defines them; multi-letter units ignore case (`512mb` = `512MB`, never bits).
 * - Kubernetes' `Ki Mi Gi Ti Pi` are binary, its `k K M G T P` decimal (single letters are
 *   case-sensitive).
 * - Lowercase `m g t p` are refused: Kubernetes reads `512m` as milli-bytes, Docker and the JVM
 *   as MiB.
 * Fractions are allowed (`1.5GiB`); the result is rounded down to a whole byte. Underscores may
 * separate digits (`1_073_741_824`). Numbers must be finite, not negative, and at most
 * {@link MAX_SIZE}.
 */
export function parseSize(input: string | number): ParseResult<number> {
  const expected = EXPECTED.size;
  if (typeof input === 'number') return sizeFromNumber(input, expected);
  const parts = split(input, expected);
  if (!isSplit(parts)) return parts;
  const { unit } = parts;
  const multiplier = unit === '' ? 1n : (SHORT_UNITS.get(unit) ?? LONG_UNITS.get(unit.toLowerCase()));
  if (multiplier === undefined) {
    if (AMBIGUOUS_UNITS.has(unit)) {
      const upper = unit.toUpperCase();
      return fail(
        `the unit "${unit}" is ambiguous (Kubernetes reads it as milli, Docker and the JVM as binary); ` +
          `write ${upper}iB (1024^n) or ${upper}B (1000^n)`,
        expected,
      );
    }
    if (unit === '%') return fail('a percent is not accepted here', expected);
    return fail(`"${unit}" is not a size unit`, expected);
  }
  const bytes = scale(parts.int, parts.frac, multiplier);
  if (bytes > BigInt(MAX_SIZE)) return fail('the size is larger than 8PiB', expected);
  return { ok: true, value: Number(bytes) };
}

function sizeFromNumber(input: number, expected: string): ParseResult<number> {
  if (!Number.isFinite(input)) return fail(`${input} is not a finite number`, expected);
  if (input < 0) return fail('a negative value makes no sense here', expected);
  if (input > MAX_SIZE) return fail('the size is larger than 8PiB', expected);
  return { ok: true, value: Math.floor(input) };
}

/**
 * Parses a percent: a number followed by `%` (`80%`, `72.5%`, `80 %`), above 0 and at most 100.
 * The `%` is required, so a bare number can never be mistaken for one.
 */
export function parsePercent(input: string): ParseResult<number> {
  const expected = EXPECTED.percent;
  const parts = split(input, expected);
  if (!isSplit(parts)) return parts;
  if (parts.unit !== '%') return fail('a percent needs a % sign', expected);
  const percent = Number(`${parts.int === '' ? '0' : parts.int}.${parts.frac === '' ? '0' : parts.frac}`);
  if (percent === 0) return fail('0% would act at once; use off to turn the check off', expected);
  if (percent > 100) return fail('a percent above 100% can never be reached', expected);
  return { ok: true, value: percent };
}

/**
 * Parses a threshold: `off` (any case), a percent (see {@link parsePercent}) or a size (see
 * {@link parseSize}; a number is bytes) of at least {@link MIN_THRESHOLD_BYTES}. `false` (the
 * boolean, from the programmatic API) also means off.
 */
export function parseThreshold(input: string | number | boolean): ParseResult<ThresholdSpec> {
  const expected = EXPECTED.threshold;
  if (input === false) return { ok: true, value: { kind: 'off' } };
  if (input === true) return fail('true is not a threshold', expected);
  if (typeof input === 'string') {
    const text = input.trim();
    if (/^off$/i.test(text)) return { ok: true, value: { kind: 'off' } };
    if (text.endsWith('%')) {
      const percent = parsePercent(text);
      return percent.ok ? { ok: true, value: { kind: 'percent', percent: percent.value } } : fail(percent.message, expected);
    }
  }
  // A bare fraction or a number up to 100 was most likely meant as a percent (`0.8`, `80`).
  const text = typeof input === 'string' ? input.trim() : '';
  const asNumber = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  const meant = asNumber > 0 && asNumber < 1 ? asNumber * 100 : asNumber >= 1 && asNumber <= 100 ? asNumber : undefined;
  if (meant !== undefined) {
    const pct = `${Number(meant.toFixed(4))}%`;
    return fail(`a bare number is bytes, and ${text} bytes cannot be meant: did you mean ${pct}?`, expected);
  }
  const size = parseSize(input);
  if (!size.ok) return fail(size.message, expected);
  if (size.value < MIN_THRESHOLD_BYTES) {
    return fail(
      `${size.value} bytes is below 1MiB, less than Node.js uses at start (a bare number is bytes: did you forget a unit?)`,
      expected,
    );
  }
  return { ok: true, value: { kind: 'bytes', bytes: size.value } };
}

/**
 * Parses a duration into whole milliseconds (rounded down): a number and a unit, `ms`, `s`,
 * `m` (minutes) or `h`, any case, fractions allowed (`1.5s`). A bare number string is refused,
 * since `10` could mean seconds or milliseconds; a number (from the programmatic API) is
 * milliseconds, as in `setTimeout`. At most {@link MAX_DURATION_MS}.
 */
export function parseDuration(input: string | number): ParseResult<number> {
  const expected = EXPECTED.duration;
  let ms: bigint | number;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return fail(`${input} is not a finite number`, expected);
    if (input < 0) return fail('a negative value makes no sense here', expected);
    ms = Math.floor(input);
  } else {
    const parts = split(input, expected);
    if (!isSplit(parts)) return parts;
    if (parts.unit === '') {
      return fail(`a duration needs a unit (is ${parts.int || 0} seconds or milliseconds?)`, expected);
    }
    const multiplier = DURATION_UNITS.get(parts.unit.toLowerCase());
    if (multiplier === undefined) return fail(`"${parts.unit}" is not a duration unit`, expected);
    ms = scale(parts.int, parts.frac, multiplier);
  }
  if (ms > MAX_DURATION_MS) return fail("the duration is longer than Node's timer limit, 2147483647ms (24.8 days)", expected);
  return { ok: true, value: Number(ms) };
}

const BINARY_PREFIXES = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** A threshold for messages, in a form {@link parseThreshold} reads back: `off`, `80%`, `512MiB`. */
export function formatThreshold(spec: ThresholdSpec): string {
  if (spec.kind === 'off') return 'off';
  return spec.kind === 'percent' ? `${spec.percent}%` : formatBytes(spec.bytes);
}

/**
 * Formats bytes for messages in binary units with up to two decimals, in a form
 * {@link parseSize} reads back (rounded): `512MiB`, `1.5GiB`, `1023B`.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const sign = bytes < 0 ? '-' : '';
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < BINARY_PREFIXES.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 ? String(Math.round(value)) : String(Number(value.toFixed(2)));
  return `${sign}${text}${BINARY_PREFIXES[unit]}`;
}

/**
 * Formats milliseconds for messages in a form {@link parseDuration} reads back: whole hours or
 * minutes when exact (`2m`, `1h`), else seconds from one second up (`1.5s`, `90s`), else
 * milliseconds (`250ms`).
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (Math.abs(ms) >= 1000) return `${Number((ms / 1000).toFixed(3))}s`;
  return `${Number(ms.toFixed(3))}ms`;
}
