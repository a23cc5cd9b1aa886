/*
 * Coroot webhook bodies (docs/coroot.md) → event drafts (docs/events.md). The `{{json .}}`
 * template renders one of three Go structs; custom templates may add top-level keys
 * ("custom fields"), which are kept in `extra`.
 */

import { dedupKeyOf } from '../../events/dedup-key.js';
import type {
  CorootAlert,
  CorootAlertDetail,
  CorootApplication,
  CorootDeployment,
  CorootIncident,
  CorootIncidentReport,
  CorootProject,
  DeploymentStatus,
  EventDraft,
  EventType,
  JsonObject,
  Severity,
} from '../../events/event.js';
import { fingerprintOf } from '../../events/fingerprint.js';
import { normalizeSeverity } from '../../events/severity.js';
import { copyOf, unsliced } from '../../lib/flat-string.js';
import {
  collectExtra,
  invalid,
  invalidValue,
  isRecord,
  type JsonRecord,
  own,
  PayloadError,
  readString,
  readStringArray,
  requireString,
  typeName,
} from '../fields.js';
import type { ParseResult } from '../parse-result.js';
import { reasonOf, refusal, unrecognizedDraft } from '../unrecognized.js';

// Fields of Coroot's template structs; any other top-level key is a custom field.
// `project_name` is accepted on incidents and deployments too: custom templates add it,
// and it fills `project.name` better than `extra` would.
const ALERT_KEYS: ReadonlySet<string> = new Set([
  'status',
  'project_name',
  'application',
  'rule_name',
  'severity',
  'summary',
  'details',
  'duration',
  'resolved_by',
  'url',
]);
const INCIDENT_KEYS: ReadonlySet<string> = new Set([
  'status',
  'project_name',
  'application',
  'reports',
  'url',
  'rca_summary',
  'rca_remediations',
]);
const DEPLOYMENT_KEYS: ReadonlySet<string> = new Set([
  'status',
  'project_name',
  'application',
  'version',
  'summary',
  'url',
]);

// `<base>/p/<project id>/alerts|incidents|app...`; anchoring on the section that follows
// keeps a `/p/` inside the base URL from being taken for the project.
const PROJECT_ID_RE = /\/p\/([^/?#]+)\/(?:alerts|incidents|app)(?:[/?#]|$)/;
const ALERT_ID_RE = /[?&]alert=([^&#]+)/;
const INCIDENT_KEY_RE = /[?&]incident=([^&#]+)/;
const INCIDENT_URL_MARK = 'incidents?incident=';
const ALERT_URL_MARK = '/alerts?alert=';
/** `resolved_by` values that are Coroot itself, not a person (docs/coroot.md "Alert payload"). */
const SYSTEM_ACTORS: readonly string[] = ['AI', 'init'];

/**
 * Parses one Coroot webhook body: an object, or an array of them. Every object becomes a
 * draft; one that fits no Coroot shape becomes an `unrecognized` draft with the object as
 * sent (docs/events.md), so a mixed array records each item. Only a body that is not an
 * object or an array of objects is refused (`ok: false`, answered 400).
 */
export function parseCorootBody(body: unknown): ParseResult {
  try {
    if (isRecord(body)) return { ok: true, drafts: [parseItem(body, '')] };
    if (!Array.isArray(body)) {
      return { ok: false, error: `body must be a JSON object or an array of objects, got ${typeName(body)}` };
    }
    for (let i = 0; i < body.length; i++) {
      if (!isRecord(body[i])) {
        return { ok: false, error: `[${i}]: must be a JSON object, got ${typeName(body[i])}` };
      }
    }
    const drafts: EventDraft[] = new Array(body.length);
    for (let i = 0; i < body.length; i++) drafts[i] = parseItem(body[i] as JsonRecord, `[${i}]: `);
    return { ok: true, drafts };
  } catch (error) {
    return { ok: false, error: refusal(error) };
  }
}

function parseItem(record: JsonRecord, prefix: string): EventDraft {
  try {
    return parseNotification(record);
  } catch (error) {
    return unrecognizedDraft('coroot', record, reasonOf(error, prefix));
  }
}

/**
 * docs/coroot.md "Telling them apart"; alert wins over incident over deployment on overlap.
 * Go drops both `rule_name` fields when a custom field has that name, so an alert is also
 * known by its URL, and last by `severity`, which only the alert struct has (a custom
 * field cannot replace it: Coroot skips one whose Go name is taken).
 */
function parseNotification(record: JsonRecord): EventDraft {
  if (Object.hasOwn(record, 'rule_name') || hasUrlWith(record, ALERT_URL_MARK)) {
    return withKind('alert', parseAlert, record);
  }
  if (Object.hasOwn(record, 'reports') || hasUrlWith(record, INCIDENT_URL_MARK)) {
    return withKind('incident', parseIncident, record);
  }
  if (Object.hasOwn(record, 'version')) return withKind('deployment', parseDeployment, record);
  if (Object.hasOwn(record, 'severity')) return withKind('alert', parseAlert, record);
  throw new PayloadError(
    'not a Coroot notification: expected an alert ("rule_name", "severity" or a url with ' +
      `"${ALERT_URL_MARK}"), an incident ("reports" or a url with "${INCIDENT_URL_MARK}") or a ` +
      'deployment ("version")',
  );
}

function hasUrlWith(record: JsonRecord, mark: string): boolean {
  const url = own(record, 'url');
  return typeof url === 'string' && url.includes(mark);
}

function withKind(kind: string, parse: (record: JsonRecord) => EventDraft, record: JsonRecord): EventDraft {
  try {
    return parse(record);
  } catch (error) {
    if (error instanceof PayloadError) throw new PayloadError(`${kind}: ${error.message}`);
    throw error;
  }
}

// ---------------------------------------------------------------- alerts

function parseAlert(record: JsonRecord): EventDraft {
  const status = requireString(record, 'status');
  const firing = alertIsFiring(status);
  const rule = readString(record, 'rule_name');
  const applicationId = readString(record, 'application');
  const url = readString(record, 'url');
  const project = readProject(record, url);
  const resolvedBy = nonEmpty(readString(record, 'resolved_by'));
  const alert: CorootAlert = {
    id: matchGroup(ALERT_ID_RE, url),
    project,
    application: readApplication(applicationId),
    rule,
    severity: alertSeverity(readString(record, 'severity'), status, firing),
    status: firing ? 'firing' : 'resolved',
    summary: readString(record, 'summary'),
    details: readDetails(own(record, 'details')),
    duration_seconds: readDuration(record),
    resolution: firing ? null : alertResolution(resolvedBy),
    resolved_by: resolvedBy,
    url,
    extra: collectExtra(record, ALERT_KEYS),
  };
  const fingerprint = corootAlertFingerprint({
    projectId: project.id,
    alertId: alert.id,
    projectName: project.name,
    applicationId,
    rule,
  });
  return corootAlertDraft('coroot', alert, fingerprint);
}

/**
 * docs/events.md "data.alert" (`resolution`). A suppress sends exactly the payload of a manual resolve
 * (api.go SuppressAlerts → EnqueueResolvedAlerts), so a webhook cannot tell them apart.
 */
export function alertResolution(resolvedBy: string | null): 'auto' | 'system' | 'manual' {
  if (resolvedBy === null) return 'auto';
  return isCorootItself(resolvedBy) ? 'system' : 'manual';
}

/** Whether `resolved_by` names Coroot itself (`AI`, `init`) rather than a person. */
export function isCorootItself(resolvedBy: string | null): boolean {
  // Compared, not looked up in a Set: a Set lookup would leave the event's `resolved_by` a
  // string JSON.stringify's fast path does not take (lib/flat-string.ts).
  return resolvedBy !== null && SYSTEM_ACTORS.includes(resolvedBy);
}

function alertIsFiring(status: string): boolean {
  switch (status) {
    case 'WARNING':
    case 'CRITICAL':
    // A rule created through Coroot's API may have severity info (not validated there), or
    // one Coroot reads back as unknown: the status is that severity upper-cased.
    case 'INFO':
    case 'UNKNOWN':
      return true;
    case 'OK':
      return false;
    default:
      return invalidValue('status', 'one of "WARNING", "CRITICAL", "INFO", "UNKNOWN", "OK"', status);
  }
}

/**
 * Coroot sends the rule's severity, unchanged on the OK message. A custom template
 * may leave it out (and a Coroot without details sends ""): then a firing status
 * (WARNING/CRITICAL) is the best evidence left.
 */
function alertSeverity(raw: string | null, status: string, firing: boolean): Severity {
  const severity = normalizeSeverity(raw);
  return severity === 'unknown' && firing ? normalizeSeverity(status) : severity;
}

/** An alert's `details` list: the webhook's and the alerts API's share Go's struct. */
export function readDetails(value: unknown): CorootAlertDetail[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) invalid('details', 'an array', value);
  const details: CorootAlertDetail[] = [];
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    const field = `details[${i}]`;
    if (!isRecord(item)) invalid(field, 'an object', item);
    const code = own(item, 'code');
    if (code !== undefined && code !== null && typeof code !== 'boolean') {
      invalid(`${field}.code`, 'a boolean', code);
    }
    details.push({
      name: requireString(item, 'name', `${field}.name`),
      value: requireString(item, 'value', `${field}.value`),
      // Go omits `code` when false (omitempty).
      code: code === true,
    });
  }
  return details;
}

function readDuration(record: JsonRecord): number | null {
  const raw = readString(record, 'duration');
  if (raw === null || raw === '') return null;
  const seconds = parseGoDuration(raw);
  if (seconds === undefined) {
    invalidValue('duration', 'a duration such as "42m10s", "3d2h" or "1y2w"', raw);
  }
  return seconds;
}

/** Identity of a Coroot alert, from a webhook URL or from the alerts API. */
export interface CorootAlertKey {
  projectId: string | null;
  alertId: string | null;
  projectName: string | null;
  /** The application id as Coroot sent it (`<project>:::` included), null when absent. */
  applicationId: string | null;
  rule: string | null;
}

/**
 * docs/events.md: `coroot/alert/<project id>/<alert id>`; without both ids (custom template,
 * old Coroot) `coroot/alert/<project name>/<application id>/<rule>`, unknown parts empty.
 * Never the status, so a firing alert and its resolve share it.
 */
export function corootAlertFingerprint(key: CorootAlertKey): string {
  if (key.projectId !== null && key.alertId !== null) {
    return fingerprintOf(`coroot/alert/${key.projectId}/${key.alertId}`);
  }
  return fingerprintOf(`coroot/alert/${key.projectName ?? ''}/${key.applicationId ?? ''}/${key.rule ?? ''}`);
}

/** Wraps a normalized alert (webhook or pull mode) into its draft. */
export function corootAlertDraft(
  source: 'coroot' | 'coroot_api',
  alert: CorootAlert,
  fingerprint: string,
  dedupKey?: string,
): EventDraft {
  const type = alert.status === 'firing' ? 'alert_firing' : 'alert_resolved';
  const data = { alert };
  return {
    source,
    type,
    fingerprint,
    dedupKey: dedupKey ?? corootDedupKey(source, type, data),
    data,
    severity: alert.severity,
  };
}

/**
 * A Coroot notification is rendered afresh from stored details on every retry, so two
 * deliveries are identical and everything in `data` is what Coroot meant (status,
 * resolved_by, duration, summary, details, custom fields).
 */
function corootDedupKey(source: 'coroot' | 'coroot_api', type: EventType, data: JsonObject): string {
  return dedupKeyOf(source, type, JSON.stringify(data));
}

// ---------------------------------------------------------------- incidents

function parseIncident(record: JsonRecord): EventDraft {
  const status = requireString(record, 'status');
  const open = incidentIsOpen(status);
  const applicationId = readString(record, 'application');
  const url = readString(record, 'url');
  const project = readProject(record, url);
  const incident: CorootIncident = {
    key: matchGroup(INCIDENT_KEY_RE, url),
    project,
    application: readApplication(applicationId),
    // An OK message does not say how severe the incident was; guessing would mislead.
    severity: open ? normalizeSeverity(status) : 'unknown',
    status: open ? 'open' : 'resolved',
    reports: readReports(own(record, 'reports')),
    rca_summary: readString(record, 'rca_summary'),
    rca_remediations: readString(record, 'rca_remediations'),
    url,
    extra: collectExtra(record, INCIDENT_KEYS),
  };
  const type = open ? 'incident_opened' : 'incident_resolved';
  const data = { incident };
  return {
    source: 'coroot',
    type,
    fingerprint: corootIncidentFingerprint(project.id, incident.key, applicationId),
    dedupKey: corootDedupKey('coroot', type, data),
    data,
    severity: incident.severity,
  };
}

function incidentIsOpen(status: string): boolean {
  switch (status) {
    case 'CRITICAL':
    case 'WARNING':
      return true;
    case 'OK':
      return false;
    default:
      return invalidValue('status', 'one of "CRITICAL", "WARNING", "OK"', status);
  }
}

function readReports(value: unknown): CorootIncidentReport[] {
  // Coroot sends null on resolve.
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) invalid('reports', 'an array', value);
  const reports: CorootIncidentReport[] = [];
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    const field = `reports[${i}]`;
    if (!isRecord(item)) invalid(field, 'an object', item);
    reports.push({
      name: requireString(item, 'name', `${field}.name`),
      check: requireString(item, 'check', `${field}.check`),
      message: requireString(item, 'message', `${field}.message`),
    });
  }
  return reports;
}

/**
 * docs/events.md: `coroot/incident/<project id>/<key>`. A URL without the key (custom
 * template) falls back to the application id, so open and resolve still pair up.
 */
function corootIncidentFingerprint(
  projectId: string | null,
  key: string | null,
  applicationId: string | null,
): string {
  return fingerprintOf(`coroot/incident/${projectId ?? ''}/${key ?? applicationId ?? ''}`);
}

// ---------------------------------------------------------------- deployments

function parseDeployment(record: JsonRecord): EventDraft {
  const status = deploymentStatus(requireString(record, 'status'));
  const version = requireString(record, 'version');
  const applicationId = readString(record, 'application');
  const url = readString(record, 'url');
  const deployment: CorootDeployment = {
    project: readProject(record, url),
    application: readApplication(applicationId),
    status,
    version,
    // Coroot sends null for every status but the final summary.
    summary: readStringArray(own(record, 'summary'), 'summary'),
    url,
    extra: collectExtra(record, DEPLOYMENT_KEYS),
  };
  const data = { deployment };
  return {
    source: 'coroot',
    type: 'deployment',
    fingerprint: corootDeploymentFingerprint(applicationId, version),
    dedupKey: corootDedupKey('coroot', 'deployment', data),
    data,
    // A deployment is a change record, not a problem report; a stuck one is visible in
    // `status`. `info` keeps it above `unknown` for severity-based routing.
    severity: 'info',
  };
}

function deploymentStatus(status: string): DeploymentStatus {
  switch (status) {
    case 'In-progress':
      return 'in_progress';
    case 'Deployed':
      return 'deployed';
    case 'Stuck':
      return 'stuck';
    case 'Cancelled':
      return 'cancelled';
    default:
      return invalidValue('status', 'one of "In-progress", "Deployed", "Stuck", "Cancelled"', status);
  }
}

/** docs/events.md: `coroot/deployment/<application id>/<version>`. */
function corootDeploymentFingerprint(applicationId: string | null, version: string): string {
  return fingerprintOf(`coroot/deployment/${applicationId ?? ''}/${version}`);
}

// ---------------------------------------------------------------- shared pieces

function readProject(record: JsonRecord, url: string | null): CorootProject {
  return { id: matchGroup(PROJECT_ID_RE, url), name: nonEmpty(readString(record, 'project_name')) };
}

function readApplication(id: string | null): CorootApplication | null {
  if (id === null) return null;
  const application = normalizeCorootApplication(id);
  if (application === undefined) {
    invalidValue('application', 'a Coroot application id "<cluster>:<namespace>:<Kind>:<name>"', id);
  }
  return application;
}

/**
 * Splits a Coroot application id the way Coroot's own parser does (at most 4 parts,
 * the name keeps any further ':'). Returns null when the id names no application
 * (PromQL alerts send `<project>:::` or `:::`, custom templates may send ""), and
 * undefined when the string is not an application id at all (fewer than 3 parts).
 */
export function normalizeCorootApplication(id: string): CorootApplication | null | undefined {
  if (id === '') return null;
  const first = id.indexOf(':');
  const second = first < 0 ? -1 : id.indexOf(':', first + 1);
  if (second < 0) return undefined;
  const third = id.indexOf(':', second + 1);
  // Unsliced: the parts go into the event's JSON (lib/flat-string.ts).
  const a = unsliced(id.slice(0, first));
  const b = unsliced(id.slice(first + 1, second));
  if (third < 0) return application(id, null, a, b, unsliced(id.slice(second + 1)));
  const c = unsliced(id.slice(second + 1, third));
  const d = unsliced(id.slice(third + 1));
  // Coroot's rule: an `external:<not external>:...` id is an old 3-part id whose name
  // (an external service's host:port) has a ':'.
  if (a === 'external' && b !== 'external') return application(id, null, a, b, copyOf(`${c}:${d}`));
  return application(id, a === '' ? null : a, b, c, d);
}

function application(
  id: string,
  cluster: string | null,
  namespace: string,
  kind: string,
  name: string,
): CorootApplication | null {
  if (namespace === '' && kind === '' && name === '') return null;
  return { id, cluster, namespace, kind, name };
}

function matchGroup(re: RegExp, text: string | null): string | null {
  if (text === null) return null;
  const match = re.exec(text)?.[1];
  // A capture is a substring: not as a slice into the event (lib/flat-string.ts).
  return match === undefined ? null : unsliced(match);
}

function nonEmpty(value: string | null): string | null {
  return value === '' ? null : value;
}

// ---------------------------------------------------------------- durations

/**
 * Seconds in a Go-style duration ("42m10s", "1h5m", "1.5s", "500ms") extended with
 * the units of Coroot's short format (durafmt): days, weeks and 365-day years ("3d2h", "1y2w"). Undefined when the text
 * is not one (a sign included: an alert's duration is never negative). Hand-rolled: it
 * runs per resolve and needs no regex or allocation beyond the number slices.
 */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  let total = 0;
  let i = 0;
  while (i < text.length) {
    const numberStart = i;
    i = skipDigits(text, i);
    let digits = i - numberStart;
    if (text.charCodeAt(i) === DOT) {
      const fractionStart = i + 1;
      i = skipDigits(text, fractionStart);
      digits += i - fractionStart;
    }
    if (digits === 0) return undefined;
    const value = Number(text.slice(numberStart, i));
    const unitStart = i;
    while (i < text.length && !isDigit(text.charCodeAt(i)) && text.charCodeAt(i) !== DOT) i++;
    const unit = unitSeconds(text.slice(unitStart, i));
    if (unit === undefined) return undefined;
    total += value * unit;
  }
  if (i === 0 || !Number.isFinite(total)) return undefined;
  // Summing float parts leaves noise like 0.30000000000000004; Go's resolution is 1 ns.
  return Math.round(total * 1e9) / 1e9;
}

const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

function isDigit(code: number): boolean {
  return code >= ZERO && code <= NINE;
}

function skipDigits(text: string, from: number): number {
  let i = from;
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  return i;
}

function unitSeconds(unit: string): number | undefined {
  switch (unit) {
    case 'ns':
      return 1e-9;
    case 'us':
    case 'µs': // U+00B5, what Go prints
    case 'μs': // U+03BC, which Go also accepts
      return 1e-6;
    case 'ms':
      return 1e-3;
    case 's':
      return 1;
    case 'm':
      return 60;
    case 'h':
      return 3600;
    case 'd':
      return 86_400;
    case 'w':
      return 604_800;
    case 'y': // Coroot's short format (durafmt): 365 days
      return 31_536_000;
    default:
      return undefined;
  }
}
