/**
 * A real single-node Apache Kafka (KRaft) for tests, the bench and `npm run kafka:start`
 * (docs/operations.md "Kafka brokers, TLS and the kafkajs client").
 * The jars come from Maven Central through test/kafka/pom.xml, copied once per version into
 * a cache folder outside the repo (`<cache>/kafka-<version>/lib`); each broker runs from its
 * own folder on free loopback ports.
 *
 * Versions: KAFKA_VERSION (the current 4.x line) is what the suite, the bench and the soak
 * run; KAFKA_PREVIOUS_VERSION (3.9) is kept for one round-trip test. `npm run kafka:fetch`
 * caches both.
 *
 * Besides the PLAINTEXT listener the broker has a SASL_PLAINTEXT one that takes PLAIN,
 * SCRAM-SHA-256 and SCRAM-SHA-512 for the user in SASL_USER, so the SASL options can be
 * tested against the real thing.
 *
 * Outages (a broker that goes away and comes back, not a new cluster):
 *
 *   const broker = await KafkaBroker.start();   // new folder, free ports, formatted, ready
 *   await broker.stop();                        // SIGTERM: controlled shutdown
 *   await broker.stop({ signal: 'SIGKILL' });   // or a crash: log recovery on the next start
 *   // while stopped: connections to broker.brokers are refused; the folder, the data and
 *   // the ports (broker.port, saslPort, controllerPort) are kept
 *   await broker.restart();                     // same ports, same data, same cluster id;
 *                                               // resolves once the broker serves again
 *   broker.running                              // false between stop() and restart()
 *   await broker.destroy();                     // stop and remove the folder (if start made it)
 *
 * restart() throws (with the broker's last log lines) when the broker cannot come back,
 * e.g. when another process took one of its ports while it was down: the ports are free
 * for anyone between stop() and restart(). `KafkaBroker.open(dir)` gives back a stopped
 * broker from its folder (`broker.json` there holds its version and ports), which is how
 * `npm run kafka:stop` / `kafka:start` keep the data between runs.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLIENT_EXT, makeCa, makeLeaf } from '../helpers/certs.js';
import { freePorts } from '../helpers/net.js';

/** The Kafka the suite runs. Keep in step with kafka.version in pom.xml (its default). */
export const KAFKA_VERSION = '4.1.1';
/** The previous line, kept for one round trip (test/integration/kafka-3.test.ts). */
export const KAFKA_PREVIOUS_VERSION = '3.9.1';
/** Every version `npm run kafka:fetch` caches. */
export const KAFKA_VERSIONS = [KAFKA_VERSION, KAFKA_PREVIOUS_VERSION] as const;

export const SASL_USER = { username: 'recorder', password: 'recorder-secret-0' } as const;

const POM = fileURLToPath(new URL('./pom.xml', import.meta.url));
const READY_LINE = 'Kafka Server started';
/** Generous: several JVMs boot at once when the suite starts on a busy 2-core machine. */
const START_BUDGET_MS = 120_000;
const STOP_BUDGET_MS = 30_000;
const COMPLETE_MARKER = '.complete';

export const INSTALL_HINT = 'apt-get install openjdk-17-jre-headless maven';

/** `${KAFKA_CACHE:-~/.cache/coroot-event-recorder}`. */
export function kafkaCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.KAFKA_CACHE || join(homedir(), '.cache', 'coroot-event-recorder');
}

/** `<cache>/kafka-<version>`: the jars (lib/) and the state of `npm run kafka:start`. */
export function kafkaHome(version: string = KAFKA_VERSION, env: NodeJS.ProcessEnv = process.env): string {
  return join(kafkaCacheDir(env), `kafka-${version}`);
}

export function kafkaLibDir(version: string = KAFKA_VERSION, env: NodeJS.ProcessEnv = process.env): string {
  return join(kafkaHome(version, env), 'lib');
}

export function jarsPresent(version: string = KAFKA_VERSION, env: NodeJS.ProcessEnv = process.env): boolean {
  return existsSync(join(kafkaLibDir(version, env), COMPLETE_MARKER));
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
export function missingPrerequisites(version: string = KAFKA_VERSION): string | null {
  const missing: string[] = [];
  const java = javaMajorVersion();
  if (java === null) missing.push('Java 17+ (no working `java` on PATH)');
  else if (java < 17) missing.push(`Java 17+ (found Java ${java})`);
  if (!jarsPresent(version) && !mavenAvailable()) missing.push('Maven (`mvn`, to fetch the Kafka jars once)');
  if (missing.length === 0) return null;
  return `missing ${missing.join(' and ')}; install with: ${INSTALL_HINT}`;
}

/**
 * Copies the Kafka jars into the cache once. Idempotent and safe against a concurrent
 * fetch: jars go to a private folder that is renamed into place, with a marker written last.
 */
export async function fetchKafkaJars(version: string = KAFKA_VERSION): Promise<string> {
  const lib = kafkaLibDir(version);
  if (jarsPresent(version)) return lib;
  await mkdir(kafkaHome(version), { recursive: true });
  const staging = await mkdtemp(join(kafkaHome(version), 'lib-fetch-'));
  const r = await run('mvn', [
    '-q',
    '-B',
    '-f',
    POM,
    'dependency:copy-dependencies',
    `-Dkafka.version=${version}`,
    `-DoutputDirectory=${staging}`,
  ]);
  if (!r.ok) {
    await rm(staging, { recursive: true, force: true });
    throw new Error(`mvn dependency:copy-dependencies failed:\n${lastLines(r.output, 15)}`);
  }
  await writeFile(join(staging, COMPLETE_MARKER), `${version}\n`);
  try {
    await rm(lib, { recursive: true, force: true });
    await rename(staging, lib);
  } catch (err) {
    // Another process won the race and its copy is complete: use that one.
    await rm(staging, { recursive: true, force: true });
    if (!jarsPresent(version)) throw err;
  }
  return lib;
}

export interface BrokerOptions {
  /** The broker's folder (config, data, log). Default: a new temp folder, removed by destroy(). */
  dir?: string;
  /** Which Kafka (one of KAFKA_VERSIONS). Default: KAFKA_VERSION. */
  version?: string;
  /** Survive the parent (for `npm run kafka:start`). */
  detached?: boolean;
  /**
   * `c1` (default) starts in half the CPU time; `full` (C1 then C2) serves more per CPU
   * second once warm, for the bench. Not part of broker.json: open() brokers use `c1`.
   */
  jit?: 'c1' | 'full';
}

/** The broker's loopback ports, fixed for its lifetime (restarts included). */
export interface BrokerPorts {
  /** PLAINTEXT */
  port: number;
  /** SASL_PLAINTEXT: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 */
  saslPort: number;
  /** SSL with client certificates required (mutual TLS) */
  sslPort: number;
  /** SASL_SSL: the SASL mechanisms over TLS, no client certificate */
  saslSslPort: number;
  /** the KRaft controller */
  controllerPort: number;
}

/** What `<dir>/broker.json` holds: enough to start the same broker again (KafkaBroker.open). */
export interface BrokerState extends BrokerPorts {
  version: string;
  /** The JVM's pid when it was last started (-1 before). */
  pid: number;
  dir: string;
}

/**
 * The TLS material of a broker, made with openssl when the broker is created (test/helpers/certs.ts)
 * and kept in `<dir>/tls/`. The server certificate names only TLS_SERVER_NAME (no IP), so a
 * client connecting to 127.0.0.1 verifies it only with `server_name: kafka.test`.
 */
export interface BrokerTls {
  /** The CA that signed the server and the client certificate (PEM). */
  caFile: string;
  /** A client certificate and key the SSL listener accepts (PEM). */
  certFile: string;
  keyFile: string;
  serverName: string;
}

export const TLS_SERVER_NAME = 'kafka.test';

export type StopSignal = 'SIGTERM' | 'SIGKILL';

const STATE_FILE = 'broker.json';

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
  private lastPid = -1;

  readonly port: number;
  readonly saslPort: number;
  readonly sslPort: number;
  readonly saslSslPort: number;
  readonly controllerPort: number;

  private constructor(
    readonly version: string,
    readonly dir: string,
    ports: BrokerPorts,
    private readonly detached: boolean,
    private readonly ownsDir: boolean,
    private readonly jit: 'c1' | 'full' = 'c1',
  ) {
    this.port = ports.port;
    this.saslPort = ports.saslPort;
    this.sslPort = ports.sslPort;
    this.saslSslPort = ports.saslSslPort;
    this.controllerPort = ports.controllerPort;
  }

  /** `host:port` of the PLAINTEXT listener. */
  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** `host:port` of the SASL_PLAINTEXT listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). */
  get saslBrokers(): string {
    return `127.0.0.1:${this.saslPort}`;
  }

  /** `host:port` of the SSL listener, which requires a client certificate signed by `tls.caFile`. */
  get sslBrokers(): string {
    return `127.0.0.1:${this.sslPort}`;
  }

  /** `host:port` of the SASL_SSL listener (the SASL mechanisms over TLS; no client certificate). */
  get saslSslBrokers(): string {
    return `127.0.0.1:${this.saslSslPort}`;
  }

  /** The CA, a client certificate and the name to verify the server certificate against. */
  get tls(): BrokerTls {
    const tlsDir = join(this.dir, 'tls');
    return {
      caFile: join(tlsDir, 'ca.pem'),
      certFile: join(tlsDir, 'client.pem'),
      keyFile: join(tlsDir, 'client.key'),
      serverName: TLS_SERVER_NAME,
    };
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Whether this object's JVM is running (false before boot, after stop() and after release()). */
  get running(): boolean {
    return this.child !== null;
  }

  get state(): BrokerState {
    return {
      version: this.version,
      pid: this.pid ?? this.lastPid,
      port: this.port,
      saslPort: this.saslPort,
      sslPort: this.sslPort,
      saslSslPort: this.saslSslPort,
      controllerPort: this.controllerPort,
      dir: this.dir,
    };
  }

  /** Creates, boots and waits until ready. */
  static async start(opts: BrokerOptions = {}): Promise<KafkaBroker> {
    const missing = missingPrerequisites(opts.version);
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
    const [port, saslPort, sslPort, saslSslPort, controllerPort] = (await freePorts(5)) as [
      number,
      number,
      number,
      number,
      number,
    ];
    const broker = new KafkaBroker(
      opts.version ?? KAFKA_VERSION,
      dir,
      { port, saslPort, sslPort, saslSslPort, controllerPort },
      opts.detached ?? false,
      ownsDir,
      opts.jit,
    );
    await broker.makeCertificates();
    await broker.writeConfig();
    await broker.saveState();
    return broker;
  }

  /**
   * The broker that create() made in `dir`, stopped (its folder is not removed by destroy()).
   * Null when `dir` holds no broker or one that was never formatted. restart() starts it.
   */
  static async open(dir: string, opts: { detached?: boolean } = {}): Promise<KafkaBroker | null> {
    let state: BrokerState;
    try {
      state = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as BrokerState;
    } catch {
      return null;
    }
    if (!existsSync(join(dir, 'data', 'meta.properties'))) return null;
    const broker = new KafkaBroker(state.version, dir, state, opts.detached ?? false, false);
    broker.lastPid = state.pid;
    return broker;
  }

  /** Fetches the jars if needed, formats the storage, starts the JVM, waits until it serves. */
  async boot(): Promise<void> {
    await fetchKafkaJars(this.version);
    await this.format();
    await this.launch();
  }

  /** Starts again on the same ports and data (after stop(), or on a broker from open()). */
  async restart(): Promise<void> {
    if (this.child !== null) throw new Error('the broker is running');
    await this.launch();
  }

  /**
   * Stops the JVM and waits for it to exit; the folder, data and ports stay for restart().
   * SIGTERM (default) is a controlled shutdown, SIGKILLed when it takes longer than 30 s;
   * SIGKILL is a crash.
   */
  async stop(opts: { signal?: StopSignal } = {}): Promise<void> {
    const child = this.child;
    if (child === null) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(opts.signal ?? 'SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_BUDGET_MS);
      await exited;
      clearTimeout(timer);
    }
    running.delete(child);
    this.child = null;
  }

  /** Stops and removes the folder (when create() made it). */
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

  private async saveState(): Promise<void> {
    await writeFile(join(this.dir, STATE_FILE), `${JSON.stringify(this.state, null, 2)}\n`);
  }

  /** A CA, the server certificate (for TLS_SERVER_NAME only) as a PEM keystore, a client certificate. */
  private async makeCertificates(): Promise<void> {
    const tlsDir = join(this.dir, 'tls');
    await mkdir(tlsDir, { recursive: true });
    await makeCa(tlsDir, 'ca', 'kafka test CA');
    await makeLeaf(
      tlsDir,
      'server',
      `subjectAltName=DNS:${TLS_SERVER_NAME}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
    );
    await makeLeaf(tlsDir, 'client', CLIENT_EXT);
    // Kafka's PEM keystore: the (unencrypted PKCS#8) key and the certificate chain in one file.
    const [key, cert, ca] = await Promise.all(
      ['server.key', 'server.pem', 'ca.pem'].map((f) => readFile(join(tlsDir, f), 'utf8')),
    );
    await writeFile(join(tlsDir, 'server-keystore.pem'), `${key}${cert}${ca}`);
  }

  private async writeConfig(): Promise<void> {
    const jaasPlain = `org.apache.kafka.common.security.plain.PlainLoginModule required user_${SASL_USER.username}="${SASL_USER.password}";`;
    const jaasScram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    const listeners = [
      `PLAINTEXT://127.0.0.1:${this.port}`,
      `SASL_PLAINTEXT://127.0.0.1:${this.saslPort}`,
      `SSL://127.0.0.1:${this.sslPort}`,
      `SASL_SSL://127.0.0.1:${this.saslSslPort}`,
    ];
    const tlsDir = join(this.dir, 'tls');
    const props = [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${this.controllerPort}`,
      `listeners=${listeners.join(',')},CONTROLLER://127.0.0.1:${this.controllerPort}`,
      `advertised.listeners=${listeners.join(',')}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT',
      'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      ...['sasl_plaintext', 'sasl_ssl'].flatMap((l) => [
        `listener.name.${l}.plain.sasl.jaas.config=${jaasPlain}`,
        `listener.name.${l}.scram-sha-256.sasl.jaas.config=${jaasScram}`,
        `listener.name.${l}.scram-sha-512.sasl.jaas.config=${jaasScram}`,
      ]),
      // TLS (both TLS listeners): PEM keystore and truststore, supported since Kafka 2.7.
      'ssl.keystore.type=PEM',
      `ssl.keystore.location=${join(tlsDir, 'server-keystore.pem')}`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${join(tlsDir, 'ca.pem')}`,
      // Mutual TLS on the SSL listener; SASL_SSL authenticates by SASL alone.
      'listener.name.ssl.ssl.client.auth=required',
      'listener.name.sasl_ssl.ssl.client.auth=none',
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
    // Kafka 4 also touches log4j 2 (its dynamic log-level controller); without a config of its
    // own log4j 2 prints "No configuration found" on every start.
    const log4j2 = [
      'status=error',
      'appender.stdout.type=Console',
      'appender.stdout.name=STDOUT',
      'appender.stdout.layout.type=PatternLayout',
      'appender.stdout.layout.pattern=[%d] %p %m (%c)%n',
      'rootLogger.level=warn',
      'rootLogger.appenderRef.stdout.ref=STDOUT',
      '',
    ];
    await writeFile(join(this.dir, 'log4j2.properties'), log4j2.join('\n'));
  }

  private javaArgs(main: string, args: string[], heap = '-Xmx512m'): string[] {
    // C1 only: half the CPU to get a broker serving (measured: 10.5-11.0 → 5.0-6.2 CPU s to
    // ready); tests move little data, and on a busy 2-core machine the JIT's CPU is the start time.
    const jitFlags = this.jit === 'c1' ? ['-XX:TieredStopAtLevel=1'] : [];
    return [
      heap,
      '-XX:+UseSerialGC',
      ...jitFlags,
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${join(this.dir, 'log4j.properties')}`,
      `-Dlog4j2.configurationFile=${join(this.dir, 'log4j2.properties')}`,
      '-cp',
      `${kafkaLibDir(this.version)}/*`,
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
    if (child.pid !== undefined) this.lastPid = child.pid;
    running.add(child);
    installExitHook();
    await this.saveState();
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
