import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonProfileArgs } from './cpu-profile.js';
import { createTopic, sharedBroker } from './kafka-broker.js';
import { FIXED_RATE, requireComplete } from './latency.bench.js';
import { PacedClient, type PacedFigures } from './paced.js';
import {
  type BenchProcess,
  QUEUE_YAML,
  startBareServer,
  startDaemonProcess,
  startKafkaTail,
} from './processes.js';
import { round } from './stats.js';
import type { BenchOptions, BenchResult } from './types.js';

/** Issue 15: at 2 000 requests/s a disk buffer adds at most this much to the end-to-end p99. */
const P99_EXTRA_TARGET_MS = 2;

const HOW = (where: string): string =>
  `send -> ${where}: each request carries a unique id in its URL; the bench tails a file the receiving side ` +
  'appends to (paced.ts: fs.watch, ids matched to send times); paced in 1 ms ticks, undici Pool, keep-alive';

type BufferKind = 'memory' | 'disk';

/** The output's `buffer:` block, and the `data_dir` a disk buffer needs. */
function bufferYaml(buffer: BufferKind, dataDir: string): { top: string; block: string } {
  return buffer === 'disk'
    ? { top: `data_dir: ${dataDir}\n`, block: 'buffer: { type: disk, max_size: 256MiB }' }
    : { top: '', block: 'buffer: { max_events: 8192 }' };
}

/**
 * One daemon whose only output is `outputYaml(buffer block)`, at FIXED_RATE: warm-up, then the
 * measured phase, timed until each event appears in `file` (written by the receiving side).
 */
async function pacedThroughDaemon(
  name: string,
  buffer: BufferKind,
  outputYaml: (block: string) => string,
  file: string,
  opts: BenchOptions,
): Promise<PacedFigures> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cer-bench-data-'));
  const b = bufferYaml(buffer, dataDir);
  const daemon = await startDaemonProcess(
    `${b.top}${QUEUE_YAML}${outputYaml(b.block)}`,
    daemonProfileArgs(opts.cpuProfDir, `${name}-${buffer}`),
  );
  const client = new PacedClient(daemon.baseUrl, file);
  try {
    requireComplete(await client.run(FIXED_RATE, opts.quick ? 0.5 : 2), `${name} ${buffer} warm-up`);
    const f = await client.run(FIXED_RATE, opts.quick ? 2 : 15);
    requireComplete(f, `${name} ${buffer}`);
    return f;
  } finally {
    await client.close();
    await daemon.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The rows for one output type: disk p99 against memory p99 of the same run. */
function rows(what: string, where: string, memory: PacedFigures, disk: PacedFigures): BenchResult[] {
  const extra = disk.e2e.p99 - memory.e2e.p99;
  const fig = (f: PacedFigures) =>
    `p50/p99/max ${round(f.e2e.p50, 2)}/${round(f.e2e.p99, 2)}/${round(f.e2e.max, 2)} ms, answer p99 ${round(f.response.p99, 2)} ms, ${f.sent} requests at ${round(f.achievedRate, 0)}/s`;
  return [
    {
      scenario: `11 ${what}, disk buffer: end-to-end p99 @${FIXED_RATE} req/s`,
      unit: 'ms',
      value: round(disk.e2e.p99, 2),
      ceiling: round(memory.e2e.p99, 2),
      ratio: round(disk.e2e.p99 / memory.e2e.p99, 2),
      target: `<= memory p99 + ${P99_EXTRA_TARGET_MS} ms`,
      met: extra <= P99_EXTRA_TARGET_MS,
      note: `disk - memory = ${round(extra, 2)} ms; disk: ${fig(disk)}; memory (ceiling): ${fig(memory)}. ${HOW(where)}`,
    },
  ];
}

/**
 * Scenario 11: end-to-end latency at a fixed 2 000 requests/s through a daemon whose only
 * output is a webhook (batching on) or Kafka, with a memory buffer and then with a disk buffer
 * (sync: normal), in the same run. Webhook: request sent -> its event in a body the receiver got.
 * Kafka: request sent -> its record fetched by a consumer (produced, plus one fetch).
 */
export async function benchDeliveryLatency(opts: BenchOptions): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'cer-bench-latency-'));
  try {
    // Webhook: a bare receiver that appends every body (a JSON array) as one line.
    const received = join(dir, 'webhook.jsonl');
    await writeFile(received, '');
    const receiver = await startBareServer(202, received);
    try {
      const url = `http://127.0.0.1:${receiver.port}/hook`;
      const webhook = (block: string) =>
        `webhook_outputs:\n  - name: hook\n    url: ${url}\n    batch: {}\n    ${block}\n`;
      const memory = await pacedThroughDaemon('webhook', 'memory', webhook, received, opts);
      const disk = await pacedThroughDaemon('webhook', 'disk', webhook, received, opts);
      results.push(...rows('webhook (batch: {})', 'delivered to the receiver', memory, disk));
    } finally {
      await receiver.stop();
    }

    const broker = await sharedBroker();
    if ('skipped' in broker) {
      results.push({
        scenario: '11 kafka, disk buffer: end-to-end p99',
        unit: 'ms',
        value: Number.NaN,
        note: `skipped: ${broker.skipped}`,
      });
      return results;
    }
    const figures: Partial<Record<BufferKind, PacedFigures>> = {};
    for (const buffer of ['memory', 'disk'] as const) {
      // A topic per run, so the consumer's file holds only this run's records.
      const topic = `bench-latency-${randomUUID().slice(0, 8)}`;
      await createTopic(broker.address, topic, 3);
      const consumed = join(dir, `${topic}.jsonl`);
      await writeFile(consumed, '');
      let tail: BenchProcess | null = null;
      try {
        tail = await startKafkaTail(broker.address, topic, consumed);
        const kafka = (block: string) =>
          `kafka_outputs:\n  - name: kafka\n    brokers: [${broker.address}]\n    topic: ${topic}\n    ${block}\n`;
        figures[buffer] = await pacedThroughDaemon('kafka', buffer, kafka, consumed, opts);
      } finally {
        await tail?.stop();
      }
    }
    results.push(
      ...rows('kafka', 'fetched by a consumer', figures.memory as PacedFigures, figures.disk as PacedFigures),
    );
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
