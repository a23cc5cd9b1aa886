/**
 * A real single-node Apache Kafka (KRaft) for tests, the bench and `npm run kafka:start`
 * (docs/architecture.md "Tests"). The jars come from Maven Central through test/kafka/pom.xml, copied once
 * into a cache folder outside the repo; each broker runs from its own temp folder on free
 * loopback ports.
 *
 * Besides the PLAINTEXT listener the broker has a SASL_PLAINTEXT one that takes PLAIN,
 * SCRAM-SHA-256 and SCRAM-SHA-512 for the user in SASL_USER, so the SASL options can be
 * tested against the real thing.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Keep in step with kafka.version in pom.xml. */
export const KAFKA_VERSION = '3.9.1';

export const SASL_USER = { username: 'recorder', password: 'recorder-secret-0' } as const;

const POM = fileURLToPath(new URL('./pom.xml', import.meta.url));
const READY_LINE = 'Kafka Server started';
const START_BUDGET_MS = 60_000;
const STOP_BUDGET_MS = 30_000;
const COMPLETE_MARKER = '.complete';

export const INSTALL_HINT = 'apt-get install openjdk-17-jre-headless maven';

/** `${KAFKA_CACHE:-~/.cache/coroot-event-recorder}`. */
export function kafkaCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.KAFKA_CACHE || join(homedir(), '.cache', 'coroot-event-recorder');
}

/** `<cache>/kafka-<version>`: the jars (lib/) and the state of `npm run kafka:start`. */
export function kafkaHome(env: NodeJS.ProcessEnv = process.env): string {
  return join(kafkaCacheDir(env), `kafka-${KAFKA_VERSION}`);
}

export function kafkaLibDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(kafkaHome(env), 'lib');
}

export function jarsPresent(env: NodeJS.ProcessEnv = process.env): boolean {
  return existsSync(join(kafkaLibDir(env), COMPLETE_MARKER));
}

/** The major version of `java` on the PATH, or null when there is none. */
export function javaMajorVersion(): number | null {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stderr}${r.stdout}`);
  if (!m) return null;
  // Java 8 reports "1.8.0_x".
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}

export function mavenAvailable(): boolean {
  const r = spawnSync('mvn', ['-v'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

/** Null when a broker can be started here, else what is missing, in one line. */
export function missingPrerequisites(): string | null {
  const missing: string[] = [];
  const java = javaMajorVersion();
  if (java === null) missing.push('Java 17+ (no working `java` on PATH)');
  else if (java < 17) missing.push(`Java 17+ (found Java ${java})`);
  if (!jarsPresent() && !mavenAvailable()) missing.push('Maven (`mvn`, to fetch the Kafka jars once)');
  if (missing.length === 0) return null;
  return `missing ${missing.join(' and ')}; install with: ${INSTALL_HINT}`;
}

/**
 * Copies the Kafka jars into the cache once. Idempotent and safe against a concurrent
 * fetch: jars go to a private folder that is renamed into place, with a marker written last.
 */
export async function fetchKafkaJars(): Promise<string> {
  const lib = kafkaLibDir();
  if (jarsPresent()) return lib;
  await mkdir(kafkaHome(), { recursive: true });
  const staging = await mkdtemp(join(kafkaHome(), 'lib-fetch-'));
  const r = await run('mvn', [
    '-q',
    '-B',
    '-f',
    POM,
    'dependency:copy-dependencies',
    `-DoutputDirectory=${staging}`,
  ]);
  if (!r.ok) {
    await rm(staging, { recursive: true, force: true });
    throw new Error(`mvn dependency:copy-dependencies failed:\n${lastLines(r.output, 15)}`);
  }
  await writeFile(join(staging, COMPLETE_MARKER), `${KAFKA_VERSION}\n`);
  try {
    await rm(lib, { recursive: true, force: true });
    await rename(staging, lib);
  } catch (err) {
    // Another process won the race and its copy is complete: use that one.
    await rm(staging, { recursive: true, force: true });
    if (!jarsPresent()) throw err;
  }
  return lib;
}

/** Ports the OS has just handed out as free (listen on 0, read back, close). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export interface BrokerOptions {
  /** The broker's folder (config, data, log). Default: a new temp folder, removed by destroy(). */
  dir?: string;
  /** Survive the parent (for `npm run kafka:start`). */
  detached?: boolean;
}

export interface BrokerState {
  pid: number;
  port: number;
  saslPort: number;
  controllerPort: number;
  dir: string;
}

/** Brokers this process started and has not stopped: killed if the process exits first. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

export class KafkaBroker {
  private child: ChildProcess | null = null;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly saslPort: number,
    readonly controllerPort: number,
    private readonly detached: boolean,
    private readonly ownsDir: boolean,
  ) {}

  /** `host:port` of the PLAINTEXT listener. */
  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** `host:port` of the SASL_PLAINTEXT listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). */
  get saslBrokers(): string {
    return `127.0.0.1:${this.saslPort}`;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get state(): BrokerState {
    return {
      pid: this.pid ?? -1,
      port: this.port,
      saslPort: this.saslPort,
      controllerPort: this.controllerPort,
      dir: this.dir,
    };
  }

  /** Creates, boots and waits until ready. */
  static async start(opts: BrokerOptions = {}): Promise<KafkaBroker> {
    const missing = missingPrerequisites();
    if (missing) throw new Error(`cannot start Kafka: ${missing}`);
    const broker = await KafkaBroker.create(opts);
    try {
      await broker.boot();
    } catch (err) {
      await broker.destroy();
      throw err;
    }
    return broker;
  }

  /**
   * Picks the folder and ports and writes the config; starts nothing. The address is known
   * from here on, so a caller can hand it out while boot() runs in the background.
   */
  static async create(opts: BrokerOptions = {}): Promise<KafkaBroker> {
    const ownsDir = opts.dir === undefined;
    const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'kafka-test-')));
    await mkdir(dir, { recursive: true });
    const [port, saslPort, controllerPort] = (await freePorts(3)) as [number, number, number];
    const broker = new KafkaBroker(dir, port, saslPort, controllerPort, opts.detached ?? false, ownsDir);
    await broker.writeConfig();
    return broker;
  }

  /** Fetches the jars if needed, formats the storage, starts the JVM, waits until it serves. */
  async boot(): Promise<void> {
    await fetchKafkaJars();
    await this.format();
    await this.launch();
  }

  /** Starts again on the same ports and data (after stop()). */
  async restart(): Promise<void> {
    if (this.child !== null) throw new Error('the broker is running');
    await this.launch();
  }

  /** Graceful stop (SIGTERM, controlled shutdown), SIGKILL when it takes too long. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_BUDGET_MS);
      await exited;
      clearTimeout(timer);
    }
    running.delete(child);
    this.child = null;
  }

  /** Stops and removes the folder (when start() created it). */
  async destroy(): Promise<void> {
    await this.stop();
    if (this.ownsDir) await rm(this.dir, { recursive: true, force: true });
  }

  /** For detached brokers: let the parent exit without waiting for the broker. */
  release(): void {
    if (this.child) {
      running.delete(this.child);
      this.child.unref();
      this.child = null;
    }
  }

  private async writeConfig(): Promise<void> {
    const jaasPlain = `org.apache.kafka.common.security.plain.PlainLoginModule required user_${SASL_USER.username}="${SASL_USER.password}";`;
    const jaasScram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    const props = [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${this.controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${this.port},SASL_PLAINTEXT://127.0.0.1:${this.saslPort},CONTROLLER://127.0.0.1:${this.controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${this.port},SASL_PLAINTEXT://127.0.0.1:${this.saslPort}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
      'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      `listener.name.sasl_plaintext.plain.sasl.jaas.config=${jaasPlain}`,
      `listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=${jaasScram}`,
      `listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=${jaasScram}`,
      `log.dirs=${join(this.dir, 'data')}`,
      'num.partitions=1',
      'num.network.threads=2',
      'num.io.threads=2',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'transaction.state.log.num.partitions=1',
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=true',
      '',
    ];
    await writeFile(join(this.dir, 'server.properties'), props.join('\n'));
    const log4j = [
      'log4j.rootLogger=WARN, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      // The one INFO line readiness waits for.
      'log4j.logger.kafka.server.KafkaRaftServer=INFO',
      '',
    ];
    await writeFile(join(this.dir, 'log4j.properties'), log4j.join('\n'));
  }

  private javaArgs(main: string, args: string[], heap = '-Xmx512m'): string[] {
    return [
      heap,
      '-XX:+UseSerialGC',
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${join(this.dir, 'log4j.properties')}`,
      '-cp',
      `${kafkaLibDir()}/*`,
      main,
      ...args,
    ];
  }

  /** KRaft storage format, once per data dir (static quorum voters, so no --standalone). */
  private async format(): Promise<void> {
    const scram = ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => [
      '--add-scram',
      `${m}=[name=${SASL_USER.username},password=${SASL_USER.password}]`,
    ]);
    const args = this.javaArgs(
      'kafka.tools.StorageTool',
      ['format', '-t', clusterId(), '-c', join(this.dir, 'server.properties'), ...scram],
      '-Xmx256m',
    );
    const r = await run('java', args);
    if (!r.ok) throw new Error(`kafka StorageTool format failed:\n${lastLines(r.output, 15)}`);
  }

  private async launch(): Promise<void> {
    const logFile = join(this.dir, 'broker.log');
    const from = existsSync(logFile) ? statSync(logFile).size : 0;
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn('java', this.javaArgs('kafka.Kafka', [join(this.dir, 'server.properties')]), {
        cwd: this.dir,
        detached: this.detached,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    // Spawn errors (no java) arrive as an event; keep them from becoming uncaught.
    const spawned: { error: Error | null } = { error: null };
    child.once('error', (err) => {
      spawned.error = err;
    });
    this.child = child;
    running.add(child);
    installExitHook();
    const deadline = Date.now() + START_BUDGET_MS;
    for (;;) {
      const log = await readFile(logFile, 'utf8').then((t) => t.slice(from));
      if (log.includes(READY_LINE)) return;
      const failed =
        spawned.error ?? (child.exitCode !== null || child.signalCode !== null ? 'exited' : null);
      if (failed !== null || Date.now() > deadline) {
        await this.stop();
        const why =
          failed === null ? `not ready after ${START_BUDGET_MS / 1000}s` : `exited (${String(failed)})`;
        throw new Error(
          `Kafka broker ${why}; last log lines:\n${log.trim().split('\n').slice(-20).join('\n')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Runs a command to its end without blocking the event loop; output is stdout and stderr together. */
function run(command: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.once('error', (err) => resolve({ ok: false, output: `${output}${err.message}` }));
    child.once('close', (code) => resolve({ ok: code === 0, output }));
  });
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

/** A KRaft cluster id: 16 random bytes, base64url; not starting with "-" (it would read as an option). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Whether `pid` is a live Kafka broker started from `dir` (guards against a recycled pid). */
export function isBrokerProcess(pid: number, dir: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('kafka.Kafka') && cmdline.includes(dir);
  } catch {
    return false;
  }
}
