import { PacedClient, type PacedFigures } from './paced.js';
import { eventsFile, FILE_OUTPUT_YAML, QUEUE_YAML, startDaemonProcess } from './processes.js';
import { round } from './stats.js';
import type { BenchOptions, BenchResult } from './types.js';

/** Scenario 4's fixed rate; scenario 5 offers a multiple of it. */
export const FIXED_RATE = 2000;
const P99_TARGET_MS = 5;

export const HOW_MEASURED =
  'send -> line readable: each request carries a unique id in its URL, the bench tails the JSONL file ' +
  '(fs.watch, every wake-up reads all new bytes) and matches ids to send times; paced in 1 ms ticks, ' +
  'undici Pool, keep-alive';

/**
 * Throws when a run lost lines or requests, or left requests unanswered at the end of its grace
 * period: its latency figures would describe only the lucky ones.
 */
export function requireComplete(f: PacedFigures, what: string): void {
  if (f.missingLines > 0 || f.unanswered > 0 || f.non202 > 0 || f.errors > 0) {
    throw new Error(
      `${what}: ${f.missingLines} accepted requests never appeared in the file, ${f.unanswered} never answered, ` +
        `${f.non202} non-202, ${f.errors} errors (of ${f.sent})`,
    );
  }
}

/** A file-only daemon at FIXED_RATE: warm-up, then the measured phase. */
export async function measureLatency(
  quick: boolean,
): Promise<{ figures: PacedFigures; durationSec: number }> {
  const durationSec = quick ? 2 : 15;
  const daemon = await startDaemonProcess(`${QUEUE_YAML}${FILE_OUTPUT_YAML}`);
  const client = new PacedClient(daemon.baseUrl, eventsFile(daemon));
  try {
    // Warm up the JIT and the connections at the same rate before measuring.
    requireComplete(await client.run(FIXED_RATE, quick ? 0.5 : 2), 'warm-up');
    const figures = await client.run(FIXED_RATE, durationSec);
    requireComplete(figures, 'measured run');
    return { figures, durationSec };
  } finally {
    await client.close();
    await daemon.stop();
  }
}

/** Scenario 4: end-to-end latency at a fixed 2 000 requests/s, Coroot ingest → file. */
export async function benchLatency(opts: BenchOptions): Promise<BenchResult[]> {
  const { figures: f, durationSec } = await measureLatency(opts.quick);
  opts.context.latencyP99Ms = f.e2e.p99;
  const common = `${f.sent} requests over ${durationSec}s at ${round(f.achievedRate, 0)}/s`;
  return [
    {
      scenario: `4 latency p50 @${FIXED_RATE} req/s`,
      unit: 'ms',
      value: round(f.e2e.p50, 2),
      note: `${HOW_MEASURED}`,
    },
    {
      scenario: `4 latency p99 @${FIXED_RATE} req/s`,
      unit: 'ms',
      value: round(f.e2e.p99, 2),
      target: `<= ${P99_TARGET_MS} ms`,
      met: f.e2e.p99 <= P99_TARGET_MS,
      note: `${common}, load generator CPU ${round(f.clientCpu * 100, 0)} % of a core; response (202) p50/p99: ${round(f.response.p50, 2)}/${round(f.response.p99, 2)} ms`,
    },
    {
      scenario: `4 latency max @${FIXED_RATE} req/s`,
      unit: 'ms',
      value: round(f.e2e.max, 2),
      note: `response max ${round(f.response.max, 2)} ms`,
    },
  ];
}
