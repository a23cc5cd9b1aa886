/*
 * The real Alertmanager from Debian's prometheus-alertmanager package (docs/architecture.md "Tests"),
 * started per suite on loopback with a webhook receiver pointing at the recorder.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { tempDir } from './daemon.js';
import { freePort } from './net.js';
import { waitFor } from './wait.js';

const BINARY = 'prometheus-alertmanager';

/** The binary's path, or null. `ALERTMANAGER_BIN` overrides the PATH lookup. */
export function alertmanagerBinary(): string | null {
  const override = process.env.ALERTMANAGER_BIN;
  if (override) return existsSync(override) ? override : null;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin'];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, BINARY))) return join(dir, BINARY);
  }
  return null;
}

/**
 * Whether the suite can run. Without the binary it prints one line saying how to get
 * it and the suite is skipped, unless REQUIRE_ALERTMANAGER=1 (CI): then it throws.
 */
export function alertmanagerAvailable(): boolean {
  if (alertmanagerBinary() !== null) return true;
  const line = `${BINARY} not found: apt-get install prometheus-alertmanager`;
  if (process.env.REQUIRE_ALERTMANAGER === '1') throw new Error(`${line} (REQUIRE_ALERTMANAGER=1)`);
  console.warn(`skipping the Alertmanager suite: ${line}`);
  return false;
}

export interface AlertmanagerOptions {
  /** The recorder's /api/v1/alertmanager URL. */
  webhookUrl: string;
  bearerToken?: string;
  /** Alertmanager's `group_by`; default `[alertname]`. */
  groupBy?: string[];
  /**
   * More receivers, each notified of every group as well (a route with `continue: true` per
   * receiver), e.g. a second recorder with another configuration.
   */
  moreWebhookUrls?: string[];
}

/** What Alertmanager's API v2 says about an alert. */
export interface AmAlert {
  fingerprint: string;
  labels: Record<string, string>;
  status: { state: string };
}

/** An alert as posted to Alertmanager's /api/v2/alerts. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface RunningAlertmanager {
  url: string;
  proc: ChildProcess;
  output: () => string;
  postAlerts: (alerts: PostableAlert[]) => Promise<void>;
  /** Active alerts (Alertmanager's API leaves resolved ones out). */
  alerts: () => Promise<AmAlert[]>;
  /** One of Alertmanager's own metrics, summed over its series. */
  metric: (name: string) => Promise<number>;
  stop: () => Promise<void>;
}

function configYaml(opts: AlertmanagerOptions): string {
  const auth = opts.bearerToken
    ? `        http_config:\n          authorization:\n            type: Bearer\n            credentials: ${JSON.stringify(opts.bearerToken)}\n`
    : '';
  const more = opts.moreWebhookUrls ?? [];
  const routes =
    more.length === 0
      ? ''
      : `  routes:\n${['recorder', ...more.map((_, i) => `recorder-${i + 1}`)]
          .map((name) => `    - receiver: ${name}\n      continue: true\n`)
          .join('')}`;
  const receivers = more
    .map(
      (url, i) =>
        `  - name: recorder-${i + 1}\n    webhook_configs:\n      - url: ${JSON.stringify(url)}\n        send_resolved: true\n`,
    )
    .join('');
  return `route:
  receiver: recorder
  group_by: ${JSON.stringify(opts.groupBy ?? ['alertname'])}
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
${routes}receivers:
  - name: recorder
    webhook_configs:
      - url: ${JSON.stringify(opts.webhookUrl)}
        send_resolved: true
${auth}${receivers}`;
}

/** Starts Alertmanager and resolves once /-/ready answers; retries once on a port taken in between. */
export async function startAlertmanager(opts: AlertmanagerOptions): Promise<RunningAlertmanager> {
  const bin = alertmanagerBinary();
  if (bin === null) throw new Error(`${BINARY} not found: apt-get install prometheus-alertmanager`);
  const dir = await tempDir('cer-am-');
  const configFile = join(dir, 'alertmanager.yml');
  await writeFile(configFile, configYaml(opts));
  await mkdir(join(dir, 'data'));
  for (let attempt = 1; ; attempt++) {
    try {
      // Empty: no gossip cluster (it would bind 9094 and look for peers).
      return await launch(bin, configFile, join(dir, 'data'), await freePort(), [
        '--cluster.listen-address=',
      ]);
    } catch (err) {
      if (attempt >= 2) throw err;
    }
  }
}

/**
 * An HA pair (or more) as operators run it: every peer gossips with the others on a
 * loopback cluster port (`--cluster.listen-address`, `--cluster.peer`; the advertise address
 * is given because Alertmanager refuses to guess one for 127.0.0.1) and notifies the same
 * receivers. Resolves once every peer is ready and sees all the others.
 */
export async function startAlertmanagerCluster(
  opts: AlertmanagerOptions,
  size = 2,
): Promise<RunningAlertmanager[]> {
  const bin = alertmanagerBinary();
  if (bin === null) throw new Error(`${BINARY} not found: apt-get install prometheus-alertmanager`);
  const dir = await tempDir('cer-am-cluster-');
  const configFile = join(dir, 'alertmanager.yml');
  await writeFile(configFile, configYaml(opts));
  const clusterPorts: number[] = [];
  for (let i = 0; i < size; i++) clusterPorts.push(await freePort());
  const peers: RunningAlertmanager[] = [];
  try {
    for (let i = 0; i < size; i++) {
      const storage = join(dir, `data-${i}`);
      await mkdir(storage);
      const own = `127.0.0.1:${clusterPorts[i]}`;
      const args = [
        `--cluster.listen-address=${own}`,
        `--cluster.advertise-address=${own}`,
        ...clusterPorts.filter((_, j) => j !== i).map((p) => `--cluster.peer=127.0.0.1:${p}`),
      ];
      peers.push(await launch(bin, configFile, storage, await freePort(), args));
    }
    await waitFor(
      async () => {
        for (const peer of peers) {
          const status = (await (await fetch(`${peer.url}/api/v2/status`)).json()) as {
            cluster?: { status?: string; peers?: unknown[] };
          };
          if (status.cluster?.status !== 'ready' || status.cluster.peers?.length !== size) return false;
        }
        return true;
      },
      { timeoutMs: 90_000, intervalMs: 200, what: 'the Alertmanager cluster to settle' },
    );
  } catch (err) {
    await Promise.all(peers.map((p) => p.stop()));
    throw new Error(`${(err as Error).message}\n${peers.map((p) => p.output()).join('\n---\n')}`);
  }
  return peers;
}

async function launch(
  bin: string,
  configFile: string,
  storage: string,
  port: number,
  clusterArgs: readonly string[],
): Promise<RunningAlertmanager> {
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(
    bin,
    [
      `--config.file=${configFile}`,
      `--storage.path=${storage}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=${url}`,
      ...clusterArgs,
      '--log.level=debug',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  proc.stdout?.setEncoding('utf8').on('data', (c: string) => {
    output += c;
  });
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => {
    output += c;
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    proc.once('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  try {
    await waitFor(
      async () => {
        if (exitCode !== undefined) throw new Error(`alertmanager exited with ${exitCode}`);
        return (await fetch(`${url}/-/ready`)).status === 200;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: 'Alertmanager to be ready' },
    );
  } catch (err) {
    proc.kill('SIGKILL');
    await exited;
    throw new Error(`${(err as Error).message}\n${output}`);
  }
  return {
    url,
    proc,
    output: () => output,
    postAlerts: async (alerts) => {
      const res = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      if (res.status !== 200)
        throw new Error(`Alertmanager refused the alerts: ${res.status} ${await res.text()}`);
    },
    alerts: async () => (await (await fetch(`${url}/api/v2/alerts`)).json()) as AmAlert[],
    metric: async (name) => {
      const text = await (await fetch(`${url}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').at(-1));
      }
      return sum;
    },
    stop: async () => {
      if (exitCode !== undefined) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
