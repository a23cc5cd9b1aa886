/**
 * The event contract (docs/events.md). Every output carries this object;
 * changing a field is a breaking change for consumers, so the JSON Schema in
 * event.schema.json must change with it.
 */

export const EVENT_SOURCES = ['coroot', 'coroot_api', 'alertmanager', 'recorder'] as const;
export type EventSource = (typeof EVENT_SOURCES)[number];

export const EVENT_TYPES = [
  'alert_firing',
  'alert_resolved',
  'incident_opened',
  'incident_resolved',
  'deployment',
  'recorder_started',
  'recorder_stopped',
  'config_reloaded',
  'unrecognized',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Ordered from least to most severe, so `min_severity` filters can compare indexes. */
export const SEVERITIES = ['unknown', 'info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** JSON-compatible value; event data is built only from these. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * The key under which an event carries its severity for routing. A symbol, so
 * `JSON.stringify` never writes it: the serialized event keeps severity inside `data`
 * (docs/events.md), and the write loop routes by what the parser decided instead of
 * reading it back out of `data`.
 */
export const SEVERITY: unique symbol = Symbol('severity');

export interface RecorderEvent {
  '@timestamp': string;
  id: string;
  instance: string;
  source: EventSource;
  type: EventType;
  fingerprint: string;
  /** Same for two deliveries of one notification (docs/events.md "dedup_key"). */
  dedup_key: string;
  data: JsonObject;
  /** Set by the parser (EventDraft.severity); lifecycle events and deployments are `info`. */
  readonly [SEVERITY]: Severity;
}

/**
 * What a normalizer produces: everything about the event except what the recorder
 * stamps on acceptance (timestamp, id, instance).
 */
export interface EventDraft {
  source: EventSource;
  type: EventType;
  fingerprint: string;
  /** 16 lowercase hex; what `dedupe` compares (docs/events.md "dedup_key"). */
  dedupKey: string;
  data: JsonObject;
  /** Normalized severity, used by routing filters; not serialized separately (it lives in data). */
  severity: Severity;
}

/*
 * Shapes of `data` (docs/events.md "Catalogue"). Type aliases rather than interfaces so they stay
 * assignable to JsonObject (interfaces get no implicit index signature).
 */

/** Coroot project: the id lives only in Coroot's URLs, the name only in newer payloads. */
export type CorootProject = { id: string | null; name: string | null };

/** A Coroot application id split into its parts; `cluster` is null for Coroot < 1.17 ids. */
export type CorootApplication = {
  id: string;
  cluster: string | null;
  namespace: string;
  kind: string;
  name: string;
};

export type CorootAlertDetail = { name: string; value: string; code: boolean };

/** docs/events.md "data.alert" (`resolution`): `system` is Coroot itself (`AI`, `init`); `suppressed` only in pull mode. */
export type AlertResolution = 'auto' | 'system' | 'manual' | 'suppressed';

export type CorootAlert = {
  /** Coroot's alert id; null when the URL carries none (custom template, old Coroot). */
  id: string | null;
  project: CorootProject;
  application: CorootApplication | null;
  /** Null when the payload has no `rule_name` (a custom field of that name makes Go drop it). */
  rule: string | null;
  severity: Severity;
  status: 'firing' | 'resolved';
  summary: string | null;
  details: CorootAlertDetail[];
  duration_seconds: number | null;
  resolution: AlertResolution | null;
  resolved_by: string | null;
  url: string | null;
  extra: JsonObject;
};

export type CorootIncidentReport = { name: string; check: string; message: string };

export type CorootIncident = {
  key: string | null;
  project: CorootProject;
  application: CorootApplication | null;
  severity: Severity;
  status: 'open' | 'resolved';
  reports: CorootIncidentReport[];
  rca_summary: string | null;
  rca_remediations: string | null;
  url: string | null;
  extra: JsonObject;
};

export type DeploymentStatus = 'in_progress' | 'deployed' | 'stuck' | 'cancelled';

export type CorootDeployment = {
  project: CorootProject;
  application: CorootApplication | null;
  status: DeploymentStatus;
  version: string;
  summary: string[];
  url: string | null;
  extra: JsonObject;
};

/** Label and annotation maps. Their keys are untrusted: read them only with own() (src/ingest/fields.ts). */
export type StringMap = { [key: string]: string };

export type AlertmanagerGroup = {
  key: string | null;
  receiver: string | null;
  labels: StringMap;
  external_url: string | null;
};

export type AlertmanagerAlert = {
  /** Alertmanager's own fingerprint, as given (null when the payload has none). */
  fingerprint: string | null;
  name: string | null;
  status: 'firing' | 'resolved';
  severity: Severity;
  labels: StringMap;
  annotations: StringMap;
  starts_at: string | null;
  ends_at: string | null;
  generator_url: string | null;
  group: AlertmanagerGroup;
};
