/*
 * The soak (test/soak/soak.ts) for 30 s, in CI: logrotate every few seconds, a flapping
 * webhook receiver, a Kafka broker stopped and started, the webhook and Kafka outputs on disk
 * buffers, and the daemon SIGKILLed once (with the broker down and the receiver failing) and
 * started again on the same config and data_dir; every invariant must hold (every event
 * answered 202 in the file once and delivered to the receiver and the topic at least once, the
 * books of both processes, the backlog on disk at the kill, bounded memory and disk), and the
 * failure message is the whole report. `npm run soak` runs 5 minutes with two kills.
 *
 * The soak starts its own broker (stopping the suite's shared one would disturb other Kafka
 * tests); "kafka" in this file's name only makes the suite's global setup decide whether
 * Kafka can run here, and print the one line saying why not.
 */
import { existsSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import { missingPrerequisites } from '../kafka/broker.js';
import { formatReport, LOGROTATE, run } from '../soak/soak.js';

const kafka = inject('kafka');
const required = process.env.REQUIRE_KAFKA === '1';

function skipReason(): string | null {
  if (!existsSync(LOGROTATE)) {
    const line = `soak skipped: ${LOGROTATE} not found (apt-get install logrotate)`;
    if (process.env.REQUIRE_LOGROTATE === '1') throw new Error(`REQUIRE_LOGROTATE=1 but ${line}`);
    console.warn(line);
    return line;
  }
  // The global setup has printed why (and failed the run under REQUIRE_KAFKA=1).
  if (kafka.brokers === null) return kafka.skipReason;
  if (required) return null;
  // An external broker (KAFKA_BROKERS) says nothing about whether this machine can run one.
  const missing = missingPrerequisites();
  if (missing) console.warn(`soak skipped: it runs its own Kafka broker: ${missing}`);
  return missing;
}

const SOAK_MS = 30_000;

describe.skipIf(skipReason() !== null)('soak', () => {
  it(
    '30 s of mixed load under logrotate, a flapping webhook receiver, a restarted broker and a SIGKILLed daemon on disk buffers: every invariant holds',
    async () => {
      // Half the standalone soak's rate: in CI other test files share the two cores, and a
      // starved sender would measure the machine, not the daemon.
      const result = await run({ durationMs: SOAK_MS, rate: 1500 });
      expect(result.report.kills.length, formatReport(result)).toBe(1);
      // The report is the message: on failure it says which invariant broke and by how much.
      expect(result.failures, formatReport(result)).toEqual([]);
    },
    // Broker start (~15 s), the load, a broker restart after SIGKILL (log recovery: up to
    // ~30 s on a busy 2-core machine), the daemon's restart (~1 s), the settle and reading
    // everything back.
    SOAK_MS + 270_000,
  );
});
