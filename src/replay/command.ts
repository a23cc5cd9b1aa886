import { parseArgs } from 'node:util';
import { isLogLevel, Logger } from '../log.js';
import { loadConfigFile } from '../recorder-config/load.js';
import { type ProgressSnapshot, type ProgressStream, startProgress } from './progress.js';
import { checkInputs, findOutput, formatSummary, inputSize, replay, replayExitCode } from './replay.js';
import { parseSelection } from './selection.js';

export const REPLAY_USAGE = `Usage: coroot-event-recorder replay --config FILE --output NAME [options] FILE...

Sends the events of JSONL audit files (plain or .gz, read in the order given) again through
one output of the config, byte for byte (same id, so consumers de-duplicate), with that
output's batching, retries and TLS. Never starts the listener, never touches other outputs.

Options:
  --config FILE        the recorder's YAML configuration (required)
  --output NAME        the output to send through (required)
  --since TIME         only events with @timestamp at or after TIME: RFC 3339 or a duration back from now (24h)
  --until TIME         only events with @timestamp before TIME (same forms)
  --type T,...         only these event types
  --source S,...       only these sources
  --dry-run            read and count, send nothing
  --log-level LEVEL    the output's own log lines: debug | info | warn | error (default warn)
  --help               print this help and exit

Exit status: 0 every selected event delivered; 1 some not delivered (or a file broke off, or
interrupted); 2 nothing sent: bad flags, invalid config, unknown output, unreadable file.
`;

export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: ProgressStream;
  version: string;
  /** Aborted on SIGINT/SIGTERM by the caller. */
  signal?: AbortSignal;
  /** Progress line interval when stderr is not a terminal (tests shorten it). */
  progressIntervalMs?: number;
}

/** `coroot-event-recorder replay ...`: returns the exit status. */
export async function runReplayCommand(args: string[], io: CommandIo): Promise<number> {
  const usage = (message: string): number => {
    io.stderr.write(`coroot-event-recorder replay: ${message}\n\n${REPLAY_USAGE}`);
    return 2;
  };
  let values: Record<string, string | boolean | undefined>;
  let files: string[];
  try {
    ({ values, positionals: files } = parseArgs({
      args,
      options: {
        config: { type: 'string' },
        output: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        type: { type: 'string' },
        source: { type: 'string' },
        'dry-run': { type: 'boolean' },
        'log-level': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    return usage((err as Error).message);
  }
  if (values.help) {
    io.stdout.write(REPLAY_USAGE);
    return 0;
  }
  const configFile = values.config as string | undefined;
  const outputName = values.output as string | undefined;
  if (!configFile) return usage('--config FILE is required');
  if (!outputName) return usage('--output NAME is required');
  if (files.length === 0) return usage('name at least one FILE to replay');
  const level = (values['log-level'] as string | undefined) ?? 'warn';
  if (!isLogLevel(level)) return usage(`--log-level must be debug, info, warn or error, got "${level}"`);
  const selection = parseSelection(
    {
      since: values.since as string | undefined,
      until: values.until as string | undefined,
      type: values.type as string | undefined,
      source: values.source as string | undefined,
    },
    Date.now(),
  );
  if (!selection.ok) return usage(selection.error);

  const loaded = await loadConfigFile(configFile);
  if (!loaded.ok) {
    for (const issue of loaded.issues) io.stderr.write(`${issue.toString()}\n`);
    io.stderr.write(`coroot-event-recorder replay: ${loaded.issues.length} error(s) in ${configFile}\n`);
    return 2;
  }
  const output = findOutput(loaded.config, outputName);
  if (typeof output === 'string') {
    io.stderr.write(`coroot-event-recorder replay: ${output}\n`);
    return 2;
  }
  const inputProblem = await checkInputs(files, output);
  if (inputProblem) {
    io.stderr.write(`coroot-event-recorder replay: ${inputProblem}\n`);
    return 2;
  }

  const snapshot: ProgressSnapshot = {
    inputBytes: 0,
    inputTotal: await inputSize(files),
    read: 0,
    selected: 0,
    settled: 0,
  };
  const progress = startProgress(io.stderr, () => snapshot, { lineIntervalMs: io.progressIntervalMs });
  const logger = new Logger(level, (line) => progress.log(line));
  try {
    const summary = await replay(
      {
        config: loaded.config,
        output,
        files,
        selection: selection.selection,
        dryRun: values['dry-run'] === true,
        logger,
        version: io.version,
        note: (text) => progress.log(text),
        signal: io.signal,
      },
      snapshot,
    );
    progress.stop();
    io.stdout.write(formatSummary(summary));
    return replayExitCode(summary);
  } catch (err) {
    progress.stop();
    throw err;
  }
}
