import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../../../lib/errno.js';
import type { BufferedRecord } from '../buffer.js';
import { decodeLedger, LEDGER_FILE } from './ledger.js';
import { type LockInfo, readLock } from './lock.js';
import { scanSegmentFile, segmentFileName, segmentFirstSeqs } from './segments.js';

/**
 * Read-only inspection of a disk buffer directory, for the `buffers` CLI command and for
 * tests. It takes no lock and writes nothing, so it is safe while a recorder is running
 * (the newest segment may then end in a record being written: that shows as `torn`, not as
 * damage) and on a copy of a directory.
 *
 * - `inspectBuffer(dir)`: the ledger, the lock holder, every segment with its size, how many
 *   records are pending (after the ledger), checksum failures with file and offset, the
 *   oldest and newest pending event `timestamp`, and the bytes on disk. It reads every
 *   segment in bounded chunks (one record at a time in memory), so it also verifies CRCs.
 * - `pendingRecords(dir)`: the pending records in delivery order, one at a time (an async
 *   generator), for listing or exporting a backlog without loading it.
 */
export interface SegmentInfo {
  readonly file: string;
  readonly firstSeq: number;
  readonly bytes: number;
  /** Valid records in the file (acknowledged ones included). */
  readonly records: number;
}

export interface DamageInfo {
  readonly file: string;
  readonly offset: number;
  readonly why: string;
}

export interface BufferInspection {
  readonly dir: string;
  /** Highest acknowledged sequence number, or null when the ledger is missing or unreadable. */
  readonly ackedSeq: number | null;
  /** Who holds the lock; `alive: false` means a stale lock the next start takes over. */
  readonly lock: LockInfo | null;
  readonly segments: readonly SegmentInfo[];
  /** Bytes of segment files (what `output_buffer_bytes` reports). */
  readonly bytes: number;
  /** Valid records after the ledger: what the next start delivers. */
  readonly pending: number;
  readonly oldestPendingTimestamp: string | null;
  readonly newestPendingTimestamp: string | null;
  /** Places where a segment stops being readable (bad length or checksum, not an event; torn end). */
  readonly damage: readonly DamageInfo[];
}

export interface PendingRecord extends BufferedRecord {
  readonly file: string;
  readonly offset: number;
}

async function readAcked(dir: string): Promise<number | null> {
  try {
    return decodeLedger(await readFile(join(dir, LEDGER_FILE)))?.seq ?? null;
  } catch {
    return null;
  }
}

/** Pending records (after the ledger; all of them when the ledger is unreadable), oldest first. */
export async function* pendingRecords(
  dir: string,
  onDamage?: (damage: DamageInfo) => void,
  onSegment?: (segment: SegmentInfo) => void,
): AsyncGenerator<PendingRecord> {
  const acked = (await readAcked(dir)) ?? 0;
  for (const first of segmentFirstSeqs(await readdir(dir))) {
    const file = segmentFileName(first);
    const path = join(dir, file);
    let records = 0;
    let bytes: number;
    try {
      bytes = (await stat(path)).size;
      for await (const item of scanSegmentFile(path)) {
        if (item.kind === 'corrupt') {
          onDamage?.({ file, offset: item.offset, why: item.why });
          break;
        }
        records++;
        if (item.record.seq > acked) yield { ...item.record, file, offset: item.offset };
      }
    } catch (err) {
      // Deleted by the running recorder meanwhile (acknowledged): nothing pending in it.
      if (errnoCode(err) === 'ENOENT') continue;
      throw err;
    }
    onSegment?.({ file, firstSeq: first, bytes, records });
  }
}

export async function inspectBuffer(dir: string): Promise<BufferInspection> {
  const ackedSeq = await readAcked(dir);
  const segments: SegmentInfo[] = [];
  const damage: DamageInfo[] = [];
  let pending = 0;
  let oldest: { ms: number; ts: string } | null = null;
  let newest: { ms: number; ts: string } | null = null;
  for await (const r of pendingRecords(
    dir,
    (d) => damage.push(d),
    (s) => segments.push(s),
  )) {
    pending++;
    const ms = Date.parse(r.meta.timestamp);
    if (Number.isNaN(ms)) continue;
    if (!oldest || ms < oldest.ms) oldest = { ms, ts: r.meta.timestamp };
    if (!newest || ms > newest.ms) newest = { ms, ts: r.meta.timestamp };
  }
  return {
    dir,
    ackedSeq,
    lock: readLock(dir),
    segments,
    bytes: segments.reduce((sum, s) => sum + s.bytes, 0),
    pending,
    oldestPendingTimestamp: oldest?.ts ?? null,
    newestPendingTimestamp: newest?.ts ?? null,
    damage,
  };
}
