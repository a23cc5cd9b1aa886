/**
 * `npm run kafka:fetch | kafka:start | kafka:stop`: the suite's single-node Apache Kafka,
 * for people trying the Kafka output by hand.
 *
 * - fetch: copy the Kafka jars of every version the suite runs into the cache (CI calls it
 *   once, before the tests). Prints nothing when they are there already.
 * - start: start the broker in the background (or find the running one) and print
 *   `KAFKA_BROKERS=127.0.0.1:<port>` on a line of its own. A broker stopped by kafka:stop
 *   comes back on the same ports with its topics (an outage, not a new cluster).
 * - stop: stop it, keeping its data and ports for the next start; `stop --delete` also
 *   removes the data, so the next start makes a new cluster on new ports.
 *
 * The broker's folder is <cache>/kafka-<version>/dev-broker (broker.json there: pid, ports).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type BrokerState,
  fetchKafkaJars,
  isBrokerProcess,
  jarsPresent,
  KAFKA_VERSIONS,
  KafkaBroker,
  kafkaHome,
  missingPrerequisites,
  SASL_USER,
  TLS_SERVER_NAME,
} from './broker.js';

const DATA_DIR = join(kafkaHome(), 'dev-broker');
const STOP_BUDGET_MS = 30_000;

function printAddress(state: BrokerState): void {
  console.log(`KAFKA_BROKERS=127.0.0.1:${state.port}`);
  console.error(
    `Kafka ${state.version} is running (pid ${state.pid}); SASL (PLAIN/SCRAM, user ${SASL_USER.username}, password ${SASL_USER.password}) on 127.0.0.1:${state.saslPort}. Stop it with: npm run kafka:stop`,
  );
  console.error(
    `TLS (tls.ca_file: ${join(state.dir, 'tls', 'ca.pem')}, tls.server_name: ${TLS_SERVER_NAME}): SASL_SSL on 127.0.0.1:${state.saslSslPort}; SSL on 127.0.0.1:${state.sslPort} wants a client certificate (tls/client.pem, tls/client.key)`,
  );
}

async function fetchAll(): Promise<void> {
  for (const version of KAFKA_VERSIONS) {
    if (jarsPresent(version)) continue;
    console.error(`fetching Kafka ${version} from Maven Central`);
    await fetchKafkaJars(version);
  }
}

async function start(): Promise<void> {
  const missing = missingPrerequisites();
  if (missing) throw new Error(`cannot start Kafka: ${missing}`);
  let broker = await KafkaBroker.open(DATA_DIR, { detached: true });
  if (broker && isBrokerProcess(broker.state.pid, DATA_DIR)) {
    printAddress(broker.state);
    return;
  }
  if (broker) {
    try {
      await broker.restart();
    } catch (err) {
      throw new Error(
        `the stopped broker in ${DATA_DIR} did not start again on its ports (${(err as Error).message})\nStart a new one (its data is lost) with: npm run kafka:stop -- --delete && npm run kafka:start`,
      );
    }
  } else {
    await rm(DATA_DIR, { recursive: true, force: true });
    broker = await KafkaBroker.start({ dir: DATA_DIR, detached: true });
  }
  const started = broker.state;
  broker.release();
  printAddress(started);
}

async function stop(deleteData: boolean): Promise<void> {
  const broker = await KafkaBroker.open(DATA_DIR);
  const pid = broker?.state.pid ?? -1;
  if (broker && isBrokerProcess(pid, DATA_DIR)) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + STOP_BUDGET_MS;
    while (isBrokerProcess(pid, DATA_DIR) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (isBrokerProcess(pid, DATA_DIR)) process.kill(pid, 'SIGKILL');
    console.error(`Kafka (pid ${pid}) stopped`);
  } else {
    console.error('Kafka is not running');
  }
  if (deleteData) {
    await rm(DATA_DIR, { recursive: true, force: true });
    console.error(`removed ${DATA_DIR}`);
  } else if (broker) {
    console.error(
      `its data stays in ${DATA_DIR} for the next kafka:start (remove it: npm run kafka:stop -- --delete)`,
    );
  }
}

async function main(command: string | undefined, flags: string[]): Promise<void> {
  switch (command) {
    case 'fetch':
      return fetchAll();
    case 'start':
      return start();
    case 'stop':
      return stop(flags.includes('--delete'));
    default:
      throw new Error('usage: tsx test/kafka/cli.ts fetch | start | stop [--delete]');
  }
}

main(process.argv[2], process.argv.slice(3)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
