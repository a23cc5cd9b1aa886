import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks';

/**
 * Where a request is along the acknowledgement chain (docs/operations.md "Tracing the
 * acknowledgement path"). `n` is an event number: the recorder's (`accepted`, `handed`) or the
 * file output's count of lines taken, which is the same number for a daemon whose only output
 * is one unfiltered file.
 */
export const MARK = {
  /** The request's last event was queued (n: its number). */
  accepted: 0,
  /** A write-loop turn began (n: events handed on before it). */
  loopStart: 1,
  /** A write-loop turn ended (n: events handed on so far). */
  loopEnd: 2,
  /** The file output started a write (n: lines taken so far). */
  writeStart: 3,
  /** That write completed (n: as at its start). */
  writeDone: 4,
  /** The request was answered (n: as at `accepted`). */
  answered: 6,
  /** A commit round settled the waiters up to n. */
  settled: 8,
  /** An `fsync: interval` fdatasync began / ended. */
  syncStart: 9,
  syncDone: 10,
  /** When the request's handling began (n: as at `accepted`; the time is the request's start). */
  requestStart: 11,
} as const;

/**
 * A development aid, off unless `CER_LATENCY_TRACE=PREFIX` is set when the daemon starts: every
 * mark is kept in memory and written, with GC pauses and the event-loop delay, to
 * `PREFIX.<pid>.json` when the process exits. `npx tsx test/bench/latency-trace.ts FILE` reads it.
 * Off, each mark site costs one check of a constant.
 */
class LatencyTrace {
  private readonly marks: number[] = [];
  private readonly gc: number[] = [];
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 1 });

  constructor(private readonly file: string) {
    this.loopDelay.enable();
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.gc.push(e.startTime, e.duration);
    }).observe({ entryTypes: ['gc'] });
    process.on('exit', () => this.write());
  }

  mark(kind: number, n: number, at: number = performance.now()): void {
    this.marks.push(kind, n, at);
  }

  private write(): void {
    const d = this.loopDelay;
    const ms = (ns: number) => ns / 1e6;
    writeFileSync(
      this.file,
      JSON.stringify({
        marks: this.marks,
        gc: this.gc,
        loopDelayMs: { p50: ms(d.percentile(50)), p99: ms(d.percentile(99)), max: ms(d.max) },
      }),
    );
  }
}

const prefix = process.env.CER_LATENCY_TRACE;
export const TRACE: LatencyTrace | null = prefix ? new LatencyTrace(`${prefix}.${process.pid}.json`) : null;
