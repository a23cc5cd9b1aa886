/*
 * The soak's view of the disk buffers from outside the daemon: what a killed process left in
 * `<data_dir>/buffers/<output>/` (read with the same read-only inspection the `buffers` command
 * uses), and how much room the buffer folders take while the daemon runs.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../../src/lib/errno.js';
import { pendingRecords } from '../../src/outputs/delivery/disk/inspect.js';
import { SEQ } from './load.js';

/** What one disk buffer held when its process was killed: the backlog the next process starts with. */
export interface Backlog {
  /** Records after the ledger: what the next start delivers (its `output_queue_length` at start). */
  pending: number;
  /** Bytes of the segment files. */
  bytes: number;
  /** Event ids of the pending records. */
  ids: Set<string>;
  /** Pending records by what the senders knew of them when the process died. */
  accepted: number;
  /** Of requests without an answer (in flight at the kill) or answered 503 not confirmed: taken, never answered 202. */
  unanswered: number;
  /** Those records: event id → sequence number. */
  unansweredIds: Map<string, number>;
  /** The daemon's own events (recorder_started, the warm-up). */
  own: number;
  /** Records of no sequence number the senders sent: never expected. */
  foreign: number;
  /** A torn last record (a write the kill cut short; the next start truncates it). */
  tornTail: number;
  /** Any other place a segment stops being readable: never expected after a SIGKILL. */
  damage: string[];
}

/**
 * Reads the pending records of the buffer in `dir` after its process died. `states` is the
 * senders' state of every sequence number at that moment (LoadGenerator.snapshotStates).
 */
export async function readBacklog(dir: string, states: Uint8Array): Promise<Backlog> {
  const out: Backlog = {
    pending: 0,
    bytes: 0,
    ids: new Set(),
    accepted: 0,
    unanswered: 0,
    unansweredIds: new Map(),
    own: 0,
    foreign: 0,
    tornTail: 0,
    damage: [],
  };
  const damaged: Array<{ file: string; offset: number; why: string }> = [];
  let newest = '';
  for await (const record of pendingRecords(
    dir,
    (d) => damaged.push(d),
    (segment) => {
      out.bytes += segment.bytes;
      newest = segment.file;
    },
  )) {
    out.pending++;
    out.ids.add(record.meta.id);
    const seq = seqOfLine(record.line.toString('utf8'));
    const state = seq === null ? null : seq < states.length ? states[seq] : SEQ.unsent;
    if (state === null) out.own++;
    else if (state === SEQ.accepted) out.accepted++;
    else if (state === SEQ.inFlight || state === SEQ.failed || state === SEQ.unconfirmed) {
      out.unanswered++;
      out.unansweredIds.set(record.meta.id, seq as number);
    } else out.foreign++;
  }
  for (const d of damaged) {
    // SIGKILL during a writev leaves a partial record at the end of the newest segment only.
    if (d.file === newest && d.why.includes('torn')) out.tornTail++;
    else out.damage.push(`${d.file} at ${d.offset}: ${d.why}`);
  }
  return out;
}

/**
 * The sequence number the senders gave an event (load.ts: the Alertmanager label `soak_seq`,
 * the Coroot summary `soak-<seq>`), read from its serialized line without parsing it: a
 * backlog is tens of thousands of records.
 */
function seqOfLine(line: string): number | null {
  const m = /"soak_seq":"(\d+)"/.exec(line) ?? /"summary":"soak-(\d+)"/.exec(line);
  return m ? Number(m[1]) : null;
}

/** Pending records of the buffer in `dir` (what the next process starts with), counted only. */
export async function countPending(dir: string): Promise<number> {
  let n = 0;
  for await (const _ of pendingRecords(dir)) n++;
  return n;
}

/** Sum of the sizes of every file under `<dataDir>/buffers/` now (a file deleted meanwhile counts 0). */
export async function bufferDirBytes(dataDir: string): Promise<number> {
  const root = join(dataDir, 'buffers');
  let sum = 0;
  const folders = await readdir(root).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return [] as string[];
    throw err;
  });
  for (const folder of folders) {
    const names = await readdir(join(root, folder)).catch(() => [] as string[]);
    for (const name of names) {
      const st = await stat(join(root, folder, name)).catch(() => null);
      if (st?.isFile()) sum += st.size;
    }
  }
  return sum;
}
