/*
 * The whole daemon under the real logrotate while requests stream in: every event answered
 * 202 is in exactly one of the rotated files or the live one (create mode, with and without
 * a postrotate SIGUSR1). The FileOutput-level suite (logrotate.test.ts) covers copytruncate.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { post, startDaemon } from '../helpers/daemon.js';
import { sampleSum, scrape } from '../helpers/metrics.js';
import { expectValidEvent, readJsonl } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const LOGROTATE = '/usr/sbin/logrotate';
const HAVE = existsSync(LOGROTATE);
if (!HAVE && process.env.REQUIRE_LOGROTATE !== '1') {
  console.log(
    `daemon logrotate suite skipped: ${LOGROTATE} not found (install it: apt-get install logrotate)`,
  );
}

type Ev = { id: string; type: string; data: { alert?: { summary?: string } } };

const alert = (i: number) => ({
  status: 'WARNING',
  rule_name: 'rotation',
  severity: 'warning',
  summary: `rot-${i}`,
  application: 'c:ns:Deployment:app',
  url: `https://coroot.example.com/p/abcd1234/alerts?alert=${i.toString(36).padStart(12, '0')}`,
});

describe.runIf(HAVE || process.env.REQUIRE_LOGROTATE === '1')('daemon under real logrotate', () => {
  for (const postrotate of [false, true]) {
    it(`create mode${postrotate ? ' with postrotate SIGUSR1' : ''}: every accepted event exactly once`, async () => {
      const d = await startDaemon('file_outputs:\n  - path: ./logs/events.jsonl\n    fsync: none\n');
      try {
        const conf = join(d.dir, 'logrotate.conf');
        await writeFile(
          conf,
          [
            `${join(d.dir, 'logs/events.jsonl')} {`,
            '  rotate 20',
            '  create 0640',
            '  missingok',
            ...(postrotate ? ['  postrotate', `    kill -USR1 ${d.pid}`, '  endscript'] : []),
            '}',
            '',
          ].join('\n'),
        );
        const state = join(d.dir, 'logrotate.state');
        let sent = 0;
        let streaming = true;
        const accepted: string[] = [];
        const streamer = (async () => {
          while (streaming) {
            const batch = Array.from({ length: 10 }, () => alert(sent++));
            const res = await post(`${d.baseUrl}/api/v1/coroot`, batch);
            expect(res.status).toBe(202);
            accepted.push(...batch.map((a) => a.summary));
          }
        })();
        for (let r = 0; r < 4; r++) {
          // Rotate only once new lines landed since the last rotation, so each rotation moves data.
          const before = accepted.length;
          await waitFor(() => accepted.length >= before + 50, { what: 'more events before rotating' });
          const { stderr } = await run(LOGROTATE, ['-f', '-s', state, conf]);
          expect(stderr).toBe('');
        }
        streaming = false;
        await streamer;
        const files = (await readdir(join(d.dir, 'logs'))).filter((f) => f.startsWith('events.jsonl'));
        expect(files.length).toBeGreaterThanOrEqual(5);
        const all = await waitFor(
          async () => {
            const lines: Ev[] = [];
            for (const f of files) lines.push(...((await readJsonl(join(d.dir, 'logs', f))) as Ev[]));
            const summaries = new Set(lines.map((l) => l.data.alert?.summary));
            return accepted.every((s) => summaries.has(s)) ? lines : null;
          },
          { what: 'every accepted event in some file' },
        );
        for (const line of all) expectValidEvent(line);
        const coroot = all.filter((l) => l.data.alert?.summary?.startsWith('rot-'));
        expect(coroot).toHaveLength(accepted.length);
        expect(new Set(all.map((l) => l.id)).size).toBe(all.length);
        const reopens = sampleSum(await scrape(d.baseUrl), 'coroot_event_recorder_file_reopens_total');
        // The watcher sees each rename; with postrotate the SIGUSR1 may reopen once more.
        if (postrotate) expect(reopens).toBeGreaterThanOrEqual(4);
        else expect(reopens).toBe(4);
      } finally {
        expect(await d.stop()).toBe(0);
      }
    });
  }
});
