/*
 * The previous Kafka line (3.9, KAFKA_PREVIOUS_VERSION) keeps one round trip: the suite runs
 * Kafka 4 (test/kafka/global-setup.ts), and users still on 3.x must keep working. This file
 * starts its own 3.9 broker, only for itself (jars cached by `npm run kafka:fetch`).
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { RecorderEvent } from '../../src/events/event.js';
import { serializeEvent } from '../../src/events/serialize.js';
import { Logger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/registry.js';
import { KAFKA_OUTPUT_DEFAULTS } from '../../src/outputs/kafka/config.js';
import { KafkaOutput } from '../../src/outputs/kafka/output.js';
import { testAlertEvent } from '../helpers/events.js';
import { registrySum } from '../helpers/metrics.js';
import { expectValidEvent } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';
import { KAFKA_PREVIOUS_VERSION, KafkaBroker, SASL_USER } from '../kafka/broker.js';
import { ownBrokerSkipReason } from '../kafka/context.js';
import { createTopic, readTopic } from '../kafka/topics.js';

const kafka = inject('kafka');
const skip = ownBrokerSkipReason(kafka, KAFKA_PREVIOUS_VERSION);

describe.skipIf(skip !== null)(`KafkaOutput against Kafka ${KAFKA_PREVIOUS_VERSION}`, () => {
  let broker: KafkaBroker | null = null;

  afterAll(async () => {
    await broker?.destroy();
  });

  it('acks all + gzip over SASL SCRAM-SHA-512: every event once, schema-valid, with its headers', async () => {
    broker = await KafkaBroker.start({ version: KAFKA_PREVIOUS_VERSION });
    const client = new Kafka({
      brokers: [broker.brokers],
      clientId: 'kafka-3-test',
      logLevel: logLevel.NOTHING,
    });
    const admin = client.admin();
    await admin.connect();
    const topic = `events-${randomUUID().slice(0, 8)}`;
    await createTopic(admin, topic, { partitions: 2 });
    await admin.disconnect();

    const metrics = new Metrics('test', { defaultMetrics: false });
    const name = 'kafka-3';
    const output = new KafkaOutput(
      {
        ...KAFKA_OUTPUT_DEFAULTS,
        type: 'kafka',
        name,
        brokers: [broker.saslBrokers],
        topic,
        acks: 'all',
        compression: 'gzip',
        tls: null,
        sasl: { mechanism: 'scram-sha-512', username: SASL_USER.username, password: SASL_USER.password },
        filter: { eventTypes: null, sources: null, minSeverity: null },
      },
      { metrics, logger: new Logger('error', () => {}), version: 'test' },
    );
    output.start();
    const N = 200;
    const sent = Array.from({ length: N }, (_, i) => testAlertEvent(i, { instance: 'kafka-3-test' }));
    for (const event of sent) expect(output.send(serializeEvent(event), event)).toBe(true);
    const written = () =>
      registrySum(metrics.registry, 'coroot_event_recorder_output_events_total', {
        output: name,
        result: 'written',
      });
    await waitFor(async () => (await written()) === N, { timeoutMs: 60_000, what: `${N} written` });
    await output.close(5000);

    const got = (await readTopic(client, topic, N)).map((m) => ({
      value: JSON.parse(m.value.toString()) as RecorderEvent,
      headers: m.headers,
    }));
    expect(got.map((m) => m.value.id).sort()).toEqual(sent.map((e) => e.id).sort());
    for (const m of got) {
      expectValidEvent(m.value);
      expect(m.headers).toEqual({
        event_type: m.value.type,
        event_source: m.value.source,
        event_id: m.value.id,
      });
    }
  }, 240_000);
});
