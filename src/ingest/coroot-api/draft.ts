/*
 * An alert of Coroot's API → the same normalized alert (docs/events.md) and the same
 * fingerprint the webhook path produces for it, so consumers can join the two.
 */

import { dedupKeyOf } from '../../events/dedup-key.js';
import type { AlertResolution, CorootAlert, EventDraft } from '../../events/event.js';
import { normalizeSeverity } from '../../events/severity.js';
import {
  alertResolution,
  corootAlertDraft,
  corootAlertFingerprint,
  normalizeCorootApplication,
} from '../coroot/webhook.js';
import { type AlertState, type ApiAlert, apiExtra } from './api-alert.js';

export interface DraftContext {
  /** Coroot's base URL (no trailing slash): alert links are built from it as Coroot's own are. */
  baseUrl: string;
  /** The configured project, used when an alert does not name its own. */
  projectId: string;
}

/** docs/events.md "data.alert" (`resolution`); a manual close by Coroot itself (`AI`, `init`) is `system`. */
function resolutionOf(state: Exclude<AlertState, 'open'>, resolvedBy: string | null): AlertResolution {
  switch (state) {
    case 'resolved':
      return 'auto';
    case 'manual':
      return alertResolution(resolvedBy) === 'system' ? 'system' : 'manual';
    case 'suppressed':
      return 'suppressed';
  }
}

/**
 * The event for `alert` entering `state`: `open` is alert_firing, any closed state is
 * alert_resolved with its resolution. `state` may differ from the alert's current one
 * (an alert that opened and closed between two polls gets its firing event too).
 */
export function apiAlertDraft(alert: ApiAlert, state: AlertState, ctx: DraftContext): EventDraft {
  const projectId = alert.projectId ?? ctx.projectId;
  const firing = state === 'open';
  const rule = alert.ruleName ?? alert.ruleId;
  const application = alert.applicationId === null ? null : normalizeCorootApplication(alert.applicationId);
  const extra = apiExtra(alert);
  // Not an application id at all (should not come from the API): keep the text rather than lose it.
  if (application === undefined) extra.application_id = alert.applicationId;
  const normalized: CorootAlert = {
    id: alert.id,
    // The API carries no project name; the webhook's `project_name` is the only source of it.
    project: { id: projectId, name: null },
    application: application ?? null,
    rule,
    severity: normalizeSeverity(alert.severity),
    status: firing ? 'firing' : 'resolved',
    summary: alert.summary,
    details: alert.details,
    duration_seconds: firing ? null : durationSeconds(alert, state),
    resolution: state === 'open' ? null : resolutionOf(state, alert.resolvedBy),
    resolved_by: firing ? null : alert.resolvedBy,
    url: `${ctx.baseUrl}/p/${encodeURIComponent(projectId)}/alerts?alert=${encodeURIComponent(alert.id)}`,
    extra,
  };
  const fingerprint = corootAlertFingerprint({
    projectId,
    alertId: alert.id,
    projectName: null,
    applicationId: alert.applicationId,
    rule,
  });
  return corootAlertDraft('coroot_api', normalized, fingerprint, apiDedupKey(alert, state, firing));
}

/**
 * One change of state, as every poller of the same Coroot sees it (several recorders
 * polling one project agree on it): the alert, the state it entered and when. Not the
 * whole event, which carries `updated_at`, a value each poller may catch at another moment.
 */
function apiDedupKey(alert: ApiAlert, state: AlertState, firing: boolean): string {
  const closedAt =
    state === 'resolved' ? alert.resolvedAt : state === 'manual' ? alert.manuallyResolvedAt : null;
  const meant = [
    alert.projectId,
    alert.id,
    state,
    alert.openedAt,
    closedAt,
    firing ? null : alert.resolvedBy,
  ];
  return dedupKeyOf('coroot_api', firing ? 'alert_firing' : 'alert_resolved', JSON.stringify(meant));
}

/**
 * How long the alert was open, as the webhook's `duration` says it on resolve. A
 * suppressed alert has both timestamps cleared, so nothing says when it stopped.
 */
function durationSeconds(alert: ApiAlert, state: AlertState): number | null {
  const end = state === 'resolved' ? alert.resolvedAt : state === 'manual' ? alert.manuallyResolvedAt : null;
  if (end === null || alert.openedAt === null || end < alert.openedAt) return null;
  return (end - alert.openedAt) / 1000;
}
