import { describe, expect, it } from 'vitest';
import {
  EXPECTED,
  MAX_DURATION_MS,
  formatBytes,
  formatDuration,
  parseDuration,
  parsePercent,
  parseSize,
  parseThreshold,
  type ParseResult,
} from '../../src/units';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

function value<T>(result: ParseResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got: ${result.message}`);
  return result.value;
}

describe('parseSize', () => {
  it.each<[string | number, number]>([
    ['0', 0],
    ['1073741824', GiB],
    ['1_073_741_824', GiB],
    ['  512MiB  ', 512 * MiB],
    ['512 MiB', 512 * MiB],
    ['512mib', 512 * MiB],
    ['512MIB', 512 * MiB],
    ['512Mi', 512 * MiB],
    ['512mi', 512 * MiB],
    ['0.5GiB', 512 * MiB],
    ['.5GiB', 512 * MiB],
    ['1.5GB', 1_500_000_000],
    ['1.5gb', 1_500_000_000],
    ['1G', 1_000_000_000],
    ['2M', 2_000_000],
    ['64k', 64_000],
    ['64K', 64_000],
    ['64KiB', 64 * KiB],
    ['64Ki', 64 * KiB],
    ['64kB', 64_000],
    ['1TiB', 1024 ** 4],
    ['1T', 1e12],
    ['1PiB', 1024 ** 5],
    ['100B', 100],
    ['100 bytes', 100],
    ['+5MiB', 5 * MiB],
    // Rounded down to a whole byte, exactly: 0.3 KiB is 307.2 bytes.
    ['0.3KiB', 307],
    ['4.35KB', 4350],
    ['1.1MB', 1_100_000],
    ['1.', 1],
    [512 * MiB, 512 * MiB],
    [1.9, 1],
  ])('reads %j as %d bytes', (input, bytes) => {
    expect(value(parseSize(input))).toBe(bytes);
  });

  it.each<[string | number, string]>([
    ['', 'the value is empty'],
    ['   ', 'the value is empty'],
    ['-5MiB', 'a negative value makes no sense here'],
    ['-1', 'a negative value makes no sense here'],
    [-1, 'a negative value makes no sense here'],
    ['NaN', 'NaN is not a number'],
    ['Infinity', 'Infinity is not a number'],
    ['inf', 'inf is not a number'],
    [Number.NaN, 'NaN is not a finite number'],
    [Number.POSITIVE_INFINITY, 'Infinity is not a finite number'],
    ['1e9', 'exponent notation is not accepted'],
    ['1,5GB', 'use . as the decimal separator'],
    ['1__000', 'this is not a number followed by an optional unit'],
    ['_1000', 'this is not a number followed by an optional unit'],
    ['1000_', 'this is not a number followed by an optional unit'],
    ['MiB', 'this is not a number followed by an optional unit'],
    ['.', 'this is not a number followed by an optional unit'],
    ['0x100', 'this is not a number followed by an optional unit'],
    ['512 megabytes', '"megabytes" is not a size unit'],
    ['5 MiB extra', 'this is not a number followed by an optional unit'],
    ['512m', 'the unit "m" is ambiguous (Kubernetes reads it as milli, Docker and the JVM as binary); write MiB (1024^n) or MB (1000^n)'],
    ['2g', 'write GiB (1024^n) or GB (1000^n)'],
    ['1t', 'write TiB (1024^n) or TB (1000^n)'],
    ['80%', 'a percent is not accepted here'],
    ['9PiB', 'the size is larger than 8PiB'],
    ['9007199254740992', 'the size is larger than 8PiB'],
    [2 ** 53, 'the size is larger than 8PiB'],
    ['1'.repeat(65), 'the value is longer than 64 characters'],
  ])('refuses %j: %s', (input, message) => {
    const result = parseSize(input);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toContain(message);
    expect(result.expected).toBe(EXPECTED.size);
  });
});

describe('parsePercent', () => {
  it.each<[string, number]>([
    ['80%', 80],
    ['72.5%', 72.5],
    [' 80 % ', 80],
    ['100%', 100],
    ['0.5%', 0.5],
    ['.5%', 0.5],
  ])('reads %j as %d', (input, percent) => {
    expect(value(parsePercent(input))).toBe(percent);
  });

  it.each<[string, string]>([
    ['80', 'a percent needs a % sign'],
    ['0%', '0% would act at once; use off to turn the check off'],
    ['0.0%', '0% would act at once'],
    ['100.01%', 'a percent above 100% can never be reached'],
    ['150%', 'a percent above 100% can never be reached'],
    ['-5%', 'a negative value makes no sense here'],
    ['%', 'this is not a number followed by an optional unit'],
    ['80%%', 'this is not a number followed by an optional unit'],
    ['', 'the value is empty'],
  ])('refuses %j: %s', (input, message) => {
    const result = parsePercent(input);
    expect(result).toMatchObject({ ok: false, expected: EXPECTED.percent });
    if (!result.ok) expect(result.message).toContain(message);
  });
});

describe('parseThreshold', () => {
  it.each<[string | number | boolean, unknown]>([
    ['off', { kind: 'off' }],
    [' OFF ', { kind: 'off' }],
    [false, { kind: 'off' }],
    ['80%', { kind: 'percent', percent: 80 }],
    ['72.5%', { kind: 'percent', percent: 72.5 }],
    ['512MiB', { kind: 'bytes', bytes: 512 * MiB }],
    ['1.5GB', { kind: 'bytes', bytes: 1_500_000_000 }],
    ['1048576', { kind: 'bytes', bytes: MiB }],
    [GiB, { kind: 'bytes', bytes: GiB }],
  ])('reads %j', (input, spec) => {
    expect(value(parseThreshold(input))).toEqual(spec);
  });

  it.each<[string | number | boolean, string]>([
    ['512', '512 bytes is below 1MiB, less than Node.js uses at start (a bare number is bytes: did you forget a unit?)'],
    [1000, '1000 bytes is below 1MiB'],
    ['0', '0 bytes is below 1MiB'],
    ['1048575', '1048575 bytes is below 1MiB'],
    ['0%', '0% would act at once'],
    ['120%', 'a percent above 100% can never be reached'],
    ['512m', 'the unit "m" is ambiguous'],
    [true, 'true is not a threshold'],
    ['none', 'this is not a number followed by an optional unit'],
    ['', 'the value is empty'],
  ])('refuses %j: %s', (input, message) => {
    const result = parseThreshold(input);
    expect(result).toMatchObject({ ok: false, expected: EXPECTED.threshold });
    if (!result.ok) expect(result.message).toContain(message);
  });
});

describe('parseDuration', () => {
  it.each<[string | number, number]>([
    ['250ms', 250],
    ['1s', 1000],
    ['1.5s', 1500],
    ['1.5 s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['0.5h', 1_800_000],
    ['10MS', 10],
    ['0s', 0],
    ['1_000ms', 1000],
    // Whole milliseconds, rounded down.
    ['1.9ms', 1],
    ['0.0015s', 1],
    [250, 250],
    [250.7, 250],
    ['2147483647ms', MAX_DURATION_MS],
  ])('reads %j as %d ms', (input, ms) => {
    expect(value(parseDuration(input))).toBe(ms);
  });

  it.each<[string | number, string]>([
    ['1000', 'a duration needs a unit (is 1000 seconds or milliseconds?)'],
    ['10', 'a duration needs a unit (is 10 seconds or milliseconds?)'],
    ['5d', '"d" is not a duration unit'],
    ['5us', '"us" is not a duration unit'],
    ['-1s', 'a negative value makes no sense here'],
    [-1, 'a negative value makes no sense here'],
    [Number.NaN, 'NaN is not a finite number'],
    ['1m30s', 'this is not a number followed by an optional unit'],
    ['25d', '"d" is not a duration unit'],
    ['600h', "longer than Node's timer limit, 2147483647ms (24.8 days)"],
    [2 ** 31, "longer than Node's timer limit"],
    ['', 'the value is empty'],
    ['s', 'this is not a number followed by an optional unit'],
  ])('refuses %j: %s', (input, message) => {
    const result = parseDuration(input);
    expect(result).toMatchObject({ ok: false, expected: EXPECTED.duration });
    if (!result.ok) expect(result.message).toContain(message);
  });
});

describe('formatBytes', () => {
  it.each<[number, string]>([
    [0, '0B'],
    [1023, '1023B'],
    [1024, '1KiB'],
    [512 * MiB, '512MiB'],
    [1.5 * GiB, '1.5GiB'],
    [1_500_000_000, '1.4GiB'],
    [1024 ** 5 * 3, '3PiB'],
    [-2 * MiB, '-2MiB'],
  ])('formats %d as %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it.each([512 * MiB, 1.5 * GiB, 64 * KiB, 100])('round-trips %d through parseSize', (bytes) => {
    expect(value(parseSize(formatBytes(bytes)))).toBe(bytes);
  });
});

describe('formatDuration', () => {
  it.each<[number, string]>([
    [0, '0ms'],
    [250, '250ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [90_000, '90s'],
    [120_000, '2m'],
    [3_600_000, '1h'],
    [5_400_000, '90m'],
  ])('formats %d as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each([0, 250, 1500, 90_000, 120_000, 3_600_000])('round-trips %d through parseDuration', (ms) => {
    expect(value(parseDuration(formatDuration(ms)))).toBe(ms);
  });
});
