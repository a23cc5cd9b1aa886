import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from '../../log.js';

/**
 * Watches the folder of one file (not the file: a rename or delete ends a file watch,
 * and the new file logrotate creates is a different inode) and reports every entry
 * event that names the file: created, renamed away or over it, deleted. Events are
 * hints: the output confirms with fstat/stat before acting, and a periodic check
 * catches anything a watch misses.
 *
 * A plain `fs.watch` (inotify on Linux) rather than chokidar: chokidar answers every
 * event in a watched folder, our own appends included, by re-reading the whole folder
 * (readdir + lstat of each entry), and it starts the next read as soon as one ends while
 * events keep coming, so a busy output kept it reading its folder without pause.
 * Here an append costs one ignored `change` callback. A `change` never needs a look:
 * a different file can only take the path through a create or rename, which the
 * kernel reports as `rename`.
 */
export class PathWatcher {
  private watcher: FSWatcher | null = null;
  private closed = false;
  private readonly path: string;

  constructor(
    path: string,
    private readonly onEvent: () => void,
    private readonly log: Logger,
  ) {
    this.path = resolve(path);
  }

  /**
   * Idempotent while the watch is alive; after close() a late start (an open finishing
   * during shutdown) is ignored.
   */
  start(): void {
    if (this.watcher || this.closed) return;
    const dir = dirname(this.path);
    const name = basename(this.path);
    // Events about the watched folder itself (deleted, moved) carry the folder's own name.
    const dirName = basename(dir);
    let watcher: FSWatcher;
    try {
      // Not persistent: the output's own lifecycle decides when the process may exit.
      watcher = watch(dir, { persistent: false }, (event, filename) => {
        // No name: the kernel's queue overflowed; look.
        if (event === 'rename' && (filename === null || filename === name || filename === dirName)) {
          this.onEvent();
        }
      });
    } catch (err) {
      this.log.debug('cannot watch the folder; the periodic check still detects rotation', {
        path: dir,
        err,
      });
      return;
    }
    watcher.on('error', (err) => {
      this.log.debug('file watch error; the periodic check still detects rotation', { err });
      // Dead now (the folder went away, for one): the next start() after a reopen retries.
      if (this.watcher === watcher) this.watcher = null;
      watcher.close();
      this.onEvent();
    });
    this.watcher = watcher;
  }

  /** Starts a fresh watch: after a reopen the folder may be a new one (deleted and recreated). */
  restart(): void {
    this.watcher?.close();
    this.watcher = null;
    this.start();
  }

  async close(): Promise<void> {
    this.closed = true;
    const watcher = this.watcher;
    this.watcher = null;
    watcher?.close();
  }
}
