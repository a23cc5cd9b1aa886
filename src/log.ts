/**
 * Structured JSON logs on stderr, one object per line. Hand-written because the need is
 * small (level filter + one JSON line) and a logging framework would bring its own
 * transport threads into a process whose hot path must stay predictable.
 */

import { errnoCode } from './lib/errno.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, unknown>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogSink = (line: string) => void;

export class Logger {
  private minRank: number;

  constructor(
    level: LogLevel = 'info',
    // A destroyed stderr (its reader went away) takes no more writes; see cmd/ for why.
    private readonly sink: LogSink = (line) => {
      if (!process.stderr.destroyed) process.stderr.write(line);
    },
    private readonly bound: LogFields = {},
  ) {
    this.minRank = RANK[level];
  }

  /** A logger that adds `fields` to every line (e.g. `{ output: name }`). */
  child(fields: LogFields): Logger {
    const child = new Logger('info', this.sink, { ...this.bound, ...fields });
    child.minRank = this.minRank;
    return child;
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.minRank;
  }

  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[level] < this.minRank) return;
    const record: LogFields = { ts: new Date().toISOString(), level, msg, ...this.bound, ...fields };
    let line: string;
    try {
      line = JSON.stringify(record, errorReplacer);
    } catch {
      line = JSON.stringify({ ts: record.ts, level, msg, note: 'fields not serializable' });
    }
    this.sink(`${line}\n`);
  }
}

/** Errors have no enumerable fields; log their message (never the stack of user input). */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = errnoCode(value);
    return code ? { message: value.message, code } : { message: value.message };
  }
  return value;
}

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** A logger that discards everything: for unit tests and benches. */
export const silentLogger = new Logger('error', () => {});
