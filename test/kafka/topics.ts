import type { Admin } from 'kafkajs';
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
