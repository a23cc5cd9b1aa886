import type { ConnectionOptions } from 'node:tls';
import {
  CompressionTypes,
  type ISocketFactory,
  type KafkaConfig,
  type logCreator,
  type logLevel,
  Partitioners,
  type ProducerConfig,
  type RetryOptions,
  type SASLOptions,
} from 'kafkajs';
import type { TlsConfig } from '../../config/common.js';
import { tlsClientOptions } from '../../lib/tls.js';
import type { KafkaAcks, KafkaCompression, KafkaOutputConfig, KafkaSaslConfig } from './config.js';

/**
 * Config → kafkajs options, kept free of side effects so unit tests can check the mapping
 * (SASL, TLS, acks, compression) without a broker.
 */

/**
 * Retries of kafkajs' own cluster operations (connect, metadata). Kept short: the output
 * reconnects with its own backoff, and every retry timer kafkajs holds would outlive close().
 * All fields are given because kafkajs swaps in different defaults when NODE_ENV=test.
 */
export const CLIENT_RETRY: Required<Omit<RetryOptions, 'restartOnFailure'>> = {
  retries: 1,
  initialRetryTime: 100,
  maxRetryTime: 1000,
  factor: 0.2,
  multiplier: 2,
};

/**
 * Retries of one produce request inside kafkajs: enough to ride out a leader election or
 * a metadata refresh. When they run out, the output takes the batch back and retries it
 * itself after a backoff, so the batch is never lost to a broker outage (only counted
 * `shutdown` if the outage outlasts close, or `rejected` if the broker refuses it).
 * The idempotent producer needs at least one retry.
 */
export const PRODUCER_RETRY: Required<Omit<RetryOptions, 'restartOnFailure'>> = {
  retries: 2,
  initialRetryTime: 100,
  maxRetryTime: 1000,
  factor: 0.2,
  multiplier: 2,
};

/** How long a TCP (+TLS) connect may take; kafkajs' own default (1 s) is tight for remote TLS brokers. */
export const CONNECTION_TIMEOUT_MS = 3000;

export function acksOf(acks: KafkaAcks): -1 | 0 | 1 {
  switch (acks) {
    case 'all':
      return -1;
    case 'leader':
      return 1;
    case 'none':
      return 0;
  }
}

export function compressionOf(compression: KafkaCompression): CompressionTypes {
  switch (compression) {
    case 'none':
      return CompressionTypes.None;
    case 'gzip':
      return CompressionTypes.GZIP;
    case 'snappy':
      return CompressionTypes.Snappy;
  }
}

/** Node TLS options; `undefined` means plaintext. Unset fields are left to Node's defaults (system CAs). */
export function sslOptions(tls: TlsConfig | null): ConnectionOptions | undefined {
  return tls === null ? undefined : tlsClientOptions(tls);
}

export function saslOptions(sasl: KafkaSaslConfig | null): SASLOptions | undefined {
  if (sasl === null) return undefined;
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
}

export interface ClientHooks {
  logCreator: logCreator;
  logLevel: logLevel;
  socketFactory?: ISocketFactory;
}

export function kafkaClientConfig(config: KafkaOutputConfig, hooks: ClientHooks): KafkaConfig {
  const client: KafkaConfig = {
    brokers: [...config.brokers],
    clientId: config.clientId,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    requestTimeout: config.timeoutMs,
    enforceRequestTimeout: true,
    retry: { ...CLIENT_RETRY },
    logLevel: hooks.logLevel,
    logCreator: hooks.logCreator,
  };
  const ssl = sslOptions(config.tls);
  if (ssl !== undefined) client.ssl = ssl;
  const sasl = saslOptions(config.sasl);
  if (sasl !== undefined) client.sasl = sasl;
  if (hooks.socketFactory) client.socketFactory = hooks.socketFactory;
  return client;
}

export function producerConfig(config: KafkaOutputConfig): ProducerConfig {
  return {
    // Named explicitly: it is kafkajs' default (Java-compatible murmur2, so a key lands on the
    // same partition as with Java producers), and naming it silences kafkajs' v2 migration warning.
    createPartitioner: Partitioners.DefaultPartitioner,
    // acks=all is the only mode where the idempotent producer is allowed, and where it pays:
    // a retried request cannot be written twice.
    idempotent: config.acks === 'all',
    retry: { ...PRODUCER_RETRY },
    allowAutoTopicCreation: true,
  };
}

export interface ProduceOptions {
  acks: -1 | 0 | 1;
  timeout: number;
  compression: CompressionTypes;
}

export function produceOptions(config: KafkaOutputConfig): ProduceOptions {
  return {
    acks: acksOf(config.acks),
    timeout: config.timeoutMs,
    compression: compressionOf(config.compression),
  };
}
