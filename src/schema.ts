/**
 * The options of `start()` as a zod schema, built from the option table (`options.ts`): it
 * validates the options a program passes to `start()`, and its JSON Schema is what `oomguard
 * schema` prints for editors and CI checks. One schema for both, so what an editor accepts and
 * what `start()` accepts come from the same rows.
 *
 * zod stays off every start-up path: `require('zod')` takes 45-90 ms on the development machine
 * (docs/configuration.md, "Why the parsers are hand-written, and where zod runs"), ten times what
 * the preload spends on configuration, so it is required on the first call here, never on
 * import. The preload passes no options and never calls in; a program that calls
 * `start(options)` pays it once, at that call (57 ms measured, schema and check included).
 */

import type * as Zod from 'zod';
import { MAX_DURATION_MS, MAX_SIZE, MIN_THRESHOLD_BYTES, fail, type ParseResult } from './units';
import { ACTIONS, BOOLEAN_WORDS, EXPORTERS, HEAP_SAMPLING, INSTRUMENTATIONS, METRICS_MODES, MIN_RESERVE_BYTES, NATIVE_MODES, OTLP_PROTOCOLS } from './parsers';
import { LOG_LEVELS } from './log';
import { FORMS, OPTION, OPTIONS, type FormName, type OptionName, type OptionSpec } from './options';

/** The JS types a form takes in `start()`, each with its JSON Schema (pattern, range, examples). */
type JsonForms = Partial<Record<'string' | 'number' | 'boolean', Readonly<Record<string, unknown>>>>;

// A pattern checks the form only (ranges such as "at least 1MiB" are the parsers'), and never
// refuses what a parser accepts: a schema stricter than start() would fail a CI check of
// settings that work. JSON Schema has no case-insensitive flag, hence anyCase(); `examples`
// are what editors offer to complete.
const DIGITS = String.raw`\d(?:_?\d)*`;
const NUMBER = String.raw`\+?(?=\.?\d)(?:${DIGITS})?(?:\.(?:${DIGITS})?)?`;
const SIZE_UNIT = String.raw`(?:[bB](?:[yY][tT][eE][sS]?)?|[kKmMgGtTpP][iI]?[bB]|[kKmMgGtTpP][iI]|[kKMGTP])`;
const anyCase = (word: string): string => word.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`);
const trimmed = (body: string, examples?: readonly string[]) => ({ pattern: String.raw`^\s*(?:${body})\s*$`, ...(examples && { examples }) });
const words = (list: readonly string[], examples = list) => trimmed(list.map(anyCase).join('|'), examples);
const BOOLEANS = [...BOOLEAN_WORDS.true, ...BOOLEAN_WORDS.false];
/** `none`, or a comma-separated list of the names (spaces allowed around each). */
const nameList = (names: readonly string[]) => {
  const one = `(?:${names.map(anyCase).join('|')})`;
  return trimmed(`${anyCase('none')}|${one}(?:[ \\t]*,[ \\t]*${one})*`, [...names, 'none']);
};
const range = (minimum: number, maximum: number) => ({ minimum, maximum });
const integer = (minimum: number, maximum: number) => ({ type: 'integer', ...range(minimum, maximum) });

/** What each form takes in `start()`; built on first use, so the preload never builds it. */
const jsonForms = (): Readonly<Record<FormName, JsonForms>> => ({
  threshold: {
    string: trimmed(String.raw`${anyCase('off')}|${NUMBER}[ \t]*%|${NUMBER}[ \t]*${SIZE_UNIT}?`, ['75%', '512MiB', 'off']),
    number: range(MIN_THRESHOLD_BYTES, MAX_SIZE),
    boolean: { const: false },
  },
  duration: { string: trimmed(String.raw`${NUMBER}[ \t]*(?:[mM][sS]|[sSmMhH])`, ['250ms', '1s', '2m']), number: range(0, MAX_DURATION_MS) },
  boolean: { boolean: {}, string: words(BOOLEANS) },
  exitCode: { number: integer(1, 125), string: trimmed(String.raw`\d+`) },
  action: { string: words(ACTIONS) },
  metrics: { string: words([...METRICS_MODES, ...BOOLEANS], METRICS_MODES), boolean: {} },
  host: { string: {} },
  port: { number: integer(0, 65535), string: trimmed(String.raw`\d+`) },
  onOff: { boolean: {} },
  nativeMode: { string: words([...NATIVE_MODES, ...BOOLEANS], NATIVE_MODES), boolean: {} },
  reserve: { string: trimmed(String.raw`${NUMBER}[ \t]*${SIZE_UNIT}?`, ['64MiB', '256MiB']), number: range(MIN_RESERVE_BYTES, MAX_SIZE) },
  sampling: { string: words(HEAP_SAMPLING) },
  path: { string: {}, boolean: { const: false } },
  otlpProtocol: { string: words(OTLP_PROTOCOLS) },
  tracesExporter: { string: nameList(EXPORTERS.traces) },
  metricsExporter: { string: nameList(EXPORTERS.metrics) },
  logsExporter: { string: nameList(EXPORTERS.logs) },
  instrumentations: { string: nameList(INSTRUMENTATIONS) },
  logLevel: { string: words(LOG_LEVELS) },
});
let forms: Readonly<Record<FormName, JsonForms>> | undefined;

type Z = typeof Zod.z;
type Field = Zod.ZodType<unknown, unknown>;

let zod: Z | null | undefined;
let fields: Readonly<Record<OptionName, Field>> | undefined;
let jsonSchema: Readonly<Record<string, unknown>> | undefined;

/**
 * zod, or undefined where it cannot be loaded: a copy of the package without its dependencies,
 * or a bundle that left it out. The guard needs no dependency to guard, so `start(options)`
 * then checks with the same parsers alone rather than fail.
 */
function loadZod(): Z | undefined {
  if (zod === undefined) {
    try {
      zod = (require('zod') as typeof Zod).z;
    } catch {
      zod = null;
    }
  }
  return zod ?? undefined;
}

/** Markdown as plain text: links to this repository's docs dropped, code marks removed. */
function plain(markdown: string): string {
  return markdown.replace(/ *\(\[[^\]]*\]\([^)]*\)\)/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replaceAll('`', '');
}

/** The description an editor shows for an option: its variable(s), meaning and expected form. */
function description(spec: OptionSpec): string {
  const variables = [spec.variable, ...(spec.alsoVariables ?? [])].join(', ');
  return `${variables}: ${plain(spec.doc)}. Expected ${FORMS[spec.form].expected}.`;
}

/**
 * One option: the JS types it takes (with their JSON Schema as metadata for editors), then the
 * option's parser, the same one that reads its variable. The parser is the judge at run time and
 * words the reason; zod carries its verdict, so the JSON Schema never promises a type `start()`
 * refuses.
 */
function field(z: Z, spec: OptionSpec): Field {
  const { string, number, boolean } = z;
  const base = { string, number, boolean };
  const branches: Field[] = Object.entries((forms ??= jsonForms())[spec.form]).map(([type, json]) => base[type as keyof typeof base]().meta(json));
  const input = branches.length === 1 ? branches[0]! : z.union(branches as [Field, Field, ...Field[]]);
  return input
    .transform((raw, ctx) => {
      const result = FORMS[spec.form].parse(raw as never);
      if (result.ok) return result.value;
      ctx.issues.push({ code: 'custom', message: result.message, input: raw, params: { expected: result.expected } });
      return z.NEVER;
    })
    .optional()
    .describe(description(spec));
}

function schemaFields(z: Z): Readonly<Record<OptionName, Field>> {
  return (fields ??= Object.freeze(Object.fromEntries(OPTIONS.map((spec) => [spec.option, field(z, spec)]))) as Record<OptionName, Field>);
}

/**
 * Each given option's value, or why it is refused (`start()` reports it naming the option).
 * Keys the table does not know and `undefined` values are skipped: unknown keys get a "did you
 * mean" warning from `config.ts`, and `undefined` means "not set".
 */
export function checkOptions(options: Readonly<Record<string, unknown>>): Map<OptionName, ParseResult<unknown>> {
  const z = loadZod();
  const verdicts = new Map<OptionName, ParseResult<unknown>>();
  for (const [name, raw] of Object.entries(options)) {
    if (raw === undefined || !Object.hasOwn(OPTION, name)) continue;
    const spec = OPTION[name as OptionName];
    if (!z) {
      verdicts.set(spec.option, plainVerdict(spec, raw));
      continue;
    }
    const result = schemaFields(z)[spec.option].safeParse(raw);
    verdicts.set(spec.option, result.success ? { ok: true, value: result.data } : refusal(spec, raw, result.error.issues));
  }
  return verdicts;
}

/** The verdict without zod: a type the form takes, then the form's parser. */
function plainVerdict(spec: OptionSpec, raw: unknown): ParseResult<unknown> {
  const form = FORMS[spec.form];
  if (!Object.hasOwn((forms ??= jsonForms())[spec.form], typeof raw)) return fail(`a ${typeof raw} is not accepted here`, form.expected);
  return form.parse(raw as never);
}

/**
 * Words zod's refusal as the environment's errors are worded: the parser's reason when it judged
 * the value; else the plain verdict's (a type not taken, or a number zod refuses before the
 * parser runs, such as NaN or Infinity).
 */
function refusal(spec: OptionSpec, raw: unknown, issues: readonly Zod.core.$ZodIssue[]): ParseResult<never> {
  const judged = issues.find((issue) => issue.code === 'custom');
  if (judged) return fail(judged.message, (judged.params?.expected as string | undefined) ?? FORMS[spec.form].expected);
  const plain = plainVerdict(spec, raw);
  return plain.ok ? fail(issues[0]?.message ?? 'this value is not accepted', FORMS[spec.form].expected) : plain;
}

/**
 * The JSON Schema (draft 2020-12) of the options: every option with its types, its string
 * patterns or words, its numeric range and a description; no other keys. The parsers judge
 * more (a threshold of at least 1 MiB, a poll interval of at least 10 ms, warn below shutdown);
 * a unit test keeps the schema and the parsers in agreement on the forms.
 */
export function optionsJsonSchema(): Readonly<Record<string, unknown>> {
  if (jsonSchema) return jsonSchema;
  const z = loadZod();
  if (!z) throw new Error('the JSON Schema of the options needs the zod package, which cannot be loaded here');
  const json = z.toJSONSchema(z.strictObject(schemaFields(z)), { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  jsonSchema = Object.freeze({
    ...json,
    title: 'oomguard start() options',
    description:
      "The options of oomguard's start() (docs/configuration.md). Each wins over its environment variable; a string " +
      'takes the variable\'s form, a number is bytes for a threshold and milliseconds for a duration, false turns a threshold off.',
  });
  return jsonSchema;
}
