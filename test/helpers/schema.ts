/*
 * The event contract as tests see it: every test that reads output validates it
 * against src/events/event.schema.json through here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';

const SCHEMA_URL = new URL('../../src/events/event.schema.json', import.meta.url);

// ajv-formats is CommonJS; under NodeNext its default export is the module object.
const addFormats = addFormatsModule.default;

// strict: a schema mistake (unknown keyword, type-less applicator) fails loudly here
// instead of silently validating less than it claims to.
const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as object);

/** Schema errors of `value` as readable lines; empty when it is a valid event. */
export function validateEvent(value: unknown): string[] {
  if (validate(value)) return [];
  return (validate.errors ?? []).map(describeError);
}

export function expectValidEvent(value: unknown): void {
  const errors = validateEvent(value);
  if (errors.length > 0) {
    throw new Error(
      `event does not match event.schema.json:\n  ${errors.join('\n  ')}\n${JSON.stringify(value)}`,
    );
  }
}

function describeError(error: ErrorObject): string {
  const where = error.instancePath === '' ? '(event)' : error.instancePath;
  const params = error.params as Record<string, unknown>;
  let detail = '';
  if (typeof params.additionalProperty === 'string') detail = `: "${params.additionalProperty}"`;
  else if (Array.isArray(params.allowedValues)) detail = `: ${JSON.stringify(params.allowedValues)}`;
  else if ('allowedValue' in params) detail = `: ${JSON.stringify(params.allowedValue)}`;
  return `${where} ${error.message ?? error.keyword}${detail}`;
}

/** Parses a JSONL file (one JSON value per line, trailing newline optional). */
export async function readJsonl(path: string): Promise<unknown[]> {
  const text = await readFile(path, 'utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line, index) => {
    try {
      return JSON.parse(line) as unknown;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`${path}:${index + 1}: not a JSON line (${reason}): ${line.slice(0, 200)}`);
    }
  });
}

/** An event as tests read it back: the fields the schema requires of every event. */
export interface EventLine {
  '@timestamp': string;
  id: string;
  instance: string;
  source: string;
  type: string;
  fingerprint: string;
  data: Record<string, Record<string, unknown>>;
}

/**
 * Every line of a JSONL output, each checked against the event schema; none while the file
 * does not exist yet. `T` is the shape the caller reads of an event.
 */
export async function readEvents<T = EventLine>(path: string): Promise<T[]> {
  if (!existsSync(path)) return [];
  const lines = (await readJsonl(path)) as T[];
  for (const line of lines) expectValidEvent(line);
  return lines;
}

/** The ids of the lines of a JSONL file, in order, each line checked against the event schema. */
export async function idsIn(path: string): Promise<string[]> {
  const values = await readJsonl(path);
  for (const value of values) expectValidEvent(value);
  return values.map((v) => (v as { id: string }).id);
}
