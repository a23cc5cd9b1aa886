import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord, HEADER_BYTES } from '../../../../../src/outputs/delivery/disk/record.js';

describe('disk buffer record', () => {
  // The encoder starts the CRC from the sequence number's bytes computed in JS and lets zlib
  // continue over the line; the stored value must be zlib's CRC of bytes 8 .. end all the same.
  it.each([0, 1, 255, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 2 ** 40 + 77, Number.MAX_SAFE_INTEGER])(
    'seq %d: the CRC is zlib crc32 of sequence number and line, and it decodes',
    (seq) => {
      const line = Buffer.from(`{"id":"${seq}","é":"ü"}\n`);
      const bytes = encodeRecord(seq, line);
      expect(bytes.readUInt32LE(4)).toBe(crc32(bytes.subarray(8)));
      expect(bytes.readUInt32LE(8) * 2 ** 32 + bytes.readUInt32LE(12)).toBe(seq);
      expect(bytes.subarray(HEADER_BYTES).equals(line)).toBe(true);
      const decoded = decodeRecord(bytes, 0);
      expect(decoded.kind).toBe('record');
      if (decoded.kind === 'record') {
        expect(decoded.record.seq).toBe(seq);
        expect(decoded.record.line.equals(line)).toBe(true);
      }
    },
  );

  it('a flipped bit anywhere past the CRC is caught', () => {
    const bytes = encodeRecord(2 ** 32 + 9, Buffer.from('{"a":1}\n'));
    for (let i = 8; i < bytes.length; i++) {
      const copy = Buffer.from(bytes);
      copy[i] = (copy[i] as number) ^ 0x10;
      expect(decodeRecord(copy, 0).kind, `byte ${i}`).toBe('corrupt');
    }
  });
});
