import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { type LineItem, readLines } from '../../../src/replay/lines.js';
import { tempDir } from '../../helpers/daemon.js';

async function collect(path: string): Promise<LineItem[]> {
  const out: LineItem[] = [];
  for await (const item of readLines(path)) out.push(item);
  return out;
}

describe('replay line reader', () => {
  it('reads plain and gzip files alike, keeping each line byte for byte with its newline', async () => {
    const dir = await tempDir();
    // Lines longer than a read chunk, so lines cross chunk boundaries.
    const lines = Array.from({ length: 9 }, (_, i) => `{"n":${i},"pad":"${'é'.repeat(i * 40_000)}"}\n`);
    const text = Buffer.from(lines.join(''));
    await writeFile(join(dir, 'plain'), text);
    await writeFile(join(dir, 'packed.gz'), gzipSync(text));
    await writeFile(join(dir, 'gz-without-suffix'), gzipSync(text));
    for (const name of ['plain', 'packed.gz', 'gz-without-suffix']) {
      const items = await collect(join(dir, name));
      expect(items.map((i) => i.kind)).toEqual(lines.map(() => 'line'));
      // Buffer.equals: vitest's deep equality walks megabytes byte by byte.
      const joined = Buffer.concat(items.map((i) => (i.kind === 'line' ? i.bytes : Buffer.alloc(0))));
      expect(joined.equals(text), name).toBe(true);
      expect(items.map((i) => i.lineNo)).toEqual(lines.map((_, k) => k + 1));
    }
  });

  it('reports a partial last line with its size, and an empty file as nothing', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'cut'), '{"a":1}\n{"b":');
    expect(await collect(join(dir, 'cut'))).toEqual([
      { kind: 'line', lineNo: 1, bytes: Buffer.from('{"a":1}\n') },
      { kind: 'partial', lineNo: 2, size: 5 },
    ]);
    await writeFile(join(dir, 'empty'), '');
    expect(await collect(join(dir, 'empty'))).toEqual([]);
  });

  it('throws after the lines before a gzip stream that breaks off', async () => {
    const dir = await tempDir();
    const packed = gzipSync(Buffer.from('{"a":1}\n'.repeat(50_000)));
    await writeFile(join(dir, 'torn.gz'), packed.subarray(0, packed.length >> 1));
    const seen: LineItem[] = [];
    await expect(
      (async () => {
        for await (const item of readLines(join(dir, 'torn.gz'))) seen.push(item);
      })(),
    ).rejects.toThrow(/unexpected end of file/);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((i) => i.kind === 'line')).toBe(true);
  });
});
