import { Kafka, type KafkaConfig, type Message, type Producer, type ProducerConfig } from 'kafkajs';
import { jsonOf } from '../../events/serialize.js';
import type { Logger } from '../../log.js';
import type { Metrics, OutputMeter } from '../../metrics/registry.js';
import type { DeliveryBatch } from '../delivery/batcher.js';
import type { BufferedRecord, EventMeta } from '../delivery/buffer.js';
import type { WhenFull } from '../delivery/buffer-config.js';
import { kafkaBinaryHeaders, kafkaHeadersSize } from '../delivery/cloudevents.js';
import { DeliveryCore, type DeliveryOutcome } from '../delivery/core.js';
import { DeliveringOutput } from '../delivery/delivering-output.js';
import { openDeliveryBuffer } from '../delivery/open-buffer.js';
import { RetryPolicy, type RetrySchedule } from '../delivery/retry.js';
import type { Output, OutputDeps } from '../output.js';
import { kafkaClientConfig, type ProduceOptions, produceOptions, producerConfig } from './client-config.js';
import type { KafkaOutputConfig } from './config.js';
import { classifyKafkaError, type KafkaFailure } from './errors.js';
import { kafkaLogCreator, kafkaLogLevel } from './log-bridge.js';
import { registerSnappyCodec } from './snappy.js';
import { SocketRegistry } from './sockets.js';

/** The part of a kafkajs producer the output uses. */
export type ProducerLike = Pick<Producer, 'connect' | 'disconnect' | 'sendBatch'>;

export interface KafkaOutputOptions {
  /** Builds the client; tests pass a fake. Default: kafkajs' `new Kafka(config)`. */
  createClient?: (config: KafkaConfig) => { producer(config: ProducerConfig): ProducerLike };
}

/**
 * - idle: constructed, not started.
 * - connecting: the producer is connecting (or waits to retry connecting).
 * - ready: may send.
 * - backoff: a request failed transiently; waits before sending again.
 * - closed: everything is released.
 */
type State = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed';

/** Per-record overhead of the v2 record format beyond key, value and header bytes (a rough upper bound). */
const RECORD_OVERHEAD_BYTES = 64;
/** Reconnect / retry backoff: exponential from the first to the cap, with jitter. */
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 10_000;
/** At least this long for a clean disconnect at close, even when the drain used the whole budget. */
const DISCONNECT_GRACE_MS = 500;

/**
 * Produces events to one Kafka topic (docs/configuration.md `kafka_outputs`).
 *
 * `send` only offers the event to the delivery core (delivery/core.ts), whose memory buffer
 * holds at most `buffer_size` events (waiting, in flight and retrying). Batches leave it when
 * full (batch_max_events / batch_max_bytes) or when the oldest event has waited `linger`, at
 * most `max_in_flight` at a time. Accounting is exact: every accepted event ends in exactly
 * one of written (the broker acknowledged it), lost `rejected` (the broker refused it for
 * good), lost `shutdown` (still held when close's budget ran out), and until then counts as
 * pending. A broker outage never loses held events: a batch whose request fails transiently
 * goes back to the core's retry list and is sent again, in order, after a backoff, while new
 * events beyond `buffer_size` are dropped as `buffer_full`. Delivery is at least once: a
 * request that timed out may have been written, so a retry can duplicate it (consumers
 * de-duplicate by event id).
 */
export class KafkaOutput extends DeliveringOutput implements Output {
  readonly name: string;
  readonly kind = 'kafka';
  readonly whenFull: WhenFull;

  private readonly meter: OutputMeter;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly kafka: { producer(config: ProducerConfig): ProducerLike };
  private readonly sockets = new SocketRegistry();
  private readonly produceOpts: ProduceOptions;
  protected readonly core: DeliveryCore;
  private producer: ProducerLike;

  private state: State = 'idle';
  private up = false;
  /** The output said it cannot deliver; until it is up again (and after close), kafkajs' own complaints are debug. */
  private troubleReported = false;
  private closing: Promise<void> | null = null;
  /** After a failure only one request at a time probes the broker. */
  private recovering = false;

  private readonly backoff: RetrySchedule = new RetryPolicy(
    BACKOFF_FIRST_MS,
    BACKOFF_MAX_MS,
    'equal',
  ).schedule();
  private connectFailures = 0;
  private stateTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: KafkaOutputConfig,
    deps: OutputDeps,
    opts: KafkaOutputOptions = {},
  ) {
    super();
    registerSnappyCodec();
    this.name = config.name;
    this.whenFull = config.buffer.whenFull;
    this.metrics = deps.metrics;
    this.meter = deps.metrics.forOutput(config.name, this);
    this.log = deps.logger.child({ output: config.name });
    this.core = new DeliveryCore(
      {
        slots: () => (this.state !== 'ready' ? 0 : this.recovering ? 1 : config.maxInFlight),
        deliver: (batch) => this.produce(batch),
        // A produce request cannot be aborted; close disconnects the producer instead.
        abort: () => {},
      },
      {
        buffer: openDeliveryBuffer(config.buffer, {
          dataDir: deps.dataDir ?? null,
          outputName: config.name,
          log: this.log,
          onCorrupted: (n) => this.meter.lost('corrupted', n),
          memoryBound: 'held',
        }),
        batch: {
          maxEvents: config.batchMaxEvents,
          maxBytes: config.batchMaxBytes,
          flushIntervalMs: config.lingerMs,
          sizeOf: (record) => this.recordSize(record),
        },
        meter: this.meter,
        log: this.log,
        onFullDrops: (dropped) =>
          this.log.warn('kafka output: buffer full; dropping events', {
            dropped,
            max_events: config.buffer.maxEvents,
          }),
      },
    );
    this.produceOpts = produceOptions(config);
    const secrets = config.sasl ? [config.sasl.password] : [];
    const clientConfig = kafkaClientConfig(config, {
      logCreator: kafkaLogCreator(this.log, secrets, () => this.troubleReported || this.state === 'closed'),
      logLevel: kafkaLogLevel(this.log),
      socketFactory: this.sockets.factory,
    });
    this.kafka = opts.createClient ? opts.createClient(clientConfig) : new Kafka(clientConfig);
    this.producer = this.kafka.producer(producerConfig(config));
  }

  start(): void {
    if (this.state !== 'idle' || this.core.closed) return;
    this.connect();
  }

  /** After start, until connected (and again after a failure): a `block` Kafka output holds intake back meanwhile. */
  protected destinationFailing(): boolean {
    return this.state !== 'idle' && !this.isUp();
  }

  isUp(): boolean {
    return this.up && this.bufferProblem() === null;
  }

  close(budgetMs: number): Promise<void> {
    this.closing ??= this.shutdown(budgetMs).catch((err: unknown) => {
      this.log.error('kafka output: close failed', { err });
    });
    return this.closing;
  }

  // --- connection -------------------------------------------------------------------

  private connect(): void {
    this.state = 'connecting';
    const producer = this.producer;
    producer.connect().then(
      () => this.guard(() => this.onConnected(producer)),
      (err: unknown) => this.guard(() => this.onConnectFailed(producer, err)),
    );
  }

  private onConnected(producer: ProducerLike): void {
    if (producer !== this.producer || this.state === 'closed') {
      void disconnectQuietly(producer);
      return;
    }
    this.log.info('kafka output: connected', { brokers: this.config.brokers, topic: this.config.topic });
    this.connectFailures = 0;
    this.backoff.reset();
    this.state = 'ready';
    this.setUp(true);
    this.core.wake();
  }

  private onConnectFailed(producer: ProducerLike, err: unknown): void {
    if (producer !== this.producer || this.state === 'closed') return;
    this.connectFailures++;
    this.setUp(false);
    const delay = this.backoff.next();
    const failure = classifyKafkaError(err);
    // The first failure is news; the following ones while still down are not.
    const level = this.connectFailures === 1 ? 'warn' : 'debug';
    this.troubleReported = true;
    this.log[level]('kafka output: cannot connect to the brokers; events are buffered meanwhile', {
      brokers: this.config.brokers,
      err: failure.message,
      code: failure.code,
      retry_in_ms: delay,
      attempt: this.connectFailures,
    });
    this.setStateTimer(delay, () => this.connect());
  }

  /** The idempotent producer's sequence state is broken: carry on with a new producer id. */
  private resetProducer(failure: KafkaFailure): void {
    const old = this.producer;
    this.producer = this.kafka.producer(producerConfig(this.config));
    void disconnectQuietly(old);
    this.log.warn('kafka output: restarting the producer', { err: failure.message, code: failure.code });
    this.recovering = true;
    this.setUp(false);
    this.state = 'connecting';
    this.setStateTimer(this.backoff.next(), () => this.connect());
  }

  // --- producing --------------------------------------------------------------------

  /** Estimated record bytes toward batch_max_bytes: value, key, headers and the v2 record overhead. */
  private recordSize(record: BufferedRecord): number {
    return (
      record.line.length -
      1 +
      (this.keyOf(record)?.length ?? 0) +
      kafkaHeadersSize(this.headersOf(record.meta)) +
      RECORD_OVERHEAD_BYTES
    );
  }

  /** `event_*` headers, or CloudEvents binary mode's `ce_*` ones (docs/events.md "CloudEvents"). */
  private headersOf(meta: EventMeta): Record<string, string> {
    if (this.config.format === 'cloudevents') return kafkaBinaryHeaders(meta);
    return { event_type: meta.type, event_source: meta.source, event_id: meta.id };
  }

  private keyOf(record: BufferedRecord): string | null {
    const { key } = this.config;
    return key === 'fingerprint' ? record.meta.fingerprint : key === 'instance' ? record.meta.instance : null;
  }

  private message(record: BufferedRecord): Message {
    const { meta } = record;
    return {
      key: this.keyOf(record),
      value: jsonOf(record.line),
      headers: this.headersOf(meta),
    };
  }

  private async produce(batch: DeliveryBatch): Promise<DeliveryOutcome> {
    const started = performance.now();
    let valueBytes = 0;
    const messages = batch.records.map((record) => {
      const message = this.message(record);
      valueBytes += (message.value as Buffer).length;
      return message;
    });
    try {
      await this.producer.sendBatch({
        topicMessages: [{ topic: this.config.topic, messages }],
        ...this.produceOpts,
      });
    } catch (err) {
      this.meter.observeSend((performance.now() - started) / 1000);
      // Given up at close already: a late answer changes nothing.
      if (this.core.stopped) return { kind: 'retry' };
      return this.onFailed(batch, err);
    }
    this.meter.observeSend((performance.now() - started) / 1000);
    if (this.core.stopped) return { kind: 'written', bytes: valueBytes };
    this.onDelivered(batch);
    return { kind: 'written', bytes: valueBytes };
  }

  private onDelivered(batch: DeliveryBatch): void {
    if (this.recovering)
      this.log.info('kafka output: delivering again', { pending: this.core.pending - batch.records.length });
    this.recovering = false;
    this.backoff.reset();
    if (this.state === 'backoff') {
      // Another request got through: the broker is back, no need to sit out the backoff.
      this.clearStateTimer();
      this.state = 'ready';
    }
    if (this.state === 'ready') this.setUp(true);
  }

  private onFailed(batch: DeliveryBatch, err: unknown): DeliveryOutcome {
    const failure = classifyKafkaError(err);
    this.metrics.kafkaProduceErrors.labels(this.name, failure.errorType).inc();
    const n = batch.records.length;
    if (failure.action === 'split' && n > 1) {
      this.log.warn('kafka output: the broker found a request too large; sending its events one by one', {
        events: n,
        code: failure.code,
      });
      const batches = batch.records.map((record, i) => ({
        order: batch.order + i / n,
        records: [record],
        bytes: record.line.length,
      }));
      return { kind: 'retry', batches };
    }
    if (failure.action === 'split' || failure.action === 'reject') {
      this.log.error('kafka output: the broker rejected events; they are lost', {
        events: n,
        err: failure.message,
        code: failure.code,
      });
      return { kind: 'lost', reason: 'rejected' };
    }
    if (failure.action === 'reset') {
      if (this.state === 'ready' || this.state === 'backoff') this.resetProducer(failure);
      return { kind: 'retry' };
    }
    this.enterBackoff(failure);
    return { kind: 'retry' };
  }

  private enterBackoff(failure: KafkaFailure): void {
    this.recovering = true;
    if (!this.troubleReported) {
      this.troubleReported = true;
      this.log.warn('kafka output: cannot deliver; events are buffered and retried', {
        err: failure.message,
        code: failure.code,
        error_type: failure.errorType,
      });
    }
    this.setUp(false);
    // Connecting (or already backing off): that path sends again when it is done.
    if (this.state !== 'ready') return;
    this.state = 'backoff';
    this.setStateTimer(this.backoff.next(), () => {
      this.state = 'ready';
      this.core.wake();
    });
  }

  private setUp(up: boolean): void {
    if (up) this.troubleReported = false;
    this.up = up;
  }

  // --- close --------------------------------------------------------------------------

  private async shutdown(budgetMs: number): Promise<void> {
    const deadline = Date.now() + Math.max(0, budgetMs);
    if (this.state === 'backoff') {
      // One more attempt now rather than sitting out the backoff inside the budget.
      this.clearStateTimer();
      this.state = 'ready';
    }
    // Never started: nothing can be delivered, everything held is given up at once.
    const lost = await this.core.close(this.state === 'idle' ? 0 : budgetMs);
    if (lost > 0)
      this.log.warn('kafka output: closed with undelivered events; they are lost', { events: lost });
    this.state = 'closed';
    this.clearStateTimer();
    await this.disconnect(Math.max(DISCONNECT_GRACE_MS, deadline - Date.now()));
    this.sockets.shutdown();
    this.setUp(false);
    this.meter.release();
  }

  private async disconnect(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([disconnectQuietly(this.producer), gaveUp]);
    clearTimeout(timer);
  }

  // --- timers and helpers -----------------------------------------------------------

  private setStateTimer(delayMs: number, fn: () => void): void {
    this.clearStateTimer();
    this.stateTimer = setTimeout(() => {
      this.stateTimer = null;
      if (this.state !== 'closed') this.guard(fn);
    }, delayMs);
  }

  private clearStateTimer(): void {
    if (this.stateTimer !== null) clearTimeout(this.stateTimer);
    this.stateTimer = null;
  }

  /** Callbacks from kafkajs and timers: a bug here must be logged, never crash the daemon. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error('kafka output: internal error', { err });
    }
  }
}

function disconnectQuietly(producer: ProducerLike): Promise<void> {
  return producer.disconnect().catch(() => {});
}
