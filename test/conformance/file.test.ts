import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FILE_OUTPUT_DEFAULTS, type FileOutputConfig } from '../../src/outputs/file/config.js';
import { fileOutputConfig } from '../helpers/config.js';
import { tempDir } from '../helpers/daemon.js';
import { conformance } from './suite.js';

let dir = '';

const linesIn = async (path: string): Promise<number> =>
  (await readFile(path, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '').length;

conformance('file', {
  skipReason: () => null,
  async setup() {
    dir = await tempDir('conformance-file-');
    // A regular file where a directory should be: opening a path under it fails (ENOTDIR), every time.
    await writeFile(join(dir, 'not-a-dir'), '');
  },
  async reachable(name) {
    const config = fileOutputConfig(name, join(dir, `${name}.jsonl`));
    return { config, delivered: () => linesIn(config.path) };
  },
  async holding(name, capacity) {
    const config = fileOutputConfig(name, join(dir, 'not-a-dir', `${name}.jsonl`), {
      // drop_newest: the suite checks drops at a full buffer (the default, block, never drops).
      buffer: { ...FILE_OUTPUT_DEFAULTS.buffer, maxEvents: capacity, whenFull: 'drop_newest' },
    });
    return { config, delivered: async () => 0 };
  },
  async failing(name) {
    return this.holding(name, 1024);
  },
  changed(config) {
    const file = config as FileOutputConfig;
    return { ...file, fsync: file.fsync === 'none' ? 'interval' : 'none' };
  },
});
