import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../../../lib/errno.js';

/**
 * One process per buffer directory. Node has no flock(2), and `open(..., 'wx')` alone would
 * leave a SIGKILL'd daemon's lock behind forever, so the lock file records its owner's pid
 * and that process's start time (field 22 of /proc/<pid>/stat). The lock is held only while
 * that very process lives: a dead pid, or a live pid with another start time (the pid was
 * reused, e.g. by a new container whose daemon is pid 1 again), makes it stale, and it is
 * taken over. A stale lock is moved aside with an atomic rename and re-read before it is
 * deleted, so two daemons racing for one stale lock cannot both win.
 */
export const LOCK_FILE = 'lock';

export class BufferLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly ownerPid: number,
  ) {
    super(
      ownerPid === process.pid
        ? `disk buffer ${dir} is already open in this process`
        : `disk buffer ${dir} is locked by another running recorder (pid ${ownerPid}); two recorders cannot share a data_dir`,
    );
    this.name = 'BufferLockedError';
  }
}

interface Owner {
  readonly pid: number;
  readonly start: string | null;
}

/** Directories this process holds (two outputs in one process must not share one either). */
const heldHere = new Set<string>();

export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function parseOwner(text: string): Owner | undefined {
  try {
    const v = JSON.parse(text) as { pid?: unknown; start?: unknown };
    if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return undefined;
    return { pid: v.pid, start: typeof v.start === 'string' ? v.start : null };
  } catch {
    return undefined;
  }
}

/** Whether `owner` is a process other than this one that is still running. */
export function ownerAlive(owner: Owner): boolean {
  // Our own pid in the file is an earlier incarnation (same pid after a container restart);
  // a lock held by this process is in `heldHere`, checked before.
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if (errnoCode(err) === 'ESRCH') return false;
    // EPERM: it exists under another user; fall through to the start-time check.
  }
  const start = processStartTime(owner.pid);
  if (owner.start !== null && start !== null && start !== owner.start) return false;
  return true;
}

export interface LockInfo {
  readonly pid: number;
  readonly alive: boolean;
}

/** Who holds the lock of `dir`, read without taking it (for inspection); null when unlocked. */
export function readLock(dir: string): LockInfo | null {
  let text: string;
  try {
    text = readFileSync(join(dir, LOCK_FILE), 'utf8');
  } catch {
    return null;
  }
  const owner = parseOwner(text);
  if (!owner) return null;
  return { pid: owner.pid, alive: heldHere.has(dir) || ownerAlive(owner) };
}

export interface DirLock {
  /** Whether a stale lock (its process gone) was taken over. */
  readonly tookOverFrom: number | null;
  release(): void;
  /** Drops this process's claim without touching the file (a crash, as tests simulate it). */
  forget(): void;
}

/** Takes the lock of `dir` or throws `BufferLockedError`. Synchronous: runs once at start. */
export function acquireLock(dir: string): DirLock {
  if (heldHere.has(dir)) throw new BufferLockedError(dir, process.pid);
  const path = join(dir, LOCK_FILE);
  const mine = JSON.stringify({ pid: process.pid, start: processStartTime(process.pid) });
  let tookOverFrom: number | null = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, mine);
      } finally {
        closeSync(fd);
      }
      heldHere.add(dir);
      return {
        tookOverFrom,
        forget: () => heldHere.delete(dir),
        release: () => {
          heldHere.delete(dir);
          try {
            if (readFileSync(path, 'utf8') === mine) unlinkSync(path);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue; // removed meanwhile: try again
    }
    const owner = parseOwner(text);
    if (owner && ownerAlive(owner)) throw new BufferLockedError(dir, owner.pid);
    const aside = `${path}.stale.${process.pid}`;
    try {
      renameSync(path, aside);
    } catch {
      continue;
    }
    if (readFileSync(aside, 'utf8') !== text) {
      // Another process replaced the stale lock between our read and rename: give it back.
      try {
        linkSync(aside, path);
      } catch {
        // It holds a newer one already.
      }
      unlinkSync(aside);
      continue;
    }
    unlinkSync(aside);
    tookOverFrom = owner?.pid ?? null;
  }
  const owner = parseOwner(readFileSync(path, 'utf8'));
  throw new BufferLockedError(dir, owner?.pid ?? 0);
}
