/**
 * What test/kafka/global-setup.ts hands the tests through vitest's provide/inject, and
 * how a test waits for the broker the setup boots in the background.
 */
import { readFile } from 'node:fs/promises';
import { type BrokerTls, missingPrerequisites } from './broker.js';

export interface KafkaProvided {
  /** `host:port` of a PLAINTEXT listener, or null when Kafka tests must skip. */
  brokers: string | null;
  /** `host:port` of the suite broker's SASL_PLAINTEXT listener; null for an external broker. */
  saslBrokers: string | null;
  /** `host:port` of the suite broker's SSL listener (client certificate required); null for an external broker. */
  sslBrokers: string | null;
  /** `host:port` of the suite broker's SASL_SSL listener; null for an external broker. */
  saslSslBrokers: string | null;
  /** The suite broker's CA, client certificate and server name (KafkaBroker.tls); null for an external broker. */
  tls: BrokerTls | null;
  /** Why there is no broker (printed once by the global setup), or null. */
  skipReason: string | null;
  /** True when KAFKA_BROKERS pointed the suite at a broker it did not start. */
  external: boolean;
  /**
   * The suite broker boots while the first test files run; this file says `ready` or
   * `failed: <why>` once it knows. Null when there is nothing to wait for.
   */
  statusFile: string | null;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafka: KafkaProvided;
  }
}

/** Test files whose path contains "kafka" and that are not unit tests need the broker. */
export function needsBroker(relativePath: string): boolean {
  const p = relativePath.replaceAll('\\', '/');
  return /kafka/i.test(p) && !/(^|\/)test\/unit\//.test(p);
}

/** Resolves once the suite broker serves; throws with the broker's own error when it could not start. */
export async function waitForKafka(kafka: KafkaProvided, timeoutMs = 180_000): Promise<void> {
  if (kafka.statusFile === null) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await readFile(kafka.statusFile, 'utf8').catch(() => 'starting');
    if (status === 'ready') return;
    if (status.startsWith('failed')) throw new Error(`the suite's Kafka broker did not start: ${status}`);
    if (Date.now() > deadline)
      throw new Error(`the suite's Kafka broker was not ready after ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Why a test file that starts its own broker (to stop it, or another version) must skip, or
 * null: the suite's own reason when it has no broker; with an external broker
 * (KAFKA_BROKERS), whether this machine can run one, unless REQUIRE_KAFKA=1 says it must.
 */
export function ownBrokerSkipReason(kafka: KafkaProvided, version?: string): string | null {
  if (kafka.brokers === null) return kafka.skipReason;
  if (process.env.REQUIRE_KAFKA === '1') return null;
  return missingPrerequisites(version);
}
