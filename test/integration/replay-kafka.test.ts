/*
 * `replay` through a Kafka output into the suite's real broker: the compiled CLI reads a
 * rotated set and a real consumer reads the topic back.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RecorderEvent } from '../../src/events/event.js';
import { jsonOf } from '../../src/events/serialize.js';
import { tempDir } from '../helpers/daemon.js';
import { AUDIT_START_MS, runCli, writeAuditSet } from '../helpers/replay.js';
import { waitForKafka } from '../kafka/context.js';
import { createTopic, messagesIn, readTopic } from '../kafka/topics.js';

const kafka = inject('kafka');

describe.skipIf(kafka.brokers === null)('replay into Kafka', () => {
  const address = kafka.brokers as string;
  let client: Kafka;
  let admin: Admin;

  beforeAll(async () => {
    await waitForKafka(kafka);
    client = new Kafka({ brokers: [address], clientId: 'replay-test', logLevel: logLevel.NOTHING });
    admin = client.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect();
  });

  it('a rotated set → exactly the selected events, in order, byte for byte, keyed by fingerprint', async () => {
    // One partition: the topic's order is the order replay produced in.
    const topic = `replay-${randomUUID().slice(0, 8)}`;
    await createTopic(admin, topic);
    const dir = await tempDir('cer-replay-kafka-');
    const config = join(dir, 'recorder.yaml');
    await writeFile(
      config,
      `instance: replay-test
kafka_outputs:
  - name: bus
    brokers: [${address}]
    topic: ${topic}
    buffer: { max_events: 16 }
    batch_max_events: 8
  - name: other
    brokers: [${address}]
    topic: ${topic}-untouched
`,
    );
    const set = await writeAuditSet(dir, 40);
    const since = new Date(AUDIT_START_MS + 10 * 60_000).toISOString();
    const run = await runCli([
      'replay',
      '--config',
      config,
      '--output',
      'bus',
      '--since',
      since,
      '--type',
      'alert_firing,deployment',
      ...set.files,
    ]);
    const wanted = set.events
      .map((event, i) => ({ event, line: set.lines[i] as Buffer, i }))
      .filter(({ event, i }) => i >= 10 && (event.type === 'alert_firing' || event.type === 'deployment'));
    expect(run.stdout).toBe(
      `replay to output "bus" (kafka): read 120, selected ${wanted.length}, delivered ${wanted.length}, failed 0, malformed 0\n`,
    );
    expect(run.code).toBe(0);

    // Exactly that many messages in the topic, by the broker's own count.
    expect(await messagesIn(admin, topic)).toBe(wanted.length);
    const got = await readTopic(client, topic, wanted.length, { what: 'the replayed messages' });
    expect(got.map((m) => (JSON.parse(m.value.toString()) as RecorderEvent).id)).toEqual(
      wanted.map((w) => w.event.id),
    );
    got.forEach((m, k) => {
      const w = wanted[k] as (typeof wanted)[number];
      expect(m.value.equals(jsonOf(w.line))).toBe(true);
      expect(m.key).toBe(w.event.fingerprint);
    });
    // The other Kafka output was never started: its topic does not exist.
    expect(await admin.listTopics()).not.toContain(`${topic}-untouched`);
  });
});
