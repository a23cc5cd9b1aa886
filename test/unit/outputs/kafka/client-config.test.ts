import { CompressionCodecs, CompressionTypes, logLevel, Partitioners } from 'kafkajs';
import { compressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { Logger } from '../../../../src/log.js';
import {
  CLIENT_RETRY,
  kafkaClientConfig,
  PRODUCER_RETRY,
  produceOptions,
  producerConfig,
} from '../../../../src/outputs/kafka/client-config.js';
import { KAFKA_OUTPUT_DEFAULTS, type KafkaOutputConfig } from '../../../../src/outputs/kafka/config.js';
import { classifyKafkaError } from '../../../../src/outputs/kafka/errors.js';
import { kafkaLogCreator, kafkaLogLevel } from '../../../../src/outputs/kafka/log-bridge.js';
import { registerSnappyCodec } from '../../../../src/outputs/kafka/snappy.js';
import { isXerialFramed, snappyDecompress } from '../../../kafka/xerial.js';

function config(overrides: Partial<KafkaOutputConfig> = {}): KafkaOutputConfig {
  return {
    type: 'kafka',
    name: 'kafka:t@k:9092',
    brokers: ['k:9092', 'k2:9092'],
    topic: 't',
    ...KAFKA_OUTPUT_DEFAULTS,
    tls: null,
    sasl: null,
    filter: { eventTypes: null, sources: null, minSeverity: null },
    ...overrides,
  };
}

const hooks = { logCreator: () => () => {}, logLevel: logLevel.WARN };

describe('kafka client config mapping', () => {
  it('maps the basics: brokers, client id, timeouts, bounded retries, no TLS or SASL', () => {
    const c = kafkaClientConfig(config({ timeoutMs: 7000 }), hooks);
    expect(c.brokers).toEqual(['k:9092', 'k2:9092']);
    expect(c.clientId).toBe('coroot-event-recorder');
    expect(c.requestTimeout).toBe(7000);
    expect(c.retry).toEqual(CLIENT_RETRY);
    expect(c.ssl).toBeUndefined();
    expect(c.sasl).toBeUndefined();
    expect(c.logCreator).toBe(hooks.logCreator);
  });

  it('acks: all → -1 with the idempotent producer; leader → 1 and none → 0 without', () => {
    expect(produceOptions(config({ acks: 'all' })).acks).toBe(-1);
    expect(producerConfig(config({ acks: 'all' })).idempotent).toBe(true);
    expect(produceOptions(config({ acks: 'leader' })).acks).toBe(1);
    expect(producerConfig(config({ acks: 'leader' })).idempotent).toBe(false);
    expect(produceOptions(config({ acks: 'none' })).acks).toBe(0);
    expect(producerConfig(config({ acks: 'none' })).idempotent).toBe(false);
  });

  it('the producer uses the Java-compatible partitioner and retries at least once (idempotence needs it)', () => {
    const p = producerConfig(config());
    expect(p.createPartitioner).toBe(Partitioners.DefaultPartitioner);
    expect(p.retry).toEqual(PRODUCER_RETRY);
    expect(PRODUCER_RETRY.retries).toBeGreaterThanOrEqual(1);
  });

  it('compression maps to kafkajs codec types', () => {
    expect(produceOptions(config({ compression: 'none' })).compression).toBe(CompressionTypes.None);
    expect(produceOptions(config({ compression: 'gzip' })).compression).toBe(CompressionTypes.GZIP);
    expect(produceOptions(config({ compression: 'snappy' })).compression).toBe(CompressionTypes.Snappy);
    expect(produceOptions(config({ timeoutMs: 1234 })).timeout).toBe(1234);
  });

  it('tls: CA, client certificate, server name and verification map to Node TLS options', () => {
    const tls = {
      ca: 'CA',
      cert: 'CERT',
      key: 'KEY',
      serverName: 'kafka.internal',
      insecureSkipVerify: false,
    };
    expect(kafkaClientConfig(config({ tls }), hooks).ssl).toEqual({
      ca: 'CA',
      cert: 'CERT',
      key: 'KEY',
      servername: 'kafka.internal',
      rejectUnauthorized: true,
    });
  });

  it('tls with nothing but insecure_skip_verify keeps the system CAs and skips verification', () => {
    const tls = { ca: null, cert: null, key: null, serverName: null, insecureSkipVerify: true };
    expect(kafkaClientConfig(config({ tls }), hooks).ssl).toEqual({ rejectUnauthorized: false });
  });

  it('sasl: each mechanism passes through with username and password', () => {
    for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
      const c = kafkaClientConfig(config({ sasl: { mechanism, username: 'u', password: 'p' } }), hooks);
      expect(c.sasl).toEqual({ mechanism, username: 'u', password: 'p' });
    }
  });

  it('a socket factory, when given, is used', () => {
    const socketFactory = () => {
      throw new Error('not called here');
    };
    expect(kafkaClientConfig(config(), { ...hooks, socketFactory }).socketFactory).toBe(socketFactory);
  });
});

describe('kafka error classification', () => {
  const protocol = (type: string, retriable: boolean) =>
    Object.assign(new Error(`broker said ${type}`), { name: 'KafkaJSProtocolError', type, retriable });
  /** How kafkajs wraps a cause when its retries run out. */
  const exhausted = (cause: Error) =>
    Object.assign(new Error(cause.message), { name: 'KafkaJSNumberOfRetriesExceeded', cause });

  it('connection trouble is network and retried', () => {
    const conn = Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
      name: 'KafkaJSConnectionError',
    });
    expect(classifyKafkaError(exhausted(conn))).toMatchObject({ errorType: 'network', action: 'retry' });
    const sys = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    expect(classifyKafkaError(sys)).toMatchObject({ errorType: 'network', action: 'retry' });
  });

  it('timeouts are timeout and retried, at any depth of the cause chain', () => {
    const t = Object.assign(new Error('Request Produce timed out'), { name: 'KafkaJSRequestTimeoutError' });
    const wrapped = Object.assign(new Error('x'), { name: 'KafkaJSNonRetriableError', cause: exhausted(t) });
    expect(classifyKafkaError(wrapped)).toMatchObject({ errorType: 'timeout', action: 'retry' });
    expect(classifyKafkaError(exhausted(protocol('REQUEST_TIMED_OUT', true)))).toMatchObject({
      errorType: 'timeout',
      action: 'retry',
    });
  });

  it('broker errors: leadership and authorization are retried, bad records rejected, too large split', () => {
    expect(classifyKafkaError(exhausted(protocol('NOT_LEADER_OR_FOLLOWER', true)))).toMatchObject({
      errorType: 'broker',
      action: 'retry',
      code: 'NOT_LEADER_OR_FOLLOWER',
    });
    expect(classifyKafkaError(protocol('TOPIC_AUTHORIZATION_FAILED', false))).toMatchObject({
      errorType: 'broker',
      action: 'retry',
    });
    expect(classifyKafkaError(protocol('CORRUPT_MESSAGE', false))).toMatchObject({
      errorType: 'broker',
      action: 'reject',
    });
    expect(classifyKafkaError(protocol('MESSAGE_TOO_LARGE', false))).toMatchObject({
      errorType: 'broker',
      action: 'split',
    });
    expect(classifyKafkaError(protocol('OUT_OF_ORDER_SEQUENCE_NUMBER', false))).toMatchObject({
      action: 'reset',
    });
  });

  it('SASL failures keep the events (an operator can fix the broker side)', () => {
    const e = Object.assign(new Error('SASL PLAIN authentication failed'), {
      name: 'KafkaJSSASLAuthenticationError',
    });
    expect(classifyKafkaError(e)).toMatchObject({ errorType: 'broker', action: 'retry' });
  });

  it('errors that are not Kafka conditions are unknown and rejected rather than retried forever', () => {
    expect(classifyKafkaError(new TypeError('x is not a function'))).toMatchObject({
      errorType: 'unknown',
      action: 'reject',
    });
    expect(classifyKafkaError('weird')).toMatchObject({ errorType: 'unknown', action: 'reject' });
    const disconnected = Object.assign(new Error('The producer is disconnected'), {
      name: 'KafkaJSError',
      retriable: true,
    });
    expect(classifyKafkaError(disconnected)).toMatchObject({ errorType: 'unknown', action: 'retry' });
  });

  it('survives a cyclic cause chain', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    const b: Error & { cause?: unknown } = new Error('b');
    a.cause = b;
    b.cause = a;
    expect(classifyKafkaError(a).errorType).toBe('unknown');
  });
});

describe('kafkajs log bridge', () => {
  function capture(level: 'debug' | 'info' | 'warn' = 'debug') {
    const lines: Array<Record<string, unknown>> = [];
    const logger = new Logger(level, (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    return { logger, lines };
  }

  it('maps levels: kafkajs ERROR/WARN → warn, INFO/DEBUG → debug', () => {
    const { logger, lines } = capture();
    const log = kafkaLogCreator(logger, [])(logLevel.DEBUG);
    const entry = (level: logLevel, message: string) => ({
      namespace: 'Connection',
      level,
      label: '',
      log: { timestamp: '', message },
    });
    log(entry(logLevel.ERROR, 'e'));
    log(entry(logLevel.WARN, 'w'));
    log(entry(logLevel.INFO, 'i'));
    log(entry(logLevel.DEBUG, 'd'));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'kafkajs: e'],
      ['warn', 'kafkajs: w'],
      ['debug', 'kafkajs: i'],
      ['debug', 'kafkajs: d'],
    ]);
    expect(lines[0]).toMatchObject({ kafkajs: 'Connection' });
  });

  it('keeps known fields only and scrubs secrets from everything', () => {
    const { logger, lines } = capture();
    const log = kafkaLogCreator(logger, ['pa55word-xyz'])(logLevel.DEBUG);
    log({
      namespace: 'SASLPlainAuthenticator',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: {
        timestamp: '',
        message: 'auth failed for pa55word-xyz',
        broker: 'k:9092',
        error: 'bad password pa55word-xyz',
        stack: 'at secret place',
        sasl: { password: 'pa55word-xyz' },
        retryCount: 2,
      },
    });
    const text = JSON.stringify(lines);
    expect(text).not.toContain('pa55word-xyz');
    expect(text).not.toContain('secret place');
    expect(lines[0]).toMatchObject({ broker: 'k:9092', retryCount: 2, err: 'bad password <redacted>' });
    expect(lines[0]?.msg).toBe('kafkajs: auth failed for <redacted>');
  });

  it('demotes expected, already-retried kafkajs complaints to debug', () => {
    const { logger, lines } = capture('info');
    const log = kafkaLogCreator(logger, [])(logLevel.WARN);
    log({
      namespace: 'Producer',
      level: logLevel.WARN,
      label: 'WARN',
      log: {
        timestamp: '',
        message: 'Limiting retries for the idempotent producer may invalidate EoS guarantees',
      },
    });
    log({
      namespace: 'Connection',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: { timestamp: '', message: 'Response Metadata(key: 3, version: 6)', error: 'leader election' },
    });
    expect(lines).toEqual([]);
  });

  it('goes quiet (debug) while the output has already reported that it is down', () => {
    const { logger, lines } = capture('info');
    let down = false;
    const log = kafkaLogCreator(logger, [], () => down)(logLevel.WARN);
    const entry = {
      namespace: 'Connection',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: { timestamp: '', message: 'ECONNREFUSED' },
    };
    log(entry);
    down = true;
    log(entry);
    log(entry);
    down = false;
    log(entry);
    expect(lines.map((l) => l.level)).toEqual(['warn', 'warn']);
  });

  it('asks kafkajs for debug lines only when our logger wants them', () => {
    expect(kafkaLogLevel(capture('debug').logger)).toBe(logLevel.DEBUG);
    expect(kafkaLogLevel(capture('info').logger)).toBe(logLevel.WARN);
    expect(kafkaLogLevel(new Logger('error', () => {}))).toBe(logLevel.NOTHING);
  });
});

describe('snappy codec', () => {
  const text = Buffer.from('{"type":"alert_firing","fingerprint":"0123456789abcdef"}\n'.repeat(50));

  it('is registered into kafkajs and round-trips raw snappy', async () => {
    registerSnappyCodec();
    const codec = CompressionCodecs[CompressionTypes.Snappy]() as {
      compress(e: { buffer: Buffer }): Promise<Buffer>;
      decompress(b: Buffer): Promise<Buffer>;
    };
    const compressed = await codec.compress({ buffer: text });
    expect(compressed.length).toBeLessThan(text.length / 4);
    expect(isXerialFramed(compressed)).toBe(false);
    expect((await codec.decompress(compressed)).equals(text)).toBe(true);
  });

  it('the test consumer helper decompresses xerial-framed input (what Java producers write)', () => {
    const a = text.subarray(0, 1000);
    const b = text.subarray(1000);
    const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
    const block = (data: Buffer) => {
      const c = compressSync(data);
      const size = Buffer.alloc(4);
      size.writeUInt32BE(c.length);
      return Buffer.concat([size, c]);
    };
    const framed = Buffer.concat([header, block(a), block(b)]);
    expect(isXerialFramed(framed)).toBe(true);
    expect(snappyDecompress(framed).equals(text)).toBe(true);
    expect(() => snappyDecompress(framed.subarray(0, framed.length - 3))).toThrow(/truncated/);
  });
});
