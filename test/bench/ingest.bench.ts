import { waitDrained } from './accounting.js';
import {
  ALERT_BODY,
  type BenchProcess,
  cleanLoad,
  FILE_OUTPUT_YAML,
  QUEUE_YAML,
  startBareServer,
  startDaemonProcess,
} from './processes.js';
import { median, round } from './stats.js';
import type { BenchOptions, BenchResult } from './types.js';

export const CONNECTIONS = 64;
const RATIO_TARGET = 0.75;

/**
 * requests/s of each server under the same Coroot POST load, in rounds: every round loads
 * each server once, in turn, so machine noise drifting over time hits them alike, and each
 * round starts one server later so none is always first. After each load `settle(i)` (when
 * given) waits until server `i` has finished the work the load left behind (e.g. outputs
 * draining), so it does not run during the next server's load. Returns the rates per
 * server, in `servers` order, one per round. Any refused request fails the run.
 */
export async function alternatingRates(
  servers: readonly BenchProcess[],
  opts: { rounds: number; durationSec: number; warmupSec: number; settle?: (i: number) => Promise<unknown> },
): Promise<number[][]> {
  const url = (s: BenchProcess): string => `http://127.0.0.1:${s.port}/api/v1/coroot`;
  const loadOne = async (i: number, durationSec: number): Promise<number> => {
    const r = await cleanLoad(url(servers[i] as BenchProcess), ALERT_BODY, {
      connections: CONNECTIONS,
      durationSec,
    });
    await opts.settle?.(i);
    return r.requestsPerSec;
  };
  // Warm each up (JIT, connection setup) before measuring.
  for (let i = 0; i < servers.length; i++) await loadOne(i, opts.warmupSec);
  const rates = servers.map((): number[] => []);
  for (let r = 0; r < opts.rounds; r++) {
    for (let k = 0; k < servers.length; k++) {
      const i = (k + r) % servers.length;
      rates[i]?.push(await loadOne(i, opts.durationSec));
    }
  }
  return rates;
}

/**
 * Scenario 2: Coroot webhook ingest → file output, keep-alive, 64 connections, against a
 * bare node:http server in the same run; the medians are compared.
 */
export async function benchIngest(opts: BenchOptions): Promise<BenchResult[]> {
  const durationSec = opts.quick ? 1.5 : 10;
  const rounds = opts.quick ? 1 : 3;
  const bare = await startBareServer();
  try {
    const daemon = await startDaemonProcess(`${QUEUE_YAML}${FILE_OUTPUT_YAML}`);
    try {
      const [bareRates = [], daemonRates = []] = await alternatingRates([bare, daemon], {
        rounds,
        durationSec,
        warmupSec: opts.quick ? 0.5 : 1,
        // The file output finishes writing before the bare server's turn.
        settle: (i) => (i === 1 ? waitDrained(daemon, () => true, 30_000) : Promise.resolve()),
      });
      const value = median(daemonRates);
      const ceiling = median(bareRates);
      const ratio = value / ceiling;
      return [
        {
          scenario: `2 ingest -> file (${CONNECTIONS} keep-alive connections)`,
          unit: 'requests/s',
          value: round(value, 0),
          ceiling: round(ceiling, 0),
          ratio: round(ratio, 3),
          target: `>= ${RATIO_TARGET} of bare node:http`,
          met: ratio >= RATIO_TARGET,
          note: `median of ${rounds} round(s) x ${durationSec}s, autocannon, alternating with the bare server (order rotated per round); every request answered 202`,
        },
      ];
    } finally {
      await daemon.stop();
    }
  } finally {
    await bare.stop();
  }
}
