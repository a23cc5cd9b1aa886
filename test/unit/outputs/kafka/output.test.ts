/*
 * KafkaOutput's own logic (batching, in-flight limit, retry order, split/reject/reset,
 * close) against a fake kafkajs client whose requests the test answers one by one. The
 * real broker is in test/integration/kafka-output.test.ts; this covers the branches a real
 * broker cannot be made to take on demand, and checks the accounting after each.
 */
import type { KafkaConfig, Message, ProducerBatch, ProducerConfig, RecordMetadata } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecorderEvent } from '../../../../src/events/event.js';
import { EventFactory } from '../../../../src/events/factory.js';
import { serializeEvent } from '../../../../src/events/serialize.js';
import { Logger } from '../../../../src/log.js';
import { Metrics } from '../../../../src/metrics/registry.js';
import { KAFKA_OUTPUT_DEFAULTS, type KafkaOutputConfig } from '../../../../src/outputs/kafka/config.js';
import { KafkaOutput, type ProducerLike } from '../../../../src/outputs/kafka/output.js';
import { registrySum } from '../../../helpers/metrics.js';
import { waitFor } from '../../../helpers/wait.js';

interface Request {
  messages: Message[];
  acks: number | undefined;
  producer: FakeProducer;
  resolve(): void;
  reject(err: unknown): void;
}

class FakeProducer implements ProducerLike {
  connects = 0;
  disconnected = false;

  constructor(private readonly client: FakeClient) {}

  async connect(): Promise<void> {
    this.connects++;
    if (this.client.connectFailures > 0) {
      this.client.connectFailures--;
      throw Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
        name: 'KafkaJSConnectionError',
      });
    }
  }

  async disconnect(): Promise<void> {
    this.disconnected = true;
  }

  sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    return new Promise((resolve, reject) => {
      this.client.requests.push({
        messages: batch.topicMessages?.[0]?.messages ?? [],
        acks: batch.acks,
        producer: this,
        resolve: () => resolve([]),
        reject,
      });
    });
  }
}

class FakeClient {
  readonly producers: FakeProducer[] = [];
  readonly requests: Request[] = [];
  connectFailures = 0;
  config: KafkaConfig | null = null;
  producerConfig: ProducerConfig | null = null;

  producer(config: ProducerConfig): FakeProducer {
    this.producerConfig = config;
    const p = new FakeProducer(this);
    this.producers.push(p);
    return p;
  }

  /** Requests not yet answered, oldest first. */
  open(): Request[] {
    return this.requests.filter((r) => !answered.has(r));
  }
}

const answered = new WeakSet<Request>();
function answer(r: Request, err?: unknown): void {
  answered.add(r);
  if (err === undefined) r.resolve();
  else r.reject(err);
}

const network = () =>
  Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
    name: 'KafkaJSNumberOfRetriesExceeded',
    cause: Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
      name: 'KafkaJSConnectionError',
    }),
  });
const protocol = (type: string) =>
  Object.assign(new Error(`broker: ${type}`), { name: 'KafkaJSProtocolError', type, retriable: false });

const factory = new EventFactory('unit');
function event(seq: number): RecorderEvent {
  return factory.stamp({
    source: 'coroot',
    type: 'alert_firing',
    fingerprint: '0123456789abcdef',
    dedupKey: seq.toString(16).padStart(16, '0'),
    severity: 'warning',
    data: { alert: { seq } },
  });
}
const seqOf = (m: Message): number =>
  (JSON.parse(String(m.value)) as { data: { alert: { seq: number } } }).data.alert.seq;

class Harness {
  readonly client = new FakeClient();
  readonly metrics = new Metrics('test', { defaultMetrics: false });
  readonly logs: Array<{ level: string; msg: string }> = [];
  readonly output: KafkaOutput;
  readonly config: KafkaOutputConfig;
  sent = 0;
  private seq = 0;

  constructor(over: Partial<KafkaOutputConfig> = {}) {
    this.config = {
      ...KAFKA_OUTPUT_DEFAULTS,
      type: 'kafka',
      name: 'k',
      brokers: ['k:9092'],
      topic: 't',
      tls: null,
      sasl: null,
      filter: { eventTypes: null, sources: null, minSeverity: null },
      ...over,
    };
    const logger = new Logger('debug', (line) =>
      this.logs.push(JSON.parse(line) as { level: string; msg: string }),
    );
    this.output = new KafkaOutput(
      this.config,
      { metrics: this.metrics, logger, version: 'test' },
      {
        createClient: (config) => {
          this.client.config = config;
          return this.client;
        },
      },
    );
  }

  send(n: number): number {
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const e = event(this.seq++);
      this.sent++;
      if (this.output.send(serializeEvent(e), e)) ok++;
    }
    return ok;
  }

  metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return registrySum(this.metrics.registry, `coroot_event_recorder_${name}`, { output: 'k', ...labels });
  }

  async expectCounts(expected: {
    written: number;
    failed: number;
    dropped: number;
    pending: number;
  }): Promise<void> {
    const [written, failed, dropped] = await Promise.all([
      this.metric('output_events_total', { result: 'written' }),
      this.metric('output_events_total', { result: 'failed' }),
      this.metric('output_events_total', { result: 'dropped' }),
    ]);
    const pending = this.output.pending();
    expect({ written, failed, dropped, pending }).toEqual(expected);
    expect(written + failed + dropped + pending).toBe(this.sent);
    expect(await this.metric('output_queue_length')).toBe(pending);
  }

  waitRequests(n: number): Promise<Request[]> {
    return waitFor(() => (this.client.open().length >= n ? this.client.open() : null), {
      what: `${n} open requests (have ${this.client.open().length})`,
    });
  }
}

const harnesses: Harness[] = [];
function harness(over: Partial<KafkaOutputConfig> = {}): Harness {
  const h = new Harness(over);
  harnesses.push(h);
  return h;
}

afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    for (const r of h.client.open()) answer(r);
    await h.output.close(0);
  }
});

describe('KafkaOutput logic (fake client)', () => {
  it('hands kafkajs the mapped client and producer options and sends with acks -1 by default', async () => {
    const h = harness();
    h.output.start();
    h.send(1);
    const [r] = await h.waitRequests(1);
    expect(h.client.config?.brokers).toEqual(['k:9092']);
    expect(h.client.config?.socketFactory).toBeTypeOf('function');
    expect(h.client.producerConfig?.idempotent).toBe(true);
    expect(r?.acks).toBe(-1);
    expect(r?.messages[0]?.headers).toMatchObject({ event_type: 'alert_firing', event_source: 'coroot' });
  });

  it('batches by batch_max_events, keeps at most max_in_flight requests, holds a partial batch for linger', async () => {
    const h = harness({ batchMaxEvents: 10, maxInFlight: 2, lingerMs: 600_000 });
    h.output.start();
    h.send(35);
    const [a, b] = await h.waitRequests(2);
    expect([a?.messages.length, b?.messages.length]).toEqual([10, 10]);
    expect(h.client.open()).toHaveLength(2);
    answer(a as Request);
    const [, c] = await h.waitRequests(2);
    expect(c?.messages.length).toBe(10);
    answer(b as Request);
    answer(c as Request);
    // 5 left: not a full batch, and the linger is ten minutes.
    await waitFor(async () => (await h.metric('output_events_total', { result: 'written' })) === 30);
    expect(h.client.open()).toHaveLength(0);
    await h.expectCounts({ written: 30, failed: 0, dropped: 0, pending: 5 });
    // close flushes regardless of linger
    const closed = h.output.close(10_000);
    const [d] = await h.waitRequests(1);
    expect(d?.messages.map(seqOf)).toEqual([30, 31, 32, 33, 34]);
    answer(d as Request);
    await closed;
    await h.expectCounts({ written: 35, failed: 0, dropped: 0, pending: 0 });
  });

  it('a partial batch leaves when the oldest event has waited linger', async () => {
    const h = harness({ batchMaxEvents: 100, lingerMs: 20 });
    h.output.start();
    h.send(3);
    const [r] = await h.waitRequests(1);
    expect(r?.messages).toHaveLength(3);
  });

  it('batches by batch_max_bytes; a single larger event still goes, alone', async () => {
    const h = harness({ batchMaxEvents: 1000, batchMaxBytes: 1024, maxInFlight: 64, lingerMs: 0 });
    h.output.start();
    h.send(6);
    const big = event(99);
    big.data.pad = 'x'.repeat(3000);
    h.sent++;
    h.output.send(serializeEvent(big), big);
    await waitFor(() => h.client.open().reduce((n, r) => n + r.messages.length, 0) === 7);
    for (const r of h.client.open()) {
      const bytes = r.messages.reduce((n, m) => n + (m.value as Buffer).length, 0);
      expect(r.messages.length === 1 || bytes <= 1024).toBe(true);
    }
    expect(h.client.open().length).toBeGreaterThan(2);
    expect(h.client.open().at(-1)?.messages.map(seqOf)).toEqual([99]);
  });

  it('buffer.max_events bounds everything held, in flight included; full → buffer_full', async () => {
    const h = harness({
      buffer: { ...KAFKA_OUTPUT_DEFAULTS.buffer, maxEvents: 5 },
      batchMaxEvents: 10,
      lingerMs: 0,
    });
    h.output.start();
    expect(h.send(8)).toBe(5);
    const [r] = await h.waitRequests(1);
    expect(r?.messages).toHaveLength(5);
    expect(h.send(1)).toBe(0);
    await h.expectCounts({ written: 0, failed: 0, dropped: 4, pending: 5 });
    expect(await h.metric('output_drops_total', { reason: 'buffer_full' })).toBe(4);
    answer(r as Request);
    await waitFor(() => h.output.pending() === 0);
    expect(h.send(1)).toBe(1);
    await h.expectCounts({ written: 5, failed: 0, dropped: 4, pending: 1 });
  });

  it('a transient failure: counted, output down, the batch retried first after a backoff, order kept', async () => {
    const h = harness({ batchMaxEvents: 10, lingerMs: 0 });
    h.output.start();
    h.send(30);
    const [first] = await h.waitRequests(1);
    await waitFor(() => h.output.isUp());
    answer(first as Request, network());
    const [again] = await h.waitRequests(1);
    expect(again?.messages.map(seqOf)).toEqual(first?.messages.map(seqOf));
    expect(await h.metric('kafka_produce_errors_total', { error_type: 'network' })).toBe(1);
    expect(await h.metric('output_up')).toBe(0);
    const delivered: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [r] = await h.waitRequests(1);
      delivered.push(...(r as Request).messages.map(seqOf));
      answer(r as Request);
    }
    expect(delivered).toEqual(Array.from({ length: 30 }, (_, i) => i));
    await waitFor(() => h.output.pending() === 0);
    expect(await h.metric('output_up')).toBe(1);
    await h.expectCounts({ written: 30, failed: 0, dropped: 0, pending: 0 });
    expect(h.logs.filter((l) => l.level === 'warn').map((l) => l.msg)).toContain(
      'kafka output: cannot deliver; events are buffered and retried',
    );
  });

  it('batches failing out of order are retried in their original order', async () => {
    const h = harness({ batchMaxEvents: 5, maxInFlight: 3, lingerMs: 0 });
    h.output.start();
    h.send(15);
    const [a, b, c] = await h.waitRequests(3);
    answer(c as Request, network());
    answer(a as Request, network());
    answer(b as Request);
    const retried: number[] = [];
    for (let i = 0; i < 2; i++) {
      const [r] = await h.waitRequests(1);
      retried.push(...(r as Request).messages.map(seqOf));
      answer(r as Request);
    }
    expect(retried).toEqual([0, 1, 2, 3, 4, 10, 11, 12, 13, 14]);
    await waitFor(() => h.output.pending() === 0);
    await h.expectCounts({ written: 15, failed: 0, dropped: 0, pending: 0 });
  });

  it('records the broker refuses are rejected and counted; the rest carries on', async () => {
    const h = harness({ batchMaxEvents: 5, lingerMs: 0 });
    h.output.start();
    h.send(10);
    const [a] = await h.waitRequests(1);
    answer(a as Request, protocol('CORRUPT_MESSAGE'));
    const [b] = await h.waitRequests(1);
    expect(b?.messages.map(seqOf)).toEqual([5, 6, 7, 8, 9]);
    answer(b as Request);
    await waitFor(() => h.output.pending() === 0);
    await h.expectCounts({ written: 5, failed: 5, dropped: 0, pending: 0 });
    expect(await h.metric('output_drops_total', { reason: 'rejected' })).toBe(5);
    expect(await h.metric('kafka_produce_errors_total', { error_type: 'broker' })).toBe(1);
  });

  it('a bug-shaped error is rejected, not retried forever', async () => {
    const h = harness({ lingerMs: 0 });
    h.output.start();
    h.send(2);
    const [a] = await h.waitRequests(1);
    answer(a as Request, new TypeError('boom'));
    await waitFor(() => h.output.pending() === 0);
    await h.expectCounts({ written: 0, failed: 2, dropped: 0, pending: 0 });
    expect(await h.metric('kafka_produce_errors_total', { error_type: 'unknown' })).toBe(1);
  });

  it('too large: the request is split into single events, in order', async () => {
    const h = harness({ batchMaxEvents: 3, lingerMs: 0 });
    h.output.start();
    h.send(3);
    const [a] = await h.waitRequests(1);
    answer(a as Request, protocol('RECORD_LIST_TOO_LARGE'));
    const singles: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [r] = await h.waitRequests(1);
      expect(r?.messages).toHaveLength(1);
      singles.push(seqOf((r as Request).messages[0] as Message));
      if (i === 1) answer(r as Request, protocol('MESSAGE_TOO_LARGE'));
      else answer(r as Request);
    }
    expect(singles).toEqual([0, 1, 2]);
    await waitFor(() => h.output.pending() === 0);
    await h.expectCounts({ written: 2, failed: 1, dropped: 0, pending: 0 });
  });

  it('a broken idempotent sequence restarts the producer and resends the batch on the new one', async () => {
    const h = harness({ lingerMs: 0 });
    h.output.start();
    h.send(4);
    const [a] = await h.waitRequests(1);
    answer(a as Request, protocol('OUT_OF_ORDER_SEQUENCE_NUMBER'));
    const [b] = await h.waitRequests(1);
    expect(h.client.producers).toHaveLength(2);
    expect(h.client.producers[0]?.disconnected).toBe(true);
    expect(b?.producer).toBe(h.client.producers[1]);
    expect(b?.messages.map(seqOf)).toEqual([0, 1, 2, 3]);
    answer(b as Request);
    await waitFor(() => h.output.pending() === 0);
    await h.expectCounts({ written: 4, failed: 0, dropped: 0, pending: 0 });
  });

  it('cannot connect at start: buffers, reports down, connects with backoff, then delivers', async () => {
    const h = harness({ lingerMs: 0 });
    h.client.connectFailures = 3;
    h.output.start();
    h.send(7);
    await waitFor(() => (h.client.producers[0]?.connects ?? 0) >= 2);
    expect(h.output.isUp()).toBe(false);
    expect(h.client.open()).toHaveLength(0);
    const [r] = await h.waitRequests(1);
    expect(h.client.producers[0]?.connects).toBe(4);
    expect(r?.messages).toHaveLength(7);
    answer(r as Request);
    await waitFor(() => h.output.pending() === 0);
    expect(h.output.isUp()).toBe(true);
    // One warning for the outage, not one per attempt.
    expect(
      h.logs.filter((l) => l.msg.startsWith('kafka output: cannot connect') && l.level === 'warn'),
    ).toHaveLength(1);
    await h.expectCounts({ written: 7, failed: 0, dropped: 0, pending: 0 });
  });

  it('close gives up on what the budget could not deliver, exactly once, and a late answer changes nothing', async () => {
    const h = harness({ batchMaxEvents: 5, lingerMs: 0 });
    h.output.start();
    h.send(12);
    const [a] = await h.waitRequests(1);
    await h.output.close(30);
    await h.expectCounts({ written: 0, failed: 0, dropped: 12, pending: 0 });
    expect(await h.metric('output_drops_total', { reason: 'shutdown' })).toBe(12);
    answer(a as Request);
    await new Promise((r) => setImmediate(r));
    await h.expectCounts({ written: 0, failed: 0, dropped: 12, pending: 0 });
    expect(h.client.producers[0]?.disconnected).toBe(true);
    expect(h.send(2)).toBe(0);
    expect(await h.metric('output_drops_total', { reason: 'closed' })).toBe(2);
    await h.expectCounts({ written: 0, failed: 0, dropped: 14, pending: 0 });
  });

  it('close before start counts everything held as shutdown and never connects', async () => {
    const h = harness();
    h.send(3);
    await h.output.close(1000);
    h.output.start();
    expect(h.client.producers[0]?.connects).toBe(0);
    await h.expectCounts({ written: 0, failed: 0, dropped: 3, pending: 0 });
  });
});
