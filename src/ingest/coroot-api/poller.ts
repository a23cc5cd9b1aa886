/*
 * Coroot API pull mode (docs/coroot-api.md). The webhook stream only carries open
 * and resolve; polling the alerts API also sees suppression, manual resolve and
 * reopen, and fills the gap when a webhook was lost. One poller per configured
 * project: poll, diff against the last recorded states, record one event per change,
 * then persist the states.
 */
import type { CorootApiConfig } from '../../config/coroot-api.js';
import type { DraftSink } from '../../events/sink.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics/registry.js';
import { pollDelay } from './backoff.js';
import { CorootApiClient, type FailureResult } from './client.js';
import { type AlertsDiff, diffAlerts } from './diff.js';
import { apiAlertDraft, type DraftContext } from './draft.js';
import { type PollerState, StateStore } from './state-store.js';

/**
 * `result` label of coroot_api_polls_total:
 * - `ok`: listed, every change recorded, state saved
 * - `queue_full`: listed, but the recorder queue refused some changes; they are retried next poll
 * - `error_state`: changes recorded but the state file could not be written (retried next poll)
 * - `error_network`: Coroot unreachable, connection reset, timeout
 * - `error_http`: a 5xx or other unexpected status
 * - `error_auth`: login refused, 401 without credentials, 403
 * - `error_decode`: not JSON, or not the documented shape
 * - `error_not_found`: `data: null` (unknown project) or 404
 * - `error_unsupported`: 200 text/html, i.e. a Coroot older than 1.18 without the alerts API
 */
export type PollResult = 'ok' | 'queue_full' | 'error_state' | FailureResult;

export interface CorootApiPollerDeps {
  /** The recorder's intake: stamps and queues what the poller found. */
  sink: DraftSink;
  metrics: Metrics;
  logger: Logger;
  /** For the User-Agent header. */
  version?: string;
}

/**
 * A known alert missing from this many complete listings in a row is forgotten (Coroot
 * deleted it). More than one, so an alert that slipped between two pages while the
 * listing shifted is not forgotten and then re-announced.
 */
const FORGET_AFTER_MISSES = 3;

type Outcome = PollResult | 'stopped';

export class CorootApiPoller {
  private readonly client: CorootApiClient;
  private readonly store: StateStore;
  private readonly logger: Logger;
  private readonly draftContext: DraftContext;
  private state: PollerState | null = null;
  /** In-memory state differs from the file (a failed save is retried on the next poll). */
  private dirty = false;
  private misses = new Map<string, number>();
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private started = false;
  private stopped = false;
  private stopping: Promise<void> | null = null;

  constructor(
    readonly config: CorootApiConfig,
    private readonly deps: CorootApiPollerDeps,
  ) {
    this.logger = deps.logger.child({ component: 'coroot-api', project: config.project, url: config.url });
    this.client = new CorootApiClient(config, `coroot-event-recorder/${deps.version ?? 'unknown'}`);
    this.store = new StateStore(config.stateFile, { url: config.url, project: config.project }, this.logger);
    this.draftContext = { baseUrl: config.url, projectId: config.project };
    // The `ok` series exists from the start, so a rate() over it works before the first poll.
    deps.metrics.corootApiPolls.labels(config.project, 'ok').inc(0);
  }

  /** Starts polling at once; returns immediately. A no-op after stop(). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.logger.info('coroot api poller started', {
      interval_ms: this.config.intervalMs,
      auth: this.config.email !== null ? 'login' : 'anonymous',
      state_file: this.config.stateFile,
    });
    this.schedule(0);
  }

  /** Cancels the next poll, aborts a request in flight, closes every socket. Never rejects. */
  stop(): Promise<void> {
    this.stopping ??= this.stopInternal();
    return this.stopping;
  }

  private async stopInternal(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const closing = this.client.close();
    // A poll past its requests still records and saves what it fetched: that is quick.
    await this.inFlight;
    await closing;
    if (this.started) this.logger.info('coroot api poller stopped');
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(this.tick, delayMs);
    // stop() clears it; unref so a forgotten poller cannot keep the process alive.
    this.timer.unref();
  }

  private readonly tick = (): void => {
    this.timer = null;
    this.inFlight = this.pollOnce()
      .catch((err: unknown): Outcome => {
        this.logger.error('coroot api poll failed unexpectedly', { err });
        return 'error_decode';
      })
      .then((outcome) => this.finish(outcome))
      .catch((err: unknown) => this.logger.error('coroot api poller error', { err }))
      .finally(() => {
        this.inFlight = null;
      });
  };

  private finish(outcome: Outcome): void {
    if (outcome === 'stopped') return;
    this.deps.metrics.corootApiPolls.labels(this.config.project, outcome).inc();
    const failed = outcome.startsWith('error_') && outcome !== 'error_state';
    this.failures = failed ? this.failures + 1 : 0;
    if (this.stopped) return;
    this.schedule(pollDelay(this.failures, this.config.intervalMs, this.config.maxBackoffMs));
  }

  private async pollOnce(): Promise<Outcome> {
    this.state ??= await this.store.load();
    if (this.stopped) return 'stopped';
    const listing = await this.client.listAlerts();
    if (!listing.ok) {
      if (listing.result === 'stopped') return 'stopped';
      this.logger.error('coroot api poll failed', {
        result: listing.result,
        err: listing.message,
        consecutive_failures: this.failures + 1,
      });
      return listing.result;
    }
    if (this.failures > 0)
      this.logger.info('coroot api poll succeeded again', { after_failures: this.failures });
    if (listing.skipped.length > 0) {
      this.logger.warn('coroot api listing has alerts that could not be read; they are skipped', {
        skipped: listing.skipped.slice(0, 10),
        count: listing.skipped.length,
      });
    }
    const state = this.state;
    const diff = diffAlerts(state.alerts, listing.alerts, !state.initialized, state.suppressedAt);
    const deferred = this.recordChanges(diff, state);
    for (const { id, state: s } of diff.adopted) state.alerts.set(id, s);
    this.rememberSuppressions(diff, state);
    if (diff.adopted.length > 0 || !state.initialized) this.dirty = true;
    state.initialized = true;
    if (listing.complete) this.forgetMissing(diff.missing, state);
    this.logger.debug('coroot api poll', {
      alerts: listing.alerts.length,
      pages: listing.pages,
      changes: diff.transitions.length,
      deferred,
    });
    const saved = await this.persist(state);
    if (deferred > 0) {
      this.logger.warn('recorder queue full: coroot api changes deferred to the next poll', { deferred });
      return 'queue_full';
    }
    return saved ? 'ok' : 'error_state';
  }

  /**
   * Records one event per step and advances an alert's state only once its event was
   * accepted. On a full queue it stops: the state stays where it is, so the same change
   * is found and recorded again on the next poll — a state change is never lost.
   * Returns how many events were deferred.
   */
  private recordChanges(diff: AlertsDiff, state: PollerState): number {
    for (const [t, transition] of diff.transitions.entries()) {
      for (const [s, step] of transition.steps.entries()) {
        const draft = apiAlertDraft(transition.alert, step, this.draftContext);
        // A refusal here is retried (like a 503 to a webhook sender), so it is not counted
        // in events_dropped_total as a loss.
        if (this.deps.sink.acceptAll([draft]) !== 'accepted') {
          let deferred = transition.steps.length - s;
          for (const rest of diff.transitions.slice(t + 1)) deferred += rest.steps.length;
          return deferred;
        }
        state.alerts.set(transition.alert.id, step);
        this.dirty = true;
        this.logger.debug('coroot api alert changed', {
          alert: transition.alert.id,
          from: s === 0 ? transition.from : transition.steps[s - 1],
          to: step,
          event: draft.type,
        });
      }
    }
    return 0;
  }

  /** Keeps `suppressedAt` to the alerts recorded as suppressed (see diffAlerts). */
  private rememberSuppressions(diff: AlertsDiff, state: PollerState): void {
    for (const { id, updatedAt } of diff.suppressed) {
      if (state.alerts.get(id) === 'suppressed' && state.suppressedAt.get(id) !== updatedAt) {
        state.suppressedAt.set(id, updatedAt);
        this.dirty = true;
      }
    }
    for (const id of state.suppressedAt.keys()) {
      if (state.alerts.get(id) !== 'suppressed') {
        state.suppressedAt.delete(id);
        this.dirty = true;
      }
    }
  }

  private forgetMissing(missing: readonly string[], state: PollerState): void {
    const next = new Map<string, number>();
    for (const id of missing) {
      const count = (this.misses.get(id) ?? 0) + 1;
      if (count >= FORGET_AFTER_MISSES) {
        state.alerts.delete(id);
        this.dirty = true;
      } else {
        next.set(id, count);
      }
    }
    this.misses = next;
  }

  /** Saves after the events were accepted, never before: a crash between the two re-records, never skips. */
  private async persist(state: PollerState): Promise<boolean> {
    if (!this.dirty) return true;
    try {
      await this.store.save(state);
      this.dirty = false;
      return true;
    } catch (err) {
      this.logger.error('cannot write the coroot_api state file; keeping the state in memory', {
        state_file: this.config.stateFile,
        err,
      });
      return false;
    }
  }
}
