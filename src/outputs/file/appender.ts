import type { Logger } from '../../log.js';
import { appendBuffers, endsMidLine, errnoCode, type OpenedFile, openAppend } from './fs-ops.js';

const NEWLINE = Buffer.from('\n');

/**
 * The descriptor of one file output: open (creating folder and file), append with writev,
 * fdatasync, move to the file now at the path, and release. It holds no lines and no policy
 * (batching, retries, acknowledgements are the output's, output.ts); the output's I/O loop is
 * its only caller, one operation at a time, so a write never meets a descriptor being closed
 * or swapped.
 */
export class FileAppender {
  private file: OpenedFile | null = null;
  /** Bytes written since the last fdatasync. */
  private dirty = false;
  /** Writes so far: a sync that ran beside writes (`fsync: interval`) covers only those before it. */
  private writes = 0;
  /** Until the first open: a cut last line then is a previous process's, not ours to finish. */
  private firstOpen = true;

  constructor(
    private readonly path: string,
    private readonly mode: number,
    private readonly log: Logger,
  ) {}

  /** The open descriptor (what rotation detection compares with the path), or null. */
  get current(): OpenedFile | null {
    return this.file;
  }

  get isOpen(): boolean {
    return this.file !== null;
  }

  /** Something was written since the last fdatasync. */
  get unsynced(): boolean {
    return this.dirty;
  }

  /**
   * Opens the path, creating the folder and the file; throws what opening threw. At the first
   * open, a file that ends without a newline was cut mid-write (kill -9, power loss: a write is not atomic); a
   * newline first keeps the next line whole, and the cut one stays as it is, one malformed
   * line that readers and `replay` count as such (docs/troubleshooting.md).
   */
  async open(): Promise<void> {
    const file = await openAppend(this.path, this.mode, true);
    this.file = file;
    this.dirty = false;
    // Only until the first open that got this far: after a write error the output finishes its
    // own cut line (a partial write is continued), so a newline then would split that line in two.
    if (!this.firstOpen) return;
    if (await endsMidLine(this.path)) {
      await appendBuffers(file, [NEWLINE]);
      this.dirty = true;
      this.log.warn(
        'the file ended with a partial line (cut by a crash mid-write); writing goes on from a new line',
        {
          path: this.path,
        },
      );
    }
    this.firstOpen = false;
  }

  /** One writev; the bytes it wrote (a partial write is the caller's to continue), or throws. */
  async append(buffers: readonly Buffer[]): Promise<number> {
    const file = this.opened();
    const bytesWritten = await appendBuffers(file, buffers);
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    this.dirty = true;
    this.writes++;
    return bytesWritten;
  }

  /**
   * fdatasync; throws what it threw (the caller decides what the lines then are). Writes may run
   * beside it (the interval sync): those that completed after it began stay unsynced. The
   * caller must not reopen, release or close meanwhile.
   */
  async sync(): Promise<void> {
    const before = this.writes;
    await this.opened().handle.datasync();
    if (this.writes === before) this.dirty = false;
  }

  /**
   * Moves writing to the file now at the path. The new descriptor is opened first and the old
   * one synced (with `syncOld`, when it has unsynced bytes) and closed only then, so a failed
   * open leaves the old one in place and no line without a home. `create` is false when the
   * file should exist already (logrotate just created it): creating it ourselves would race
   * logrotate's own create. Throws what opening threw.
   */
  async reopen(create: boolean, syncOld: boolean): Promise<void> {
    const next = await openAppend(this.path, this.mode, create);
    const old = this.file;
    if (old) {
      if (this.dirty && syncOld) await this.datasyncQuietly(old, 'rotated');
      await closeQuietly(old);
    }
    this.file = next;
    this.dirty = false;
  }

  /** Gives the descriptor up after an I/O error; the next `open` starts afresh. */
  async release(): Promise<void> {
    const file = this.file;
    this.file = null;
    this.dirty = false;
    if (file) await closeQuietly(file);
  }

  /**
   * Closes for good. One fdatasync on a clean shutdown whatever the policy: it is cheap once,
   * and the last lines are the ones an operator looks for after a restart.
   */
  async close(): Promise<void> {
    const file = this.file;
    this.file = null;
    if (file) {
      if (this.dirty) await this.datasyncQuietly(file, 'close');
      await closeQuietly(file);
    }
    this.dirty = false;
  }

  private opened(): OpenedFile {
    if (!this.file) throw Object.assign(new Error('file not open'), { code: 'EBADF' });
    return this.file;
  }

  /** A failed fdatasync of a descriptor being let go is logged, not retried (the lines are in the file). */
  private async datasyncQuietly(file: OpenedFile, when: 'rotated' | 'close'): Promise<void> {
    try {
      await file.handle.datasync();
    } catch (err) {
      const fields = { path: this.path, code: errnoCode(err), err };
      if (when === 'rotated') this.log.warn('fdatasync of the rotated file failed', fields);
      else this.log.warn('fdatasync on close failed', fields);
    }
  }
}

async function closeQuietly(file: OpenedFile): Promise<void> {
  try {
    await file.handle.close();
  } catch {
    // Closing after an I/O error may fail again; the descriptor is released either way.
  }
}
