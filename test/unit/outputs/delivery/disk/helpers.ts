import { Logger } from '../../../../../src/log.js';
import type { BufferedRecord, EventMeta } from '../../../../../src/outputs/delivery/buffer.js';
import { DiskBuffer, type DiskBufferOptions } from '../../../../../src/outputs/delivery/disk/disk-buffer.js';

export const quietLog = new Logger('error', () => undefined);

export function meta(n: number): EventMeta {
  return {
    id: `id-${n}`,
    type: 'alert_firing',
    source: 'coroot',
    fingerprint: `fp-${n % 7}`,
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60)).toISOString(),
    instance: 'test',
  };
}

/** A serialized event carrying meta(n)'s fields, as the write loop's lines do (a record read back from a file takes its meta from them). */
export function line(n: number, pad = 0): Buffer {
  const m = meta(n);
  const event = {
    '@timestamp': m.timestamp,
    id: m.id,
    type: m.type,
    source: m.source,
    fingerprint: m.fingerprint,
    instance: m.instance,
    pad: 'x'.repeat(pad),
  };
  return Buffer.from(`${JSON.stringify(event)}\n`);
}

export function openBuffer(dir: string, extra: Partial<DiskBufferOptions> = {}): DiskBuffer {
  return new DiskBuffer({
    dir,
    maxBytes: 1024 * 1024,
    sync: 'normal',
    flushIntervalMs: 20,
    log: quietLog,
    ...extra,
  });
}

/** The number in a record's id. */
export function idOf(r: BufferedRecord): number {
  return Number(r.meta.id.slice(3));
}

/** Reads until `count` records arrived or nothing more comes within the read budget. */
export async function readAll(buf: DiskBuffer, count: number, maxEvents = 50): Promise<BufferedRecord[]> {
  const out: BufferedRecord[] = [];
  while (out.length < count) {
    const got = await buf.read(Math.min(maxEvents, count - out.length), 64 * 1024);
    if (got.length === 0) break;
    out.push(...got);
  }
  return out;
}
