import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { inject } from 'vitest';
import { KAFKA_OUTPUT_DEFAULTS, type KafkaOutputConfig } from '../../src/outputs/kafka/config.js';
import { freePort } from '../helpers/net.js';
import { waitForKafka } from '../kafka/context.js';
import { createTopic } from '../kafka/topics.js';
import { conformance } from './suite.js';

const kafka = inject('kafka');
const admin = kafka.brokers
  ? new Kafka({ brokers: [kafka.brokers], logLevel: logLevel.NOTHING, clientId: 'conformance' }).admin()
  : null;

function config(
  name: string,
  brokers: string,
  topic: string,
  over: Partial<KafkaOutputConfig> = {},
): KafkaOutputConfig {
  return {
    type: 'kafka',
    name,
    brokers: [brokers],
    topic,
    ...KAFKA_OUTPUT_DEFAULTS,
    tls: null,
    sasl: null,
    filter: { eventTypes: null, sources: null, minSeverity: null },
    ...over,
  };
}

/** A port nothing listens on: the producer cannot connect. */
const nowhere = async (): Promise<string> => `127.0.0.1:${await freePort()}`;

conformance('kafka', {
  skipReason: () => (kafka.brokers === null ? (kafka.skipReason ?? 'no Kafka broker') : null),
  async setup() {
    await waitForKafka(kafka);
    await admin?.connect();
  },
  async teardown() {
    await admin?.disconnect();
  },
  async reachable(name) {
    const topic = `conformance-${randomUUID()}`;
    if (admin) await createTopic(admin, topic);
    const delivered = async (): Promise<number> => {
      const offsets = (await admin?.fetchTopicOffsets(topic)) ?? [];
      return offsets.reduce((n, o) => n + Number(o.high), 0);
    };
    return { config: config(name, kafka.brokers as string, topic), delivered };
  },
  async holding(name, capacity) {
    return {
      config: config(name, await nowhere(), 'nowhere', {
        buffer: { ...KAFKA_OUTPUT_DEFAULTS.buffer, maxEvents: capacity },
      }),
      delivered: async () => 0,
    };
  },
  async failing(name) {
    return { config: config(name, await nowhere(), 'nowhere'), delivered: async () => 0 };
  },
  changed(c) {
    const k = c as KafkaOutputConfig;
    return { ...k, lingerMs: k.lingerMs + 1 };
  },
});
