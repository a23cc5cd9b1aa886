import type { Severity } from './event.js';

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
