/*
 * Coroot's alerts API response (docs/coroot.md "Pull mode") decoded into typed alerts.
 * `GET /api/project/<project>/alerts?include_resolved=true` answers
 * `{"context": {...}, "data": {"alerts": [...], "total", "firing", "resolved"}}`;
 * timestamps are Unix milliseconds with null (or 0) for "unset".
 */
import type { CorootAlertDetail, JsonValue } from '../../events/event.js';
import { readDetails } from '../coroot/webhook.js';
import {
  invalid,
  invalidValue,
  isRecord,
  type JsonRecord,
  own,
  PayloadError,
  readString,
  requireString,
  typeName,
} from '../fields.js';

/** One alert as the API shows it; optional fields read as null. */
export interface ApiAlert {
  id: string;
  /** Coroot's own alert fingerprint (rule + application), not the event fingerprint. */
  fingerprint: string | null;
  ruleId: string | null;
  ruleName: string | null;
  projectId: string | null;
  applicationId: string | null;
  cluster: string | null;
  severity: string | null;
  summary: string | null;
  details: CorootAlertDetail[];
  openedAt: number | null;
  resolvedAt: number | null;
  manuallyResolvedAt: number | null;
  updatedAt: number | null;
  suppressed: boolean;
  resolvedBy: string | null;
  report: string | null;
  durationMs: number | null;
  /** Where Coroot sent (or will send) this alert's notifications; `[]` when it lists none. */
  notifications: ApiAlertNotification[];
}

/** One entry of an API alert's `notifications` (Go: `{type, channel,omitempty}`). */
export type ApiAlertNotification = { type: string; channel: string | null };

/**
 * What the poller remembers per alert. Coroot has three ways to close an alert:
 * resolved by its rule (`resolved_at`), by a user (`manually_resolved_at`, with
 * `resolved_at` left 0) and suppressed (`suppressed`, both timestamps cleared).
 */
export const ALERT_STATES = ['open', 'resolved', 'manual', 'suppressed'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

export function alertState(alert: ApiAlert): AlertState {
  if (alert.suppressed) return 'suppressed';
  if (alert.manuallyResolvedAt !== null) return 'manual';
  if (alert.resolvedAt !== null) return 'resolved';
  return 'open';
}

export function isAlertState(value: unknown): value is AlertState {
  return typeof value === 'string' && (ALERT_STATES as readonly string[]).includes(value);
}

export type AlertsPage =
  | {
      ok: true;
      alerts: ApiAlert[];
      /** `data.total` when present: how many alerts the whole listing has. */
      total: number | null;
      /** Alerts left out because they could not be read, with why (for the log). */
      skipped: string[];
    }
  | { ok: false; kind: 'not_found' | 'decode'; error: string };

/**
 * Decodes one page. A broken envelope fails the page; a single unreadable alert is
 * skipped (and reported) so one odd record cannot stop every other alert's updates.
 */
export function parseAlertsPage(body: unknown): AlertsPage {
  if (!isRecord(body))
    return { ok: false, kind: 'decode', error: `expected a JSON object, got ${typeName(body)}` };
  if (!Object.hasOwn(body, 'data')) return { ok: false, kind: 'decode', error: 'the answer has no "data"' };
  const data = own(body, 'data');
  // Coroot answers `data: null` for a project it does not know.
  if (data === null)
    return { ok: false, kind: 'not_found', error: 'Coroot answered data: null (unknown project?)' };
  if (!isRecord(data))
    return { ok: false, kind: 'decode', error: `"data" must be an object, got ${typeName(data)}` };
  const list = own(data, 'alerts');
  if (!Array.isArray(list)) {
    return { ok: false, kind: 'decode', error: `"data.alerts" must be an array, got ${typeName(list)}` };
  }
  const totalValue = own(data, 'total');
  const total =
    Number.isSafeInteger(totalValue) && (totalValue as number) >= 0 ? (totalValue as number) : null;
  const alerts: ApiAlert[] = [];
  const skipped: string[] = [];
  for (let i = 0; i < list.length; i++) {
    try {
      alerts.push(readAlert(list[i]));
    } catch (error) {
      if (!(error instanceof PayloadError)) throw error;
      skipped.push(`data.alerts[${i}]: ${error.message}`);
    }
  }
  return { ok: true, alerts, total, skipped };
}

function readAlert(item: unknown): ApiAlert {
  if (!isRecord(item)) invalid('alert', 'an object', item);
  const id = requireString(item, 'id');
  if (id === '') throw new PayloadError('"id" must not be empty');
  const projectId = optional(item, 'project_id');
  // Both go into the event's url through encodeURIComponent, which throws on a lone surrogate.
  wellFormed('id', id);
  wellFormed('project_id', projectId);
  return {
    id,
    fingerprint: optional(item, 'fingerprint'),
    ruleId: optional(item, 'rule_id'),
    ruleName: optional(item, 'rule_name'),
    projectId,
    applicationId: readString(item, 'application_id'),
    cluster: optional(item, 'cluster'),
    severity: optional(item, 'severity'),
    summary: readString(item, 'summary'),
    details: readDetails(own(item, 'details')),
    openedAt: readMillis(item, 'opened_at'),
    resolvedAt: readMillis(item, 'resolved_at'),
    manuallyResolvedAt: readMillis(item, 'manually_resolved_at'),
    updatedAt: readMillis(item, 'updated_at'),
    suppressed: readBool(item, 'suppressed'),
    resolvedBy: optional(item, 'resolved_by'),
    report: optional(item, 'report'),
    durationMs: readNumber(item, 'duration'),
    notifications: readNotifications(own(item, 'notifications')),
  };
}

function readNotifications(value: unknown): ApiAlertNotification[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) invalid('notifications', 'an array', value);
  const out: ApiAlertNotification[] = [];
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (!isRecord(item)) invalid(`notifications[${i}]`, 'an object', item);
    out.push({
      type: requireString(item, 'type', `notifications[${i}].type`),
      channel: readString(item, 'channel', `notifications[${i}].channel`) || null,
    });
  }
  return out;
}

/** JSON.parse turns a `"\ud800"` escape into a lone surrogate; Go never sends one. */
function wellFormed(key: string, value: string | null): void {
  if (value !== null && !value.isWellFormed()) {
    invalidValue(key, 'well-formed Unicode (no lone surrogate)', value);
  }
}

/** Go's omitempty and zero values: "" reads as absent. */
function optional(record: JsonRecord, key: string): string | null {
  return readString(record, key) || null;
}

function readNumber(record: JsonRecord, key: string): number | null {
  const value = own(record, key);
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value)) invalid(key, 'a number', value);
  return value;
}

/** Unix milliseconds; Coroot's zero time is 0 on the wire in some versions and null in others. */
function readMillis(record: JsonRecord, key: string): number | null {
  const value = readNumber(record, key);
  return value === null || value <= 0 ? null : value;
}

function readBool(record: JsonRecord, key: string): boolean {
  const value = own(record, key);
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') invalid(key, 'a boolean', value);
  return value;
}

/** The API fields the normalized alert has no place for, kept as sent (docs/events.md: nothing silently lost). */
export function apiExtra(alert: ApiAlert): { [key: string]: JsonValue } {
  return {
    fingerprint: alert.fingerprint,
    rule_id: alert.ruleId,
    cluster: alert.cluster,
    opened_at: alert.openedAt,
    resolved_at: alert.resolvedAt,
    manually_resolved_at: alert.manuallyResolvedAt,
    updated_at: alert.updatedAt,
    suppressed: alert.suppressed,
    report: alert.report,
    notifications: alert.notifications,
  };
}
