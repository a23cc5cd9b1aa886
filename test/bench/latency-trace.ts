/**
 * Reads a latency trace the daemon wrote with `CER_LATENCY_TRACE=PREFIX` (src/lib/latency-trace.ts)
 * and prints where acknowledged requests waited between arrival and answer, per segment:
 * parse (arrival → queued), queue (→ the write loop's turn began), loop (→ the turn ended),
 * toWrite (→ the file write holding the line began), write (the writev), toSettle (→ the commit
 * round settled), toAnswer (→ the answer). Then the slowest 1%, and how many of those overlap an
 * `fsync: interval` fdatasync or a GC pause.
 *
 *   npx tsx test/bench/latency-trace.ts /tmp/trace.12345.json [requests to skip, e.g. the warm-up]
 *
 * Event numbers match between the recorder and the file output only for a daemon whose one
 * output is an unfiltered file (the acks bench, scenario 9).
 */
import { readFileSync } from 'node:fs';
import { MARK } from '../../src/lib/latency-trace.js';

interface TraceFile {
  marks: number[];
  gc: number[];
  loopDelayMs: { p50: number; p99: number; max: number };
}

type Mark = [n: number, at: number];
type Segment = 'total' | 'parse' | 'queue' | 'loop' | 'toWrite' | 'write' | 'toSettle' | 'toAnswer';
const SEGMENTS: Segment[] = ['total', 'parse', 'queue', 'loop', 'toWrite', 'write', 'toSettle', 'toAnswer'];
type Row = Record<Segment, number> & { start: number };

/** The first mark whose n is at least `n` (marks of one kind have n in order). */
function firstAtLeast(marks: Mark[], n: number): Mark | undefined {
  let lo = 0;
  let hi = marks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((marks[mid] as Mark)[0] >= n) hi = mid;
    else lo = mid + 1;
  }
  return marks[lo];
}

/** The last mark at or before `at`. */
function lastBefore(marks: Mark[], at: number): Mark | undefined {
  let lo = 0;
  let hi = marks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((marks[mid] as Mark)[1] <= at) lo = mid + 1;
    else hi = mid;
  }
  return marks[lo - 1];
}

function percentile(values: number[], p: number): number {
  const s = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

function main(): void {
  const [file, skipArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: latency-trace.ts TRACE.json [requests to skip]');
  const trace = JSON.parse(readFileSync(file, 'utf8')) as TraceFile;
  const byKind = new Map<number, Mark[]>();
  for (let i = 0; i + 2 < trace.marks.length; i += 3) {
    const kind = trace.marks[i] as number;
    let list = byKind.get(kind);
    if (!list) {
      list = [];
      byKind.set(kind, list);
    }
    list.push([trace.marks[i + 1] as number, trace.marks[i + 2] as number]);
  }
  const of = (kind: number): Mark[] => byKind.get(kind) ?? [];
  const started = new Map(of(MARK.requestStart));
  const answered = new Map(of(MARK.answered));
  const [loopStarts, loopEnds, writes, written, settled] = [
    of(MARK.loopStart),
    of(MARK.loopEnd),
    of(MARK.writeStart),
    of(MARK.writeDone),
    of(MARK.settled),
  ];
  const rows: Row[] = [];
  for (const [n, queuedAt] of of(MARK.accepted)) {
    const start = started.get(n);
    const end = answered.get(n);
    const turnEnd = firstAtLeast(loopEnds, n);
    if (start === undefined || end === undefined || !turnEnd) continue;
    const turnStart = lastBefore(loopStarts, turnEnd[1]);
    const w0 = firstAtLeast(writes, n);
    const w1 = firstAtLeast(written, n);
    const s = firstAtLeast(settled, n);
    const nan = Number.NaN;
    rows.push({
      start,
      total: end - start,
      parse: queuedAt - start,
      queue: turnStart ? turnStart[1] - queuedAt : nan,
      loop: turnStart ? turnEnd[1] - turnStart[1] : nan,
      toWrite: w0 ? w0[1] - turnEnd[1] : nan,
      write: w0 && w1 ? w1[1] - w0[1] : nan,
      toSettle: w1 && s ? s[1] - w1[1] : nan,
      toAnswer: s ? end - s[1] : nan,
    });
  }
  rows.splice(0, Number(skipArg ?? 0));
  const f = (v: number) => v.toFixed(3).padStart(9);
  console.log(`${rows.length} requests; event-loop delay ms ${JSON.stringify(trace.loopDelayMs)}`);
  console.log(
    `${'segment'.padEnd(9)}${['p50', 'p90', 'p99', 'max'].map((h) => h.padStart(9)).join('')}  (ms)`,
  );
  for (const seg of SEGMENTS) {
    const v = rows.map((r) => r[seg]);
    console.log(`${seg.padEnd(9)}${[50, 90, 99, 100].map((p) => f(percentile(v, p))).join('')}`);
  }
  const p99 = percentile(
    rows.map((r) => r.total),
    99,
  );
  const slow = rows.filter((r) => r.total >= p99);
  console.log(`\nslowest 1% (${slow.length} requests, total >= ${p99.toFixed(2)} ms), mean per segment:`);
  for (const seg of SEGMENTS) {
    const v = slow.map((r) => r[seg]).filter((x) => !Number.isNaN(x));
    console.log(`${seg.padEnd(9)}${f(v.reduce((a, b) => a + b, 0) / Math.max(1, v.length))}`);
  }
  const syncStarts = of(MARK.syncStart);
  const syncEnds = of(MARK.syncDone);
  const syncs = syncStarts.map(([, a], i) => [a, syncEnds[i]?.[1] ?? Number.POSITIVE_INFINITY] as const);
  const gcs: Array<readonly [number, number]> = [];
  for (let i = 0; i + 1 < trace.gc.length; i += 2) {
    const at = trace.gc[i] as number;
    gcs.push([at, at + (trace.gc[i + 1] as number)]);
  }
  const overlapping = (spans: ReadonlyArray<readonly [number, number]>) =>
    slow.filter((r) => spans.some(([a, b]) => a < r.start + r.total && r.start < b)).length;
  console.log(
    `of those, overlapping an interval fdatasync: ${overlapping(syncs)}; a GC pause: ${overlapping(gcs)}`,
  );
  const dur = (spans: ReadonlyArray<readonly [number, number]>) => spans.map(([a, b]) => b - a);
  const line = (name: string, v: number[]) =>
    console.log(
      `${name}: ${v.length}, p50 ${percentile(v, 50).toFixed(2)} p99 ${percentile(v, 99).toFixed(2)} max ${percentile(v, 100).toFixed(2)} ms`,
    );
  line('interval fdatasyncs', dur(syncs));
  line('GC pauses', dur(gcs));
  line(
    'writes',
    writes.map(([, a], i) => (written[i]?.[1] ?? Number.NaN) - a),
  );
}

main();
