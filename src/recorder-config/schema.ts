import { hostname } from 'node:os';
import { HTTP_AUTH_KEYS, type HttpAuth, readHttpAuth } from '../config/common.js';
import {
  COROOT_API_KEYS,
  type CorootApiConfig,
  checkCorootApiUnique,
  readCorootApi,
} from '../config/coroot-api.js';
import { type DedupeConfig, readDedupe } from '../config/dedupe.js';
import { hideUserinfo, type MapReader } from '../config/reader.js';
import { readServer, type ServerConfig } from '../config/server.js';
import { checkDataDir } from '../outputs/delivery/buffer-config.js';
import { OUTPUT_TYPES, type OutputConfig } from '../outputs/registry.js';

/**
 * The whole configuration after validation and defaults (docs/configuration.md). Keys are
 * camelCase here and snake_case in YAML. Each output type's section is read by its own folder
 * (outputs/<type>/config.ts) and comes in through the output registry (outputs/registry.ts);
 * nothing here names an output type.
 */
export interface RecorderConfig {
  /** Absolute path of the file it came from. */
  file: string;
  /** First 16 hex of SHA-256 of the file's text: identifies a config version in events and logs. */
  hash: string;
  instance: string;
  listenAddress: ListenAddress;
  /** How the listener treats its clients: TLS, timeouts, auth of /metrics and /-/. */
  server: ServerConfig;
  queueSize: number;
  onQueueFull: 'reject' | 'drop';
  shutdownTimeoutMs: number;
  maxBodyBytes: number;
  /** 202 only once every `when_full: block` output has the request's events durably. */
  acknowledgements: boolean;
  /** How long an acknowledged request may wait for durability before it gets 503 (the sender retries). */
  acknowledgementTimeoutMs: number;
  /** Absolute; where disk buffers live. `null` when not configured (then `type: disk` is an error). */
  dataDir: string | null;
  /** Second copies of one notification (HA peers, retries) are recorded once. */
  dedupe: DedupeConfig;
  ingest: IngestConfig;
  /** Every output of every type, in file order. Names are unique. */
  outputs: OutputConfig[];
  /** Files read through `*_file` keys (watched for reload). */
  referencedFiles: string[];
}

export interface ListenAddress {
  host: string;
  port: number;
}

export interface IngestEndpointConfig {
  enabled: boolean;
  auth: HttpAuth;
}

export interface IngestConfig {
  coroot: IngestEndpointConfig;
  alertmanager: IngestEndpointConfig;
  /** Coroot API pull mode (`ingest.coroot_api`), one poller per entry; empty when absent. */
  corootApi: CorootApiConfig[];
}

export const DEFAULTS = {
  listenAddress: '127.0.0.1:9880',
  queueSize: 8192,
  onQueueFull: 'reject' as const,
  shutdownTimeoutMs: 30_000,
  maxBodyBytes: 1024 * 1024,
  acknowledgements: true,
  acknowledgementTimeoutMs: 10_000,
};

export const TOP_LEVEL_KEYS = [
  'instance',
  'listen_address',
  'server',
  'queue_size',
  'on_queue_full',
  'shutdown_timeout',
  'max_body_bytes',
  'acknowledgements',
  'acknowledgement_timeout',
  'data_dir',
  'dedupe',
  'ingest',
  ...OUTPUT_TYPES.map((t) => t.section),
];

export const INGEST_ENDPOINT_KEYS = ['enabled', ...HTTP_AUTH_KEYS];

export function parseListenAddress(text: string): ListenAddress | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export function readRecorderConfig(root: MapReader, file: string, hash: string): RecorderConfig {
  const listenText = root.string('listen_address', DEFAULTS.listenAddress, { nonEmpty: true });
  let listenAddress = parseListenAddress(listenText);
  if (!listenAddress) {
    root.error(
      'listen_address',
      `must be host:port (e.g. 127.0.0.1:9880 or :9880), got ${JSON.stringify(hideUserinfo(listenText))}`,
    );
    listenAddress = parseListenAddress(DEFAULTS.listenAddress) as ListenAddress;
  }
  const ingest = root.map('ingest', ['coroot', 'alertmanager', 'coroot_api']);
  const endpoint = (key: string): IngestEndpointConfig => {
    const m = ingest?.map(key, INGEST_ENDPOINT_KEYS);
    if (!m) return { enabled: true, auth: { basic: null, bearerToken: null } };
    return { enabled: m.bool('enabled', true), auth: readHttpAuth(m) };
  };
  const config: RecorderConfig = {
    file,
    hash,
    instance: root.string('instance', '') || hostname(),
    listenAddress,
    server: readServer(root),
    queueSize: root.int('queue_size', DEFAULTS.queueSize, { min: 1, max: 16_777_216 }),
    onQueueFull: root.oneOf('on_queue_full', ['reject', 'drop'] as const, DEFAULTS.onQueueFull),
    shutdownTimeoutMs: root.duration('shutdown_timeout', DEFAULTS.shutdownTimeoutMs),
    maxBodyBytes: root.byteSize('max_body_bytes', DEFAULTS.maxBodyBytes, { min: 1 }),
    acknowledgements: root.bool('acknowledgements', DEFAULTS.acknowledgements),
    acknowledgementTimeoutMs: root.duration('acknowledgement_timeout', DEFAULTS.acknowledgementTimeoutMs, {
      min: 1,
    }),
    dataDir: root.has('data_dir')
      ? root.ctx.resolvePath(root.string('data_dir', '', { nonEmpty: true }) || '.')
      : null,
    dedupe: readDedupe(root),
    ingest: { coroot: endpoint('coroot'), alertmanager: endpoint('alertmanager'), corootApi: [] },
    outputs: [],
    referencedFiles: [],
  };
  const pollers = (ingest?.mapList('coroot_api', COROOT_API_KEYS) ?? []).map((reader) => ({
    reader,
    config: readCorootApi(reader),
  }));
  checkCorootApiUnique(pollers);
  config.ingest.corootApi = pollers.map((p) => p.config);
  const seen = new Map<string, string>();
  for (const definition of OUTPUT_TYPES) {
    for (const m of root.mapList(definition.section, definition.keys)) {
      const output: OutputConfig = definition.read(m);
      checkDataDir(m, output.buffer, config.dataDir);
      const other = seen.get(output.name);
      if (other !== undefined) {
        m.error('name', `output name "${output.name}" is already used by ${other}; set a distinct name`);
      }
      seen.set(output.name, m.path);
      config.outputs.push(output);
    }
  }
  config.referencedFiles = [...root.ctx.referencedFiles];
  return config;
}
