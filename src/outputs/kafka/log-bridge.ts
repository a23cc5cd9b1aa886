import { type LogEntry, type logCreator, logLevel } from 'kafkajs';
import { redactor } from '../../lib/redact.js';
import type { LogFields, Logger, LogLevel } from '../../log.js';

/**
 * kafkajs logs through its own console logger by default; this routes it into ours.
 *
 * Level mapping: kafkajs ERROR and WARN become `warn`, INFO and DEBUG become `debug`.
 * kafkajs reports every failed attempt at ERROR (each refused connect, each retried
 * request); the output itself logs the outcome that matters (down, recovered, events
 * rejected) with its own levels, so kafkajs' lines are supporting detail. While the
 * output has already reported that it cannot deliver (`quiet()`), kafkajs' lines go to
 * `debug`: a broker outage would otherwise log several lines per reconnect attempt.
 *
 * Only known, harmless fields are kept (no stacks, no request buffers), and every
 * string is scrubbed of the secrets given (the SASL password), so a kafkajs message can
 * never leak one.
 */

const KEPT_FIELDS = [
  'broker',
  'topic',
  'error',
  'retryCount',
  'retryTime',
  'clientId',
  'groupId',
  'partition',
] as const;

/** kafkajs messages that are expected in our setup and say nothing actionable. */
const DEMOTED_TO_DEBUG: ReadonlyArray<(namespace: string, message: string) => boolean> = [
  // We bound kafkajs' retries on purpose and retry batches ourselves (client-config.ts).
  (_, m) => m.startsWith('Limiting retries for the idempotent producer'),
  // Every error code in a response (a leader election, a coordinator still loading) is
  // logged before kafkajs retries the request; when retrying does not help, the output
  // logs the outcome itself.
  (ns, m) => ns === 'Connection' && m.startsWith('Response '),
];

export function kafkaLogLevel(logger: Logger): logLevel {
  if (logger.enabled('debug')) return logLevel.DEBUG;
  return logger.enabled('warn') ? logLevel.WARN : logLevel.NOTHING;
}

export function kafkaLogCreator(
  logger: Logger,
  secrets: readonly string[],
  quiet: () => boolean = () => false,
): logCreator {
  const scrub = scrubber(secrets);
  return () => (entry: LogEntry) => {
    try {
      const message = scrub(String(entry.log.message));
      let level = mapLevel(entry.level);
      if (quiet() || DEMOTED_TO_DEBUG.some((demoted) => demoted(entry.namespace, message))) level = 'debug';
      if (!logger.enabled(level)) return;
      const fields: LogFields = { kafkajs: entry.namespace };
      for (const key of KEPT_FIELDS) {
        const value: unknown = entry.log[key];
        // Our log lines name an error `err`; kafkajs names it `error`.
        const name = key === 'error' ? 'err' : key;
        if (typeof value === 'string') fields[name] = scrub(value);
        else if (typeof value === 'number' || typeof value === 'boolean') fields[name] = value;
      }
      logger[level](`kafkajs: ${message}`, fields);
    } catch {
      // A log line is never worth an exception inside kafkajs' network code.
    }
  };
}

export function mapLevel(level: logLevel): LogLevel {
  switch (level) {
    case logLevel.ERROR:
    case logLevel.WARN:
      return 'warn';
    default:
      return 'debug';
  }
}

// kafkajs never logs the password; this is a second line of defence for realistic ones.
const scrubber = (secrets: readonly string[]): ((text: string) => string) => redactor(secrets, 4);
