/*
 * What the image promises without a Docker engine to prove it: the daemon runs as the
 * image's non-root user (uid/gid 1000) on the shipped config, with everything but the data
 * folder unwritable to it, and writes only there. The process is the real compiled daemon,
 * dropped to uid 1000 with setpriv (util-linux) the way `USER 1000:1000` runs it.
 */
import { spawnSync } from 'node:child_process';
import { chmod, chown, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, startDaemon, tempDir } from '../helpers/daemon.js';
import { loadFixture } from '../helpers/fixtures.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const UID = 1000;
const canDropPrivileges =
  process.getuid?.() === 0 && spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
if (!canDropPrivileges) {
  console.log('ops-readonly: skipped: needs root and setpriv to run the daemon as uid 1000');
}

/** Every path under `dir` with its mtime, to see that nothing outside the data folder changed. */
async function snapshot(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const name of await readdir(dir, { recursive: true })) {
    const s = await stat(join(dir, name)).catch(() => null);
    if (s) out.set(name, s.mtimeMs);
  }
  return out;
}

describe.skipIf(!canDropPrivileges)('image user and read-only root', () => {
  it('runs as uid 1000 on the shipped config and writes only to DATA_DIR', async () => {
    const data = await tempDir('cer-ro-data-');
    await chown(data, UID, UID);
    // A working folder the user cannot write, standing in for the read-only image root.
    const cwd = await tempDir('cer-ro-cwd-');
    await chmod(cwd, 0o555);
    const before = await snapshot(join(ROOT, 'config'));
    const port = await freePort();
    const daemon = await startDaemon(
      { file: join(ROOT, 'config/recorder.yaml') },
      {
        dir: cwd,
        env: { PATH: process.env.PATH, DATA_DIR: data, HOME: cwd },
        inheritEnv: false,
        listen: `127.0.0.1:${port}`,
        logLevel: 'info',
        wrapper: ['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups'],
      },
    );
    try {
      const base = daemon.baseUrl;
      const res = await fetch(`${base}/api/v1/coroot`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(loadFixture('coroot/alert-firing-warning.json')),
      });
      expect(res.status).toBe(202);
      const file = join(data, 'events.jsonl');
      await waitFor(async () => (await readFile(file, 'utf8').catch(() => '')).includes('alert_firing'), {
        what: 'the event in DATA_DIR/events.jsonl',
      });
      expect((await stat(file)).uid).toBe(UID);
      expect(await readdir(cwd)).toEqual([]);
      expect(await snapshot(join(ROOT, 'config'))).toEqual(before);
      expect(daemon.rawStderr()).not.toMatch(/EACCES|EROFS|"level":"error"/);
    } finally {
      await daemon.stop();
    }
    expect(await daemon.exited).toBe(0);
  });
});
