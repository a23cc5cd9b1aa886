import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import type { Logger } from '../log.js';

/** How often chokidar looks at each watched path; a change is acted on within about this long. */
export const CONFIG_POLL_INTERVAL_MS = 500;

/**
 * Watches the config file and the files its `*_file` keys name, with chokidar in polling mode:
 * each watched path is `stat`ed (through any symlink) every `pollIntervalMs`, and any change of
 * what the path names (content, inode, size, a file that appears or goes) is a change. That one
 * mechanism sees in-place edits, editor rename-saves, a Kubernetes ConfigMap `..data` symlink
 * swap (the path now resolves to another inode) and edits of a symlink target in another folder.
 *
 * Polling rather than chokidar's `fs.watch` mode, because that mode watches a file's folder and
 * answers every event in it by re-reading the whole folder (readdir + lstat of each entry), and
 * keeps re-reading while events keep coming: a JSONL output in the config's folder (a common
 * layout, and the bench's) made that a loop for as long as events were written. A poll costs
 * one `stat` per watched file per interval, whatever happens next to it (docs/operations.md).
 *
 * A path whose folder does not exist yet is watched through its nearest existing ancestor
 * folder; each change re-targets, so the folder is watched once it appears, and again after
 * it was removed and made anew. Bursts of events are debounced into one `onChange` call.
 */
export class ConfigWatcher {
  private watcher: FSWatcher | null = null;
  /** The paths chokidar watches now: each file that exists, else its nearest existing ancestor. */
  private targets = new Set<string>();
  private files: string[] = [];
  /** The files and every folder above them: within a watched folder, only these entries count. */
  private wanted = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private ready: Promise<void> = Promise.resolve();

  constructor(
    private readonly onChange: () => void,
    private readonly logger: Logger,
    private readonly debounceMs = 250,
    private readonly pollIntervalMs = CONFIG_POLL_INTERVAL_MS,
  ) {}

  /** (Re)targets the watch; cheap to call after every reload. */
  watchFiles(files: readonly string[]): void {
    if (this.closed) return;
    this.files = [...new Set(files.map((f) => resolve(f)))];
    this.wanted = new Set(this.files.flatMap(withAncestors));
    this.retarget();
  }

  private open(): FSWatcher {
    const watcher = watch([], {
      usePolling: true,
      interval: this.pollIntervalMs,
      binaryInterval: this.pollIntervalMs,
      ignoreInitial: true,
      // A watched folder stands in for a missing file or folder below it: only the entry on the
      // way to that file matters, and nothing deeper is read.
      depth: 0,
      ignored: (path: string) => !this.wanted.has(resolve(path)),
      // chokidar's rename-save merging would hide an `unlink` + `add`; every event here is a change.
      atomic: false,
      persistent: false,
    });
    // `raw` is every stat change chokidar saw, including an inode swap with an older mtime and
    // the same size, which its `change` event leaves out.
    watcher.on('raw', () => this.changed());
    watcher.on('all', () => this.changed());
    watcher.on('error', (err: unknown) => this.logger.warn('config watcher error', { err }));
    return watcher;
  }

  /**
   * Watches each file that exists, and the nearest existing ancestor of each that does not.
   * When that set changes, a new chokidar watcher replaces the old one: chokidar's `unwatch`
   * of a folder keeps ignoring everything below it, which would hide a file that appears there.
   * Nothing that failed or went away lingers: the next change looks again.
   */
  private retarget(): void {
    const next = new Set(this.files.map(nearestExisting));
    if (this.watcher && sameSet(next, this.targets)) return;
    const old = this.watcher;
    this.targets = next;
    const watcher = this.open();
    this.watcher = watcher;
    // Logged once chokidar has looked at every path: a change made before then can go unseen.
    this.ready = new Promise((resolveReady) =>
      watcher.once('ready', () => {
        // In polling mode chokidar's 'ready' comes before node's fs.watchFile has taken the
        // baseline stat it compares against (an asynchronous stat with no event of its own), so a
        // write in between would be the baseline and go unseen. One poll interval later the
        // baseline is taken: only then is the watch really looking.
        setTimeout(resolveReady, this.pollIntervalMs).unref();
        if (this.watcher !== watcher) return;
        const folders = [...new Set(this.files.map((f) => dirname(f)))];
        this.logger.debug('watching config files', { folders, paths: [...next] });
      }),
    );
    watcher.add([...next]);
    old?.close().catch((err: unknown) => this.logger.warn('config watcher error', { err }));
  }

  /** Resolves once the current watch has taken its first look at every path. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  private changed(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.closed) return;
      // The change may have made a missing folder or file appear, or removed one.
      this.retarget();
      this.onChange();
    }, this.debounceMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const watcher = this.watcher;
    this.watcher = null;
    this.targets.clear();
    await watcher?.close();
  }
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

function withAncestors(path: string): string[] {
  const out = [path];
  for (let p = dirname(path); p !== out.at(-1); p = dirname(p)) out.push(p);
  return out;
}

/** The path itself if something is there (through symlinks), else its nearest existing ancestor. */
function nearestExisting(path: string): string {
  let p = path;
  while (statSync(p, { throwIfNoEntry: false }) === undefined) {
    const parent = dirname(p);
    if (parent === p) return p;
    p = parent;
  }
  return p;
}
