import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, ROOT, type RunningDaemon, runCli, startDaemon, tempDir } from '../helpers/daemon.js';
import { sampleSum, scrape } from '../helpers/metrics.js';
import { readEvents } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';

const FIXTURES = join(ROOT, 'test/fixtures/coroot');
const M = 'coroot_event_recorder_';

const alert = (n: number, extra: Record<string, unknown> = {}) => ({
  status: 'WARNING',
  project_name: 'production',
  application: 'x0xwl4jz:shop:Deployment:catalog',
  rule_name: 'Low disk space',
  severity: 'warning',
  summary: `alert ${n}`,
  url: `https://coroot.example.com/p/x0xwl4jz/alerts?alert=${n.toString(36).padStart(12, '0')}`,
  ...extra,
});

describe('daemon end to end', () => {
  let d: RunningDaemon;
  let file: string;

  beforeAll(async () => {
    d = await startDaemon(`
instance: it-1
max_body_bytes: 64KiB
ingest:
  alertmanager:
    bearer_token: am-token
file_outputs:
  - path: ./out/events.jsonl
    fsync: always
`);
    file = join(d.dir, 'out/events.jsonl');
  });
  afterAll(async () => {
    await d?.stop();
  });

  it('records every Coroot fixture as schema-valid events, one line each', async () => {
    const names = (await readdir(FIXTURES)).filter((n) => n.endsWith('.json')).sort();
    expect(names.length).toBeGreaterThan(10);
    let expected = 0;
    const before = (await readEvents(file)).length;
    for (const name of names) {
      const body = await readFile(join(FIXTURES, name), 'utf8');
      const parsed = JSON.parse(body) as unknown;
      const n = Array.isArray(parsed) ? parsed.length : 1;
      const res = await post(`${d.baseUrl}/api/v1/coroot`, body);
      expect(res.status, `${name}: ${res.text}`).toBe(202);
      expect(res.json).toEqual({ accepted: n });
      expected += n;
    }
    const written = await waitFor(async () => {
      const all = await readEvents(file);
      return all.length - before >= expected ? all : null;
    });
    const recorded = written.slice(before).filter((e) => e.source === 'coroot');
    expect(recorded).toHaveLength(expected);
    expect(new Set(recorded.map((e) => e.id)).size).toBe(expected);
    expect(recorded.every((e) => e.source === 'coroot')).toBe(true);
    expect(new Set(recorded.map((e) => e.type))).toEqual(
      new Set([
        'alert_firing',
        'alert_resolved',
        'incident_opened',
        'incident_resolved',
        'deployment',
        'unrecognized',
      ]),
    );
  });

  it('records each object of a JSON array (an unfit one as unrecognized); refuses an array with a non-object whole', async () => {
    const ok = await post(`${d.baseUrl}/api/v1/coroot`, [alert(1), alert(2)]);
    expect(ok.status).toBe(202);
    expect(ok.json).toEqual({ accepted: 2 });
    const before = (
      await waitFor(async () => {
        const all = await readEvents(file);
        return all.some((e) => e.data.alert?.summary === 'alert 2') ? all : null;
      })
    ).length;
    const mixed = await post(`${d.baseUrl}/api/v1/coroot`, [
      alert(3, { summary: 'in-mixed' }),
      { status: 'WARNING' },
    ]);
    expect(mixed.status).toBe(202);
    expect(mixed.json).toEqual({ accepted: 2 });
    const recorded = await waitFor(async () => {
      const all = await readEvents(file);
      const odd = all.find(
        (e) =>
          e.type === 'unrecognized' && (e.data as { raw?: { status?: string } }).raw?.status === 'WARNING',
      );
      return odd && all.some((e) => e.data.alert?.summary === 'in-mixed') ? odd : null;
    });
    expect((recorded.data as Record<string, unknown>).raw).toEqual({ status: 'WARNING' });
    expect((recorded.data as Record<string, unknown>).reason).toMatch(/^\[1\]: not a Coroot notification/);
    const countBefore = (await readEvents(file)).length;
    const bad = await post(`${d.baseUrl}/api/v1/coroot`, [alert(30), 7]);
    expect(bad.status).toBe(400);
    expect(String(bad.json?.error)).toMatch(/\[1\]/);
    // Prove nothing of the bad request arrived: a marker sent after it is the next line.
    await post(`${d.baseUrl}/api/v1/coroot`, alert(4, { summary: 'marker-after-bad' }));
    const after = await waitFor(async () => {
      const all = await readEvents(file);
      return all.some((e) => e.data.alert?.summary === 'marker-after-bad') ? all : null;
    });
    expect(after.length).toBeGreaterThan(before);
    expect(after.slice(countBefore).map((e) => e.data.alert?.summary)).toEqual(['marker-after-bad']);
  });

  it('answers each error with the right code and a message', async () => {
    const url = `${d.baseUrl}/api/v1/coroot`;
    const invalid = await post(url, '{"status": ');
    expect(invalid.status).toBe(400);
    expect(String(invalid.json?.error)).toMatch(/^invalid JSON/);

    const scalar = await post(url, '42');
    expect(scalar.status).toBe(400);
    expect(typeof scalar.json?.error).toBe('string');

    // Objects of no known shape are kept (unrecognized), never refused: no 4xx for Coroot to retry.
    const unknown = await post(url, { hello: 'world' });
    expect(unknown.status).toBe(202);
    const wrongType = await post(url, alert(5, { severity: 42 }));
    expect(wrongType.status).toBe(202);

    const arrayOfScalars = await post(url, '[1, 2]');
    expect(arrayOfScalars.status).toBe(400);
    expect(String(arrayOfScalars.json?.error)).toMatch(/must be a JSON object/);

    const form = await post(url, JSON.stringify(alert(6)), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
    expect(String(form.json?.error)).toMatch(/application\/json/);

    const get = await fetch(url);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');

    expect((await fetch(`${d.baseUrl}/nope`)).status).toBe(404);

    const big = await post(url, JSON.stringify(alert(7, { summary: 'x'.repeat(70 * 1024) })));
    expect(big.status).toBe(413);

    const metrics = await scrape(d.baseUrl);
    expect(
      sampleSum(metrics, `${M}ingest_rejected_total`, { endpoint: 'coroot', reason: 'invalid_json' }),
    ).toBe(1);
    expect(
      sampleSum(metrics, `${M}ingest_rejected_total`, { endpoint: 'coroot', reason: 'invalid_payload' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      sampleSum(metrics, `${M}events_received_total`, { source: 'coroot', type: 'unrecognized' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      sampleSum(metrics, `${M}ingest_rejected_total`, {
        endpoint: 'coroot',
        reason: 'unsupported_media_type',
      }),
    ).toBe(1);
    expect(sampleSum(metrics, `${M}ingest_rejected_total`, { endpoint: 'coroot', reason: 'too_large' })).toBe(
      1,
    );
  });

  it('answers 413 to a chunked body that passes max_body_bytes, and stays up', async () => {
    const { status } = await new Promise<{ status: number }>((resolve, reject) => {
      const req = request(`${d.baseUrl}/api/v1/coroot`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      for (let i = 0; i < 128; i++) req.write(chunk); // 2 MiB against a 64 KiB limit
      req.end();
    });
    expect(status).toBe(413);
    expect((await fetch(`${d.baseUrl}/-/healthy`)).status).toBe(200);
  });

  it('answers 413 at once when Content-Length announces too much, without reading the body', async () => {
    const { connect } = await import('node:net');
    const url = new URL(d.baseUrl);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        // Headers only: a server that waited for the announced gigabyte would never answer.
        socket.write(
          'POST /api/v1/coroot HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n',
        );
      });
      let data = '';
      socket.on('data', (c) => {
        data += c.toString();
        if (data.includes('\r\n\r\n')) {
          socket.destroy();
          resolve(data);
        }
      });
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('requires the configured credentials and challenges with WWW-Authenticate', async () => {
    const url = `${d.baseUrl}/api/v1/alertmanager`;
    const body = { version: '4', status: 'firing', receiver: 'r', groupKey: 'g', alerts: [] };
    const none = await post(url, body);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    expect((await post(url, body, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post(url, body, { authorization: 'Bearer am-token' })).status).toBe(202);
    expect(none.text).not.toContain('am-token');
  });

  it('keeps __proto__ and constructor as plain data', async () => {
    const body =
      '{"status":"WARNING","rule_name":"r","severity":"warning","summary":"proto","application":"c:n:Deployment:a","url":"https://c/p/abcd1234/alerts?alert=proto0000001","__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}';
    const res = await post(`${d.baseUrl}/api/v1/coroot`, body);
    expect(res.status).toBe(202);
    const all = await waitFor(async () => {
      const e = await readEvents(file);
      return e.find((x) => x.data.alert?.summary === 'proto');
    });
    const extra = all.data.alert?.extra as Record<string, unknown>;
    expect(Object.keys(extra)).toEqual(expect.arrayContaining(['__proto__', 'constructor']));
    expect((await fetch(`${d.baseUrl}/-/healthy`)).status).toBe(200);
  });

  it('serves health, readiness and metrics that promtool accepts', async () => {
    expect(await (await fetch(`${d.baseUrl}/-/healthy`)).text()).toBe('OK\n');
    expect((await fetch(`${d.baseUrl}/-/ready`)).status).toBe(200);
    const text = await scrape(d.baseUrl);
    expect(sampleSum(text, `${M}build_info`)).toBe(1);
    expect(sampleSum(text, `${M}queue_capacity`)).toBe(8192);
    expect(sampleSum(text, `${M}output_up`, { output: `file:${file}` })).toBe(1);
    expect(
      sampleSum(text, `${M}events_received_total`, { source: 'recorder', type: 'recorder_started' }),
    ).toBe(1);
    const promtool = '/usr/bin/promtool';
    if (!existsSync(promtool)) {
      if (process.env.REQUIRE_PROMTOOL === '1')
        throw new Error('promtool is required (apt-get install prometheus)');
      console.warn('skipping promtool check: promtool not found (apt-get install prometheus)');
      return;
    }
    const child = execFile(promtool, ['check', 'metrics']);
    const result = new Promise<{ code: number | null; out: string }>((resolve) => {
      let out = '';
      child.stdout?.on('data', (c) => (out += c));
      child.stderr?.on('data', (c) => (out += c));
      child.on('exit', (code) => resolve({ code, out }));
    });
    child.stdin?.end(text);
    const { code, out } = await result;
    expect(out).toBe('');
    expect(code).toBe(0);
  });

  it('keeps the per-output invariant: received = written + failed + dropped + queued', async () => {
    await waitFor(async () => sampleSum(await scrape(d.baseUrl), `${M}output_queue_length`) === 0);
    const text = await scrape(d.baseUrl);
    const received = sampleSum(text, `${M}events_received_total`);
    const out = `file:${file}`;
    const outcome = sampleSum(text, `${M}output_events_total`, { output: out });
    expect(received).toBeGreaterThan(0);
    expect(outcome).toBe(received);
    expect(sampleSum(text, `${M}output_events_total`, { output: out, result: 'written' })).toBe(
      (await readEvents(file)).length,
    );
  });
});

describe('queue full', () => {
  /** Alerts never sent before: a burst repeated by waitFor must not be de-duplicated away. */
  let burstSeq = 0;
  async function burst(
    baseUrl: string,
    n: number,
  ): Promise<Array<{ status: number; retryAfter: string | null; body: string }>> {
    return Promise.all(
      Array.from({ length: n }, async () => {
        const res = await fetch(`${baseUrl}/api/v1/coroot`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', connection: 'close' },
          body: JSON.stringify(alert(1000 + burstSeq++)),
        });
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
      }),
    );
  }

  it('answers 503 with Retry-After when full (reject), and every 202 is in the file', async () => {
    const d = await startDaemon('queue_size: 1\nfile_outputs:\n  - path: ./events.jsonl\n');
    try {
      // Many requests landing in one turn of the event loop find the single slot taken.
      const answers = await waitFor(
        async () => {
          const a = await burst(d.baseUrl, 150);
          return a.some((x) => x.status === 503) ? a : null;
        },
        { timeoutMs: 30_000, what: 'a burst to overflow a queue of 1' },
      );
      const rejected = answers.filter((a) => a.status === 503);
      const accepted = answers.filter((a) => a.status === 202);
      expect(rejected.length + accepted.length).toBe(answers.length);
      expect(rejected.every((a) => a.retryAfter === '1')).toBe(true);
      const text = await scrape(d.baseUrl);
      expect(sampleSum(text, `${M}ingest_rejected_total`, { reason: 'queue_full' })).toBeGreaterThanOrEqual(
        rejected.length,
      );
      const coroot = await waitFor(async () => {
        const e = (await readEvents(join(d.dir, 'events.jsonl'))).filter((x) => x.source === 'coroot');
        return e.length >=
          sampleSum(await scrape(d.baseUrl), `${M}events_received_total`, { source: 'coroot' })
          ? e
          : null;
      });
      expect(coroot.length).toBe(
        sampleSum(await scrape(d.baseUrl), `${M}events_received_total`, { source: 'coroot' }),
      );
      const oversized = await post(`${d.baseUrl}/api/v1/coroot`, [alert(1), alert(2)]);
      expect(oversized.status).toBe(413);
      expect(String(oversized.json?.error)).toMatch(/queue_size 1/);
    } finally {
      await d.stop();
    }
  });

  it('with on_queue_full: drop answers 202 and counts the drop', async () => {
    const d = await startDaemon(
      'queue_size: 1\non_queue_full: drop\nfile_outputs:\n  - path: ./events.jsonl\n',
    );
    try {
      const answers = await waitFor(
        async () => {
          const a = await burst(d.baseUrl, 150);
          return a.some((x) => x.body.includes('"dropped":1')) ? a : null;
        },
        { timeoutMs: 30_000, what: 'a burst to overflow a queue of 1' },
      );
      expect(answers.every((a) => a.status === 202)).toBe(true);
      const dropped = answers.filter((a) => a.body.includes('"dropped":1')).length;
      expect(
        sampleSum(await scrape(d.baseUrl), `${M}events_dropped_total`, { reason: 'queue_full' }),
      ).toBeGreaterThanOrEqual(dropped);
    } finally {
      await d.stop();
    }
  });
});

describe('shutdown', () => {
  it('SIGTERM drains: every event answered 202 before the signal is in the file', async () => {
    const d = await startDaemon('file_outputs:\n  - path: ./events.jsonl\n    fsync: none\n');
    const ids: string[] = [];
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        post(`${d.baseUrl}/api/v1/coroot`, alert(5000 + i, { summary: `drain-${i}` })),
      ),
    );
    for (const r of results) expect(r.status).toBe(202);
    // Signal at once, without waiting for the write loop: the drain is what is under test.
    const code = await d.stop('SIGTERM');
    expect(code).toBe(0);
    const lines = await readEvents(join(d.dir, 'events.jsonl'));
    const summaries = new Set(lines.map((e) => e.data.alert?.summary));
    for (let i = 0; i < 300; i++) expect(summaries.has(`drain-${i}`)).toBe(true);
    ids.push(...lines.map((e) => e.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(lines.at(-1)?.type).toBe('recorder_stopped');
    expect(lines[0]?.type).toBe('recorder_started');
  });

  it('refuses new requests while draining, and SIGINT works the same', async () => {
    const d = await startDaemon('file_outputs:\n  - path: ./events.jsonl\n');
    expect(await d.stop('SIGINT')).toBe(0);
    await expect(fetch(`${d.baseUrl}/-/healthy`)).rejects.toThrow();
    expect(d.logs.some((l) => l.msg === 'stopped')).toBe(true);
  });
});

describe('file output under the daemon', () => {
  it('recreates a deleted file and recovers when the folder becomes writable', async () => {
    const dir = await tempDir();
    // A regular file where the output's folder should be: we run as root, so chmod would not stop us.
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'blocked'), 'not a folder');
    const d = await startDaemon('file_outputs:\n  - path: ./blocked/events.jsonl\n', {
      dir,
      waitReady: false,
    });
    try {
      await waitFor(() => d.logs.some((l) => l.level === 'error' && JSON.stringify(l).includes('blocked')), {
        what: 'an error log naming the path',
      });
      const ready = await fetch(`${d.baseUrl}/-/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).toMatch(/cannot write \(when_full: block\)/);
      // The file output blocks (the default): what it could not write is refused, not queued.
      const whileDown = await post(`${d.baseUrl}/api/v1/coroot`, alert(1, { summary: 'while-down' }));
      expect(whileDown.status).toBe(503);
      expect(whileDown.headers.get('retry-after')).toBe('1');
      await rm(join(dir, 'blocked'));
      const path = join(dir, 'blocked/events.jsonl');
      // recorder_started waited in the buffer and is written once the folder can be created.
      await waitFor(async () => (await readEvents(path)).some((e) => e.type === 'recorder_started'), {
        what: 'the buffered event after recovery',
      });
      await waitFor(async () => (await fetch(`${d.baseUrl}/-/ready`)).status === 200);
      expect((await post(`${d.baseUrl}/api/v1/coroot`, alert(1, { summary: 'while-down' }))).status).toBe(
        202,
      );
      expect((await readEvents(path)).some((e) => e.data.alert?.summary === 'while-down')).toBe(true);

      await rm(path);
      // Lines written between the delete and its detection go to the unlinked file (as
      // with any append-only writer); once detected, the file is recreated at once.
      await waitFor(() => existsSync(path), { what: 'the deleted file to be recreated' });
      expect((await post(`${d.baseUrl}/api/v1/coroot`, alert(2, { summary: 'after-delete' }))).status).toBe(
        202,
      );
      await waitFor(
        async () => (await readEvents(path)).some((e) => e.data.alert?.summary === 'after-delete'),
        {
          what: 'the file to be recreated',
        },
      );
      expect(sampleSum(await scrape(d.baseUrl), `${M}file_reopens_total`)).toBeGreaterThanOrEqual(1);
    } finally {
      await d.stop();
    }
  });
});

describe('CLI', () => {
  it('--check-config exits 0 on a valid file and 1 with every error on a broken one', async () => {
    const dir = await tempDir();
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'good.yaml'), 'file_outputs:\n  - path: ./e.jsonl\n');
    await writeFile(join(dir, 'bad.yaml'), 'queue_size: five\nfile_outputs:\n  - fsync: never\n');
    const good = await runCli(['--config', join(dir, 'good.yaml'), '--check-config']);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/SUCCESS/);
    const bad = await runCli(['--config', join(dir, 'bad.yaml'), '--check-config']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('bad.yaml:1: queue_size: must be an integer');
    expect(bad.stderr).toContain(
      'bad.yaml:3: file_outputs[0].fsync: must be one of none, interval, always, got "never"',
    );
    expect(bad.stderr).toContain('file_outputs[0].path: is required');
    expect(existsSync(join(dir, 'e.jsonl'))).toBe(false);
  });

  it('--version, --help and bad flags', async () => {
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^coroot-event-recorder \d+\.\d+\.\d+/);
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--check-config');
    expect((await runCli(['--bogus'])).code).toBe(2);
  });

  it('refuses to start on a broken config, naming the key and line in the log', async () => {
    const dir = await tempDir();
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'r.yaml'), 'on_queue_full: sometimes\n');
    const err = await runCli(['--config', join(dir, 'r.yaml')]);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('r.yaml:1: on_queue_full: must be one of reject, drop');
  });
});
