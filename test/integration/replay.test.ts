/*
 * `coroot-event-recorder replay` as a user runs it: the compiled CLI, a rotated audit set on
 * disk (plain and gzip), real HTTP receivers on 127.0.0.1. What reaches the receiver is
 * compared by id and by bytes with what the file output had written.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecorderEvent } from '../../src/events/event.js';
import { jsonOf } from '../../src/events/serialize.js';
import { tempDir } from '../helpers/daemon.js';
import { AUDIT_START_MS, runCli, writeAuditSet } from '../helpers/replay.js';

interface Received {
  path: string;
  body: Buffer;
}

/** An HTTP receiver that records every request and answers with `status(body)`. */
async function receiver(status: (body: Buffer) => number = () => 200): Promise<{
  url: string;
  requests: Received[];
  server: Server;
}> {
  const requests: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ path: req.url ?? '', body });
      res.writeHead(status(body)).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  servers.push(server);
  return { url: `http://127.0.0.1:${port}`, requests, server };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** The event JSONs in the bodies, in order: a batch body is a JSON array, a single one an object. */
function bodiesToJsons(requests: Received[]): string[] {
  return requests.flatMap((r) => {
    const text = r.body.toString('utf8');
    if (!text.startsWith('[')) return [text];
    return (JSON.parse(text) as unknown[]).map((e) => JSON.stringify(e));
  });
}

interface Setup {
  dir: string;
  config: string;
}

/** A config with the replay target `hook`, a file output and a second webhook it must not touch. */
async function writeConfig(hookUrl: string, otherUrl: string, hookExtra = ''): Promise<Setup> {
  const dir = await tempDir('cer-replay-');
  // The listener's port is taken: a replay that tried to listen would fail.
  const busy = createNetServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const busyPort = (busy.address() as { port: number }).port;
  servers.push(busy as unknown as Server);
  const config = join(dir, 'recorder.yaml');
  await writeFile(
    config,
    `instance: replay-test
listen_address: 127.0.0.1:${busyPort}
file_outputs:
  - name: audit
    path: ./audit-written-by-daemon.jsonl
webhook_outputs:
  - name: hook
    url: ${hookUrl}/events
    workers: 1
    retry_backoff: 10ms
    max_backoff: 50ms
${hookExtra}
  - name: other
    url: ${otherUrl}/other
`,
  );
  return { dir, config };
}

/** Two receivers (`hook`, the replay target, and `other`, which must stay untouched) and their config. */
async function replaySetup(hookExtra = '') {
  const hook = await receiver();
  const other = await receiver();
  const { dir, config } = await writeConfig(hook.url, other.url, hookExtra);
  return { hook, other, dir, config };
}

const at = (minutes: number): string => new Date(AUDIT_START_MS + minutes * 60_000).toISOString();

describe('replay', () => {
  it('sends exactly the selected events of a rotated set (.2.gz, .1, current) in order, byte for byte, batched', async () => {
    const { hook, other, dir, config } = await replaySetup(
      '    batch: { max_events: 4, flush_interval: 10ms }',
    );
    const set = await writeAuditSet(dir, 20);
    const run = await runCli([
      'replay',
      '--config',
      config,
      '--output',
      'hook',
      '--since',
      at(5),
      '--until',
      at(50),
      '--type',
      'alert_firing,alert_resolved',
      '--source',
      'coroot',
      ...set.files,
    ]);
    const wanted = set.events
      .map((event, i) => ({ event, line: set.lines[i] as Buffer, i }))
      .filter(
        ({ event, i }) =>
          i >= 5 &&
          i < 50 &&
          (event.type === 'alert_firing' || event.type === 'alert_resolved') &&
          event.source === 'coroot',
      );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `replay to output "hook" (webhook): read 60, selected ${wanted.length}, delivered ${wanted.length}, failed 0, malformed 0\n`,
    );
    // Same ids, same order, and each event exactly the JSON the file output wrote.
    const got = bodiesToJsons(hook.requests);
    expect(got.map((j) => (JSON.parse(j) as RecorderEvent).id)).toEqual(wanted.map((w) => w.event.id));
    expect(got).toEqual(wanted.map((w) => jsonOf(w.line).toString('utf8')));
    expect(hook.requests.length).toBeGreaterThan(1);
    expect(hook.requests.every((r) => r.path === '/events')).toBe(true);
    // The config's other outputs are untouched.
    expect(other.requests).toEqual([]);
    expect(existsSync(join(dir, 'audit-written-by-daemon.jsonl'))).toBe(false);
  });

  it('a receiver that rejects some: non-zero exit and an exact summary', async () => {
    const rejectedSeqs = new Set([3, 4, 17, 40]);
    const hook = await receiver((body) => {
      const event = JSON.parse(body.toString('utf8')) as { data: { alert: { extra: { seq: number } } } };
      return rejectedSeqs.has(event.data.alert.extra.seq) ? 400 : 200;
    });
    const other = await receiver();
    const { dir, config } = await writeConfig(hook.url, other.url);
    const set = await writeAuditSet(dir, 15);
    const run = await runCli(['replay', '--config', config, '--output', 'hook', ...set.files]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe(
      'replay to output "hook" (webhook): read 45, selected 45, delivered 41, failed 4, malformed 0\n' +
        '  failed by reason: rejected 4\n',
    );
    // Every event was attempted once (400 is not retried), in order.
    expect(hook.requests.map((r) => (JSON.parse(r.body.toString()) as RecorderEvent).id)).toEqual(
      set.events.map((e) => e.id),
    );
    // The output's own warning names it, on stderr.
    expect(run.stderr).toContain('webhook receiver rejected events; not retrying');
  });

  it('skips and reports a partial last line and a malformed line, delivers the rest', async () => {
    const { hook, dir, config } = await replaySetup();
    const set = await writeAuditSet(dir, 5, {
      rotated: 'this is not json\n',
      current: '{"@timestamp":"2026-11-01T00:15:00.000Z","id":"0193',
    });
    const run = await runCli(['replay', '--config', config, '--output', 'hook', ...set.files]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      'replay to output "hook" (webhook): read 17, selected 15, delivered 15, failed 0, malformed 2\n',
    );
    const lines = run.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/events\.jsonl\.1:6: skipped: not JSON: /),
      `${set.files[2]}:6: skipped: partial last line (51 bytes, no newline)`,
    ]);
    expect(bodiesToJsons(hook.requests)).toEqual(set.lines.map((l) => jsonOf(l).toString('utf8')));
  });

  it('an unknown output name: a clear error listing the names, nothing sent', async () => {
    const { hook, dir, config } = await replaySetup();
    const set = await writeAuditSet(dir, 2);
    const run = await runCli(['replay', '--config', config, '--output', 'hoook', ...set.files]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      `coroot-event-recorder replay: no output named "hoook" in ${config} (outputs: "audit", "hook", "other")\n`,
    );
    expect(hook.requests).toEqual([]);
  });

  it('--dry-run counts and sends nothing; --since as a duration back from now', async () => {
    const { hook, dir, config } = await replaySetup();
    const set = await writeAuditSet(dir, 4);
    const dry = await runCli([
      'replay',
      '--config',
      config,
      '--output',
      'hook',
      '--dry-run',
      '--type',
      'deployment',
      ...set.files,
    ]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(
      'replay (dry run) to output "hook" (webhook): read 12, selected 4, malformed 0; nothing sent\n',
    );
    // The set is from 2026-11-01; "1h" back from now selects none of it before that date
    // and all of it after: compare with the clock rather than assume one.
    const recent = await runCli([
      'replay',
      '--config',
      config,
      '--output',
      'hook',
      '--dry-run',
      '--since',
      '1h',
      ...set.files,
    ]);
    const expected = set.events.filter((e) => Date.parse(e['@timestamp']) >= Date.now() - 3_600_000).length;
    expect(recent.stdout).toContain(`selected ${expected},`);
    expect(hook.requests).toEqual([]);
  });

  it('refuses bad flags and unreadable files before sending anything', async () => {
    const { hook, dir, config } = await replaySetup();
    const set = await writeAuditSet(dir, 1);
    const cases: Array<[string[], RegExp]> = [
      [['--output', 'hook', ...set.files], /--config FILE is required/],
      [['--config', config, ...set.files], /--output NAME is required/],
      [['--config', config, '--output', 'hook'], /name at least one FILE to replay/],
      [
        ['--config', config, '--output', 'hook', '--since', 'yesterday', ...set.files],
        /--since must be an RFC 3339 time/,
      ],
      [
        ['--config', config, '--output', 'hook', '--type', 'alert_fired', ...set.files],
        /unknown type "alert_fired"/,
      ],
      [
        ['--config', config, '--output', 'hook', join(dir, 'missing.jsonl')],
        /cannot read .*missing\.jsonl: ENOENT/,
      ],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(['replay', ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    expect(hook.requests).toEqual([]);
  });
});
