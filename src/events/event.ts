/**
 * The event contract (../shared/design/EVENTS.md). Every output carries this object;
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
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Ordered from least to most severe, so `min_severity` filters can compare indexes. */
export const SEVERITIES = ['unknown', 'info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** JSON-compatible value; event data is built only from these. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface RecorderEvent {
  '@timestamp': string;
  id: string;
  instance: string;
  source: EventSource;
  type: EventType;
  fingerprint: string;
  data: JsonObject;
}

/**
 * What a normalizer produces: everything about the event except what the recorder
 * stamps on acceptance (timestamp, id, instance).
 */
export interface EventDraft {
  source: EventSource;
  type: EventType;
  fingerprint: string;
  data: JsonObject;
  /** Normalized severity, used by routing filters; not serialized separately (it lives in data). */
  severity: Severity;
}
