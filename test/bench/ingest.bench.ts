import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load, ROOT, startBareServer, startDaemonProcess } from './processes.js';
import { round } from './record.bench.js';
import type { BenchOptions, BenchResult } from './types.js';

const ALERT_BODY = readFileSync(join(ROOT, 'test/bench/coroot-alert.json'), 'utf8');

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/**
 * Coroot webhook ingest → file output, keep-alive, many connections, against a bare
 * node:http server in the same run. Rounds alternate between the two so machine noise
 * hits both alike; the medians are compared.
 */
export async function benchIngest(opts: BenchOptions): Promise<BenchResult[]> {
  const connections = 64;
  const durationSec = opts.quick ? 3 : 10;
  const rounds = opts.quick ? 1 : 3;
  const bare = await startBareServer();
  const daemon = await startDaemonProcess(
    `queue_size: 65536\nmax_body_bytes: 1MiB\nfile_outputs:\n  - path: ./events.jsonl\n    fsync: interval\n`,
  );
  const bareRates: number[] = [];
  const daemonRates: number[] = [];
  let daemonNon2xx = 0;
  try {
    // Warm both up (JIT, connection setup) before measuring.
    await load(`http://127.0.0.1:${bare.port}/api/v1/coroot`, ALERT_BODY, { connections, durationSec: 1 });
    await load(`http://127.0.0.1:${daemon.port}/api/v1/coroot`, ALERT_BODY, { connections, durationSec: 1 });
    for (let r = 0; r < rounds; r++) {
      bareRates.push(
        (await load(`http://127.0.0.1:${bare.port}/api/v1/coroot`, ALERT_BODY, { connections, durationSec }))
          .requestsPerSec,
      );
      const d = await load(`http://127.0.0.1:${daemon.port}/api/v1/coroot`, ALERT_BODY, {
        connections,
        durationSec,
      });
      daemonRates.push(d.requestsPerSec);
      daemonNon2xx += d.non2xx + d.errors;
    }
  } finally {
    await bare.stop();
    await daemon.stop();
  }
  const value = median(daemonRates);
  const ceiling = median(bareRates);
  const ratio = value / ceiling;
  return [
    {
      scenario: `Coroot webhook ingest -> file (${connections} keep-alive connections)`,
      unit: 'requests/s',
      value: round(value, 0),
      ceiling: round(ceiling, 0),
      ratio: round(ratio, 3),
      target: '>= 0.7 of bare node:http (issue 8: >= 0.75)',
      met: ratio >= 0.7,
      note: `${rounds} round(s) x ${durationSec}s; non-2xx or errors from the daemon: ${daemonNon2xx}`,
    },
  ];
}
