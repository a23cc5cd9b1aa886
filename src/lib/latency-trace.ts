import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks';

/** Temporary latency trace (CER_LATENCY_TRACE=FILE): marks along the ack chain, dumped at exit. */
class Trace {
  readonly marks: number[][] = [];
  readonly gc: number[][] = [];
  readonly eld = monitorEventLoopDelay({ resolution: 1 });
  constructor(private readonly file: string) {
    this.eld.enable();
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1;
        this.gc.push([e.startTime, e.duration, kind]);
      }
    });
    obs.observe({ entryTypes: ['gc'] });
    process.on('exit', () => this.dump());
  }
  /** kind: 0 accept(seq) 1 loopStart(handedBefore) 2 handed(upTo) 3 writeStart(takenUpTo) 4 writeDone(takenUpTo) 5 syncDone 6 answered(seq) 7 fileKick 8 settleDone(upTo) 9 fsyncIntervalStart 10 fsyncIntervalDone */
  mark(kind: number, n: number, t: number = performance.now()): void {
    this.marks.push([kind, n, t]);
  }
  dump(): void {
    const e = this.eld;
    writeFileSync(
      this.file,
      JSON.stringify({
        marks: this.marks,
        gc: this.gc,
        eld: { p50: e.percentile(50) / 1e6, p99: e.percentile(99) / 1e6, max: e.max / 1e6 },
      }),
    );
  }
}

export const TRACE: Trace | null = process.env.CER_LATENCY_TRACE
  ? new Trace(`${process.env.CER_LATENCY_TRACE}.${process.pid}.json`)
  : null;
