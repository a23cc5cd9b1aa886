/*
 * `npm run soak [-- --duration 5m] [--rate 3000] [--keep]`: runs the soak against the
 * compiled daemon (the npm script builds first; disk buffers on the webhook and Kafka outputs,
 * the daemon SIGKILLed and restarted twice, once under 90 s), prints progress and the report,
 * and exits 1 when any invariant is broken or the soak could not finish, 2 on a usage error.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../../src/config/units.js';
import { defaultOptions, formatReport, run } from './soak.js';

const USAGE = `usage: npm run soak -- [--duration 5m] [--rate EVENTS_PER_S] [--keep]
  --duration   how long the load runs (Prometheus duration: 30s, 5m, 1h); default 5m.
               The daemon is SIGKILLed and restarted at 1/3 and 2/3 of it (once, at 1/3, under 90s)
  --rate       offered events per second; default ${defaultOptions().rate}
  --keep       keep the daemon's folder (config, logs, rotated files, data_dir) even on success`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '5m' },
      rate: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const durationMs = parseDuration(values.duration);
  if (durationMs === null || durationMs < 10_000) {
    console.error(`--duration must be a duration of at least 10s, got "${values.duration}"\n${USAGE}`);
    return 2;
  }
  const options = defaultOptions(durationMs);
  if (values.rate !== undefined) {
    const rate = Number(values.rate);
    if (!Number.isInteger(rate) || rate < options.eventsPerRequest) {
      console.error(`--rate must be an integer >= ${options.eventsPerRequest}, got "${values.rate}"`);
      return 2;
    }
    options.rate = rate;
  }
  options.keepDir = values.keep;
  const started = Date.now();
  options.progress = (line) => console.error(`[soak ${((Date.now() - started) / 1000).toFixed(0)}s] ${line}`);
  const result = await run(options);
  console.log(formatReport(result));
  return result.failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(
      `soak could not finish: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    process.exitCode = 1;
  },
);
