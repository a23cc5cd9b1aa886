import { MultiBar, type SingleBar } from 'cli-progress';

/** What replay has done so far; the reporter pulls it on its own schedule. */
export interface ProgressSnapshot {
  /** Bytes read from the input files (compressed bytes for .gz files). */
  inputBytes: number;
  /** Sum of the input files' sizes on disk. */
  inputTotal: number;
  /** Lines read. */
  read: number;
  /** Events selected. */
  selected: number;
  /** Selected events that are delivered or given up (counted at once under --dry-run). */
  settled: number;
}

export interface Progress {
  /** Prints a line (a note, a log record) without breaking the bar. */
  log(text: string): void;
  stop(): void;
}

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A rate over the last few seconds of samples of a growing count. */
export class RateMeter {
  private readonly samples: Array<{ t: number; n: number }> = [];

  constructor(private readonly windowMs = 5000) {}

  /** Adds a sample and returns the rate per second over the window (0 until two samples exist). */
  sample(n: number, t: number): number {
    this.samples.push({ t, n });
    while (this.samples.length > 2 && t - (this.samples[0] as { t: number }).t > this.windowMs) {
      this.samples.shift();
    }
    const first = this.samples[0] as { t: number; n: number };
    const dt = (t - first.t) / 1000;
    return dt > 0 ? (n - first.n) / dt : 0;
  }
}

/** `12s`, `3m05s`, `1h02m`; `?` when unknown. */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The line printed every few seconds when stderr is not a terminal. */
export function progressLine(s: ProgressSnapshot, eventRate: number, byteRate: number): string {
  const pct = s.inputTotal > 0 ? Math.floor((100 * s.inputBytes) / s.inputTotal) : 100;
  const eta = byteRate > 0 ? formatEta((s.inputTotal - s.inputBytes) / byteRate) : '?';
  return (
    `replay: ${pct}% of input read, ${s.read} lines, ${s.selected} selected, ` +
    `${s.settled} done, ${Math.round(eventRate)} events/s, ETA ${eta}`
  );
}

/**
 * Progress on `stream` (stderr): a bar with events, rate and ETA on a terminal (cli-progress,
 * redrawn a few times a second); otherwise one line every `lineIntervalMs`, which a log
 * file or CI output can take.
 */
export function startProgress(
  stream: ProgressStream,
  snapshot: () => ProgressSnapshot,
  opts: { lineIntervalMs?: number; now?: () => number } = {},
): Progress {
  const now = opts.now ?? Date.now;
  const events = new RateMeter();
  const bytes = new RateMeter();
  if (stream.isTTY !== true) {
    const timer = setInterval(() => {
      const s = snapshot();
      const t = now();
      stream.write(`${progressLine(s, events.sample(s.settled, t), bytes.sample(s.inputBytes, t))}\n`);
    }, opts.lineIntervalMs ?? 5000);
    timer.unref();
    return {
      log: (text) => void stream.write(text.endsWith('\n') ? text : `${text}\n`),
      stop: () => clearInterval(timer),
    };
  }
  const multi = new MultiBar({
    stream: stream as NodeJS.WritableStream,
    format: 'replay {bar} {percentage}% | {settled} events | {rate} events/s | ETA {eta_formatted}',
    barsize: 30,
    etaBuffer: 50,
    hideCursor: true,
    fps: 5,
  });
  const first = snapshot();
  const bar: SingleBar = multi.create(Math.max(1, first.inputTotal), 0, { settled: 0, rate: 0 });
  const update = (): void => {
    const s = snapshot();
    const rate = Math.round(events.sample(s.settled, now()));
    bar.setTotal(Math.max(1, s.inputTotal));
    bar.update(s.inputBytes, { settled: s.settled, rate });
  };
  const timer = setInterval(update, 200);
  timer.unref();
  return {
    log: (text) => multi.log(text.endsWith('\n') ? text : `${text}\n`),
    stop: () => {
      clearInterval(timer);
      update();
      // A redraw prints notes still waiting in cli-progress's log buffer; stop does not.
      multi.update();
      multi.stop();
    },
  };
}
