import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AlertmanagerAlert, EventDraft } from '../../../src/events/event.js';
import { EventFactory } from '../../../src/events/factory.js';
import { serializeEvent } from '../../../src/events/serialize.js';
import { normalizeSeverity } from '../../../src/events/severity.js';
import { parseAlertmanagerBody } from '../../../src/ingest/alertmanager.js';
import { listFixtures, loadFixture } from '../../helpers/fixtures.js';
import { expectValidEvent, validateEvent } from '../../helpers/schema.js';

type Body = Record<string, unknown> & { alerts: Record<string, unknown>[] };

const factory = new EventFactory('test');

/** docs/events.md fallback, computed here without the code under test. */
function labelsFingerprint(labels: Record<string, string>): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((name) => [name, labels[name]]);
  return createHash('sha256')
    .update(`alertmanager/${JSON.stringify(pairs)}`, 'utf8')
    .digest('hex')
    .slice(0, 16);
}

const covered = new Set<string>();
function load(name: string): Body {
  covered.add(name);
  return fixture(name);
}

function fixture(name: string): Body {
  return loadFixture(`alertmanager/${name}`) as Body;
}

function drafts(body: unknown): EventDraft[] {
  const result = parseAlertmanagerBody(body);
  if (!result.ok) throw new Error(`expected ok, got error: ${result.error}`);
  return result.drafts;
}

function errorOf(body: unknown): string {
  const result = parseAlertmanagerBody(body);
  if (result.ok) throw new Error(`expected an error, got ${result.drafts.length} drafts`);
  return result.error;
}

/**
 * The `unrecognized` draft at `index` (docs/events.md): its reason, after checking it keeps
 * `raw` as sent and validates against the schema once stamped.
 */
function unrecognizedReason(body: unknown, raw: unknown, index = 0): string {
  const draft = drafts(body)[index] as EventDraft;
  expect(draft.type).toBe('unrecognized');
  expect(draft.source).toBe('alertmanager');
  expect(draft.severity).toBe('unknown');
  expect(draft.data.raw).toBe(raw);
  expectValidEvent(JSON.parse(serializeEvent(factory.stamp(draft)).toString('utf8')));
  return draft.data.reason as string;
}

function alertOf(draft: EventDraft): AlertmanagerAlert {
  return draft.data.alert as AlertmanagerAlert;
}

function plain<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/** The fixture with its first alert changed. */
function withAlert(change: Record<string, unknown>, name = 'firing-single-alert.json'): Body {
  const body = fixture(name);
  body.alerts[0] = { ...body.alerts[0], ...change };
  return body;
}

const checkoutLabels = {
  alertname: 'HighRequestLatency',
  instance: 'checkout-7d9f8c6b5-x2x9q:8080',
  job: 'checkout',
  namespace: 'shop',
  severity: 'critical',
};

describe('Alertmanager payloads', () => {
  it('firing-single-alert.json: one firing alert, Alertmanager fingerprint kept', () => {
    const [draft, ...rest] = drafts(load('firing-single-alert.json'));
    expect(rest).toEqual([]);
    expect(draft!.source).toBe('alertmanager');
    expect(draft!.type).toBe('alert_firing');
    expect(draft!.severity).toBe('critical');
    expect(draft!.fingerprint).toBe('c8f8a2a7e1b5d3f9');
    expect(plain(alertOf(draft!))).toEqual({
      fingerprint: 'c8f8a2a7e1b5d3f9',
      name: 'HighRequestLatency',
      status: 'firing',
      severity: 'critical',
      labels: checkoutLabels,
      annotations: {
        description: 'p99 latency of checkout is 2.31s (threshold 1s) for the last 10 minutes.',
        runbook_url: 'https://wiki.example.com/runbooks/latency',
        summary: 'checkout is slow',
      },
      starts_at: '2026-11-21T11:40:14.152Z',
      ends_at: null,
      generator_url:
        'http://prometheus-0:9090/graph?g0.expr=histogram_quantile%280.99%2C+rate%28http_request_duration_seconds_bucket%7Bjob%3D%22checkout%22%7D%5B5m%5D%29%29+%3E+1&g0.tab=1',
      group: {
        key: '{}:{alertname="HighRequestLatency"}',
        receiver: 'coroot-event-recorder',
        labels: { alertname: 'HighRequestLatency' },
        external_url: 'http://alertmanager-0:9093',
      },
    });
  });

  it('resolved-with-ends-at.json: resolved, endsAt kept with nanoseconds, same fingerprint', () => {
    const [firing] = drafts(fixture('firing-single-alert.json'));
    const [draft] = drafts(load('resolved-with-ends-at.json'));
    expect(draft!.type).toBe('alert_resolved');
    expect(alertOf(draft!).status).toBe('resolved');
    expect(alertOf(draft!).ends_at).toBe('2026-11-21T12:02:44.152398671Z');
    expect(alertOf(draft!).severity).toBe('critical');
    expect(draft!.fingerprint).toBe(firing!.fingerprint);
  });

  it('firing-zero-ends-at-offset-time.json: zero endsAt → null, offset time kept, "page" → critical', () => {
    const [draft] = drafts(load('firing-zero-ends-at-offset-time.json'));
    const alert = alertOf(draft!);
    expect(alert.ends_at).toBeNull();
    expect(alert.starts_at).toBe('2026-11-21T12:40:14.152+01:00');
    expect(alert.severity).toBe('critical');
    expect(alert.group.key).toBe('{}/{team="db"}:{cluster="eu-west-1"}');
    expect(draft!.fingerprint).toBe('0a1b2c3d4e5f6789');
  });

  it('firing-without-severity.json: no severity label → unknown', () => {
    const [draft] = drafts(load('firing-without-severity.json'));
    const alert = alertOf(draft!);
    expect(draft!.severity).toBe('unknown');
    expect(alert.severity).toBe('unknown');
    expect(alert.name).toBe('Watchdog');
    expect(alert.ends_at).toBe('2026-11-21T11:45:44.921Z');
    expect(plain(alert.group.labels)).toEqual({});
  });

  it('group-multiple-alerts.json: one draft per alert, each with its own status and fingerprint', () => {
    const all = drafts(load('group-multiple-alerts.json'));
    expect(all.map((d) => d.type)).toEqual(['alert_firing', 'alert_firing', 'alert_resolved']);
    expect(all.map((d) => d.fingerprint)).toEqual([
      '1f2e3d4c5b6a7980',
      '2a3b4c5d6e7f8091',
      '3c4d5e6f708192a3',
    ]);
    expect(all.map((d) => alertOf(d).labels.pod)).toEqual([
      'orders-worker-5f7c9-abcde',
      'orders-worker-5f7c9-fghij',
      'orders-worker-5f7c9-klmno',
    ]);
    for (const draft of all) {
      expect(plain(alertOf(draft).group)).toEqual({
        key: '{}/{severity=~"warning|critical"}:{alertname="KubePodCrashLooping", namespace="orders"}',
        receiver: 'sre-team',
        labels: { alertname: 'KubePodCrashLooping', namespace: 'orders' },
        external_url: 'http://alertmanager-main-0:9093',
      });
    }
    expect(alertOf(all[2]!).ends_at).toBe('2026-11-21T11:35:00.000Z');
  });

  it('truncated-without-fingerprint.json: fingerprint computed from the sorted labels', () => {
    const body = load('truncated-without-fingerprint.json');
    const [draft] = drafts(body);
    const alert = alertOf(draft!);
    expect(alert.fingerprint).toBeNull();
    expect(draft!.fingerprint).toBe(labelsFingerprint(body.alerts[0]!.labels as Record<string, string>));
    expect(alert.severity).toBe('warning');
    expect(alert.generator_url).toBeNull();
    expect(alert.starts_at).toBe('2026-11-21T09:12:33.5Z');
  });
});

describe('Alertmanager fingerprints', () => {
  it('falls back to the label set when the fingerprint is not 16 lowercase hex, keeping it as given', () => {
    for (const given of ['C8F8A2A7E1B5D3F9', 'c8f8a2a7', '', 'c8f8a2a7e1b5d3f9aa']) {
      const [draft] = drafts(withAlert({ fingerprint: given }));
      expect(draft!.fingerprint).toBe(labelsFingerprint(checkoutLabels));
      expect(alertOf(draft!).fingerprint).toBe(given);
    }
  });

  it('the label-set fingerprint ignores label order and never includes the status', () => {
    const reversed = Object.fromEntries(Object.entries(checkoutLabels).reverse());
    const [a] = drafts(withAlert({ fingerprint: undefined, labels: reversed }));
    const [b] = drafts(withAlert({ fingerprint: undefined, status: 'resolved' }));
    expect(a!.fingerprint).toBe(labelsFingerprint(checkoutLabels));
    expect(b!.fingerprint).toBe(a!.fingerprint);
  });
});

describe('Alertmanager dedup_key', () => {
  it("ha-peer-a-firing.json / ha-peer-b-firing.json: two peers' copies share it; the resolve does not", () => {
    const [a] = drafts(load('ha-peer-a-firing.json'));
    const [b] = drafts(load('ha-peer-b-firing.json'));
    const [resolved] = drafts(load('ha-peer-b-resolved.json'));
    expect(alertOf(a!).group.external_url).not.toBe(alertOf(b!).group.external_url);
    expect(a!.dedupKey).toBe(b!.dedupKey);
    expect(a!.fingerprint).toBe(b!.fingerprint);
    expect(resolved!.type).toBe('alert_resolved');
    expect(resolved!.fingerprint).toBe(a!.fingerprint);
    expect(resolved!.dedupKey).not.toBe(a!.dedupKey);
  });

  it("unrecognized-grafana-version-1.json: another sender's payload is kept whole, never refused", () => {
    const body = load('unrecognized-grafana-version-1.json');
    expect(drafts(body)).toHaveLength(1);
    expect(unrecognizedReason(body, body)).toBe('unsupported Alertmanager webhook version "1": expected "4"');
  });

  const keyOf = (body: unknown, index = 0): string => (drafts(body)[index] as EventDraft).dedupKey;

  it('is 16 lowercase hex, the same for an HA peer copy (other externalURL, other generatorURL)', () => {
    const body = fixture('firing-single-alert.json');
    const peer = {
      ...withAlert({ generatorURL: 'http://prometheus-1:9090/graph' }),
      externalURL: 'http://am-1:9093',
    };
    expect(keyOf(body)).toMatch(/^[0-9a-f]{16}$/);
    expect(keyOf(peer)).toBe(keyOf(body));
    // An unrecognized payload's copy from another peer too.
    const odd = { ...body, version: '5' };
    expect(keyOf({ ...odd, externalURL: 'http://am-1:9093' })).toBe(keyOf(odd));
  });

  it.each<[string, Record<string, unknown>]>([
    ['a resolve', { status: 'resolved', endsAt: '2026-11-21T11:55:00Z' }],
    ['another startsAt (a new firing)', { startsAt: '2026-11-21T12:40:14.123Z' }],
    ['another endsAt', { endsAt: '2026-11-21T12:00:00Z' }],
    ['another annotation', { annotations: { summary: 'worse now' } }],
    ['another label set', { labels: { alertname: 'HighRequestLatency', severity: 'warning' } }],
  ])('differs for %s', (_, change) => {
    expect(keyOf(withAlert(change))).not.toBe(keyOf(fixture('firing-single-alert.json')));
  });

  it('differs between the alerts of one group', () => {
    const body = fixture('group-multiple-alerts.json');
    const keys = drafts(body).map((d) => d.dedupKey);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('every Alertmanager fixture', () => {
  const names = listFixtures('alertmanager');

  it.each(names)('%s: stamped events validate against the schema', (name) => {
    for (const draft of drafts(fixture(name))) {
      const event = factory.stamp(draft);
      expectValidEvent(event);
      expectValidEvent(JSON.parse(serializeEvent(event).toString('utf8')));
    }
  });

  it('has its own test above', () => {
    expect(names.filter((name) => !covered.has(name))).toEqual([]);
  });
});

describe('Alertmanager body errors', () => {
  it('accepts an empty alerts array as zero drafts', () => {
    expect(parseAlertmanagerBody({ ...fixture('firing-single-alert.json'), alerts: [] })).toEqual({
      ok: true,
      drafts: [],
    });
  });

  it.each([
    [[], 'array'],
    [null, 'null'],
    [7, 'number'],
    ['{}', 'string'],
    [undefined, 'undefined'],
  ])('rejects a non-object body %j', (body, type) => {
    expect(errorOf(body)).toBe(`body must be a JSON object (an Alertmanager webhook payload), got ${type}`);
  });

  it.each<[unknown, string]>([
    ['3', 'unsupported Alertmanager webhook version "3": expected "4"'],
    [4, 'unsupported Alertmanager webhook version 4: expected "4"'],
    [null, 'unsupported Alertmanager webhook version null: expected "4"'],
    [undefined, '"version" is missing: expected Alertmanager webhook version "4"'],
  ])('records version %j as one unrecognized event holding the whole body', (version, message) => {
    const body = { ...fixture('firing-single-alert.json'), version };
    expect(drafts(body)).toHaveLength(1);
    expect(unrecognizedReason(body, body)).toBe(message);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['alerts missing', { alerts: undefined }, '"alerts" must be an array, got undefined'],
    ['alerts type', { alerts: {} }, '"alerts" must be an array, got object'],
    ['alert element', { alerts: ['x'] }, '"alerts[0]" must be an object, got string'],
    ['receiver type', { receiver: 1 }, '"receiver" must be a string, got number'],
    ['group status', { status: 'pending' }, '"status" must be one of "firing", "resolved", got "pending"'],
    ['groupLabels type', { groupLabels: [] }, '"groupLabels" must be an object of strings, got array'],
    ['commonLabels value', { commonLabels: { a: 1 } }, '"commonLabels.a" must be a string, got number'],
    ['externalURL type', { externalURL: false }, '"externalURL" must be a string, got boolean'],
    ['truncatedAlerts', { truncatedAlerts: -1 }, '"truncatedAlerts" must be a non-negative integer, got -1'],
    ['groupKey type', { groupKey: {} }, '"groupKey" must be a string, got object'],
  ])('payload: %s → one unrecognized event holding the whole body', (_, change, message) => {
    const body = { ...fixture('firing-single-alert.json'), ...change };
    expect(drafts(body)).toHaveLength(1);
    expect(unrecognizedReason(body, body)).toBe(message);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['status', { status: 'active' }, '"alerts[0].status" must be one of "firing", "resolved", got "active"'],
    [
      'labels missing',
      { labels: undefined },
      '"alerts[0].labels" must be an object of strings, got undefined',
    ],
    [
      'label value',
      { labels: { alertname: 'X', severity: 3 } },
      '"alerts[0].labels.severity" must be a string, got number',
    ],
    [
      'annotations type',
      { annotations: 'x' },
      '"alerts[0].annotations" must be an object of strings, got string',
    ],
    ['startsAt type', { startsAt: 0 }, '"alerts[0].startsAt" must be a string, got number'],
    [
      'startsAt text',
      { startsAt: 'yesterday' },
      '"alerts[0].startsAt" must be an RFC 3339 time, got "yesterday"',
    ],
    [
      'endsAt text',
      { endsAt: '2026-13-01T00:00:00Z' },
      '"alerts[0].endsAt" must be an RFC 3339 time, got "2026-13-01T00:00:00Z"',
    ],
    ['generatorURL type', { generatorURL: [] }, '"alerts[0].generatorURL" must be a string, got array'],
    ['fingerprint type', { fingerprint: 12 }, '"alerts[0].fingerprint" must be a string, got number'],
  ])('alert: %s → that alert as an unrecognized event', (_, change, message) => {
    const body = withAlert(change);
    expect(unrecognizedReason(body, body.alerts[0])).toBe(message);
  });

  it('records every alert of a group; one that cannot be read is unrecognized, naming it', () => {
    const body = fixture('group-multiple-alerts.json');
    body.alerts[2] = { ...body.alerts[2], labels: null };
    const all = drafts(body);
    expect(all).toHaveLength(body.alerts.length);
    expect(all.filter((d) => d.type === 'unrecognized')).toHaveLength(1);
    expect(unrecognizedReason(body, body.alerts[2], 2)).toBe(
      '"alerts[2].labels" must be an object of strings, got null',
    );
  });
});

describe('Alertmanager prototype safety', () => {
  const json =
    '{"version":"4","receiver":"r","status":"firing","groupLabels":{"__proto__":"g"},' +
    '"alerts":[{"status":"firing","labels":{"alertname":"X","__proto__":"p","constructor":"c","prototype":"q"},' +
    '"annotations":{"__proto__":"a"},"startsAt":"2026-11-21T11:40:14Z","endsAt":"0001-01-01T00:00:00Z"}]}';

  it('keeps __proto__/constructor/prototype labels as plain data', () => {
    const [draft] = drafts(JSON.parse(json));
    const alert = alertOf(draft!);
    // Plain objects (JSON.stringify's fast path), the untrusted keys kept as own data properties.
    expect(Object.getPrototypeOf(alert.labels)).toBe(Object.prototype);
    expect(Object.keys(alert.labels).sort()).toEqual(['__proto__', 'alertname', 'constructor', 'prototype']);
    expect(Object.getOwnPropertyDescriptor(alert.labels, '__proto__')?.value).toBe('p');
    expect(Object.getOwnPropertyDescriptor(alert.annotations, '__proto__')?.value).toBe('a');
    expect(Object.getOwnPropertyDescriptor(alert.group.labels, '__proto__')?.value).toBe('g');
    expect(Reflect.get({}, 'constructor')).toBe(Object);

    const line = serializeEvent(factory.stamp(draft!)).toString('utf8');
    expect(line).toContain('"labels":{"alertname":"X","__proto__":"p","constructor":"c","prototype":"q"}');
    expect(validateEvent(JSON.parse(line))).toEqual([]);
    // The label-set fingerprint sees the prototype keys as ordinary labels.
    expect(draft!.fingerprint).toBe(
      labelsFingerprint(JSON.parse('{"alertname":"X","__proto__":"p","constructor":"c","prototype":"q"}')),
    );
  });

  it('does not let a missing alertname or severity resolve to Object.prototype members', () => {
    const [draft] = drafts(JSON.parse(json.replace('"alertname":"X",', '')));
    expect(alertOf(draft!).name).toBeNull();
    expect(alertOf(draft!).severity).toBe('unknown');
  });
});

describe('Alertmanager robustness', () => {
  it('never throws on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(typeof parseAlertmanagerBody(value).ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on payload-shaped bodies with arbitrary alerts', () => {
    const alert = fc.dictionary(
      fc.constantFrom('status', 'labels', 'annotations', 'startsAt', 'endsAt', 'fingerprint', 'generatorURL'),
      fc.oneof(fc.jsonValue(), fc.constantFrom('firing', 'resolved', '0001-01-01T00:00:00Z')),
    );
    fc.assert(
      fc.property(fc.array(alert, { maxLength: 5 }), (alerts) => {
        const result = parseAlertmanagerBody({ version: '4', alerts });
        if (result.ok)
          for (const draft of result.drafts) expect(validateEvent(factory.stamp(draft))).toEqual([]);
      }),
      { numRuns: 1_000 },
    );
  });

  it('handles many alerts in one payload', () => {
    const body = fixture('firing-single-alert.json');
    body.alerts = Array.from({ length: 10_000 }, () => body.alerts[0]!);
    expect(drafts(body)).toHaveLength(10_000);
  });
});

describe('normalizeSeverity', () => {
  it.each([
    ['critical', 'critical'],
    ['CRITICAL', 'critical'],
    [' Critical ', 'critical'],
    ['error', 'critical'],
    ['page', 'critical'],
    ['warning', 'warning'],
    ['Warn', 'warning'],
    ['info', 'info'],
    ['information', 'info'],
    ['informational', 'info'],
    ['none', 'info'],
    ['high', 'unknown'],
    ['', 'unknown'],
    [undefined, 'unknown'],
    [null, 'unknown'],
  ])('%j → %s', (input, expected) => {
    expect(normalizeSeverity(input)).toBe(expected);
  });
});

describe('event.schema.json rejects a malformed Alertmanager event', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['label value not a string', { labels: { x: 1 } }, '/data/alert/labels/x'],
    ['unknown alert field', { receiver: 'r' }, 'receiver'],
    ['group without key', { group: { receiver: null, labels: {}, external_url: null } }, "'key'"],
    ['ends_at not a time', { ends_at: 'soon' }, '/data/alert/ends_at'],
  ])('%s', (_, change, where) => {
    const [draft] = drafts(fixture('firing-single-alert.json'));
    const event = JSON.parse(serializeEvent(factory.stamp(draft!)).toString('utf8')) as {
      data: { alert: Record<string, unknown> };
    };
    expect(validateEvent(event)).toEqual([]);
    Object.assign(event.data.alert, change);
    const errors = validateEvent(event);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toContain(where);
  });
});
