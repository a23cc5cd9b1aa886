import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { books, M, waitDrained } from './accounting.js';
import { alertmanagerPayload } from './alertmanager.bench.js';
import { FIXED_RATE, HOW_MEASURED, requireComplete } from './latency.bench.js';
import { PacedClient, type PacedFigures } from './paced.js';
import {
  eventsFile,
  FILE_OUTPUT_YAML,
  load,
  QUEUE_YAML,
  startBareServer,
  startDaemonProcess,
} from './processes.js';
import { round } from './stats.js';
import type { BenchOptions, BenchResult } from './types.js';

const P99_TARGET_MS = 5;
const RATIO_TARGET = 1.5;

const acksYaml = (on: boolean): string => `acknowledgements: ${on}\n${QUEUE_YAML}${FILE_OUTPUT_YAML}`;

/** One file-only daemon at FIXED_RATE with acknowledgements on or off: warm-up, then measured. */
async function pacedRun(on: boolean, durationSec: number, warmupSec: number): Promise<PacedFigures> {
  const daemon = await startDaemonProcess(acksYaml(on));
  const client = new PacedClient(daemon.baseUrl, eventsFile(daemon));
  try {
    requireComplete(await client.run(FIXED_RATE, warmupSec), 'warm-up');
    const f = await client.run(FIXED_RATE, durationSec);
    requireComplete(f, `acknowledgements ${on}`);
    return f;
  } finally {
    await client.close();
    await daemon.stop();
  }
}

/**
 * The bare node:http server at the same rate: the ceiling of the answer time (what HTTP on
 * this machine costs with nothing behind it). Its "file" never grows: only answers count.
 */
async function bareRun(durationSec: number, warmupSec: number): Promise<PacedFigures> {
  const bare = await startBareServer();
  const dir = await mkdtemp(join(tmpdir(), 'cer-bench-bare-'));
  const file = join(dir, 'none.jsonl');
  await writeFile(file, '');
  const client = new PacedClient(`http://127.0.0.1:${bare.port}`, file);
  try {
    await client.run(FIXED_RATE, warmupSec, 1000);
    return await client.run(FIXED_RATE, durationSec, 1000);
  } finally {
    await client.close();
    await bare.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Scenario 9: the cost of `acknowledgements: true` (202 only once the line is written) at a
 * fixed 2 000 requests/s, Coroot ingest → file, against acknowledgements off and a bare
 * node:http server in the same run. The answer time is what a sender waits for.
 */
export async function benchAcksLatency(opts: BenchOptions): Promise<BenchResult[]> {
  const durationSec = opts.quick ? 2 : 15;
  const warmupSec = opts.quick ? 0.5 : 2;
  const off = await pacedRun(false, durationSec, warmupSec);
  const on = await pacedRun(true, durationSec, warmupSec);
  const bare = await bareRun(durationSec, warmupSec);
  const ratio = on.response.p99 / off.response.p99;
  const met = on.response.p99 <= P99_TARGET_MS && ratio <= RATIO_TARGET;
  const fig = (f: PacedFigures) =>
    `answer p50/p99/max ${round(f.response.p50, 2)}/${round(f.response.p99, 2)}/${round(f.response.max, 2)} ms, ` +
    `line readable p50/p99 ${round(f.e2e.p50, 2)}/${round(f.e2e.p99, 2)} ms, ${f.sent} requests at ${round(f.achievedRate, 0)}/s`;
  return [
    {
      scenario: `9 acks on: answer p99 @${FIXED_RATE} req/s`,
      unit: 'ms',
      value: round(on.response.p99, 2),
      ceiling: round(bare.response.p99, 2),
      ratio: round(ratio, 2),
      target: `<= ${P99_TARGET_MS} ms and <= ${RATIO_TARGET}x acks off`,
      met,
      note: `acks on: ${fig(on)}. ratio = acks on / acks off (lower is better); ceiling = bare node:http answer p99 at the same rate. ${HOW_MEASURED}`,
    },
    {
      scenario: `9 acks off: answer p99 @${FIXED_RATE} req/s`,
      unit: 'ms',
      value: round(off.response.p99, 2),
      ceiling: round(bare.response.p99, 2),
      note: `acks off: ${fig(off)}; bare: answer p50/p99/max ${round(bare.response.p50, 2)}/${round(bare.response.p99, 2)}/${round(bare.response.max, 2)} ms`,
    },
  ];
}

const CONNECTIONS = 16;

/**
 * Scenario 10: Alertmanager webhooks of 100 alerts from 16 keep-alive connections into the
 * file with acknowledgements on (the default), and off in the same run as the ceiling.
 * events/s is what reached the file during the load; 503s are what the senders were told to
 * retry (Alertmanager does); every accepted event must be written, none dropped.
 */
export async function benchAcksAlertmanager(opts: BenchOptions): Promise<BenchResult[]> {
  const durationSec = opts.quick ? 1.5 : 10;
  const body = alertmanagerPayload(100);
  const measure = async (on: boolean) => {
    const daemon = await startDaemonProcess(acksYaml(on));
    try {
      const url = `${daemon.baseUrl}/api/v1/alertmanager`;
      await load(url, body, { connections: CONNECTIONS, durationSec: opts.quick ? 0.5 : 1 });
      const before = await waitDrained(daemon, () => true, 60_000);
      const t0 = performance.now();
      const r = await load(url, body, { connections: CONNECTIONS, durationSec });
      const during = books(await daemon.metrics());
      const seconds = (performance.now() - t0) / 1000;
      const written = (during.outputs[0]?.written ?? 0) - (before.outputs[0]?.written ?? 0);
      const after = await waitDrained(daemon, () => true, 60_000);
      const drops = after.outputs[0]?.dropsByReason ?? {};
      const allWritten = after.outputs[0]?.written === after.received && Object.keys(drops).length === 0;
      const otherFailures = r.errors + r.non2xx - (r.statusCodes['503'] ?? 0);
      return {
        eventsPerSec: written / seconds,
        ok: r.ok2xx,
        refused: r.statusCodes['503'] ?? 0,
        otherFailures,
        allWritten,
        drops,
        answerP99: r.p99Ms,
        notDurable: after.sample(M.ingestRejected, { endpoint: 'alertmanager', reason: 'not_durable' }),
      };
    } finally {
      await daemon.stop();
    }
  };
  const off = await measure(false);
  const on = await measure(true);
  const ratio = on.eventsPerSec / off.eventsPerSec;
  const describe = (m: typeof on) =>
    `${m.ok} requests answered 202, ${m.refused} answered 503 (${m.notDurable} of them not_durable), ` +
    `${m.otherFailures} other failures, answer p99 ${m.answerP99} ms; ` +
    (m.allWritten
      ? 'every accepted event written, none dropped'
      : `NOT all written: ${JSON.stringify(m.drops)}`);
  return [
    {
      scenario: '10 alertmanager bursts -> file, acks on (100 alerts/request)',
      unit: 'events/s',
      value: round(on.eventsPerSec, 0),
      ceiling: round(off.eventsPerSec, 0),
      ratio: round(ratio, 3),
      target: 'every accepted event written, none dropped',
      met: on.allWritten && on.otherFailures === 0,
      note: `${durationSec}s, ${CONNECTIONS} keep-alive connections, autocannon; acks on: ${describe(on)}. Ceiling = acks off in the same run: ${describe(off)}`,
    },
  ];
}
