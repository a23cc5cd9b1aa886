import { Kafka } from 'kafkajs';
import { KafkaBroker, missingPrerequisites } from '../kafka/broker.js';
import { createTopic as createTopicOn } from '../kafka/topics.js';

/**
 * One Kafka broker for every Kafka scenario of a run (7 and 8): booting a JVM broker takes
 * seconds, so it is started once, on first need (or early, see prestartBroker), and stopped
 * by the runner at the end. KAFKA_BROKERS, when set, is used instead.
 */
export type BrokerAddress = { address: string } | { skipped: string };

let starting: Promise<{ address: string; broker: KafkaBroker | null }> | null = null;

function start(): Promise<{ address: string; broker: KafkaBroker | null }> {
  starting ??= (async () => {
    const fromEnv = process.env.KAFKA_BROKERS;
    if (fromEnv) return { address: fromEnv, broker: null };
    // Full JIT: the broker must not be what limits the Kafka scenarios.
    const broker = await KafkaBroker.start({ jit: 'full' });
    return { address: broker.brokers, broker };
  })();
  return starting;
}

/** Starts booting the broker now, without waiting (errors surface at `sharedBroker`). */
export function prestartBroker(): void {
  if (process.env.KAFKA_BROKERS || missingPrerequisites()) return;
  start().catch(() => {});
}

/** The shared broker's address, or why there is none (Java or the jars missing). */
export async function sharedBroker(): Promise<BrokerAddress> {
  if (!process.env.KAFKA_BROKERS) {
    const missing = missingPrerequisites();
    if (missing) return { skipped: missing };
  }
  return { address: (await start()).address };
}

/** Creates a topic with `partitions` partitions on the shared broker and waits for its leaders. */
export async function createTopic(address: string, topic: string, partitions: number): Promise<void> {
  const admin = new Kafka({ brokers: [address], logLevel: 0 }).admin();
  await admin.connect();
  try {
    await createTopicOn(admin, topic, { partitions });
  } finally {
    await admin.disconnect();
  }
}

/** Stops the broker if this run started one. */
export async function stopBroker(): Promise<void> {
  const s = starting;
  starting = null;
  if (!s) return;
  const started = await s.catch(() => null);
  await started?.broker?.destroy();
}
