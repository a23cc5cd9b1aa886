/**
 * vitest globalSetup: one Kafka broker for the whole run (docs/operations.md "Kafka brokers, TLS and the kafkajs client"), shared by every
 * test file through `inject('kafka')`.
 *
 * - Started only when the run selects a test file that needs it (needsBroker in
 *   context.ts: the path contains "kafka" and is not under test/unit/), so a run of other
 *   files does not pay the JVM start.
 * - The broker boots in the background: its address is fixed up front, other test files
 *   run meanwhile, and Kafka test files call waitForKafka() before using it.
 * - KAFKA_BROKERS=host:port uses that broker instead and starts nothing.
 * - Without Java 17+ / Maven: one line saying what is missing, and the Kafka suites skip;
 *   with REQUIRE_KAFKA=1 (CI) that is a failure instead.
 */
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { TestProject } from 'vitest/node';
import { KafkaBroker, missingPrerequisites } from './broker.js';
import { type KafkaProvided, needsBroker } from './context.js';

const NONE: KafkaProvided = {
  brokers: null,
  saslBrokers: null,
  sslBrokers: null,
  saslSslBrokers: null,
  tls: null,
  skipReason: null,
  external: false,
  statusFile: null,
};

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const provide = (value: KafkaProvided): void => project.provide('kafka', value);

  const external = process.env.KAFKA_BROKERS;
  if (external) {
    provide({ ...NONE, brokers: external, external: true });
    return undefined;
  }

  if (!(await kafkaTestsSelected(project))) {
    provide({ ...NONE, skipReason: 'no Kafka test file in this run' });
    return undefined;
  }

  const missing = missingPrerequisites();
  if (missing) {
    const line = `Kafka tests skipped: ${missing} (or set KAFKA_BROKERS=host:port)`;
    if (process.env.REQUIRE_KAFKA === '1') throw new Error(`REQUIRE_KAFKA=1 but ${line}`);
    console.warn(line);
    provide({ ...NONE, skipReason: line });
    return undefined;
  }

  const broker = await KafkaBroker.create();
  const statusFile = join(broker.dir, 'status');
  const startedAt = Date.now();
  const booted = broker.boot().then(
    async () => {
      // Measured on every run (the Kafka part of the suite waits for it), shown with --silent=false.
      console.log(
        `Kafka ${broker.version} for the suite: ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
      );
      await writeFile(statusFile, 'ready');
    },
    (err: unknown) => writeFile(statusFile, `failed: ${err instanceof Error ? err.message : String(err)}`),
  );
  provide({
    ...NONE,
    brokers: broker.brokers,
    saslBrokers: broker.saslBrokers,
    sslBrokers: broker.sslBrokers,
    saslSslBrokers: broker.saslSslBrokers,
    tls: broker.tls,
    statusFile,
  });
  return async () => {
    await booted;
    await broker.destroy();
  };
}

/** Whether the files this run selected include one that needs the broker. */
async function kafkaTestsSelected(project: TestProject): Promise<boolean> {
  try {
    // `filenamePattern` (the CLI's file filters) is internal to vitest, hence the cast; when it
    // is missing or the lookup fails, assume the broker is needed rather than skip tests.
    const vitest = project.vitest as typeof project.vitest & { filenamePattern?: string[] };
    const specs = await project.vitest.globTestSpecifications(vitest.filenamePattern ?? []);
    const root = project.config.root;
    return specs.some((spec) => needsBroker(relative(root, spec.moduleId)));
  } catch {
    return true;
  }
}
