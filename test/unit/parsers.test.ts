import { describe, expect, it } from 'vitest';
import { parseAction, parseBoolean, parseExitCode, parseHeaders, parseHost, parseHttpUrl, parseLogLevel, parseMetrics, parsePort } from '../../src/parsers';
import { EXPECTED, type ParseResult } from '../../src/units';

function value<T>(result: ParseResult<T>): T {
  if (!result.ok) throw new Error(`expected success, got: ${result.message}`);
  return result.value;
}

describe('parseBoolean', () => {
  it.each<[string | boolean, boolean]>([
    ['true', true], ['TRUE', true], [' yes ', true], ['1', true], ['on', true], ['On', true], [true, true],
    ['false', false], ['False', false], ['no', false], ['0', false], ['off', false], [false, false],
  ])('reads %j as %s', (input, bool) => {
    expect(value(parseBoolean(input))).toBe(bool);
  });

  it.each<[string, string]>([
    ['', 'the value is empty'],
    ['ture', 'this is not a yes/no value'],
    ['2', 'this is not a yes/no value'],
    ['y', 'this is not a yes/no value'],
    ['enabled', 'this is not a yes/no value'],
  ])('refuses %j: %s', (input, message) => {
    expect(parseBoolean(input)).toEqual({ ok: false, message, expected: EXPECTED.boolean });
  });
});

describe('parseExitCode', () => {
  it.each<[string | number, number]>([['2', 2], [' 1 ', 1], ['125', 125], [3, 3]])('reads %j as %d', (input, code) => {
    expect(value(parseExitCode(input))).toBe(code);
  });

  it.each<[string | number, string]>([
    ['0', '0 reports success, so a supervisor would not see the failure'],
    [0, '0 reports success'],
    ['126', 'shells reserve 126 and 127 (cannot execute, not found) and report death by signal N as 128+N'],
    ['127', 'shells reserve 126 and 127'],
    ['137', 'death by signal N as 128+N'],
    ['255', 'death by signal N as 128+N'],
    ['256', 'an exit code has 8 bits; the parent would see it modulo 256'],
    ['-1', 'this is not a whole, non-negative number'],
    ['2.5', 'this is not a whole, non-negative number'],
    [2.5, 'this is not a whole, non-negative number'],
    ['two', 'this is not a whole, non-negative number'],
    ['', 'the value is empty'],
  ])('refuses %j: %s', (input, message) => {
    const result = parseExitCode(input);
    expect(result).toMatchObject({ ok: false, expected: EXPECTED.exitCode });
    if (!result.ok) expect(result.message).toContain(message);
  });
});

describe('parseAction', () => {
  it.each<[string, string]>([['exit', 'exit'], [' SIGNAL ', 'signal'], ['Auto', 'auto']])('reads %j as %s', (input, action) => {
    expect(value(parseAction(input))).toBe(action);
  });

  it.each(['kill', '', 'exit now'])('refuses %j', (input) => {
    expect(parseAction(input)).toEqual({ ok: false, message: 'this is not an action', expected: EXPECTED.action });
  });
});

describe('parseMetrics', () => {
  it.each<[string | boolean, string]>([
    ['prometheus', 'prometheus'], [' Prometheus ', 'prometheus'], ['global', 'global'], ['GLOBAL', 'global'], ['none', 'none'], ['NONE', 'none'],
    ['off', 'none'], ['yes', 'prometheus'], [false, 'none'], [true, 'prometheus'],
  ])('reads %j as %s', (input, mode) => {
    expect(value(parseMetrics(input))).toBe(mode);
  });

  it.each(['otlp', 'console', ''])('refuses %j', (input) => {
    expect(parseMetrics(input)).toEqual({ ok: false, message: 'this is not a metrics endpoint kind', expected: EXPECTED.metrics });
  });
});

describe('parsePort', () => {
  it.each<[string | number, number]>([['9464', 9464], [' 0 ', 0], ['65535', 65535], [9100, 9100]])('reads %j as %d', (input, port) => {
    expect(value(parsePort(input))).toBe(port);
  });

  it.each<[string | number, string]>([
    ['65536', 'TCP ports end at 65535'],
    ['-1', 'this is not a whole, non-negative number'],
    [94.5, 'this is not a whole, non-negative number'],
    ['94a64', 'this is not a whole, non-negative number'],
    ['', 'this is not a whole, non-negative number'],
  ])('refuses %j: %s', (input, message) => {
    expect(parsePort(input)).toEqual({ ok: false, message, expected: EXPECTED.port });
  });
});

describe('parseHost', () => {
  it.each<[string, string]>([['127.0.0.1', '127.0.0.1'], [' localhost ', 'localhost'], ['[::1]', '::1'], ['::', '::'], ['fe80::1', 'fe80::1']])('reads %j as %s', (input, host) => {
    expect(value(parseHost(input))).toBe(host);
  });

  it.each<[string, string]>([
    ['http://0.0.0.0', 'a host has no scheme or path'],
    ['localhost/metrics', 'a host has no scheme or path'],
    ['my host', 'a host has no spaces'],
    ['localhost:9464', 'this looks like host:port; set the port in OOMGUARD_METRICS_PORT'],
  ])('refuses %j: %s', (input, message) => {
    expect(parseHost(input)).toEqual({ ok: false, message, expected: EXPECTED.host });
  });
});

describe('parseHttpUrl', () => {
  it.each(['http://collector:4318', ' https://otel.example.com/v1/traces ', 'http://[::1]:4318'])('accepts %j', (input) => {
    expect(value(parseHttpUrl(input))).toBe(input.trim());
  });

  it.each(['collector:4318', 'grpc://c:4317', 'http://', 'file:///tmp/x', ''])('refuses %j', (input) => {
    expect(parseHttpUrl(input)).toEqual({ ok: false, message: 'this is not an http(s) URL', expected: EXPECTED.url });
  });
});

describe('parseLogLevel', () => {
  it.each([['INFO', 'info'], [' debug ', 'debug'], ['none', 'none'], ['All', 'all'], ['VERBOSE', 'verbose']])('reads %j as %s', (input, level) => {
    expect(value(parseLogLevel(input))).toBe(level);
  });

  it.each(['loud', 'trace', ''])('refuses %j', (input) => {
    expect(parseLogLevel(input)).toEqual({ ok: false, message: 'this is not a log level', expected: EXPECTED.logLevel });
  });
});

describe('parseHeaders', () => {
  it.each(['api-key=abc', 'a=1,b=2', ' a = 1 , b=x=y ', 'a=1,'])('accepts %j', (input) => {
    expect(parseHeaders(input).ok).toBe(true);
  });

  it.each(['Authorization: Bearer abc', '=abc', 'a=1,b', 'a=1, =2'])('refuses %j', (input) => {
    expect(parseHeaders(input)).toEqual({ ok: false, message: 'each header is key=value, separated by commas', expected: EXPECTED.headers });
  });
});
