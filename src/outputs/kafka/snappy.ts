import kafkajs from 'kafkajs';
import { compressSync, uncompressSync } from 'snappy';

/**
 * kafkajs ships no Snappy codec; it takes one through `CompressionCodecs`. This one is
 * backed by the `snappy` package (napi-rs, maintained).
 *
 * Producing writes raw Snappy, which brokers and every client accept. Consuming (tests,
 * tools) must also read what Java producers write: snappy-java's "xerial" framing, a magic
 * header followed by length-prefixed raw blocks.
 *
 * The synchronous calls are deliberate: a batch is small (≤ batch_max_bytes), Snappy runs
 * at GB/s, and the async variant pays a thread-pool round trip per batch that costs more
 * than the compression itself.
 */

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
/** Magic (8) + version (4) + compatible version (4). */
const XERIAL_HEADER_BYTES = 16;

/** What kafkajs hands a codec to compress: its encoder, whose `buffer` is the bytes. */
interface EncoderLike {
  buffer: Buffer;
}

export const snappyCodec = {
  async compress(encoder: EncoderLike): Promise<Buffer> {
    return compressSync(encoder.buffer);
  },
  async decompress(buffer: Buffer): Promise<Buffer> {
    return snappyDecompress(buffer);
  },
};

export function isXerialFramed(buffer: Buffer): boolean {
  return buffer.length >= XERIAL_HEADER_BYTES && buffer.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
}

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

// kafkajs is CommonJS and Node's named-export detection misses `CompressionCodecs`
// (`import { CompressionCodecs }` fails at load time), so take it from the default export.
const { CompressionCodecs, CompressionTypes } = kafkajs;

let registered = false;

/** Installs the codec into kafkajs (process-wide, idempotent). */
export function registerSnappyCodec(): void {
  if (registered) return;
  CompressionCodecs[CompressionTypes.Snappy] = () => snappyCodec;
  registered = true;
}
