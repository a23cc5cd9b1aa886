/*
 * ConfigWatcher against a real folder: what must trigger a reload check, and what must
 * not (appends to an output file that shares the config's folder).
 */
import { appendFile, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigWatcher } from '../../../src/config/watcher.js';
import { silentLogger } from '../../../src/log.js';
import { waitFor } from '../../helpers/wait.js';

const DEBOUNCE_MS = 20;
const POLL_MS = 25;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cer-config-watch-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A watcher that has taken its first look: a change made before that can go unseen. */
async function startWatcher(files: string[]): Promise<{ changes: () => number }> {
  let n = 0;
  const watcher = new ConfigWatcher(() => n++, silentLogger, DEBOUNCE_MS, POLL_MS);
  watcher.watchFiles(files);
  cleanups.push(() => watcher.close());
  await watcher.whenReady();
  return { changes: () => n };
}

/** Lets any debounced call that was going to happen, happen: several polls and a debounce. */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, (POLL_MS + DEBOUNCE_MS) * 10));
}

describe('ConfigWatcher', () => {
  it('ignores appends to another file in the same folder', async () => {
    const dir = await tempDir();
    const config = join(dir, 'recorder.yaml');
    await writeFile(config, 'a: 1\n');
    const { changes } = await startWatcher([config]);
    for (let i = 0; i < 50; i++) await appendFile(join(dir, 'events.jsonl'), '{}\n');
    await settle();
    expect(changes()).toBe(0);
  });

  it('sees an in-place write and a save by rename', async () => {
    const dir = await tempDir();
    const config = join(dir, 'recorder.yaml');
    await writeFile(config, 'a: 1\n');
    const { changes } = await startWatcher([config]);
    await writeFile(config, 'a: 2\n');
    await waitFor(() => changes() === 1, { what: 'the in-place write' });
    await writeFile(join(dir, '.recorder.yaml.tmp'), 'a: 3\n');
    await rename(join(dir, '.recorder.yaml.tmp'), config);
    await waitFor(() => changes() === 2, { what: 'the rename' });
    // The watch on the file follows the new one after the rename.
    await writeFile(config, 'a: 4\n');
    await waitFor(() => changes() === 3, { what: 'an in-place write to the renamed-in file' });
  });

  it('sees an in-place edit of a symlinked file whose target is in another folder', async () => {
    const dir = await tempDir();
    const elsewhere = await tempDir();
    const target = join(elsewhere, 'real.yaml');
    await writeFile(target, 'a: 1\n');
    const config = join(dir, 'recorder.yaml');
    await symlink(target, config);
    const { changes } = await startWatcher([config]);
    await writeFile(target, 'a: 2\n');
    await waitFor(() => changes() === 1, { what: 'the edit of the target' });
  });

  it('sees a ConfigMap-style ..data symlink swap', async () => {
    const dir = await tempDir();
    const config = join(dir, 'recorder.yaml');
    await writeFile(join(dir, 'v1.yaml'), 'a: 1\n');
    await symlink('v1.yaml', join(dir, '..data'));
    await symlink('..data', config);
    const { changes } = await startWatcher([config]);
    await writeFile(join(dir, 'v2.yaml'), 'a: 2\n');
    await symlink('v2.yaml', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await waitFor(() => changes() >= 1, { what: 'the swap' });
  });

  it('watches a folder that appears later', async () => {
    const dir = await tempDir();
    const folder = join(dir, 'secrets');
    const file = join(folder, 'token');
    const { changes } = await startWatcher([file]);
    await settle();
    expect(changes()).toBe(0);
    await mkdir(folder);
    await writeFile(file, 'one\n');
    await waitFor(() => changes() >= 1, { what: 'the folder and file that appeared' });
    // Settled on the file now: an in-place edit is seen.
    await settle();
    const seen = changes();
    await writeFile(file, 'two, longer\n');
    await waitFor(() => changes() > seen, { what: 'an edit of the file that appeared' });
  });

  it('watches a folder again after it was removed and made anew', async () => {
    const dir = await tempDir();
    const folder = join(dir, 'secrets');
    const file = join(folder, 'token');
    await mkdir(folder);
    await writeFile(file, 'one\n');
    const { changes } = await startWatcher([file]);
    await rm(folder, { recursive: true });
    await waitFor(() => changes() >= 1, { what: 'the removal' });
    await settle();
    await mkdir(folder);
    await writeFile(file, 'two\n');
    await waitFor(() => changes() >= 2, { what: 'the folder made anew' });
    await settle();
    const seen = changes();
    await writeFile(file, 'three, longer\n');
    await waitFor(() => changes() > seen, { what: 'an edit in the folder made anew' });
  });
});
