import type { OutputDefinition } from '../output.js';
import { FILE_OUTPUT_KEYS, type FileOutputConfig, readFileOutput } from './config.js';
import { FileOutput } from './output.js';

/** `file_outputs`: JSONL files (docs/configuration.md). */
export const FILE_OUTPUT: OutputDefinition<FileOutputConfig> = {
  type: 'file',
  section: 'file_outputs',
  keys: FILE_OUTPUT_KEYS,
  nestedKeys: {},
  read: readFileOutput,
  create: (config, deps) => new FileOutput(config, deps),
  // Its buffer is memory whatever the config says; the file is the destination.
  replay: (config) => config,
};
