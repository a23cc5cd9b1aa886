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

export interface DaemonOptions {
  /** The working folder (and where the config is written); a fresh `tempDir` by default. */
  dir?: string;
  /** Added to this process's environment, or the whole environment with `inheritEnv: false`. */
  env?: NodeJS.ProcessEnv;
  inheritEnv?: boolean;
  /** More command-line arguments. */
  args?: string[];
  /** Wait until /-/ready answers 200 (the default), or only until the daemon listens. */
  waitReady?: boolean;
  /**
   * `--listen-address`: `127.0.0.1:0` by default, the port then read from the start log line;
   * a fixed address when the log level hides that line; null for none (the config's `listen_address`).
   */
  listen?: string | null;
  /** `--log-level`: debug by default. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** A command put in front of node, e.g. `setpriv --reuid=1000 …` to drop privileges. */
  wrapper?: string[];
  /** Flags for node itself, before the script (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
  /** The node binary to run the daemon on: the test's own by default. */
  node?: string;
}

/**
 * Starts the compiled daemon as a real process and resolves once it listens (and, unless
 * `waitReady: false`, once /-/ready says 200). `config` is YAML written to `<dir>/recorder.yaml`,
 * or `{ file }` to run on an existing file. Every harness that runs the daemon (tests, bench, soak)
 * starts it here.
 */
export async function startDaemon(
  config: string | { file: string },
  opts: DaemonOptions = {},
): Promise<RunningDaemon> {
  ensureBuilt();
  const dir = opts.dir ?? (await tempDir());
  let configPath: string;
  if (typeof config === 'string') {
    configPath = join(dir, 'recorder.yaml');
    await writeFile(configPath, config);
  } else {
    configPath = config.file;
  }
  const listen = opts.listen === undefined ? '127.0.0.1:0' : opts.listen;
  const daemonArgs = [
    ...(opts.nodeArgs ?? []),
    BIN,
    '--config',
    configPath,
    ...(listen === null ? [] : ['--listen-address', listen]),
    '--log-level',
    opts.logLevel ?? 'debug',
    ...(opts.args ?? []),
  ];
  const node = opts.node ?? process.execPath;
  const [command, ...args] = [...(opts.wrapper ?? []), node, ...daemonArgs];
  const env = opts.inheritEnv === false ? opts.env : { ...process.env, ...opts.env };
  const proc = spawn(command ?? node, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  let stderr = '';
  let pending = '';
  // Read even when nobody looks: Node writes stderr to a pipe synchronously on Linux, so an
  // unread pipe would stall the daemon.
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
  const alive = (): void => {
    if (exitCode !== undefined) throw new Error(`daemon exited with ${exitCode}: ${stderr}`);
  };
  const fixedPort = listen !== null && !listen.endsWith(':0');
  let baseUrl: string;
  try {
    if (fixedPort) {
      baseUrl = `http://${listen}`;
      await waitFor(
        async () => {
          alive();
          return (await fetch(`${baseUrl}/-/ready`).catch(() => null)) !== null;
        },
        { timeoutMs: 15_000, what: 'the daemon to listen' },
      );
    } else {
      const started = await waitFor(
        () => {
          alive();
          return logs.find((l) => l.msg === 'coroot-event-recorder started');
        },
        { timeoutMs: 15_000, what: 'the daemon to start' },
      );
      baseUrl = `http://${started.listen as string}`;
    }
    if (opts.waitReady !== false) {
      await waitFor(async () => (await fetch(`${baseUrl}/-/ready`)).status === 200, {
        timeoutMs: 15_000,
        what: 'the daemon to be ready',
      });
    }
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\nstderr:\n${stderr}`);
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

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its exit (`--check-config`, `--version`, `replay`, a config it refuses). */
export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliRun> {
  ensureBuilt();
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    proc.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    proc.once('error', reject);
    // 'close', not 'exit': the output is read to its end.
    proc.once('close', (code) => resolve({ code, stdout, stderr }));
  });
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
