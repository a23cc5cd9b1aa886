import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import { waitFor } from '../helpers/wait.js';

/**
 * Creates a topic and waits until the broker's metadata names a leader for every partition.
 * kafkajs' own `waitForLeaders` retries only LEADER_NOT_AVAILABLE, while Kafka 4 (KRaft)
 * answers UNKNOWN_TOPIC_OR_PARTITION for a moment after CreateTopics returns on a busy
 * machine; that would fail a test before it starts.
 */
export async function createTopic(
  admin: Admin,
  topic: string,
  opts: { partitions?: number; configEntries?: Array<{ name: string; value: string }> } = {},
): Promise<void> {
  const partitions = opts.partitions ?? 1;
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, configEntries: opts.configEntries ?? [] }],
    waitForLeaders: false,
  });
  await waitFor(
    async () => {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const found = topics[0]?.partitions ?? [];
      return found.length === partitions && found.every((p) => p.leader >= 0 && p.partitionErrorCode === 0);
    },
    { timeoutMs: 30_000, what: `leaders for the ${partitions} partitions of ${topic}` },
  );
}

/** One message as a test reads it back. */
export interface TopicMessage {
  partition: number;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
}

/**
 * Reads `topic` from the beginning with a new consumer group until `until` holds for what
 * arrived (a number: at least that many messages), then disconnects and returns them in
 * the order they arrived.
 */
export async function readTopic(
  client: Kafka,
  topic: string,
  until: number | ((got: readonly TopicMessage[]) => boolean),
  opts: { timeoutMs?: number; what?: string } = {},
): Promise<TopicMessage[]> {
  const done = typeof until === 'number' ? (got: readonly TopicMessage[]) => got.length >= until : until;
  // A short fetch wait: kafkajs' first fetches of a new group can come back empty, and the
  // default 5 s long poll would then stall every test for nothing.
  const consumer = client.consumer({ groupId: `g-${randomUUID()}`, maxWaitTimeInMs: 100 });
  const got: TopicMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        got.push({
          partition,
          key: message.key?.toString() ?? null,
          value: message.value ?? Buffer.alloc(0),
          headers,
        });
      },
    });
    const what =
      opts.what ?? (typeof until === 'number' ? `${until} messages on ${topic}` : `the messages on ${topic}`);
    await waitFor(() => done(got), {
      timeoutMs: opts.timeoutMs ?? 30_000,
      what: `${what} (got ${got.length})`,
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

/** Messages in the topic by the broker's own count (sum of high watermarks), independent of a consumer. */
export async function messagesIn(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high), 0);
}
