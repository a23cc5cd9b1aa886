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
import { median, round } from './stats.js';
import type { BenchOptions, BenchResult } from './types.js';

/** Issue 15: at 2 000 requests/s a disk buffer adds at most this much to the end-to-end p99. */
const P99_EXTRA_TARGET_MS = 2;
/**
 * Memory and disk runs alternate (order swapped each round) and the medians of their p99s are
 * compared: one run each moved by more than the 2 ms looked for on a noisy machine (disk came
 * out 13-108 ms faster than memory, which no disk buffer can be).
 */
const ROUNDS = 3;
const MEASURED_SEC = 10;

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
    const f = await client.run(FIXED_RATE, opts.quick ? 2 : MEASURED_SEC);
    requireComplete(f, `${name} ${buffer}`);
    return f;
  } finally {
    await client.close();
    await daemon.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Each buffer kind's runs, in alternating order: memory first in odd rounds, disk first in even ones. */
async function alternating(
  rounds: number,
  run: (buffer: BufferKind) => Promise<PacedFigures>,
): Promise<Record<BufferKind, PacedFigures[]>> {
  const figures: Record<BufferKind, PacedFigures[]> = { memory: [], disk: [] };
  for (let r = 0; r < rounds; r++) {
    const order: BufferKind[] = r % 2 === 0 ? ['memory', 'disk'] : ['disk', 'memory'];
    for (const buffer of order) figures[buffer].push(await run(buffer));
  }
  return figures;
}

/** The rows for one output type: the median disk p99 against the median memory p99 of the same run. */
function rows(what: string, where: string, runs: Record<BufferKind, PacedFigures[]>): BenchResult[] {
  const p99 = (kind: BufferKind) => median(runs[kind].map((f) => f.e2e.p99));
  const [memory, disk] = [p99('memory'), p99('disk')];
  const extra = disk - memory;
  const fig = (kind: BufferKind) =>
    `p99 per run ${runs[kind].map((f) => round(f.e2e.p99, 2)).join('/')} ms, p50 ${runs[kind].map((f) => round(f.e2e.p50, 2)).join('/')} ms, ` +
    `answer p99 ${runs[kind].map((f) => round(f.response.p99, 2)).join('/')} ms, ${runs[kind][0]?.sent ?? 0} requests per run at ${FIXED_RATE}/s`;
  return [
    {
      scenario: `11 ${what}, disk buffer: end-to-end p99 @${FIXED_RATE} req/s`,
      unit: 'ms',
      value: round(disk, 2),
      ceiling: round(memory, 2),
      ratio: round(disk / memory, 2),
      target: `<= memory p99 + ${P99_EXTRA_TARGET_MS} ms`,
      met: extra <= P99_EXTRA_TARGET_MS,
      note: `medians of ${runs.disk.length} alternating runs each: disk - memory = ${round(extra, 2)} ms; disk: ${fig('disk')}; memory (ceiling): ${fig('memory')}. ${HOW(where)}`,
    },
  ];
}

/**
 * Scenario 11: end-to-end latency at a fixed 2 000 requests/s through a daemon whose only
 * output is a webhook (batching on) or Kafka, with a memory buffer and then with a disk buffer
 * (sync: normal), alternating over ROUNDS rounds in the same run. Webhook: request sent -> its event in a body the receiver got.
 * Kafka: request sent -> its record fetched by a consumer (produced, plus one fetch).
 */
export async function benchDeliveryLatency(opts: BenchOptions): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const rounds = opts.quick ? 1 : ROUNDS;
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
      const runs = await alternating(rounds, (buffer) =>
        pacedThroughDaemon('webhook', buffer, webhook, received, opts),
      );
      results.push(...rows('webhook (batch: {})', 'delivered to the receiver', runs));
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
    const runs = await alternating(rounds, async (buffer) => {
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
        return await pacedThroughDaemon('kafka', buffer, kafka, consumed, opts);
      } finally {
        await tail?.stop();
      }
    });
    results.push(...rows('kafka', 'fetched by a consumer', runs));
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
