import { FILE_OUTPUT_DEFAULTS, type FileOutputConfig } from '../../src/outputs/file/config.js';
import type { OutputConfig } from '../../src/outputs/registry.js';
import { type LoadResult, parseConfigText } from '../../src/recorder-config/load.js';
import type { RecorderConfig } from '../../src/recorder-config/schema.js';

/** Where config texts parsed in tests claim to live: relative paths resolve against /etc/cer. */
export const CONFIG_FILE = '/etc/cer/recorder.yaml';

/**
 * Parses `yaml` as the daemon does, as if read from `file`, with `env` for `${VAR}` and
 * `files` (absolute path → content) as the only files it can read: any other fails with ENOENT.
 */
export function parseTestConfig(
  yaml: string,
  env: NodeJS.ProcessEnv = {},
  files: Record<string, string> = {},
  file = CONFIG_FILE,
): LoadResult {
  return parseConfigText(yaml, file, {
    env,
    readTextFile: (p) => {
      const content = files[p];
      if (content === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return content;
    },
  });
}

type Source = Parameters<typeof parseTestConfig>;

/** The config of a text (see parseTestConfig), which must be accepted. */
export function configOf(...source: Source): RecorderConfig {
  const r = parseTestConfig(...source);
  if (!r.ok) throw new Error(r.issues.map(String).join('\n'));
  return r.config;
}

/** The first output of a text's config (see parseTestConfig), which must be accepted and that output a `type`. */
export function outputOf<K extends OutputConfig['type']>(
  type: K,
  ...source: Source
): Extract<OutputConfig, { type: K }> {
  const output = configOf(...source).outputs[0];
  if (output?.type !== type)
    throw new Error(`expected a ${type} output first, got ${output?.type ?? 'none'}`);
  return output as Extract<OutputConfig, { type: K }>;
}

/** The issues of a text (see parseTestConfig), which must be rejected, as `file:line: key: message`. */
export function errorsOf(...source: Source): string[] {
  const r = parseTestConfig(...source);
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.issues.map(String);
}

/**
 * A file output's config for tests that build a FileOutput directly: the defaults, except
 * `fsync: none` (no test waits on the disk) and mode 0600 (not logrotate's 0640, so a test
 * can tell who created a file).
 */
export function fileOutputConfig(
  name: string,
  path: string,
  over: Partial<FileOutputConfig> = {},
): FileOutputConfig {
  return {
    type: 'file',
    name,
    path,
    ...FILE_OUTPUT_DEFAULTS,
    fsync: 'none',
    fileMode: 0o600,
    filter: { eventTypes: null, sources: null, minSeverity: null },
    ...over,
  };
}
