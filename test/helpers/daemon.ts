import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from './wait.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'dist/cmd/coroot-event-recorder.js');

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface RunningDaemon {
  proc: ChildProcess;
  pid: number;
  dir: string;
  configPath: string;
  baseUrl: string;
  /** Every stderr line so far, parsed where it is JSON. */
  logs: LogLine[];
  rawStderr: () => string;
  /** Sends `signal` and resolves with the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
  exited: Promise<number | null>;
}

/** Folders made by `tempDir` in this worker, removed after each test file (test/helpers/cleanup.ts). */
const madeDirs = new Set<string>();

export async function tempDir(prefix = 'cer-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  madeDirs.add(dir);
  return dir;
}

/** Removes every folder `tempDir` made; a daemon killed just before may still be closing files. */
export async function removeTempDirs(): Promise<void> {
  const dirs = [...madeDirs];
  madeDirs.clear();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true, maxRetries: 3 }).catch(() => {})));
}

function ensureBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does)`);
}

/**
 * Starts the compiled daemon as a real process on port 0 with `configYaml` written to
 * `<dir>/recorder.yaml`, and resolves once it logs that it listens.
 */
export async function startDaemon(
  configYaml: string,
  opts: { dir?: string; env?: NodeJS.ProcessEnv; args?: string[]; waitReady?: boolean } = {},
): Promise<RunningDaemon> {
  ensureBuilt();
  const dir = opts.dir ?? (await tempDir());
  const configPath = join(dir, 'recorder.yaml');
  await writeFile(configPath, configYaml);
  const proc = spawn(
    process.execPath,
    [
      BIN,
      '--config',
      configPath,
      '--listen-address',
      '127.0.0.1:0',
      '--log-level',
      'debug',
      ...(opts.args ?? []),
    ],
    { cwd: dir, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: LogLine[] = [];
  let stderr = '';
  let pending = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
    pending += chunk;
    let nl = pending.indexOf('\n');
    while (nl !== -1) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ level: 'raw', msg: line });
      }
      nl = pending.indexOf('\n');
    }
  });
  proc.stdout?.resume();
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  let exitCode: number | null | undefined;
  void exited.then((c) => {
    exitCode = c;
  });
  const started = await waitFor(
    () => {
      if (exitCode !== undefined) throw new Error(`daemon exited with ${exitCode}: ${stderr}`);
      return logs.find((l) => l.msg === 'coroot-event-recorder started');
    },
    { timeoutMs: 15_000, what: 'the daemon to start' },
  ).catch((err: Error) => {
    proc.kill('SIGKILL');
    throw new Error(`${err.message}\nstderr:\n${stderr}`);
  });
  const baseUrl = `http://${started.listen as string}`;
  if (opts.waitReady !== false) {
    await waitFor(async () => (await fetch(`${baseUrl}/-/ready`)).status === 200, {
      timeoutMs: 15_000,
      what: 'the daemon to be ready',
    });
  }
  return {
    proc,
    pid: proc.pid as number,
    dir,
    configPath,
    baseUrl,
    logs,
    rawStderr: () => stderr,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (exitCode === undefined) proc.kill(signal);
      return exited;
    },
  };
}

/** POSTs JSON (or raw text) to the daemon. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> | null; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json, text };
}
