import type { EventType, JsonObject, Severity } from './event.js';

/**
 * Maps a sender's severity word onto the four severity values of docs/events.md. Coroot sends
 * `warning`/`critical`; Alertmanager labels are free text, so the synonyms seen in
 * common rule sets (PagerDuty's `page`, syslog's `error`/`warn`, `none` for
 * informational rules) are folded in. Anything else is `unknown` rather than a
 * guess, so a filter never promotes an unrecognized word.
 */
export function normalizeSeverity(value: string | null | undefined): Severity {
  if (value === null || value === undefined) return 'unknown';
  switch (value.trim().toLowerCase()) {
    case 'critical':
    case 'error':
    case 'page':
      return 'critical';
    case 'warning':
    case 'warn':
      return 'warning';
    case 'info':
    case 'information':
    case 'informational':
    case 'none':
      return 'info';
    default:
      return 'unknown';
  }
}

/**
 * The severity of an event read back from its JSON (replay), where only `data` holds it:
 * what the parsers decided, by the rules of docs/events.md. Lifecycle events and
 * deployments are `info`; alerts and incidents carry theirs in `data`.
 */
export function severityOfStored(type: EventType, data: JsonObject): Severity {
  switch (type) {
    case 'recorder_started':
    case 'recorder_stopped':
    case 'config_reloaded':
    case 'deployment':
      return 'info';
    default: {
      for (const key of ['alert', 'incident'] as const) {
        const inner = data[key];
        if (inner && typeof inner === 'object' && !Array.isArray(inner) && typeof inner.severity === 'string')
          return normalizeSeverity(inner.severity);
      }
      return 'unknown';
    }
  }
}
