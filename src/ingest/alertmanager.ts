/*
 * Alertmanager webhook payload (version "4") → one draft per alert (docs/events.md
 * "Normalized Alertmanager alert").
 */
import { dedupKeyOf } from '../events/dedup-key.js';
import type {
  AlertmanagerAlert,
  AlertmanagerGroup,
  EventDraft,
  EventType,
  StringMap,
} from '../events/event.js';
import { fingerprintOf, isFingerprint } from '../events/fingerprint.js';
import { normalizeSeverity } from '../events/severity.js';
import {
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
import { reasonOf, refusal, unrecognizedDraft } from './unrecognized.js';

const SUPPORTED_VERSION = '4';

/** What Go's time.Time marshals to (RFC 3339, optional fraction of any length). */
const RFC3339_RE =
  /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;
/** Go's zero time.Time: Alertmanager's "not set" for endsAt. */
const GO_ZERO_TIME_PREFIX = '0001-01-01T00:00:00';

/**
 * One draft per alert. A body that is not a webhook payload of version "4" is kept whole
 * as one `unrecognized` draft; an alert of a good payload that cannot be read is kept as
 * its own `unrecognized` draft beside the others (docs/events.md). Only a body that is not
 * a JSON object is refused.
 */
export function parseAlertmanagerBody(body: unknown): ParseResult {
  if (!isRecord(body)) {
    return {
      ok: false,
      error: `body must be a JSON object (an Alertmanager webhook payload), got ${typeName(body)}`,
    };
  }
  try {
    let alerts: unknown[];
    let group: AlertmanagerGroup;
    try {
      checkVersion(own(body, 'version'));
      alerts = readAlertList(own(body, 'alerts'));
      checkGroupFields(body);
      group = readGroup(body);
    } catch (error) {
      return { ok: true, drafts: [unrecognizedDraft('alertmanager', body, reasonOf(error), PEER_KEYS)] };
    }
    const drafts: EventDraft[] = new Array(alerts.length);
    for (let i = 0; i < alerts.length; i++) {
      const item = alerts[i] as JsonRecord;
      try {
        drafts[i] = parseAlert(item, `alerts[${i}]`, group);
      } catch (error) {
        drafts[i] = unrecognizedDraft('alertmanager', item, reasonOf(error));
      }
    }
    return { ok: true, drafts };
  } catch (error) {
    return { ok: false, error: refusal(error) };
  }
}

/**
 * Keys in which two Alertmanager peers' copies of one notification differ: each sends its
 * own `--web.external-url`. Left out of the dedup key of an unrecognized payload.
 */
const PEER_KEYS = ['externalURL'];

function readAlertList(alerts: unknown): unknown[] {
  if (!Array.isArray(alerts)) invalid('alerts', 'an array', alerts);
  for (let i = 0; i < alerts.length; i++) {
    if (!isRecord(alerts[i])) invalid(`alerts[${i}]`, 'an object', alerts[i]);
  }
  return alerts;
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

function parseAlert(item: JsonRecord, field: string, group: AlertmanagerGroup): EventDraft {
  const status = own(item, 'status');
  if (status !== 'firing' && status !== 'resolved') {
    invalidValue(`${field}.status`, 'one of "firing", "resolved"', status);
  }
  const labels = readStringMap(own(item, 'labels'), `${field}.labels`, true);
  const fingerprint = readString(item, 'fingerprint', `${field}.fingerprint`);
  const alert: AlertmanagerAlert = {
    fingerprint,
    name: (own(labels, 'alertname') as string | undefined) ?? null,
    status,
    severity: normalizeSeverity(own(labels, 'severity') as string | undefined),
    labels,
    annotations: readStringMap(own(item, 'annotations'), `${field}.annotations`),
    starts_at: readTime(item, 'startsAt', field),
    ends_at: readTime(item, 'endsAt', field),
    // Go renders an unset URL as "".
    generator_url: readString(item, 'generatorURL', `${field}.generatorURL`) || null,
    group,
  };
  const type = status === 'firing' ? 'alert_firing' : 'alert_resolved';
  return {
    source: 'alertmanager',
    type,
    fingerprint: isFingerprint(fingerprint) ? fingerprint : alertmanagerLabelsFingerprint(labels),
    dedupKey: alertmanagerDedupKey(type, alert),
    data: { alert },
    severity: alert.severity,
  };
}

/**
 * What one notification of this alert means, the same from every Alertmanager peer: the
 * alert's identity, state and times, its labels and annotations, and which route sent it.
 * Left out: the peer's own `externalURL`, and `generatorURL`, which names whichever
 * Prometheus replica a peer heard from last.
 */
function alertmanagerDedupKey(type: EventType, alert: AlertmanagerAlert): string {
  const meant = [
    alert.fingerprint,
    alert.starts_at,
    alert.ends_at,
    alert.labels,
    alert.annotations,
    alert.group.key,
    alert.group.receiver,
  ];
  return dedupKeyOf('alertmanager', type, JSON.stringify(meant));
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
