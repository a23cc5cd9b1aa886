/*
 * Which events one poll produces: the difference between the alert states the poller
 * last recorded and what Coroot shows now. Pure, so every transition is unit-tested.
 */
import { isCorootItself } from '../coroot/webhook.js';
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
  /**
   * Suppressed alerts whose `updated_at` to remember (see `suppressedAt`): every alert
   * that is suppressed now and stays so in the recorded states after this diff.
   */
  suppressed: Array<{ id: string; updatedAt: number }>;
}

/**
 * @param known the states last recorded, by alert id
 * @param current every alert Coroot lists now (duplicates across pages: the first wins)
 * @param baseline true on the very first poll, when `known` is empty because nothing was
 *   ever recorded (no state file): closed alerts are then history, not news. Later, an
 *   unknown alert that is already closed opened and closed between two polls (or while
 *   a webhook was lost): it gets both its firing and its resolve — unless Coroot itself
 *   closed it at birth (`resolved_by` `AI`: suppressed by AI when created; `init`: closed
 *   when its rule was first evaluated): Coroot never announced those, so neither do we.
 * @param suppressedAt the `updated_at` each recorded-as-suppressed alert had when seen so.
 *   Coroot lifts a suppression (ClearSuppression) without touching `updated_at` and leaves
 *   `resolved_at` unset until the next evaluation resolves it: the alert then reads as open,
 *   but it is not a reopen. A user's reopen moves `updated_at`, so it still is one.
 */
export function diffAlerts(
  known: ReadonlyMap<string, AlertState>,
  current: readonly ApiAlert[],
  baseline: boolean,
  suppressedAt: ReadonlyMap<string, number> = new Map(),
): AlertsDiff {
  const diff: AlertsDiff = { transitions: [], adopted: [], missing: [], suppressed: [] };
  const seen = new Set<string>();
  for (const alert of current) {
    if (seen.has(alert.id)) continue;
    seen.add(alert.id);
    const now = alertState(alert);
    const before = known.get(alert.id) ?? null;
    if (now === 'suppressed' && alert.updatedAt !== null) {
      diff.suppressed.push({ id: alert.id, updatedAt: alert.updatedAt });
    }
    if (before === now) continue;
    if (before === null) {
      if (now === 'open') diff.transitions.push({ alert, from: null, steps: ['open'] });
      else if (baseline || neverAnnounced(alert)) diff.adopted.push({ id: alert.id, state: now });
      else diff.transitions.push({ alert, from: null, steps: ['open', now] });
      continue;
    }
    if (before === 'suppressed' && now === 'open' && unsuppressed(alert, suppressedAt.get(alert.id))) {
      continue;
    }
    // open → closed, closed → open (reopened), and one kind of closed to another
    // (e.g. resolved, then suppressed): each is a change consumers may act on.
    diff.transitions.push({ alert, from: before, steps: [now] });
  }
  for (const id of known.keys()) if (!seen.has(id)) diff.missing.push(id);
  return diff;
}

/** Closed by Coroot's own actors, who close alerts nobody was ever told about. */
function neverAnnounced(alert: ApiAlert): boolean {
  return isCorootItself(alert.resolvedBy);
}

/** Reads as open after having been suppressed, without a reopen (see diffAlerts). */
function unsuppressed(alert: ApiAlert, updatedAtWhenSuppressed: number | undefined): boolean {
  return (
    updatedAtWhenSuppressed === undefined ||
    alert.updatedAt === null ||
    alert.updatedAt === updatedAtWhenSuppressed
  );
}
