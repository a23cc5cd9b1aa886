/*
 * Property-based fuzzing of the Coroot alerts API decoding (issue 7): any answer body
 * either fails the page with a message (error_decode / error_not_found, never a throw)
 * or yields alerts whose every possible event (one per state) is schema-valid.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALERT_STATES, parseAlertsPage } from '../../../../src/ingest/coroot-api/api-alert.js';
import { apiAlertDraft } from '../../../../src/ingest/coroot-api/draft.js';
import {
  applicationIdLike,
  expectAcceptedDrafts,
  expectPrototypesClean,
  expectRejection,
  fieldArb,
  hostileJson,
  hostileNumber,
  hostileString,
  keysOf,
  mutatedArb,
  recordArb,
  viaJson,
} from '../../../helpers/arbitraries.js';
import { listFixtures, loadFixture } from '../../../helpers/fixtures.js';

const RUNS = 300;
const ctx = { baseUrl: 'https://coroot.example.com', projectId: 'x0xwl4jz' };

const seeds = listFixtures('coroot-api').map((name) => loadFixture(`coroot-api/${name}`));
/** Every field name the fixtures use: the envelope's and the alerts'. */
const ALERT_FIELDS = keysOf(seeds);
const WORDS = [
  ...ALERT_FIELDS,
  'data',
  'alerts',
  'total',
  'context',
  'warning',
  'critical',
  'name',
  'value',
  'code',
];

/** Decodes a body and checks the page's promise; the drafts of every state of every alert too. */
function checkPage(body: unknown): void {
  const page = parseAlertsPage(body);
  expect(parseAlertsPage(body)).toEqual(page);
  if (!page.ok) {
    expect(['decode', 'not_found']).toContain(page.kind);
    expectRejection(page.error);
  } else {
    expect(page.total === null || (Number.isSafeInteger(page.total) && page.total >= 0)).toBe(true);
    for (const reason of page.skipped) expectRejection(reason);
    for (const alert of page.alerts) {
      expectAcceptedDrafts(ALERT_STATES.map((state) => apiAlertDraft(alert, state, ctx)));
    }
  }
  expectPrototypesClean();
}

/** One alert object whose fields take right, near and hostile values. */
const alertValue = fc.oneof(
  fc.constantFrom('warning', 'critical', '', 'a1', null, true, false, 0, 1_700_000_000_000),
  hostileNumber,
  hostileString,
  applicationIdLike,
  hostileJson(WORDS),
);

describe('fuzz: Coroot alerts API answer', () => {
  it('any JSON value: a page of alerts or a decode/not_found failure with a message', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), hostileJson(WORDS)), (body) => checkPage(body)),
      { numRuns: RUNS },
    );
  });

  it('well-formed envelopes around alerts of every shape', () => {
    const body = fc
      .tuple(fc.array(recordArb(ALERT_FIELDS, alertValue), { maxLength: 5 }), hostileJson())
      .map(([alerts, total]) => ({ data: { alerts, total } }));
    fc.assert(
      fc.property(body, (b) => checkPage(viaJson(b))),
      { numRuns: RUNS },
    );
  });

  it('mutated fixtures', () => {
    fc.assert(
      fc.property(mutatedArb(seeds, WORDS), (body) => checkPage(body)),
      { numRuns: RUNS },
    );
  });

  it('fixture alerts with ids, timestamps and application ids of every shape', () => {
    const fields = {
      id: fc.oneof(fc.constantFrom('', 'a1', '%', '\ud800', '\udc00x', '/..'), hostileString),
      project_id: fc.oneof(fc.constantFrom('', 'p', '\ud800'), hostileString),
      application_id: applicationIdLike,
      opened_at: hostileNumber,
      resolved_at: hostileNumber,
      manually_resolved_at: hostileNumber,
      suppressed: fc.constantFrom(true, false, null, 'true'),
    };
    fc.assert(
      fc.property(fieldArb(seeds, ['data', 'alerts', 0], fields), (body) => checkPage(viaJson(body))),
      { numRuns: RUNS },
    );
  });
});
