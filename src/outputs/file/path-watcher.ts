import { basename, dirname, resolve } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import type { Logger } from '../../log.js';

/** What happened at the watched path: chokidar's events, or an inotify rename naming it. */
export type PathEvent = 'add' | 'change' | 'unlink' | 'rename';

/**
 * Watches the folder of one file (not the file: a rename or delete ends a file watch,
 * and the new file logrotate creates is a different inode). Only the file itself is
 * let through `ignored`, so a busy folder such as /var/log costs one watch, not one
 * per file. Events are hints: the output confirms with fstat/stat before acting.
 */
export class PathWatcher {
  private watcher: FSWatcher | null = null;
  private closed = false;
  private readonly path: string;

  constructor(
    path: string,
    private readonly onEvent: (event: PathEvent, ino: number | null) => void,
    private readonly log: Logger,
  ) {
    this.path = resolve(path);
  }

  /** Idempotent; after close() a late start (an open finishing during shutdown) is ignored. */
  start(): void {
    if (this.watcher || this.closed) return;
    const dir = dirname(this.path);
    this.watcher = watch(dir, {
      depth: 0,
      ignoreInitial: true,
      // The output's own lifecycle decides when the process may exit, not this watch.
      persistent: false,
      // atomic (the default) would hold an unlink for 100 ms and merge it with the
      // following add; logrotate's rename + create is exactly that sequence, and
      // the output wants to see it as it happens.
      atomic: false,
      ignored: (p: string) => p !== dir && p !== this.path,
    });
    this.watcher.on('all', (event, p, stats) => {
      if (p !== this.path) return;
      if (event === 'add' || event === 'change' || event === 'unlink')
        this.onEvent(event, stats?.ino ?? null);
    });
    // chokidar can miss logrotate's rename + immediate create entirely (the entry never
    // disappears from its folder listing, so neither unlink nor add is emitted). The raw
    // rename from the folder watch names the file reliably, so it is a hint as well.
    const base = basename(this.path);
    this.watcher.on('raw', (event, name) => {
      if (event === 'rename' && name === base) this.onEvent('rename', null);
    });
    this.watcher.on('error', (err) => {
      this.log.debug('file watch error; the periodic check still detects rotation', { error: err });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const watcher = this.watcher;
    this.watcher = null;
    if (!watcher) return;
    try {
      await watcher.close();
    } catch (err) {
      this.log.debug('closing the file watch failed', { error: err });
    }
  }
}
