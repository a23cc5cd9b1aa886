import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { scrape } from '../helpers/metrics.js';
import { waitFor } from '../helpers/wait.js';

export const ROOT = resolve(import.meta.dirname, '../..');

/** The Coroot alert every ingest bench posts. */
export const ALERT_BODY = readFileSync(join(ROOT, 'test/bench/coroot-alert.json'), 'utf8');
/** The file output every daemon of scenarios 2-5 has, as in production (fsync: interval). */
export const FILE_OUTPUT_YAML = 'file_outputs:\n  - path: ./events.jsonl\n    fsync: interval\n';
/** Big enough that the recorder queue never refuses a request in these benches. */
// The benches post the same few bodies again and again: with dedupe on, all but the first
// would be answered as copies and never written. dedup_key is still computed for each.
export const QUEUE_YAML = 'queue_size: 65536\nmax_body_bytes: 1MiB\ndedupe: { window: 0s }\n';

/** The JSONL file of FILE_OUTPUT_YAML. */
export function eventsFile(daemon: DaemonProcess): string {
  return join(daemon.dir, 'events.jsonl');
}

export interface BenchProcess {
  port: number;
  proc: ChildProcess;
  stop: () => Promise<void>;
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
 * (202: the ceiling of the ingest benches and the webhook receiver; 503: a failing receiver).
 */
export async function startBareServer(status = 202): Promise<BenchProcess> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/bench/bare-server.ts'), String(status)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = Number(
    await waitForLine(proc, 'stdout', (l) => (l.startsWith('LISTEN ') ? l.slice(7) : null)),
  );
  return { port, proc, stop: stopper(proc) };
}

/** Keeps the last `max` characters of a child's stream, so it never blocks on a full pipe. */
function tail(stream: NodeJS.ReadableStream | null, max = 16_384): () => string {
  let kept = '';
  // Node writes stderr to a pipe synchronously on Linux: an unread pipe would stall the daemon.
  stream?.on('data', (chunk: Buffer) => {
    kept = (kept + chunk.toString()).slice(-max);
  });
  return () => kept;
}

export interface DaemonProcess extends BenchProcess {
  dir: string;
  pid: number;
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  /** The daemon's /metrics text now. */
  metrics: () => Promise<string>;
  /** Peak resident set size of the daemon so far (VmHWM), in bytes. */
  peakRssBytes: () => number;
  /** CPU time (user + system) the daemon has used so far, in seconds. */
  cpuSeconds: () => number;
  /** The last lines the daemon logged (for error messages). */
  stderr: () => string;
}

/**
 * The compiled daemon with `configYaml`, in its own process, on a free port; resolves once
 * /-/ready says every output can deliver (so the file exists before anything is timed).
 */
export async function startDaemonProcess(configYaml: string): Promise<DaemonProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'cer-bench-'));
  const config = join(dir, 'recorder.yaml');
  await writeFile(config, configYaml);
  const proc = spawn(
    process.execPath,
    [
      join(ROOT, 'dist/cmd/coroot-event-recorder.js'),
      '--config',
      config,
      '--listen-address',
      '127.0.0.1:0',
      '--log-level',
      'warn',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stderr = tail(proc.stderr);
  const pid = proc.pid as number;
  const stopProc = stopper(proc);
  const stop = async (): Promise<void> => {
    await stopProc();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // At warn level the start line is not logged; find the port from /proc instead of parsing logs.
    const port = await findListeningPort(proc);
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${baseUrl}/-/ready`)).status === 200, {
      timeoutMs: 15_000,
      what: 'the daemon to be ready',
    });
    return {
      port,
      proc,
      pid,
      dir,
      baseUrl,
      stop,
      stderr,
      metrics: () => scrape(baseUrl),
      peakRssBytes: () => peakRss(pid),
      cpuSeconds: () => cpuSeconds(pid),
    };
  } catch (err) {
    await stop();
    throw new Error(`daemon did not start: ${(err as Error).message}; stderr: ${stderr().slice(-600)}`);
  }
}

/** VmHWM of `pid` in bytes (the kernel's own high-water mark, so no sampling can miss a peak). */
function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** utime + stime of `pid` from /proc/PID/stat, in seconds (clock ticks are 1/100 s on Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function findListeningPort(proc: ChildProcess): Promise<number> {
  const pid = proc.pid as number;
  return waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`exited with ${proc.exitCode}`);
      const inodes = new Set<string>();
      for (const fd of await readdir(`/proc/${pid}/fd`)) {
        const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m) inodes.add(m[1] as string);
      }
      const table = await readFile('/proc/net/tcp', 'utf8');
      for (const row of table.split('\n').slice(1)) {
        const cols = row.trim().split(/\s+/);
        if (cols[3] === '0A' && inodes.has(cols[9] as string))
          return Number.parseInt((cols[1] as string).split(':')[1] as string, 16);
      }
      return 0;
    },
    { timeoutMs: 15_000, intervalMs: 50, what: `process ${pid} to listen` },
  );
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
