import kafkajs from 'kafkajs';
import { compressSync, uncompressSync } from 'snappy';

/**
 * kafkajs ships no Snappy codec; it takes one through `CompressionCodecs`. This one is
 * backed by the `snappy` package (napi-rs, maintained). The output only produces, and
 * produces raw Snappy, which brokers and every client accept; `decompress` completes the
 * codec kafkajs expects (reading what Java producers write, xerial framing, is a test
 * consumer's concern: test/kafka/xerial.ts).
 *
 * The synchronous calls are deliberate: a batch is small (≤ batch_max_bytes), Snappy runs
 * at GB/s, and the async variant pays a thread-pool round trip per batch that costs more
 * than the compression itself.
 */

/** What kafkajs hands a codec to compress: its encoder, whose `buffer` is the bytes. */
interface EncoderLike {
  buffer: Buffer;
}

export const snappyCodec = {
  async compress(encoder: EncoderLike): Promise<Buffer> {
    return compressSync(encoder.buffer);
  },
  async decompress(buffer: Buffer): Promise<Buffer> {
    const out = uncompressSync(buffer, { asBuffer: true });
    return typeof out === 'string' ? Buffer.from(out) : out;
  },
};

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
