/*
 * The file output's appender on real files: it opens (creating the folder), appends, syncs,
 * moves to the file now at the path only once that one is open, and gives the descriptor up.
 */
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Logger, silentLogger } from '../../../../src/log.js';
import { FileAppender } from '../../../../src/outputs/file/appender.js';
import { removeTempDirs, tempDir } from '../../../helpers/daemon.js';

afterAll(removeTempDirs);

const lines = (...s: string[]): Buffer[] => s.map((x) => Buffer.from(`${x}\n`));

/** One process's life as far as the file goes: open (the first open), append `line`, close. */
async function appendOnce(path: string, log: Logger, line: string): Promise<void> {
  const a = new FileAppender(path, 0o640, log);
  await a.open();
  await a.append(lines(line));
  await a.close();
}

describe('FileAppender', () => {
  it('opens creating the folder, appends with the given mode, and tracks unsynced bytes', async () => {
    const path = join(await tempDir('cer-appender-'), 'deep', 'events.jsonl');
    const a = new FileAppender(path, 0o640, silentLogger);
    expect(a.isOpen).toBe(false);
    await expect(a.append(lines('x'))).rejects.toMatchObject({ code: 'EBADF' });
    await a.open();
    expect(a.isOpen).toBe(true);
    expect(a.unsynced).toBe(false);
    expect(await a.append(lines('a', 'b'))).toBe(4);
    expect(a.unsynced).toBe(true);
    await a.sync();
    expect(a.unsynced).toBe(false);
    expect(await readFile(path, 'utf8')).toBe('a\nb\n');
    expect((await stat(path)).mode & 0o777).toBe(0o640);
    await a.close();
    expect(a.isOpen).toBe(false);
  });

  it('a file cut mid-line (kill -9 during a write) gets a newline first, with one warning; a whole file gets none', async () => {
    const dir = await tempDir('cer-appender-');
    const path = join(dir, 'events.jsonl');
    await writeFile(path, '{"whole":1}\n{"cut":');
    const warnings: string[] = [];
    const log = new Logger('warn', (line) => warnings.push(line));
    await appendOnce(path, log, '{"next":2}');
    expect(await readFile(path, 'utf8')).toBe('{"whole":1}\n{"cut":\n{"next":2}\n');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('the file ended with a partial line');
    // A file that ends with its newline, or an empty one, is left alone.
    await appendOnce(path, log, '{"last":3}');
    expect(await readFile(path, 'utf8')).toBe('{"whole":1}\n{"cut":\n{"next":2}\n{"last":3}\n');
    expect(warnings).toHaveLength(1);
  });

  it('a write that completes while a sync runs stays unsynced after it', async () => {
    const path = join(await tempDir('cer-appender-'), 'events.jsonl');
    const a = new FileAppender(path, 0o644, silentLogger);
    await a.open();
    await a.append(lines('a'));
    const handle = a.current?.handle;
    if (!handle) throw new Error('not open');
    const datasync = handle.datasync.bind(handle);
    let release: () => void = () => {};
    handle.datasync = () =>
      new Promise<void>((r) => {
        release = r;
      }).then(datasync);
    const syncing = a.sync();
    await a.append(lines('b'));
    release();
    await syncing;
    expect(a.unsynced).toBe(true);
    handle.datasync = datasync;
    await a.sync();
    expect(a.unsynced).toBe(false);
    await a.close();
    expect(await readFile(path, 'utf8')).toBe('a\nb\n');
  });

  it('reopen moves to the new file only once it is open; without create a missing path keeps the old one', async () => {
    const dir = await tempDir('cer-appender-');
    const path = join(dir, 'events.jsonl');
    const a = new FileAppender(path, 0o644, silentLogger);
    await a.open();
    await a.append(lines('one'));
    await rename(path, join(dir, 'events.jsonl.1'));
    const before = a.current;
    await expect(a.reopen(false, true)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(a.current).toBe(before);
    // Still writing into the rotated file, as logrotate's create mode expects.
    await a.append(lines('two'));
    await a.reopen(true, true);
    expect(a.current).not.toBe(before);
    expect(a.unsynced).toBe(false);
    await a.append(lines('three'));
    await a.close();
    expect(await readFile(join(dir, 'events.jsonl.1'), 'utf8')).toBe('one\ntwo\n');
    expect(await readFile(path, 'utf8')).toBe('three\n');
  });

  it('release gives the descriptor up; a later open starts afresh at the end of the file', async () => {
    const path = join(await tempDir('cer-appender-'), 'events.jsonl');
    const a = new FileAppender(path, 0o644, silentLogger);
    await a.open();
    await a.append(lines('a'));
    await a.release();
    expect([a.isOpen, a.unsynced]).toEqual([false, false]);
    await a.open();
    await a.append(lines('b'));
    await a.close();
    await a.close();
    expect(await readFile(path, 'utf8')).toBe('a\nb\n');
  });
});
