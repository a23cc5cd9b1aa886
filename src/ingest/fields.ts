/*
 * Typed reads from an untrusted, JSON.parse'd payload, shared by the webhook parsers.
 * A wrong value throws PayloadError, which each parser's entry point turns into an
 * `unrecognized` draft (unrecognized.ts): exceptions keep the happy path free of result checks, and only a
 * request that is rejected pays for them.
 */
import type { JsonObject, JsonValue, StringMap } from '../events/event.js';

/** A parsed JSON object; only its own keys are ever read. */
export type JsonRecord = { readonly [key: string]: unknown };

/** A payload the sender must fix; its message names the field and what was expected. */
export class PayloadError extends Error {}

const PREVIEW_CHARS = 64;

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON-ish type name for messages: `null` and `array` rather than typeof's `object`. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A short, safe rendering of a bad value: strings quoted and cut, others by type. */
export function preview(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > PREVIEW_CHARS ? `${value.slice(0, PREVIEW_CHARS)}…` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeName(value);
}

/**
 * Own property only: an absent key must not resolve to an Object.prototype member
 * (`constructor`, `toString`) and smuggle a function into the event.
 */
export function own(record: JsonRecord, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

export function invalid(field: string, expected: string, got: unknown): never {
  throw new PayloadError(`"${field}" must be ${expected}, got ${typeName(got)}`);
}

export function invalidValue(field: string, expected: string, got: unknown): never {
  throw new PayloadError(`"${field}" must be ${expected}, got ${preview(got)}`);
}

/** Optional string: absent and null both read as null. */
export function readString(record: JsonRecord, key: string, field: string = key): string | null {
  const value = own(record, key);
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') invalid(field, 'a string', value);
  return value;
}

export function requireString(record: JsonRecord, key: string, field: string = key): string {
  const value = own(record, key);
  if (typeof value !== 'string') invalid(field, 'a string', value);
  return value;
}

/**
 * A `{name: string}` map (labels, annotations) copied into a plain object. Not a prototype-free
 * one (`Object.create(null)`): V8 keeps those in dictionary mode, and Node 26's JSON.stringify
 * fast path takes only objects with the ordinary prototype, 3-4 times faster per event (each map
 * is stringified twice, for `dedup_key` and for the line). The keys are untrusted: `__proto__` is
 * defined as an own data property, and the maps are read only through `own()`, never by a key
 * that could resolve to an Object.prototype member.
 */
export function readStringMap(value: unknown, field: string, required = false): StringMap {
  const out: StringMap = {};
  if (value === undefined || value === null) {
    if (required) invalid(field, 'an object of strings', value);
    return out;
  }
  if (!isRecord(value)) invalid(field, 'an object of strings', value);
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (typeof item !== 'string') invalid(`${field}.${key}`, 'a string', item);
    putOwn(out, key, item);
  }
  return out;
}

/**
 * `out[key] = value` for an untrusted key into a plain object: `__proto__` becomes an own data
 * property (an assignment would call Object.prototype's setter and drop the value).
 */
function putOwn<T>(out: { [key: string]: T }, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    out[key] = value;
  }
}

/** `null`/absent → `[]`; otherwise every element must be a string. */
export function readStringArray(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) invalid(field, 'an array of strings', value);
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== 'string') invalid(`${field}[${i}]`, 'a string', value[i]);
  }
  // Checked element by element above; the parsed array is reused rather than copied.
  return value as string[];
}

/**
 * Top-level keys outside `known`, kept as sent in a plain object, as readStringMap does and for
 * the same reason (a prototype-free one sends the whole event off JSON.stringify's fast path):
 * a `__proto__` key is an own data property, and JSON.stringify still writes it. Values come
 * from JSON.parse, so a shallow check is enough to refuse what JSON cannot carry.
 */
export function collectExtra(record: JsonRecord, known: ReadonlySet<string>): JsonObject {
  const extra: JsonObject = {};
  for (const key of Object.keys(record)) {
    if (known.has(key)) continue;
    const value = record[key];
    if (!isJsonLike(value)) invalid(key, 'a JSON value', value);
    if (nestedTooDeep(value))
      invalid(key, `a JSON value nested at most ${MAX_EXTRA_DEPTH} levels deep`, value);
    putOwn(extra, key, value as JsonValue);
  }
  return extra;
}

/**
 * JSON.parse takes any depth, but JSON.stringify recurses and overflows the stack a few
 * thousand levels down: in the write loop, after the sender was told 202, losing the
 * event uncounted. No real custom field comes near this bound.
 */
export const MAX_EXTRA_DEPTH = 100;

/** Iterative, so the check itself cannot overflow the stack. */
export function nestedTooDeep(value: unknown, maxDepth: number = MAX_EXTRA_DEPTH): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: Array<{ node: object; depth: number }> = [{ node: value, depth: 1 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (top.depth > maxDepth) return true;
    for (const child of Object.values(top.node)) {
      if (typeof child === 'object' && child !== null) stack.push({ node: child, depth: top.depth + 1 });
    }
  }
  return false;
}

function isJsonLike(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'object':
      return true;
    case 'number':
      return Number.isFinite(value);
    default:
      return false;
  }
}
