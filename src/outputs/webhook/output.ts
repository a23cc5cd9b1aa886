import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectionOptions } from 'node:tls';
import { Pool } from 'undici';
import type { RecorderEvent } from '../../events/event.js';
import { jsonOf } from '../../events/serialize.js';
import { backoffDelay } from '../../lib/backoff.js';
import type { Logger } from '../../log.js';
import type { OutputMeter } from '../../metrics/registry.js';
import type { WhenFull } from '../delivery/buffer-config.js';
import { DropLogThrottle } from '../delivery/drop-log.js';
import { pollForRoom } from '../delivery/room.js';
import type { DropReason, Output } from '../output.js';
import type { OutputDeps } from '../registry.js';
import { type AbortCause, AttemptControl } from './attempt-control.js';
import { batchWait, type Delivery, takeBatch } from './batcher.js';
import type { WebhookOutputConfig } from './config.js';
import { classifyStatus } from './policy.js';
import { BodyQueue } from './queue.js';
import { Redactor, requestHeaders } from './request.js';
import { parseRetryAfter } from './retry-after.js';

/** Consecutive failed attempts after which `output_up` goes to 0 (one success sets it back to 1). */
export const DOWN_AFTER_FAILURES = 3;
/** How much of a response body is read to keep the connection reusable; beyond it the socket is dropped. */
const RESPONSE_DRAIN_LIMIT = 64 * 1024;
/** After the close budget, how long aborted requests get to settle (they settle in microtasks). */
const ABORT_SETTLE_MS = 1000;

/** The result of one HTTP attempt. */
type Attempt =
  | { kind: 'delivered' }
  | { kind: 'retry'; status: number | null; retryAfterMs: number | null; error: LoggedError | null }
  | { kind: 'reject'; status: number }
  | { kind: 'shutdown' };

interface LoggedError {
  error: string;
  code?: string;
}

/**
 * POSTs events to one URL (CONFIG.md `webhook_outputs`). `send` only enqueues; up to
 * `workers` deliveries run at once on one keep-alive undici Pool, each retrying transient
 * failures with jittered exponential backoff (or the receiver's Retry-After). Every event
 * taken by `send` ends in exactly one of written / lost(reason) (METRICS.md invariant).
 */
export class WebhookOutput implements Output {
  readonly name: string;
  readonly kind = 'webhook';
  readonly whenFull: WhenFull;

  private readonly meter: OutputMeter;
  private readonly retries: { inc(): void };
  private readonly log: Logger;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly redactor: Redactor;
  private readonly queue: BodyQueue;
  /** Deliveries running (each holds one worker). */
  private active = 0;
  /** Events inside running deliveries. */
  private inFlight = 0;
  private started = false;
  private closing = false;
  private closePromise: Promise<void> | null = null;
  /** performance.now() at which the close budget ends. */
  private deadline = Number.POSITIVE_INFINITY;
  private pumpScheduled = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private up = true;
  private consecutiveFailures = 0;
  /** Set when the close budget ends: no new attempt starts, running ones are aborted. */
  private stopped = false;
  /** Attempts in progress, so the end of the close budget can abort them. */
  private readonly running = new Set<AttemptControl>();
  /** Backoff waits in progress, with the performance.now() at which each ends. */
  private readonly waits = new Map<AbortController, number>();
  private idleWaiter: (() => void) | null = null;
  private readonly dropLog = new DropLogThrottle();

  constructor(
    private readonly config: WebhookOutputConfig,
    deps: OutputDeps,
  ) {
    this.name = config.name;
    this.whenFull = config.buffer.whenFull;
    this.meter = deps.metrics.forOutput(config.name);
    this.retries = deps.metrics.webhookRetries.labels(config.name);
    this.log = deps.logger.child({ output: config.name, kind: this.kind });
    this.queue = new BodyQueue(config.buffer.maxEvents);
    const url = new URL(config.url);
    this.path = `${url.pathname}${url.search}`;
    this.headers = requestHeaders(config, deps.version);
    this.redactor = new Redactor(config);
    this.pool = new Pool(url.origin, {
      connections: config.workers,
      pipelining: 1,
      headersTimeout: config.timeoutMs,
      bodyTimeout: config.timeoutMs,
      connect: tlsOptions(config),
    });
    // A pool-level error (e.g. a socket failing between requests) must never become an uncaught 'error'.
    this.pool.on('connectionError', () => {});
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    // Optimistic until attempts say otherwise: nothing has failed yet.
    this.meter.up(true);
    this.schedulePump();
  }

  send(line: Buffer, _event: RecorderEvent): boolean {
    if (this.closing) {
      this.meter.lost('closed');
      return false;
    }
    // Full is checked before slicing the line: a receiver that is down must cost as little
    // per event as possible, since every event then ends here.
    if (this.queue.full) {
      this.meter.lost('buffer_full');
      this.noteDrop();
      return false;
    }
    this.queue.push(jsonOf(line), this.config.batch ? performance.now() : 0);
    this.meter.queued(this.pending());
    if (this.active < this.config.workers) this.schedulePump();
    return true;
  }

  hasRoom(): boolean {
    return this.closing || !this.queue.full;
  }

  whenRoom(): Promise<void> {
    return pollForRoom(() => this.hasRoom());
  }

  /** A memory buffer: an event taken is as durable as this output makes it. */
  committed(): Promise<boolean> {
    return Promise.resolve(true);
  }

  isUp(): boolean {
    return this.up && !this.closing;
  }

  pending(): number {
    return this.queue.length + this.inFlight;
  }

  close(budgetMs: number): Promise<void> {
    this.closePromise ??= this.drainAndRelease(budgetMs).catch((err: unknown) => {
      this.log.error('webhook output close failed', this.redactor.describe(err));
    });
    return this.closePromise;
  }

  /** Deliver what is queued until the budget ends, then drop the rest as `shutdown`. */
  private async drainAndRelease(budgetMs: number): Promise<void> {
    this.closing = true;
    this.started = true;
    this.deadline = performance.now() + Math.max(0, budgetMs);
    // A retry that cannot happen before the deadline will not happen: give those events up now.
    this.cutWaits(false);
    this.pump();
    const drained = await this.waitIdle(budgetMs);
    if (!drained) {
      const queued = this.queue.clear();
      const inFlight = this.inFlight;
      this.meter.lost('shutdown', queued);
      // The running deliveries see the abort and count their own events as `shutdown`.
      this.stopped = true;
      for (const attempt of this.running) attempt.abort('shutdown');
      this.cutWaits(true);
      await this.waitIdle(ABORT_SETTLE_MS);
      this.log.warn('webhook output closed before everything was delivered', { dropped: queued + inFlight });
    }
    this.clearFlushTimer();
    await this.pool.destroy().catch(() => {});
  }

  private schedulePump(): void {
    if (this.pumpScheduled || !this.started) return;
    this.pumpScheduled = true;
    // After the write loop's current run, so events sent together can share a batch.
    queueMicrotask(() => this.pump());
  }

  /** Hands queued events to free workers. Never throws (it runs in microtasks and timers). */
  private pump(): void {
    this.pumpScheduled = false;
    try {
      while (this.started && !this.stopped && this.active < this.config.workers) {
        const delivery = this.nextDelivery();
        if (!delivery) break;
        this.startDelivery(delivery);
      }
      if (this.queue.length === 0 || this.active >= this.config.workers) this.clearFlushTimer();
      this.meter.queued(this.pending());
      this.notifyIfIdle();
    } catch (err) {
      this.log.error('webhook dispatch failed', this.redactor.describe(err));
    }
  }

  /** The next request to make, or null when the queue is empty or a partial batch should wait. */
  private nextDelivery(): Delivery | null {
    if (this.queue.length === 0) return null;
    const batch = this.config.batch;
    if (!batch) return { body: this.queue.shift() as Buffer, events: 1 };
    const wait = batchWait(this.queue, batch, this.closing ? null : performance.now());
    if (wait > 0) {
      this.armFlushTimer(wait);
      return null;
    }
    return takeBatch(this.queue, batch);
  }

  private armFlushTimer(ms: number): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(
      () => {
        this.flushTimer = null;
        this.pump();
      },
      Math.max(1, Math.ceil(ms)),
    );
  }

  private clearFlushTimer(): void {
    if (!this.flushTimer) return;
    clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }

  private startDelivery(delivery: Delivery): void {
    this.active++;
    this.inFlight += delivery.events;
    void this.deliver(delivery).finally(() => {
      this.active--;
      this.inFlight -= delivery.events;
      this.pump();
    });
  }

  /** Runs the attempts of one request and accounts its events exactly once. Never rejects. */
  private async deliver(delivery: Delivery): Promise<void> {
    let outcome: DropReason | null;
    try {
      outcome = await this.attemptUntilDone(delivery);
    } catch (err) {
      // Only a bug gets here; the events are still accounted for.
      this.log.error('webhook delivery failed unexpectedly', this.redactor.describe(err));
      outcome = 'write_error';
    }
    if (outcome === null) this.meter.written(delivery.events, delivery.body.length);
    else this.meter.lost(outcome, delivery.events);
  }

  /** null when delivered, else why the events are lost. */
  private async attemptUntilDone(delivery: Delivery): Promise<DropReason | null> {
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) this.retries.inc();
      const result = await this.attempt(delivery.body);
      if (result.kind === 'delivered') {
        this.markSuccess();
        return null;
      }
      if (result.kind === 'shutdown') return 'shutdown';
      this.markFailure();
      if (result.kind === 'reject') {
        this.log.warn('webhook receiver rejected events; not retrying', {
          status: result.status,
          events: delivery.events,
        });
        return 'rejected';
      }
      if (attempt >= this.config.maxAttempts) {
        this.log.warn('webhook delivery failed after the last attempt', {
          ...describeRetry(result),
          attempts: attempt,
          events: delivery.events,
        });
        return 'retries_exhausted';
      }
      const delay = this.retryDelay(attempt, result.retryAfterMs);
      this.log.debug('webhook attempt failed; retrying', {
        ...describeRetry(result),
        attempt,
        delay_ms: delay,
      });
      if (!(await this.waitBeforeRetry(delay))) return 'shutdown';
    }
  }

  /** The receiver's Retry-After when given (capped), else jittered exponential backoff. */
  private retryDelay(attempt: number, retryAfterMs: number | null): number {
    const { retryBackoffMs, maxBackoffMs } = this.config;
    if (retryAfterMs !== null) return Math.min(retryAfterMs, maxBackoffMs);
    return backoffDelay(attempt - 1, retryBackoffMs, maxBackoffMs);
  }

  /** False when the close budget ends first (at once when the wait would outlast it). */
  private async waitBeforeRetry(ms: number): Promise<boolean> {
    const wakeAt = performance.now() + ms;
    if (wakeAt >= this.deadline || this.stopped) return false;
    const ctrl = new AbortController();
    this.waits.set(ctrl, wakeAt);
    try {
      await sleep(ms, undefined, { signal: ctrl.signal });
      return true;
    } catch {
      return false;
    } finally {
      this.waits.delete(ctrl);
    }
  }

  /** Ends backoff waits: all of them, or those that would end after the close deadline. */
  private cutWaits(all: boolean): void {
    for (const [ctrl, wakeAt] of this.waits) if (all || wakeAt >= this.deadline) ctrl.abort();
  }

  /** One POST, bounded by `timeout` from connect to the end of the response body. */
  private async attempt(body: Buffer): Promise<Attempt> {
    if (this.stopped) return { kind: 'shutdown' };
    const control = new AttemptControl();
    this.running.add(control);
    const timer = setTimeout(() => control.abort('timeout'), this.config.timeoutMs);
    const started = performance.now();
    try {
      const res = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: this.headers,
        body,
        signal: control.signal,
      });
      // Resolves even when the body is cut short by an abort: abortedBy below tells.
      await res.body.dump({ limit: RESPONSE_DRAIN_LIMIT });
      if (control.abortedBy) return this.aborted(control.abortedBy);
      return this.classify(res.statusCode, res.headers['retry-after']);
    } catch (err) {
      if (control.abortedBy) return this.aborted(control.abortedBy);
      return { kind: 'retry', status: null, retryAfterMs: null, error: this.redactor.describe(err) };
    } finally {
      clearTimeout(timer);
      this.running.delete(control);
      this.meter.observeSend((performance.now() - started) / 1000);
    }
  }

  private aborted(cause: AbortCause): Attempt {
    if (cause === 'shutdown') return { kind: 'shutdown' };
    const error: LoggedError = {
      error: `no complete answer within ${this.config.timeoutMs}ms`,
      code: 'TIMEOUT',
    };
    return { kind: 'retry', status: null, retryAfterMs: null, error };
  }

  private classify(status: number, retryAfter: string | string[] | undefined): Attempt {
    const cls = classifyStatus(status);
    if (cls === 'delivered') return { kind: 'delivered' };
    if (cls === 'reject') return { kind: 'reject', status };
    return { kind: 'retry', status, retryAfterMs: parseRetryAfter(retryAfter), error: null };
  }

  private markSuccess(): void {
    this.consecutiveFailures = 0;
    if (this.up) return;
    this.up = true;
    this.meter.up(true);
    this.log.info('webhook receiver accepts events again');
  }

  private markFailure(): void {
    this.consecutiveFailures++;
    if (!this.up || this.consecutiveFailures < DOWN_AFTER_FAILURES) return;
    this.up = false;
    this.meter.up(false);
    this.log.warn('webhook receiver is failing; output marked down', {
      consecutive_failures: this.consecutiveFailures,
    });
  }

  /** Logs queue-full drops at most once per interval. */
  private noteDrop(): void {
    const dropped = this.dropLog.note();
    if (dropped > 0)
      this.log.warn('webhook queue full; dropping events', {
        dropped,
        max_events: this.config.buffer.maxEvents,
      });
  }

  private waitIdle(ms: number): Promise<boolean> {
    if (this.isIdle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiter = null;
        resolve(false);
      }, ms);
      this.idleWaiter = () => {
        clearTimeout(timer);
        this.idleWaiter = null;
        resolve(true);
      };
    });
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.active === 0;
  }

  private notifyIfIdle(): void {
    if (this.idleWaiter && this.isIdle()) this.idleWaiter();
  }
}

function describeRetry(result: {
  status: number | null;
  error: LoggedError | null;
}): Record<string, unknown> {
  return result.status !== null ? { status: result.status } : { ...result.error };
}

/** undici `connect` options: TLS material from the config and the attempt timeout for connecting. */
function tlsOptions(config: WebhookOutputConfig): ConnectionOptions & { timeout: number } {
  const out: ConnectionOptions & { timeout: number } = { timeout: config.timeoutMs };
  const tls = config.tls;
  if (!tls) return out;
  if (tls.ca !== null) out.ca = tls.ca;
  if (tls.cert !== null) out.cert = tls.cert;
  if (tls.key !== null) out.key = tls.key;
  if (tls.serverName !== null) out.servername = tls.serverName;
  out.rejectUnauthorized = !tls.insecureSkipVerify;
  return out;
}
