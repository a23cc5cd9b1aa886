import { Kafka, type KafkaConfig, type Message, type Producer, type ProducerConfig } from 'kafkajs';
import type { RecorderEvent } from '../../events/event.js';
import { jsonOf } from '../../events/serialize.js';
import { Backoff } from '../../lib/backoff.js';
import { RingQueue } from '../../lib/ring-queue.js';
import type { Logger } from '../../log.js';
import type { Metrics, OutputMeter } from '../../metrics/registry.js';
import type { WhenFull } from '../delivery/buffer-config.js';
import { DropLogThrottle } from '../delivery/drop-log.js';
import { pollForRoom } from '../delivery/room.js';
import type { Output } from '../output.js';
import type { OutputDeps } from '../registry.js';
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

/** One accepted event, ready to be produced. */
interface Entry {
  message: Message;
  /** Bytes of the value (what output_bytes_total counts). */
  valueBytes: number;
  /** Estimated record bytes, toward batch_max_bytes. */
  size: number;
  /** When it was accepted (ms): linger counts from the oldest waiting event. */
  at: number;
}

/** One produce request's worth of events. */
interface Batch {
  /** Orders batches waiting for a retry, so events go out in the order they came in. */
  seq: number;
  entries: Entry[];
  valueBytes: number;
  /** Counted already (written, lost, or given up at close): later outcomes are ignored. */
  settled: boolean;
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
 * Produces events to one Kafka topic (CONFIG.md `kafka_outputs`).
 *
 * `send` only appends to the output's bounded buffer. Batches leave it when full
 * (batch_max_events / batch_max_bytes) or when the oldest event has waited `linger`, at
 * most `max_in_flight` at a time. Accounting is exact: every accepted event ends in
 * exactly one of written (the broker acknowledged it), lost `rejected` (the broker refused
 * it for good), lost `shutdown` (still held when close's budget ran out), and until then
 * counts as pending. A broker outage never loses held events: a batch whose request fails
 * transiently is taken back and retried, in order, after a backoff, while new events
 * beyond `buffer_size` are dropped as `buffer_full`. Delivery is at least once: a request
 * that timed out may have been written, so a retry can duplicate it (consumers
 * de-duplicate by event id).
 */
export class KafkaOutput implements Output {
  readonly name: string;
  readonly kind = 'kafka';
  readonly whenFull: WhenFull;

  private readonly meter: OutputMeter;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly kafka: { producer(config: ProducerConfig): ProducerLike };
  private readonly sockets = new SocketRegistry();
  private readonly produceOpts: ProduceOptions;
  private producer: ProducerLike;

  private state: State = 'idle';
  private up = false;
  /** The output said it cannot deliver; until it is up again (and after close), kafkajs' own complaints are debug. */
  private troubleReported = false;
  private accepting = true;
  private closing: Promise<void> | null = null;

  private readonly buffer: RingQueue<Entry>;
  private bufferedSize = 0;
  /** Batches taken back after a transient failure, ordered by seq; sent before the buffer. */
  private retryQueue: Batch[] = [];
  private readonly inFlight = new Set<Batch>();
  /** Accepted and not yet settled: buffer + retryQueue + in flight. */
  private held = 0;
  private nextBatchSeq = 0;
  /** After a failure only one request at a time probes the broker. */
  private recovering = false;

  private readonly backoff = new Backoff(BACKOFF_FIRST_MS, BACKOFF_MAX_MS);
  private connectFailures = 0;
  private stateTimer: NodeJS.Timeout | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private drainScheduled = false;
  private idleWaiter: (() => void) | null = null;
  private readonly bufferFullLog = new DropLogThrottle();

  constructor(
    private readonly config: KafkaOutputConfig,
    deps: OutputDeps,
    opts: KafkaOutputOptions = {},
  ) {
    registerSnappyCodec();
    this.name = config.name;
    this.whenFull = config.buffer.whenFull;
    this.metrics = deps.metrics;
    this.meter = deps.metrics.forOutput(config.name);
    this.log = deps.logger.child({ output: config.name });
    this.buffer = new RingQueue(config.buffer.maxEvents);
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
    if (this.state !== 'idle' || !this.accepting) return;
    this.connect();
  }

  send(line: Buffer, event: RecorderEvent): boolean {
    if (!this.accepting) {
      this.meter.lost('closed');
      return false;
    }
    if (this.held >= this.config.buffer.maxEvents) {
      this.meter.lost('buffer_full');
      this.noteBufferFull();
      return false;
    }
    const value = jsonOf(line);
    const key =
      this.config.key === 'fingerprint'
        ? event.fingerprint
        : this.config.key === 'instance'
          ? event.instance
          : null;
    const message: Message = {
      key,
      value,
      headers: { event_type: event.type, event_source: event.source, event_id: event.id },
    };
    const size =
      value.length +
      (key?.length ?? 0) +
      event.type.length +
      event.source.length +
      event.id.length +
      RECORD_OVERHEAD_BYTES;
    this.buffer.push({ message, valueBytes: value.length, size, at: Date.now() });
    this.bufferedSize += size;
    this.held++;
    this.meter.queued(this.held);
    this.scheduleDrain();
    return true;
  }

  hasRoom(): boolean {
    return !this.accepting || this.held < this.config.buffer.maxEvents;
  }

  whenRoom(): Promise<void> {
    return pollForRoom(() => this.hasRoom());
  }

  /** A memory buffer: an event taken is as durable as this output makes it. */
  committed(): Promise<boolean> {
    return Promise.resolve(true);
  }

  isUp(): boolean {
    return this.up;
  }

  pending(): number {
    return this.held;
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
    this.drain();
  }

  private onConnectFailed(producer: ProducerLike, err: unknown): void {
    if (producer !== this.producer || this.state === 'closed') return;
    this.connectFailures++;
    this.setUp(false);
    const delay = this.nextBackoff();
    const failure = classifyKafkaError(err);
    // The first failure is news; the following ones while still down are not.
    const level = this.connectFailures === 1 ? 'warn' : 'debug';
    this.troubleReported = true;
    this.log[level]('kafka output: cannot connect to the brokers; events are buffered meanwhile', {
      brokers: this.config.brokers,
      error: failure.message,
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
    this.log.warn('kafka output: restarting the producer', { error: failure.message, code: failure.code });
    this.recovering = true;
    this.setUp(false);
    this.state = 'connecting';
    this.setStateTimer(this.nextBackoff(), () => this.connect());
  }

  // --- batching and producing -------------------------------------------------------

  private scheduleDrain(): void {
    if (this.drainScheduled || this.state !== 'ready') return;
    this.drainScheduled = true;
    setImmediate(this.runScheduledDrain);
  }

  private readonly runScheduledDrain = (): void => {
    this.drainScheduled = false;
    this.guard(() => this.drain());
  };

  private drain(): void {
    if (this.state !== 'ready') return;
    const limit = this.recovering ? 1 : this.config.maxInFlight;
    while (this.inFlight.size < limit) {
      const batch = this.retryQueue.shift() ?? this.takeBatch();
      if (batch === undefined) return;
      this.produce(batch);
    }
  }

  /** The next batch from the buffer, or undefined when it should wait (empty, or lingering). */
  private takeBatch(): Batch | undefined {
    const head = this.buffer.peek();
    if (head === undefined) return undefined;
    const { batchMaxEvents, batchMaxBytes, lingerMs } = this.config;
    const full = this.buffer.length >= batchMaxEvents || this.bufferedSize >= batchMaxBytes;
    if (!full && this.accepting && lingerMs > 0) {
      const wait = head.at + lingerMs - Date.now();
      if (wait > 0) {
        this.armLinger(wait);
        return undefined;
      }
    }
    const entries: Entry[] = [];
    let size = 0;
    let valueBytes = 0;
    for (;;) {
      const next = this.buffer.peek();
      if (next === undefined || entries.length >= batchMaxEvents) break;
      // A single event larger than the limit still goes, alone.
      if (entries.length > 0 && size + next.size > batchMaxBytes) break;
      this.buffer.shift();
      entries.push(next);
      size += next.size;
      valueBytes += next.valueBytes;
    }
    this.bufferedSize -= size;
    return { seq: this.nextBatchSeq++, entries, valueBytes, settled: false };
  }

  private armLinger(waitMs: number): void {
    if (this.lingerTimer !== null) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = null;
      this.guard(() => this.drain());
    }, waitMs);
  }

  private produce(batch: Batch): void {
    this.inFlight.add(batch);
    const started = performance.now();
    let request: Promise<unknown>;
    try {
      request = this.producer.sendBatch({
        topicMessages: [{ topic: this.config.topic, messages: batch.entries.map((e) => e.message) }],
        ...this.produceOpts,
      });
    } catch (err) {
      request = Promise.reject(err);
    }
    request.then(
      () => this.guard(() => this.onDelivered(batch, started)),
      (err: unknown) => this.guard(() => this.onFailed(batch, started, err)),
    );
  }

  private onDelivered(batch: Batch, started: number): void {
    this.inFlight.delete(batch);
    this.meter.observeSend((performance.now() - started) / 1000);
    if (batch.settled) return;
    this.settle(batch.entries.length);
    batch.settled = true;
    this.meter.written(batch.entries.length, batch.valueBytes);
    if (this.recovering) this.log.info('kafka output: delivering again', { pending: this.held });
    this.recovering = false;
    this.backoff.reset();
    if (this.state === 'backoff') {
      // Another request got through: the broker is back, no need to sit out the backoff.
      this.clearStateTimer();
      this.state = 'ready';
    }
    if (this.state === 'ready') this.setUp(true);
    this.drain();
  }

  private onFailed(batch: Batch, started: number, err: unknown): void {
    this.inFlight.delete(batch);
    this.meter.observeSend((performance.now() - started) / 1000);
    if (batch.settled) return;
    const failure = classifyKafkaError(err);
    this.metrics.kafkaProduceErrors.labels(this.name, failure.errorType).inc();
    if (failure.action === 'split' && batch.entries.length > 1) {
      this.log.warn('kafka output: the broker found a request too large; sending its events one by one', {
        events: batch.entries.length,
        code: failure.code,
      });
      batch.entries.forEach((entry, i) => {
        const seq = batch.seq + i / batch.entries.length;
        this.requeue({ seq, entries: [entry], valueBytes: entry.valueBytes, settled: false });
      });
      this.drain();
      return;
    }
    if (failure.action === 'split' || failure.action === 'reject') {
      batch.settled = true;
      this.settle(batch.entries.length);
      this.meter.lost('rejected', batch.entries.length);
      this.log.error('kafka output: the broker rejected events; they are lost', {
        events: batch.entries.length,
        error: failure.message,
        code: failure.code,
      });
      this.drain();
      return;
    }
    this.requeue(batch);
    if (failure.action === 'reset') {
      if (this.state === 'ready' || this.state === 'backoff') this.resetProducer(failure);
      return;
    }
    this.enterBackoff(failure);
  }

  private requeue(batch: Batch): void {
    const at = this.retryQueue.findIndex((b) => b.seq > batch.seq);
    if (at === -1) this.retryQueue.push(batch);
    else this.retryQueue.splice(at, 0, batch);
  }

  private enterBackoff(failure: KafkaFailure): void {
    this.recovering = true;
    if (!this.troubleReported) {
      this.troubleReported = true;
      this.log.warn('kafka output: cannot deliver; events are buffered and retried', {
        error: failure.message,
        code: failure.code,
        error_type: failure.errorType,
      });
    }
    this.setUp(false);
    // Connecting (or already backing off): that path sends again when it is done.
    if (this.state !== 'ready') return;
    this.state = 'backoff';
    this.setStateTimer(this.nextBackoff(), () => {
      this.state = 'ready';
      this.drain();
    });
  }

  /** `n` events left the output's hands (written, rejected or given up). */
  private settle(n: number): void {
    this.held -= n;
    this.meter.queued(this.held);
    if (this.held === 0 && this.idleWaiter) this.idleWaiter();
  }

  private setUp(up: boolean): void {
    if (up) this.troubleReported = false;
    if (this.up === up) return;
    this.up = up;
    this.meter.up(up);
  }

  private noteBufferFull(): void {
    const dropped = this.bufferFullLog.note();
    if (dropped > 0)
      this.log.warn('kafka output: buffer full; dropping events', {
        dropped,
        max_events: this.config.buffer.maxEvents,
      });
  }

  // --- close --------------------------------------------------------------------------

  private async shutdown(budgetMs: number): Promise<void> {
    this.accepting = false;
    const deadline = Date.now() + Math.max(0, budgetMs);
    this.clearLinger();
    if (this.state === 'backoff') {
      // One more attempt now rather than sitting out the backoff inside the budget.
      this.clearStateTimer();
      this.state = 'ready';
    }
    if (this.state !== 'idle') {
      this.drain();
      await this.waitForIdle(deadline);
    }
    this.giveUp();
    this.state = 'closed';
    this.clearStateTimer();
    this.clearLinger();
    await this.disconnect(Math.max(DISCONNECT_GRACE_MS, deadline - Date.now()));
    this.sockets.shutdown();
    this.setUp(false);
  }

  private waitForIdle(deadline: number): Promise<void> {
    if (this.held === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.idleWaiter = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      this.idleWaiter = done;
    });
  }

  /** Counts whatever is still held as lost to the shutdown. */
  private giveUp(): void {
    let n = 0;
    for (const batch of this.inFlight) {
      if (batch.settled) continue;
      batch.settled = true;
      n += batch.entries.length;
    }
    for (const batch of this.retryQueue) n += batch.entries.length;
    this.retryQueue = [];
    n += this.buffer.clear();
    this.bufferedSize = 0;
    if (n === 0) return;
    this.settle(n);
    this.meter.lost('shutdown', n);
    this.log.warn('kafka output: closed with undelivered events; they are lost', { events: n });
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

  private clearLinger(): void {
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
  }

  private nextBackoff(): number {
    const ceiling = this.backoff.next();
    // Equal jitter: many recorders restarting together do not hit the broker in lockstep.
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
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
