#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { runBuffersCommand } from '../src/buffers/command.js';
import { Daemon } from '../src/daemon.js';
import { isLogLevel, Logger } from '../src/log.js';
import { OUTPUT_TYPES } from '../src/outputs/registry.js';
import { loadConfigFile } from '../src/recorder-config/load.js';
import { type ListenAddress, parseListenAddress } from '../src/recorder-config/schema.js';
import { runReplayCommand } from '../src/replay/command.js';
import { VERSION } from '../src/version.js';

const USAGE = `Usage: coroot-event-recorder --config FILE [options]
       coroot-event-recorder replay --config FILE --output NAME [options] FILE...
       coroot-event-recorder buffers --config FILE [--verify]

Records Coroot and Alertmanager alerts, incidents and deployments as structured
events to the configured outputs (${OUTPUT_TYPES.map((t) => t.section).join(', ')}).

Options:
  --config FILE               YAML configuration file (required)
  --listen-address HOST:PORT  overrides listen_address from the config
  --check-config              validate the config and exit (0 valid, 1 invalid)
  --log-level LEVEL           debug | info | warn | error (default info)
  --version                   print the version and exit
  --help                      print this help and exit

Subcommands (each has --help):
  replay                      send the events of audit files again through one output
  buffers                     list the disk buffers under data_dir; --verify checks every record

Signals: SIGTERM/SIGINT drain and stop, SIGHUP reloads the config, SIGUSR1 reopens files.
`;

function fail(message: string): never {
  process.stderr.write(`coroot-event-recorder: ${message}\n\n${USAGE}`);
  process.exit(2);
}

// Whoever reads our stderr/stdout (a log shipper, a parent, `| head`) may go away. A write
// then fails with EPIPE; unhandled, that error would be an uncaught exception whose log line
// fails the same way, forever. Losing the logs is the lesser harm: keep running quietly.
for (const stream of [process.stderr, process.stdout]) stream.on('error', () => {});

/** A subcommand runs on its own and ends the process with its exit status. */
async function runSubcommand(name: string, args: string[]): Promise<never> {
  // First signal: let the subcommand wind down (it reports what it did); second: leave now.
  const abort = new AbortController();
  const interrupt = (): void => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const io = { stdout: process.stdout, stderr: process.stderr, version: VERSION, signal: abort.signal };
  const code =
    name === 'replay'
      ? await runReplayCommand(args, io)
      : name === 'buffers'
        ? await runBuffersCommand(args, io)
        : 2;
  process.exit(code);
}

const SUBCOMMANDS = new Set(['replay', 'buffers']);

async function main(): Promise<void> {
  const [first, ...rest] = process.argv.slice(2);
  if (first !== undefined && SUBCOMMANDS.has(first)) await runSubcommand(first, rest);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: 'string' },
        'listen-address': { type: 'string' },
        'check-config': { type: 'boolean' },
        'log-level': { type: 'string' },
        version: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.version) {
    process.stdout.write(`coroot-event-recorder ${VERSION} (node ${process.version})\n`);
    return;
  }
  const level = (values['log-level'] as string | undefined) ?? 'info';
  if (!isLogLevel(level)) fail(`--log-level must be debug, info, warn or error, got "${level}"`);
  const configFile = values.config as string | undefined;
  if (!configFile) fail('--config FILE is required');
  let listenOverride: ListenAddress | undefined;
  if (values['listen-address'] !== undefined) {
    const parsed = parseListenAddress(values['listen-address'] as string);
    if (!parsed) fail(`--listen-address must be HOST:PORT, got "${values['listen-address']}"`);
    listenOverride = parsed;
  }

  const loaded = await loadConfigFile(configFile);
  if (values['check-config']) {
    if (!loaded.ok) {
      for (const issue of loaded.issues) process.stderr.write(`${issue.toString()}\n`);
      process.stderr.write(`FAILED: ${loaded.issues.length} error(s) in ${configFile}\n`);
      process.exitCode = 1;
      return;
    }
    const outputs = loaded.config.outputs.map((o) => o.name).join(', ') || 'none';
    process.stdout.write(`SUCCESS: ${configFile} is valid (outputs: ${outputs})\n`);
    return;
  }

  const logger = new Logger(level);
  if (!loaded.ok) {
    for (const issue of loaded.issues) logger.error('invalid configuration', { err: issue.toString() });
    process.exitCode = 1;
    return;
  }

  // Input must never take the daemon down; if something slips through, say so loudly and keep serving.
  process.on('uncaughtException', (err) => logger.error('uncaught exception', { err, stack: err.stack }));
  process.on('unhandledRejection', (reason) => logger.error('unhandled rejection', { err: reason }));
  // Node prints its warnings as plain stderr lines; the log is JSON. kafkajs 2.2.4 arms a timer
  // with a negative delay when idle, which Node 24+ warns about (TimeoutNegativeWarning) and
  // runs after 1 ms as before: the first of each kind at warn, repeats at debug.
  const warned = new Set<string>();
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    const first = !warned.has(w.name);
    warned.add(w.name);
    (first ? logger.warn : logger.debug).call(logger, 'node warning', { name: w.name, err: w.message });
  });

  // Signals are handled from here on, before the daemon exists: a SIGHUP or SIGUSR1 that
  // arrives while outputs start must not kill the process (their default action), and a
  // SIGTERM during start-up stops it as soon as it is up.
  let daemon: Daemon | null = null;
  let reloadWhenUp = false;
  let stopWhenUp: NodeJS.Signals | null = null;
  let signals = 0;
  const shutdown = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn('second signal: exiting without waiting for the drain', { signal });
      process.exit(1);
    }
    if (!daemon) {
      stopWhenUp = signal;
      return;
    }
    daemon.stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading the config');
    if (daemon) void daemon.reload('signal');
    else reloadWhenUp = true;
  });
  process.on('SIGUSR1', () => {
    logger.info('SIGUSR1: reopening files');
    daemon?.reopenFiles();
  });

  try {
    daemon = await Daemon.start({ config: loaded.config, logger, version: VERSION, listenOverride });
  } catch (err) {
    logger.error('cannot start', { err });
    process.exit(1);
  }
  if (stopWhenUp) {
    signals = 0;
    shutdown(stopWhenUp);
  } else if (reloadWhenUp) {
    void daemon.reload('signal');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`coroot-event-recorder: ${(err as Error).message}\n`);
  process.exit(1);
});
