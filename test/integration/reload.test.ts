/*
 * Hot reload (docs/configuration.md "Reload") against the real compiled daemon: every trigger, a
 * broken file, reconciling outputs while events stream, live settings and the audit event.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type DaemonOptions,
  type LogLine,
  post,
  type RunningDaemon,
  startDaemon,
  tempDir,
} from '../helpers/daemon.js';
import { corootAlertPayload } from '../helpers/events.js';
import { type Labels, parsePromText, sampleSum, scrape } from '../helpers/metrics.js';
import { type EventLine, readEvents } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';

const M = 'coroot_event_recorder_';
/** The daemon's debounce (src/config/watcher.ts). */
const DEBOUNCE_MS = 250;
const RELOADED = 'config reloaded';
const RELOAD_FAILED = 'config reload failed; keeping the running config';

/** Daemons, and streams, servers and tails, that each test leaves for afterEach to end. */
const running: RunningDaemon[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

const summaryOf = (e: EventLine): unknown => e.data.alert?.summary;

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const alert = (summary: string): Record<string, unknown> => corootAlertPayload(summary);

/** The daemon's config hash: the first 16 hex of SHA-256 of the file's text. */
const hashOf = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

const reloads = (d: RunningDaemon, trigger?: string): LogLine[] =>
  d.logs.filter((l) => l.msg === RELOADED && (trigger === undefined || l.trigger === trigger));
const failures = (d: RunningDaemon): LogLine[] => d.logs.filter((l) => l.msg === RELOAD_FAILED);

/** Waits for a successful reload that applied `text`, optionally by a given trigger. */
function reloadedWith(d: RunningDaemon, text: string, trigger?: string): Promise<LogLine> {
  const hash = hashOf(text);
  return waitFor(() => reloads(d, trigger).find((l) => l.config_hash === hash), {
    what: `a ${trigger ?? ''} reload to config ${hash}`,
  });
}

/** A change made before the watcher's initial scan ends can go unseen: wait for it. */
function watching(d: RunningDaemon, folder?: string): Promise<LogLine> {
  return waitFor(
    () =>
      d.logs.find(
        (l) =>
          l.msg === 'watching config files' &&
          (folder === undefined || (l.folders as string[] | undefined)?.includes(folder)),
      ),
    { what: `the config watcher to be ready${folder ? ` on ${folder}` : ''}` },
  );
}

async function metric(d: RunningDaemon, name: string, labels: Labels = {}): Promise<number> {
  return sampleSum(await scrape(d.baseUrl), `${M}${name}`, labels);
}

async function hasSeries(d: RunningDaemon, name: string, labels: Labels): Promise<boolean> {
  return parsePromText(await scrape(d.baseUrl)).some(
    (s) => s.name === `${M}${name}` && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

async function postAlert(d: RunningDaemon, summary: string, headers: Record<string, string> = {}) {
  return post(`${d.baseUrl}/api/v1/coroot`, alert(summary), headers);
}

/** Posts one alert and waits for it in `file`. */
async function recordOne(d: RunningDaemon, file: string, summary: string): Promise<EventLine> {
  const res = await postAlert(d, summary);
  expect(res.status, res.text).toBe(202);
  return waitFor(async () => (await readEvents(file)).find((e) => summaryOf(e) === summary), {
    what: `"${summary}" in ${file}`,
  });
}

/** Descriptors the process holds open on `path` (Linux /proc). */
async function fdsOn(pid: number, path: string): Promise<string[]> {
  const real = await realpath(path);
  const out: string[] = [];
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (target === real) out.push(fd);
  }
  return out;
}

/** Posts alerts one after another until stopped, noting when each was answered 202. */
function streamAlerts(d: RunningDaemon, prefix: string) {
  let stopped = false;
  let sent = 0;
  const accepted = new Map<string, number>();
  const refused: string[] = [];
  const loop = (async () => {
    while (!stopped) {
      const summary = `${prefix}-${sent++}`;
      try {
        const res = await postAlert(d, summary);
        if (res.status === 202) accepted.set(summary, Date.now());
        else refused.push(`${summary}: ${res.status} ${res.text}`);
      } catch (err) {
        // The daemon is gone (a failed test killed it): end quietly, the test reports why.
        refused.push(`${summary}: ${(err as Error).message}`);
        return;
      }
    }
  })();
  const stop = async (): Promise<void> => {
    stopped = true;
    await loop;
  };
  cleanups.push(stop);
  return { accepted, refused, sent: () => sent, stop };
}

/** Follows a JSONL file as it grows, noting when each alert summary first appeared. */
function tailFile(path: string) {
  let stopped = false;
  let offset = 0;
  let partial = '';
  const arrived = new Map<string, number>();
  const loop = (async () => {
    while (!stopped) {
      if (existsSync(path)) {
        const fh = await open(path, 'r');
        try {
          const { size } = await fh.stat();
          if (size > offset) {
            const buf = Buffer.alloc(size - offset);
            const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
            offset += bytesRead;
            const text = partial + buf.subarray(0, bytesRead).toString('utf8');
            const lines = text.split('\n');
            partial = lines.pop() ?? '';
            const now = Date.now();
            for (const line of lines) {
              const s = summaryOf(JSON.parse(line) as EventLine);
              if (typeof s === 'string' && !arrived.has(s)) arrived.set(s, now);
            }
          }
        } finally {
          await fh.close();
        }
      }
      // Polling interval of the tail, not a synchronization: it bounds the latency resolution.
      await sleep(5);
    }
  })();
  const stop = async (): Promise<void> => {
    stopped = true;
    await loop;
  };
  cleanups.push(stop);
  return { arrived, stop };
}

/** The Kubernetes ConfigMap volume layout, as the kubelet's atomic writer makes it. */
async function configMapMount(dir: string, text: string): Promise<void> {
  const first = '..2026_11_21_12_00_00.000000001';
  await mkdir(join(dir, first));
  await writeFile(join(dir, first, 'recorder.yaml'), text);
  await symlink(first, join(dir, '..data'));
  await symlink('..data/recorder.yaml', join(dir, 'recorder.yaml'));
}

/** A ConfigMap update: new timestamped folder, `..data_tmp` renamed over `..data`, old folder removed. */
async function configMapUpdate(dir: string, text: string, stamp: string): Promise<void> {
  const next = `..2026_11_21_${stamp}`;
  const previous = await readlink(join(dir, '..data'));
  await mkdir(join(dir, next));
  await writeFile(join(dir, next, 'recorder.yaml'), text);
  await symlink(next, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  await rm(join(dir, previous), { recursive: true });
}

async function start(yaml: string, opts: DaemonOptions = {}): Promise<RunningDaemon> {
  const d = await startDaemon(yaml, opts);
  running.push(d);
  return d;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.stop('SIGKILL')));
  for (const c of cleanups.splice(0)) await c();
});

const fileConfig = (instance: string, out = './events.jsonl'): string =>
  `instance: ${instance}\nfile_outputs:\n  - path: ${out}\n    fsync: none\n`;

describe('reload triggers', () => {
  it('an in-place write is seen by the watcher and applies to new events', async () => {
    const d = await start(fileConfig('v1'));
    const file = join(d.dir, 'events.jsonl');
    await watching(d);
    expect((await recordOne(d, file, 'before')).instance).toBe('v1');

    await writeFile(d.configPath, fileConfig('v2'));
    const log = await reloadedWith(d, fileConfig('v2'));
    expect(log.trigger).toBe('watch');
    expect((await recordOne(d, file, 'after')).instance).toBe('v2');

    const audit = (await readEvents(file)).filter((e) => e.type === 'config_reloaded');
    expect(audit).toHaveLength(1);
    expect(audit[0]?.instance).toBe('v2');
    expect(audit[0]?.data.recorder).toMatchObject({
      config_hash: hashOf(fileConfig('v2')),
      reason: 'watch',
      added: [],
      removed: [],
      kept: [`file:${file}`],
      outputs: [`file:${file}`],
    });
  });

  it('sees saves by rename: temp file renamed over it, and backup-rename then create', async () => {
    const d = await start(fileConfig('v1'));
    const file = join(d.dir, 'events.jsonl');
    await watching(d);

    // Most editors and config tools: write a temp file, rename it over the config.
    await writeFile(join(d.dir, '.recorder.yaml.swp'), fileConfig('v2'));
    await rename(join(d.dir, '.recorder.yaml.swp'), d.configPath);
    await reloadedWith(d, fileConfig('v2'), 'watch');
    expect((await recordOne(d, file, 'after-rename')).instance).toBe('v2');

    // vim's default: move the original aside as a backup, then create the file anew.
    await rename(d.configPath, `${d.configPath}~`);
    await writeFile(d.configPath, fileConfig('v3'));
    await reloadedWith(d, fileConfig('v3'), 'watch');
    expect((await recordOne(d, file, 'after-backup-save')).instance).toBe('v3');
    expect(failures(d)).toEqual([]);
  });

  it('sees a ConfigMap update (..data symlink swap) and reads the new file through the symlinks', async () => {
    const dir = await tempDir();
    const out = await tempDir();
    const file = join(out, 'events.jsonl');
    await configMapMount(dir, fileConfig('cm-1', file));
    const d = await start(fileConfig('cm-1', file), { dir });
    // startDaemon wrote the same text through the symlink: the layout is still the kubelet's.
    expect((await lstat(d.configPath)).isSymbolicLink()).toBe(true);
    expect((await lstat(join(dir, '..data'))).isSymbolicLink()).toBe(true);
    await watching(d);
    expect((await recordOne(d, file, 'before')).instance).toBe('cm-1');

    await configMapUpdate(dir, fileConfig('cm-2', file), '12_05_00.000000002');
    await reloadedWith(d, fileConfig('cm-2', file), 'watch');
    expect((await recordOne(d, file, 'after-first-update')).instance).toBe('cm-2');

    // The second update matters as much: the first swap must not have broken the watch.
    await configMapUpdate(dir, fileConfig('cm-3', file), '12_10_00.000000003');
    await reloadedWith(d, fileConfig('cm-3', file), 'watch');
    expect((await recordOne(d, file, 'after-second-update')).instance).toBe('cm-3');
    expect(reloads(d)).toHaveLength(2);
    expect(failures(d)).toEqual([]);
  });

  it('SIGHUP reloads (even an unchanged file) and does not end the process', async () => {
    const d = await start(fileConfig('v1'));
    const file = join(d.dir, 'events.jsonl');
    await watching(d);

    process.kill(d.pid, 'SIGHUP');
    await reloadedWith(d, fileConfig('v1'), 'signal');
    const audit = await waitFor(async () =>
      (await readEvents(file)).find((e) => e.type === 'config_reloaded'),
    );
    expect(audit.data.recorder).toMatchObject({ reason: 'signal', kept: [`file:${file}`], added: [] });

    // Signalled at once after the write: whichever of watch and signal runs first, the
    // signal's reload reads the new file (a watch reload of content already applied is a no-op).
    await writeFile(d.configPath, fileConfig('v2'));
    process.kill(d.pid, 'SIGHUP');
    await reloadedWith(d, fileConfig('v2'), 'signal');
    expect((await recordOne(d, file, 'after-sighup')).instance).toBe('v2');
    expect(d.proc.exitCode).toBeNull();
  });

  it('POST /-/reload answers 200 after reloading; other methods 405', async () => {
    const d = await start(fileConfig('v1'));
    const file = join(d.dir, 'events.jsonl');
    const unchanged = await fetch(`${d.baseUrl}/-/reload`, { method: 'POST' });
    expect(unchanged.status).toBe(200);
    // The log travels on another pipe than the answer: wait for it rather than race it.
    await reloadedWith(d, fileConfig('v1'), 'http');

    await writeFile(d.configPath, fileConfig('v2'));
    const res = await fetch(`${d.baseUrl}/-/reload`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('OK\n');
    // The answer comes after the reload: the very next event has the new instance.
    expect((await recordOne(d, file, 'after-http')).instance).toBe('v2');
    await reloadedWith(d, fileConfig('v2'), 'http');

    const get = await fetch(`${d.baseUrl}/-/reload`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toMatch(/POST/);
  });

  it('serializes concurrent triggers: an output added once, never twice', async () => {
    const d = await start(fileConfig('v1', './a.jsonl'));
    const a = join(d.dir, 'a.jsonl');
    const b = join(d.dir, 'b.jsonl');
    await watching(d);
    const next = `${fileConfig('v1', './a.jsonl')}  - path: ./b.jsonl\n    fsync: none\n`;
    await writeFile(d.configPath, next);
    process.kill(d.pid, 'SIGHUP');
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => fetch(`${d.baseUrl}/-/reload`, { method: 'POST' })),
    );
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    await waitFor(() => reloads(d, 'http').length === 5 && reloads(d, 'signal').length === 1, {
      what: 'every reload to finish',
    });
    const adding = reloads(d).filter((l) => (l.added as string[]).length > 0);
    expect(adding).toHaveLength(1);
    expect(adding[0]?.added).toEqual([`file:${b}`]);

    for (let i = 0; i < 5; i++) await recordOne(d, b, `m-${i}`);
    const inB = (await readEvents(b)).filter((e) => e.source === 'coroot');
    expect(inB.map(summaryOf)).toEqual(['m-0', 'm-1', 'm-2', 'm-3', 'm-4']);
    expect((await readEvents(a)).filter((e) => e.source === 'coroot')).toHaveLength(5);
  });
});

describe('a broken file', () => {
  it('keeps the running config, flips the metric, and answers /-/reload 500 with file:line', async () => {
    const good =
      'instance: good\ningest:\n  coroot:\n    bearer_token: tok-1\nfile_outputs:\n  - path: ./events.jsonl\n';
    const d = await start(good);
    const file = join(d.dir, 'events.jsonl');
    const auth = { authorization: 'Bearer tok-1' };
    await watching(d);
    expect(await metric(d, 'config_last_reload_successful')).toBe(1);
    const startedAt = await metric(d, 'config_last_reload_success_timestamp_seconds');
    expect(startedAt).toBeGreaterThan(0);

    // A validation error: the message names the key and the line.
    await writeFile(d.configPath, good.replace('instance: good\n', 'instance: good\nqueue_size: five\n'));
    const failed = await waitFor(() => failures(d).find((l) => l.trigger === 'watch'));
    expect(failed.errors).toEqual([
      `${d.configPath}:2: queue_size: must be an integer between 1 and 16777216, got "five"`,
    ]);
    expect(await metric(d, 'config_last_reload_successful')).toBe(0);
    expect(await metric(d, 'config_last_reload_success_timestamp_seconds')).toBe(startedAt);

    const res = await fetch(`${d.baseUrl}/-/reload`, { method: 'POST' });
    expect(res.status).toBe(500);
    expect(await res.text()).toBe(
      `failed to reload config: ${d.configPath}:2: queue_size: must be an integer between 1 and 16777216, got "five"\n`,
    );
    // Still the old config: its token, its instance, its output.
    expect((await postAlert(d, 'no-token')).status).toBe(401);
    const res2 = await postAlert(d, 'while-broken', auth);
    expect(res2.status).toBe(202);
    const kept = await waitFor(async () =>
      (await readEvents(file)).find((e) => summaryOf(e) === 'while-broken'),
    );
    expect(kept.instance).toBe('good');

    // A YAML syntax error: also with its line.
    await writeFile(d.configPath, `${good}  - path: [unclosed\n`);
    const yamlError = await waitFor(
      () => failures(d).find((l) => JSON.stringify(l.errors).includes('YAML')),
      { what: 'the YAML error to be logged' },
    );
    expect((yamlError.errors as string[])[0]).toMatch(
      new RegExp(`^${escapeRegExp(d.configPath)}:\\d+: YAML: `),
    );
    expect(await metric(d, 'config_last_reload_successful')).toBe(0);

    // Reverting to exactly the running content is a successful reload too (nothing to reconcile).
    await writeFile(d.configPath, good);
    await waitFor(async () => (await metric(d, 'config_last_reload_successful')) === 1, {
      what: 'the metric to return to 1 after the revert',
    });
    expect(await metric(d, 'config_last_reload_success_timestamp_seconds')).toBeGreaterThan(startedAt);

    // Broken again, then fixed with a new config: applied, metric back to 1.
    await writeFile(d.configPath, 'file_outputs: 12\n');
    await waitFor(async () => (await metric(d, 'config_last_reload_successful')) === 0, {
      what: 'the metric to flip to 0 again',
    });
    const fixed = good.replace('instance: good', 'instance: fixed');
    await writeFile(d.configPath, fixed);
    await reloadedWith(d, fixed, 'watch');
    expect(await metric(d, 'config_last_reload_successful')).toBe(1);
    const after = await postAlert(d, 'after-fix', auth);
    expect(after.status).toBe(202);
    const e = await waitFor(async () => (await readEvents(file)).find((x) => summaryOf(x) === 'after-fix'));
    expect(e.instance).toBe('fixed');
    // Only the successful reload is audited.
    expect((await readEvents(file)).filter((x) => x.type === 'config_reloaded')).toHaveLength(1);
  });
  it('a slow in-place writer: the empty file between truncate and write never replaces the config', async () => {
    const d = await start(fileConfig('slow-1'));
    const file = join(d.dir, 'events.jsonl');
    await watching(d);
    // Truncated now, written later (`cat > recorder.yaml`, a tool writing in pieces): the
    // debounced reload reads the file while it is empty.
    const fh = await open(d.configPath, 'w');
    try {
      await waitFor(() => reloads(d).length + failures(d).length > 0, {
        what: 'a reload attempt on the truncated file',
      });
      expect(reloads(d)).toEqual([]);
      expect(failures(d)[0]?.errors).toEqual([
        `${d.configPath}: the file is empty (a write in progress?); an empty config would remove every output`,
      ]);
      expect(await metric(d, 'config_last_reload_successful')).toBe(0);
      // Events keep going to the running outputs meanwhile.
      expect((await recordOne(d, file, 'during-write')).instance).toBe('slow-1');
      await fh.writeFile(fileConfig('slow-2'));
    } finally {
      await fh.close();
    }
    await reloadedWith(d, fileConfig('slow-2'), 'watch');
    expect(reloads(d).map((l) => l.config_hash)).toEqual([hashOf(fileConfig('slow-2'))]);
    expect(await metric(d, 'config_last_reload_successful')).toBe(1);
    expect((await recordOne(d, file, 'after-write')).instance).toBe('slow-2');
  });
});

describe('reconciling outputs while events stream', () => {
  it('an added output receives from the swap on; the kept file is not reopened and has every event once', async () => {
    const limits = 'queue_size: 20000\nmax_body_bytes: 16MiB\n';
    const d = await start(limits + fileConfig('s', './a.jsonl'));
    const a = join(d.dir, 'a.jsonl');
    const b = join(d.dir, 'b.jsonl');
    await waitFor(() => existsSync(a));
    const inode = (await stat(a)).ino;
    const fds = await fdsOn(d.pid, a);
    expect(fds).toHaveLength(1);

    const stream = streamAlerts(d, 'ev');
    await waitFor(() => stream.accepted.size >= 100, { what: '100 events before the reload' });
    // A batch the write loop needs many turns for, then the reload right after its 202: the
    // swap lands while much of it is still queued. Those events were recorded before the
    // swap, so they belong to the old set only, however late the loop reaches them.
    const batch = Array.from({ length: 8000 }, (_, i) => alert(`batch-${i}`));
    const accepted = await post(`${d.baseUrl}/api/v1/coroot`, batch);
    expect(accepted.status, accepted.text).toBe(202);
    const withB = `${limits}${fileConfig('s', './a.jsonl')}  - path: ./b.jsonl\n    fsync: none\n`;
    await writeFile(d.configPath, withB);
    expect((await fetch(`${d.baseUrl}/-/reload`, { method: 'POST' })).status).toBe(200);
    const atReload = stream.accepted.size;
    await waitFor(() => stream.accepted.size >= atReload + 100, { what: '100 events after the reload' });
    await stream.stop();
    expect(stream.refused).toEqual([]);
    const streamed = [...stream.accepted.keys()];

    const total = streamed.length + batch.length;
    const inA = await waitFor(
      async () => {
        const all = await readEvents(a);
        return all.filter((e) => e.source === 'coroot').length >= total ? all : null;
      },
      { what: 'every accepted event in a.jsonl', timeoutMs: 20_000 },
    );
    // Exactly once each, nothing else; the stream in the order it was accepted.
    const alertsInA = inA.filter((e) => e.source === 'coroot').map((e) => String(summaryOf(e)));
    expect(alertsInA).toHaveLength(total);
    expect(new Set(alertsInA).size).toBe(total);
    expect(alertsInA.filter((x) => x.startsWith('ev-'))).toEqual(streamed);
    expect(new Set(inA.map((e) => e.id)).size).toBe(inA.length);

    // Every event recorded from the swap on reached B, in order; none from before it.
    const swapAt = inA.findIndex((e) => e.type === 'config_reloaded');
    expect(swapAt).toBeGreaterThan(1);
    expect(swapAt).toBeLessThan(inA.length - 1);
    const afterSwap = inA.slice(swapAt).map((e) => e.id);
    const inB = await waitFor(async () => {
      const all = await readEvents(b);
      return all.length >= afterSwap.length ? all : null;
    });
    expect(inB.map((e) => e.id)).toEqual(afterSwap);
    expect(inA[swapAt]?.data.recorder).toMatchObject({
      added: [`file:${b}`],
      kept: [`file:${a}`],
      removed: [],
      outputs: [`file:${a}`, `file:${b}`],
    });

    // The kept output is the same object: same descriptor on the same inode, no reopen.
    expect((await stat(a)).ino).toBe(inode);
    expect(await fdsOn(d.pid, a)).toEqual(fds);
    expect(await metric(d, 'file_reopens_total', { output: `file:${a}` })).toBe(0);
    const text = await scrape(d.baseUrl);
    expect(sampleSum(text, `${M}output_events_total`, { output: `file:${a}`, result: 'written' })).toBe(
      inA.length,
    );
    expect(sampleSum(text, `${M}output_events_total`, { output: `file:${b}`, result: 'written' })).toBe(
      inB.length,
    );
  });

  /** A receiver that takes connections and never answers. */
  async function hangingReceiver(): Promise<{ url: string; connections: () => number }> {
    const sockets = new Set<Socket>();
    let connections = 0;
    const server: NetServer = createNetServer((socket) => {
      connections++;
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
      socket.resume();
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const { port } = server.address() as { port: number };
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((res) => server.close(res));
    });
    return { url: `http://127.0.0.1:${port}/hook`, connections: () => connections };
  }

  /** A port nothing listens on (bound once, then released): connections are refused. */
  async function refusingReceiver(): Promise<{ url: string; connections: () => number }> {
    const server = createNetServer();
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const { port } = server.address() as { port: number };
    await new Promise((res) => server.close(res));
    return { url: `http://127.0.0.1:${port}/hook`, connections: () => 1 };
  }

  it.each([
    ['never answers', hangingReceiver],
    ['refuses connections', refusingReceiver],
  ])(
    'removing a webhook output whose receiver %s does not delay the file, and its leftovers are counted',
    async (_what, receiver) => {
      const hook = await receiver();
      const base =
        'instance: rm\nshutdown_timeout: 3s\nfile_outputs:\n  - path: ./a.jsonl\n    fsync: none\n';
      const withHook = `${base}webhook_outputs:\n  - url: ${hook.url}\n    timeout: 30s\n    workers: 2\n    buffer: { max_events: 100000 }\n`;
      const d = await start(withHook);
      const a = join(d.dir, 'a.jsonl');
      const w = `webhook:${hook.url}`;
      const tail = tailFile(a);

      const stream = streamAlerts(d, 'ev');
      await waitFor(() => stream.accepted.size >= 50, { what: '50 events before the reload' });
      await writeFile(d.configPath, base);
      const reload = await fetch(`${d.baseUrl}/-/reload`, { method: 'POST' });
      expect(reload.status).toBe(200);
      const reloadedAt = Date.now();
      // Keep streaming until the removed output has finished draining (its gauges go away).
      const retiredAt = await waitFor(
        async () => ((await hasSeries(d, 'output_queue_length', { output: w })) ? null : Date.now()),
        { what: 'the removed webhook output to finish closing', timeoutMs: 15_000 },
      );
      const atRetire = stream.accepted.size;
      await waitFor(() => stream.accepted.size >= atRetire + 20, { what: 'events after the retirement' });
      await stream.stop();
      expect(stream.refused).toEqual([]);
      await waitFor(() => tail.arrived.size >= stream.accepted.size, { what: 'every event in the file' });
      await tail.stop();

      // The file kept receiving promptly, also while the webhook output was draining: a
      // loop that waited on it would show delays of the close budget (3 s) or the webhook timeout (30 s).
      const latencies = [...stream.accepted].map(
        ([s, at]) => (tail.arrived.get(s) ?? Number.POSITIVE_INFINITY) - at,
      );
      expect(Math.max(...latencies)).toBeLessThan(1500);
      const duringDrain = [...stream.accepted].filter(([, at]) => at > reloadedAt && at < retiredAt - 500);
      expect(duringDrain.length).toBeGreaterThan(10);

      // Every event the webhook output took before the swap ends counted (none delivered).
      const inA = await readEvents(a);
      const swapAt = inA.findIndex((e) => e.type === 'config_reloaded');
      expect(inA[swapAt]?.data.recorder).toMatchObject({ removed: [w], kept: [`file:${a}`], added: [] });
      const text = await scrape(d.baseUrl);
      expect(sampleSum(text, `${M}output_events_total`, { output: w })).toBe(swapAt);
      expect(sampleSum(text, `${M}output_drops_total`, { output: w })).toBe(swapAt);
      expect(sampleSum(text, `${M}output_events_total`, { output: w, result: 'written' })).toBe(0);
      expect(hook.connections()).toBeGreaterThan(0);
      // And the file output has every event exactly once.
      expect(inA.filter((e) => e.source === 'coroot').map(summaryOf)).toEqual([...stream.accepted.keys()]);
    },
  );
});

describe('output gauges across a reload', () => {
  it('an output replaced by a same-named one: one series per gauge, the invariant holds while the old one drains and after', async () => {
    // The old receiver never answers, so the old output still holds its events when it is replaced.
    const hanging = createHttpServer(() => {});
    const ok = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    for (const server of [hanging, ok]) await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    cleanups.push(async () => {
      hanging.closeAllConnections();
      ok.closeAllConnections();
      await Promise.all([hanging, ok].map((server) => new Promise((res) => server.close(res))));
    });
    const urlOf = (server: HttpServer): string =>
      `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
    const config = (url: string): string =>
      `instance: same-name\nshutdown_timeout: 2s\nwebhook_outputs:\n  - name: hook\n    url: ${url}\n    workers: 1\n    timeout: 30s\n`;
    const d = await start(config(urlOf(hanging)));
    const gauges = async (): Promise<{ up: string[]; queue: string[]; invariant: number[] }> => {
      const text = await scrape(d.baseUrl);
      const lines = text.split('\n');
      const outcome = (result: string): number =>
        sampleSum(text, `${M}output_events_total`, { output: 'hook', result });
      const queue = sampleSum(text, `${M}output_queue_length`, { output: 'hook' });
      return {
        up: lines.filter((l) => l.startsWith(`${M}output_up{`)),
        queue: lines.filter((l) => l.startsWith(`${M}output_queue_length{`)),
        // Every event goes to the one output: received = written + failed + dropped + pending.
        invariant: [
          sampleSum(text, `${M}events_received_total`),
          outcome('written') + outcome('failed') + outcome('dropped') + queue,
        ],
      };
    };

    for (let i = 0; i < 5; i++)
      expect((await post(`${d.baseUrl}/api/v1/coroot`, alert(`old ${i}`))).status).toBe(202);
    // recorder_started and the 5 alerts, all held by the old output.
    await waitFor(async () => (await gauges()).queue[0] === `${M}output_queue_length{output="hook"} 6`, {
      what: 'six events held by the old output',
    });

    await writeFile(d.configPath, config(urlOf(ok)));
    expect((await fetch(`${d.baseUrl}/-/reload`, { method: 'POST' })).status).toBe(200);
    for (let i = 0; i < 3; i++)
      expect((await post(`${d.baseUrl}/api/v1/coroot`, alert(`new ${i}`))).status).toBe(202);
    // config_reloaded and the 3 new alerts reach the new receiver while the old output still drains.
    const during = await waitFor(
      async () => {
        const text = await scrape(d.baseUrl);
        return sampleSum(text, `${M}output_events_total`, { output: 'hook', result: 'written' }) === 4
          ? gauges()
          : null;
      },
      { what: 'the new output delivering' },
    );
    expect(during.up).toEqual([`${M}output_up{output="hook"} 1`]);
    expect(during.queue).toEqual([`${M}output_queue_length{output="hook"} 6`]);
    expect(during.invariant[0]).toBe(during.invariant[1]);

    // The old output gives up its six at the end of its 2 s budget; the series stay, now the successor's alone.
    const after = await waitFor(
      async () => {
        const text = await scrape(d.baseUrl);
        return sampleSum(text, `${M}output_drops_total`, { output: 'hook', reason: 'shutdown' }) === 6
          ? gauges()
          : null;
      },
      { what: 'the old output retired', timeoutMs: 20_000 },
    );
    expect(after.up).toEqual([`${M}output_up{output="hook"} 1`]);
    expect(after.queue).toEqual([`${M}output_queue_length{output="hook"} 0`]);
    expect(after.invariant).toEqual([10, 10]);
  });
});

describe('live settings', () => {
  it('a changed password_file is picked up: the old password stops working, the new one works', async () => {
    const secrets = await tempDir('cer-secrets-');
    const pwFile = join(secrets, 'coroot-password');
    await writeFile(pwFile, 'pw-one-SECRET\n');
    const yaml = `ingest:\n  coroot:\n    basic_auth: { username: coroot, password_file: ${pwFile} }\nfile_outputs:\n  - path: ./events.jsonl\n`;
    const d = await start(yaml);
    const file = join(d.dir, 'events.jsonl');
    await watching(d, secrets);
    const basic = (pw: string) => ({
      authorization: `Basic ${Buffer.from(`coroot:${pw}`).toString('base64')}`,
    });
    expect((await postAlert(d, 'one', basic('pw-one-SECRET'))).status).toBe(202);
    expect((await postAlert(d, 'two', basic('pw-two-SECRET'))).status).toBe(401);

    await writeFile(pwFile, 'pw-two-SECRET\n');
    const log = await waitFor(() => reloads(d, 'watch')[0], { what: 'the secret change to reload' });
    // Same YAML text, so the same hash: only the secret changed.
    expect(log.config_hash).toBe(hashOf(yaml));
    expect((await postAlert(d, 'three', basic('pw-one-SECRET'))).status).toBe(401);
    expect((await postAlert(d, 'four', basic('pw-two-SECRET'))).status).toBe(202);

    const all = await waitFor(async () => {
      const e = await readEvents(file);
      return e.some((x) => summaryOf(x) === 'four') ? e : null;
    });
    expect(all.filter((e) => e.type === 'config_reloaded')).toHaveLength(1);
    const written = JSON.stringify(all);
    expect(written).not.toContain('SECRET');
    expect(d.rawStderr()).not.toContain('SECRET');
  });

  it('applies auth, instance, on_queue_full and output settings at once; listen_address and queue_size wait for a restart', async () => {
    const hits: string[] = [];
    const receiver: HttpServer = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        hits.push(String(req.headers['x-team']));
        res.end();
      });
    });
    await new Promise<void>((res) => receiver.listen(0, '127.0.0.1', res));
    cleanups.push(() => new Promise((res) => receiver.close(() => res())));
    const port = (receiver.address() as { port: number }).port;
    const config = (v: {
      instance: string;
      token: string;
      onFull: string;
      queue: number;
      team: string;
      listen: string;
    }): string => `instance: ${v.instance}
listen_address: ${v.listen}
queue_size: ${v.queue}
on_queue_full: ${v.onFull}
ingest:
  coroot:
    bearer_token: ${v.token}
file_outputs:
  - path: ./events.jsonl
    fsync: none
webhook_outputs:
  - url: http://hook-user:url-pass-SECRET@127.0.0.1:${port}/in?token=query-SECRET
    headers: { X-Team: ${v.team}, X-Api-Key: header-SECRET }
`;
    const v1 = {
      instance: 'live-1',
      token: 'tok-old-SECRET',
      onFull: 'reject',
      queue: 1,
      team: 'one',
      listen: '127.0.0.1:9',
    };
    const v2 = {
      ...v1,
      instance: 'live-2',
      token: 'tok-new-SECRET',
      onFull: 'drop',
      queue: 5,
      team: 'two',
      listen: '127.0.0.1:10',
    };
    const d = await start(config(v1));
    const file = join(d.dir, 'events.jsonl');
    const w = `webhook:http://127.0.0.1:${port}/in`;
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

    // queue_size 1 with reject: a burst finds the slot taken and gets 503s.
    // New alerts every time: a burst repeated by waitFor would otherwise be de-duplicated away.
    let burstSeq = 0;
    const burst = async (token: string) =>
      Promise.all(
        Array.from({ length: 100 }, () =>
          post(`${d.baseUrl}/api/v1/coroot`, alert(`burst-${burstSeq++}`), {
            ...bearer(token),
            connection: 'close',
          }),
        ),
      );
    await waitFor(async () => (await burst(v1.token)).some((r) => r.status === 503), {
      what: 'a burst to be refused with 503 under on_queue_full: reject',
      timeoutMs: 30_000,
    });

    await writeFile(d.configPath, config(v2));
    const res = await fetch(`${d.baseUrl}/-/reload`, { method: 'POST' });
    expect(res.status).toBe(200);

    // Auth: the old token is refused from the very next request.
    expect((await postAlert(d, 'old-token', bearer(v1.token))).status).toBe(401);
    expect((await postAlert(d, 'new-token', bearer(v2.token))).status).toBe(202);
    const e = await waitFor(async () => (await readEvents(file)).find((x) => summaryOf(x) === 'new-token'));
    expect(e.instance).toBe('live-2');

    // on_queue_full: drop → a full queue answers 202 and counts the drop.
    let answers: Awaited<ReturnType<typeof burst>> = [];
    await waitFor(
      async () => {
        answers = await burst(v2.token);
        return answers.some((r) => r.status !== 202 || r.json?.dropped === 1);
      },
      { what: 'a burst to be dropped under on_queue_full: drop', timeoutMs: 30_000 },
    );
    expect(answers.filter((r) => r.status !== 202).map((r) => `${r.status} ${r.text}`)).toEqual([]);
    expect(await metric(d, 'events_dropped_total', { reason: 'queue_full' })).toBeGreaterThan(0);

    // Restart-only: logged, running value kept (the queue still holds 1).
    await waitFor(() => reloads(d, 'http').length === 1, { what: 'the reload log' });
    const restart = d.logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('needs restart'));
    expect(restart.map((l) => l.msg)).toEqual([
      'queue_size changed; needs restart, keeping the running value',
    ]);
    expect(restart[0]).toMatchObject({ running: 1, configured: 5 });
    expect(await metric(d, 'queue_capacity')).toBe(1);
    // --listen-address overrides the file now and at every reload: its change is not news.

    // The webhook output's headers changed: replaced under the same name, new header used.
    const audit = (await readEvents(file)).filter((x) => x.type === 'config_reloaded');
    expect(audit).toHaveLength(1);
    expect(audit[0]?.data.recorder).toMatchObject({
      config_hash: hashOf(config(v2)),
      added: [w],
      removed: [w],
      kept: [`file:${file}`],
      outputs: [`file:${file}`, w],
      reason: 'http',
    });
    await waitFor(() => hits.includes('two'), { what: 'the replaced webhook output to deliver' });

    // No secret anywhere: not in the audit event, not in any event, not in the log.
    expect(JSON.stringify(await readEvents(file))).not.toContain('SECRET');
    expect(d.rawStderr()).not.toContain('SECRET');
  });

  it('without --listen-address, a listen_address change is logged as needing a restart and the old port keeps serving', async () => {
    const v1 = 'listen_address: 127.0.0.1:0\nfile_outputs:\n  - path: ./events.jsonl\n';
    const d = await start(v1, { listen: null, waitReady: false });
    const { configPath, baseUrl, logs } = d;

    const v2 = v1.replace('127.0.0.1:0', '127.0.0.1:1');
    await writeFile(configPath, v2);
    expect((await fetch(`${baseUrl}/-/reload`, { method: 'POST' })).status).toBe(200);
    await waitFor(() => logs.some((l) => l.msg === RELOADED && l.config_hash === hashOf(v2)), {
      what: 'the reload log',
    });
    const warn = logs.find(
      (l) => l.msg === 'listen_address changed; needs restart, keeping the running value',
    );
    expect(warn).toMatchObject({ level: 'warn', running: '127.0.0.1:0', configured: '127.0.0.1:1' });
    expect((await fetch(`${baseUrl}/-/healthy`)).status).toBe(200);
  });

  it('a burst of 20 writes is one or two reloads, not twenty', async () => {
    const d = await start(fileConfig('b-start'));
    const file = join(d.dir, 'events.jsonl');
    await watching(d);
    for (let i = 0; i < 20; i++) await writeFile(d.configPath, fileConfig(`b-${i}`));
    await reloadedWith(d, fileConfig('b-19'), 'watch');
    // Proving that nothing more happens needs a wait: two debounce periods with no further reload.
    await sleep(2 * DEBOUNCE_MS + 100);
    const n = reloads(d).length;
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(2);
    expect(failures(d)).toEqual([]);
    expect((await recordOne(d, file, 'after-burst')).instance).toBe('b-19');
    expect((await readEvents(file)).filter((e) => e.type === 'config_reloaded')).toHaveLength(n);
  });
});
