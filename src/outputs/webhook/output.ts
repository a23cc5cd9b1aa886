import { performance } from 'node:perf_hooks';
import type { ConnectionOptions } from 'node:tls';
import { Pool } from 'undici';
import { tlsClientOptions } from '../../lib/tls.js';
import type { Logger } from '../../log.js';
import type { DropReason } from '../../metrics/drop-reason.js';
import type { OutputMeter } from '../../metrics/registry.js';
import type { DeliveryBatch } from '../delivery/batcher.js';
import type { WhenFull } from '../delivery/buffer-config.js';
import { DeliveryCore, type DeliveryOutcome } from '../delivery/core.js';
import { DeliveringOutput } from '../delivery/delivering-output.js';
import { openDeliveryBuffer } from '../delivery/open-buffer.js';
import { RetryPolicy } from '../delivery/retry.js';
import type { Output, OutputDeps } from '../output.js';
import { type AbortCause, AttemptControl } from './attempt-control.js';
import { lineBudget, RequestBuilder } from './body.js';
import type { WebhookOutputConfig } from './config.js';
import { classifyStatus } from './policy.js';
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
  err: string;
  code?: string;
}

/**
 * POSTs events to one URL (docs/configuration.md `webhook_outputs`). `send` only offers the
 * event to the delivery core (delivery/core.ts), which batches it and runs up to `workers`
 * deliveries at once on one keep-alive undici Pool; each delivery retries transient failures
 * with jittered exponential backoff (or the receiver's Retry-After) while holding its worker.
 * Every event taken by `send` ends in exactly one of written / lost(reason) (docs/metrics.md).
 */
export class WebhookOutput extends DeliveringOutput implements Output {
  readonly name: string;
  readonly kind = 'webhook';
  readonly whenFull: WhenFull;

  private readonly meter: OutputMeter;
  private readonly retries: { inc(): void };
  private readonly log: Logger;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly requests: RequestBuilder;
  private readonly redactor: Redactor;
  protected readonly core: DeliveryCore;
  private readonly retryPolicy: RetryPolicy;
  private started = false;
  private readonly retryForever: boolean;
  private closePromise: Promise<void> | null = null;
  private up = true;
  private consecutiveFailures = 0;
  /** Attempts in progress, so the end of the close budget can abort them. */
  private readonly running = new Set<AttemptControl>();

  constructor(
    private readonly config: WebhookOutputConfig,
    deps: OutputDeps,
  ) {
    super();
    this.name = config.name;
    this.whenFull = config.buffer.whenFull;
    this.meter = deps.metrics.forOutput(config.name, this);
    this.retries = deps.metrics.webhookRetries.labels(config.name);
    this.log = deps.logger.child({ output: config.name, kind: this.kind });
    const batch = config.batch;
    this.requests = new RequestBuilder(config.format, batch !== null, requestHeaders(config, deps.version));
    this.core = new DeliveryCore(
      {
        slots: () => (this.started ? config.workers : 0),
        deliver: (b) => this.deliver(b),
        abort: () => {
          for (const attempt of this.running) attempt.abort('shutdown');
        },
      },
      {
        // queue_size bounds the events waiting for a worker; those in flight are bounded by the workers.
        buffer: openDeliveryBuffer(config.buffer, {
          dataDir: deps.dataDir ?? null,
          outputName: config.name,
          log: this.log,
          onCorrupted: (n) => this.meter.lost('corrupted', n),
          memoryBound: 'waiting',
        }),
        batch: batch
          ? {
              maxEvents: batch.maxEvents,
              maxBytes: lineBudget(batch.maxBytes),
              flushIntervalMs: batch.flushIntervalMs,
              sizeOf: (record) => this.requests.sizeOf(record),
            }
          : { maxEvents: 1, maxBytes: Number.POSITIVE_INFINITY, flushIntervalMs: 0 },
        meter: this.meter,
        log: this.log,
        onFullDrops: (dropped) =>
          this.log.warn('webhook queue full; dropping events', {
            dropped,
            max_events: config.buffer.maxEvents,
          }),
        settleMs: ABORT_SETTLE_MS,
      },
    );
    this.retryForever = this.core.buffer.type === 'disk';
    this.retryPolicy = new RetryPolicy(config.retryBackoffMs, config.maxBackoffMs, 'full');
    const url = new URL(config.url);
    this.path = `${url.pathname}${url.search}`;
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
    this.core.wake();
  }

  /** After start: optimistic until attempts fail (see `isUp`). */
  protected destinationFailing(): boolean {
    return this.started && !this.isUp();
  }

  isUp(): boolean {
    return this.up && !this.core.closed && this.bufferProblem() === null;
  }

  close(budgetMs: number): Promise<void> {
    this.closePromise ??= this.drainAndRelease(budgetMs).catch((err: unknown) => {
      this.log.error('webhook output close failed', this.redactor.describe(err));
    });
    return this.closePromise;
  }

  /** Deliver what is queued until the budget ends, then drop the rest as `shutdown`. */
  private async drainAndRelease(budgetMs: number): Promise<void> {
    // Even an output that never started delivers what it holds within the budget.
    this.started = true;
    const dropped = await this.core.close(budgetMs);
    if (dropped > 0) this.log.warn('webhook output closed before everything was delivered', { dropped });
    await this.pool.destroy().catch(() => {});
    this.meter.release();
  }

  /** Runs the attempts of one request; the core accounts its events exactly once. */
  private async deliver(batch: DeliveryBatch): Promise<DeliveryOutcome> {
    const { body, headers } = this.requests.build(batch.records);
    const outcome = await this.attemptUntilDone(body, headers, batch.records.length);
    return outcome === null ? { kind: 'written', bytes: body.length } : { kind: 'lost', reason: outcome };
  }

  /** null when delivered, else why the events are lost. */
  private async attemptUntilDone(
    body: Buffer,
    headers: Record<string, string>,
    events: number,
  ): Promise<DropReason | null> {
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) this.retries.inc();
      const result = await this.attempt(body, headers);
      if (result.kind === 'delivered') {
        this.markSuccess();
        return null;
      }
      if (result.kind === 'shutdown') return 'shutdown';
      this.markFailure();
      if (result.kind === 'reject') {
        this.log.warn('webhook receiver rejected events; not retrying', {
          status: result.status,
          events,
        });
        return 'rejected';
      }
      // A disk buffer keeps events through an outage of any length: retry until delivered.
      if (attempt >= this.config.maxAttempts && !this.retryForever) {
        this.log.warn('webhook delivery failed after the last attempt', {
          ...describeRetry(result),
          attempts: attempt,
          events,
        });
        return 'retries_exhausted';
      }
      const delay = this.retryPolicy.delay(attempt - 1, result.retryAfterMs);
      this.log.debug('webhook attempt failed; retrying', {
        ...describeRetry(result),
        attempt,
        delay_ms: delay,
      });
      if (!(await this.core.waitBeforeRetry(delay))) return 'shutdown';
    }
  }

  /** One POST, bounded by `timeout` from connect to the end of the response body. */
  private async attempt(body: Buffer, headers: Record<string, string>): Promise<Attempt> {
    if (this.core.stopped) return { kind: 'shutdown' };
    const control = new AttemptControl();
    this.running.add(control);
    const timer = setTimeout(() => control.abort('timeout'), this.config.timeoutMs);
    const started = performance.now();
    try {
      const res = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers,
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
      err: `no complete answer within ${this.config.timeoutMs}ms`,
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
    this.log.info('webhook receiver accepts events again');
  }

  private markFailure(): void {
    this.consecutiveFailures++;
    if (!this.up || this.consecutiveFailures < DOWN_AFTER_FAILURES) return;
    this.up = false;
    this.log.warn('webhook receiver is failing; output marked down', {
      consecutive_failures: this.consecutiveFailures,
    });
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
  return config.tls ? { ...tlsClientOptions(config.tls), ...out } : out;
}
