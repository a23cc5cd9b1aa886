/*
 * Back-pressure and acknowledgements against the real daemon process and real files
 * (docs/operations.md, "Back-pressure and acknowledgements"): the audit file blocks instead
 * of dropping, a 202 means written, a full disk gives 503s and recovers without a restart,
 * and every loss is counted and said.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { post, type RunningDaemon, startDaemon, tempDir } from '../helpers/daemon.js';
import { corootAlertPayload, firingAlertsBody } from '../helpers/events.js';
import { sampleSum, scrape } from '../helpers/metrics.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function daemon(yaml: string, opts: Parameters<typeof startDaemon>[1] = {}): Promise<RunningDaemon> {
  const d = await startDaemon(yaml, opts);
  cleanups.push(() => d.stop('SIGKILL'));
  return d;
}

/** An Alertmanager webhook of `n` firing alerts, each carrying a unique `uid` label `<tag>-<i>`. */
function amBody(tag: string, n: number): string {
  return firingAlertsBody({ alertname: 'BackPressure', uidPrefix: tag, n, fingerprintBase: 0x1000000000000 });
}

const uidsOf = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${tag}-${i}`);

interface SenderTotals {
  accepted: string[];
  refused: number;
  statuses: Record<string, number>;
}

/**
 * Posts `bodies` in order as Alertmanager does: a 503 is retried (after a short pause, as a
 * stand-in for its backoff) until the answer is 202; any other answer fails the test.
 * `accepted` collects the keys of the bodies answered 202.
 */
async function sendLikeAlertmanager(
  url: string,
  bodies: Iterable<{ key: string; body: string }>,
  totals: SenderTotals,
  stop: () => boolean = () => false,
): Promise<void> {
  for (const { key, body } of bodies) {
    for (;;) {
      if (stop()) return;
      let status: number;
      try {
        status = (await post(url, body)).status;
      } catch {
        // The daemon was killed (the kill -9 test): what was not answered was not accepted.
        return;
      }
      totals.statuses[status] = (totals.statuses[status] ?? 0) + 1;
      if (status === 202) {
        totals.accepted.push(key);
        break;
      }
      if (status !== 503) throw new Error(`unexpected answer ${status}`);
      totals.refused++;
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 40));
    }
  }
}

/** `n` request bodies, each built only when it is about to be sent. */
function* lazily<T>(n: number, make: (i: number) => T): Generator<T> {
  for (let i = 0; i < n; i++) yield make(i);
}

type Line = { data?: { alert?: { labels?: Record<string, string>; summary?: string } } };

/**
 * Every whole line of a JSONL file. kill -9 can cut the write in flight (the kernel stops a
 * write of several pages between two), so the text after the last newline may be a fragment:
 * it is no line, and its events were never answered 202.
 */
async function linesOf(path: string): Promise<Line[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const out: Line[] = [];
  for (const l of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
    if (l) out.push(JSON.parse(l) as Line);
  }
  return out;
}

function countBy(lines: Line[], key: (l: Line) => string | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (const l of lines) {
    const k = key(l);
    if (k !== undefined) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}
const uidOf = (l: Line): string | undefined => l.data?.alert?.labels?.uid;
const summaryOf = (l: Line): string | undefined => l.data?.alert?.summary;

async function metric(d: RunningDaemon, name: string, labels: Record<string, string> = {}): Promise<number> {
  return sampleSum(await scrape(d.baseUrl), `coroot_event_recorder_${name}`, labels);
}

/** Waits until the daemon has handed on and written everything it accepted. */
async function waitIdle(d: RunningDaemon, output: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const text = await scrape(d.baseUrl);
      const m = (name: string, labels: Record<string, string> = {}) =>
        sampleSum(text, `coroot_event_recorder_${name}`, labels);
      return (
        m('queue_length') === 0 &&
        m('output_queue_length', { output }) === 0 &&
        m('events_received_total') === m('output_events_total', { output })
      );
    },
    { timeoutMs, what: 'the daemon to be idle' },
  );
}

describe('back-pressure: the audit file blocks instead of dropping', () => {
  it('16 Alertmanager-style senders, 100-alert webhooks, a small file buffer: every accepted alert exactly once', async () => {
    const d = await daemon(
      'queue_size: 400\nfile_outputs:\n  - path: ./events.jsonl\n    buffer: { max_events: 50 }\n',
    );
    const output = `file:${join(d.dir, 'events.jsonl')}`;
    const url = `${d.baseUrl}/api/v1/alertmanager`;
    const totals: SenderTotals = { accepted: [], refused: 0, statuses: {} };
    await Promise.all(
      Array.from({ length: 16 }, (_, s) =>
        sendLikeAlertmanager(
          url,
          Array.from({ length: 6 }, (_, r) => ({ key: `s${s}r${r}`, body: amBody(`s${s}r${r}`, 100) })),
          totals,
        ),
      ),
    );
    expect(totals.accepted).toHaveLength(16 * 6);
    await waitIdle(d, output);
    const counts = countBy(await linesOf(join(d.dir, 'events.jsonl')), uidOf);
    const expected = totals.accepted.flatMap((k) => uidsOf(k, 100));
    expect(expected.filter((u) => counts.get(u) !== 1)).toEqual([]);
    expect(counts.size).toBe(expected.length);
    expect(await metric(d, 'output_drops_total', { output })).toBe(0);
    console.log(
      `bursts: ${totals.refused} answers were 503 and retried; statuses ${JSON.stringify(totals.statuses)}`,
    );
  }, 120_000);

  it('kill -9 under mixed load at random moments: every event answered 202 is in the file', async () => {
    for (let round = 0; round < 3; round++) {
      const d = await daemon('file_outputs:\n  - path: ./events.jsonl\n');
      let killed = false;
      const am: SenderTotals = { accepted: [], refused: 0, statuses: {} };
      const coroot: SenderTotals = { accepted: [], refused: 0, statuses: {} };
      const amUrl = `${d.baseUrl}/api/v1/alertmanager`;
      const corootUrl = `${d.baseUrl}/api/v1/coroot`;
      const senders = [
        ...Array.from({ length: 4 }, (_, s) =>
          sendLikeAlertmanager(
            amUrl,
            lazily(1000, (r) => ({ key: `k${round}s${s}r${r}`, body: amBody(`k${round}s${s}r${r}`, 100) })),
            am,
            () => killed,
          ),
        ),
        ...Array.from({ length: 4 }, (_, s) =>
          sendLikeAlertmanager(
            corootUrl,
            lazily(100_000, (r) => {
              const summary = `steady-${round}-${s}-${r}`;
              return { key: summary, body: JSON.stringify(corootAlertPayload(summary)) };
            }),
            coroot,
            () => killed,
          ),
        ),
      ];
      const delay = 300 + Math.random() * 1500;
      await new Promise((r) => setTimeout(r, delay));
      d.proc.kill('SIGKILL');
      killed = true;
      await d.exited;
      await Promise.all(senders);
      const lines = await linesOf(join(d.dir, 'events.jsonl'));
      const uids = countBy(lines, uidOf);
      const summaries = countBy(lines, summaryOf);
      const missingAm = am.accepted.flatMap((k) => uidsOf(k, 100)).filter((u) => !uids.has(u));
      const missingCoroot = coroot.accepted.filter((s) => !summaries.has(s));
      expect(coroot.accepted.length + am.accepted.length).toBeGreaterThan(0);
      expect({ round, delay, missingAm, missingCoroot }).toEqual({
        round,
        delay,
        missingAm: [],
        missingCoroot: [],
      });
    }
  }, 180_000);

  it('acknowledgements: false answers first; true waits for the output and answers 503 when it cannot', async () => {
    const hole = await holdingReceiver();
    cleanups.push(hole.close);
    const hookYaml = (acks: boolean) =>
      [
        `acknowledgements: ${acks}`,
        'acknowledgement_timeout: 300ms',
        'queue_size: 5',
        'webhook_outputs:',
        `  - url: ${hole.url}`,
        '    workers: 1',
        '    timeout: 60s',
        '    buffer: { max_events: 1, when_full: block }',
        '',
      ].join('\n');
    const send = (d: RunningDaemon, i: number) =>
      post(`${d.baseUrl}/api/v1/coroot`, corootAlertPayload(`acks-${i}`));

    // false: 202 as soon as the event is queued, though nothing reached the receiver.
    const off = await daemon(hookYaml(false));
    const offAnswers = [];
    for (let i = 0; i < 5; i++) offAnswers.push((await send(off, i)).status);
    expect(offAnswers).toEqual([202, 202, 202, 202, 202]);
    expect(hole.completed).toBe(0);
    await off.stop('SIGKILL');

    // true: recorder_started is in flight at the receiver and the first alert takes the one
    // slot of the buffer; the block output has no room for the second alert, so its request
    // is not answered 202, and after acknowledgement_timeout it gets 503 (the sender retries).
    const on = await daemon(hookYaml(true));
    await waitFor(() => hole.completed === 0 && hole.received >= 2);
    expect((await send(on, 10)).status).toBe(202);
    const third = await send(on, 11);
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('1');
    expect(String(third.json?.error)).toMatch(/not yet written within acknowledgement_timeout/);
    expect(await metric(on, 'ingest_rejected_total', { reason: 'not_durable' })).toBe(1);
  }, 60_000);

  it('drop_newest on a file output drops, counts and says so', async () => {
    const d = await daemon(
      'file_outputs:\n  - path: ./events.jsonl\n    fsync: always\n    buffer: { max_events: 1, when_full: drop_newest }\n',
    );
    const output = `file:${join(d.dir, 'events.jsonl')}`;
    expect((await post(`${d.baseUrl}/api/v1/alertmanager`, amBody('drop', 100))).status).toBe(202);
    await waitIdle(d, output);
    const written = await metric(d, 'output_events_total', { output, result: 'written' });
    const dropped = await metric(d, 'output_drops_total', { output, reason: 'buffer_full' });
    expect(dropped).toBeGreaterThan(0);
    expect(written + dropped).toBe(await metric(d, 'events_received_total'));
    expect(await linesOf(join(d.dir, 'events.jsonl'))).toHaveLength(written);
    const warn = await waitFor(() =>
      d.logs.find((l) => l.msg === 'file buffer full; dropping events (when_full: drop_newest)'),
    );
    expect(warn.dropped).toBeGreaterThan(0);
  }, 60_000);

  it('a black-hole webhook with drop_newest never delays the acknowledged file', async () => {
    const hole = await holdingReceiver();
    cleanups.push(hole.close);
    const d = await daemon(
      [
        'file_outputs:',
        '  - path: ./events.jsonl',
        'webhook_outputs:',
        `  - url: ${hole.url}`,
        '    workers: 1',
        '    timeout: 60s',
        '    buffer: { max_events: 2 }',
        '',
      ].join('\n'),
    );
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      expect((await post(`${d.baseUrl}/api/v1/coroot`, corootAlertPayload(`iso-${i}`))).status).toBe(202);
      // Generous for a loaded machine: the point is that it does not wait for the 60 s webhook.
      expect(performance.now() - started).toBeLessThan(5000);
    }
    const summaries = countBy(await linesOf(join(d.dir, 'events.jsonl')), summaryOf);
    for (let i = 0; i < 20; i++) expect(summaries.get(`iso-${i}`)).toBe(1);
  }, 60_000);

  it('the stopped line reports exactly what each output lost in the shutdown', async () => {
    const hole = await holdingReceiver();
    cleanups.push(hole.close);
    const d = await daemon(
      [
        'shutdown_timeout: 500ms',
        'file_outputs:',
        '  - path: ./events.jsonl',
        'webhook_outputs:',
        `  - url: ${hole.url}`,
        '    name: hole',
        '    workers: 1',
        '    timeout: 60s',
        '',
      ].join('\n'),
    );
    for (let i = 0; i < 5; i++) {
      expect((await post(`${d.baseUrl}/api/v1/coroot`, corootAlertPayload(`stop-${i}`))).status).toBe(202);
    }
    await waitFor(() => hole.received >= 1);
    expect(await d.stop('SIGTERM')).toBe(0);
    const stopped = d.logs.find((l) => l.msg === 'stopped');
    // The 5 alerts and recorder_started/recorder_stopped, none delivered by the black hole.
    expect(stopped?.lost_by_output).toEqual({ hole: 7, [`file:${join(d.dir, 'events.jsonl')}`]: 0 });
    expect(stopped?.lost_in_shutdown).toBe(7);
  }, 60_000);
});

const REQUIRE_TMPFS = process.env.REQUIRE_TMPFS === '1';
const IS_ROOT = process.getuid?.() === 0;
if (!IS_ROOT) {
  const line = 'full-disk suite skipped: mounting a tmpfs needs root (run the tests as root, as CI does)';
  if (REQUIRE_TMPFS) throw new Error(`REQUIRE_TMPFS=1 but ${line}`);
  console.log(line);
}

describe.runIf(IS_ROOT)('back-pressure: the file on a real full disk (a 1 MiB tmpfs)', () => {
  it('senders get 503 while it is full, never 202-then-drop; after a remount everything accepted is written, no restart', async () => {
    const dir = await tempDir('cer-tmpfs-');
    const mnt = join(dir, 'mnt');
    await mkdir(mnt);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    cleanups.push(() => run('umount', ['-l', mnt]));
    const d = await daemon(
      [
        'acknowledgement_timeout: 2s',
        'queue_size: 2000',
        'file_outputs:',
        `  - path: ${join(mnt, 'events.jsonl')}`,
        '    name: audit',
        '',
      ].join('\n'),
      { dir },
    );
    const url = `${d.baseUrl}/api/v1/alertmanager`;
    const totals: SenderTotals = { accepted: [], refused: 0, statuses: {} };
    // About 3 MiB of events for 1 MiB of disk.
    const senders = Array.from({ length: 4 }, (_, s) =>
      sendLikeAlertmanager(
        url,
        Array.from({ length: 40 }, (_, r) => ({ key: `t${s}r${r}`, body: amBody(`t${s}r${r}`, 20) })),
        totals,
      ),
    );
    await waitFor(
      () => d.logs.find((l) => l.msg === 'output cannot write; intake blocked (503) until it recovers'),
      {
        timeoutMs: 60_000,
        what: 'the disk to fill',
      },
    );
    const ready = await fetch(`${d.baseUrl}/-/ready`);
    if (ready.status !== 503) console.log(d.logs.filter((l) => l.level !== 'debug'));
    expect(ready.status).toBe(503);
    expect(await ready.text()).toBe('not ready: output audit cannot write (when_full: block)\n');
    const refused = totals.refused;
    await waitFor(() => totals.refused > refused + 5, { what: 'senders to see 503s', timeoutMs: 30_000 });
    expect(await metric(d, 'output_drops_total', { output: 'audit' })).toBe(0);

    await run('mount', ['-o', 'remount,size=64m', mnt]);
    await Promise.all(senders);
    await waitIdle(d, 'audit', 60_000);
    await waitFor(() => d.logs.find((l) => l.msg === 'output writing again; intake resumed'));
    expect((await fetch(`${d.baseUrl}/-/ready`)).status).toBe(200);

    const counts = countBy(await linesOf(join(mnt, 'events.jsonl')), uidOf);
    const expected = totals.accepted.flatMap((k) => uidsOf(k, 20));
    expect(totals.accepted).toHaveLength(4 * 40);
    expect(expected.filter((u) => !counts.has(u))).toEqual([]);
    expect(await metric(d, 'output_drops_total', { output: 'audit' })).toBe(0);
    // Held intake back for a while, and the same process throughout.
    expect(await metric(d, 'output_blocked_seconds_total', { output: 'audit' })).toBeGreaterThan(0);
    expect(d.proc.exitCode).toBeNull();
    expect(
      d.logs.filter((l) => l.msg === 'output cannot write; intake blocked (503) until it recovers'),
    ).toHaveLength(1);
  }, 180_000);
});

/** A receiver that reads each request and never answers (until closed). */
async function holdingReceiver(): Promise<{
  url: string;
  received: number;
  completed: number;
  close: () => Promise<void>;
}> {
  const held: ServerResponse[] = [];
  const state = { url: '', received: 0, completed: 0, close: async () => {} };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      state.received++;
      held.push(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  state.close = async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return state;
}
