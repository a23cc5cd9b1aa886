/*
 * `format: cloudevents` on the Kafka output against the suite's real broker, read back with a
 * kafkajs consumer and parsed by the CNCF CloudEvents SDK: every message must be a CloudEvent
 * in binary content mode whose data is the event, its value the event JSON as serialized.
 */
import { randomUUID } from 'node:crypto';
import { type CloudEvent, Kafka as CloudEventsKafka, type KafkaMessage } from 'cloudevents';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RecorderEvent } from '../../src/events/event.js';
import { jsonOf, serializeEvent } from '../../src/events/serialize.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/registry.js';
import type { Output } from '../../src/outputs/output.js';
import { createOutput } from '../../src/outputs/registry.js';
import { expectCloudEventAttributes } from '../helpers/cloudevents.js';
import { configOf } from '../helpers/config.js';
import { testAlertEvent } from '../helpers/events.js';
import { waitForKafka } from '../kafka/context.js';
import { createTopic, readTopic } from '../kafka/topics.js';

const kafka = inject('kafka');

describe.skipIf(kafka.brokers === null)('Kafka output, format: cloudevents', () => {
  const address = kafka.brokers as string;
  let client: Kafka;
  let admin: Admin;
  const outputs: Output[] = [];

  beforeAll(async () => {
    await waitForKafka(kafka);
    client = new Kafka({ brokers: [address], clientId: 'cloudevents-test', logLevel: logLevel.NOTHING });
    admin = client.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await Promise.all(outputs.map((o) => o.close(1000)));
    await admin?.disconnect();
  });

  it('binary content mode: ce_ headers, the event JSON as value, keyed by fingerprint', async () => {
    const topic = `ce-${randomUUID().slice(0, 8)}`;
    await createTopic(admin, topic);
    const config = configOf(
      `kafka_outputs:\n  - brokers: [${address}]\n    topic: ${topic}\n    format: cloudevents\n    compression: snappy\n`,
    );
    const output = createOutput(config.outputs[0] as (typeof config.outputs)[number], {
      metrics: new Metrics('test', { defaultMetrics: false }),
      logger: silentLogger,
      version: 'test',
    });
    outputs.push(output);
    output.start();
    const sent = Array.from({ length: 40 }, (_, i) => {
      const base = testAlertEvent(i, {
        instance: `coroot-event-recorder-${i % 3}`,
        fingerprint: (0xb000000000000000n + BigInt(i % 5)).toString(16),
      });
      const event: RecorderEvent = { ...base, type: i % 2 ? 'alert_resolved' : 'alert_firing' };
      return { event, line: serializeEvent(event) };
    });
    for (const s of sent) expect(output.send(s.line, s.event)).toBe(true);

    const got: KafkaMessage[] = (await readTopic(client, topic, sent.length, { what: 'every message' })).map(
      (m) => ({ key: m.key ?? '', value: m.value, body: m.value, headers: m.headers }),
    );
    expect(got).toHaveLength(sent.length);
    got.forEach((message, i) => {
      const { event, line } = sent[i] as (typeof sent)[number];
      expect((message.value as Buffer).equals(jsonOf(line))).toBe(true);
      expect(message.headers['content-type']).toBe('application/json');
      const ce = CloudEventsKafka.toEvent(message) as CloudEvent<RecorderEvent>;
      expectCloudEventAttributes(ce, event);
      expect(ce.partitionkey).toBe(event.fingerprint);
    });
  });
});
