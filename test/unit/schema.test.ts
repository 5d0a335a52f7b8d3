import { describe, expect, it } from 'vitest';
import { loadConfig, type StartOptions } from '../../src/config';
import { OPTION, OPTIONS, OPTION_NAMES } from '../../src/options';
import { checkOptions, optionsJsonSchema } from '../../src/schema';
import { MAX_SIZE } from '../../src/units';

const GiB = 1024 ** 3;

type Validate = (data: unknown) => boolean;

async function compile(schema: object): Promise<Validate> {
  const mod = await import('ajv/dist/2020.js');
  // CJS interop: the class is `default` (of the namespace or of its `default`).
  const Ajv2020 = ((mod as { default: unknown }).default as { default?: unknown }).default ?? (mod as { default: unknown }).default;
  const ajv = new (Ajv2020 as typeof import('ajv/dist/2020.js').default)({ strict: true });
  return ajv.compile(schema) as Validate;
}

const validator = (): Promise<Validate> => compile(optionsJsonSchema());

/** Values of every kind, good and bad, for the properties below. */
const SAMPLES: readonly unknown[] = [
  '75%', '72.5 %', '0%', '101%', 'off', 'OFF', ' Off ', '512MiB', '400 mib', '1.5GB', '512Mi', '1G', '900000k', '1_073_741_824',
  '  512 MiB ', '0.3KiB', '+1GiB', '.5GiB', '2.GiB', '512m', '2g', '1e9', '-1GiB', '1,5GB', 'lots', '512', '80', '0.8', '20EiB',
  '250ms', '1.5s', '2m', '1H', ' 10 ms', '0s', '5ms', '1000', '1d', '600h', '30 days',
  'true', 'FALSE', ' yes ', 'On', 'no', '1', '0', '2', '125', '126', '2.0', 'ture',
  'exit', 'SIGNAL', 'Auto', 'kill', 'prometheus', 'NONE', 'otlp',
  '9464', '65535', '65536', 'localhost', '127.0.0.1', '[::1]', '::', 'http://0.0.0.0', 'localhost:9464', '',
  0, 1, 2, 3, 125, 126, 2.5, 9464, 65535, 70000, 1024 * 1024, 1024 * 1024 - 1, 2 * GiB, 1.5 * GiB + 0.5, 250.7, -1, MAX_SIZE,
  Number.NaN, Number.POSITIVE_INFINITY, true, false, null, { percent: 70 }, ['1s'],
];

describe('start() options are checked by zod, with the parsers of their variables', () => {
  // Every row whose option takes the variable's own form (otlp takes a boolean, not a URL, and
  // OTEL_SDK_DISABLED follows its specification's own rule).
  const sameForm = OPTIONS.filter((spec) => spec.option !== 'otlp' && spec.option !== 'sdkDisabled');

  it.each(sameForm.map((spec) => [spec.option, spec.variable]))('options.%s and %s give the same value or the same reason for every string', (option, variable) => {
    for (const text of SAMPLES.filter((s): s is string => typeof s === 'string' && s.trim() !== '')) {
      const fromEnv = loadConfig({ [variable]: text });
      const fromOption = loadConfig({}, { [option]: text } as StartOptions);
      const strip = (issues: { variable: string }[]) => issues.map((issue) => ({ ...issue, variable: issue.variable.replace(`options.${option}`, variable) }));
      expect(fromOption.ok, `${option}=${JSON.stringify(text)}`).toBe(fromEnv.ok);
      if (fromEnv.ok && fromOption.ok) expect(fromOption.config).toEqual(fromEnv.config);
      if (!fromEnv.ok && !fromOption.ok) expect(strip(fromOption.issues)).toEqual(strip(fromEnv.issues));
      expect(strip(fromOption.warnings)).toEqual(strip(fromEnv.warnings));
    }
  });

  it.each<[Record<string, unknown>, string, string]>([
    [{ action: 3 }, 'a number is not accepted here', 'exit, signal, auto or observe'],
    [{ metricsHost: false }, 'a boolean is not accepted here', 'a host name or IP address, without scheme, port or path'],
    [{ otlp: 'yes' }, 'a string is not accepted here', 'true or false'],
    [{ pollInterval: null }, 'a object is not accepted here', 'a duration with a unit: 250ms, 1s, 1.5s, 2m or 1h'],
    [{ exitCode: 10n }, 'a bigint is not accepted here', 'an integer from 1 to 125'],
    [{ heapThreshold: Number.NaN }, 'NaN is not a finite number', 'a size (512MiB, 1.5GB, 512Mi, bytes), a percent such as 80%, or off'],
    [{ shutdownTimeout: Number.NEGATIVE_INFINITY }, '-Infinity is not a finite number', 'a duration with a unit: 250ms, 1s, 1.5s, 2m or 1h'],
  ])('refuses %o with the reason and the expected form', (options, message, expected) => {
    const verdicts = [...checkOptions(options)];
    expect(verdicts).toEqual([[Object.keys(options)[0], { ok: false, message, expected }]]);
  });

  it('converts what it accepts exactly as the environment is read, and skips unknown keys and undefined values', () => {
    const verdicts = checkOptions({ heapThreshold: '1GiB', pollInterval: 250, action: ' Signal ', metrics: 'none', heapTreshold: '1GiB', exitCode: undefined });
    expect(Object.fromEntries(verdicts)).toEqual({
      heapThreshold: { ok: true, value: { kind: 'bytes', bytes: GiB } },
      pollInterval: { ok: true, value: 250 },
      action: { ok: true, value: 'signal' },
      metrics: { ok: true, value: 'none' },
    });
  });
});

describe('optionsJsonSchema', () => {
  it('is a strict draft 2020-12 schema with one described property per option and no other', async () => {
    const schema = optionsJsonSchema() as { $schema: string; properties: Record<string, { description: string }>; additionalProperties: boolean };
    await expect(validator()).resolves.toBeTypeOf('function');
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(Object.keys(schema.properties)).toEqual(OPTION_NAMES);
    expect(schema.additionalProperties).toBe(false);
    for (const name of OPTION_NAMES) expect(schema.properties[name]!.description.startsWith(OPTION[name].variable)).toBe(true);
  });

  it.each(OPTIONS.map((spec) => [spec.option]))('never refuses a value options.%s accepts, so a check of working settings cannot fail', async (option) => {
    const validate = await validator();
    for (const value of SAMPLES) {
      const accepted = checkOptions({ [option]: value }).get(option)?.ok === true;
      if (accepted) expect(validate({ [option]: value }), `${option}=${JSON.stringify(value)}`).toBe(true);
    }
  });

  it.each<StartOptions>([
    {},
    { heapThreshold: '512MiB', heapWarn: '400 mib', rssThreshold: '1.5GB', rssWarn: '1_000_000_000' },
    { heapThreshold: '80%', heapWarn: '72.5 %', rssThreshold: 'OFF', rssWarn: false },
    { heapThreshold: 2 * GiB, pollInterval: '250ms', shutdownTimeout: 5000 },
    { pollInterval: '1.5s', shutdownTimeout: '2m', exitCode: 3, action: 'signal', enabled: 'yes', strict: true },
    { metrics: 'none', metricsHost: '::1', metricsPort: '0', otlp: true, sdkDisabled: 'false' },
    { heapThreshold: '512Mi', rssThreshold: '1G', heapWarn: '400M', rssWarn: '900000k' },
  ])('accepts what loadConfig accepts: %j', async (options) => {
    expect(loadConfig({}, options).ok).toBe(true);
    expect((await validator())(options)).toBe(true);
  });

  it.each<Record<string, unknown>>([
    { heapThreshold: '512m' },
    { heapThreshold: 'lots' },
    { heapThreshold: '-1GiB' },
    { heapThreshold: '1e9' },
    { heapThreshold: true },
    { heapThreshold: 512 },
    { pollInterval: '1000' },
    { pollInterval: '5d' },
    { exitCode: 0 },
    { exitCode: 2.5 },
    { action: 'kill' },
    { metrics: 'otlp' },
    { metricsPort: 70000 },
    { enabled: 'ture' },
    { otlp: 'http://collector:4318' },
    { heapTreshold: '80%' },
  ])('rejects a form loadConfig rejects or warns about: %j', async (options) => {
    const result = loadConfig({}, options as StartOptions);
    expect(result.ok === false || result.warnings.length > 0).toBe(true);
    expect((await validator())(options)).toBe(false);
  });
});
