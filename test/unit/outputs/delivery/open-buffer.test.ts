import { describe, expect, it } from 'vitest';
import { bufferDir } from '../../../../src/outputs/delivery/disk/dir-name.js';
import { DiskBuffer } from '../../../../src/outputs/delivery/disk/disk-buffer.js';
import { openDeliveryBuffer } from '../../../../src/outputs/delivery/open-buffer.js';
import { tempDir } from '../../../helpers/daemon.js';
import { idOf, line, meta, quietLog } from './disk/helpers.js';

const spec = {
  type: 'disk' as const,
  maxEvents: 10,
  maxSize: 8 * 1024 * 1024,
  sync: 'normal' as const,
  flushIntervalMs: 20,
};

describe('openDeliveryBuffer', () => {
  it('a reload that keeps the name shares the disk buffer; the new output reads once the old one closed, from the oldest unacknowledged record', async () => {
    const dataDir = await tempDir('cer-lease-');
    const ctx = {
      dataDir,
      outputName: 'webhook:http://x/y',
      log: quietLog,
      onCorrupted: () => {},
      memoryBound: 'held' as const,
    };
    const old = openDeliveryBuffer(spec, ctx);
    for (let i = 0; i < 10; i++) expect(old.push(line(i), meta(i))).toBe(true);
    const inFlight = await old.read(5, 1 << 20);
    old.ack(inFlight.slice(0, 2));
    const next = openDeliveryBuffer(spec, ctx);
    expect(next.push(line(10), meta(10))).toBe(true);
    let nextRead: number[] | null = null;
    const reading = next.read(100, 1 << 20).then((r) => {
      nextRead = r.map(idOf);
      return r;
    });
    await new Promise((r) => setImmediate(r));
    expect(nextRead).toBeNull(); // the old output still reads
    // The old output takes the rest (the new one's push too); its next read waits.
    expect((await old.read(100, 1 << 20)).map(idOf)).toEqual([5, 6, 7, 8, 9, 10]);
    const pendingOld = old.read(5, 1 << 20);
    expect(await old.close()).toBe(0);
    expect(await pendingOld).toEqual([]);
    // 2..10 were in flight in the old output and are sent again; 0..1 were acknowledged.
    expect((await reading).map(idOf)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await next.close();
    // The last lease closed the buffer and released its lock.
    const reopened = new DiskBuffer({
      dir: bufferDir(dataDir, ctx.outputName),
      maxBytes: spec.maxSize,
      sync: 'normal',
      flushIntervalMs: 20,
      log: quietLog,
    });
    expect(reopened.length).toBe(9);
    await reopened.close();
  });
});
