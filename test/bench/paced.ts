import { closeSync, type FSWatcher, openSync, readSync, statSync, watch } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { ALERT_BODY } from './processes.js';
import { percentile } from './stats.js';

/**
 * A load generator at a fixed request rate that also watches the JSONL file: for every
 * request it knows when it was sent, when the 202 came back, and when its line became
 * readable in the file.
 *
 * Each request is a Coroot alert whose URL carries a unique id (`?alert=bench<n>`); the
 * normalized event keeps the URL, so the line names its request. The file is tailed with
 * fs.watch (inotify: woken on every write) and each wake-up reads every new byte at once;
 * a line's time is the moment the read that returned it completed. A line may name several
 * requests (a webhook receiver appends each batch's body, a JSON array, as one line).
 */

const MARK = 'alert=bench';

/** The Coroot alert of the ingest benches, its URL made unique to the request. */
const TEMPLATE = JSON.parse(ALERT_BODY) as Record<string, unknown>;
function corootBody(id: number): string {
  return JSON.stringify({ ...TEMPLATE, url: `https://coroot.example.com/p/x0xwl4jz/alerts?${MARK}${id}` });
}

function cpuSeconds(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1e6;
}

/** Reads lines appended to a file from where it ended at construction. */
class FileTail {
  private readonly fd: number;
  private position: number;
  private partial = '';
  private readonly buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  private readonly watcher: FSWatcher;
  private waiter: (() => void) | null = null;

  constructor(
    path: string,
    startAt: number,
    private readonly onId: (id: number, at: number) => void,
  ) {
    this.fd = openSync(path, 'r');
    this.position = startAt;
    this.watcher = watch(path, () => this.readNew());
  }

  /** Reads until end of file; every complete line found is reported with the time of this read. */
  readNew(): void {
    for (;;) {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, this.position);
      if (n === 0) break;
      const at = performance.now();
      this.position += n;
      const text = this.partial + this.buf.toString('latin1', 0, n);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        for (let i = text.indexOf(MARK, start); i >= 0 && i < nl; i = text.indexOf(MARK, i + MARK.length))
          this.onId(Number.parseInt(text.slice(i + MARK.length, i + MARK.length + 12), 10), at);
        start = nl + 1;
      }
      this.partial = text.slice(start);
    }
    this.waiter?.();
  }

  /** Resolves at the next change of the file (or at once if `ready()`), or after `ms`. */
  async waitChange(ready: () => boolean, ms: number): Promise<void> {
    this.readNew();
    if (ready()) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.waiter = null;
  }

  close(): void {
    this.watcher.close();
    closeSync(this.fd);
  }
}

export interface PacedFigures {
  /** Rate asked for and rate achieved over the measured phase. */
  offeredRate: number;
  achievedRate: number;
  sent: number;
  /** From the first send until every answer and line was in (or the grace period ended). */
  elapsedSec: number;
  /** CPU this process (the load generator and the tail) used over `elapsedSec`, in cores. */
  clientCpu: number;
  /** Over the measured phase: send → line readable. */
  e2e: { p50: number; p99: number; max: number };
  /** Over the measured phase: send → response. */
  response: { p50: number; p99: number; max: number };
  /** Measured requests answered 202 whose line never appeared within the grace period. */
  missingLines: number;
  /**
   * Measured requests sent and still without an answer (neither a status nor an error) when
   * the grace period ended: their latency is unknown, so they are in no figure above.
   */
  unanswered: number;
  non202: number;
  errors: number;
}

/** Cumulative counts over every phase run by one client (warm-up included). */
export interface ClientTotals {
  sent: number;
  ok202: number;
  non202: number;
  errors: number;
}

export class PacedClient {
  private readonly pool: Pool;
  private nextId = 1;
  readonly totals: ClientTotals = { sent: 0, ok202: 0, non202: 0, errors: 0 };

  constructor(
    baseUrl: string,
    private readonly filePath: string,
    connections = 64,
  ) {
    this.pool = new Pool(baseUrl, { connections, pipelining: 1 });
  }

  /**
   * Sends `rate` requests/s for `durationSec`, in 1 ms ticks (each tick sends what is due
   * by then), then waits for the answers and lines still missing: it returns as soon as
   * all are in, and gives up after `graceMs` (lines missing then are reported as lost,
   * requests still unanswered as `unanswered`).
   */
  async run(rate: number, durationSec: number, graceMs = 30_000): Promise<PacedFigures> {
    const { size } = statSync(this.filePath);
    const sentAt = new Map<number, number>();
    const e2e: number[] = [];
    const response: number[] = [];
    /** Ids answered 202 whose line has not been seen yet. */
    const awaitingLine = new Set<number>();
    const tail = new FileTail(this.filePath, size, (id, at) => {
      const t = sentAt.get(id);
      if (t === undefined) return; // a line of another phase
      sentAt.delete(id);
      awaitingLine.delete(id);
      e2e.push(at - t);
    });
    let non202 = 0;
    let errors = 0;
    let inFlight = 0;
    const send = (): void => {
      const id = this.nextId++;
      const t = performance.now();
      sentAt.set(id, t);
      inFlight++;
      this.totals.sent++;
      this.pool
        .request({
          path: '/api/v1/coroot',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: corootBody(id),
        })
        .then(async (res) => {
          await res.body.dump();
          response.push(performance.now() - t);
          if (res.statusCode === 202) {
            this.totals.ok202++;
            if (sentAt.has(id)) awaitingLine.add(id);
          } else {
            this.totals.non202++;
            non202++;
            sentAt.delete(id);
          }
        })
        .catch(() => {
          this.totals.errors++;
          errors++;
          sentAt.delete(id);
        })
        .finally(() => {
          inFlight--;
        });
    };
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const end = t0 + durationSec * 1000;
    let sent = 0;
    try {
      await new Promise<void>((resolve) => {
        const tick = (): void => {
          const now = performance.now();
          const due = Math.floor(((Math.min(now, end) - t0) / 1000) * rate);
          while (sent < due) {
            send();
            sent++;
          }
          if (now >= end) resolve();
          else setTimeout(tick, 1);
        };
        tick();
      });
      const elapsed = (performance.now() - t0) / 1000;
      // Wait for the answers and the lines of accepted requests, up to the grace period.
      const deadline = performance.now() + graceMs;
      const done = (): boolean => inFlight === 0 && awaitingLine.size === 0;
      while (performance.now() < deadline && !done()) await tail.waitChange(done, 20);
      const elapsedSec = (performance.now() - t0) / 1000;
      const sortedE2e = e2e.sort((a, b) => a - b);
      const sortedResp = response.sort((a, b) => a - b);
      const pick = (s: number[]) => ({
        p50: percentile(s, 50),
        p99: percentile(s, 99),
        max: s.length > 0 ? (s[s.length - 1] as number) : Number.NaN,
      });
      return {
        offeredRate: rate,
        achievedRate: sent / elapsed,
        sent,
        elapsedSec,
        clientCpu: cpuSeconds(process.cpuUsage(cpu0)) / elapsedSec,
        e2e: pick(sortedE2e),
        response: pick(sortedResp),
        missingLines: awaitingLine.size,
        unanswered: inFlight,
        non202,
        errors,
      };
    } finally {
      tail.close();
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
