/*
 * fast-check generators and invariant checks shared by the parser fuzz tests
 * (the *.fuzz.test.ts files under test/unit/). Random JSON rarely gets past a parser's first type check,
 * so most generators start from real fixtures and mutate them, and draw their values
 * from the words the parsers branch on mixed with values known to break naive code.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import type { EventDraft, RecorderEvent } from '../../src/events/event.js';
import { EventFactory } from '../../src/events/factory.js';
import { serializeEvent } from '../../src/events/serialize.js';
import { expectValidEvent } from './schema.js';

/** Keys that mean something to JS objects: they must come out of a parser as plain data. */
export const PROTOTYPE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
] as const;

/** Any UTF-16 code unit, lone surrogates included: JSON.parse makes them from `"\ud800"` escapes. */
export const anyCodeUnit: fc.Arbitrary<string> = fc
  .integer({ min: 0, max: 0xffff })
  .map((c) => String.fromCharCode(c));

/** Strings that break naive code: empty, number-like, control, BOM, surrogates, RTL, huge. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      'NaN',
      'Infinity',
      '-Infinity',
      '-0',
      '1e308',
      '0x10',
      'null',
      'true',
      '\u0000',
      '\ud800',
      '\udfff',
      '\ufeff',
      'é',
      '🔥',
      'e\u0301',
      '\u202e',
      '\n',
      ...PROTOTYPE_KEYS,
    ),
  },
  { weight: 3, arbitrary: fc.string({ unit: anyCodeUnit, maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
  // Rare, so thousands of runs stay fast; big enough to pass any preview/slice limit.
  { weight: 1, arbitrary: fc.integer({ min: 65, max: 70_000 }).map((n) => 'x'.repeat(n)) },
);

/** Numbers JSON.parse can produce, `-0` and `Infinity` (from `1e999`) included. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 0.5, 1e308, -1e308, 5e-324, 2 ** 53 + 2, Infinity, -Infinity),
  fc.double({ noNaN: true }),
  fc.integer(),
);

/** `depth` nested arrays (built iteratively: a recursive builder would hit the stack first). */
export function nestedArray(depth: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** `depth` nested one-key objects. */
export function nestedObject(depth: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = { k: value };
  return value;
}

/** An object with these entries as own properties, even `__proto__` (as JSON.parse makes it). */
export function objectOf(entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of entries) setOwn(out, key, value);
  return out;
}

function setOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A value as it would arrive over HTTP: its JSON text parsed back (`-0` survives, like on the wire). */
export function viaJson(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? undefined : (JSON.parse(text) as unknown);
}

/**
 * Any value JSON.parse can produce, with hostile strings, numbers and keys, nested a
 * little or (rarely) far deeper than any real payload.
 */
export function hostileJson(words: readonly string[] = []): fc.Arbitrary<unknown> {
  const strings = words.length > 0 ? fc.oneof(fc.constantFrom(...words), hostileString) : hostileString;
  const keys = fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS, ...words, 'k'), fc.string({ maxLength: 6 }));
  const leaf: fc.Arbitrary<unknown> = fc.oneof(fc.constantFrom(null, true, false), hostileNumber, strings);
  const tree = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.array(fc.tuple(keys, tie('value')), { maxLength: 4 }).map(objectOf),
    ),
  })).value;
  return fc.oneof(
    { weight: 12, arbitrary: tree },
    {
      weight: 1,
      arbitrary: fc
        // Deep, yet shallow enough for JSON.stringify (the tests send values through JSON text).
        .tuple(fc.integer({ min: 50, max: 1000 }), fc.boolean())
        .map(([depth, arrays]) => (arrays ? nestedArray(depth) : nestedObject(depth))),
    },
  );
}

// ---------------------------------------------------------------- field-shaped values

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Mostly `valid`, sometimes `edge`: one broken component at a time reaches the checks behind the others. */
function mostly<T>(valid: fc.Arbitrary<T>, edge: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: edge });
}

/** RFC 3339-shaped times, each component sometimes out of range (Feb 29 of 2023, 24:00, +24:00). */
export const timeLike: fc.Arbitrary<string> = fc
  .tuple(
    mostly(fc.constantFrom(2023, 2024, 1900, 2000, 1), fc.constantFrom(0, 9999)),
    mostly(fc.integer({ min: 1, max: 12 }), fc.constantFrom(0, 13)),
    fc.oneof(fc.integer({ min: 1, max: 28 }), fc.integer({ min: 29, max: 31 }), fc.constantFrom(0, 32)),
    mostly(fc.integer({ min: 0, max: 23 }), fc.constant(24)),
    mostly(fc.integer({ min: 0, max: 59 }), fc.constant(60)),
    mostly(fc.integer({ min: 0, max: 59 }), fc.constantFrom(60, 61)),
    mostly(fc.constantFrom('', '.5', '.123456789'), fc.constantFrom('.', '.1234567890123')),
    mostly(fc.constantFrom('Z', '+02:00', '-23:59'), fc.constantFrom('z', '+24:00', '', '+0200')),
    mostly(fc.constant('T'), fc.constantFrom('t', ' ')),
  )
  .map(
    ([y, mo, d, h, mi, s, frac, zone, sep]) =>
      `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}${sep}${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${frac}${zone}`,
  );

/** Go-duration-shaped text, right and wrong: "1h5m", "1.5s", "3d", ".5s", "-1s", "1e3s", "9…9h". */
export const durationLike: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.nat().map(String),
        fc.constantFrom('1.5', '.5', '5.', '', '1e3', '-1', '+1', '9'.repeat(320)),
      ),
      fc.constantFrom('ns', 'us', 'µs', 'μs', 'ms', 's', 'm', 'h', 'd', 'w', 'y', '', 'S'),
    ),
    { maxLength: 4 },
  )
  .map((parts) => parts.map(([n, unit]) => n + unit).join(''));

/** Colon-joined parts like Coroot application ids, from none to too many. */
export const applicationIdLike: fc.Arbitrary<string> = fc
  .array(fc.constantFrom('', 'prod', 'default', 'Deployment', 'external', 'api', 'host:5432'), {
    maxLength: 6,
  })
  .map((parts) => parts.join(':'));

/** Coroot-style links with the project, alert and incident parts present, empty or odd. */
export const corootUrlLike: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('https://c.example.com', '', 'https://c.example.com/p/base'),
    fc.constantFrom('/p/', '/p', '/x/'),
    fc.oneof(
      fc.constantFrom('', 'x0x', '%', '%ZZ', '?', '\ud800'),
      fc.string({ unit: anyCodeUnit, maxLength: 4 }),
    ),
    fc.constantFrom('/alerts', '/incidents', '/app/a', ''),
    fc.constantFrom('?alert=', '?incident=', '&alert=', '?x=1&alert=', '', '#alert='),
    fc.oneof(fc.constantFrom('', 'a1', '&', '#'), fc.string({ unit: anyCodeUnit, maxLength: 4 })),
  )
  .map((parts) => parts.join(''));

/**
 * Sets one field, chosen by name, of an object inside `seed` (the object found by
 * following `path`, a list of keys) to a value drawn for that field.
 */
export function fieldArb(
  seeds: readonly unknown[],
  path: readonly (string | number)[],
  fields: Readonly<Record<string, fc.Arbitrary<unknown>>>,
): fc.Arbitrary<unknown> {
  const entries = Object.entries(fields).map(([field, value]) => value.map((v) => [field, v] as const));
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(fc.oneof(...entries), { minLength: 1, maxLength: 3 }))
    .map(([seed, sets]) => {
      const root = cloneJson(seed);
      let target: unknown = root;
      for (const step of path)
        target = isContainer(target) ? (target as Record<string, unknown>)[step] : undefined;
      if (isContainer(target) && !Array.isArray(target))
        for (const [field, value] of sets) setOwn(target, field, value);
      return root;
    });
}

// ---------------------------------------------------------------- mutations

/** One change to a JSON tree: where (`steps` pick a child at each level), what, and with which value. */
export interface Mutation {
  steps: number[];
  op: 'delete' | 'replace' | 'add' | 'wrap_array' | 'wrap_object' | 'duplicate';
  key: string;
  value: unknown;
}

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}

/** The object keys used anywhere in `docs`, sorted: the field names a parser reads. */
export function keysOf(docs: readonly unknown[]): string[] {
  const keys = new Set<string>();
  const stack: unknown[] = [...docs];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (!isContainer(node)) continue;
    if (!Array.isArray(node)) for (const key of Object.keys(node)) keys.add(key);
    stack.push(...Object.values(node));
  }
  return [...keys].sort();
}

/** A deep copy that keeps `__proto__` keys as own data, as JSON.parse does. */
export function cloneJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneJson);
  if (!isContainer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) setOwn(out, key, cloneJson((value as Record<string, unknown>)[key]));
  return out;
}

function childKeys(node: Container): string[] {
  return Array.isArray(node) ? node.map((_, i) => String(i)) : Object.keys(node);
}

/** Applies `m` to `root` in place; returns the (possibly new) root. */
export function applyMutation(root: unknown, m: Mutation): unknown {
  if (!isContainer(root)) return m.op === 'wrap_array' ? [root] : m.value;
  let parent: Container = root;
  let key: string | null = null;
  for (const step of m.steps) {
    const node = key === null ? parent : (parent as Record<string, unknown>)[key];
    if (!isContainer(node)) break;
    const keys = childKeys(node);
    if (keys.length === 0) break;
    parent = node;
    key = keys[step % keys.length] as string;
  }
  if (key === null) {
    // Stayed at the root: change the root object itself.
    if (m.op === 'wrap_array') return [root];
    if (m.op === 'duplicate' && Array.isArray(root)) root.push(cloneJson(root[0]));
    else if (!Array.isArray(root)) setOwn(root, m.key, m.value);
    return root;
  }
  const current = (parent as Record<string, unknown>)[key];
  switch (m.op) {
    case 'delete':
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
      break;
    case 'replace':
      setOwn(parent, key, m.value);
      break;
    case 'add':
      if (Array.isArray(parent)) parent.push(m.value);
      else setOwn(parent, m.key, m.value);
      break;
    case 'wrap_array':
      setOwn(parent, key, [current]);
      break;
    case 'wrap_object':
      setOwn(parent, key, objectOf([[m.key, current]]));
      break;
    case 'duplicate':
      if (Array.isArray(parent)) parent.push(cloneJson(current));
      else setOwn(parent, m.key, cloneJson(current));
      break;
  }
  return root;
}

/** Mutations whose keys and values come from `words` (the parser's field names and values) and hostile ones. */
export function mutationArb(words: readonly string[]): fc.Arbitrary<Mutation> {
  return fc.record({
    steps: fc.array(fc.nat(), { maxLength: 5 }),
    op: fc.constantFrom('delete', 'replace', 'replace', 'add', 'wrap_array', 'wrap_object', 'duplicate'),
    key: fc.oneof(fc.constantFrom(...words, ...PROTOTYPE_KEYS), hostileString),
    // Mostly the parser's own words: a right-looking value in the wrong place reaches deeper.
    value: fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...words) }, hostileJson(words)),
  });
}

/** Real documents, each mutated 1 to 4 times (a copy: the seeds are left alone). */
export function mutatedArb(seeds: readonly unknown[], words: readonly string[]): fc.Arbitrary<unknown> {
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(mutationArb(words), { minLength: 1, maxLength: 4 }))
    .map(([seed, mutations]) => mutations.reduce(applyMutation, cloneJson(seed)));
}

/** Objects made of `keys` (and prototype keys) with values from `value`: reaches past "unknown kind". */
export function recordArb(keys: readonly string[], value: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const key = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...keys) },
    fc.constantFrom(...PROTOTYPE_KEYS),
  );
  return fc.array(fc.tuple(key, value), { maxLength: keys.length + 2 }).map(objectOf);
}

// ---------------------------------------------------------------- raw bytes

const BOM = Uint8Array.of(0xef, 0xbb, 0xbf);
/** Byte sequences that are not UTF-8: a lone continuation, an overlong '/', an encoded surrogate, 0xff. */
const INVALID_UTF8 = [
  Uint8Array.of(0x80),
  Uint8Array.of(0xc0, 0xaf),
  Uint8Array.of(0xed, 0xa0, 0x80),
  Uint8Array.of(0xff),
  Uint8Array.of(0xf4, 0x90, 0x80, 0x80),
];

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/**
 * The JSON text of a document as bytes, then damaged the ways senders and networks
 * damage it: a BOM, a key repeated (JSON.parse keeps the last), invalid UTF-8 spliced
 * in, the body cut short.
 */
export function rawBodyArb(
  documents: fc.Arbitrary<unknown>,
  words: readonly string[],
): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      documents,
      fc.constantFrom('none', 'bom', 'duplicate_key', 'invalid_utf8', 'truncate'),
      fc.nat(),
      fc.constantFrom(...words, ...PROTOTYPE_KEYS),
      hostileJson(words),
      fc.constantFrom(...INVALID_UTF8),
    )
    .map(([doc, damage, at, key, value, bad]) => {
      const text = JSON.stringify(doc) ?? 'null';
      const bytes = Buffer.from(text, 'utf8');
      const cut = bytes.length === 0 ? 0 : at % bytes.length;
      switch (damage) {
        case 'bom':
          return concat(BOM, bytes);
        case 'duplicate_key': {
          const brace = text.indexOf('{', at % Math.max(1, text.length));
          const open = brace >= 0 ? brace : text.indexOf('{');
          if (open < 0) return bytes;
          const member = `${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'}`;
          const sep = text[open + 1] === '}' ? '' : ',';
          return Buffer.from(`${text.slice(0, open + 1)}${member}${sep}${text.slice(open + 1)}`, 'utf8');
        }
        case 'invalid_utf8':
          return concat(bytes.subarray(0, cut), bad, bytes.subarray(cut));
        case 'truncate':
          return bytes.subarray(0, cut);
        default:
          return bytes;
      }
    });
}

// ---------------------------------------------------------------- invariants

const factory = new EventFactory('fuzz');

/**
 * What "accepted" promises: every draft stamps into a schema-valid event that the
 * write loop can serialize (a throw there would lose an accepted event uncounted).
 */
export function expectAcceptedDrafts(drafts: readonly EventDraft[]): RecorderEvent[] {
  return drafts.map((draft) => {
    const event = factory.stamp(draft);
    const line = serializeEvent(event);
    expectValidEvent(JSON.parse(line.toString('utf8')));
    return event;
  });
}

/** A rejection as the sender sees it: a non-empty, single-purpose message. */
export function expectRejection(error: string): void {
  expect(typeof error).toBe('string');
  expect(error.trim()).not.toBe('');
}

/** The JSON of drafts: what must not change between two parses of one input (ids and times come later). */
export function draftsText(drafts: readonly EventDraft[]): string {
  return JSON.stringify(drafts);
}

const OBJECT_PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();
const ARRAY_PROTO_KEYS = Object.getOwnPropertyNames(Array.prototype).sort();

/** Nothing a parser did added to or replaced the shared prototypes. */
export function expectPrototypesClean(): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(OBJECT_PROTO_KEYS);
  expect(Object.getOwnPropertyNames(Array.prototype).sort()).toEqual(ARRAY_PROTO_KEYS);
  expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  expect(typeof Object.prototype.toString).toBe('function');
}
