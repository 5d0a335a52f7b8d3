/**
 * The options of `start()` as a zod schema, built from the option table (`options.ts`): it
 * validates the options a program passes to `start()`, and its JSON Schema is what `oomguard
 * schema` prints for editors and CI checks. One schema for both, so what an editor accepts and
 * what `start()` accepts come from the same rows.
 *
 * zod stays off every start-up path: `require('zod')` takes 55-150 ms on the development machine
 * (docs/configuration.md, "Why the parsers are hand-written"), several times the agent's whole
 * start-up, so it is required on the first call here, never on import. The preload passes no
 * options and never calls in; a program that calls `start(options)` pays it once, at that call.
 */

import type * as Zod from 'zod';
import { fail, type ParseResult } from './units';
import { OPTION, OPTIONS, type OptionName, type OptionSpec } from './options';

type Z = typeof Zod.z;
type Field = Zod.ZodType<unknown, unknown>;

let zod: Z | undefined;
let fields: Readonly<Record<OptionName, Field>> | undefined;
let jsonSchema: Readonly<Record<string, unknown>> | undefined;

function z(): Z {
  return (zod ??= (require('zod') as typeof Zod).z);
}

/** Markdown as plain text: links to this repository's docs dropped, code marks removed. */
function plain(markdown: string): string {
  return markdown.replace(/ *\(\[[^\]]*\]\([^)]*\)\)/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replaceAll('`', '');
}

/** The description an editor shows for an option: its variable(s), meaning and expected form. */
function description(spec: OptionSpec): string {
  const variables = [spec.variable, ...(spec.alsoVariables ?? [])].join(', ');
  return `${variables}: ${plain(spec.doc)}. Expected ${spec.form.expected}.`;
}

/**
 * One option: the JS types it takes (with their JSON Schema as metadata for editors), then the
 * option's parser, the same one that reads its variable. The parser is the judge at run time and
 * words the reason; zod carries its verdict, so the JSON Schema never promises a type `start()`
 * refuses.
 */
function field(spec: OptionSpec): Field {
  const { string, number, boolean } = z();
  const base = { string, number, boolean };
  const branches: Field[] = Object.entries(spec.form.json).map(([type, json]) => base[type as keyof typeof base]().meta(json));
  const input = branches.length === 1 ? branches[0]! : z().union(branches as [Field, Field, ...Field[]]);
  return input
    .transform((raw, ctx) => {
      const result = spec.form.parse(raw as never);
      if (result.ok) return result.value;
      ctx.issues.push({ code: 'custom', message: result.message, input: raw, params: { expected: result.expected } });
      return z().NEVER;
    })
    .optional()
    .describe(description(spec));
}

function schemaFields(): Readonly<Record<OptionName, Field>> {
  return (fields ??= Object.freeze(Object.fromEntries(OPTIONS.map((spec) => [spec.option, field(spec)]))) as Record<OptionName, Field>);
}

/**
 * Each given option's value, or why it is refused (`start()` reports it naming the option).
 * Keys the table does not know and `undefined` values are skipped: unknown keys get a "did you
 * mean" warning from `config.ts`, and `undefined` means "not set".
 */
export function checkOptions(options: Readonly<Record<string, unknown>>): Map<OptionName, ParseResult<unknown>> {
  const verdicts = new Map<OptionName, ParseResult<unknown>>();
  for (const [name, raw] of Object.entries(options)) {
    if (raw === undefined || !Object.hasOwn(OPTION, name)) continue;
    const spec = OPTION[name as OptionName];
    const result = schemaFields()[spec.option].safeParse(raw);
    verdicts.set(spec.option, result.success ? { ok: true, value: result.data } : refusal(spec, raw, result.error.issues));
  }
  return verdicts;
}

/**
 * Words a refusal as the environment's errors are worded: the parser's reason when it judged the
 * value; else, for a type the option takes (a number zod refuses, such as NaN or Infinity), the
 * parser's reason for that value; else the type is not accepted.
 */
function refusal(spec: OptionSpec, raw: unknown, issues: readonly Zod.core.$ZodIssue[]): ParseResult<never> {
  const judged = issues.find((issue) => issue.code === 'custom');
  if (judged) return fail(judged.message, (judged.params?.expected as string | undefined) ?? spec.form.expected);
  if (Object.hasOwn(spec.form.json, typeof raw)) {
    const result = spec.form.parse(raw as never);
    if (!result.ok) return fail(result.message, result.expected);
  }
  return fail(`a ${typeof raw} is not accepted here`, spec.form.expected);
}

/**
 * The JSON Schema (draft 2020-12) of the options: every option with its types, its string
 * patterns or words, its numeric range and a description; no other keys. The parsers judge
 * more (a threshold of at least 1 MiB, a poll interval of at least 10 ms, warn below shutdown);
 * a unit test keeps the schema and the parsers in agreement on the forms.
 */
export function optionsJsonSchema(): Readonly<Record<string, unknown>> {
  if (jsonSchema) return jsonSchema;
  const schema = z().strictObject(schemaFields());
  const json = z().toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  jsonSchema = Object.freeze({
    ...json,
    title: 'oomguard start() options',
    description:
      "The options of oomguard's start() (docs/configuration.md). Each wins over its environment variable; a string " +
      'takes the variable\'s form, a number is bytes for a threshold and milliseconds for a duration, false turns a threshold off.',
  });
  return jsonSchema;
}
