/*
 * Property-based fuzzing of the two webhook parsers (issue 7): whatever JSON value or
 * bytes arrive, the parser returns, and returns either drafts that stamp into
 * schema-valid events or a rejection with a message; never a throw, never polluted
 * prototypes, the same answer for the same input. A failure prints fast-check's seed.
 *
 * Since issue 16 every JSON object (or array of objects) is accepted: what fits no known
 * shape is an `unrecognized` draft, also schema-valid. So "accepted ⇒ valid event" covers
 * more inputs, and "refused ⇒ 400" is narrower: only a body that is not JSON, not an object
 * or array of objects, or nested too deep to be written back is refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventDraft } from '../../../src/events/event.js';
import { parseAlertmanagerBody } from '../../../src/ingest/alertmanager.js';
import { parseCorootBody } from '../../../src/ingest/coroot/webhook.js';
import { alertmanagerEndpoint, corootEndpoint, type IngestEndpoint } from '../../../src/ingest/endpoints.js';
import type { ParseResult } from '../../../src/ingest/parse-result.js';
import {
  applicationIdLike,
  corootUrlLike,
  draftsText,
  durationLike,
  expectAcceptedDrafts,
  expectPrototypesClean,
  expectRejection,
  fieldArb,
  hostileJson,
  hostileString,
  keysOf,
  mutatedArb,
  nestedArray,
  nestedObject,
  objectOf,
  PROTOTYPE_KEYS,
  rawBodyArb,
  recordArb,
  timeLike,
  viaJson,
} from '../../helpers/arbitraries.js';
import { listFixtures, loadFixture } from '../../helpers/fixtures.js';

/** Per property; ~15 properties share the ≤ 20 s budget of the whole fuzz set on 2 cores. */
const RUNS = 300;

const corootSeeds = listFixtures('coroot').map((name) => loadFixture(`coroot/${name}`));
const alertmanagerSeeds = listFixtures('alertmanager').map((name) => loadFixture(`alertmanager/${name}`));

/** Every field name the fixtures use, at any depth: the names the parsers read. */
const COROOT_FIELDS = keysOf(corootSeeds);
/** The values Coroot's parser branches on, and near misses of them. */
const COROOT_WORDS = [
  ...COROOT_FIELDS,
  'WARNING',
  'CRITICAL',
  'OK',
  'warning',
  'critical',
  'ok',
  'In-progress',
  'Deployed',
  'Stuck',
  'Cancelled',
  'prod:default:Deployment:api',
  'default:Deployment:api',
  ':::',
  'x0x:::',
  'a:b',
  'external:external:db:5432',
  'external:db.example.com:5432:x',
  '42m10s',
  '3d2h',
  '1.5s',
  '500ms',
  '1µs',
  '0',
  '-1s',
  '.s',
  '1.s',
  '1e308w',
  `${'9'.repeat(400)}h`,
  'https://coroot.example.com/p/x0x/alerts?alert=a1b2',
  'https://coroot.example.com/p/x0x/incidents?incident=k1',
  'https://c.example.com/p/%ZZ/app/?alert=&incident=',
  'incidents?incident=',
];

const AM_FIELDS = keysOf(alertmanagerSeeds);
const AM_WORDS = [
  ...AM_FIELDS,
  '4',
  '3',
  'firing',
  'resolved',
  'critical',
  'page',
  'none',
  '0123456789abcdef',
  '0123456789ABCDEF',
  '2024-02-29T23:59:59.999999999+02:00',
  '2024-05-01T10:00:00Z',
  '0001-01-01T00:00:00Z',
  '2023-02-29T10:00:00Z',
  '2023-04-31T10:00:00Z',
  '2023-02-30T10:00:00Z',
  '2024-13-01T00:00:00Z',
  '2024-01-01T24:00:00Z',
  '2024-01-01T10:00:60Z',
  '2024-01-01 10:00:00Z',
];

/**
 * Parses twice and checks everything a result promises; returns the first result.
 * Throws (fails the property) on any broken promise.
 */
function checkParse(parse: (body: unknown) => ParseResult, input: unknown): ParseResult {
  const first = parse(input);
  const second = parse(input);
  if (first.ok) {
    expect(second.ok).toBe(true);
    expect(draftsText((second as { drafts: EventDraft[] }).drafts)).toBe(draftsText(first.drafts));
    expectAcceptedDrafts(first.drafts);
  } else {
    expectRejection(first.error);
    expect(second).toEqual(first);
  }
  expectPrototypesClean();
  return first;
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What src/ingest/server.ts (ingestBody) does with a body it read in full. */
type Answer = { status: 202; body: unknown; drafts: EventDraft[] } | { status: 400; error: string };

function answerTo(endpoint: IngestEndpoint, bytes: Uint8Array): Answer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    return { status: 400, error: `invalid JSON: ${(err as Error).message}` };
  }
  const result = checkParse(endpoint.parse, parsed);
  return result.ok
    ? { status: 202, body: parsed, drafts: result.drafts }
    : { status: 400, error: result.error };
}

function expectAnswer(endpoint: IngestEndpoint, bytes: Uint8Array): void {
  const answer = answerTo(endpoint, bytes);
  if (answer.status === 400) {
    expectRejection(answer.error);
    return;
  }
  // The queue's capacity is checked against endpoint.count before parsing: an accepted body
  // carries exactly that many events, or is kept whole as one `unrecognized` event.
  const types: string[] = answer.drafts.map((draft) => draft.type);
  if (types.length === 1 && types[0] === 'unrecognized') return;
  expect(answer.drafts.length).toBe(endpoint.count(answer.body));
}

/** Fixture-shaped Alertmanager payloads whose fields take any mix of right and wrong values. */
const alertmanagerShaped: fc.Arbitrary<unknown> = fc
  .tuple(
    recordArb(AM_FIELDS, hostileJson(AM_WORDS)),
    fc.array(
      recordArb(
        AM_FIELDS,
        fc.oneof(fc.constantFrom(...AM_WORDS), recordArb(['alertname', 'severity', 'job'], hostileString)),
      ),
      { maxLength: 4 },
    ),
    fc.boolean(),
  )
  .map(([top, alerts, valid]) => {
    const body = top as Record<string, unknown>;
    // Mostly a right envelope, so the alerts themselves get read.
    if (valid) {
      body.version = '4';
      body.alerts = alerts;
    }
    return body;
  });

describe('fuzz: both webhook parsers', () => {
  it.each([
    { name: 'Coroot', parse: parseCorootBody, words: COROOT_WORDS },
    { name: 'Alertmanager', parse: parseAlertmanagerBody, words: AM_WORDS },
  ])(
    '$name, any JSON value: drafts that make valid events, or a rejection with a message',
    ({ parse, words }) => {
      fc.assert(
        fc.property(fc.oneof(fc.jsonValue(), hostileJson(words)), (value) => {
          checkParse(parse, value);
        }),
        { numRuns: RUNS },
      );
    },
  );
});

describe('fuzz: no refusal Coroot or Alertmanager would pay for', () => {
  it.each([
    { name: 'Coroot', parse: parseCorootBody, fields: COROOT_FIELDS },
    { name: 'Alertmanager', parse: parseAlertmanagerBody, fields: AM_FIELDS },
  ])(
    '$name: any JSON object is accepted, each draft a valid event (unrecognized included)',
    ({ parse, fields }) => {
      // Nesting deeper than an event can hold is the one refusal left (tested below).
      const value = fc.jsonValue({ maxDepth: 4 });
      const object = fc.oneof(fc.dictionary(fc.string(), value), recordArb(fields, value));
      fc.assert(
        fc.property(object, (value) => {
          const result = checkParse(parse, viaJson(value));
          expect(result.ok).toBe(true);
        }),
        { numRuns: RUNS },
      );
    },
  );
});

describe('fuzz: Coroot webhook parser', () => {
  it('objects of Coroot field names with right, near and hostile values', () => {
    const value = fc.oneof(fc.constantFrom(...COROOT_WORDS), hostileJson(COROOT_WORDS));
    fc.assert(
      fc.property(recordArb(COROOT_FIELDS, value), (record) => {
        checkParse(parseCorootBody, viaJson(record));
      }),
      { numRuns: RUNS },
    );
  });

  it('mutated fixtures (dropped keys, swapped types, prototype keys, nesting)', () => {
    fc.assert(
      fc.property(mutatedArb(corootSeeds, COROOT_WORDS), (doc) => {
        checkParse(parseCorootBody, doc);
      }),
      { numRuns: RUNS },
    );
  });

  it('arrays of (mutated) notifications: one draft each (unrecognized included), refused only for a non-object item or too deep', () => {
    const item = fc.oneof(fc.constantFrom(...corootSeeds), mutatedArb(corootSeeds, COROOT_WORDS));
    fc.assert(
      fc.property(fc.array(item, { maxLength: 6 }), (items) => {
        const result = checkParse(parseCorootBody, items);
        if (result.ok) expect(result.drafts).toHaveLength(items.length);
        else if (items.every(isPlainObject)) expect(result.error).toMatch(/^JSON nested more than/);
        else expect(result.error).toMatch(/^\[\d+\]: must be a JSON object/);
      }),
      { numRuns: RUNS / 2 },
    );
  });

  it('prototype keys in a notification are kept as plain custom fields', () => {
    const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), hostileString);
    const extras = fc.uniqueArray(fc.tuple(fc.constantFrom(...PROTOTYPE_KEYS), value), {
      selector: ([key]) => key,
      minLength: 1,
    });
    fc.assert(
      fc.property(fc.constantFrom(...corootSeeds), extras, (seed, entries) => {
        const doc = objectOf([...Object.entries(seed as Record<string, unknown>), ...entries]);
        // Through JSON text, as the HTTP layer hands it over.
        const wire = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
        const result = checkParse(parseCorootBody, wire);
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        const draft = result.drafts[0] as EventDraft;
        // A seed of no known shape keeps the keys in `raw`, the others in their custom fields.
        const extra = (
          draft.type === 'unrecognized'
            ? draft.data.raw
            : (Object.values(draft.data)[0] as { extra: Record<string, unknown> }).extra
        ) as Record<string, unknown>;
        for (const [key] of entries) {
          expect(Object.hasOwn(extra, key)).toBe(true);
          expect(JSON.stringify(extra[key])).toBe(JSON.stringify(wire[key]));
        }
      }),
      { numRuns: RUNS / 2 },
    );
  });

  it('fixtures with durations, application ids and urls of every shape', () => {
    const fields = {
      duration: durationLike,
      application: applicationIdLike,
      url: corootUrlLike,
      status: fc.constantFrom('WARNING', 'CRITICAL', 'OK', 'In-progress', 'Deployed', 'Stuck', 'Cancelled'),
      severity: fc.oneof(fc.constantFrom('warning', 'critical', ' Info ', ''), hostileString),
      resolved_by: fc.constantFrom('', 'jane', null),
    };
    fc.assert(
      fc.property(fieldArb(corootSeeds, [], fields), (doc) => {
        checkParse(parseCorootBody, viaJson(doc));
      }),
      { numRuns: RUNS },
    );
  });

  it('custom fields nested deeper than any output can serialize are refused, not accepted', () => {
    const depth = fc.integer({ min: 1, max: 20_000 });
    fc.assert(
      fc.property(fc.constantFrom(...corootSeeds), depth, fc.boolean(), (seed, n, arrays) => {
        // Built as objects, not JSON text: JSON.stringify itself overflows on such depth.
        const doc = objectOf([
          ...Object.entries(seed as Record<string, unknown>),
          ['nested', arrays ? nestedArray(n) : nestedObject(n)],
        ]);
        checkParse(parseCorootBody, doc);
      }),
      { numRuns: 60 },
    );
  });

  it('arbitrary bytes and damaged bodies through the HTTP path: 202 with valid events or 400', () => {
    const bodies = fc.oneof(
      fc.uint8Array({ maxLength: 256 }),
      rawBodyArb(mutatedArb(corootSeeds, COROOT_WORDS), COROOT_WORDS),
      rawBodyArb(fc.constantFrom(...corootSeeds), COROOT_WORDS),
    );
    fc.assert(
      fc.property(bodies, (bytes) => expectAnswer(corootEndpoint, bytes)),
      { numRuns: RUNS },
    );
  });
});

describe('fuzz: Alertmanager webhook parser', () => {
  it('payloads of Alertmanager field names with right, near and hostile values', () => {
    fc.assert(
      fc.property(alertmanagerShaped, (body) => {
        checkParse(parseAlertmanagerBody, viaJson(body));
      }),
      { numRuns: RUNS },
    );
  });

  it('fixtures with times, fingerprints and statuses of every shape', () => {
    const fields = {
      startsAt: timeLike,
      endsAt: timeLike,
      fingerprint: fc.oneof(fc.stringMatching(/^[0-9a-fA-F]{15,17}$/), fc.constantFrom('', null)),
      status: fc.constantFrom('firing', 'resolved', 'Firing', ''),
      generatorURL: fc.constantFrom('', null, 'http://prometheus:9090/graph'),
    };
    const alerts = fieldArb(alertmanagerSeeds, ['alerts', 0], fields);
    fc.assert(
      fc.property(alerts, (doc) => {
        checkParse(parseAlertmanagerBody, viaJson(doc));
      }),
      { numRuns: RUNS },
    );
  });

  it('mutated fixtures: one draft per alert when accepted, or the whole body as one unrecognized draft', () => {
    fc.assert(
      fc.property(mutatedArb(alertmanagerSeeds, AM_WORDS), (doc) => {
        const result = checkParse(parseAlertmanagerBody, doc);
        if (!result.ok) return;
        const [first] = result.drafts;
        if (result.drafts.length === 1 && first?.type === 'unrecognized' && first.data.raw === doc) return;
        expect(result.drafts).toHaveLength((doc as { alerts: unknown[] }).alerts.length);
      }),
      { numRuns: RUNS },
    );
  });

  it('arbitrary bytes and damaged bodies through the HTTP path: 202 with valid events or 400', () => {
    const bodies = fc.oneof(
      fc.uint8Array({ maxLength: 256 }),
      rawBodyArb(mutatedArb(alertmanagerSeeds, AM_WORDS), AM_WORDS),
      rawBodyArb(fc.constantFrom(...alertmanagerSeeds), AM_WORDS),
    );
    fc.assert(
      fc.property(bodies, (bytes) => expectAnswer(alertmanagerEndpoint, bytes)),
      { numRuns: RUNS },
    );
  });
});
