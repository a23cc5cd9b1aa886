/*
 * KafkaOutput against a real Apache Kafka broker (test/kafka/global-setup.ts starts one for
 * the run), read back with a real kafkajs consumer. Every test ends by checking the
 * accounting invariant of docs/metrics.md exactly: sent = written + failed + dropped + pending.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TlsConfig } from '../../src/config/common.js';
import type { CorootAlert, RecorderEvent } from '../../src/events/event.js';
import { serializeEvent } from '../../src/events/serialize.js';
import { Logger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/registry.js';
import {
  KAFKA_OUTPUT_DEFAULTS,
  type KafkaOutputConfig,
  type KafkaSaslMechanism,
} from '../../src/outputs/kafka/config.js';
import { KafkaOutput } from '../../src/outputs/kafka/output.js';
import { registerSnappyCodec } from '../../src/outputs/kafka/snappy.js';
import { Recorder } from '../../src/recorder/recorder.js';
import { makeCa } from '../helpers/certs.js';
import { CollectingOutput } from '../helpers/collecting-output.js';
import { type LogLine, tempDir } from '../helpers/daemon.js';
import { testAlertEvent } from '../helpers/events.js';
import { registrySum } from '../helpers/metrics.js';
import { freePorts } from '../helpers/net.js';
import { expectValidEvent } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';
import { type BrokerTls, KafkaBroker, SASL_USER } from '../kafka/broker.js';
import { ownBrokerSkipReason, waitForKafka } from '../kafka/context.js';
import { createTopic, messagesIn, readTopic } from '../kafka/topics.js';

const kafka = inject('kafka');
const brokers = kafka.brokers;

// The consumer must read snappy batches too; the output registers the codec when constructed,
// this makes the test independent of construction order.
registerSnappyCodec();

const FINGERPRINTS = Array.from({ length: 7 }, (_, i) => `${i}`.repeat(16).slice(0, 16).replace(/./, 'a'));

function alertEvent(seq: number): RecorderEvent {
  return testAlertEvent(seq, {
    instance: 'kafka-test',
    fingerprint: FINGERPRINTS[seq % FINGERPRINTS.length] as string,
    alert: { rule: 'kafka-output-test' },
  });
}

function seqOf(value: unknown): number {
  const data = (value as { data: { alert: { extra: { seq: number } } } }).data;
  return data.alert.extra.seq;
}

/** One KafkaOutput with its own registry and log capture, and a record of what it accepted. */
class Harness {
  readonly metrics = new Metrics('test', { defaultMetrics: false });
  readonly logs: LogLine[] = [];
  readonly logger = new Logger('info', (line) => {
    this.logs.push(JSON.parse(line) as LogLine);
  });
  readonly output: KafkaOutput;
  readonly config: KafkaOutputConfig;
  readonly accepted: RecorderEvent[] = [];
  sent = 0;
  private seq = 0;

  constructor(over: Partial<KafkaOutputConfig> & { brokers: string[]; topic: string }) {
    this.config = {
      ...KAFKA_OUTPUT_DEFAULTS,
      type: 'kafka',
      name: `kafka-test-${randomUUID().slice(0, 8)}`,
      tls: null,
      sasl: null,
      filter: { eventTypes: null, sources: null, minSeverity: null },
      ...over,
    };
    this.output = new KafkaOutput(this.config, {
      metrics: this.metrics,
      logger: this.logger,
      version: 'test',
    });
  }

  send(n: number): number {
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const event = alertEvent(this.seq++);
      this.sent++;
      if (this.output.send(serializeEvent(event), event)) {
        this.accepted.push(event);
        ok++;
      }
    }
    return ok;
  }

  count(result: 'written' | 'failed' | 'dropped'): Promise<number> {
    return registrySum(this.metrics.registry, 'coroot_event_recorder_output_events_total', {
      output: this.config.name,
      result,
    });
  }

  drops(reason: string): Promise<number> {
    return registrySum(this.metrics.registry, 'coroot_event_recorder_output_drops_total', {
      output: this.config.name,
      reason,
    });
  }

  produceErrors(): Promise<number> {
    return registrySum(this.metrics.registry, 'coroot_event_recorder_kafka_produce_errors_total', {
      output: this.config.name,
    });
  }

  gauge(name: 'output_up' | 'output_queue_length'): Promise<number> {
    return registrySum(this.metrics.registry, `coroot_event_recorder_${name}`, { output: this.config.name });
  }

  /** docs/metrics.md "The invariant": every event handed to send is written, failed, dropped or still pending. */
  async expectInvariant(): Promise<{ written: number; failed: number; dropped: number; pending: number }> {
    const [written, failed, dropped] = await Promise.all([
      this.count('written'),
      this.count('failed'),
      this.count('dropped'),
    ]);
    const pending = this.output.pending();
    expect(written + failed + dropped + pending).toBe(this.sent);
    expect(await this.gauge('output_queue_length')).toBe(pending);
    return { written, failed, dropped, pending };
  }

  errorLogs(): LogLine[] {
    return this.logs.filter((l) => l.level === 'error');
  }
}

interface Consumed {
  partition: number;
  key: string | null;
  value: unknown;
  raw: Buffer;
  headers: Record<string, string>;
}

function client(address: string): Kafka {
  return new Kafka({ brokers: [address], clientId: 'kafka-output-test', logLevel: logLevel.NOTHING });
}

/** Reads the topic from the beginning with a real consumer until `expected` messages arrived. */
async function consume(
  address: string,
  topic: string,
  expected: number,
  timeoutMs = 30_000,
): Promise<Consumed[]> {
  const got = await readTopic(client(address), topic, expected, { timeoutMs });
  return got.map((m) => ({ ...m, raw: m.value, value: JSON.parse(m.value.toString()) }));
}

async function newTopic(
  admin: Admin,
  partitions = 3,
  configEntries: Array<{ name: string; value: string }> = [],
) {
  const topic = `events-${randomUUID().slice(0, 8)}`;
  await createTopic(admin, topic, { partitions, configEntries });
  return topic;
}

/** A message's key, partition, headers and value all say the same event. */
function expectWellFormed(m: Consumed): void {
  expectValidEvent(m.value);
  const event = m.value as RecorderEvent;
  expect(m.key).toBe(event.fingerprint);
  expect(m.headers).toEqual({ event_type: event.type, event_source: event.source, event_id: event.id });
}

describe.skipIf(brokers === null)('KafkaOutput against a real broker', () => {
  const address = brokers as string;
  let admin: Admin;
  const harnesses: Harness[] = [];

  function harness(over: Partial<KafkaOutputConfig> & { topic: string }): Harness {
    const h = new Harness({ brokers: [address], ...over });
    harnesses.push(h);
    return h;
  }

  beforeAll(async () => {
    await waitForKafka(kafka);
    admin = client(address).admin();
    await admin.connect();
  });

  afterAll(async () => {
    await Promise.all(harnesses.map((h) => h.output.close(1000)));
    await admin?.disconnect();
  });

  it('N events in → exactly N messages out: schema-valid, keyed by fingerprint, headers, order per key', async () => {
    const topic = await newTopic(admin);
    const h = harness({ topic });
    h.output.start();
    const N = 1000; // two batches of batch_max_events, within buffer.max_events
    expect(h.send(N)).toBe(N);
    await waitFor(async () => (await h.count('written')) === N, { timeoutMs: 30_000, what: 'all written' });
    expect(await messagesIn(admin, topic)).toBe(N);

    const got = await consume(address, topic, N);
    expect(got).toHaveLength(N);
    for (const m of got) expectWellFormed(m);
    // The value is the serialized event, byte for byte (without the JSONL newline).
    const sentBytes = new Map(h.accepted.map((e) => [e.id, serializeEvent(e).subarray(0, -1)]));
    for (const m of got)
      expect(m.raw.equals(sentBytes.get((m.value as RecorderEvent).id) as Buffer)).toBe(true);
    expect(new Set(got.map((m) => (m.value as RecorderEvent).id)).size).toBe(N);
    // One key → one partition, in the order the events were sent.
    const byKey = new Map<string, Consumed[]>();
    for (const m of got) byKey.set(m.key as string, [...(byKey.get(m.key as string) ?? []), m]);
    expect(byKey.size).toBe(FINGERPRINTS.length);
    for (const messages of byKey.values()) {
      expect(new Set(messages.map((m) => m.partition)).size).toBe(1);
      const seqs = messages.map((m) => seqOf(m.value));
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    // Keys spread over the partitions (7 fingerprints, 3 partitions).
    expect(new Set(got.map((m) => m.partition)).size).toBeGreaterThan(1);

    const totalBytes = [...sentBytes.values()].reduce((s, b) => s + b.length, 0);
    expect(
      await registrySum(h.metrics.registry, 'coroot_event_recorder_output_bytes_total', {
        output: h.config.name,
      }),
    ).toBe(totalBytes);
    expect(
      await registrySum(h.metrics.registry, 'coroot_event_recorder_output_send_duration_seconds_count', {
        output: h.config.name,
      }),
    ).toBeGreaterThanOrEqual(2);
    expect(await h.gauge('output_up')).toBe(1);
    expect(await h.produceErrors()).toBe(0);
    expect(await h.expectInvariant()).toEqual({ written: N, failed: 0, dropped: 0, pending: 0 });
    expect(h.errorLogs()).toEqual([]);
  });

  it.each([
    { compression: 'gzip', acks: 'all' },
    { compression: 'snappy', acks: 'all' },
    { compression: 'snappy', acks: 'leader' },
    { compression: 'none', acks: 'none' },
  ] as const)('round trip with compression $compression, acks $acks', async ({ compression, acks }) => {
    const topic = await newTopic(admin, 2);
    const h = harness({ topic, compression, acks });
    h.output.start();
    const N = 300;
    h.send(N);
    await waitFor(async () => (await h.count('written')) === N, { timeoutMs: 30_000, what: 'all written' });
    const all = Array.from({ length: N }, (_, i) => i);
    if (acks === 'all') {
      // The idempotent producer: exactly once, even across retries.
      const got = await consume(address, topic, N);
      expect(got.map((m) => seqOf(m.value)).sort((a, b) => a - b)).toEqual(all);
      for (const m of got) expectWellFormed(m);
      expect(await messagesIn(admin, topic)).toBe(N);
    } else {
      // Without idempotence a produce request retried after one partition failed (a fresh
      // topic's leadership settling) writes the other partitions' messages again: at least once.
      // With acks none "written" means sent: the broker appends after the output counted them.
      const inTopic = await waitFor(
        async () => {
          const n = await messagesIn(admin, topic);
          return n >= N ? n : 0;
        },
        { timeoutMs: 30_000, what: `${N} messages in ${topic}` },
      );
      const got = await consume(address, topic, inTopic);
      expect([...new Set(got.map((m) => seqOf(m.value)))].sort((a, b) => a - b)).toEqual(all);
      for (const m of got) expectWellFormed(m);
    }
    expect(await h.expectInvariant()).toEqual({ written: N, failed: 0, dropped: 0, pending: 0 });
  });

  it('key: instance and key: none', async () => {
    const topic = await newTopic(admin, 1);
    const byInstance = harness({ topic, key: 'instance' });
    const noKey = harness({ topic, key: 'none' });
    byInstance.output.start();
    noKey.output.start();
    byInstance.send(5);
    noKey.send(5);
    const got = await consume(address, topic, 10);
    const keys = got.map((m) => m.key).sort();
    expect(keys).toEqual([...Array(5).fill('kafka-test'), ...Array(5).fill(null)].sort());
    await byInstance.expectInvariant();
    await noKey.expectInvariant();
  });

  it('close flushes what is buffered (linger or not), then refuses and counts late events', async () => {
    const topic = await newTopic(admin);
    // A linger far beyond the test: only close can make these go out.
    const h = harness({ topic, lingerMs: 600_000, batchMaxEvents: 10_000 });
    h.output.start();
    await waitFor(async () => (await h.gauge('output_up')) === 1, { what: 'connected' });
    h.send(400);
    expect(h.output.pending()).toBe(400);
    expect(await h.count('written')).toBe(0);
    await h.output.close(20_000);
    expect(await h.expectInvariant()).toEqual({ written: 400, failed: 0, dropped: 0, pending: 0 });
    expect(await messagesIn(admin, topic)).toBe(400);
    expect(h.send(3)).toBe(0);
    expect(await h.drops('closed')).toBe(3);
    expect(await h.gauge('output_up')).toBe(0);
    await h.expectInvariant();
  });

  it('a request the broker finds too large is split; a single oversized event is rejected and counted', async () => {
    // ~700 bytes per event: a 20-event batch is far above 4000, each event alone below it.
    const topic = await newTopic(admin, 1, [{ name: 'max.message.bytes', value: '4000' }]);
    const h = harness({ topic, lingerMs: 50 });
    h.output.start();
    h.send(20);
    const big = alertEvent(1_000_000);
    (big.data.alert as CorootAlert).summary = 'x'.repeat(10_000);
    h.sent++;
    expect(h.output.send(serializeEvent(big), big)).toBe(true);
    await waitFor(async () => h.output.pending() === 0, { timeoutMs: 30_000, what: 'nothing pending' });
    expect(await h.expectInvariant()).toEqual({ written: 20, failed: 1, dropped: 0, pending: 0 });
    expect(await h.drops('rejected')).toBe(1);
    expect(await messagesIn(admin, topic)).toBe(20);
    expect(await h.produceErrors()).toBeGreaterThanOrEqual(2);
    expect(h.errorLogs().map((l) => l.msg)).toEqual([
      'kafka output: the broker rejected events; they are lost',
    ]);
  });

  describe.skipIf(kafka.saslBrokers === null)('SASL against the broker', () => {
    it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('sasl %s delivers', async (mechanism) => {
      const topic = await newTopic(admin, 1);
      const h = harness({
        topic,
        brokers: [kafka.saslBrokers as string],
        sasl: { mechanism, username: SASL_USER.username, password: SASL_USER.password },
      });
      h.output.start();
      h.send(10);
      const got = await consume(address, topic, 10);
      for (const m of got) expectWellFormed(m);
      expect(await h.expectInvariant()).toMatchObject({ written: 10, pending: 0 });
    });

    it('a wrong password keeps the output down and the events buffered, without leaking the password', async () => {
      const topic = await newTopic(admin, 1);
      const h = harness({
        topic,
        brokers: [kafka.saslBrokers as string],
        sasl: { mechanism: 'scram-sha-256', username: SASL_USER.username, password: 'wrong-password-123' },
      });
      h.output.start();
      h.send(5);
      await waitFor(() => h.logs.some((l) => l.msg.includes('cannot connect')), {
        what: 'connect failure logged',
      });
      expect(await h.gauge('output_up')).toBe(0);
      expect(h.output.pending()).toBe(5);
      await h.output.close(200);
      expect(await h.expectInvariant()).toEqual({ written: 0, failed: 0, dropped: 5, pending: 0 });
      expect(await h.drops('shutdown')).toBe(5);
      expect(JSON.stringify(h.logs)).not.toContain('wrong-password-123');
    });
  });

  describe.skipIf(kafka.tls === null)('TLS against the broker (SSL with mutual TLS, SASL_SSL)', () => {
    // The suite broker's certificate names only kafka.test (no IP), so every connection to
    // 127.0.0.1 verifies only with server_name; the SSL listener requires a client certificate.
    const brokerTls = kafka.tls as BrokerTls;
    const pem = (file: string): string => readFileSync(file, 'utf8');
    const tls = (over: Partial<TlsConfig> = {}): TlsConfig => ({
      ca: pem(brokerTls.caFile),
      cert: null,
      key: null,
      serverName: brokerTls.serverName,
      insecureSkipVerify: false,
      ...over,
    });
    const clientCert = (): Partial<TlsConfig> => ({
      cert: pem(brokerTls.certFile),
      key: pem(brokerTls.keyFile),
    });
    const sasl = (mechanism: KafkaSaslMechanism = 'scram-sha-512') => ({
      mechanism,
      username: SASL_USER.username,
      password: SASL_USER.password,
    });

    async function delivers(over: Partial<KafkaOutputConfig>): Promise<void> {
      const topic = await newTopic(admin, 1);
      const h = harness({ topic, ...over });
      h.output.start();
      h.send(10);
      const got = await consume(address, topic, 10);
      for (const m of got) expectWellFormed(m);
      expect(await h.expectInvariant()).toEqual({ written: 10, failed: 0, dropped: 0, pending: 0 });
      expect(await h.gauge('output_up')).toBe(1);
    }

    /**
     * The output cannot connect: it says why (the TLS reason), stays down, keeps the events
     * buffered, writes nothing to the topic; close counts them dropped{shutdown}.
     */
    async function refused(over: Partial<KafkaOutputConfig>, why: RegExp): Promise<void> {
      const topic = await newTopic(admin, 1);
      const h = harness({ topic, ...over });
      h.output.start();
      h.send(5);
      const line = await waitFor(() => h.logs.find((l) => l.msg.includes('cannot connect')), {
        timeoutMs: 30_000,
        what: 'connect failure logged',
      });
      expect(String(line.err)).toMatch(why);
      expect(await h.gauge('output_up')).toBe(0);
      expect(h.output.isUp()).toBe(false);
      expect(h.output.pending()).toBe(5);
      expect(await messagesIn(admin, topic)).toBe(0);
      await h.output.close(200);
      expect(await h.expectInvariant()).toEqual({ written: 0, failed: 0, dropped: 5, pending: 0 });
      expect(await h.drops('shutdown')).toBe(5);
    }

    it('mutual TLS: CA, client certificate and server_name deliver', async () => {
      await delivers({ brokers: [kafka.sslBrokers as string], tls: tls(clientCert()) });
    });

    it('mutual TLS: without the client certificate the broker refuses the handshake', async () => {
      await refused(
        { brokers: [kafka.sslBrokers as string], tls: tls() },
        /certificate|alert|socket|closed|ECONNRESET/i,
      );
    });

    it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)(
      'SASL %s over TLS delivers',
      async (mechanism) => {
        await delivers({ brokers: [kafka.saslSslBrokers as string], tls: tls(), sasl: sasl(mechanism) });
      },
    );

    it('a CA that did not sign the broker certificate: refused, events kept, nothing written', async () => {
      const dir = await tempDir('cer-kafka-tls-');
      await makeCa(dir, 'other', 'some other CA');
      await refused(
        {
          brokers: [kafka.saslSslBrokers as string],
          tls: tls({ ca: pem(join(dir, 'other.pem')) }),
          sasl: sasl(),
        },
        /certificate/i,
      );
    });

    it('no server_name: the certificate (kafka.test) does not match 127.0.0.1, refused', async () => {
      await refused(
        { brokers: [kafka.saslSslBrokers as string], tls: tls({ serverName: null }), sasl: sasl() },
        /altnames|does not match/i,
      );
    });

    it('a server_name the certificate does not name: refused', async () => {
      await refused(
        { brokers: [kafka.saslSslBrokers as string], tls: tls({ serverName: 'other.test' }), sasl: sasl() },
        /altnames|does not match/i,
      );
    });

    it('insecure_skip_verify accepts a certificate no configured CA vouches for (and any name)', async () => {
      await delivers({
        brokers: [kafka.saslSslBrokers as string],
        tls: tls({ ca: null, serverName: null, insecureSkipVerify: true }),
        sasl: sasl(),
      });
    });

    it('TLS to a plaintext listener fails instead of falling back to plaintext', async () => {
      await refused({ brokers: [address], tls: tls() }, /.+/);
    });
  });

  it('a broker unreachable at start: start returns at once, other outputs get everything, the buffer fills and drops are counted', async () => {
    const [deadPort] = await freePorts(1);
    const h = new Harness({
      brokers: [`127.0.0.1:${deadPort}`],
      topic: 'nowhere',
      buffer: { ...KAFKA_OUTPUT_DEFAULTS.buffer, maxEvents: 50 },
    });
    harnesses.push(h);
    // Stands for every other output.
    const other = new CollectingOutput('capture');
    const recorder = new Recorder(1000, h.metrics, h.logger);
    recorder.swapOutputs([
      { output: h.output, filter: { eventTypes: null, sources: null, minSeverity: null } },
      { output: other, filter: { eventTypes: null, sources: null, minSeverity: null } },
    ]);
    h.output.start();
    const N = 200;
    for (let i = 0; i < N; i++) expect(recorder.record(alertEvent(i))).toBe(true);
    h.sent = N;
    await waitFor(() => other.events.length === N, { what: 'the other output got every event' });
    expect(recorder.length).toBe(0);
    expect(h.output.pending()).toBe(50);
    expect(await h.drops('buffer_full')).toBe(N - 50);
    await waitFor(() => h.logs.some((l) => l.msg.includes('cannot connect')), {
      what: 'connect failure logged',
    });
    expect(await h.gauge('output_up')).toBe(0);
    expect(h.output.isUp()).toBe(false);
    await h.output.close(100);
    expect(await h.expectInvariant()).toEqual({ written: 0, failed: 0, dropped: N, pending: 0 });
    expect(await h.drops('shutdown')).toBe(50);
  });
});

/*
 * Stopping and starting a broker would disturb every other test using the suite broker,
 * so this one runs its own (test/kafka/broker.ts), on fixed ports and data across the restart.
 */
const ownBrokerSkip = ownBrokerSkipReason(kafka);

describe.skipIf(ownBrokerSkip !== null)('KafkaOutput across a broker restart', () => {
  let broker: KafkaBroker | null = null;

  // The JVM's first boot under the hook timeout, not the test's: on a busy 2-core machine it
  // alone can take a minute (test/kafka/broker.ts allows two).
  beforeAll(async () => {
    broker = await KafkaBroker.start();
  });

  afterAll(async () => {
    await broker?.destroy();
  });

  // The timeout covers what the test waits for: a second boot of the broker (up to the two
  // minutes test/kafka/broker.ts allows) plus the deliveries and the consumer after it.
  it('broker stopped mid-stream and started again: no crash, buffered events delivered, every event consumed or counted as dropped', {
    timeout: 300_000,
  }, async () => {
    if (!broker) throw new Error('the broker did not start');
    const address = broker.brokers;
    const admin = client(address).admin();
    await admin.connect();
    const topic = await newTopic(admin, 3);
    await admin.disconnect();

    const h = new Harness({
      brokers: [address],
      topic,
      buffer: { ...KAFKA_OUTPUT_DEFAULTS.buffer, maxEvents: 300 },
    });
    h.output.start();
    // Phase 1: a steady stream while the broker is up.
    h.send(200);
    await waitFor(async () => (await h.count('written')) === 200, {
      timeoutMs: 30_000,
      what: 'first 200 written',
    });

    // Phase 2: the broker goes away mid-stream.
    const streaming = streamEvents(h, 100, 2);
    await broker.stop();
    await streaming;
    await waitFor(async () => (await h.gauge('output_up')) === 0, { timeoutMs: 30_000, what: 'output down' });
    // More than the buffer holds arrives while the broker is down.
    h.send(400);
    expect(h.output.pending()).toBe(300);
    expect(await h.drops('buffer_full')).toBeGreaterThan(0);
    expect(await h.produceErrors()).toBeGreaterThan(0);
    await h.expectInvariant();

    // Phase 3: the broker is back; everything held is delivered.
    await broker.restart();
    await waitFor(async () => h.output.pending() === 0, {
      timeoutMs: 60_000,
      what: 'buffer delivered after restart',
    });
    expect(await h.gauge('output_up')).toBe(1);
    h.send(50);
    await waitFor(async () => h.output.pending() === 0, { timeoutMs: 30_000, what: 'new events delivered' });

    const { written, failed, dropped } = await h.expectInvariant();
    expect(failed).toBe(0);
    expect(await h.drops('buffer_full')).toBe(dropped);
    expect(written).toBe(h.accepted.length);
    // Every accepted event is in the topic; every other one is counted as dropped.
    const got = await consume(address, topic, written, 60_000);
    const ids = new Set(got.map((m) => (m.value as RecorderEvent).id));
    for (const e of h.accepted) expect(ids.has(e.id)).toBe(true);
    expect(ids.size).toBe(written);
    expect(ids.size + dropped).toBe(h.sent);
    for (const m of got) expectWellFormed(m);
    expect(h.logs.some((l) => l.msg === 'kafka output: delivering again')).toBe(true);
    expect(h.errorLogs()).toEqual([]);
    await h.output.close(5000);
    await h.expectInvariant();
  });
});

/** Sends `n` events, one every `everyMs`, on timers (so the broker can go down in between). */
async function streamEvents(h: Harness, n: number, everyMs: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    h.send(1);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
