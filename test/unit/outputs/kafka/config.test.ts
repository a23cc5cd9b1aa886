import { describe, expect, it } from 'vitest';
import {
  isBrokerAddress,
  isLegalTopic,
  KAFKA_OUTPUT_DEFAULTS,
  type KafkaOutputConfig,
} from '../../../../src/outputs/kafka/config.js';
import { errorsOf, outputOf } from '../../../helpers/config.js';

function kafkaOf(
  yaml: string,
  env: NodeJS.ProcessEnv = {},
  files: Record<string, string> = {},
): KafkaOutputConfig {
  return outputOf('kafka', yaml, env, files);
}

describe('kafka_outputs config', () => {
  it('applies the documented defaults', () => {
    const c = kafkaOf('kafka_outputs:\n  - brokers: [127.0.0.1:9092]\n    topic: coroot-events\n');
    expect(c).toEqual({
      type: 'kafka',
      name: 'kafka:coroot-events@127.0.0.1:9092',
      brokers: ['127.0.0.1:9092'],
      topic: 'coroot-events',
      clientId: 'coroot-event-recorder',
      acks: 'all',
      compression: 'none',
      key: 'fingerprint',
      buffer: KAFKA_OUTPUT_DEFAULTS.buffer,
      lingerMs: 5,
      batchMaxEvents: 500,
      batchMaxBytes: 512 * 1024,
      maxInFlight: 1,
      timeoutMs: 30_000,
      tls: null,
      sasl: null,
      format: 'json',
      filter: { eventTypes: null, sources: null, minSeverity: null },
    } satisfies KafkaOutputConfig);
  });

  it('reads every option', () => {
    const yaml = [
      'kafka_outputs:',
      '  - name: audit',
      '    brokers: [kafka-0.kafka:9092, "${BROKER2}"]',
      '    topic: ops.events_v1',
      '    client_id: sidecar-1',
      '    acks: leader',
      '    compression: snappy',
      '    key: instance',
      '    buffer: { max_events: 10 }',
      '    linger: 0',
      '    batch_max_events: 50',
      '    batch_max_bytes: 64KiB',
      '    max_in_flight: 3',
      '    timeout: 5s',
      '    event_types: [alert_firing]',
      '    tls: { ca_file: /ca.pem, server_name: kafka.internal, insecure_skip_verify: true }',
      '    sasl: { mechanism: scram-sha-512, username: rec, password_file: /secrets/kafka }',
      '',
    ].join('\n');
    const c = kafkaOf(
      yaml,
      { BROKER2: '10.0.0.2:9093' },
      { '/ca.pem': 'CA PEM', '/secrets/kafka': 's3cret\n' },
    );
    expect(c).toMatchObject({
      name: 'audit',
      brokers: ['kafka-0.kafka:9092', '10.0.0.2:9093'],
      topic: 'ops.events_v1',
      clientId: 'sidecar-1',
      acks: 'leader',
      compression: 'snappy',
      key: 'instance',
      buffer: { ...KAFKA_OUTPUT_DEFAULTS.buffer, maxEvents: 10 },
      lingerMs: 0,
      batchMaxEvents: 50,
      batchMaxBytes: 64 * 1024,
      maxInFlight: 3,
      timeoutMs: 5000,
      tls: { ca: 'CA PEM', cert: null, key: null, serverName: 'kafka.internal', insecureSkipVerify: true },
      sasl: { mechanism: 'scram-sha-512', username: 'rec', password: 's3cret' },
      filter: { eventTypes: ['alert_firing'] },
    });
  });

  it('format: json by default, cloudevents on request', () => {
    const base = 'kafka_outputs:\n  - brokers: [127.0.0.1:9092]\n    topic: t\n';
    expect(kafkaOf(`${base}    format: cloudevents\n`).format).toBe('cloudevents');
    expect(errorsOf(`${base}    format: avro\n`)).toEqual([
      '/etc/cer/recorder.yaml:4: kafka_outputs[0].format: must be one of json, cloudevents, got "avro"',
    ]);
  });

  it('requires brokers and topic, naming the key and the line', () => {
    const errors = errorsOf('kafka_outputs:\n  - client_id: x\n');
    expect(errors).toContain(
      '/etc/cer/recorder.yaml:2: kafka_outputs[0].brokers: is required (a list of host:port)',
    );
    expect(errors).toContain('/etc/cer/recorder.yaml:2: kafka_outputs[0].topic: is required');
  });

  it('a broker or listen address with user:password@ in it is shown without them', () => {
    const errors = errorsOf(
      'listen_address: "admin:hunter2-listen@0.0.0.0:9880"\nkafka_outputs:\n  - topic: t\n    brokers: ["kafka:hunter2-broker@k:9092", "sasl://u:hunter2-url@k:9092"]\n',
    );
    expect(errors).toEqual([
      expect.stringMatching(/:1: listen_address: must be host:port .*got "<hidden>@0\.0\.0\.0:9880"$/),
      expect.stringMatching(/:4: kafka_outputs\[0\]\.brokers\[0\]: .*got "<hidden>@k:9092"$/),
      expect.stringMatching(/:4: kafka_outputs\[0\]\.brokers\[1\]: .*got "sasl:\/\/<hidden>@k:9092"$/),
    ]);
    expect(errors.join('\n')).not.toContain('hunter2');
  });

  it('rejects brokers that are not host:port, each by its index', () => {
    const yaml =
      'kafka_outputs:\n  - topic: t\n    brokers:\n      - 127.0.0.1:9092\n      - kafka\n      - "[::1]:9092"\n      - host:99999\n';
    const errors = errorsOf(yaml);
    expect(errors).toEqual([
      expect.stringMatching(
        /^\/etc\/cer\/recorder\.yaml:5: kafka_outputs\[0\]\.brokers\[1\]: must be host:port .*got "kafka"$/,
      ),
      expect.stringMatching(
        /:6: kafka_outputs\[0\]\.brokers\[2\]: must be host:port .*IPv6.*got "\[::1\]:9092"$/,
      ),
      expect.stringMatching(/:7: kafka_outputs\[0\]\.brokers\[3\]: must be host:port .*got "host:99999"$/),
    ]);
  });

  it('rejects an empty broker list and a scalar instead of a list', () => {
    expect(errorsOf('kafka_outputs:\n  - topic: t\n    brokers: []\n')).toEqual([
      '/etc/cer/recorder.yaml:3: kafka_outputs[0].brokers: must not be empty',
    ]);
    expect(errorsOf('kafka_outputs:\n  - topic: t\n    brokers: 127.0.0.1:9092\n')).toEqual([
      '/etc/cer/recorder.yaml:3: kafka_outputs[0].brokers: must be a list',
    ]);
  });

  it('rejects illegal topic names', () => {
    for (const topic of ['"has space"', '"a/b"', '"."', '".."', `${'x'.repeat(250)}`, 'ünïcode']) {
      const errors = errorsOf(`kafka_outputs:\n  - brokers: [k:9092]\n    topic: ${topic}\n`);
      expect(errors, topic).toEqual([
        expect.stringMatching(/:3: kafka_outputs\[0\]\.topic: must be a legal Kafka topic name/),
      ]);
    }
    expect(errorsOf('kafka_outputs:\n  - brokers: [k:9092]\n    topic: ""\n')).toEqual([
      '/etc/cer/recorder.yaml:3: kafka_outputs[0].topic: must not be empty',
    ]);
  });

  it('rejects unknown enum values and bad numbers with the key', () => {
    const yaml = [
      'kafka_outputs:',
      '  - brokers: [k:9092]',
      '    topic: t',
      '    acks: some',
      '    compression: lz4',
      '    key: id',
      '    buffer: { max_events: 0 }',
      '    linger: soon',
      '    max_in_flight: 100',
      '    batch_max_bytes: 10',
      '    sasl: { mechanism: gssapi, username: u, password: p }',
      '    bufer: 3',
      '',
    ].join('\n');
    const errors = errorsOf(yaml);
    expect(errors).toEqual([
      '/etc/cer/recorder.yaml:4: kafka_outputs[0].acks: must be one of all, leader, none, got "some"',
      '/etc/cer/recorder.yaml:5: kafka_outputs[0].compression: must be one of none, gzip, snappy, got "lz4"',
      '/etc/cer/recorder.yaml:6: kafka_outputs[0].key: must be one of fingerprint, instance, none, got "id"',
      '/etc/cer/recorder.yaml:7: kafka_outputs[0].buffer.max_events: must be an integer between 1 and 16777216, got 0',
      expect.stringMatching(/^\/etc\/cer\/recorder\.yaml:8: kafka_outputs\[0\]\.linger: must be a duration/),
      '/etc/cer/recorder.yaml:9: kafka_outputs[0].max_in_flight: must be an integer between 1 and 64, got 100',
      expect.stringMatching(
        /^\/etc\/cer\/recorder\.yaml:10: kafka_outputs\[0\]\.batch_max_bytes: must be a size/,
      ),
      expect.stringMatching(
        /^\/etc\/cer\/recorder\.yaml:11: kafka_outputs\[0\]\.sasl\.mechanism: must be one of plain, scram-sha-256, scram-sha-512/,
      ),
      '/etc/cer/recorder.yaml:12: kafka_outputs[0].bufer: unknown key (did you mean "buffer"?)',
    ]);
  });

  it('validates sasl: mechanism, username and exactly one of password / password_file', () => {
    expect(
      errorsOf(
        'kafka_outputs:\n  - brokers: [k:9092]\n    topic: t\n    sasl: { username: u, password: p }\n',
      ),
    ).toEqual([expect.stringMatching(/:4: kafka_outputs\[0\]\.sasl\.mechanism: is required/)]);
    expect(
      errorsOf(
        'kafka_outputs:\n  - brokers: [k:9092]\n    topic: t\n    sasl: { mechanism: plain, username: u }\n',
      ),
    ).toEqual([
      expect.stringMatching(/:4: kafka_outputs\[0\]\.sasl\.password: is required \(or password_file\)/),
    ]);
    const both =
      'kafka_outputs:\n  - brokers: [k:9092]\n    topic: t\n    sasl: { mechanism: plain, username: u, password: p, password_file: /p }\n';
    expect(errorsOf(both, {}, { '/p': 'x' })).toEqual([
      expect.stringMatching(
        /kafka_outputs\[0\]\.sasl\.password_file: set either password or password_file, not both/,
      ),
    ]);
    const missingFile =
      'kafka_outputs:\n  - brokers: [k:9092]\n    topic: t\n    sasl: { mechanism: plain, username: u, password_file: /nope }\n';
    const errors = errorsOf(missingFile);
    expect(errors).toEqual([expect.stringMatching(/sasl\.password_file: cannot read \/nope: ENOENT/)]);
  });

  it('never puts the password into the output name or an error message', () => {
    const yaml =
      'kafka_outputs:\n  - brokers: [k:9092]\n    topic: t\n    sasl: { mechanism: plain, username: u, password: hunter2-secret }\n';
    const c = kafkaOf(yaml);
    expect(c.name).toBe('kafka:t@k:9092');
    const bad = `${yaml}    acks: maybe\n`;
    expect(errorsOf(bad).join('\n')).not.toContain('hunter2-secret');
  });

  it('two outputs on the same topic and broker need distinct names', () => {
    const yaml = 'kafka_outputs:\n  - brokers: [k:9092]\n    topic: t\n  - brokers: [k:9092]\n    topic: t\n';
    expect(errorsOf(yaml)).toEqual([
      expect.stringMatching(/kafka_outputs\[1\]\.name: output name "kafka:t@k:9092" is already used/),
    ]);
  });

  it('topic and broker predicates follow Kafka and kafkajs', () => {
    expect(isLegalTopic('a.b_c-D9')).toBe(true);
    expect(isLegalTopic('x'.repeat(249))).toBe(true);
    expect(isLegalTopic('x'.repeat(250))).toBe(false);
    expect(isBrokerAddress('localhost:9092')).toBe(true);
    expect(isBrokerAddress('10.1.2.3:1')).toBe(true);
    expect(isBrokerAddress('10.1.2.3:0')).toBe(false);
    expect(isBrokerAddress(':9092')).toBe(false);
    expect(isBrokerAddress('host:')).toBe(false);
    expect(isBrokerAddress('user:pw@host:9092')).toBe(false);
  });
});
