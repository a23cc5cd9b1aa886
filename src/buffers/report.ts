import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { bufferDirName } from '../outputs/delivery/disk/dir-name.js';
import { type BufferInspection, inspectBuffer } from '../outputs/delivery/disk/inspect.js';

/** What `buffers` shows of one disk buffer folder under `<data_dir>/buffers/`. */
export interface BufferReport {
  /** The output the folder belongs to, or null when no output of the config has that folder. */
  readonly output: string | null;
  readonly folder: string;
  readonly inspection: BufferInspection;
}

/** A problem `--verify` reports; `fatal` ones make it exit non-zero. */
export interface VerifyFinding {
  readonly folder: string;
  readonly text: string;
  readonly fatal: boolean;
}

const TORN = 'torn record at end of file';

/**
 * Every disk buffer folder under `<dataDir>/buffers/`, inspected read-only (no lock taken,
 * nothing written: safe while the recorder runs), oldest folder name first. Folders are
 * matched to the config's outputs by the same name rule the outputs use.
 */
export async function inspectDataDir(
  dataDir: string,
  outputNames: readonly string[],
): Promise<BufferReport[]> {
  const root = join(dataDir, 'buffers');
  let folders: string[];
  try {
    folders = (await readdir(root, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const byFolder = new Map(outputNames.map((name) => [bufferDirName(name), name]));
  const reports: BufferReport[] = [];
  for (const folder of folders.sort()) {
    reports.push({
      output: byFolder.get(folder) ?? null,
      folder,
      inspection: await inspectBuffer(join(root, folder)),
    });
  }
  return reports;
}

/**
 * What a CRC check of every record found. Damage is fatal, except a torn record at the end of
 * the newest segment while a live recorder holds the buffer: that is a write in progress.
 */
export function verifyFindings(reports: readonly BufferReport[]): VerifyFinding[] {
  const findings: VerifyFinding[] = [];
  for (const { folder, inspection } of reports) {
    const newest = inspection.segments.at(-1)?.file;
    for (const d of inspection.damage) {
      const writing = d.why === TORN && d.file === newest && inspection.lock?.alive === true;
      const where = `${folder}/${d.file} at offset ${d.offset}`;
      findings.push(
        writing
          ? {
              folder,
              text: `${where}: ${d.why} (being written by pid ${inspection.lock?.pid})`,
              fatal: false,
            }
          : {
              folder,
              text: `${where}: ${d.why}; the records after it in this segment are lost`,
              fatal: true,
            },
      );
    }
  }
  return findings;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

function holder(i: BufferInspection): string {
  if (!i.lock) return 'not running';
  return i.lock.alive ? `in use by pid ${i.lock.pid}` : `stale lock of pid ${i.lock.pid}`;
}

/** The table `buffers` prints: one row per buffer. */
export function formatReports(dataDir: string, reports: readonly BufferReport[]): string {
  if (reports.length === 0) return `no disk buffers under ${join(dataDir, 'buffers')}\n`;
  const rows = [['OUTPUT', 'PENDING', 'BYTES', 'OLDEST PENDING', 'NEWEST PENDING', 'STATE']];
  for (const r of reports) {
    const i = r.inspection;
    rows.push([
      r.output ?? `${r.folder} (no such output in the config)`,
      String(i.pending),
      size(i.bytes),
      i.oldestPendingTimestamp ?? '-',
      i.newestPendingTimestamp ?? '-',
      holder(i),
    ]);
  }
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length))) ?? [];
  return `${rows
    .map((row) =>
      row
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}
