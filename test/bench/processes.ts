import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';

export const ROOT = resolve(import.meta.dirname, '../..');

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
      if (proc.exitCode !== null) return r();
      proc.once('exit', () => r());
      proc.kill('SIGTERM');
    });
}

/** The bare node:http server (the ceiling), in its own process. */
export async function startBareServer(): Promise<BenchProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/bench/bare-server.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = Number(
    await waitForLine(proc, 'stdout', (l) => (l.startsWith('LISTEN ') ? l.slice(7) : null)),
  );
  return { port, proc, stop: stopper(proc) };
}

/** The compiled daemon with `configYaml`, in its own process, on a free port. */
export async function startDaemonProcess(configYaml: string): Promise<BenchProcess & { dir: string }> {
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
  // At warn level the start line is not logged; find the port from /proc instead of parsing logs.
  const port = await findListeningPort(proc.pid as number);
  return { port, proc, dir, stop: stopper(proc) };
}

async function findListeningPort(pid: number): Promise<number> {
  const { readFile, readdir, readlink } = await import('node:fs/promises');
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
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
    } catch {
      // the process may not be up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`process ${pid} did not start listening`);
}

export interface LoadResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
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
    requestsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
  };
}
