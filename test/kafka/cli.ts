/**
 * `npm run kafka:fetch | kafka:start | kafka:stop`: the suite's single-node Apache Kafka,
 * for people trying the Kafka output by hand.
 *
 * - fetch: copy the Kafka jars into the cache (CI calls it once, before the tests).
 * - start: start a broker in the background (or find the running one) and print
 *   `KAFKA_BROKERS=127.0.0.1:<port>` on a line of its own.
 * - stop: stop it and remove its data.
 *
 * State (pid, ports, folder) is kept in <cache>/kafka-<version>/dev-broker.json.
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type BrokerState,
  fetchKafkaJars,
  isBrokerProcess,
  KafkaBroker,
  kafkaHome,
  missingPrerequisites,
  SASL_USER,
} from './broker.js';

const STATE_FILE = join(kafkaHome(), 'dev-broker.json');
const DATA_DIR = join(kafkaHome(), 'dev-broker');
const STOP_BUDGET_MS = 30_000;

async function readState(): Promise<BrokerState | null> {
  try {
    return JSON.parse(await readFile(STATE_FILE, 'utf8')) as BrokerState;
  } catch {
    return null;
  }
}

function printAddress(state: BrokerState): void {
  console.log(`KAFKA_BROKERS=127.0.0.1:${state.port}`);
  console.error(
    `Kafka is running (pid ${state.pid}); SASL (PLAIN/SCRAM, user ${SASL_USER.username}, password ${SASL_USER.password}) on 127.0.0.1:${state.saslPort}. Stop it with: npm run kafka:stop`,
  );
}

async function start(): Promise<void> {
  const state = await readState();
  if (state && isBrokerProcess(state.pid, state.dir)) {
    printAddress(state);
    return;
  }
  const missing = missingPrerequisites();
  if (missing) throw new Error(`cannot start Kafka: ${missing}`);
  await rm(DATA_DIR, { recursive: true, force: true });
  const broker = await KafkaBroker.start({ dir: DATA_DIR, detached: true });
  await writeFile(STATE_FILE, `${JSON.stringify(broker.state, null, 2)}\n`);
  const started = broker.state;
  broker.release();
  printAddress(started);
}

async function stop(): Promise<void> {
  const state = await readState();
  if (state && isBrokerProcess(state.pid, state.dir)) {
    process.kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + STOP_BUDGET_MS;
    while (isBrokerProcess(state.pid, state.dir) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (isBrokerProcess(state.pid, state.dir)) process.kill(state.pid, 'SIGKILL');
    console.error(`Kafka (pid ${state.pid}) stopped`);
  } else {
    console.error('Kafka is not running');
  }
  if (existsSync(STATE_FILE)) await rm(STATE_FILE);
  await rm(DATA_DIR, { recursive: true, force: true });
}

async function main(command: string | undefined): Promise<void> {
  switch (command) {
    case 'fetch':
      console.log(await fetchKafkaJars());
      return;
    case 'start':
      return start();
    case 'stop':
      return stop();
    default:
      throw new Error('usage: tsx test/kafka/cli.ts fetch|start|stop');
  }
}

main(process.argv[2]).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
