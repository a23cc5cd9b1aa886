/*
 * The harness's outage support (test/kafka/broker.ts): a broker stopped (gracefully, or
 * SIGKILLed) and started again comes back on the SAME ports with its data, so tests of
 * outages (disk buffers, the soak) see the broker a user would see after an outage, not a
 * new, empty cluster. Runs its own broker: stopping the suite's would disturb other files.
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { KafkaBroker } from '../kafka/broker.js';
import { ownBrokerSkipReason } from '../kafka/context.js';
import { createTopic, messagesIn, readTopic } from '../kafka/topics.js';

const kafka = inject('kafka');
const skip = ownBrokerSkipReason(kafka);

function client(address: string): Kafka {
  return new Kafka({ brokers: [address], clientId: 'outage-test', logLevel: logLevel.NOTHING });
}

/** Produces `values` with acks all, each on its own connection (none outlives the broker). */
async function produce(address: string, topic: string, values: string[]): Promise<void> {
  const producer = client(address).producer({ idempotent: true });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) });
  } finally {
    await producer.disconnect();
  }
}

/** Every value in the topic, read from the beginning by a new consumer group. */
async function readAll(address: string, topic: string, expected: number): Promise<string[]> {
  return (await readTopic(client(address), topic, expected)).map((m) => m.value.toString());
}

async function highWatermark(address: string, topic: string): Promise<number> {
  const admin = client(address).admin();
  await admin.connect();
  try {
    return await messagesIn(admin, topic);
  } finally {
    await admin.disconnect();
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const values = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => `m-${from + i}`);

describe.skipIf(skip !== null)('a broker outage in the test harness', () => {
  let broker: KafkaBroker | null = null;

  afterAll(async () => {
    await broker?.destroy();
  });

  it('stop + restart (SIGTERM, then SIGKILL): same ports, same cluster, every message still there', async () => {
    broker = await KafkaBroker.start();
    const { port, saslPort, controllerPort, brokers: address } = broker;
    const topic = `outage-${randomUUID().slice(0, 8)}`;
    const admin = client(address).admin();
    await admin.connect();
    await createTopic(admin, topic, { partitions: 2 });
    const clusterId = (await admin.describeCluster()).clusterId;
    await admin.disconnect();
    await produce(address, topic, values(0, 100));

    // A graceful stop: nothing listens any more, the data and the ports stay ours.
    await broker.stop();
    expect(broker.running).toBe(false);
    expect(await accepts(port)).toBe(false);
    expect(await accepts(saslPort)).toBe(false);
    await broker.restart();
    expect(broker.running).toBe(true);
    expect([broker.port, broker.saslPort, broker.controllerPort]).toEqual([port, saslPort, controllerPort]);
    expect(await highWatermark(address, topic)).toBe(100);
    await produce(address, topic, values(100, 50));

    // A crash: the log is recovered on the next start.
    await broker.stop({ signal: 'SIGKILL' });
    expect(await accepts(port)).toBe(false);
    await broker.restart();
    expect(broker.brokers).toBe(address);
    const after = client(address).admin();
    await after.connect();
    expect((await after.describeCluster()).clusterId).toBe(clusterId);
    await after.disconnect();
    expect(await highWatermark(address, topic)).toBe(150);
    const got = await readAll(address, topic, 150);
    expect([...got].sort()).toEqual(values(0, 150).sort());
  }, 240_000);

  it('KafkaBroker.open gives back a stopped broker from its folder (what kafka:stop/kafka:start use)', async () => {
    if (broker === null) throw new Error('the first test did not start the broker');
    await broker.stop();
    const reopened = await KafkaBroker.open(broker.dir);
    expect(reopened?.state).toMatchObject({
      version: broker.version,
      port: broker.port,
      saslPort: broker.saslPort,
      controllerPort: broker.controllerPort,
    });
    expect(reopened?.running).toBe(false);
    expect(await KafkaBroker.open(`${broker.dir}/data`)).toBeNull();
  });
});
