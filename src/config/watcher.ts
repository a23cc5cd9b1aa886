import { basename, dirname, resolve } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import type { Logger } from '../log.js';

/**
 * Watches the config file and the files its `*_file` keys name, by watching their
 * folders: editors save by rename and Kubernetes swaps a ConfigMap's `..data` symlink,
 * and neither is seen by a watch on the file itself. Bursts of events are debounced
 * into one `onChange` call.
 */
export class ConfigWatcher {
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private watched = new Set<string>();
  private folders = new Set<string>();

  constructor(
    private readonly onChange: () => void,
    private readonly logger: Logger,
    private readonly debounceMs = 250,
  ) {}

  /** (Re)targets the watch; cheap to call after every reload. */
  watchFiles(files: readonly string[]): void {
    const nextFiles = new Set(files.map((f) => resolve(f)));
    const nextFolders = new Set([...nextFiles].map((f) => dirname(f)));
    this.watched = nextFiles;
    const same = nextFolders.size === this.folders.size && [...nextFolders].every((f) => this.folders.has(f));
    if (same && this.watcher) return;
    this.folders = nextFolders;
    const old = this.watcher;
    this.watcher = watch([...nextFolders], {
      ignoreInitial: true,
      depth: 0,
      // Only the watched files and Kubernetes' `..data` machinery matter; a busy JSONL file
      // in the same folder must not cause reload checks.
      ignored: (path: string) => !this.folders.has(path) && !this.isRelevant(path),
    });
    this.watcher.on('all', () => this.schedule());
    this.watcher.on('error', (err: unknown) => this.logger.warn('config watcher error', { err }));
    // Changes made before the initial scan completes can go unseen: say when watching begins.
    const folders = [...nextFolders];
    this.watcher.on('ready', () => this.logger.debug('watching config files', { folders }));
    if (old) void old.close();
  }

  private isRelevant(path: string): boolean {
    return this.watched.has(path) || basename(path).startsWith('..');
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.onChange();
    }, this.debounceMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const w = this.watcher;
    this.watcher = null;
    if (w) await w.close();
  }
}
