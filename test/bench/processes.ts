import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { ROOT, type RunningDaemon, startDaemon } from '../helpers/daemon.js';
import { scrape } from '../helpers/metrics.js';
import { freePort } from '../helpers/net.js';
import { cpuSecondsOf, memoryOf } from '../helpers/proc.js';

/** The Coroot alert every ingest bench posts. */
export const ALERT_BODY = readFileSync(join(ROOT, 'test/bench/coroot-alert.json'), 'utf8');
/** The file output every daemon of scenarios 2-5 has, as in production (fsync: interval). */
export const FILE_OUTPUT_YAML = 'file_outputs:\n  - path: ./events.jsonl\n    fsync: interval\n';
/** Big enough that the recorder queue never refuses a request in these benches. */
// The benches post the same few bodies again and again: with dedupe on, all but the first
// would be answered as copies and never written. dedup_key is still computed for each.
export const QUEUE_YAML = 'queue_size: 65536\nmax_body_bytes: 1MiB\ndedupe: { window: 0s }\n';

/**
 * Node flags for every daemon the bench starts, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
 * (node refuses `--cpu-prof` in NODE_OPTIONS). Split on whitespace; read once.
 */
const DAEMON_NODE_ARGS = (process.env.BENCH_DAEMON_NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
/**
 * `BENCH_DAEMON_NODE=PATH` runs the daemons on that node while the load generators stay on the
 * bench's own: which side of a latency tail belongs to which runtime.
 */
const DAEMON_NODE = process.env.BENCH_DAEMON_NODE || undefined;

/** The JSONL file of FILE_OUTPUT_YAML. */
export function eventsFile(daemon: DaemonProcess): string {
  return join(daemon.dir, 'events.jsonl');
}

export interface BenchProcess {
  port: number;
  proc: ChildProcess;
  stop: () => Promise<unknown>;
}

function waitForLine(
  proc: ChildProcess,
  stream: 'stdout' | 'stderr',
  match: (line: string) => string | null,
): Promise<string> {
  return new Promise((resolvePort, reject) => {
    let buf = '';
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString();
      for (const line of buf.split('\n')) {
        const hit = match(line);
        if (hit !== null) {
          proc[stream]?.off('data', onData);
          resolvePort(hit);
          return;
        }
      }
    };
    proc[stream]?.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`process exited with ${code} before it was ready: ${buf}`)));
  });
}

function stopper(proc: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((r) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return r();
      proc.once('exit', () => r());
      proc.kill('SIGTERM');
    });
}

/**
 * A bare node:http server in its own process that reads the body and answers `status`
 * (202: the ceiling of the ingest benches and the webhook receiver; 503: a failing receiver);
 * with `recordTo`, it appends every body and a newline to that file first.
 */
export async function startBareServer(status = 202, recordTo?: string): Promise<BenchProcess> {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'test/bench/bare-server.ts'),
      String(status),
      ...(recordTo !== undefined ? [recordTo] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = Number(
    await waitForLine(proc, 'stdout', (l) => (l.startsWith('LISTEN ') ? l.slice(7) : null)),
  );
  return { port, proc, stop: stopper(proc) };
}

/** test/bench/kafka-tail.ts in its own process: appends every value of `topic` to `file`; resolves once it consumes. */
export async function startKafkaTail(brokers: string, topic: string, file: string): Promise<BenchProcess> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/bench/kafka-tail.ts'), brokers, topic, file],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await waitForLine(proc, 'stdout', (l) => (l.startsWith('READY') ? l : null));
  return { port: 0, proc, stop: stopper(proc) };
}

export interface DaemonProcess extends RunningDaemon {
  port: number;
  /** The daemon's /metrics text now. */
  metrics: () => Promise<string>;
  /** Peak resident set size of the daemon so far (VmHWM), in bytes. */
  peakRssBytes: () => Promise<number>;
  /** CPU time (user + system) the daemon has used so far, in seconds. */
  cpuSeconds: () => Promise<number>;
}

/**
 * The compiled daemon with `configYaml` (test/helpers/daemon.ts) at warn level, on a free port;
 * resolves once /-/ready says every output can deliver (so the file exists before anything is
 * timed). `stop` also removes its folder: the bench runs outside vitest's cleanup.
 */
export async function startDaemonProcess(configYaml: string, nodeArgs?: string[]): Promise<DaemonProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'cer-bench-'));
  // At warn level the start line that names the port is not logged: give it the port.
  const port = await freePort();
  const daemon = await startDaemon(configYaml, {
    dir,
    listen: `127.0.0.1:${port}`,
    logLevel: 'warn',
    nodeArgs: [...DAEMON_NODE_ARGS, ...(nodeArgs ?? [])],
    ...(DAEMON_NODE !== undefined ? { node: DAEMON_NODE } : {}),
  }).catch(async (err: Error) => {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`daemon did not start: ${err.message.slice(-600)}`);
  });
  return {
    ...daemon,
    port,
    stop: async (signal) => {
      const code = await daemon.stop(signal);
      await rm(dir, { recursive: true, force: true });
      return code;
    },
    metrics: () => scrape(daemon.baseUrl),
    peakRssBytes: async () => (await memoryOf(daemon.pid)).hwm,
    cpuSeconds: () => cpuSecondsOf(daemon.pid),
  };
}

export interface LoadResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  ok2xx: number;
  non2xx: number;
  /** Count per HTTP status code, e.g. `{ "202": 950, "503": 50 }`. */
  statusCodes: Record<string, number>;
  errors: number;
  total: number;
}

/** Keep-alive POST load with autocannon. */
export async function load(
  url: string,
  body: string,
  opts: { connections: number; durationSec: number },
): Promise<LoadResult> {
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: opts.connections,
    duration: opts.durationSec,
    pipelining: 1,
  });
  return {
    // Completed requests over the measured time: the per-second average would skew for
    // runs that are not a whole number of seconds.
    requestsPerSec: result.requests.total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    statusCodes: Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, s.count ?? 0]),
    ),
    errors: result.errors + result.timeouts,
    total: result.requests.total,
  };
}

/**
 * `load`, but a run where anything was refused or failed throws: its requests/s would
 * count refusals as work and be a fake figure.
 */
export async function cleanLoad(
  url: string,
  body: string,
  opts: { connections: number; durationSec: number },
): Promise<LoadResult> {
  const r = await load(url, body, opts);
  if (r.non2xx > 0 || r.errors > 0 || r.ok2xx === 0) {
    throw new Error(
      `${url}: ${r.ok2xx} 2xx, ${r.errors} errors/timeouts, status codes ${JSON.stringify(r.statusCodes)}`,
    );
  }
  return r;
}
