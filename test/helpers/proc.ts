/*
 * What the soak and the bench read about the daemon process from /proc (Linux): memory, CPU
 * time and open descriptors. Readings are taken from outside the process so they see what the kernel
 * sees, not what Node thinks it holds.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface MemoryReading {
  /** VmRSS: resident now, bytes. */
  rss: number;
  /** VmHWM: the peak resident size since the process started, bytes. */
  hwm: number;
}

/** VmRSS and VmHWM of `pid`, in bytes. */
export async function memoryOf(pid: number): Promise<MemoryReading> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return { rss: statusKb(status, 'VmRSS') * 1024, hwm: statusKb(status, 'VmHWM') * 1024 };
}

function statusKb(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc status`);
  return Number(m[1]);
}

/** utime + stime of `pid` from /proc/PID/stat, in seconds (clock ticks are 1/100 s on Linux). */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * The targets of every open descriptor of `pid` (`socket:[123]`, `/path/file`, `anon_inode:…`).
 * A descriptor closed between the listing and its readlink is skipped.
 */
export async function openFds(pid: number): Promise<string[]> {
  const dir = `/proc/${pid}/fd`;
  const names = await readdir(dir);
  const targets = await Promise.all(names.map((n) => readlink(`${dir}/${n}`).catch(() => null)));
  return targets.filter((t): t is string => t !== null).sort();
}

/** Samples a process's memory on a timer, keeping the largest VmRSS seen and the last reading. */
export class MemorySampler {
  peakRss = 0;
  last: MemoryReading | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pid: number,
    private readonly everyMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  async sample(): Promise<MemoryReading | null> {
    // The process may be gone (that is reported elsewhere); a missing reading is not an error here.
    const reading = await memoryOf(this.pid).catch(() => null);
    if (reading) {
      this.last = reading;
      this.peakRss = Math.max(this.peakRss, reading.rss);
    }
    return reading;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
