/*
 * Property-based fuzzing of the config loader (issue 7): any YAML text, and damaged
 * versions of real configs, either load or fail with issues that each name the file,
 * a line and (past YAML syntax) the key; never a throw, never a hang, alias bombs included.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { expandEnv } from '../../../src/config/env.js';
import { TOP_LEVEL_KEYS } from '../../../src/recorder-config/schema.js';
import { expectPrototypesClean, hostileString, PROTOTYPE_KEYS } from '../../helpers/arbitraries.js';
import { CONFIG_FILE, parseTestConfig } from '../../helpers/config.js';

const RUNS = 100;
/** A parse of a few KB takes well under a millisecond; this only catches hangs and blow-ups. */
const MAX_PARSE_MS = 1000;

const env = { DATA_DIR: '/var/lib/cer', KEY: 'k-123', EMPTY: '' };
const files = { '/secrets/kafka': 'pw\n', '/secrets/token': 't0k\n', '/etc/cer/ca.pem': 'PEM' };

const SHIPPED = readFileSync(new URL('../../../config/recorder.yaml', import.meta.url), 'utf8');

/** Every section and most keys at once, as in the config unit tests. */
const FULL = `instance: edge-1
listen_address: 0.0.0.0:19880
queue_size: 16
on_queue_full: drop
shutdown_timeout: 1m30s
max_body_bytes: 512KiB
ingest:
  coroot:
    enabled: true
    basic_auth: { username: coroot, password: "\${KEY}" }
  alertmanager:
    bearer_token_file: /secrets/token
  coroot_api:
    - url: https://coroot.example.com/
      project: x0xwl4jz
      email: rec@example.com
      password: "\${KEY}"
      interval: 30s
      page_size: 100
file_outputs:
  - path: \${DATA_DIR}/events.jsonl
    fsync: always
    event_types: [alert_firing, alert_resolved]
    sources: [coroot]
    min_severity: warning
    file_mode: "0640"
webhook_outputs:
  - url: https://user:p%40ss@hooks.example.com/in
    headers: { X-Team: sre, X-Api-Key: "\${KEY}" }
    timeout: 5s
    workers: 2
    max_attempts: 3
    batch: { max_events: 10, max_bytes: 64KiB, flush_interval: 0 }
    tls: { ca_file: ca.pem, insecure_skip_verify: false }
kafka_outputs:
  - brokers: [kafka-0.kafka:9092, 10.0.0.2:9093]
    topic: ops.events_v1
    acks: all
    compression: snappy
    key: fingerprint
    linger: 5ms
    sasl: { mechanism: scram-sha-512, username: rec, password_file: /secrets/kafka }
`;

const KEYS = [
  ...TOP_LEVEL_KEYS,
  'coroot',
  'alertmanager',
  'coroot_api',
  'enabled',
  'basic_auth',
  'username',
  'password',
  'password_file',
  'bearer_token',
  'bearer_token_file',
  'url',
  'project',
  'path',
  'fsync',
  'name',
  'headers',
  'batch',
  'tls',
  'brokers',
  'topic',
  'sasl',
  'mechanism',
  'event_types',
  'min_severity',
];

/** YAML scalars and fragments that trip loaders: tags, aliases, odd numbers, env references. */
const YAML_VALUES = [
  '~',
  'null',
  "''",
  '"\\ud800"',
  '"a\\u0000b"',
  '0x1F',
  '0o17',
  '1e999',
  '.nan',
  '-.inf',
  '-0',
  '9007199254740993',
  '2001-12-14t21:59:43.10-05:00',
  '${DATA_DIR}',
  '${NOPE}',
  '${constructor}',
  '${__proto__}',
  '${toString:-x}',
  '$$',
  '${',
  '[a, b]',
  '{a: 1}',
  '[]',
  '{}',
  '*a',
  '&a x',
  '!!str 1',
  '!!int x',
  '!!float',
  '!!binary aGVsbG8=',
  '!!set {a}',
  '!!omap [a: 1]',
  '!custom x',
  '|\n  block',
  '9999999999999999999GiB',
  '99999999999y',
  '1024 GiB',
  '0640',
  'http://[::1',
  'https://x/%zz',
  ...PROTOTYPE_KEYS,
];

/** Lines of a real config, damaged: lines dropped, doubled, swapped, re-indented, values or keys replaced. */
const damagedConfig: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(SHIPPED, FULL),
    fc.array(
      fc.tuple(
        fc.constantFrom('drop', 'double', 'swap', 'indent', 'dedent', 'value', 'key', 'insert'),
        fc.nat(),
        fc.nat(),
        fc.oneof(fc.constantFrom(...YAML_VALUES), hostileString),
        fc.constantFrom(...KEYS, ...PROTOTYPE_KEYS, '<<', '? [a]', '- x'),
      ),
      { minLength: 1, maxLength: 5 },
    ),
  )
  .map(([text, edits]) => {
    const lines = text.split('\n');
    for (const [op, a, b, value, key] of edits) {
      const i = a % lines.length;
      const j = b % lines.length;
      const line = lines[i] as string;
      const indent = line.length - line.trimStart().length;
      switch (op) {
        case 'drop':
          lines.splice(i, 1);
          break;
        case 'double':
          lines.splice(i, 0, line);
          break;
        case 'swap':
          lines[i] = lines[j] as string;
          lines[j] = line;
          break;
        case 'indent':
          lines[i] = `  ${line}`;
          break;
        case 'dedent':
          lines[i] = line.replace(/^ {1,2}/, '');
          break;
        case 'value':
          lines[i] = line.includes(': ')
            ? `${line.slice(0, line.indexOf(': '))}: ${value}`
            : `${line} ${value}`;
          break;
        case 'key':
          lines[i] =
            `${' '.repeat(indent)}${key}${line.includes(':') ? line.slice(line.indexOf(':')) : ': x'}`;
          break;
        case 'insert':
          lines.splice(i, 0, `${' '.repeat(indent)}${key}: ${value}`);
          break;
      }
      if (lines.length === 0) lines.push('');
    }
    return lines.join('\n');
  });

/** Token soup of YAML's syntax characters and config words. */
const yamlSoup: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        ...': -?,[]{}&*!|>\'"%@`#\n\t'.split(''),
        '\n  ',
        '\n- ',
        '---\n',
        '...\n',
        '%YAML 1.2\n',
        '<<: ',
      ),
      fc.constantFrom(...KEYS, ...YAML_VALUES),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));

/** Structurally plausible documents: mappings of config keys to arbitrary values, as YAML. */
const structured: fc.Arbitrary<string> = fc
  .dictionary(
    fc.constantFrom(...KEYS),
    fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.array(fc.dictionary(fc.constantFrom(...KEYS), fc.jsonValue({ maxDepth: 2 })), { maxLength: 2 }),
    ),
  )
  .map((doc) => stringify(doc));

/** Messages that are about the document as a whole, so they have no key to name. */
const WHOLE_DOCUMENT = /^(YAML: |the top level must be a mapping|keys must be plain strings)/;

function checkLoad(text: string): void {
  const started = performance.now();
  const result = parseTestConfig(text, env, files);
  expect(performance.now() - started).toBeLessThan(MAX_PARSE_MS);
  if (result.ok) {
    expect(result.config.file).toBe(CONFIG_FILE);
    expect(Number.isSafeInteger(result.config.queueSize)).toBe(true);
  } else {
    expect(result.issues.length).toBeGreaterThan(0);
    for (const issue of result.issues) {
      expect(issue.file).toBe(CONFIG_FILE);
      expect(Number.isInteger(issue.line) && (issue.line as number) >= 1).toBe(true);
      expect(issue.message.trim()).not.toBe('');
      if (issue.path === '') expect(issue.message).toMatch(WHOLE_DOCUMENT);
      expect(String(issue)).toMatch(new RegExp(`^${CONFIG_FILE}:\\d+: `));
    }
  }
  expectPrototypesClean();
}

/** `levels` of anchors, each a list of ten aliases to the one before: 10^levels nodes if expanded. */
function aliasBomb(levels: number, under: string): string {
  const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i <= levels; i++) {
    lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
  }
  lines.push(`${under}: *a${levels}`);
  return lines.join('\n');
}

describe('fuzz: config file', () => {
  it('the seeds themselves load', () => {
    for (const text of [SHIPPED, FULL]) {
      const r = parseTestConfig(text, env, files);
      expect(r.ok ? [] : r.issues.map(String)).toEqual([]);
    }
  });

  it('damaged real configs load or fail with file:line: key: message', () => {
    fc.assert(fc.property(damagedConfig, checkLoad), { numRuns: RUNS * 1.5 });
  });

  it('YAML token soup and arbitrary text load or fail cleanly', () => {
    const text = fc.oneof(
      yamlSoup,
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 100 }),
    );
    fc.assert(fc.property(text, checkLoad), { numRuns: RUNS * 1.5 });
  });

  it('mappings of config keys to any values load or fail cleanly', () => {
    fc.assert(fc.property(structured, checkLoad), { numRuns: RUNS });
  });

  it('alias bombs ("billion laughs") fail fast wherever they are used', () => {
    const under = fc.constantFrom('file_outputs', 'instance', 'ingest', 'queue_size', 'a_top_level_typo');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), under, (levels, key) => {
        checkLoad(aliasBomb(levels, key));
        expect(parseTestConfig(aliasBomb(levels, key), env, files).ok).toBe(false);
      }),
      { numRuns: 20 },
    );
  });

  it('${VAR} never resolves to an Object.prototype member', () => {
    const name = fc.oneof(
      fc.constantFrom(...PROTOTYPE_KEYS, '__defineGetter__', 'isPrototypeOf'),
      fc.stringMatching(/^[A-Za-z_]\w{0,8}$/),
    );
    fc.assert(
      fc.property(name, (n) => {
        const r = expandEnv(`\${${n}}`, {});
        expect(r.ok).toBe(false);
        expect(expandEnv(`\${${n}:-fallback}`, {})).toEqual({ ok: true, value: 'fallback' });
      }),
      { numRuns: RUNS },
    );
  });
});
