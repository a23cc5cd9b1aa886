import { uncompressSync } from 'snappy';

/*
 * snappy-java's "xerial" framing, which Java producers write: a magic header followed by
 * length-prefixed raw Snappy blocks. The recorder only produces (raw Snappy); a test or tool
 * that consumes a topic Java clients also write to decodes it with this.
 */

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
/** Magic (8) + version (4) + compatible version (4). */
const XERIAL_HEADER_BYTES = 16;

export function isXerialFramed(buffer: Buffer): boolean {
  return buffer.length >= XERIAL_HEADER_BYTES && buffer.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
}

/** Raw or xerial-framed Snappy to bytes. */
export function snappyDecompress(buffer: Buffer): Buffer {
  if (!isXerialFramed(buffer)) return toBuffer(uncompressSync(buffer, { asBuffer: true }));
  const blocks: Buffer[] = [];
  let offset = XERIAL_HEADER_BYTES;
  while (offset < buffer.length) {
    if (offset + 4 > buffer.length) throw new Error('truncated xerial snappy block header');
    const size = buffer.readUInt32BE(offset);
    offset += 4;
    if (offset + size > buffer.length) throw new Error('truncated xerial snappy block');
    blocks.push(toBuffer(uncompressSync(buffer.subarray(offset, offset + size), { asBuffer: true })));
    offset += size;
  }
  return Buffer.concat(blocks);
}

function toBuffer(value: string | Buffer): Buffer {
  return typeof value === 'string' ? Buffer.from(value) : value;
}
