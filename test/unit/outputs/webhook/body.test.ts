import { describe, expect, it } from 'vitest';
import type { BufferedRecord } from '../../../../src/outputs/delivery/buffer.js';
import { framedSize, lineBudget, requestBody } from '../../../../src/outputs/webhook/body.js';

const meta = {
  id: 'i',
  type: 'alert_firing',
  source: 'coroot',
  fingerprint: 'f',
  timestamp: 't',
  instance: 'x',
};
const json = (i: number, pad = 0): Buffer => Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(pad) }));
const record = (seq: number, body: Buffer): BufferedRecord => ({
  seq,
  line: Buffer.concat([body, Buffer.from('\n')]),
  meta,
});

describe('webhook request body', () => {
  it('frames bodies as one JSON array, byte for byte', () => {
    const bodies = [json(1), json(2)];
    const body = requestBody(
      bodies.map((b, i) => record(i, b)),
      true,
    );
    expect(body.toString()).toBe(`[${bodies.join(',')}]`);
    expect(JSON.parse(body.toString())).toEqual([
      { i: 1, pad: '' },
      { i: 2, pad: '' },
    ]);
    expect(body.length).toBe(framedSize(2, bodies[0]!.length + bodies[1]!.length));
  });

  it('is the bare event JSON without batching, and an array of one with it', () => {
    expect(requestBody([record(0, json(7))], false).toString()).toBe(json(7).toString());
    expect(JSON.parse(requestBody([record(0, json(7))], true).toString())).toHaveLength(1);
  });

  it('lines measured against lineBudget(max_bytes) frame to at most max_bytes', () => {
    const lines = [json(1, 40), json(2, 40), json(3, 5)].map((b, i) => record(i, b));
    const total = lines.reduce((n, r) => n + r.line.length, 0);
    const body = requestBody(lines, true);
    expect(body.length).toBe(total + 1);
    expect(total <= lineBudget(body.length)).toBe(true);
    expect(total <= lineBudget(body.length - 1)).toBe(false);
  });
});
