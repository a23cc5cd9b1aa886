import { openSync, writeSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';

/**
 * `tsx test/bench/kafka-tail.ts BROKERS TOPIC FILE`: consumes TOPIC from its beginning and
 * appends every message value and a newline to FILE as soon as a fetch returns it (one write
 * per fetched batch), so the delivery-latency bench can tail a Kafka topic like a file. Its
 * own process, like the webhook receiver, so that consuming does not share the load
 * generator's event loop. Prints `READY` once the consumer has joined its group.
 */
const [brokers, topic, file] = process.argv.slice(2);
if (brokers === undefined || topic === undefined || file === undefined) {
  process.stderr.write('usage: kafka-tail.ts BROKERS TOPIC FILE\n');
  process.exit(2);
}
const out = openSync(file, 'a');
const kafka = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING });
// A fetch waits at most this long when there is nothing: short, so a new record goes out at once.
const consumer = kafka.consumer({ groupId: `bench-tail-${process.pid}`, maxWaitTimeInMs: 50 });
consumer.on(consumer.events.GROUP_JOIN, () => process.stdout.write('READY\n'));
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await consumer.run({
  eachBatch: async ({ batch }) => {
    const lines = batch.messages.map((m) => `${m.value?.toString('utf8') ?? ''}\n`).join('');
    if (lines.length > 0) writeSync(out, lines);
  },
});
process.on('SIGTERM', () => {
  void consumer.disconnect().finally(() => process.exit(0));
});
