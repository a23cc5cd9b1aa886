import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../recorder-config/load.js';
import { formatReports, inspectDataDir, verifyFindings } from './report.js';

export const BUFFERS_USAGE = `Usage: coroot-event-recorder buffers --config FILE [--verify] [--data-dir DIR]

Lists the disk buffers under data_dir: output, records pending, bytes, oldest and newest
pending @timestamp, and whether a recorder is using it. Read-only: takes no lock, writes
nothing, so it is safe while the recorder runs.

Options:
  --config FILE     the recorder's YAML configuration (required)
  --verify          check the CRC of every record; report damage and exit 1 on it
  --data-dir DIR    look here instead of the config's data_dir: a copy of a data_dir taken
                    elsewhere (a backup, a volume snapshot mounted on another path)
  --help            print this help and exit

Exit status: 0 listed (and, with --verify, no damage); 1 damage found; 2 bad flags or config.
`;

export interface BuffersIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** `coroot-event-recorder buffers ...`: returns the exit status. */
export async function runBuffersCommand(args: string[], io: BuffersIo): Promise<number> {
  const usage = (message: string): number => {
    io.stderr.write(`coroot-event-recorder buffers: ${message}\n\n${BUFFERS_USAGE}`);
    return 2;
  };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: 'string' },
        verify: { type: 'boolean' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return usage((err as Error).message);
  }
  if (values.help) {
    io.stdout.write(BUFFERS_USAGE);
    return 0;
  }
  const configFile = values.config as string | undefined;
  if (!configFile) return usage('--config FILE is required');
  const loaded = await loadConfigFile(configFile);
  if (!loaded.ok) {
    for (const issue of loaded.issues) io.stderr.write(`${issue.toString()}\n`);
    io.stderr.write(`coroot-event-recorder buffers: ${loaded.issues.length} error(s) in ${configFile}\n`);
    return 2;
  }
  const flagDir = values['data-dir'] as string | undefined;
  const dataDir = flagDir !== undefined ? resolve(flagDir) : loaded.config.dataDir;
  if (dataDir === null) {
    io.stderr.write(
      `coroot-event-recorder buffers: ${configFile} sets no data_dir, where disk buffers live; set it or pass --data-dir\n`,
    );
    return 2;
  }
  const reports = await inspectDataDir(
    dataDir,
    loaded.config.outputs.map((o) => o.name),
  );
  io.stdout.write(formatReports(dataDir, reports));
  if (values.verify !== true) return 0;
  const findings = verifyFindings(reports);
  for (const f of findings) io.stdout.write(`${f.fatal ? 'DAMAGED' : 'note'}: ${f.text}\n`);
  const damaged = new Set(findings.filter((f) => f.fatal).map((f) => f.folder)).size;
  const records = reports.reduce((n, r) => n + r.inspection.segments.reduce((m, s) => m + s.records, 0), 0);
  io.stdout.write(
    damaged === 0
      ? `verify: ${records} records in ${reports.length} buffer(s), every checksum good\n`
      : `verify: ${damaged} of ${reports.length} buffer(s) damaged\n`,
  );
  return damaged === 0 ? 0 : 1;
}
