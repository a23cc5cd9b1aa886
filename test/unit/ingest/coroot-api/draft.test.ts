import { describe, expect, it } from 'vitest';
import { EventFactory } from '../../../../src/events/factory.js';
import { parseCorootBody } from '../../../../src/ingest/coroot/webhook.js';
import { type ApiAlert, alertState, parseAlertsPage } from '../../../../src/ingest/coroot-api/api-alert.js';
import { apiAlertDraft } from '../../../../src/ingest/coroot-api/draft.js';
import { loadFixture } from '../../../helpers/fixtures.js';
import { expectValidEvent } from '../../../helpers/schema.js';

const ctx = { baseUrl: 'https://coroot.example.com', projectId: 'x0xwl4jz' };
const factory = new EventFactory('unit');

function mixed(): ApiAlert[] {
  const page = parseAlertsPage(loadFixture('coroot-api/alerts-mixed.json'));
  if (!page.ok) throw new Error(page.error);
  expect(page.skipped).toEqual([]);
  return page.alerts;
}

function byId(id: string): ApiAlert {
  const found = mixed().find((a) => a.id === id);
  if (!found) throw new Error(`no alert ${id} in the fixture`);
  return found;
}

describe('parseAlertsPage', () => {
  it('reads every alert of a real-looking answer with its state', () => {
    const alerts = mixed();
    expect(alerts.map((a) => [a.id, alertState(a)])).toEqual([
      ['s9q1w5e3r7ty', 'suppressed'],
      ['m4n8b2v6c0xz', 'manual'],
      ['p7d2w9x4m1qa', 'resolved'],
      ['q2w4e6r8t0yu', 'open'],
      ['k3v9q2m8x1za', 'open'],
    ]);
    const page = parseAlertsPage(loadFixture('coroot-api/alerts-mixed.json'));
    expect(page.ok && page.total).toBe(5);
    expect(byId('p7d2w9x4m1qa').details[1]).toEqual({
      name: 'Query',
      value: 'max by (application) (pg_wal_receiver_lag_seconds{application="postgres-main"}) > 30',
      code: true,
    });
  });

  it('reads 0 timestamps (older wire form) as unset and an omitted details as []', () => {
    const page = parseAlertsPage(loadFixture('coroot-api/alerts-zero-times.json'));
    if (!page.ok) throw new Error(page.error);
    const [a] = page.alerts;
    expect(a?.resolvedAt).toBeNull();
    expect(a?.manuallyResolvedAt).toBeNull();
    expect(a?.details).toEqual([]);
    expect(a && alertState(a)).toBe('open');
  });

  it('says not_found for data: null (unknown project)', () => {
    expect(parseAlertsPage(loadFixture('coroot-api/alerts-unknown-project.json'))).toMatchObject({
      ok: false,
      kind: 'not_found',
    });
  });

  it('reads an empty listing', () => {
    expect(parseAlertsPage(loadFixture('coroot-api/alerts-empty.json'))).toMatchObject({
      ok: true,
      alerts: [],
      total: 0,
    });
  });

  it.each([
    ['an array', []],
    ['no data', { context: {} }],
    ['data a string', { data: 'x' }],
    ['alerts not a list', { data: { alerts: {} } }],
  ])('fails the page on a broken envelope: %s', (_name, body) => {
    expect(parseAlertsPage(body)).toMatchObject({ ok: false, kind: 'decode' });
  });

  it('skips one unreadable alert and keeps the rest', () => {
    const body = {
      data: {
        alerts: [
          { id: 'good00000001', opened_at: 1 },
          { id: 'bad000000001', opened_at: 'yesterday' },
          { opened_at: 1 },
          { id: 'bad000000002', suppressed: 'yes' },
        ],
        total: 4,
      },
    };
    const page = parseAlertsPage(body);
    if (!page.ok) throw new Error(page.error);
    expect(page.alerts.map((a) => a.id)).toEqual(['good00000001']);
    expect(page.skipped).toHaveLength(3);
    expect(page.skipped[0]).toMatch(/data\.alerts\[1\].*opened_at/);
  });
});

describe('apiAlertDraft', () => {
  it('gives the same fingerprint and shape as the webhook path for the same alert', () => {
    const webhook = parseCorootBody(loadFixture('coroot/alert-firing-warning.json'));
    if (!webhook.ok) throw new Error(webhook.error);
    const fromWebhook = webhook.drafts[0];
    const fromApi = apiAlertDraft(byId('k3v9q2m8x1za'), 'open', ctx);
    expect(fromApi.fingerprint).toBe(fromWebhook?.fingerprint);
    expect(fromApi.source).toBe('coroot_api');
    expect(fromApi.type).toBe('alert_firing');
    const a = fromApi.data.alert as Record<string, unknown>;
    const w = fromWebhook?.data.alert as Record<string, unknown>;
    for (const key of [
      'id',
      'application',
      'rule',
      'severity',
      'status',
      'summary',
      'details',
      'url',
      'resolution',
    ]) {
      expect(a[key], key).toEqual(w[key]);
    }
    expect(a.project).toEqual({ id: 'x0xwl4jz', name: null });
    expect(Object.keys(a).sort()).toEqual(Object.keys(w).sort());
  });

  it('matches the webhook fingerprint of a manual resolve too', () => {
    const webhook = parseCorootBody(loadFixture('coroot/alert-resolved-manually-resolved-by.json'));
    if (!webhook.ok) throw new Error(webhook.error);
    // The same alert id, now seen through the API after a manual resolve.
    const apiAlert: ApiAlert = { ...byId('m4n8b2v6c0xz'), id: 'p7d2w9x4m1qa' };
    expect(apiAlertDraft(apiAlert, 'manual', ctx).fingerprint).toBe(webhook.drafts[0]?.fingerprint);
  });

  it.each([
    ['p7d2w9x4m1qa', 'resolved', 'auto', 2530, null],
    ['m4n8b2v6c0xz', 'manual', 'manual', 1110, 'jane.doe@example.com'],
    ['s9q1w5e3r7ty', 'suppressed', 'suppressed', null, 'ops@example.com'],
  ] as const)('%s %s → alert_resolved, resolution %s', (id, state, resolution, duration, by) => {
    const draft = apiAlertDraft(byId(id), state, ctx);
    expect(draft.type).toBe('alert_resolved');
    expect(draft.data.alert).toMatchObject({
      status: 'resolved',
      resolution,
      duration_seconds: duration,
      resolved_by: by,
    });
    expectValidEvent(JSON.parse(JSON.stringify(factory.stamp(draft))));
  });

  it('a reopened (firing) alert carries no resolution, resolver or duration', () => {
    const draft = apiAlertDraft(byId('s9q1w5e3r7ty'), 'open', ctx);
    expect(draft.type).toBe('alert_firing');
    expect(draft.data.alert).toMatchObject({
      status: 'firing',
      resolution: null,
      resolved_by: null,
      duration_seconds: null,
    });
    expectValidEvent(JSON.parse(JSON.stringify(factory.stamp(draft))));
  });

  it('a PromQL alert (application "<project>:::") has application null, and keeps the API-only fields in extra', () => {
    const draft = apiAlertDraft(byId('q2w4e6r8t0yu'), 'open', ctx);
    const a = draft.data.alert as Record<string, unknown>;
    expect(a.application).toBeNull();
    expect(a.severity).toBe('critical');
    expect(a.extra).toEqual({
      fingerprint: '9f8e7d6c5b4a3921',
      rule_id: 'custom-1',
      cluster: null,
      opened_at: 1795260600000,
      resolved_at: null,
      manually_resolved_at: null,
      updated_at: 1795260600000,
      suppressed: false,
      report: null,
      notifications: [],
    });
    expectValidEvent(JSON.parse(JSON.stringify(factory.stamp(draft))));
  });

  it('builds the alert link under a base path and escapes ids', () => {
    const draft = apiAlertDraft({ ...byId('k3v9q2m8x1za'), projectId: null }, 'open', {
      baseUrl: 'https://ops.example.com/coroot',
      projectId: 'p 1',
    });
    expect((draft.data.alert as Record<string, unknown>).url).toBe(
      'https://ops.example.com/coroot/p/p%201/alerts?alert=k3v9q2m8x1za',
    );
  });

  it('every fixture alert in every state makes a schema-valid event', () => {
    for (const a of mixed()) {
      for (const state of ['open', 'resolved', 'manual', 'suppressed'] as const) {
        expectValidEvent(JSON.parse(JSON.stringify(factory.stamp(apiAlertDraft(a, state, ctx)))));
      }
    }
  });

  it("reads the API alert's notifications into extra (channel null when Go omitted it)", () => {
    const draft = apiAlertDraft(byId('k3v9q2m8x1za'), 'open', ctx);
    expect((draft.data.alert as { extra: Record<string, unknown> }).extra.notifications).toEqual([
      { type: 'slack', channel: '#alerts' },
      { type: 'webhook', channel: null },
    ]);
  });

  it('a manual close by Coroot itself (resolved_by AI or init) is resolution system, resolved_by verbatim', () => {
    for (const by of ['AI', 'init']) {
      const draft = apiAlertDraft({ ...byId('m4n8b2v6c0xz'), resolvedBy: by }, 'manual', ctx);
      expect(draft.data.alert).toMatchObject({ resolution: 'system', resolved_by: by });
      expectValidEvent(JSON.parse(JSON.stringify(factory.stamp(draft))));
    }
  });

  it('dedup_key: the same change seen by two pollers matches, whatever updated_at each caught', () => {
    const a = apiAlertDraft(byId('m4n8b2v6c0xz'), 'manual', ctx);
    const b = apiAlertDraft({ ...byId('m4n8b2v6c0xz'), updatedAt: 1_795_253_999_000 }, 'manual', ctx);
    expect(a.dedupKey).toMatch(/^[0-9a-f]{16}$/);
    expect(b.dedupKey).toBe(a.dedupKey);
    expect(apiAlertDraft(byId('m4n8b2v6c0xz'), 'open', ctx).dedupKey).not.toBe(a.dedupKey);
  });
});
