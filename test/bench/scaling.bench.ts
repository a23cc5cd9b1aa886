import { randomUUID } from 'node:crypto';
import { describeBooks, waitDrained } from './accounting.js';
import { alternatingRates, CONNECTIONS } from './ingest.bench.js';
import { createTopic, sharedBroker } from './kafka-broker.js';
import { type DaemonProcess, QUEUE_YAML, startDaemonProcess } from './processes.js';
import { median, round } from './stats.js';
import type { BenchOptions, BenchResult } from './types.js';

const FILE_COUNTS = [1, 2, 4] as const;
const COST_TARGET = 0.1;

function configYaml(files: number, kafka: string | null, topic: string): string {
  let yaml = `${QUEUE_YAML}file_outputs:\n`;
  for (let i = 0; i < files; i++) yaml += `  - path: ./events-${i}.jsonl\n    fsync: interval\n`;
  if (kafka) yaml += `kafka_outputs:\n  - brokers: [${JSON.stringify(kafka)}]\n    topic: ${topic}\n`;
  return yaml;
}

/**
 * Scenario 8: scenario 2's load on daemons with 1, 2 and 4 file outputs plus one Kafka
 * output (default settings) on the run's shared broker. The three daemons run side by
 * side and are loaded in turn, round after round, so noise hits them alike. The cost of
 * an extra file output is the throughput lost per added file output, as a fraction of
 * the 1-file throughput: from 1 to 2 outputs, and averaged from 1 to 4; the larger counts.
 */
export async function benchScaling(opts: BenchOptions): Promise<BenchResult[]> {
  const durationSec = opts.quick ? 1 : 8;
  const rounds = opts.quick ? 1 : 3;
  const broker = await sharedBroker();
  const kafka = 'address' in broker ? broker.address : null;
  const topic = `bench-scaling-${randomUUID().slice(0, 8)}`;
  if (kafka) await createTopic(kafka, topic, 3);
  const daemons: DaemonProcess[] = [];
  try {
    for (const n of FILE_COUNTS) daemons.push(await startDaemonProcess(configYaml(n, kafka, topic)));
    const rates = (
      await alternatingRates(daemons, {
        rounds,
        durationSec,
        warmupSec: opts.quick ? 0.5 : 1,
        // A daemon's Kafka and file outputs finish their backlog before the next one is loaded.
        settle: (i) => waitDrained(daemons[i] as DaemonProcess, () => true, 30_000),
      })
    ).map(median);
    // What the Kafka output made of it, once it caught up: a lagging producer drops
    // (buffer_full) instead of slowing the ingest, so the throughput alone would hide it.
    const kafkaNotes: string[] = [];
    for (const [i, d] of daemons.entries()) {
      const k = (await waitDrained(d, () => true, 30_000)).outputs.find((o) => o.output.startsWith('kafka'));
      if (k) kafkaNotes.push(`${FILE_COUNTS[i]} file(s): ${describeBooks(k)}`);
    }
    const [r1 = Number.NaN, r2 = Number.NaN, r4 = Number.NaN] = rates;
    const costOf2 = (r1 - r2) / r1;
    const costPer4 = (r1 - r4) / r1 / 3;
    const cost = Math.max(costOf2, costPer4);
    const withKafka = kafka ? ' + 1 kafka' : ' (NO kafka)';
    const rows: BenchResult[] = FILE_COUNTS.map((n, i) => ({
      scenario: `8 scaling: ${n} file output${n > 1 ? 's' : ''}${withKafka}`,
      unit: 'requests/s',
      value: round(rates[i] as number, 0),
      ceiling: round(r1, 0),
      ratio: round((rates[i] as number) / r1, 3),
      note:
        i === 0
          ? `ceiling: the 1-file daemon; median of ${rounds} round(s) x ${durationSec}s, ${CONNECTIONS} connections, autocannon, daemons loaded in turn (order rotated per round, each drained before the next)`
          : undefined,
    }));
    rows.push({
      scenario: '8 scaling: cost per extra file output',
      unit: '% of throughput',
      value: round(cost * 100, 1),
      target: `<= ${COST_TARGET * 100} %`,
      met: cost <= COST_TARGET,
      note:
        `1->2 files: ${round(costOf2 * 100, 1)} %, 1->4 files: ${round(costPer4 * 100, 1)} % per output; ` +
        (kafka ? kafkaNotes.join('; ') : `run without Kafka: ${'skipped' in broker ? broker.skipped : ''}`),
    });
    return rows;
  } finally {
    for (const d of daemons) await d.stop();
  }
}
