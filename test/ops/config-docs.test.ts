/*
 * docs/configuration.md documents exactly the keys the config reader accepts: each section's
 * table (first column, one key per row) is compared both ways with the reader's own key
 * lists. The lists come from the config modules; the two written inline in src/config
 * (ingest's and basic_auth's) are read from the source, and every `*_KEYS` list declared there
 * must be one this test knows, so a new key or section cannot slip by undocumented.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BASIC_AUTH_KEYS, FILTER_KEYS } from '../../src/config/common.js';
import { COROOT_API_KEYS } from '../../src/config/coroot-api.js';
import { DEDUPE_KEYS } from '../../src/config/dedupe.js';
import { SERVER_AUTH_KEYS, SERVER_KEYS, SERVER_TLS_KEYS } from '../../src/config/server.js';
import { BUFFER_KEYS } from '../../src/outputs/delivery/buffer-config.js';
import { OUTPUT_TYPES } from '../../src/outputs/registry.js';
import { INGEST_ENDPOINT_KEYS, TOP_LEVEL_KEYS } from '../../src/recorder-config/schema.js';
import { parseTestConfig } from '../helpers/config.js';
import { ROOT } from '../helpers/daemon.js';

/** Where config readers live: the shared sections, the whole-file schema, and each output type's config.ts. */
const CONFIG_SOURCES = [
  ...['src/config', 'src/recorder-config'].flatMap((dir) =>
    readdirSync(join(ROOT, dir))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(ROOT, dir, f)),
  ),
  ...readdirSync(join(ROOT, 'src/outputs'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(ROOT, 'src/outputs', d.name, 'config.ts')))
    .map((d) => join(ROOT, 'src/outputs', d.name, 'config.ts')),
];
const DOC = join(ROOT, 'docs/configuration.md');

/** Key lists written inline in src/config (`.map('<key>', [...])`), as this test expects them. */
const INLINE: Record<string, readonly string[]> = {
  ingest: ['coroot', 'alertmanager', 'coroot_api'],
};
const INGEST_KEYS = INLINE.ingest as readonly string[];

/** `*_KEYS` constants of src/config and where this test uses them; KAFKA_KEYS holds values of `key`, not keys. */
const KNOWN_LISTS = new Set([
  'TOP_LEVEL_KEYS',
  'INGEST_ENDPOINT_KEYS',
  'HTTP_AUTH_KEYS', // spread into INGEST_ENDPOINT_KEYS and WEBHOOK_OUTPUT_KEYS
  'BASIC_AUTH_KEYS',
  'FILTER_KEYS',
  'TLS_KEYS',
  'COROOT_API_KEYS',
  'FILE_OUTPUT_KEYS',
  'WEBHOOK_OUTPUT_KEYS',
  'BATCH_KEYS',
  'KAFKA_OUTPUT_KEYS',
  'SASL_KEYS',
  'SERVER_KEYS',
  'SERVER_TLS_KEYS',
  'SERVER_AUTH_KEYS',
  'BUFFER_KEYS',
  'DEDUPE_KEYS',
]);
const NOT_CONFIG_KEYS = new Set(['KAFKA_KEYS']);

const prefixed = (prefix: string, keys: readonly string[]): string[] => keys.map((k) => `${prefix}.${k}`);
const without = (keys: readonly string[], drop: readonly string[]): string[] =>
  keys.filter((k) => !drop.includes(k));

/** Each documented section (by heading) and the keys its tables must list, no more, no fewer. */
const SECTIONS: Array<{ heading: string; keys: string[] }> = [
  { heading: '## Top level', keys: [...TOP_LEVEL_KEYS] },
  {
    heading: '## `server`',
    keys: [
      ...SERVER_KEYS,
      ...prefixed('tls', SERVER_TLS_KEYS),
      ...prefixed('auth', SERVER_AUTH_KEYS),
      ...prefixed('auth.basic_auth', BASIC_AUTH_KEYS),
    ],
  },
  { heading: '## `dedupe`', keys: [...DEDUPE_KEYS] },
  { heading: '## `ingest`', keys: [...INGEST_KEYS] },
  {
    heading: '### `ingest.coroot` and `ingest.alertmanager`',
    keys: [...INGEST_ENDPOINT_KEYS, ...prefixed('basic_auth', BASIC_AUTH_KEYS)],
  },
  { heading: '### `ingest.coroot_api` (pull mode, a list)', keys: [...COROOT_API_KEYS] },
  { heading: '## Filters (every output type)', keys: [...FILTER_KEYS] },
  { heading: '## Buffers (every output type)', keys: prefixed('buffer', BUFFER_KEYS) },
  // Every registered output type: its section documents its own keys and its nested maps' keys
  // (`buffer` is the same block on every type: documented once, in the section above).
  ...OUTPUT_TYPES.map((t) => ({
    heading: `## \`${t.section}\``,
    keys: [
      ...without(t.keys, FILTER_KEYS),
      ...Object.entries(t.nestedKeys).flatMap(([key, keys]) => prefixed(key, keys)),
    ],
  })),
];

/** Keys in the first column of the tables of each `#`-heading section (one code span per row). */
function documentedKeys(markdown: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let heading = '';
  for (const line of markdown.split('\n')) {
    if (/^#{1,6} /.test(line)) {
      heading = line.trim();
      out.set(heading, []);
      continue;
    }
    const m = /^\|\s*`([^`]+)`\s*\|/.exec(line);
    if (m && heading) out.get(heading)?.push(m[1] as string);
  }
  return out;
}

function docProblems(markdown: string): string[] {
  const problems: string[] = [];
  const documented = documentedKeys(markdown);
  for (const { heading, keys } of SECTIONS) {
    const rows = documented.get(heading);
    if (!rows) {
      problems.push(`no section "${heading}"`);
      continue;
    }
    for (const k of keys) if (!rows.includes(k)) problems.push(`${heading}: key \`${k}\` is not documented`);
    for (const r of rows)
      if (!keys.includes(r)) problems.push(`${heading}: \`${r}\` is documented but not accepted`);
    const dup = rows.filter((r, i) => rows.indexOf(r) !== i);
    if (dup.length > 0) problems.push(`${heading}: documented twice: ${dup.join(', ')}`);
  }
  return problems;
}

/** A YAML value for every key at its place (values need not be valid: only "unknown key" matters). */
function everyKeyYaml(): string {
  const map = (keys: readonly string[], nested: Record<string, string> = {}, indent = ''): string =>
    keys.map((k) => `${indent}${k}: ${nested[k] ?? 'x'}`).join('\n');
  const inner = (keys: readonly string[], indent: string): string => `\n${map(keys, {}, indent)}`;
  const auth = { basic_auth: inner(BASIC_AUTH_KEYS, '      ') };
  const outputNested = (extra: Record<string, readonly string[]>): Record<string, string> =>
    Object.fromEntries(Object.entries(extra).map(([k, keys]) => [k, inner(keys, '      ')]));
  return [
    map(without(TOP_LEVEL_KEYS, ['server', 'ingest', ...OUTPUT_TYPES.map((t) => t.section)])),
    'server:',
    map(
      SERVER_KEYS,
      {
        tls: inner(SERVER_TLS_KEYS, '    '),
        auth: `\n${map(SERVER_AUTH_KEYS, { basic_auth: inner(BASIC_AUTH_KEYS, '      ') }, '    ')}`,
      },
      '  ',
    ),
    'ingest:',
    '  coroot:',
    map(INGEST_ENDPOINT_KEYS, auth, '    '),
    '  alertmanager:',
    map(INGEST_ENDPOINT_KEYS, auth, '    '),
    '  coroot_api:',
    `    - ${map(COROOT_API_KEYS, {}, '      ').trimStart()}`,
    ...OUTPUT_TYPES.flatMap((t) => [
      `${t.section}:`,
      `  - ${map(t.keys, outputNested({ ...t.nestedKeys, buffer: BUFFER_KEYS }), '    ').trimStart()}`,
    ]),
  ].join('\n');
}

describe('docs/configuration.md vs the config reader', () => {
  const markdown = readFileSync(DOC, 'utf8');
  const sources = CONFIG_SOURCES.map((f) => ({ file: f, text: readFileSync(f, 'utf8') }));

  it('documents every accepted key, and only those, in its section', () => {
    expect(docProblems(markdown)).toEqual([]);
  });

  it('every key list of src/config is one this test checks', () => {
    const declared = sources.flatMap(({ text }) =>
      [...text.matchAll(/\bconst ([A-Z_]+_KEYS)\s*=/g)].map((m) => m[1] as string),
    );
    expect(declared.length).toBeGreaterThan(5);
    for (const name of declared) {
      if (NOT_CONFIG_KEYS.has(name)) continue;
      expect(
        KNOWN_LISTS.has(name),
        `${name}: export it and add it to this test and docs/configuration.md`,
      ).toBe(true);
    }
    // Inline lists: `.map('<key>', [ ... ])` / `.mapList(...)`.
    const inline = sources.flatMap(({ file, text }) =>
      [...text.matchAll(/\.(?:map|mapList)\(\s*'(\w+)',\s*\[([^\]]*)\]/g)].map((m) => ({
        file,
        key: m[1] as string,
        keys: [...(m[2] as string).matchAll(/'(\w+)'/g)].map((k) => k[1] as string),
      })),
    );
    expect(inline.map((i) => i.key).sort()).toEqual(Object.keys(INLINE).sort());
    for (const i of inline) expect(i.keys, `${i.file}: ${i.key}`).toEqual(INLINE[i.key]);
  });

  it('the reader accepts every key this test expects to be documented', () => {
    const yaml = everyKeyYaml();
    const r = parseTestConfig(yaml);
    const unknown = r.ok ? [] : r.issues.map(String).filter((m) => m.includes('unknown key'));
    expect(unknown, yaml).toEqual([]);
    // ...and the probe itself can see an unknown key.
    const typo = parseTestConfig(yaml.replace('ingest:\n  coroot:', 'ingest:\n  corot:'));
    expect(typo.ok ? [] : typo.issues.map(String).filter((m) => m.includes('unknown key'))).toHaveLength(1);
  });

  it('every output type accepts the filter keys', () => {
    expect(OUTPUT_TYPES.length).toBeGreaterThanOrEqual(3);
    for (const { keys } of OUTPUT_TYPES) {
      for (const k of FILTER_KEYS) expect(keys).toContain(k);
    }
  });

  it.each<[string, (md: string) => string, RegExp]>([
    [
      'an undocumented key',
      (md) => md.replace(/^\| `fsync_interval` .*\n/m, ''),
      /`fsync_interval` is not documented/,
    ],
    [
      'a nested key',
      (md) => md.replace(/^\| `sasl.password_file` .*\n/m, ''),
      /`sasl.password_file` is not documented/,
    ],
    [
      'a key that does not exist',
      (md) => md.replace('| `linger` |', '| `lingering` |'),
      /`lingering` is documented but not accepted/,
    ],
    [
      'a key in the wrong section',
      (md) => md.replace('| `client_id` |', '| `workers` |'),
      /kafka_outputs.*(client_id|workers)/,
    ],
    ['a missing section', (md) => md.replace('## Filters (every output type)', '## Filters'), /no section/],
  ])('catches %s', (_name, breakIt, expected) => {
    const broken = breakIt(markdown);
    expect(broken).not.toBe(markdown);
    expect(docProblems(broken).join('\n')).toMatch(expected);
  });
});
