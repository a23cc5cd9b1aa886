/*
 * Which events one poll produces: the difference between the alert states the poller
 * last recorded and what Coroot shows now. Pure, so every transition is unit-tested.
 */
import { type AlertState, type ApiAlert, alertState } from './api-alert.js';

/** One alert whose state changed: each step is one event, in order (open → alert_firing, closed → alert_resolved). */
export interface Transition {
  alert: ApiAlert;
  from: AlertState | null;
  steps: AlertState[];
}

export interface AlertsDiff {
  transitions: Transition[];
  /** Alerts learned without an event (closed before the poller ever looked). */
  adopted: Array<{ id: string; state: AlertState }>;
  /** Known alerts absent from this listing. */
  missing: string[];
}

/**
 * @param known the states last recorded, by alert id
 * @param current every alert Coroot lists now (duplicates across pages: the first wins)
 * @param baseline true on the very first poll, when `known` is empty because nothing was
 *   ever recorded (no state file): closed alerts are then history, not news. Later, an
 *   unknown alert that is already closed opened and closed between two polls (or while
 *   a webhook was lost): it gets both its firing and its resolve.
 */
export function diffAlerts(
  known: ReadonlyMap<string, AlertState>,
  current: readonly ApiAlert[],
  baseline: boolean,
): AlertsDiff {
  const diff: AlertsDiff = { transitions: [], adopted: [], missing: [] };
  const seen = new Set<string>();
  for (const alert of current) {
    if (seen.has(alert.id)) continue;
    seen.add(alert.id);
    const now = alertState(alert);
    const before = known.get(alert.id) ?? null;
    if (before === now) continue;
    if (before === null) {
      if (now === 'open') diff.transitions.push({ alert, from: null, steps: ['open'] });
      else if (baseline) diff.adopted.push({ id: alert.id, state: now });
      else diff.transitions.push({ alert, from: null, steps: ['open', now] });
      continue;
    }
    // open → closed, closed → open (reopened), and one kind of closed to another
    // (e.g. resolved, then suppressed): each is a change consumers may act on.
    diff.transitions.push({ alert, from: before, steps: [now] });
  }
  for (const id of known.keys()) if (!seen.has(id)) diff.missing.push(id);
  return diff;
}
