/*
 * Disk-buffered Kafka output across a broker outage and a SIGKILL (docs/operations.md, "Disk
 * buffers"): the broker is stopped, a process holding a disk buffer takes 2000 events and is
 * killed, the broker comes back on the same port with its data, the output is started again
 * on the same data_dir: the topic holds every accepted event.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { Logger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/registry.js';
import { KAFKA_OUTPUT_DEFAULTS, type KafkaOutputConfig } from '../../src/outputs/kafka/config.js';
import { KafkaOutput } from '../../src/outputs/kafka/output.js';
import { tempDir } from '../helpers/daemon.js';
import { feedAndKill } from '../helpers/disk-buffer.js';
import { waitFor } from '../helpers/wait.js';
import { KafkaBroker, missingPrerequisites } from '../kafka/broker.js';
import { createTopic, readTopic, type TopicMessage } from '../kafka/topics.js';

const skip = process.env.REQUIRE_KAFKA === '1' ? null : missingPrerequisites();
if (skip !== null) console.log(`skipping the disk-buffered Kafka test: ${skip}`);

describe.skipIf(skip !== null)('disk-buffered Kafka output', () => {
  let broker: KafkaBroker | null = null;
  afterAll(async () => {
    await broker?.destroy();
  });

  it('broker down, the producing process SIGKILLed, both back: the topic holds every accepted event', async () => {
    broker = await KafkaBroker.start();
    const address = broker.brokers;
    const kafka = new Kafka({ clientId: 'disk-test', brokers: [address], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const topic = `disk-${randomUUID().slice(0, 8)}`;
    await createTopic(admin, topic, { partitions: 3 });
    await admin.disconnect();

    const config: KafkaOutputConfig = {
      ...KAFKA_OUTPUT_DEFAULTS,
      type: 'kafka',
      name: 'kafka-disk',
      brokers: [address],
      topic,
      tls: null,
      sasl: null,
      filter: { eventTypes: null, sources: null, minSeverity: null },
      buffer: {
        ...KAFKA_OUTPUT_DEFAULTS.buffer,
        type: 'disk',
        maxEvents: 1024,
        maxSize: 64 * 1024 * 1024,
        sync: 'normal',
        flushIntervalMs: 100,
      },
    };
    const dataDir = await tempDir('cer-diskkafka-');

    await broker.stop();
    await feedAndKill('kafka', config, dataDir, 2000);
    await broker.restart();

    const out = new KafkaOutput(config, {
      metrics: new Metrics('test'),
      logger: new Logger('error'),
      version: 'test',
      dataDir,
    });
    out.start();
    await waitFor(() => out.pending() === 0, { timeoutMs: 90_000, what: 'disk backlog produced' });
    await out.close(5000);

    const seqsIn = (got: readonly TopicMessage[]) =>
      new Set(
        got.map(
          (m) =>
            (JSON.parse(String(m.value)) as { data: { alert: { extra: { seq: number } } } }).data.alert.extra
              .seq,
        ),
      );
    const got = await readTopic(kafka, topic, (sofar) => seqsIn(sofar).size === 2000, {
      timeoutMs: 60_000,
      what: 'all 2000 events in the topic',
    });
    const seqs = seqsIn(got);
    expect(seqs.size).toBe(2000);
  }, 240_000);
});
