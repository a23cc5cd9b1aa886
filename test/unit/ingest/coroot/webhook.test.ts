import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type {
  CorootAlert,
  CorootDeployment,
  CorootIncident,
  EventDraft,
  JsonObject,
} from '../../../../src/events/event.js';
import { EventFactory } from '../../../../src/events/factory.js';
import { serializeEvent } from '../../../../src/events/serialize.js';
import {
  corootAlertFingerprint,
  normalizeCorootApplication,
  parseCorootBody,
  parseGoDuration,
} from '../../../../src/ingest/coroot/webhook.js';
import { listFixtures, loadFixture } from '../../../helpers/fixtures.js';
import { expectValidEvent, validateEvent } from '../../../helpers/schema.js';

/** docs/events.md's formula, computed here without the code under test. */
function sha16(input: string): string {
  return createHash('sha256').update(input, 'utf8').digest('hex').slice(0, 16);
}

const factory = new EventFactory('test');

function drafts(body: unknown): EventDraft[] {
  const result = parseCorootBody(body);
  if (!result.ok) throw new Error(`expected ok, got error: ${result.error}`);
  return result.drafts;
}

function only(body: unknown): EventDraft {
  const all = drafts(body);
  expect(all).toHaveLength(1);
  return all[0]!;
}

function fixture(name: string): Record<string, unknown> {
  return loadFixture(`coroot/${name}`) as Record<string, unknown>;
}

function alertOf(draft: EventDraft): CorootAlert {
  return draft.data.alert as CorootAlert;
}

function incidentOf(draft: EventDraft): CorootIncident {
  return draft.data.incident as CorootIncident;
}

function deploymentOf(draft: EventDraft): CorootDeployment {
  return draft.data.deployment as CorootDeployment;
}

function errorOf(body: unknown): string {
  const result = parseCorootBody(body);
  if (result.ok) throw new Error(`expected an error, got ${result.drafts.length} drafts`);
  return result.error;
}

/**
 * The `unrecognized` draft at `index` (docs/events.md): its reason, after checking that it
 * keeps the object as sent and validates once stamped.
 */
function unrecognizedReason(body: unknown, index = 0): string {
  const draft = drafts(body)[index] as EventDraft;
  expect(draft.type).toBe('unrecognized');
  expect(draft.source).toBe('coroot');
  expect(draft.data.raw).toBe(Array.isArray(body) ? body[index] : body);
  expect(validateEvent(roundTrip(draft))).toEqual([]);
  return draft.data.reason as string;
}

/** What a consumer reads: the bytes an output writes, parsed back. */
function roundTrip(draft: EventDraft): Record<string, unknown> {
  return JSON.parse(serializeEvent(factory.stamp(draft)).toString('utf8')) as Record<string, unknown>;
}

/** Plain-object view of the (prototype-free) parts of a draft, for toEqual. */
function plain<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

const covered = new Set<string>();
function load(name: string): Record<string, unknown> {
  covered.add(name);
  return fixture(name);
}

describe('Coroot alerts', () => {
  it('alert-firing-warning.json: firing WARNING alert, ids parsed from the url', () => {
    const draft = only(load('alert-firing-warning.json'));
    expect(draft.source).toBe('coroot');
    expect(draft.type).toBe('alert_firing');
    expect(draft.severity).toBe('warning');
    expect(draft.fingerprint).toBe(sha16('coroot/alert/x0xwl4jz/k3v9q2m8x1za'));
    expect(plain(alertOf(draft))).toEqual({
      id: 'k3v9q2m8x1za',
      project: { id: 'x0xwl4jz', name: 'production' },
      application: {
        id: 'x0xwl4jz:shop:Deployment:catalog',
        cluster: 'x0xwl4jz',
        namespace: 'shop',
        kind: 'Deployment',
        name: 'catalog',
      },
      rule: 'Storage space',
      severity: 'warning',
      status: 'firing',
      summary: 'disk space is low on /dev/sda1 (12% free)',
      details: [{ name: 'Findings', value: '/data: 88% used', code: false }],
      duration_seconds: null,
      resolution: null,
      resolved_by: null,
      url: 'https://coroot.example.com/p/x0xwl4jz/alerts?alert=k3v9q2m8x1za',
      extra: {},
    });
  });

  it('alert-resolved-ok-duration-days.json: OK with a duration in days resolves automatically', () => {
    const firing = only(fixture('alert-firing-warning.json'));
    const draft = only(load('alert-resolved-ok-duration-days.json'));
    const alert = alertOf(draft);
    expect(draft.type).toBe('alert_resolved');
    expect(alert.status).toBe('resolved');
    expect(alert.duration_seconds).toBe(3 * 86_400 + 2 * 3_600);
    expect(alert.resolution).toBe('auto');
    expect(alert.resolved_by).toBeNull();
    // Coroot keeps the rule's severity on the OK message.
    expect(alert.severity).toBe('warning');
    expect(draft.fingerprint).toBe(firing.fingerprint);
    expect(draft.fingerprint).toBe(sha16('coroot/alert/x0xwl4jz/k3v9q2m8x1za'));
  });

  it('alert-firing-critical-details-code.json: CRITICAL alert with code details', () => {
    const draft = only(load('alert-firing-critical-details-code.json'));
    const alert = alertOf(draft);
    expect(draft.type).toBe('alert_firing');
    expect(draft.severity).toBe('critical');
    expect(alert.severity).toBe('critical');
    expect(alert.application?.kind).toBe('StatefulSet');
    expect(alert.details.map((d) => d.code)).toEqual([false, true, false]);
    expect(alert.details[1]?.value).toBe(
      'max by (application) (pg_wal_receiver_lag_seconds{application="postgres-main"}) > 30',
    );
    expect(draft.fingerprint).toBe(sha16('coroot/alert/x0xwl4jz/p7d2w9x4m1qa'));
  });

  it('alert-resolved-manually-resolved-by.json: resolved_by means a manual resolution', () => {
    const firing = only(fixture('alert-firing-critical-details-code.json'));
    const draft = only(load('alert-resolved-manually-resolved-by.json'));
    const alert = alertOf(draft);
    expect(draft.type).toBe('alert_resolved');
    expect(alert.resolution).toBe('manual');
    expect(alert.resolved_by).toBe('jane.doe@example.com');
    expect(alert.duration_seconds).toBe(42 * 60 + 10);
    expect(draft.fingerprint).toBe(firing.fingerprint);
  });

  it('alert-without-rule-name-custom-field.json: no rule_name (a custom field took it) is still an alert, by its url', () => {
    const draft = only(load('alert-without-rule-name-custom-field.json'));
    const alert = alertOf(draft);
    expect(draft.type).toBe('alert_firing');
    expect(alert.rule).toBeNull();
    expect(alert.id).toBe('r5t7y9u1i3op');
    expect(alert.project).toEqual({ id: 'x0xwl4jz', name: 'production' });
    expect(alert.severity).toBe('warning');
    expect(plain(alert.extra)).toEqual({ team: 'payments' });
    expect(draft.fingerprint).toBe(sha16('coroot/alert/x0xwl4jz/r5t7y9u1i3op'));
  });

  it('alert-without-url-custom-field.json: no url keeps the rest; fingerprint from project name, application and rule', () => {
    const draft = only(load('alert-without-url-custom-field.json'));
    const alert = alertOf(draft);
    expect(draft.type).toBe('alert_firing');
    expect(alert.url).toBeNull();
    expect(alert.id).toBeNull();
    expect(alert.project).toEqual({ id: null, name: 'production' });
    expect(alert.rule).toBe('HTTP errors');
    expect(alert.details).toEqual([]);
    expect(plain(alert.extra)).toEqual({ env: 'prod' });
    expect(draft.fingerprint).toBe(
      sha16('coroot/alert/production/x0xwl4jz:payments:Deployment:api/HTTP errors'),
    );
  });

  it('alert-without-project-name-custom-field.json: no project_name keeps the id from the url', () => {
    const draft = only(load('alert-without-project-name-custom-field.json'));
    const alert = alertOf(draft);
    expect(alert.project).toEqual({ id: 'x0xwl4jz', name: null });
    expect(alert.rule).toBe('Pod restarts');
    expect(plain(alert.extra)).toEqual({ team: 'web' });
    expect(draft.fingerprint).toBe(sha16('coroot/alert/x0xwl4jz/g4h6j8k0l2zx'));
  });

  it('alert-without-rule-name-and-url.json: neither rule_name nor url: an alert by its severity', () => {
    const draft = only(load('alert-without-rule-name-and-url.json'));
    const alert = alertOf(draft);
    expect(draft.type).toBe('alert_resolved');
    expect(alert.rule).toBeNull();
    expect(alert.url).toBeNull();
    expect(alert.duration_seconds).toBe(300);
    expect(plain(alert.extra)).toEqual({ region: 'eu-west-1' });
    expect(draft.fingerprint).toBe(sha16('coroot/alert/production/x0xwl4jz:shop:Deployment:catalog/'));
  });

  it('alert-resolved-duration-years-weeks.json: "1y2w" is 365 + 14 days', () => {
    const alert = alertOf(only(load('alert-resolved-duration-years-weeks.json')));
    expect(alert.duration_seconds).toBe((365 + 14) * 86_400);
    expect(alert.resolution).toBe('auto');
  });

  it('alert-resolved-duration-weeks-days.json: "2w3d" is 17 days', () => {
    const alert = alertOf(only(load('alert-resolved-duration-weeks-days.json')));
    expect(alert.duration_seconds).toBe(17 * 86_400);
  });

  it('alert-firing-info.json / alert-resolved-info-severity-unknown.json: INFO fires as info; its resolve reads severity unknown; one fingerprint', () => {
    const firing = only(load('alert-firing-info.json'));
    expect(firing.type).toBe('alert_firing');
    expect(firing.severity).toBe('info');
    expect(alertOf(firing).severity).toBe('info');
    const resolved = only(load('alert-resolved-info-severity-unknown.json'));
    expect(resolved.type).toBe('alert_resolved');
    expect(alertOf(resolved).severity).toBe('unknown');
    expect(alertOf(resolved).duration_seconds).toBe(750);
    expect(resolved.fingerprint).toBe(firing.fingerprint);
    expect(resolved.fingerprint).toBe(sha16('coroot/alert/x0xwl4jz/i1n2f3o4a5b6'));
    expect(resolved.dedupKey).not.toBe(firing.dedupKey);
  });

  it('an UNKNOWN status (a rule severity Coroot cannot read) is a firing alert of unknown severity', () => {
    const draft = only({ ...fixture('alert-firing-info.json'), status: 'UNKNOWN', severity: 'unknown' });
    expect(draft.type).toBe('alert_firing');
    expect(draft.severity).toBe('unknown');
  });

  it.each([
    ['alert-resolved-by-ai.json', 'AI', 'system'],
    ['alert-resolved-by-init.json', 'init', 'system'],
    ['alert-suppressed-by-user.json', 'Jane Doe', 'manual'],
    ['alert-resolved-via-mcp.json', 'jane.doe@example.com (via MCP)', 'manual'],
    ['alert-resolved-manually-resolved-by.json', 'jane.doe@example.com', 'manual'],
    ['alert-resolved-ok-duration-days.json', null, 'auto'],
  ])('%s: resolved_by %j kept verbatim, resolution %s', (name, by, resolution) => {
    const draft = only(load(name));
    expect(draft.type).toBe('alert_resolved');
    expect(alertOf(draft).resolved_by).toBe(by);
    expect(alertOf(draft).resolution).toBe(resolution);
  });

  it('unrecognized-custom-template.json: a custom template is recorded as sent, never refused', () => {
    const body = load('unrecognized-custom-template.json');
    const draft = only(body);
    expect(draft.type).toBe('unrecognized');
    expect(draft.severity).toBe('unknown');
    expect(plain(draft.data)).toEqual({
      raw: body,
      reason: expect.stringMatching(/^not a Coroot notification: expected an alert/),
    });
    expect(draft.fingerprint).toBe(sha16(`unrecognized/coroot/${JSON.stringify(body)}`));
  });

  it('alert-resolved-duration-hours.json: "1h5m" is 3900 seconds', () => {
    const draft = only(load('alert-resolved-duration-hours.json'));
    const alert = alertOf(draft);
    expect(alert.duration_seconds).toBe(3_900);
    expect(alert.details).toEqual([]);
    expect(alert.project).toEqual({ id: 'stg7ab2c', name: 'staging' });
    expect(draft.fingerprint).toBe(sha16('coroot/alert/stg7ab2c/a1b2c3d4e5f6'));
  });

  it('alert-promql-project-application.json: "<project>:::" means no application', () => {
    const draft = only(load('alert-promql-project-application.json'));
    const alert = alertOf(draft);
    expect(alert.application).toBeNull();
    expect(alert.details).toEqual([
      { name: 'Expression', value: 'sum by (group) (kafka_consumergroup_lag) > 10000', code: true },
    ]);
    expect(draft.fingerprint).toBe(sha16('coroot/alert/x0xwl4jz/q9w8e7r6t5y4'));
  });

  it('alert-promql-empty-application.json: ":::" means no application', () => {
    const draft = only(load('alert-promql-empty-application.json'));
    expect(alertOf(draft).application).toBeNull();
    expect(alertOf(draft).details).toEqual([]);
    expect(draft.severity).toBe('critical');
    expect(draft.fingerprint).toBe(sha16('coroot/alert/x0xwl4jz/z0x9c8v7b6n5'));
  });

  it('alert-old-three-part-application.json: Coroot < 1.17 id has no cluster', () => {
    const draft = only(load('alert-old-three-part-application.json'));
    const alert = alertOf(draft);
    expect(alert.application).toEqual({
      id: 'default:Deployment:checkout',
      cluster: null,
      namespace: 'default',
      kind: 'Deployment',
      name: 'checkout',
    });
    expect(alert.project).toEqual({ id: 'a8f3k2m1', name: null });
    expect(draft.fingerprint).toBe(sha16('coroot/alert/a8f3k2m1/m4n5b6v7c8x9'));
  });

  it('alert-old-external-service-name-with-colon.json: old external service keeps host:port', () => {
    const alert = alertOf(only(load('alert-old-external-service-name-with-colon.json')));
    expect(alert.application).toEqual({
      id: 'external:ExternalService:10.0.4.17:5432',
      cluster: null,
      namespace: 'external',
      kind: 'ExternalService',
      name: '10.0.4.17:5432',
    });
  });

  it('alert-application-name-with-colon.json: 4-part id, the name keeps its ":"', () => {
    const alert = alertOf(only(load('alert-application-name-with-colon.json')));
    expect(alert.application).toEqual({
      id: 'external:external:ExternalService:redis.cache.internal:6379',
      cluster: 'external',
      namespace: 'external',
      kind: 'ExternalService',
      name: 'redis.cache.internal:6379',
    });
  });

  it('alert-without-project-name.json: Coroot < 1.18.2 sends no project_name', () => {
    const draft = only(load('alert-without-project-name.json'));
    expect(alertOf(draft).project).toEqual({ id: 'a8f3k2m1', name: null });
    expect(draft.fingerprint).toBe(sha16('coroot/alert/a8f3k2m1/s1l2o3a4v5b6'));
  });

  it('alert-custom-fields.json: custom fields land in extra with their JSON values', () => {
    const alert = alertOf(only(load('alert-custom-fields.json')));
    expect(plain(alert.extra)).toEqual({
      team: 'payments',
      environment: 'production',
      runbook: 'https://wiki.example.com/runbooks/cpu',
      priority: 2,
      tags: ['shop', 'tier-1'],
      owner: { name: 'Payments SRE', slack: '#payments-sre' },
    });
    // Known fields do not leak into extra.
    expect(Object.keys(alert.extra)).not.toContain('rule_name');
  });

  it('alert-custom-fields-prototype-keys.json: __proto__/constructor/prototype stay plain data', () => {
    const body = load('alert-custom-fields-prototype-keys.json');
    expect(Object.hasOwn(body, '__proto__')).toBe(true);
    const draft = only(body);
    const extra: JsonObject = alertOf(draft).extra;
    // A plain object (JSON.stringify's fast path), the keys own data properties.
    expect(Object.getPrototypeOf(extra)).toBe(Object.prototype);
    expect(Object.keys(extra).sort()).toEqual(['__proto__', 'constructor', 'hasOwnProperty', 'prototype']);
    expect(Object.getOwnPropertyDescriptor(extra, '__proto__')?.value).toEqual({
      polluted: 'yes',
      isAdmin: true,
    });
    expect(extra.prototype).toBe('plain value');
    expect(Reflect.get({}, 'polluted')).toBeUndefined();
    expect(Reflect.get(Object.prototype, 'isAdmin')).toBeUndefined();

    const line = serializeEvent(factory.stamp(draft)).toString('utf8');
    expect(line).toContain('"__proto__":{"polluted":"yes","isAdmin":true}');
    expect(line).toContain('"constructor":{"prototype":{"polluted":"yes"}}');
    const parsed = roundTrip(draft) as { data: { alert: { extra: Record<string, unknown> } } };
    expect(Object.hasOwn(parsed.data.alert.extra, '__proto__')).toBe(true);
  });

  it('alert-escaped-html-summary.json: Go-escaped \\u003c \\u003e \\u0026 decode to < > &', () => {
    const alert = alertOf(only(load('alert-escaped-html-summary.json')));
    expect(alert.summary).toBe('p99 latency > 500ms & error rate < 1% on <GET /api/search>');
    expect(alert.details[0]?.value).toBe(
      'histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[5m])) > 0.5 && up == 1',
    );
    expect(alert.details[0]?.code).toBe(true);
  });

  it('alert-non-ascii-emoji.json: non-ASCII and emoji text survive serialization', () => {
    const draft = only(load('alert-non-ascii-emoji.json'));
    const alert = alertOf(draft);
    expect(alert.rule).toBe('Ошибки 🔥');
    expect(alert.project.name).toBe('продакшен');
    expect(alert.application?.name).toBe('panier-€');
    expect(alert.details).toEqual([{ name: 'Équipe', value: 'Paiements 💳', code: false }]);
    const parsed = roundTrip(draft) as { data: { alert: CorootAlert } };
    expect(parsed.data.alert.summary).toBe(alert.summary);
    expect(parsed.data.alert.rule).toBe('Ошибки 🔥');
  });

  it('alert-custom-template-url-without-alert-id.json: fingerprint falls back to name/app/rule', () => {
    const body = load('alert-custom-template-url-without-alert-id.json');
    const draft = only(body);
    const alert = alertOf(draft);
    expect(alert.id).toBeNull();
    expect(alert.project).toEqual({ id: 'x0xwl4jz', name: 'production' });
    expect(alert.extra).toEqual({ source: 'coroot-prod' });
    expect(draft.fingerprint).toBe(
      sha16('coroot/alert/production/x0xwl4jz:shop:Deployment:catalog/Storage space'),
    );
    const resolved = only({ ...body, status: 'OK', duration: '500ms' });
    expect(resolved.type).toBe('alert_resolved');
    expect(alertOf(resolved).duration_seconds).toBe(0.5);
    expect(resolved.fingerprint).toBe(draft.fingerprint);
  });

  it('fallback fingerprint uses empty parts when name and application are missing', () => {
    const draft = only({ status: 'WARNING', rule_name: 'Custom', url: 'https://hooks.example.com/x' });
    expect(alertOf(draft).project).toEqual({ id: null, name: null });
    expect(alertOf(draft).application).toBeNull();
    expect(draft.fingerprint).toBe(sha16('coroot/alert///Custom'));
  });

  it('missing severity falls back to the firing status; "" reads as unknown when resolved', () => {
    const body = fixture('alert-firing-warning.json');
    const { severity: _, ...noSeverity } = body;
    expect(alertOf(only({ ...noSeverity, status: 'CRITICAL' })).severity).toBe('critical');
    expect(alertOf(only({ ...body, severity: '' })).severity).toBe('warning');
    expect(alertOf(only({ ...body, severity: '', status: 'OK' })).severity).toBe('unknown');
    expect(alertOf(only({ ...body, severity: 'CRITICAL' })).severity).toBe('critical');
  });

  it('firing and resolve share a fingerprint, which never depends on the status', () => {
    const body = fixture('alert-firing-critical-details-code.json');
    const prints = ['WARNING', 'CRITICAL', 'OK'].map((status) => only({ ...body, status }).fingerprint);
    expect(new Set(prints).size).toBe(1);
  });

  it('corootAlertFingerprint gives pull mode the same fingerprint as the webhook', () => {
    const webhook = only(fixture('alert-firing-warning.json'));
    const pulled = corootAlertFingerprint({
      projectId: 'x0xwl4jz',
      alertId: 'k3v9q2m8x1za',
      projectName: null,
      applicationId: 'x0xwl4jz:shop:Deployment:catalog',
      rule: 'Storage space',
    });
    expect(pulled).toBe(webhook.fingerprint);
  });

  it('an empty resolved_by is not a manual resolution', () => {
    const body = fixture('alert-resolved-ok-duration-days.json');
    const alert = alertOf(only({ ...body, resolved_by: '' }));
    expect(alert.resolution).toBe('auto');
    expect(alert.resolved_by).toBeNull();
  });
});

describe('Coroot incidents', () => {
  it('incident-open-critical-with-reports.json: opened, reports kept, key from the url', () => {
    const draft = only(load('incident-open-critical-with-reports.json'));
    const incident = incidentOf(draft);
    expect(draft.source).toBe('coroot');
    expect(draft.type).toBe('incident_opened');
    expect(draft.severity).toBe('critical');
    expect(draft.fingerprint).toBe(sha16('coroot/incident/x0xwl4jz/i8k2m4n6'));
    expect(plain(incident)).toEqual({
      key: 'i8k2m4n6',
      project: { id: 'x0xwl4jz', name: null },
      application: {
        id: 'x0xwl4jz:shop:Deployment:checkout',
        cluster: 'x0xwl4jz',
        namespace: 'shop',
        kind: 'Deployment',
        name: 'checkout',
      },
      severity: 'critical',
      status: 'open',
      reports: [
        { name: 'SLO', check: 'Availability', message: 'error budget burn rate is 26x within 1 hour' },
        { name: 'SLO', check: 'Latency', message: '8.3% of requests served slower than 500ms' },
        {
          name: 'Instances',
          check: 'Restarts',
          message: '2 restarts of checkout-7d9f8c6b5-x2x9q (OOMKilled)',
        },
      ],
      rca_summary: null,
      rca_remediations: null,
      url: 'https://coroot.example.com/p/x0xwl4jz/incidents?incident=i8k2m4n6',
      extra: {},
    });
  });

  it('incident-open-warning.json: WARNING opens with warning severity', () => {
    const draft = only(load('incident-open-warning.json'));
    expect(draft.type).toBe('incident_opened');
    expect(incidentOf(draft).severity).toBe('warning');
    expect(incidentOf(draft).reports).toHaveLength(1);
    expect(draft.fingerprint).toBe(sha16('coroot/incident/x0xwl4jz/w2a4r6n8'));
  });

  it('incident-resolved-reports-null.json: OK resolves, null reports become []', () => {
    const opened = only(fixture('incident-open-critical-with-reports.json'));
    const draft = only(load('incident-resolved-reports-null.json'));
    const incident = incidentOf(draft);
    expect(draft.type).toBe('incident_resolved');
    expect(incident.status).toBe('resolved');
    expect(incident.reports).toEqual([]);
    expect(incident.severity).toBe('unknown');
    expect(draft.fingerprint).toBe(opened.fingerprint);
  });

  it('incident-old-url.json: Coroot < 1.5 url form still yields project and key', () => {
    const draft = only(load('incident-old-url.json'));
    const incident = incidentOf(draft);
    expect(draft.type).toBe('incident_opened');
    expect(incident.key).toBe('o1l2d3u4');
    expect(incident.project.id).toBe('a8f3k2m1');
    expect(incident.application?.cluster).toBeNull();
    expect(draft.fingerprint).toBe(sha16('coroot/incident/a8f3k2m1/o1l2d3u4'));
  });

  it('incident-with-rca.json: RCA summary and remediations are kept', () => {
    const incident = incidentOf(only(load('incident-with-rca.json')));
    expect(incident.rca_summary).toMatch(/^checkout fails to connect to postgres-main/);
    expect(incident.rca_remediations).toBe(
      '1. Roll back checkout to 7d9f8c6b5\n2. Raise max_connections or add PgBouncer <pool_mode=transaction>',
    );
    expect(incident.extra).toEqual({});
  });

  it('an incident is recognized by its url alone when reports are absent', () => {
    const draft = only({ status: 'OK', url: 'https://c.example.com/p/abc/incidents?incident=k1k2k3k4' });
    expect(draft.type).toBe('incident_resolved');
    expect(incidentOf(draft).reports).toEqual([]);
    expect(incidentOf(draft).application).toBeNull();
  });
});

describe('Coroot deployments', () => {
  const catalog = 'x0xwl4jz:shop:Deployment:catalog';
  const catalogVersion = '6c8d9e0f1: registry.example.com/shop/catalog:v1.43.0';

  it('deployment-in-progress.json: In-progress, summary null → []', () => {
    const draft = only(load('deployment-in-progress.json'));
    const deployment = deploymentOf(draft);
    expect(draft.type).toBe('deployment');
    expect(draft.severity).toBe('info');
    expect(plain(deployment)).toEqual({
      project: { id: 'x0xwl4jz', name: null },
      application: {
        id: catalog,
        cluster: 'x0xwl4jz',
        namespace: 'shop',
        kind: 'Deployment',
        name: 'catalog',
      },
      status: 'in_progress',
      version: catalogVersion,
      summary: [],
      url: `https://coroot.example.com/p/x0xwl4jz/app/${catalog}/Deployments#6c8d9e0f1:1763725304`,
      extra: {},
    });
    expect(draft.fingerprint).toBe(sha16(`coroot/deployment/${catalog}/${catalogVersion}`));
  });

  it('deployment-deployed-with-summary.json: Deployed with its emoji summary', () => {
    const draft = only(load('deployment-deployed-with-summary.json'));
    const deployment = deploymentOf(draft);
    expect(deployment.status).toBe('deployed');
    expect(deployment.summary).toEqual([
      '💔 Availability: 87% (objective: 99%)',
      '🎉 Memory: looks like the memory leak has been fixed',
      '👌 CPU usage: 12% less than the previous version',
    ]);
    expect(deployment.version).toContain(', registry.example.com/sidecars/envoy:v1.31.2');
    expect(draft.fingerprint).toBe(sha16(`coroot/deployment/${catalog}/${deployment.version}`));
  });

  it('deployment-stuck.json: Stuck', () => {
    const draft = only(load('deployment-stuck.json'));
    expect(deploymentOf(draft).status).toBe('stuck');
    expect(deploymentOf(draft).summary).toEqual([]);
    expect(draft.fingerprint).toBe(
      sha16(
        'coroot/deployment/x0xwl4jz:payments:Deployment:ledger/5b4a3c2d1: registry.example.com/payments/ledger:v2.0.0-rc.3',
      ),
    );
  });

  it('deployment-cancelled.json: Cancelled shares the fingerprint of the same rollout', () => {
    const stuck = only(fixture('deployment-stuck.json'));
    const draft = only(load('deployment-cancelled.json'));
    expect(deploymentOf(draft).status).toBe('cancelled');
    expect(draft.fingerprint).toBe(stuck.fingerprint);
  });

  it('deployment-deployed-no-notable-changes.json: project_name and custom fields', () => {
    const deployment = deploymentOf(only(load('deployment-deployed-no-notable-changes.json')));
    expect(deployment.project).toEqual({ id: 'x0xwl4jz', name: 'production' });
    expect(deployment.summary).toEqual(['No notable changes']);
    expect(deployment.extra).toEqual({ cluster_name: 'eu-west-1' });
  });
});

describe('every Coroot fixture', () => {
  const names = listFixtures('coroot');

  it.each(names)('%s: stamped events validate against the schema', (name) => {
    for (const draft of drafts(fixture(name))) {
      expectValidEvent(factory.stamp(draft));
      expectValidEvent(roundTrip(draft));
    }
  });

  it('has its own test above', () => {
    expect(names.filter((name) => !covered.has(name))).toEqual([]);
  });

  it('parses as one array body, in order', () => {
    const all = drafts(names.map(fixture));
    expect(all).toHaveLength(names.length);
    expect(all.map((d) => d.fingerprint)).toEqual(names.map((name) => only(fixture(name)).fingerprint));
  });
});

describe('Coroot dedup_key', () => {
  const keyOf = (body: unknown): string => only(body).dedupKey;
  const base = (): Record<string, unknown> => fixture('alert-resolved-manually-resolved-by.json');

  it('is 16 lowercase hex and the same for a second delivery of the same body', () => {
    expect(keyOf(base())).toMatch(/^[0-9a-f]{16}$/);
    expect(keyOf(base())).toBe(keyOf(JSON.parse(JSON.stringify(base()))));
  });

  it.each<[string, Record<string, unknown>]>([
    ['a firing', { status: 'CRITICAL', duration: undefined, resolved_by: undefined }],
    ['another resolved_by', { resolved_by: 'john@example.com' }],
    ['an automatic resolve', { resolved_by: undefined }],
    ['another duration', { duration: '42m11s' }],
    ['another summary', { summary: 'replication lag is 95s on postgres-main-1' }],
    ['other details', { details: [{ name: 'Replica', value: 'postgres-main-2' }] }],
    ['another alert', { url: 'https://coroot.example.com/p/x0xwl4jz/alerts?alert=zzzzzzzzzzzz' }],
    ['another custom field', { team: 'db' }],
  ])('differs for %s', (_, change) => {
    expect(keyOf({ ...base(), ...change })).not.toBe(keyOf(base()));
  });

  it('tells the two "Deployed" messages apart (summary null, then the list)', () => {
    const first = { ...fixture('deployment-deployed-with-summary.json'), summary: null };
    expect(keyOf(first)).not.toBe(keyOf(fixture('deployment-deployed-with-summary.json')));
  });
});

describe('Coroot body errors', () => {
  const alert = (): Record<string, unknown> => fixture('alert-firing-warning.json');

  it.each([
    [42, 'number'],
    ['{"status":"OK"}', 'string'],
    [null, 'null'],
    [true, 'boolean'],
    [undefined, 'undefined'],
  ])('rejects a non-object body %j', (body, type) => {
    expect(errorOf(body)).toBe(`body must be a JSON object or an array of objects, got ${type}`);
  });

  it('records an object of no known shape as unrecognized, saying which fields identify one', () => {
    expect(unrecognizedReason({ status: 'OK', text: 'hello' })).toBe(
      'not a Coroot notification: expected an alert ("rule_name", "severity" or a url with "/alerts?alert="), ' +
        'an incident ("reports" or a url with "incidents?incident=") or a deployment ("version")',
    );
  });

  it('records each object of an array, an unfit one as unrecognized naming its index', () => {
    const body = [alert(), alert(), { ...alert(), severity: 5 }];
    expect(drafts(body).map((d) => d.type)).toEqual(['alert_firing', 'alert_firing', 'unrecognized']);
    expect(unrecognizedReason(body, 2)).toBe('[2]: alert: "severity" must be a string, got number');
  });

  it('refuses an array holding anything but objects, naming the index', () => {
    expect(errorOf([alert(), null])).toBe('[1]: must be a JSON object, got null');
    expect(errorOf([alert(), [alert()]])).toBe('[1]: must be a JSON object, got array');
  });

  it('accepts an empty array as zero notifications', () => {
    expect(parseCorootBody([])).toEqual({ ok: true, drafts: [] });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['missing status', { status: undefined }, 'alert: "status" must be a string, got undefined'],
    ['status type', { status: 3 }, 'alert: "status" must be a string, got number'],
    [
      'unknown status',
      { status: 'FIRING' },
      'alert: "status" must be one of "WARNING", "CRITICAL", "INFO", "UNKNOWN", "OK", got "FIRING"',
    ],
    ['rule_name type', { rule_name: 5 }, 'alert: "rule_name" must be a string, got number'],
    ['project_name type', { project_name: 7 }, 'alert: "project_name" must be a string, got number'],
    ['application type', { application: {} }, 'alert: "application" must be a string, got object'],
    [
      'application shape',
      { application: 'catalog' },
      'alert: "application" must be a Coroot application id "<cluster>:<namespace>:<Kind>:<name>", got "catalog"',
    ],
    ['summary type', { summary: ['x'] }, 'alert: "summary" must be a string, got array'],
    ['details type', { details: 'none' }, 'alert: "details" must be an array, got string'],
    ['details element', { details: [1] }, 'alert: "details[0]" must be an object, got number'],
    [
      'details name',
      { details: [{ value: 'v' }] },
      'alert: "details[0].name" must be a string, got undefined',
    ],
    [
      'details code',
      { details: [{ name: 'n', value: 'v', code: 'yes' }] },
      'alert: "details[0].code" must be a boolean, got string',
    ],
    [
      'duration text',
      { status: 'OK', duration: '3 days' },
      'alert: "duration" must be a duration such as "42m10s", "3d2h" or "1y2w", got "3 days"',
    ],
    ['duration type', { status: 'OK', duration: 60 }, 'alert: "duration" must be a string, got number'],
    ['resolved_by type', { resolved_by: false }, 'alert: "resolved_by" must be a string, got boolean'],
    ['url type', { url: 1 }, 'alert: "url" must be a string, got number'],
    ['non-JSON custom field', { hook: () => 1 }, 'alert: "hook" must be a JSON value, got function'],
  ])('alert: %s → unrecognized', (_, change, message) => {
    expect(unrecognizedReason({ ...alert(), ...change })).toBe(message);
  });

  it.each(['abc', '1h5', '-5m', '5 m', '1.2.3s', 'h', '1x', 'y1'])(
    'does not read the duration %j',
    (duration) => {
      expect(unrecognizedReason({ ...alert(), status: 'OK', duration })).toContain(
        '"duration" must be a duration such as',
      );
    },
  );

  it.each<[string, Record<string, unknown>, string]>([
    [
      'status',
      { status: 'RESOLVED' },
      'incident: "status" must be one of "CRITICAL", "WARNING", "OK", got "RESOLVED"',
    ],
    ['reports type', { reports: {} }, 'incident: "reports" must be an array, got object'],
    [
      'report check',
      { reports: [{ name: 'SLO', message: 'm' }] },
      'incident: "reports[0].check" must be a string, got undefined',
    ],
    ['rca_summary type', { rca_summary: 1 }, 'incident: "rca_summary" must be a string, got number'],
  ])('incident: %s', (_, change, message) => {
    expect(unrecognizedReason({ ...fixture('incident-open-critical-with-reports.json'), ...change })).toBe(
      message,
    );
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'status',
      { status: 'deployed' },
      'deployment: "status" must be one of "In-progress", "Deployed", "Stuck", "Cancelled", got "deployed"',
    ],
    ['version type', { version: 1 }, 'deployment: "version" must be a string, got number'],
    ['summary element', { summary: ['ok', 2] }, 'deployment: "summary[1]" must be a string, got number'],
    ['summary type', { summary: 'ok' }, 'deployment: "summary" must be an array of strings, got string'],
  ])('deployment: %s', (_, change, message) => {
    expect(unrecognizedReason({ ...fixture('deployment-deployed-with-summary.json'), ...change })).toBe(
      message,
    );
  });

  it('cuts long bad values in messages', () => {
    const message = unrecognizedReason({ ...alert(), status: 'X'.repeat(10_000) });
    expect(message.length).toBeLessThan(200);
  });
});

describe('Coroot robustness', () => {
  it('never throws on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const result = parseCorootBody(value);
        expect(typeof result.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on notification-shaped bodies with arbitrary field values', () => {
    const anyField = fc.oneof(
      fc.jsonValue(),
      fc.string(),
      fc.constantFrom('WARNING', 'OK', 'CRITICAL', ':::'),
    );
    const keys = ['status', 'project_name', 'application', 'rule_name', 'severity', 'summary', 'details'];
    const more = ['duration', 'resolved_by', 'url', 'reports', 'version', 'rca_summary', '__proto__'];
    const body = fc.dictionary(fc.constantFrom(...keys, ...more), anyField);
    fc.assert(
      fc.property(body, (value) => {
        const result = parseCorootBody(value);
        if (result.ok)
          for (const draft of result.drafts) expect(validateEvent(factory.stamp(draft))).toEqual([]);
      }),
      { numRuns: 1_000 },
    );
  });

  it('never throws on odd JavaScript values', () => {
    const odd: unknown[] = [
      Symbol('s'),
      10n,
      () => 1,
      new Date(0),
      Object.create(null),
      new Map([['rule_name', 'x']]),
      [[[[]]]],
      { rule_name: 'x', status: 'OK', duration: `${'9'.repeat(400)}s` },
      { rule_name: 'x', status: 'OK', details: [null] },
      {
        rule_name: 'x',
        status: 'OK',
        get severity(): string {
          throw new Error('getter exploded');
        },
      },
    ];
    for (const body of odd) expect(typeof parseCorootBody(body).ok).toBe('boolean');
  });

  it('handles a huge array, item by item', () => {
    const body = fixture('alert-firing-warning.json');
    const many = Array.from({ length: 20_000 }, () => body);
    expect(drafts(many)).toHaveLength(20_000);
    many.push({ ...body, status: 'BROKEN' });
    expect(drafts(many)).toHaveLength(20_001);
    expect(unrecognizedReason(many, 20_000)).toMatch(/^\[20000\]: alert: "status" must be one of/);
  });

  // Deeper is refused (test/unit/ingest/fuzz-regressions.test.ts): JSON.stringify overflows on it in the write loop.
  it('keeps a custom field nested 100 levels deep as sent', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100; i++) deep = [deep];
    const draft = only({ ...fixture('alert-firing-warning.json'), deep });
    expect(alertOf(draft).extra.deep).toBe(deep);
  });

  it('accepts a prototype-free body and ignores inherited keys', () => {
    const body = Object.assign(
      Object.create(null) as Record<string, unknown>,
      fixture('alert-firing-warning.json'),
    );
    expect(only(body).type).toBe('alert_firing');
    const inherited = Object.create({ rule_name: 'inherited' }) as Record<string, unknown>;
    inherited.status = 'OK';
    expect(unrecognizedReason(inherited)).toMatch(/^not a Coroot notification/);
  });
});

describe('normalizeCorootApplication', () => {
  it.each([
    ['c1:ns:Deployment:api', { cluster: 'c1', namespace: 'ns', kind: 'Deployment', name: 'api' }],
    ['c1:ns:Pod:a:b:c', { cluster: 'c1', namespace: 'ns', kind: 'Pod', name: 'a:b:c' }],
    ['ns:Deployment:api', { cluster: null, namespace: 'ns', kind: 'Deployment', name: 'api' }],
    [':ns:Deployment:api', { cluster: null, namespace: 'ns', kind: 'Deployment', name: 'api' }],
    [
      'external:ExternalService:db:5432',
      { cluster: null, namespace: 'external', kind: 'ExternalService', name: 'db:5432' },
    ],
  ])('%s', (id, parts) => {
    expect(normalizeCorootApplication(id)).toEqual({ id, ...parts });
  });

  it.each(['', ':::', 'x0xwl4jz:::', '::'])('%j is no application', (id) => {
    expect(normalizeCorootApplication(id)).toBeNull();
  });

  it.each(['catalog', 'a:b'])('%j is not an application id', (id) => {
    expect(normalizeCorootApplication(id)).toBeUndefined();
  });
});

describe('parseGoDuration', () => {
  it.each<[string, number]>([
    ['0', 0],
    ['0s', 0],
    ['42m10s', 2_530],
    ['1h5m', 3_900],
    ['3d2h', 266_400],
    ['1w', 604_800],
    ['1.5s', 1.5],
    ['.5s', 0.5],
    ['500ms', 0.5],
    ['1m0.1s', 60.1],
    ['1.1s', 1.1],
    ['250us', 0.00025],
    ['250µs', 0.00025],
    ['7ns', 7e-9],
    ['2h45m30.5s', 9_930.5],
  ])('%s → %d s', (text, seconds) => {
    expect(parseGoDuration(text)).toBe(seconds);
  });

  it.each(['', '5', 's', '1e3s', '1h 5m', '+1h', '1.h5', 'NaNs', '1constructor', `${'9'.repeat(400)}s`])(
    '%j is not a duration',
    (text) => {
      expect(parseGoDuration(text)).toBeUndefined();
    },
  );
});

describe('event.schema.json can fail', () => {
  const good = (): Record<string, unknown> =>
    roundTrip(only(fixture('alert-firing-warning.json'))) as Record<string, unknown>;
  const withAlert = (change: Record<string, unknown>): Record<string, unknown> => {
    const event = good();
    const data = event.data as { alert: Record<string, unknown> };
    event.data = { alert: { ...data.alert, ...change } };
    return event;
  };

  it('accepts the unmodified event', () => {
    expect(validateEvent(good())).toEqual([]);
  });

  it.each<[string, () => unknown, string]>([
    ['unknown severity', () => withAlert({ severity: 'high' }), '/data/alert/severity'],
    ['extra alert field', () => withAlert({ colour: 'red' }), 'colour'],
    ['missing rule', () => withAlert({ rule: undefined }), "required property 'rule'"],
    ['resolution while firing', () => withAlert({ resolution: 'auto' }), '/data/alert/resolution'],
    ['status contradicts type', () => withAlert({ status: 'resolved' }), '/data/alert/status'],
    ['negative duration', () => withAlert({ duration_seconds: -1 }), '/data/alert/duration_seconds'],
    ['detail without code', () => withAlert({ details: [{ name: 'n', value: 'v' }] }), "'code'"],
    ['application as string', () => withAlert({ application: 'x:y:z' }), '/data/alert/application'],
    ['fingerprint case', () => ({ ...good(), fingerprint: '9F3C1A7E5B2D4C68' }), '/fingerprint'],
    ['timestamp without millis', () => ({ ...good(), '@timestamp': '2026-11-21T11:41:44Z' }), '/@timestamp'],
    ['uuid v4 id', () => ({ ...good(), id: '0193a0c2-7b1e-4c3a-9f10-2b8e4d6a1c55' }), '/id'],
    ['unknown envelope field', () => ({ ...good(), level: 'x' }), 'level'],
    ['unknown source', () => ({ ...good(), source: 'grafana' }), '/source'],
    ['recorder source on an alert', () => ({ ...good(), source: 'recorder' }), '/source'],
    ['alertmanager shape check', () => ({ ...good(), source: 'alertmanager' }), '/data/alert'],
    ['empty instance', () => ({ ...good(), instance: '' }), '/instance'],
    [
      'data with two kinds',
      () => ({ ...good(), data: { ...(good().data as object), incident: {} } }),
      'incident',
    ],
  ])('rejects %s', (_, make, where) => {
    const errors = validateEvent(make());
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toContain(where);
  });

  it('validates recorder lifecycle events and rejects a malformed one', () => {
    const base = {
      '@timestamp': '2026-11-21T11:41:44.123Z',
      id: '0193a0c2-7b1e-7c3a-9f10-2b8e4d6a1c55',
      instance: 'host-1',
      source: 'recorder',
      fingerprint: '0123456789abcdef',
      dedup_key: '5be0c41d92a7f310',
    };
    const recorder = { version: '0.1.0', config_hash: 'sha256:ab', outputs: ['file:/data/events.jsonl'] };
    expect(validateEvent({ ...base, type: 'recorder_started', data: { recorder } })).toEqual([]);
    expect(
      validateEvent({
        ...base,
        type: 'config_reloaded',
        data: { recorder: { ...recorder, added: ['kafka:x'], removed: [], kept: ['file:y'], note: 'open' } },
      }),
    ).toEqual([]);
    expect(
      validateEvent({
        ...base,
        type: 'recorder_stopped',
        data: { recorder: { ...recorder, reason: 'SIGTERM' } },
      }),
    ).toEqual([]);
    expect(
      validateEvent({ ...base, type: 'recorder_started', data: { recorder: { version: '0.1.0' } } }),
    ).not.toEqual([]);
    expect(
      validateEvent({ ...base, source: 'coroot', type: 'recorder_started', data: { recorder } }),
    ).not.toEqual([]);
  });
});
