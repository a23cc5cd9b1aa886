/*
 * Alertmanager webhook payload (version "4") → one draft per alert (docs/events.md
 * "Normalized Alertmanager alert").
 */
import type { AlertmanagerAlert, AlertmanagerGroup, EventDraft, StringMap } from '../events/event.js';
import { fingerprintOf, isFingerprint } from '../events/fingerprint.js';
import { normalizeSeverity } from '../events/severity.js';
import {
  failure,
  invalid,
  invalidValue,
  isRecord,
  type JsonRecord,
  own,
  PayloadError,
  preview,
  readString,
  readStringMap,
  typeName,
} from './fields.js';
import type { ParseResult } from './parse-result.js';

const SUPPORTED_VERSION = '4';

/** What Go's time.Time marshals to (RFC 3339, optional fraction of any length). */
const RFC3339_RE =
  /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;
/** Go's zero time.Time: Alertmanager's "not set" for endsAt. */
const GO_ZERO_TIME_PREFIX = '0001-01-01T00:00:00';

export function parseAlertmanagerBody(body: unknown): ParseResult {
  if (!isRecord(body)) {
    return {
      ok: false,
      error: `body must be a JSON object (an Alertmanager webhook payload), got ${typeName(body)}`,
    };
  }
  try {
    checkVersion(own(body, 'version'));
    const alerts = own(body, 'alerts');
    if (!Array.isArray(alerts)) invalid('alerts', 'an array', alerts);
    checkGroupFields(body);
    const group = readGroup(body);
    const drafts: EventDraft[] = [];
    for (let i = 0; i < alerts.length; i++) drafts.push(parseAlert(alerts[i], `alerts[${i}]`, group));
    return { ok: true, drafts };
  } catch (error) {
    return failure(error);
  }
}

function checkVersion(version: unknown): void {
  if (version === SUPPORTED_VERSION) return;
  if (version === undefined) {
    throw new PayloadError(
      `"version" is missing: expected Alertmanager webhook version "${SUPPORTED_VERSION}"`,
    );
  }
  throw new PayloadError(
    `unsupported Alertmanager webhook version ${preview(version)}: expected "${SUPPORTED_VERSION}"`,
  );
}

/** Fields that are not carried into the event are still checked: a wrong type means a wrong sender. */
function checkGroupFields(body: JsonRecord): void {
  const status = own(body, 'status');
  if (status !== undefined && status !== 'firing' && status !== 'resolved') {
    invalidValue('status', 'one of "firing", "resolved"', status);
  }
  readStringMap(own(body, 'commonLabels'), 'commonLabels');
  readStringMap(own(body, 'commonAnnotations'), 'commonAnnotations');
  const truncated = own(body, 'truncatedAlerts');
  if (truncated !== undefined && !(Number.isInteger(truncated) && (truncated as number) >= 0)) {
    invalidValue('truncatedAlerts', 'a non-negative integer', truncated);
  }
}

/** Shared by every draft of the payload: events are immutable once built. */
function readGroup(body: JsonRecord): AlertmanagerGroup {
  return {
    key: readString(body, 'groupKey'),
    receiver: readString(body, 'receiver'),
    labels: readStringMap(own(body, 'groupLabels'), 'groupLabels'),
    external_url: readString(body, 'externalURL'),
  };
}

function parseAlert(item: unknown, field: string, group: AlertmanagerGroup): EventDraft {
  if (!isRecord(item)) invalid(field, 'an object', item);
  const status = own(item, 'status');
  if (status !== 'firing' && status !== 'resolved') {
    invalidValue(`${field}.status`, 'one of "firing", "resolved"', status);
  }
  const labels = readStringMap(own(item, 'labels'), `${field}.labels`, true);
  const fingerprint = readString(item, 'fingerprint', `${field}.fingerprint`);
  const alert: AlertmanagerAlert = {
    fingerprint,
    name: labels.alertname ?? null,
    status,
    severity: normalizeSeverity(labels.severity),
    labels,
    annotations: readStringMap(own(item, 'annotations'), `${field}.annotations`),
    starts_at: readTime(item, 'startsAt', field),
    ends_at: readTime(item, 'endsAt', field),
    // Go renders an unset URL as "".
    generator_url: readString(item, 'generatorURL', `${field}.generatorURL`) || null,
    group,
  };
  return {
    source: 'alertmanager',
    type: status === 'firing' ? 'alert_firing' : 'alert_resolved',
    fingerprint: isFingerprint(fingerprint) ? fingerprint : alertmanagerLabelsFingerprint(labels),
    data: { alert },
    severity: alert.severity,
  };
}

/** RFC 3339 as sent (nanoseconds kept); Go's zero time and absence both mean "not set". */
function readTime(item: JsonRecord, key: string, field: string): string | null {
  const value = readString(item, key, `${field}.${key}`);
  if (value === null || value === '' || value.startsWith(GO_ZERO_TIME_PREFIX)) return null;
  if (!RFC3339_RE.test(value) || !dayExists(value)) {
    invalidValue(`${field}.${key}`, 'an RFC 3339 time', value);
  }
  return value;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * RFC3339_RE allows day 31 in every month; the event schema's date-time (and every
 * consumer's date parser) refuses Feb 30 or Apr 31. Gregorian leap years, year 0 included.
 */
function dayExists(value: string): boolean {
  const year = Number(value.slice(0, 4));
  const month = Number(value.slice(5, 7));
  const day = Number(value.slice(8, 10));
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] as number));
}

/**
 * Fallback when the payload has no usable Alertmanager fingerprint:
 * `alertmanager/` + the JSON of the label pairs sorted by name, e.g.
 * `alertmanager/[["alertname","X"],["job","api"]]` (JSON keeps any label text unambiguous).
 */
function alertmanagerLabelsFingerprint(labels: StringMap): string {
  const names = Object.keys(labels).sort();
  const pairs: [string, string][] = [];
  for (const name of names) pairs.push([name, labels[name] ?? '']);
  return fingerprintOf(`alertmanager/${JSON.stringify(pairs)}`);
}
