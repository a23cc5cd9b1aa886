import { FILTER_KEYS, type OutputFilter, readFilter } from '../../config/common.js';
import type { MapReader } from '../../config/reader.js';
import {
  type BufferConfig,
  type BufferDefaults,
  defaultBufferConfig,
  readBufferConfig,
} from '../delivery/buffer-config.js';

export const FSYNC_POLICIES = ['none', 'interval', 'always'] as const;
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];

export interface FileOutputConfig {
  type: 'file';
  name: string;
  /** Absolute (resolved against the config file's folder). */
  path: string;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  /**
   * Lines held while a write is in flight or the file cannot be written (`max_events`); at the
   * bound `when_full` decides: `block` (default) holds intake back, `drop_newest` drops (`buffer_full`).
   */
  buffer: BufferConfig;
  /** Mode of a file the output creates itself (logrotate's `create` sets its own). */
  fileMode: number;
  filter: OutputFilter;
}

/** `buffer:` without one (docs/configuration.md). */
export const FILE_BUFFER_DEFAULTS: BufferDefaults = {
  maxEvents: 8192,
  whenFull: 'block',
  diskAllowed: false,
  retiredKey: 'buffer_size',
};

/** Defaults, documented here next to the schema (docs/configuration.md "file_outputs"). */
export const FILE_OUTPUT_DEFAULTS = {
  fsync: 'interval' as FsyncPolicy,
  fsyncIntervalMs: 1000,
  buffer: defaultBufferConfig(FILE_BUFFER_DEFAULTS),
  fileMode: 0o640,
};

export const FILE_OUTPUT_KEYS = [
  'name',
  'path',
  'fsync',
  'fsync_interval',
  'buffer',
  'buffer_size',
  'file_mode',
  ...FILTER_KEYS,
];

export function readFileOutput(m: MapReader): FileOutputConfig {
  const path = m.ctx.resolvePath(m.string('path', '', { required: true, nonEmpty: true }));
  const modeText = m.string('file_mode', FILE_OUTPUT_DEFAULTS.fileMode.toString(8));
  let fileMode = Number.parseInt(modeText, 8);
  if (!/^0?[0-7]{3}$/.test(modeText)) {
    m.error('file_mode', `must be an octal mode like "0640", got ${JSON.stringify(modeText)}`);
    fileMode = FILE_OUTPUT_DEFAULTS.fileMode;
  }
  return {
    type: 'file',
    name: m.string('name', `file:${path}`, { nonEmpty: true }),
    path,
    fsync: m.oneOf('fsync', FSYNC_POLICIES, FILE_OUTPUT_DEFAULTS.fsync),
    fsyncIntervalMs: m.duration('fsync_interval', FILE_OUTPUT_DEFAULTS.fsyncIntervalMs, { min: 1 }),
    buffer: readBufferConfig(m, FILE_BUFFER_DEFAULTS),
    fileMode,
    filter: readFilter(m),
  };
}
