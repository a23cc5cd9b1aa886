/*
 * docs/events.md documents the event format field by field: every property the JSON Schema
 * (src/events/event.schema.json) defines, at any depth, and every value of its `source` and
 * `type` enums is named in the doc, and the doc links the schema.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/daemon.js';

const SCHEMA_PATH = 'src/events/event.schema.json';
const schema: unknown = JSON.parse(readFileSync(join(ROOT, SCHEMA_PATH), 'utf8'));
const markdown = readFileSync(join(ROOT, 'docs/events.md'), 'utf8');

/** Every key of every `properties` object in the schema. */
function propertyNames(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const n of node) propertyNames(n, out);
  else if (typeof node === 'object' && node !== null) {
    const o = node as Record<string, unknown>;
    if (typeof o.properties === 'object' && o.properties !== null) {
      for (const k of Object.keys(o.properties)) out.add(k);
    }
    for (const v of Object.values(o)) propertyNames(v, out);
  }
  return out;
}

function enumOf(name: 'source' | 'type'): string[] {
  const props = (schema as { properties: Record<string, { enum?: string[] }> }).properties;
  return props[name]?.enum ?? [];
}

/** Names documented: inside code spans or as JSON keys of the examples. */
function documented(md: string, name: string): boolean {
  const word = name.replace(/[.*+?^${}()|[\]\\@]/g, '\\$&');
  return new RegExp(`\`[^\`\\n]*(?<![\\w@])${word}(?![\\w])[^\`\\n]*\`|"${word}"\\s*:`).test(md);
}

function undocumented(md: string): string[] {
  const names = [...propertyNames(schema), ...enumOf('source'), ...enumOf('type')];
  return names.filter((n) => !documented(md, n));
}

describe('docs/events.md vs the event JSON Schema', () => {
  it('names every schema property and every source and type', () => {
    expect(propertyNames(schema).size).toBeGreaterThan(30);
    expect(enumOf('type').length).toBe(9);
    expect(undocumented(markdown)).toEqual([]);
  });

  it('links the schema', () => {
    expect(markdown).toContain(`(../${SCHEMA_PATH})`);
  });

  it('catches an undocumented field', () => {
    const broken = markdown.replaceAll('duration_seconds', 'duration_secs');
    expect(undocumented(broken)).toContain('duration_seconds');
  });
});
