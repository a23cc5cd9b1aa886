import { type Labels, parsePromText, sampleSum } from '../helpers/metrics.js';
import { waitFor } from '../helpers/wait.js';
import type { DaemonProcess } from './processes.js';

/** The docs/metrics.md names, with the daemon's prefix. */
const P = 'coroot_event_recorder_';
export const M = {
  received: `${P}events_received_total`,
  recorderDropped: `${P}events_dropped_total`,
  outputEvents: `${P}output_events_total`,
  outputDrops: `${P}output_drops_total`,
  outputQueue: `${P}output_queue_length`,
  ingestRequests: `${P}ingest_requests_total`,
  ingestRejected: `${P}ingest_rejected_total`,
} as const;

/** One output's books from one /metrics snapshot. */
export interface OutputBooks {
  output: string;
  /** Events the output was handed: events_received_total (no output here filters). */
  handed: number;
  written: number;
  failed: number;
  dropped: number;
  /** output_drops_total by reason. */
  dropsByReason: Record<string, number>;
  pending: number;
  /** handed - written - Σ drops by reason - pending: 0 when the books balance exactly. */
  imbalance: number;
}

export interface Books {
  /** Every event recorded, the daemon's own lifecycle events (`source: recorder`) included. */
  received: number;
  /** Any metric of the same snapshot, summed over the series matching `labels`. */
  sample: (name: string, labels?: Labels) => number;
  recorderDropped: number;
  outputs: OutputBooks[];
}

/** Reads every output's books from one /metrics text (one scrape is one consistent snapshot). */
export function books(text: string): Books {
  const samples = parsePromText(text);
  const received = sampleSum(text, M.received);
  const names = [
    ...new Set(samples.filter((s) => s.name === M.outputQueue).map((s) => s.labels.output as string)),
  ];
  const outputs = names.sort().map((output): OutputBooks => {
    const dropsByReason: Record<string, number> = {};
    for (const s of samples) {
      if (s.name === M.outputDrops && s.labels.output === output && s.value > 0) {
        dropsByReason[s.labels.reason as string] = s.value;
      }
    }
    const written = sampleSum(text, M.outputEvents, { output, result: 'written' });
    const pending = sampleSum(text, M.outputQueue, { output });
    const drops = Object.values(dropsByReason).reduce((a, b) => a + b, 0);
    return {
      output,
      handed: received,
      written,
      failed: sampleSum(text, M.outputEvents, { output, result: 'failed' }),
      dropped: sampleSum(text, M.outputEvents, { output, result: 'dropped' }),
      dropsByReason,
      pending,
      imbalance: received - written - drops - pending,
    };
  });
  return {
    received,
    sample: (name, labels) => sampleSum(text, name, labels),
    recorderDropped: sampleSum(text, M.recorderDropped),
    outputs,
  };
}

/** Waits until the recorder queue is empty and the outputs `drained` picks have nothing pending; returns that snapshot. */
export async function waitDrained(
  daemon: DaemonProcess,
  drained: (o: OutputBooks) => boolean,
  timeoutMs: number,
): Promise<Books> {
  let last: Books | null = null;
  try {
    return await waitFor(
      async () => {
        last = books(await daemon.metrics());
        // The recorder queue too: events still in it were received but not yet handed to any
        // output, so a snapshot then would show every output short by that many.
        const queued = last.sample(`${P}queue_length`);
        return queued === 0 && last.outputs.filter(drained).every((o) => o.pending === 0) ? last : null;
      },
      { timeoutMs, intervalMs: 100, what: 'the outputs to drain' },
    );
  } catch (err) {
    const pending = (last as Books | null)?.outputs.map((o) => `${o.output}: ${o.pending}`).join(', ');
    throw new Error(`${(err as Error).message}; pending: ${pending ?? 'unknown'}`);
  }
}

/** `name: handed = written + drops by reason + pending`, for a note. */
export function describeBooks(o: OutputBooks): string {
  const drops = Object.entries(o.dropsByReason)
    .map(([reason, n]) => ` + ${n} ${reason}`)
    .join('');
  return `${o.output}: ${o.handed} = ${o.written} written${drops} + ${o.pending} pending${o.imbalance === 0 ? '' : ` (off by ${o.imbalance})`}`;
}
