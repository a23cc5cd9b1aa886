/*
 * The books of one daemon process (one lifetime between two restarts), checked on every
 * /metrics scrape the soak takes of it, not only at the end: a SIGKILLed process has no end.
 *
 * docs/metrics.md "The invariant": per process, for every output,
 *
 *   events it took + backlog at start = written + failed + dropped + output_queue_length
 *
 * where "events it took" is events_received_total (no output filters) less what still waits
 * in the recorder queue (queue_length), and the backlog at start is what the previous process
 * left in the output's disk buffer (0 for the file output and for the first process).
 *
 * Why this holds on any scrape, idle or not: the recorder counts an event received when it
 * queues it and hands it to every output synchronously in one turn of the write loop; an
 * output puts it in its buffer (output_queue_length) in that same turn and moves it out
 * together with counting it written/failed/dropped. The daemon reads every value of a scrape
 * in one turn of its event loop (the gauges are refreshed at scrape time), so no event can be
 * between two counters in a snapshot. The last scrape before a SIGKILL is therefore a complete
 * set of books as far as that process could tell at that instant; what it did after that scrape
 * is accounted for by what the next process finds on disk (the reconciliation in soak.ts).
 */
import { books, type OutputBooks } from '../bench/accounting.js';
import { sampleSum } from '../helpers/metrics.js';

const P = 'coroot_event_recorder_';
const MAX_KEPT = 5;

export interface ProcessSnapshot {
  at: number;
  received: number;
  recorderQueue: number;
  outputs: OutputBooks[];
  /** output_buffer_bytes / output_buffer_max_bytes of the disk-buffered outputs. */
  bufferBytes: Record<string, number>;
  bufferMaxBytes: Record<string, number>;
  /** Ingest requests refused with 503 because the queue was full, and ingested events. */
  queueFullRequests: number;
  ingested: number;
  fileReopens: number;
}

export class ProcessBooks {
  /** Scrapes checked, and the first few that did not balance. */
  snapshots = 0;
  readonly imbalances: string[] = [];
  /** A disk buffer above its max_size in some scrape. */
  readonly overMax: string[] = [];
  last: ProcessSnapshot | null = null;
  first: ProcessSnapshot | null = null;

  constructor(
    /** 1, 2, 3: the order of the daemon processes in the run. */
    readonly n: number,
    readonly pid: number,
    /** The backlog found on disk before the process started, per output (absent: 0). */
    readonly backlogAtStart: Readonly<Record<string, number>>,
    readonly startedAt: number,
  ) {}

  /** Checks one scrape of this process and keeps it as the latest. */
  check(text: string): ProcessSnapshot {
    const b = books(text);
    const recorderQueue = sampleSum(text, `${P}queue_length`);
    const snap: ProcessSnapshot = {
      at: Date.now(),
      received: b.received,
      recorderQueue,
      outputs: b.outputs,
      bufferBytes: {},
      bufferMaxBytes: {},
      queueFullRequests: sampleSum(text, `${P}ingest_rejected_total`, { reason: 'queue_full' }),
      ingested:
        sampleSum(text, `${P}events_received_total`, { source: 'coroot' }) +
        sampleSum(text, `${P}events_received_total`, { source: 'alertmanager' }),
      fileReopens: sampleSum(text, `${P}file_reopens_total`),
    };
    this.snapshots++;
    for (const o of b.outputs) {
      const backlog = this.backlogAtStart[o.output] ?? 0;
      // books().imbalance = received - written - Σ drops by reason - pending.
      const off = o.imbalance + backlog - recorderQueue;
      const droppedOrFailed = Object.values(o.dropsByReason).reduce((a, c) => a + c, 0);
      if ((off !== 0 || droppedOrFailed !== o.failed + o.dropped) && this.imbalances.length < MAX_KEPT)
        this.imbalances.push(
          `${o.output}: took ${o.handed} - ${recorderQueue} queued + ${backlog} backlog at start ≠ written ${o.written} + failed ${o.failed} + dropped ${o.dropped} (by reason ${droppedOrFailed}) + buffered ${o.pending} (off by ${off})`,
        );
      const maxBytes = sampleSum(text, `${P}output_buffer_max_bytes`, { output: o.output });
      if (maxBytes > 0) {
        const bytes = sampleSum(text, `${P}output_buffer_bytes`, { output: o.output });
        snap.bufferBytes[o.output] = bytes;
        snap.bufferMaxBytes[o.output] = maxBytes;
        if (bytes > maxBytes && this.overMax.length < MAX_KEPT)
          this.overMax.push(`${o.output}: output_buffer_bytes ${bytes} > max ${maxBytes}`);
      }
    }
    this.first ??= snap;
    this.last = snap;
    return snap;
  }

  output(name: string): OutputBooks | undefined {
    return this.last?.outputs.find((o) => o.output === name);
  }
}
