/*
 * A daemon whose log reader goes away (a killed parent, a crashed log shipper, `| head`)
 * must keep serving and still stop on SIGTERM. Found by the soak: EPIPE on stderr became an
 * uncaught exception whose own log line failed the same way, spinning a core and never
 * reaching the SIGTERM handler's exit.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { post, type RunningDaemon, startDaemon } from '../helpers/daemon.js';
import { loadFixture } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/wait.js';

let d: RunningDaemon | null = null;
afterEach(() => {
  d?.proc.kill('SIGKILL');
  d = null;
});

describe('daemon with its stderr reader gone', () => {
  it('keeps recording and exits 0 on SIGTERM', async () => {
    d = await startDaemon('shutdown_timeout: 2s\nfile_outputs:\n  - path: ./events.jsonl\n');
    const daemon = d;
    daemon.proc.stderr?.destroy();
    // Every request logs at debug level, so each of these writes to the dead pipe. Twenty
    // different alerts: a repeated one would be de-duplicated and recorded once.
    const fixture = loadFixture('coroot/alert-firing-warning.json') as Record<string, unknown>;
    for (let i = 0; i < 20; i++) {
      const r = await post(`${daemon.baseUrl}/api/v1/coroot`, { ...fixture, summary: `stderr ${i}` });
      expect(r.status).toBe(202);
    }
    process.kill(daemon.pid, 'SIGUSR1');
    expect((await fetch(`${daemon.baseUrl}/-/healthy`)).status).toBe(200);
    const file = join(daemon.dir, 'events.jsonl');
    await waitFor(
      async () => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean).length >= 21,
      { what: '20 events and recorder_started in the file' },
    );
    process.kill(daemon.pid, 'SIGTERM');
    const code = await Promise.race([
      daemon.exited,
      new Promise<string>((r) => setTimeout(() => r('still running 8 s after SIGTERM'), 8_000).unref()),
    ]);
    expect(code).toBe(0);
  });
});
