import { FILTER_KEYS, type OutputFilter, readFilter, readTls, type TlsConfig } from '../../config/common.js';
import { hideUserinfo, type MapReader } from '../../config/reader.js';
import {
  type BufferConfig,
  type BufferDefaults,
  defaultBufferConfig,
  readBufferConfig,
} from '../delivery/buffer-config.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../delivery/cloudevents.js';

/**
 * `kafka_outputs[]` (docs/configuration.md "kafka_outputs"). Events are collected in the output's own bounded buffer
 * and produced to `topic` in batches by kafkajs. Many recorders may write to one topic;
 * consumers de-duplicate by the event `id` (delivery is at least once).
 */
export interface KafkaOutputConfig {
  type: 'kafka';
  /** `kafka:<topic>@<first broker>` unless overridden: brokers carry no credentials. */
  name: string;
  /** Bootstrap brokers, `host:port` each (kafkajs cannot parse IPv6 literals). */
  brokers: string[];
  topic: string;
  clientId: string;
  /** `all` also turns on the idempotent producer. */
  acks: KafkaAcks;
  compression: KafkaCompression;
  /** What becomes the message key, and so the partition: events with one key stay in order. */
  key: KafkaKey;
  /** Events the output holds (waiting, in flight, or waiting for a retry): `max_events`; at the bound `when_full` decides. */
  buffer: BufferConfig;
  /** Longest an event waits for companions before a non-full batch is sent. */
  lingerMs: number;
  /** Events in one produce request. */
  batchMaxEvents: number;
  /** Approximate bytes (values, keys, headers) of one produce request; a larger single event goes alone. */
  batchMaxBytes: number;
  /** Produce requests awaiting their acknowledgement; more than 1 can reorder events after a failure. */
  maxInFlight: number;
  /** How long one produce request may wait for its acknowledgement (client and broker side). */
  timeoutMs: number;
  tls: TlsConfig | null;
  sasl: KafkaSaslConfig | null;
  /** `cloudevents`: CloudEvents 1.0 binary mode (`ce_*` headers); `json`: `event_*` headers. */
  format: OutputFormat;
  filter: OutputFilter;
}

export const KAFKA_ACKS = ['all', 'leader', 'none'] as const;
export type KafkaAcks = (typeof KAFKA_ACKS)[number];

export const KAFKA_COMPRESSIONS = ['none', 'gzip', 'snappy'] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

export const KAFKA_KEYS = ['fingerprint', 'instance', 'none'] as const;
export type KafkaKey = (typeof KAFKA_KEYS)[number];

export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

export interface KafkaSaslConfig {
  mechanism: KafkaSaslMechanism;
  username: string;
  /** Inline (env-expanded) or read from `password_file` at load and every reload. */
  password: string;
}

/** `buffer:` without one (docs/configuration.md). */
export const KAFKA_BUFFER_DEFAULTS: BufferDefaults = {
  maxEvents: 1024,
  whenFull: 'drop_newest',
  diskAllowed: true,
  retiredKey: 'buffer_size',
};

/**
 * Defaults, documented here next to the schema (docs/configuration.md "kafka_outputs").
 * - batchMaxEvents / batchMaxBytes: a burst of alerts goes out in a few requests while one
 *   request stays well below the broker's default `message.max.bytes` (1 MiB per partition
 *   batch). A request the broker still finds too large is split and retried event by event.
 * - maxInFlight 1: events of one key keep their order even when a request fails and is
 *   retried; the idempotent producer (acks: all) sends one request per broker at a time anyway.
 * - timeout 30s: the Java producer's `request.timeout.ms`.
 */
export const KAFKA_OUTPUT_DEFAULTS = {
  clientId: 'coroot-event-recorder',
  acks: 'all' as KafkaAcks,
  compression: 'none' as KafkaCompression,
  key: 'fingerprint' as KafkaKey,
  buffer: defaultBufferConfig(KAFKA_BUFFER_DEFAULTS),
  lingerMs: 5,
  batchMaxEvents: 500,
  batchMaxBytes: 512 * 1024,
  maxInFlight: 1,
  timeoutMs: 30_000,
  format: 'json' as OutputFormat,
};

export const KAFKA_OUTPUT_KEYS = [
  'name',
  'brokers',
  'topic',
  'client_id',
  'acks',
  'compression',
  'key',
  'buffer',
  'buffer_size',
  'linger',
  'batch_max_events',
  'batch_max_bytes',
  'max_in_flight',
  'timeout',
  'tls',
  'sasl',
  'format',
  ...FILTER_KEYS,
];

export const SASL_KEYS = ['mechanism', 'username', 'password', 'password_file'] as const;

/** Kafka's own rule (org.apache.kafka.common.internals.Topic): 1-249 of [a-zA-Z0-9._-], not "." or "..". */
const TOPIC_RE = /^[a-zA-Z0-9._-]{1,249}$/;

/** A hostname or IPv4 address and a port; kafkajs splits on ':' so IPv6 literals cannot work. */
const BROKER_RE = /^([a-zA-Z0-9](?:[a-zA-Z0-9._-]*[a-zA-Z0-9])?):(\d{1,5})$/;

export function isLegalTopic(topic: string): boolean {
  return TOPIC_RE.test(topic) && topic !== '.' && topic !== '..';
}

export function isBrokerAddress(text: string): boolean {
  const m = BROKER_RE.exec(text);
  if (!m) return false;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535;
}

export function readKafkaOutput(m: MapReader): KafkaOutputConfig {
  const brokers = readBrokers(m);
  const topic = m.string('topic', '', { required: true, nonEmpty: true });
  if (topic !== '' && !isLegalTopic(topic)) {
    m.error(
      'topic',
      `must be a legal Kafka topic name (1-249 characters of a-z, A-Z, 0-9, ".", "_", "-", and not "." or ".."), got ${JSON.stringify(topic)}`,
    );
  }
  const d = KAFKA_OUTPUT_DEFAULTS;
  return {
    type: 'kafka',
    name: m.string('name', `kafka:${topic}@${brokers[0] ?? ''}`, { nonEmpty: true }),
    brokers,
    topic,
    clientId: m.string('client_id', d.clientId, { nonEmpty: true }),
    acks: m.oneOf('acks', KAFKA_ACKS, d.acks),
    compression: m.oneOf('compression', KAFKA_COMPRESSIONS, d.compression),
    key: m.oneOf('key', KAFKA_KEYS, d.key),
    buffer: readBufferConfig(m, KAFKA_BUFFER_DEFAULTS),
    lingerMs: m.duration('linger', d.lingerMs, { min: 0 }),
    batchMaxEvents: m.int('batch_max_events', d.batchMaxEvents, { min: 1, max: 1_000_000 }),
    batchMaxBytes: m.byteSize('batch_max_bytes', d.batchMaxBytes, { min: 1024 }),
    maxInFlight: m.int('max_in_flight', d.maxInFlight, { min: 1, max: 64 }),
    timeoutMs: m.duration('timeout', d.timeoutMs, { min: 1 }),
    tls: readTls(m),
    sasl: readSasl(m),
    format: m.oneOf('format', OUTPUT_FORMATS, d.format),
    filter: readFilter(m),
  };
}

function readBrokers(m: MapReader): string[] {
  if (!m.has('brokers')) {
    m.error('brokers', 'is required (a list of host:port)');
    return [];
  }
  const items = m.scalarItems('brokers');
  if (items === null) return [];
  if (items.length === 0) m.error('brokers', 'must not be empty');
  const out: string[] = [];
  for (const { node, path, value } of items.values) {
    if (typeof value === 'string' && isBrokerAddress(value)) {
      out.push(value);
      continue;
    }
    m.ctx.error(
      node,
      path,
      `must be host:port (a host name or IPv4 address; IPv6 literals are not supported), got ${JSON.stringify(typeof value === 'string' ? hideUserinfo(value) : (value ?? null))}`,
    );
  }
  return out;
}

function readSasl(parent: MapReader): KafkaSaslConfig | null {
  const m = parent.map('sasl', SASL_KEYS);
  if (!m) return null;
  const mechanism = m.oneOf('mechanism', KAFKA_SASL_MECHANISMS, 'plain');
  if (!m.has('mechanism')) m.error('mechanism', `is required (one of ${KAFKA_SASL_MECHANISMS.join(', ')})`);
  const username = m.string('username', '', { required: true, nonEmpty: true });
  const password = m.secret('password', { required: true });
  if (password === '') m.error('password', 'must not be empty');
  return { mechanism, username, password: password ?? '' };
}
