import { type FSWatcher, watch } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from '../log.js';

/**
 * Watches the config file and the files its `*_file` keys name, by watching their
 * folders: editors save by rename and Kubernetes swaps a ConfigMap's `..data` symlink,
 * and neither is seen by a watch on the file itself. Each file is watched too (through
 * any symlink), which catches in-place edits of a symlinked file whose target lives in
 * another folder. Bursts of events are debounced into one `onChange` call.
 *
 * Plain `fs.watch` (inotify on Linux) rather than chokidar: chokidar answers every event
 * in a watched folder by re-reading the whole folder, and keeps re-reading while events
 * keep coming. A JSONL output in the config's folder (a common layout, and the bench's)
 * made that a readdir + lstat loop for as long as events were written. Here an
 * unrelated entry costs one ignored callback.
 */
export class ConfigWatcher {
  private folderWatches = new Map<string, FSWatcher>();
  private fileWatches = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | null = null;
  private watched = new Set<string>();
  private closed = false;

  constructor(
    private readonly onChange: () => void,
    private readonly logger: Logger,
    private readonly debounceMs = 250,
  ) {}

  /** (Re)targets the watch; cheap to call after every reload. */
  watchFiles(files: readonly string[]): void {
    if (this.closed) return;
    this.watched = new Set(files.map((f) => resolve(f)));
    const folders = new Set([...this.watched].map((f) => dirname(f)));
    for (const [folder, w] of this.folderWatches) {
      if (folders.has(folder)) continue;
      w.close();
      this.folderWatches.delete(folder);
    }
    const added: string[] = [];
    for (const folder of folders) {
      if (this.folderWatches.has(folder)) continue;
      const w = this.open(folder, (_event, name) => {
        // No name: the kernel's event queue overflowed; anything may have changed.
        if (name === null || this.isRelevant(folder, name)) this.changed();
      });
      if (w) {
        this.folderWatches.set(folder, w);
        added.push(folder);
      }
    }
    this.rearmFileWatches();
    if (added.length > 0) this.logger.debug('watching config files', { folders: [...folders] });
  }

  private isRelevant(folder: string, name: string): boolean {
    return this.watched.has(join(folder, name)) || name.startsWith('..');
  }

  /**
   * One watch per file, opened afresh: after a rename-save or a symlink swap the path
   * names a different file, and a watch follows the file it was opened on.
   */
  private rearmFileWatches(): void {
    for (const w of this.fileWatches.values()) w.close();
    this.fileWatches.clear();
    for (const file of this.watched) {
      const w = this.open(file, () => this.changed(), true);
      if (w) this.fileWatches.set(file, w);
    }
  }

  private open(
    path: string,
    listener: (event: string, name: string | null) => void,
    quietIfMissing = false,
  ): FSWatcher | null {
    let w: FSWatcher;
    try {
      w = watch(path, listener);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (!(quietIfMissing && code === 'ENOENT')) {
        this.logger.warn('config watcher error', { err, path });
      }
      return null;
    }
    w.on('error', (err: unknown) => {
      this.logger.warn('config watcher error', { err, path });
      w.close();
    });
    return w;
  }

  private changed(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      // The change may have put a new file at a watched path: follow that one from now on.
      this.rearmFileWatches();
      this.onChange();
    }, this.debounceMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const w of this.folderWatches.values()) w.close();
    for (const w of this.fileWatches.values()) w.close();
    this.folderWatches.clear();
    this.fileWatches.clear();
  }
}
