import { describe, expect, it } from 'vitest';
import { configOf, errorsOf, outputOf } from '../../../helpers/config.js';

describe('buffer: the same block on every output type', () => {
  it('defaults: the file blocks, webhook and Kafka drop the newest', () => {
    const c = configOf(
      [
        'file_outputs: [{ path: ./e.jsonl }]',
        'webhook_outputs: [{ url: http://127.0.0.1:1/h }]',
        'kafka_outputs: [{ brokers: [k:9092], topic: t }]',
        '',
      ].join('\n'),
    );
    const buffers = c.outputs.map((o) => [o.type, o.buffer.type, o.buffer.maxEvents, o.buffer.whenFull]);
    expect(buffers).toEqual([
      ['file', 'memory', 8192, 'block'],
      ['webhook', 'memory', 1024, 'drop_newest'],
      ['kafka', 'memory', 1024, 'drop_newest'],
    ]);
    expect(c.acknowledgements).toBe(true);
    expect(c.acknowledgementTimeoutMs).toBe(10_000);
    expect(c.dataDir).toBeNull();
  });

  it('reads max_events and when_full on each type', () => {
    for (const [section, head] of [
      ['file_outputs', 'path: ./e.jsonl'],
      ['webhook_outputs', 'url: http://127.0.0.1:1/h'],
      ['kafka_outputs', 'brokers: [k:9092], topic: t'],
    ] as const) {
      const c = configOf(`${section}: [{ ${head}, buffer: { max_events: 7, when_full: block } }]\n`);
      expect(c.outputs[0]?.buffer).toMatchObject({ type: 'memory', maxEvents: 7, whenFull: 'block' });
    }
    expect(
      outputOf('file', 'file_outputs: [{ path: ./e.jsonl, buffer: { when_full: drop_newest } }]\n').buffer
        .whenFull,
    ).toBe('drop_newest');
  });

  it('refuses the retired per-type keys with a hint naming the new one', () => {
    expect(errorsOf('file_outputs:\n  - path: ./e.jsonl\n    buffer_size: 10\n')).toEqual([
      '/etc/cer/recorder.yaml:3: file_outputs[0].buffer_size: was replaced by buffer.max_events (buffer: { max_events: N })',
    ]);
    expect(errorsOf('webhook_outputs:\n  - url: http://127.0.0.1:1/h\n    queue_size: 10\n')).toEqual([
      '/etc/cer/recorder.yaml:3: webhook_outputs[0].queue_size: was replaced by buffer.max_events (buffer: { max_events: N })',
    ]);
    expect(errorsOf('kafka_outputs:\n  - { brokers: [k:9092], topic: t, buffer_size: 1 }\n')).toEqual([
      '/etc/cer/recorder.yaml:2: kafka_outputs[0].buffer_size: was replaced by buffer.max_events (buffer: { max_events: N })',
    ]);
  });

  it('names the key and line of every mistake in the block', () => {
    const errors = errorsOf(
      [
        'file_outputs:',
        '  - path: ./e.jsonl',
        '    buffer:',
        '      when_full: drop_oldest',
        '      max_events: 0',
        '      max_size: 1GiB',
        '      maxevents: 3',
        '',
      ].join('\n'),
    );
    expect(errors).toEqual([
      '/etc/cer/recorder.yaml:4: file_outputs[0].buffer.when_full: must be one of block, drop_newest, got "drop_oldest"',
      '/etc/cer/recorder.yaml:5: file_outputs[0].buffer.max_events: must be an integer between 1 and 16777216, got 0',
      '/etc/cer/recorder.yaml:6: file_outputs[0].buffer.max_size: applies only to type: disk',
      '/etc/cer/recorder.yaml:7: file_outputs[0].buffer.maxevents: unknown key (did you mean "max_events"?)',
    ]);
  });

  it('type: disk needs data_dir, and a file output never takes it', () => {
    const hook = 'webhook_outputs:\n  - url: http://127.0.0.1:1/h\n    buffer: { type: disk }\n';
    expect(errorsOf(hook)).toContainEqual(
      '/etc/cer/recorder.yaml:3: webhook_outputs[0].buffer: type: disk needs the top-level data_dir (where disk buffers live); set data_dir',
    );
    expect(errorsOf('file_outputs:\n  - path: ./e.jsonl\n    buffer: { type: disk }\n')).toContainEqual(
      '/etc/cer/recorder.yaml:3: file_outputs[0].buffer.type: disk is not available on a file output (the file itself is durable); use memory',
    );
  });

  it('reads acknowledgements, acknowledgement_timeout and data_dir (relative to the config file)', () => {
    const c = configOf('acknowledgements: false\nacknowledgement_timeout: 2s\ndata_dir: ${D:-../data}\n');
    expect(c).toMatchObject({
      acknowledgements: false,
      acknowledgementTimeoutMs: 2000,
      dataDir: '/etc/data',
    });
    expect(configOf('data_dir: ${D:-../data}\n', { D: '/var/lib/cer' }).dataDir).toBe('/var/lib/cer');
    expect(errorsOf('acknowledgements: maybe\n')).toEqual([
      '/etc/cer/recorder.yaml:1: acknowledgements: must be true or false, got "maybe"',
    ]);
  });
});
