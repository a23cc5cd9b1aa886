import { createServer, type Server, type Socket } from 'node:net';
import { describeBooks, M, waitDrained } from './accounting.js';
import { FIXED_RATE, HOW_MEASURED, measureLatency, requireComplete } from './latency.bench.js';
import { PacedClient } from './paced.js';
import {
  eventsFile,
  FILE_OUTPUT_YAML,
  QUEUE_YAML,
  startBareServer,
  startDaemonProcess,
} from './processes.js';
import { round } from './stats.js';
import type { BenchOptions, BenchResult } from './types.js';

/** Scenario 4's fixed rate is sustainable; the overload offers five times that. */
const OVERLOAD_FACTOR = 5;
const P99_FACTOR = 3;
const RSS_TARGET_MB = 256;

/** A TCP server that accepts connections and never answers: the worst webhook receiver. */
async function blackHole(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    // Reads the request (so the sender's writes complete) and never writes a byte back.
    s.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('black hole did not listen');
  return {
    port: addr.port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * Scenario 5: the Coroot ingest → file, plus a webhook output to a black hole and one to a
 * receiver answering 503 (both with the default retry settings), at 5x scenario 4's rate.
 * Reports the end-to-end p99 against scenario 4's, the daemon's peak RSS (VmHWM), and the
 * books: per output, from one /metrics snapshot once the file output has drained,
 * events handed to it = written + drops by reason + still pending, exactly; and the 202s
 * counted by the client = events_received_total.
 */
export async function benchOverload(opts: BenchOptions): Promise<BenchResult[]> {
  const durationSec = opts.quick ? 2 : 30;
  const rate = FIXED_RATE * OVERLOAD_FACTOR;
  let baseline = opts.context.latencyP99Ms;
  let baselineNote = 'scenario 4 p99 of this run';
  if (baseline === undefined) {
    baseline = (await measureLatency(true)).figures.e2e.p99;
    baselineNote = 'scenario 4 p99 measured here (quick), scenario 4 did not run';
  }
  const hole = await blackHole();
  const failing = await startBareServer(503);
  try {
    const daemon = await startDaemonProcess(
      // A short shutdown budget: stopping must not wait for the black hole's timeouts.
      `${QUEUE_YAML}shutdown_timeout: 1s\n${FILE_OUTPUT_YAML}webhook_outputs:\n` +
        `  - url: http://127.0.0.1:${hole.port}/black-hole\n` +
        `  - url: http://127.0.0.1:${failing.port}/unavailable\n`,
    );
    const client = new PacedClient(daemon.baseUrl, eventsFile(daemon));
    try {
      // Warm up at the sustainable rate; then the overload.
      requireComplete(await client.run(FIXED_RATE, opts.quick ? 0.5 : 2), 'warm-up');
      const cpu0 = await daemon.cpuSeconds();
      const f = await client.run(rate, durationSec);
      // CPU over the offered phase and its backlog: near 100 % of a core means the daemon
      // itself, not the load generator, set the pace.
      const cpuShare = ((await daemon.cpuSeconds()) - cpu0) / f.elapsedSec;
      const peakRss = await daemon.peakRssBytes();
      // The file output must catch up; the webhooks may stay pending (the black hole holds
      // requests until their timeout), which the books count as pending.
      const b = await waitDrained(daemon, (o) => o.output.startsWith('file'), 30_000);
      const ok202 = b.sample(M.ingestRequests, { endpoint: 'coroot', code: '202' });
      const totals = client.totals;
      const fromCoroot = b.sample(M.received, { source: 'coroot' });
      const ingestExact = totals.ok202 === fromCoroot && ok202 === fromCoroot && b.recorderDropped === 0;
      const outputsExact = b.outputs.length === 3 && b.outputs.every((o) => o.imbalance === 0);
      const offBy =
        b.outputs.reduce((s, o) => s + Math.abs(o.imbalance), 0) + Math.abs(totals.ok202 - fromCoroot);
      const rssMb = peakRss / 1024 / 1024;
      const p99 = f.e2e.p99;
      return [
        {
          scenario: `5 overload e2e p99 @${rate} req/s`,
          unit: 'ms',
          value: round(p99, 2),
          ceiling: round(baseline, 2),
          ratio: round(p99 / baseline, 2),
          target: `<= ${P99_FACTOR}x scenario 4 p99`,
          met: p99 <= P99_FACTOR * baseline && f.missingLines === 0 && f.unanswered === 0,
          note:
            `ceiling: ${baselineNote}; ratio = value / ceiling (lower is better); ${durationSec}s offered at ${rate}/s, ` +
            `sent ${round(f.achievedRate, 0)}/s, CPU: daemon ${round(cpuShare * 100, 0)} %, load generator ${round(f.clientCpu * 100, 0)} % of a core; p50 ${round(f.e2e.p50, 2)} ms, max ${round(f.e2e.max, 1)} ms; ` +
            `response p99 ${round(f.response.p99, 2)} ms; ${f.missingLines} accepted lines missing, ${f.unanswered} never answered, ${f.non202} non-202, ` +
            `${f.errors} errors; ${HOW_MEASURED}`,
        },
        {
          scenario: '5 overload daemon peak RSS',
          unit: 'MB',
          value: round(rssMb, 1),
          target: `<= ${RSS_TARGET_MB} MB`,
          met: rssMb <= RSS_TARGET_MB,
          note: 'VmHWM of the daemon process after the overload (the kernel high-water mark)',
        },
        {
          scenario: '5 overload drop accounting',
          unit: 'events off',
          value: offBy,
          target: '0: handed = written + drops by reason + pending, per output; 202s = received',
          met: ingestExact && outputsExact,
          note:
            `client 202s ${totals.ok202} (${f.unanswered} requests never answered), ingest_requests_total{code=202} ${ok202}, events_received_total{source=coroot} ${fromCoroot} (all sources ${b.received}), ` +
            `events_dropped_total ${b.recorderDropped}; ${b.outputs.map(describeBooks).join('; ')}`,
        },
      ];
    } finally {
      await client.close();
      await daemon.stop();
    }
  } finally {
    await failing.stop();
    await hole.close();
  }
}
