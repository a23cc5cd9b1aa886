/**
 * The buffer behind a delivering output (webhook, Kafka): where the write loop's events wait
 * until the output has delivered them. A memory buffer and a disk buffer implement the same
 * interface, so the delivery core (read → batch → send → retry → acknowledge) does not know
 * which one it drives. docs/architecture.md ("Delivery core") explains the flow.
 */

/** What delivery needs of an event without parsing its JSON again (Kafka keys and headers, CloudEvents attributes). */
export interface EventMeta {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly fingerprint: string;
  readonly timestamp: string;
  readonly instance: string;
}

/** One buffered event as the delivery core reads it. */
export interface BufferedRecord {
  /** Assigned by the buffer at push: strictly increasing, never reused (a disk buffer keeps counting across restarts). */
  readonly seq: number;
  /** The serialized event exactly as the write loop produced it: JSON followed by `\n`. */
  readonly line: Buffer;
  readonly meta: EventMeta;
}

export interface DeliveryBuffer {
  readonly type: 'memory' | 'disk';
  /**
   * Synchronous and O(1): never awaits. False (nothing stored) when the buffer has no room;
   * the caller then applies `when_full`. A disk buffer stages the record and commits it
   * asynchronously (see `committed`).
   */
  push(line: Buffer, meta: EventMeta): boolean;
  /** True when a `push` now would return false. */
  readonly full: boolean;
  /**
   * Calls `listener` whenever room may have been freed (records handed out or acknowledged,
   * disk space freed, writes succeeding again, close), so a `when_full: block` output can wake
   * the write loop without polling. Returns the unsubscribe function.
   */
  onRoom(listener: () => void): () => void;
  /**
   * Resolves once every record pushed before the call is as durable as this buffer makes
   * it (memory: at once; disk: written, and fdatasync'ed under `sync: full`). Acknowledgements
   * to senders wait on this; one commit serves every caller that arrived while it ran.
   */
  committed(): Promise<void>;
  /**
   * The next records in order that no earlier `read` handed out, at most `maxEvents` and, after
   * the first, at most `maxBytes` of lines. Waits until at least one exists; resolves `[]` once
   * the buffer is closing. A disk buffer reads ahead a bounded amount, never the whole backlog.
   */
  read(maxEvents: number, maxBytes: number): Promise<BufferedRecord[]>;
  /**
   * The delivery of these records is finished (delivered, or given up and counted): they
   * leave the buffer. Safe out of order (several workers): a disk buffer advances its ledger
   * only past records all of whose predecessors are acknowledged too.
   */
  ack(records: readonly BufferedRecord[]): void;
  /** Records pushed and not yet acknowledged (`output_queue_length`). */
  readonly length: number;
  /** Bytes held (`output_buffer_bytes`): lines in memory, or segment files on disk. */
  readonly bytes: number;
  /** The bound on `bytes` for a disk buffer (`output_buffer_max_bytes`); null for memory. */
  readonly maxBytes: number | null;
  /** Why a disk buffer cannot write now (ENOSPC…), or null; a memory buffer has none. */
  readonly problem?: string | null;
  /**
   * Stop: pending `read`s resolve `[]`. A memory buffer discards what it holds and returns
   * how many records that was (the caller counts them as `shutdown`); a disk buffer commits,
   * releases its files and lock, keeps its records for the next start, and returns 0.
   */
  close(): Promise<number>;
}
