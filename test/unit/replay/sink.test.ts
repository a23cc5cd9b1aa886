import { describe, expect, it } from 'vitest';
import { replayConfig } from '../../../src/replay/sink.js';
import { configOf } from '../../helpers/config.js';

describe('replay sink', () => {
  it('gives a delivering output a memory buffer, never the daemon’s disk buffer', () => {
    const config = configOf(
      'webhook_outputs:\n  - url: http://127.0.0.1:1/x\n    buffer: { max_events: 300 }\nkafka_outputs:\n  - brokers: [k:9092]\n    topic: t\n    buffer: { max_events: 50 }\nfile_outputs:\n  - path: /tmp/x.jsonl\n',
    );
    const disk = {
      type: 'disk' as const,
      maxEvents: 10,
      maxSize: 1 << 30,
      sync: 'normal' as const,
      flushIntervalMs: 500,
    };
    const of = (type: string) => {
      const o = config.outputs.find((x) => x.type === type) as (typeof config.outputs)[number];
      return o.type === 'file' ? o : { ...o, buffer: disk };
    };
    const [hook, bus, file] = [of('webhook'), of('kafka'), of('file')];
    expect(replayConfig(hook as never)).toMatchObject({ buffer: { type: 'memory', maxEvents: 10 } });
    expect(replayConfig(bus as never)).toMatchObject({ buffer: { type: 'memory', maxEvents: 10 } });
    expect(replayConfig(file as never)).toBe(file);
  });
});
