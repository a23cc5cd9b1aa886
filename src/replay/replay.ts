import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { errnoCode } from '../lib/errno.js';
import type { Logger } from '../log.js';
import type { OutputConfig } from '../outputs/registry.js';
import { wants } from '../recorder/recorder.js';
import type { RecorderConfig } from '../recorder-config/schema.js';
import { parseEventLine } from './envelope.js';
import { type LineItem, readLines } from './lines.js';
import type { ProgressSnapshot } from './progress.js';
import { type Selection, selects } from './selection.js';
import { ReplaySink } from './sink.js';

/** Malformed lines reported one by one; beyond that only counted. */
const MALFORMED_NOTES = 10;

export interface ReplayRequest {
  config: RecorderConfig;
  output: OutputConfig;
  files: readonly string[];
  selection: Selection;
  dryRun: boolean;
  logger: Logger;
  version: string;
  /** Notes for the operator (malformed lines, a partial last line, a file that broke off). */
  note: (text: string) => void;
  /** Aborted (SIGINT/SIGTERM): stop reading, give the output `shutdown_timeout` for what it holds. */
  signal?: AbortSignal;
}

export interface ReplaySummary {
  output: string;
  kind: OutputConfig['type'];
  dryRun: boolean;
  files: number;
  read: number;
  selected: number;
  delivered: number;
  failed: number;
  malformed: number;
  /** `failed` by reason (`rejected`, `retries_exhausted`, `shutdown`, ...). */
  failedBy: Record<string, number>;
  /** Files that could not be read to their end (a broken .gz, an I/O error). */
  unreadable: number;
  interrupted: boolean;
}

/** Exit status: 0 only when every selected event was delivered and every file read to its end. */
export function replayExitCode(s: ReplaySummary): number {
  if (s.interrupted || s.unreadable > 0 || s.failed > 0) return 1;
  return s.dryRun || s.delivered === s.selected ? 0 : 1;
}

/** The summary printed at the end; the first line is the one scripts and tests read. */
export function formatSummary(s: ReplaySummary): string {
  const head = s.dryRun
    ? `replay (dry run) to output "${s.output}" (${s.kind}): read ${s.read}, selected ${s.selected}, malformed ${s.malformed}; nothing sent`
    : `replay to output "${s.output}" (${s.kind}): read ${s.read}, selected ${s.selected}, delivered ${s.delivered}, failed ${s.failed}, malformed ${s.malformed}`;
  const lines = [head];
  const reasons = Object.entries(s.failedBy).sort(([a], [b]) => a.localeCompare(b));
  if (reasons.length > 0)
    lines.push(`  failed by reason: ${reasons.map(([r, n]) => `${r} ${n}`).join(', ')}`);
  if (s.unreadable > 0) lines.push(`  files not read to their end: ${s.unreadable}`);
  if (s.interrupted) lines.push('  interrupted: events not yet delivered were given up');
  return `${lines.join('\n')}\n`;
}

/** The output named `name`, or an error that lists the names there are. */
export function findOutput(config: RecorderConfig, name: string): OutputConfig | string {
  const found = config.outputs.find((o) => o.name === name);
  if (found) return found;
  const names = config.outputs.map((o) => `"${o.name}"`).join(', ') || 'none';
  return `no output named "${name}" in ${config.file} (outputs: ${names})`;
}

/**
 * Checks before anything is sent: every input is a readable regular file, and a file
 * output does not append to one of the files being read.
 */
export async function checkInputs(files: readonly string[], output: OutputConfig): Promise<string | null> {
  if (files.length === 0) return 'no FILE to replay';
  for (const file of files) {
    try {
      await access(file, constants.R_OK);
      if (!(await stat(file)).isFile()) return `cannot read ${file}: not a regular file`;
    } catch (err) {
      return `cannot read ${file}: ${errnoCode(err) ?? (err as Error).message}`;
    }
    if (output.type === 'file' && resolve(file) === resolve(output.path)) {
      return `output "${output.name}" appends to ${file}, which is one of the files to replay; replay into another output`;
    }
  }
  return null;
}

/** Sum of the input files' sizes, for progress. */
export async function inputSize(files: readonly string[]): Promise<number> {
  let total = 0;
  for (const file of files) total += (await stat(file)).size;
  return total;
}

/**
 * Reads the files in the order given and hands each selected event, byte for byte, to the
 * one output (docs/operations.md "Replaying the audit trail"). `progress` is kept current
 * for the reporter to pull.
 */
export async function replay(req: ReplayRequest, progress: ProgressSnapshot): Promise<ReplaySummary> {
  const summary: ReplaySummary = {
    output: req.output.name,
    kind: req.output.type,
    dryRun: req.dryRun,
    files: req.files.length,
    read: 0,
    selected: 0,
    delivered: 0,
    failed: 0,
    malformed: 0,
    failedBy: {},
    unreadable: 0,
    interrupted: false,
  };
  const sink = req.dryRun ? null : new ReplaySink(req.output, { logger: req.logger, version: req.version });
  sink?.start();
  const filter = req.output.filter;
  let malformedNoted = 0;
  const malformed = (file: string, lineNo: number, why: string): void => {
    summary.malformed++;
    if (malformedNoted++ < MALFORMED_NOTES) req.note(`${file}:${lineNo}: skipped: ${why}`);
    else if (malformedNoted === MALFORMED_NOTES + 1) req.note('further malformed lines are counted only');
  };
  const settled = (): number => (sink ? sink.handed - sink.pending() : summary.selected);
  let bytesBefore = 0;

  files: for (const file of req.files) {
    let fileBytes = 0;
    let lastLine = 0;
    const lines = readLines(file, (n) => {
      fileBytes = n;
      progress.inputBytes = bytesBefore + n;
    });
    try {
      for await (const item of lines) {
        if (req.signal?.aborted) {
          summary.interrupted = true;
          await lines.return(undefined);
          break files;
        }
        summary.read++;
        lastLine = item.lineNo;
        if (item.kind !== 'line') {
          malformed(file, item.lineNo, describeSkipped(item));
        } else {
          const parsed = parseEventLine(item.bytes.subarray(0, item.bytes.length - 1));
          if (!parsed.ok) {
            malformed(file, item.lineNo, parsed.reason);
          } else if (
            selects(req.selection, parsed.event, parsed.timestampMs) &&
            wants(filter, parsed.event)
          ) {
            if (sink && !(await sink.send(item.bytes, parsed.event, req.signal))) {
              summary.interrupted = true;
              await lines.return(undefined);
              break files;
            }
            summary.selected++;
          }
        }
        progress.read = summary.read;
        progress.selected = summary.selected;
        progress.settled = settled();
      }
    } catch (err) {
      summary.unreadable++;
      const code = errnoCode(err);
      req.note(
        `${file}: read stopped after line ${lastLine}: ${(err as Error).message}${code ? ` (${code})` : ''}`,
      );
    }
    bytesBefore += Math.max(fileBytes, 0);
    progress.inputBytes = bytesBefore;
  }
  if (req.signal?.aborted) summary.interrupted = true;

  if (sink) {
    const outcome = await sink.finish(req.config.shutdownTimeoutMs, req.signal);
    summary.delivered = outcome.delivered;
    summary.failed = outcome.failed;
    summary.failedBy = outcome.failedBy;
  }
  progress.settled = sink ? summary.delivered + summary.failed : summary.selected;
  return summary;
}

function describeSkipped(item: Exclude<LineItem, { kind: 'line' }>): string {
  return item.kind === 'partial'
    ? `partial last line (${item.size} bytes, no newline)`
    : `line longer than the limit (${item.size} bytes)`;
}
