import { performance } from 'node:perf_hooks';
import type { Logger } from '../../log.js';
import { errnoCode, type FileId, fileIdAt, type OpenedFile, sameFile } from './fs-ops.js';

/**
 * What the path holds compared with the open descriptor, and what the output should do:
 * - `same`: keep writing;
 * - `replaced`: another file took the path (logrotate's `create`): reopen without creating;
 * - `deleted`: our file has no name left (a plain delete): create the file at once;
 * - `grace-over`: nothing at the path for the whole grace period: create it;
 * - `wait`: renamed away, nothing new yet: keep writing to the old descriptor (those lines land
 *   in the rotated file), look again when the grace timer fires;
 * - `unknown`: the path cannot be examined (EACCES on the folder): keep writing where we are.
 */
export type RotationVerdict = 'same' | 'replaced' | 'deleted' | 'grace-over' | 'wait' | 'unknown';

/**
 * Rotation detection as logrotate really behaves (docs/operations.md, "Log rotation"):
 * compares the inode of the open descriptor with the path's, and on a rename waits up to
 * `graceMs` for logrotate's own `create` before the output creates the file itself
 * (creating it at once would race logrotate, which then fails with "File exists").
 */
export class RotationDetector {
  /** When the path was first seen without our file (monotonic ms). */
  private missingSince: number | null = null;
  private graceTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly path: string,
    private readonly graceMs: number,
    private readonly log: Logger,
    /** Called when the grace timer asks for another look. */
    private readonly recheck: () => void,
  ) {}

  async check(file: OpenedFile): Promise<RotationVerdict> {
    let current: FileId | null;
    try {
      current = await fileIdAt(this.path);
    } catch (err) {
      this.log.debug('cannot stat the file path', { path: this.path, code: errnoCode(err) });
      return 'unknown';
    }
    if (current && sameFile(current, file.id)) {
      this.reset();
      return 'same';
    }
    if (current) return 'replaced';
    // Deleted, not renamed: no rotated file will receive our lines and no logrotate
    // `create` is coming to race with, so waiting would only lose lines.
    if (await isUnlinked(file)) return 'deleted';
    return this.graceOver() ? 'grace-over' : 'wait';
  }

  /**
   * The path has no file: true once it has been missing for the whole grace period. Until
   * then lines keep going to the old descriptor: after a rename they land in the rotated
   * file; after a plain delete they land in an unlinked file, which is what the operator's
   * delete asked for.
   */
  graceOver(): boolean {
    const now = performance.now();
    if (this.missingSince === null) {
      this.missingSince = now;
      this.log.info('file moved or deleted; writing to the old descriptor until a new file appears', {
        path: this.path,
        graceMs: this.graceMs,
      });
    }
    const waited = now - this.missingSince;
    if (waited >= this.graceMs) return true;
    // Timers may fire a little early against performance.now(): re-arm for the rest.
    this.arm(this.graceMs - waited);
    return false;
  }

  /** A file is (again) open at the path: forget any wait. */
  reset(): void {
    this.missingSince = null;
    this.stop();
  }

  /** No timer may outlive the output. */
  stop(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
  }

  private arm(delayMs: number): void {
    this.stop();
    this.graceTimer = setTimeout(() => {
      this.graceTimer = null;
      this.recheck();
    }, Math.ceil(delayMs));
    this.graceTimer.unref();
  }
}

/** True when the open file has no name left (a plain delete rather than a rename). */
async function isUnlinked(file: OpenedFile): Promise<boolean> {
  try {
    return (await file.handle.stat()).nlink === 0;
  } catch {
    return false;
  }
}
