import { constants, writev } from 'node:fs';
import { type FileHandle, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoCode } from '../../lib/errno.js';

/** Identity of a file: what survives a rename and changes when a new file takes the path. */
export interface FileId {
  dev: bigint;
  ino: bigint;
}

export interface OpenedFile {
  handle: FileHandle;
  id: FileId;
}

/**
 * Opens `path` for appending. O_APPEND makes every write land at the current end, which
 * is what keeps copytruncate from leaving a hole of NULs and keeps lines whole.
 * `create` is false when the file is expected to exist already (logrotate just created
 * it): then we must not create it ourselves, or we would race logrotate's own create.
 */
export async function openAppend(path: string, mode: number, create: boolean): Promise<OpenedFile> {
  if (create) await mkdir(dirname(path), { recursive: true });
  const flags = constants.O_APPEND | constants.O_WRONLY | (create ? constants.O_CREAT : 0);
  const handle = await open(path, flags, mode);
  try {
    const st = await handle.stat({ bigint: true });
    return { handle, id: { dev: st.dev, ino: st.ino } };
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}

/**
 * Appends `buffers` with one writev on the descriptor. The callback API, not
 * FileHandle.writev: the latter wraps each call in async functions and ref-counting that
 * cost more on the main thread than the write's own dispatch to the thread pool, once per
 * flush. Only the output's I/O loop uses the descriptor, so it cannot be closed meanwhile.
 */
export function appendBuffers(file: OpenedFile, buffers: readonly Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    writev(file.handle.fd, buffers as Buffer[], (err, bytesWritten) => {
      if (err) reject(err);
      else resolve(bytesWritten);
    });
  });
}

/**
 * True when the regular file at `path` is not empty and its last byte is not a newline. False
 * when it cannot tell (not a regular file, not readable to us): the check must never keep the
 * output from writing.
 */
export async function endsMidLine(path: string): Promise<boolean> {
  try {
    const st = await stat(path);
    if (!st.isFile() || st.size === 0) return false;
    const handle = await open(path, 'r');
    try {
      const last = Buffer.alloc(1);
      const { bytesRead } = await handle.read(last, 0, 1, st.size - 1);
      return bytesRead === 1 && last[0] !== 0x0a;
    } finally {
      await handle.close().catch(() => {});
    }
  } catch {
    return false;
  }
}

/** The file now at `path`, or null when nothing is there. */
export async function fileIdAt(path: string): Promise<FileId | null> {
  try {
    const st = await stat(path, { bigint: true });
    return { dev: st.dev, ino: st.ino };
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}

export function sameFile(a: FileId, b: FileId): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

export { errnoCode };

export function isMissing(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}
