/*
 * The soak (issues 7 and 15): the compiled daemon under steady mixed Coroot + Alertmanager
 * load while everything around it misbehaves — its JSONL file rotated by the real logrotate
 * every few seconds, its webhook receiver flapping between 200, 503 and hanging, its Kafka
 * broker (a real one, this soak's own) stopped and started, and the daemon itself SIGKILLed
 * and started again on the same config and data_dir (twice in `npm run soak`) while the
 * receiver is failing and Kafka has a backlog — then every event is reconciled, per output and
 * per process, against /metrics, against what each disk buffer held at each kill, and against
 * what really arrived.
 *
 * The webhook and Kafka outputs have disk buffers with `when_full: block`, and the daemon runs
 * with acknowledgements on (the default): a 202 means the events are in the audit file and in
 * both disk buffers. So the promise checked is:
 * - file: every event answered 202 is in the files exactly once (no event twice at all).
 * - webhook and kafka: every event answered 202 reached the receiver (a 200) / the topic at
 *   least once; a replay after a kill (delivered, but the ledger had not recorded it yet) or a
 *   200 the daemon missed delivers it again with the same id: counted and reported, not failed.
 * - nothing is counted failed or dropped anywhere (disk buffers retry forever and block when full).
 * - per process, on every scrape (process-books.ts): took + backlog at start = written + failed
 *   + dropped + buffered, the backlog at start being what the soak found on disk after the kill.
 * - at each kill (reconcile): every event answered 202 by then that the receiver had not
 *   acknowledged is in the webhook's buffer on disk; every one not in the topic at the end is in
 *   the Kafka buffer; every record on disk is one the daemon took (an accepted event, one of a
 *   request the kill left unanswered, or its own event). An event of an unanswered request can
 *   be in the disk buffers and not in the file (the file output still held it in memory): it
 *   was never answered 202, so it is owed to no output; it is reported, and it is the only kind
 *   of event allowed at the receiver or in the topic without being in a file.
 * - bounded: the daemon's RSS (VmHWM of each process) below a bound derived from the config,
 *   the buffer folders (sampled) never above the sum of their max_size.
 */
import { execFile } from 'node:child_process';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { bufferDir } from '../../src/outputs/delivery/disk/dir-name.js';
import { readLock } from '../../src/outputs/delivery/disk/lock.js';
import { books, type OutputBooks } from '../bench/accounting.js';
import { type LogLine, post, type RunningDaemon, startDaemon, tempDir } from '../helpers/daemon.js';
import { sampleSum, scrape } from '../helpers/metrics.js';
import { freePort } from '../helpers/net.js';
import { MemorySampler, memoryOf, openFds } from '../helpers/proc.js';
import { validateEvent } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';
import { KafkaBroker, missingPrerequisites } from '../kafka/broker.js';
import { createTopic } from '../kafka/topics.js';
import { type Backlog, bufferDirBytes, countPending, readBacklog } from './backlog.js';
import { LoadGenerator, type LoadStats, SEQ, seqOfEvent } from './load.js';
import { ProcessBooks } from './process-books.js';
import { FlappingReceiver, type ReceiverMode, type ReceiverStats } from './receiver.js';
import { classifyFds, countKinds, type KnownPorts } from './sockets.js';

/** kafkajs' ConnectionPool size (node_modules/kafkajs/src/network/connectionPool.js). */
const KAFKAJS_CONNECTIONS_PER_BROKER = 2;
const exec = promisify(execFile);
const P = 'coroot_event_recorder_';
export const LOGROTATE = '/usr/sbin/logrotate';
const TOPIC = 'soak-events';
const OUTPUTS = ['file', 'webhook', 'kafka'] as const;
type OutputName = (typeof OUTPUTS)[number];
/** The disk-buffered outputs. */
const DISK_OUTPUTS = ['webhook', 'kafka'] as const;
type DiskOutput = (typeof DISK_OUTPUTS)[number];

export interface SoakOptions {
  /** How long the load runs (ms); the settle and the checks come after. */
  durationMs: number;
  /** Offered events per second (a few thousand: well below the ~15–25k requests/s the daemon saturates at). */
  rate: number;
  eventsPerRequest: number;
  /** logrotate -f every this many ms. */
  rotateEveryMs: number;
  /** The receiver's cycle: 200 for okMs, 503 for unavailableMs, 200 again, then hang for hangMs. */
  flap: { okMs: number; unavailableMs: number; hangMs: number };
  /** The broker is stopped this long after each (re)start is complete… */
  kafkaUpMs: number;
  /** …and kept down this long before it is started again. */
  kafkaDownMs: number;
  /**
   * When the daemon is SIGKILLed and started again, as fractions of the duration. From each
   * point the soak waits (up to `killWaitMs`) for the hard moment: the broker down, the
   * receiver not answering 200, and both disk buffers holding a backlog.
   */
  killAt: number[];
  killWaitMs: number;
  /** Budget for the outputs to deliver what they hold once the load has stopped. */
  settleTimeoutMs: number;
  /** Progress lines (the CLI prints them); silent when absent. */
  progress?: (line: string) => void;
  /** Keep the daemon's folder (config, logs, rotated files, data_dir) even when every invariant holds. */
  keepDir?: boolean;
}

/** The daemon's buffers, in events (and bytes on disk); the memory bound is derived from them. */
export const BUFFERS = {
  queueSize: 8192,
  fileBuffer: 8192,
  webhookEvents: 2048,
  webhookWorkers: 4,
  webhookBatch: 100,
  kafkaEvents: 10_000,
  /** `max_size` of each disk buffer: the issue's small size. */
  diskMaxBytes: 64 * 1024 * 1024,
} as const;

/**
 * Memory one buffered event may hold, as a multiple of its serialized size: the recorder
 * queue holds the event object graph (keys, strings, nested objects: 2–3× its JSON), each
 * output holds the serialized Buffer (and Kafka a Message object around it).
 */
const BYTES_PER_SLOT_FACTOR = 4;
/**
 * A disk buffer holds records pushed but not yet written in memory up to 32 MiB
 * (MAX_STAGED_BYTES in src/outputs/delivery/disk/disk-buffer.ts), each as the event line and
 * its encoded record: twice that per disk buffer at most.
 */
const DISK_STAGED_BYTES = 2 * 32 * 1024 * 1024;
/** V8 heap headroom beyond the baseline (young generation, fragmentation, kafkajs/undici state). */
const MEMORY_SLACK_BYTES = 96 * 1024 * 1024;

/** Requests the senders keep in flight; beyond it they skip (the daemon slowed them down). */
const MAX_IN_FLIGHT = 64;
/** How often the soak scrapes the running process (its books) and sizes the buffer folders. */
const SCRAPE_EVERY_MS = 500;

/** Defaults for a run of `durationMs`; short runs scale the Kafka cycle so at least one fits, and kill once. */
export function defaultOptions(durationMs = 5 * 60_000): SoakOptions {
  const short = durationMs < 90_000;
  return {
    durationMs,
    rate: 3000,
    eventsPerRequest: 10,
    rotateEveryMs: 3000,
    flap: { okMs: 3000, unavailableMs: 1500, hangMs: 2000 },
    kafkaUpMs: short ? Math.round(durationMs / 4) : 25_000,
    kafkaDownMs: short ? Math.round(durationMs / 6) : 8000,
    killAt: short ? [1 / 3] : [1 / 3, 2 / 3],
    killWaitMs: short ? Math.round(durationMs / 3) : 40_000,
    settleTimeoutMs: 120_000,
  };
}

/** What arrived at one output's far side, beside the books of every process. */
export interface OutputFigures {
  /** Sums over the processes (the last scrape of each). */
  written: number;
  failed: number;
  dropped: number;
  dropsByReason: Record<string, number>;
  /** Distinct events in the files / acknowledged by the receiver / in the topic. */
  observed: number;
  /** Copies beyond the first (file: a failure; webhook and kafka: reported). */
  duplicates: number;
  /** Events answered 202 that never arrived there (must be 0). */
  missing: number;
}

/** One daemon process: its books at its last scrape. */
export interface ProcessReport {
  n: number;
  pid: number;
  ranS: number;
  /** How it ended: `killed` (SIGKILL) or `ran to the end`. */
  end: string;
  backlogAtStart: Record<string, number>;
  /** ms between the last scrape and the SIGKILL (0 for the last process: scraped idle). */
  lastScrapeBeforeEndMs: number;
  snapshots: number;
  received: number;
  recorderQueue: number;
  outputs: OutputBooks[];
  peakHwm: number;
  imbalances: string[];
}

/** One SIGKILL: the moment, and what the disk buffers held for the next process. */
export interface KillReport {
  n: number;
  atS: number;
  /** Whether the hard moment came within killWaitMs (else the kill happened anyway at the deadline). */
  brokerDown: boolean;
  receiverMode: ReceiverMode;
  /** output_queue_length of the disk-buffered outputs in the killed process's last scrape. */
  bufferedAtLastScrape: Record<DiskOutput, number>;
  found: Record<DiskOutput, Omit<Backlog, 'ids' | 'unansweredIds'>>;
  /**
   * Records on disk of requests the kill left unanswered that are in no file: the file output
   * had them in memory, the disk buffers had committed them. Never answered 202, so owed to no
   * one (a real sender retries); delivered anyway.
   */
  unansweredNotInFile: number;
  /** Accepted before the kill, not delivered before it, and not on disk: lost at the kill (must be 0). */
  lost: Record<DiskOutput, number>;
  /**
   * Records on disk that had already arrived before the kill (the ledger lagged the
   * delivery by up to a flush_interval): the receiver had acknowledged them / they are in the
   * topic twice. The next process sends them again.
   */
  alreadyDelivered: Record<DiskOutput, number>;
  /**
   * Events the killed process took after its last scrape, at most: those in the files or on
   * disk whose id (UUIDv7) carries a time between that scrape's request and the kill.
   */
  tookAfterLastScrape: number;
  restartMs: number;
}

export interface SoakReport {
  durationS: number;
  load: LoadStats & { ratePerS: number };
  /** Ingest requests the final process took more than 100 ms / 1 s to answer (its histogram). */
  serverSlow: { over100ms: number; over1s: number };
  outputs: Record<OutputName, OutputFigures>;
  processes: ProcessReport[];
  kills: KillReport[];
  rotations: { runs: number; withPostrotate: number; reopens: number; files: number };
  receiver: ReceiverStats & { duplicateAcks: number; ackLostEvents: number };
  kafka: { stops: number; kills: number; restarts: number; consumed: number; highWatermark: number };
  memory: { baselineRss: number; peakRssSampled: number; peakHwm: number; endRss: number; bound: number };
  disk: { peakBytes: number; samples: number; bound: number };
  fds: {
    baseline: number;
    end: number;
    baselineKinds: Record<string, number>;
    endKinds: Record<string, number>;
  };
  logs: { errors: Record<string, number>; warnings: Record<string, number>; errorSamples: LogLine[] };
  dir: string;
}

export interface SoakResult {
  report: SoakReport;
  /** One line per broken invariant; empty when the soak passed. */
  failures: string[];
}

/** Log messages that only a bug can produce (cmd/ and src/ log them from catch-alls). */
const BUG_MESSAGES = new Set([
  'uncaught exception',
  'unhandled rejection',
  'write loop error',
  'output send threw; event lost for this output',
  'kafka output: internal error',
  'webhook delivery failed unexpectedly',
  'webhook dispatch failed',
  'file output loop failed',
  'request handler failed',
  'commit round failed',
]);

function daemonConfig(receiverUrl: string, brokers: string): string {
  const disk = (events: number): string =>
    `{ type: disk, max_size: ${BUFFERS.diskMaxBytes / 1024 / 1024}MiB, max_events: ${events}, when_full: block }`;
  return `instance: soak
data_dir: ./data
queue_size: ${BUFFERS.queueSize}
on_queue_full: reject
shutdown_timeout: 20s
file_outputs:
  - name: file
    path: ./logs/events.jsonl
    fsync: interval
    buffer: { max_events: ${BUFFERS.fileBuffer} }
webhook_outputs:
  - name: webhook
    url: ${receiverUrl}
    timeout: 1s
    workers: ${BUFFERS.webhookWorkers}
    buffer: ${disk(BUFFERS.webhookEvents)}
    retry_backoff: 100ms
    max_backoff: 1s
    batch: { max_events: ${BUFFERS.webhookBatch}, max_bytes: 256KiB, flush_interval: 20ms }
kafka_outputs:
  - name: kafka
    brokers: [${brokers}]
    topic: ${TOPIC}
    acks: all
    buffer: ${disk(BUFFERS.kafkaEvents)}
    linger: 5ms
    timeout: 5s
`;
}

function logrotateConfig(path: string, pid: number | null): string {
  return [
    `${path} {`,
    // Never delete a rotated file: the check reads every line ever written.
    '  rotate 100000',
    '  create 0640',
    '  missingok',
    ...(pid !== null ? ['  postrotate', `    kill -USR1 ${pid}`, '  endscript'] : []),
    '}',
    '',
  ].join('\n');
}

/**
 * One thing at a time between the kill-and-restart and the loops that touch the daemon by its
 * pid or address (logrotate's SIGUSR1, the scrapes): neither runs in the middle of a restart.
 */
class Gate {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => {});
    return result;
  }
}

/** The daemon process running now and its books; replaced at each restart. */
interface Lifetime {
  daemon: RunningDaemon;
  books: ProcessBooks;
  memory: MemorySampler;
  /** VmHWM read just before the kill, or at the end. */
  hwm: number;
  endedAt: number | null;
  end: string;
}

/** What the soak keeps of each kill for the checks at the end (the id sets are large). */
interface KillRecord {
  report: KillReport;
  /** The senders' state of every sequence number just after the kill. */
  states: Uint8Array;
  /** receiver.acked.size just after the kill: the first that many ids it acknowledged came before. */
  ackedCount: number;
  /** Date.now() when the last scrape was requested, and when the process was gone. */
  lastScrapeSentAt: number;
  killedAt: number;
  ids: Record<DiskOutput, Set<string>>;
  /** Records on disk of requests not answered 202: event id → sequence number. */
  unanswered: Map<string, number>;
}

/** Runs the soak and checks every invariant. Throws only when it cannot run at all. */
export async function run(partial: Partial<SoakOptions> = {}): Promise<SoakResult> {
  const opts: SoakOptions = { ...defaultOptions(partial.durationMs), ...partial };
  const say = opts.progress ?? (() => {});
  const missing = missingPrerequisites();
  if (missing) throw new Error(`the soak needs a Kafka broker: ${missing}`);

  const failures: string[] = [];
  const dir = await tempDir('cer-soak-');
  const dataDir = join(dir, 'data');
  const receiver = new FlappingReceiver();
  const gate = new Gate();
  const lifetimes: Lifetime[] = [];
  const kills: KillRecord[] = [];
  let broker: KafkaBroker | null = null;
  let load: LoadGenerator | null = null;
  const current = (): Lifetime | null => lifetimes.at(-1) ?? null;
  try {
    say('starting the Kafka broker');
    broker = await KafkaBroker.start();
    const liveBroker = broker;
    const kafka = new Kafka({ brokers: [broker.brokers], clientId: 'soak', logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await createTopic(admin, TOPIC, { partitions: 3 });
    await admin.disconnect();

    await receiver.start();
    // A fixed address: the senders keep sending to it while the daemon is down and restarted.
    const listen = `127.0.0.1:${await freePort()}`;
    const config = daemonConfig(receiver.url, broker.brokers);
    const start = async (n: number, backlog: Record<string, number>): Promise<Lifetime> => {
      const daemon = await startDaemon(n === 1 ? config : { file: join(dir, 'recorder.yaml') }, {
        dir,
        listen,
        // Info, not the helper's debug: the helper keeps every line in memory for the whole run.
        logLevel: 'info',
        // Ready needs the broker; the restart may come while it is down.
        waitReady: n === 1,
      });
      const memory = new MemorySampler(daemon.pid, 500);
      const life: Lifetime = {
        daemon,
        books: new ProcessBooks(n, daemon.pid, backlog, Date.now()),
        memory,
        hwm: 0,
        endedAt: null,
        end: 'ran to the end',
      };
      lifetimes.push(life);
      return life;
    };
    // A restart on a starved machine may take longer than the harness's 15 s to listen: that
    // says nothing about the daemon's books, so it gets two more tries (each logged).
    const startAgain = async (n: number, backlog: Record<string, number>): Promise<Lifetime> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await start(n, backlog);
        } catch (err) {
          if (attempt === 3) throw err;
          say(`process #${n} did not start (attempt ${attempt}): ${(err as Error).message.split('\n')[0]}`);
          // The harness SIGKILLed that attempt; its buffer locks go with it.
          await waitFor(
            () => DISK_OUTPUTS.every((name) => readLock(bufferDir(dataDir, name))?.alive !== true),
            {
              timeoutMs: 15_000,
              what: 'the failed attempt to let go of the buffers',
            },
          );
        }
      }
    };
    const first = await start(1, {});
    const d1 = first.daemon;
    const ports: KnownPorts = {
      listen: Number(new URL(d1.baseUrl).port),
      receiver: Number(new URL(receiver.url).port),
      kafka: [broker.port, broker.saslPort, broker.controllerPort],
    };
    say(`daemon pid ${d1.pid} at ${d1.baseUrl}, folder ${dir}`);

    // Warm-up: one event through every output, so the baseline has its connections open.
    const warm = await post(`${d1.baseUrl}/api/v1/coroot`, [warmupAlert()]);
    if (warm.status !== 202) throw new Error(`warm-up answered ${warm.status}: ${warm.text}`);
    await waitFor(async () => idle(await scrape(d1.baseUrl)), {
      timeoutMs: 60_000,
      what: 'the warm-up delivered',
    });
    const baselineFds = await settledFds(d1.pid, ports, receiver, null);
    const baselineMem = await memoryOf(d1.pid);
    say(`baseline: ${baselineFds.length} fds, RSS ${mib(baselineMem.rss)}`);

    // --- the load and the faults -----------------------------------------------------
    first.memory.start();
    load = new LoadGenerator({
      baseUrl: d1.baseUrl,
      rate: opts.rate,
      eventsPerRequest: opts.eventsPerRequest,
      maxInFlight: MAX_IN_FLIGHT,
      requestTimeoutMs: 10_000,
    });
    const liveLoad = load;
    const startedAt = Date.now();
    const stopAt = startedAt + opts.durationMs;
    const running = (): boolean => Date.now() < stopAt;
    const disk = { peakBytes: 0, samples: 0 };
    load.start();

    // Scrapes the running process (its books) and sizes the buffer folders, between restarts.
    const scraping = (async () => {
      while (running()) {
        await gate.run(async () => {
          const life = current();
          if (life === null) return;
          const text = await scrape(life.daemon.baseUrl).catch(() => null);
          if (text !== null) life.books.check(text);
        });
        const bytes = await bufferDirBytes(dataDir);
        disk.peakBytes = Math.max(disk.peakBytes, bytes);
        disk.samples++;
        await delay(SCRAPE_EVERY_MS);
      }
    })().catch((err: unknown) => {
      failures.push(`scraping: ${(err as Error).message}`);
    });

    const killAndRestart = async (k: number, moment: { brokerDown: boolean; mode: ReceiverMode }) => {
      const life = current() as Lifetime;
      const d = life.daemon;
      liveLoad.restarting = true;
      // The last scrape, then SIGKILL at once: the next process's backlog (read from disk
      // below) accounts for whatever happened in between.
      const lastScrapeSentAt = Date.now();
      life.books.check(await scrape(d.baseUrl));
      life.hwm = (await memoryOf(d.pid)).hwm;
      await d.stop('SIGKILL');
      life.endedAt = Date.now();
      life.end = 'SIGKILL';
      life.memory.stop();
      const states = liveLoad.snapshotStates();
      const ackedCount = receiver.acked.size;
      // A copy of the buffers as the kill left them, read once the next process runs: reading
      // them here would keep the senders waiting that much longer.
      const copy = join(dir, `buffers-at-kill-${k + 1}`);
      const counts = {} as Record<DiskOutput, number>;
      for (const name of DISK_OUTPUTS) {
        await cp(bufferDir(dataDir, name), join(copy, name), { recursive: true });
        counts[name] = await countPending(join(copy, name));
      }
      const bufferedAtLastScrape = {} as Record<DiskOutput, number>;
      for (const name of DISK_OUTPUTS) bufferedAtLastScrape[name] = life.books.output(name)?.pending ?? 0;
      const restartFrom = Date.now();
      const next = await startAgain(k + 2, counts);
      next.memory.start();
      await waitFor(() => fetch(`${next.daemon.baseUrl}/-/healthy`).then((r) => r.status === 200), {
        timeoutMs: 15_000,
        what: 'the restarted daemon to answer /-/healthy',
      });
      liveLoad.restarting = false;
      const restartMs = Date.now() - restartFrom;
      const found = {} as Record<DiskOutput, Backlog>;
      for (const name of DISK_OUTPUTS) found[name] = await readBacklog(join(copy, name), states);
      await rm(copy, { recursive: true, force: true });
      const strip = ({
        ids: _ids,
        unansweredIds: _u,
        ...rest
      }: Backlog): Omit<Backlog, 'ids' | 'unansweredIds'> => rest;
      kills.push({
        report: {
          n: k + 1,
          atS: Math.round((life.endedAt - startedAt) / 100) / 10,
          brokerDown: moment.brokerDown,
          receiverMode: moment.mode,
          bufferedAtLastScrape,
          found: { webhook: strip(found.webhook), kafka: strip(found.kafka) },
          lost: { webhook: 0, kafka: 0 },
          alreadyDelivered: { webhook: 0, kafka: 0 },
          tookAfterLastScrape: 0,
          unansweredNotInFile: 0,
          restartMs,
        },
        states,
        ackedCount,
        lastScrapeSentAt,
        killedAt: life.endedAt,
        ids: { webhook: found.webhook.ids, kafka: found.kafka.ids },
        unanswered: new Map([...found.webhook.unansweredIds, ...found.kafka.unansweredIds]),
      });
      say(
        `daemon SIGKILLed (#${k + 1}, broker ${moment.brokerDown ? 'down' : 'up'}, receiver ${moment.mode}); on disk: webhook ${found.webhook.pending}, kafka ${found.kafka.pending} events; restarted as pid ${next.daemon.pid}`,
      );
    };

    // Kills at the planned points, each at the first hard moment after it.
    const killing = (async () => {
      for (const [k, at] of opts.killAt.entries()) {
        const due = startedAt + at * opts.durationMs;
        if (due > Date.now()) await delay(due - Date.now());
        const giveUpAt = Math.min(Date.now() + opts.killWaitMs, stopAt - 2000);
        // The broker down is preferred; on a slow machine its cycle may not come round in
        // time, so after half the wait a Kafka backlog with the broker up will do.
        const preferUntil = Date.now() + opts.killWaitMs / 2;
        const hard = (): boolean => {
          const last = current()?.books.last;
          const held = (name: string) => (last?.outputs.find((o) => o.output === name)?.pending ?? 0) > 0;
          const brokerOk = !liveBroker.running || Date.now() > preferUntil;
          return brokerOk && receiver.mode !== 'ok' && held('webhook') && held('kafka');
        };
        while (!hard() && Date.now() < giveUpAt) await delay(50);
        if (!running()) break;
        await gate.run(() => killAndRestart(k, { brokerDown: !liveBroker.running, mode: receiver.mode }));
      }
    })().catch((err: unknown) => {
      // Reported; the run goes on with whichever process is current, and the checks say the rest.
      failures.push(`restart: ${(err as Error).message}`);
    });

    const rotation = rotateLoop(
      dir,
      gate,
      () => current()?.daemon.pid ?? null,
      opts.rotateEveryMs,
      running,
      failures,
    );
    const flapping = flapLoop(receiver, opts.flap, running);
    const brokerCycles = brokerLoop(broker, opts, running, failures, say);
    const ticker = setInterval(() => {
      const s = liveLoad.stats;
      say(
        `t+${Math.round((Date.now() - startedAt) / 1000)}s offered ${s.offered} accepted ${s.accepted} refused ${s.refused} failed ${s.failed} (${s.failedInRestart} in restarts) skipped ${s.skipped}; receiver ${receiver.mode}; RSS ${mib(current()?.memory.last?.rss ?? 0)}`,
      );
    }, 10_000);
    await delay(opts.durationMs);
    clearInterval(ticker);
    await killing;
    await load.stop();
    const rotations = await rotation;
    receiver.mode = 'ok';
    const cycles = await brokerCycles;
    await flapping;
    await scraping;
    say('load stopped; waiting for the outputs to deliver what they hold');

    // --- settle ---------------------------------------------------------------------
    const last = current() as Lifetime;
    const d = last.daemon;
    const settled = await waitFor(
      async () => {
        const text = await scrape(d.baseUrl);
        return idle(text) ? text : null;
      },
      { timeoutMs: opts.settleTimeoutMs, intervalMs: 250, what: 'every output idle' },
    ).catch(async (err: Error) => {
      failures.push(`settle: ${err.message}`);
      return scrape(d.baseUrl);
    });
    last.books.check(settled);
    await last.memory.sample();
    last.memory.stop();
    disk.peakBytes = Math.max(disk.peakBytes, await bufferDirBytes(dataDir));

    // --- what really arrived ------------------------------------------------------------
    say('reading the files, the receiver and the topic');
    const file = await readFiles(join(dir, 'logs'), load);
    const topic = await consumeTopic(kafka, TOPIC);

    const endFds = await settledFds(d.pid, ports, receiver, load, baselineFds.length + DISK_OUTPUTS.length);
    const endMem = await memoryOf(d.pid);
    last.hwm = endMem.hwm;
    last.endedAt = Date.now();
    const healthy = await fetch(`${d.baseUrl}/-/healthy`)
      .then((r) => r.status === 200)
      .catch(() => false);
    const aliveBeforeStop = d.proc.exitCode === null && d.proc.signalCode === null;

    // --- figures ----------------------------------------------------------------------
    const sumOver = (name: OutputName): OutputFigures => {
      const out: OutputFigures = {
        written: 0,
        failed: 0,
        dropped: 0,
        dropsByReason: {},
        observed: 0,
        duplicates: 0,
        missing: 0,
      };
      for (const life of lifetimes) {
        const o = life.books.output(name);
        if (!o) continue;
        out.written += o.written;
        out.failed += o.failed;
        out.dropped += o.dropped;
        for (const [reason, n] of Object.entries(o.dropsByReason))
          out.dropsByReason[reason] = (out.dropsByReason[reason] ?? 0) + n;
      }
      return out;
    };
    const outputs = {} as Record<OutputName, OutputFigures>;
    for (const name of OUTPUTS) outputs[name] = sumOver(name);
    outputs.file.observed = file.ids.size;
    outputs.file.duplicates = file.lines - file.ids.size;
    outputs.file.missing = file.missing;
    outputs.webhook.observed = receiver.acked.size;
    outputs.webhook.duplicates = receiver.duplicateAcks();
    outputs.kafka.observed = topic.ids.size;
    outputs.kafka.duplicates = topic.messages - topic.ids.size;
    // Every event answered 202, by its id (the file maps sequence numbers to ids).
    for (let seq = 0; seq < load.sent; seq++) {
      if (load.stateOf(seq) !== SEQ.accepted) continue;
      const id = file.idOfSeq[seq];
      if (id === undefined) continue; // missing from the file: counted there
      if (!receiver.acked.has(id)) outputs.webhook.missing++;
      if (!topic.ids.has(id)) outputs.kafka.missing++;
    }

    // Events of requests not answered 202 that the daemon took: found in a file or on disk at a kill.
    const takenUnanswered = new Set(file.unansweredSeqs);
    const onDiskNotInFile = new Set<string>();
    for (const kill of kills)
      for (const [id, seq] of kill.unanswered) {
        takenUnanswered.add(seq);
        if (!file.ids.has(id)) {
          onDiskNotInFile.add(id);
          kill.report.unansweredNotInFile++;
        }
      }

    // Reconcile each kill with what the disk held (see the header).
    const ackIndex = new Map<string, number>();
    let i = 0;
    for (const id of receiver.acked.keys()) ackIndex.set(id, i++);
    for (const kill of kills) {
      for (let seq = 0; seq < kill.states.length; seq++) {
        if (kill.states[seq] !== SEQ.accepted) continue;
        const id = file.idOfSeq[seq];
        if (id === undefined) continue;
        const ackedBefore = (ackIndex.get(id) ?? Number.POSITIVE_INFINITY) < kill.ackedCount;
        if (!ackedBefore && !kill.ids.webhook.has(id)) kill.report.lost.webhook++;
        if (!kill.ids.kafka.has(id) && !topic.ids.has(id)) kill.report.lost.kafka++;
      }
      for (const id of kill.ids.webhook)
        if ((ackIndex.get(id) ?? Number.POSITIVE_INFINITY) < kill.ackedCount)
          kill.report.alreadyDelivered.webhook++;
      for (const id of kill.ids.kafka) if ((topic.ids.get(id) ?? 0) > 1) kill.report.alreadyDelivered.kafka++;
      const inWindow = (id: string): boolean => {
        const ms = uuid7Millis(id);
        return ms >= kill.lastScrapeSentAt && ms <= kill.killedAt;
      };
      let took = 0;
      for (const id of file.ids) if (inWindow(id)) took++;
      const onDiskOnly = new Set<string>();
      for (const name of DISK_OUTPUTS)
        for (const id of kill.ids[name]) if (!file.ids.has(id) && inWindow(id)) onDiskOnly.add(id);
      kill.report.tookAfterLastScrape = took + onDiskOnly.size;
    }

    const maxLine = Math.max(file.maxLineBytes, 1);
    const slots =
      BUFFERS.queueSize +
      BUFFERS.fileBuffer +
      BUFFERS.webhookEvents +
      BUFFERS.webhookWorkers * BUFFERS.webhookBatch +
      BUFFERS.kafkaEvents;
    const bound =
      baselineMem.rss +
      slots * maxLine * BYTES_PER_SLOT_FACTOR +
      DISK_OUTPUTS.length * DISK_STAGED_BYTES +
      MEMORY_SLACK_BYTES;
    const diskBound = DISK_OUTPUTS.length * BUFFERS.diskMaxBytes;

    const requests = sampleSum(settled, `${P}ingest_request_duration_seconds_count`);
    const within = (le: string): number =>
      sampleSum(settled, `${P}ingest_request_duration_seconds_bucket`, { le });
    const serverSlow = { over100ms: requests - within('0.1'), over1s: requests - within('1') };

    const processes: ProcessReport[] = lifetimes.map((life) => ({
      n: life.books.n,
      pid: life.books.pid,
      ranS: Math.round(((life.endedAt ?? Date.now()) - life.books.startedAt) / 100) / 10,
      end: life.end,
      backlogAtStart: { ...life.books.backlogAtStart },
      lastScrapeBeforeEndMs:
        life.end === 'SIGKILL' ? Math.max(0, (life.endedAt ?? 0) - (life.books.last?.at ?? 0)) : 0,
      snapshots: life.books.snapshots,
      received: life.books.last?.received ?? 0,
      recorderQueue: life.books.last?.recorderQueue ?? 0,
      outputs: life.books.last?.outputs ?? [],
      peakHwm: life.hwm,
      imbalances: life.books.imbalances,
    }));
    const peakHwm = Math.max(...lifetimes.map((l) => l.hwm));
    const allLogs = lifetimes.flatMap((l) => l.daemon.logs);

    const report: SoakReport = {
      durationS: opts.durationMs / 1000,
      load: { ...load.stats, ratePerS: opts.rate },
      serverSlow,
      outputs,
      processes,
      kills: kills.map((k) => k.report),
      rotations: {
        runs: rotations.runs,
        withPostrotate: rotations.withPostrotate,
        reopens: lifetimes.reduce((sum, l) => sum + (l.books.last?.fileReopens ?? 0), 0),
        files: file.files,
      },
      receiver: {
        ...receiver.stats,
        duplicateAcks: receiver.duplicateAcks(),
        ackLostEvents: receiver.ackLostEvents(),
      },
      kafka: { ...cycles, consumed: topic.messages, highWatermark: topic.highWatermark },
      memory: {
        baselineRss: baselineMem.rss,
        peakRssSampled: Math.max(...lifetimes.map((l) => l.memory.peakRss)),
        peakHwm,
        endRss: endMem.rss,
        bound,
      },
      disk: { ...disk, bound: diskBound },
      fds: {
        baseline: baselineFds.length,
        end: endFds.length,
        baselineKinds: countKinds(baselineFds),
        endKinds: countKinds(endFds),
      },
      logs: logSummary(allLogs),
      dir,
    };

    // --- invariants -------------------------------------------------------------------
    const fail = (what: string): void => {
      failures.push(what);
    };
    const s = load.stats;
    const odd = s.errors.filter((e) => !e.includes('Timeout'));
    if (odd.length > 0) fail(`ingest: unexpected answers outside the restarts: ${odd.join(' | ')}`);
    if (s.accepted === 0) fail('ingest: nothing was accepted');
    // A process's counters after its last scrape are gone with it: the sums are lower bounds.
    const refusedRequests = lifetimes.reduce((sum, l) => sum + (l.books.last?.queueFullRequests ?? 0), 0);
    if (refusedRequests * opts.eventsPerRequest > s.refused)
      fail(
        `ingest: ${refusedRequests} requests counted queue_full, senders saw only ${s.refused} events refused`,
      );
    const ingested = lifetimes.reduce((sum, l) => sum + (l.books.last?.ingested ?? 0), 0);
    if (ingested > s.accepted + 1 + takenUnanswered.size)
      fail(
        `ingest: the processes counted ${ingested} events received from senders > ${s.accepted} accepted + 1 warm-up + ${takenUnanswered.size} of unanswered or unconfirmed requests found in the files or on disk at a kill`,
      );
    const lostBeforeOutputs = sampleSum(settled, `${P}events_dropped_total`);
    if (lostBeforeOutputs !== 0)
      fail(`recorder: events_dropped_total ${lostBeforeOutputs} (expected 0 with on_queue_full: reject)`);
    if (sampleSum(settled, `${P}queue_length`) !== 0) fail('recorder: queue_length not 0 once idle');

    // Per process: the books on every scrape; nothing failed or dropped (disk buffers retry
    // forever and block when full; the file blocks).
    if (lifetimes.length !== opts.killAt.length + 1)
      fail(`restarts: ${lifetimes.length - 1} kills happened, ${opts.killAt.length} planned`);
    for (const life of lifetimes) {
      const b = life.books;
      for (const line of b.imbalances) fail(`process #${b.n} (pid ${b.pid}): books do not balance: ${line}`);
      for (const line of b.overMax) fail(`process #${b.n}: ${line}`);
      if (b.snapshots < 2) fail(`process #${b.n}: only ${b.snapshots} scrapes checked`);
      for (const o of b.last?.outputs ?? [])
        if (o.failed + o.dropped > 0)
          fail(
            `process #${b.n}: ${o.output} counted ${o.failed} failed + ${o.dropped} dropped ${JSON.stringify(o.dropsByReason)}`,
          );
    }
    const final = last.books.last;
    for (const o of final?.outputs ?? [])
      if (o.pending !== 0) fail(`${o.output}: ${o.pending} events still buffered after the settle`);

    // At each kill.
    for (const k of kills) {
      const r = k.report;
      for (const name of DISK_OUTPUTS) {
        const f = r.found[name];
        if (r.lost[name] > 0)
          fail(
            `kill #${r.n}: ${r.lost[name]} events answered 202 before it, not delivered, are not in the ${name} buffer on disk`,
          );
        if (f.foreign > 0)
          fail(`kill #${r.n}: ${f.foreign} records in the ${name} buffer the daemon never took`);
        // What was on disk, less what had already arrived, is what the process still held at
        // its last scrape plus at most what it took after: more would be records from nowhere.
        const held = f.pending - r.alreadyDelivered[name];
        if (held > r.bufferedAtLastScrape[name] + r.tookAfterLastScrape)
          fail(
            `kill #${r.n}: ${name}: ${f.pending} on disk - ${r.alreadyDelivered[name]} already delivered > ${r.bufferedAtLastScrape[name]} buffered at the last scrape + ${r.tookAfterLastScrape} taken after it`,
          );
        if (f.damage.length > 0) fail(`kill #${r.n}: the ${name} buffer is damaged: ${f.damage.join('; ')}`);
      }
    }

    // file
    if (file.invalid.length > 0)
      fail(
        `file: ${file.invalid.length} lines fail the schema or do not parse: ${file.invalid.slice(0, 3).join(' | ')}`,
      );
    if (outputs.file.duplicates > 0)
      fail(
        `file: ${outputs.file.duplicates} duplicate event ids, e.g. ${file.duplicateIds.slice(0, 3).join(', ')}`,
      );
    if (file.seqDuplicates > 0) fail(`file: ${file.seqDuplicates} alerts written more than once`);
    if (file.foreign > 0) fail(`file: ${file.foreign} lines for alerts the daemon never accepted`);
    if (file.missing > 0) fail(`file: ${file.missing} events answered 202 are in no file`);
    // The last process ran to an idle end: every line it was handed is written.
    if (file.lines < outputs.file.written)
      fail(`file: ${file.lines} lines < ${outputs.file.written} counted written`);
    if (rotations.runs === 0) fail('file: logrotate never ran');

    // webhook
    if (outputs.webhook.missing > 0)
      fail(`webhook: ${outputs.webhook.missing} events answered 202 never acknowledged by the receiver`);
    const fromNowhere = (id: string): boolean => !file.ids.has(id) && !onDiskNotInFile.has(id);
    const whForeign = [...receiver.acked.keys()].filter(fromNowhere).length;
    if (whForeign > 0)
      fail(`webhook: ${whForeign} acknowledged events are in no file and were on no disk buffer at a kill`);
    if (receiver.stats.malformed > 0) fail(`webhook: ${receiver.stats.malformed} malformed request bodies`);
    if (receiver.stats.unavailable === 0 || receiver.stats.hung === 0)
      fail('webhook: the receiver never answered 503 or never hung: the flap did not happen');

    // kafka
    if (outputs.kafka.missing > 0)
      fail(`kafka: ${outputs.kafka.missing} events answered 202 are not in the topic`);
    if (topic.messages !== topic.highWatermark)
      fail(`kafka: consumed ${topic.messages} of the ${topic.highWatermark} messages in the topic`);
    const kfForeign = [...topic.ids.keys()].filter(fromNowhere).length;
    if (kfForeign > 0)
      fail(`kafka: ${kfForeign} events in the topic are in no file and were on no disk buffer at a kill`);
    if (topic.badHeaders > 0)
      fail(`kafka: ${topic.badHeaders} messages whose event_id header is not the value's id`);
    if (cycles.stops === 0 || cycles.restarts === 0) fail('kafka: the broker was never stopped and started');

    // process
    if (!aliveBeforeStop)
      fail(`daemon: not running at the end (exit ${String(d.proc.exitCode ?? d.proc.signalCode)})`);
    if (!healthy) fail('daemon: /-/healthy did not answer 200 at the end');
    for (const life of lifetimes)
      if (life.hwm > bound)
        fail(
          `memory: process #${life.books.n} peak RSS ${mib(life.hwm)} above the bound ${mib(bound)} (baseline ${mib(baselineMem.rss)} + ${slots} buffered events × ${maxLine} B × ${BYTES_PER_SLOT_FACTOR} + ${DISK_OUTPUTS.length} × ${mib(DISK_STAGED_BYTES)} staged + ${mib(MEMORY_SLACK_BYTES)})`,
        );
    if (disk.peakBytes > diskBound)
      fail(`disk: the buffer folders reached ${disk.peakBytes} bytes > the sum of max_size ${diskBound}`);
    // Another process by now: its pipes have other inodes and its disk buffers other segment
    // files, and a buffer that read a backlog keeps a reader descriptor beside the writer's.
    const endKinds = countKinds(endFds.map(fdKind));
    const extra = kindDiff(countKinds(baselineFds.map(fdKind)), endKinds);
    for (const name of DISK_OUTPUTS) {
      const kind = `data/buffers/${name}/*.seg`;
      if ((extra[kind] ?? 0) <= 1) delete extra[kind];
    }
    // kafkajs keeps a pool of two connections per broker and opens the second when a request
    // needs it (after an outage, metadata and produce can overlap): the one broker is worth at
    // most two sockets, and a leak would go past them.
    if ((endKinds['socket:kafka'] ?? 0) <= KAFKAJS_CONNECTIONS_PER_BROKER) delete extra['socket:kafka'];
    if (Object.keys(extra).length > 0)
      fail(
        `fds: ${endFds.length} open at the end, baseline ${baselineFds.length}; more than the baseline of: ${JSON.stringify(extra)}`,
      );
    const rotatedOpen = endFds.filter((t) => /events\.jsonl\.\d+/.test(t) || t.endsWith(' (deleted)'));
    if (rotatedOpen.length > 0) fail(`fds: rotated or deleted files still open: ${rotatedOpen.join(', ')}`);
    const bugs = allLogs.filter((l) => BUG_MESSAGES.has(l.msg));
    if (bugs.length > 0)
      fail(`logs: ${bugs.length} lines only a bug writes, e.g. ${JSON.stringify(bugs[0])}`);
    const raw = allLogs.filter((l) => l.level === 'raw' && l.msg.trim() !== '');
    if (raw.length > 0)
      fail(
        `logs: ${raw.length} non-JSON stderr lines (a crash trace or a Node warning), e.g. ${raw[0]?.msg}`,
      );

    const code = await d.stop('SIGTERM');
    if (code !== 0) fail(`daemon: exited ${String(code)} on SIGTERM`);
    return { report, failures };
  } catch (err) {
    // The soak could not finish (most likely the daemon died): say what the daemon last said.
    failures.push(String(err));
    const d = current()?.daemon ?? null;
    if (d === null) throw err;
    const state =
      d.proc.exitCode === null && d.proc.signalCode === null
        ? 'still running'
        : `exited (${String(d.proc.exitCode ?? d.proc.signalCode)})`;
    const tail = d.rawStderr().trim().split('\n').slice(-20).join('\n');
    throw new Error(
      `${(err as Error).message}\ndaemon ${state}; folder kept: ${dir}; broken so far:\n${failures.join('\n')}\nlast stderr lines:\n${tail}`,
    );
  } finally {
    await load?.stop().catch(() => {});
    await load?.close().catch(() => {});
    for (const life of lifetimes) {
      life.memory.stop();
      await life.daemon.stop('SIGKILL').catch(() => null);
      // Kept with the folder when something failed (or --keep): each process's own log.
      await writeFile(join(dir, `daemon-${life.books.n}.log`), life.daemon.rawStderr()).catch(() => {});
    }
    await receiver.stop().catch(() => {});
    await broker?.destroy().catch(() => {});
    if (failures.length === 0 && !opts.keepDir) await rm(dir, { recursive: true, force: true });
  }
}

/** The Unix milliseconds of a UUIDv7 (its first 48 bits): when the daemon recorded the event. */
function uuid7Millis(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

function warmupAlert(): Record<string, unknown> {
  return {
    status: 'WARNING',
    rule_name: 'Soak warm-up',
    severity: 'warning',
    summary: 'warm-up',
    application: 'soak:ns:Deployment:warmup',
    url: 'https://coroot.example.com/p/soak0001/alerts?alert=warmup000000',
  };
}

/**
 * Nothing waits anywhere: the recorder queue and every output's buffer are empty. (The books
 * are checked apart, per process: a restarted process delivers a backlog it never took.)
 */
function idle(text: string): boolean {
  if (sampleSum(text, `${P}queue_length`) !== 0) return false;
  const outputs = books(text).outputs;
  return OUTPUTS.every((name) => outputs.some((o) => o.output === name && o.pending === 0));
}

/**
 * The daemon's descriptors once connections that come and go with traffic are gone: the
 * senders' keep-alive connections (closed by the load generator) and the webhook pool's
 * idle sockets (closed by the receiver). Waits for those to disappear, then for the count
 * to stop changing, and returns the classified targets. With `baseline`, also gives a
 * connection being set up or torn down at that instant (kafkajs after the broker's restart)
 * up to 15 s to go back to it; a descriptor that really leaked stays, and is returned.
 */
async function settledFds(
  pid: number,
  ports: KnownPorts,
  receiver: FlappingReceiver,
  load: LoadGenerator | null,
  baseline: number | null = null,
): Promise<string[]> {
  await load?.close();
  let previous = -1;
  const settled = (): Promise<string[]> =>
    waitFor(
      async () => {
        receiver.closeIdle();
        const kinds = await classifyFds(await openFds(pid), ports);
        const transient = kinds.filter((k) => k === 'socket:ingest-client' || k === 'socket:receiver').length;
        const stable = kinds.length === previous;
        previous = kinds.length;
        return transient === 0 && stable ? kinds : null;
      },
      { timeoutMs: 15_000, intervalMs: 200, what: 'the connections of the load to close' },
    );
  const first = await settled();
  if (baseline === null || first.length <= baseline) return first;
  let last = first;
  return waitFor(
    async () => {
      last = await settled();
      return last.length <= baseline ? last : null;
    },
    { timeoutMs: 15_000, intervalMs: 500, what: 'the descriptors to return to the baseline' },
  ).catch(() => last);
}

/** A descriptor target without what differs between two processes of the same config. */
function fdKind(target: string): string {
  if (target.startsWith('pipe:')) return 'pipe';
  const segment = /\/(data\/buffers\/[^/]+\/)\d+\.seg$/.exec(target);
  if (segment) return `${segment[1]}*.seg`;
  return target;
}

function kindDiff(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(after)) if (n > (before[k] ?? 0)) out[k] = n - (before[k] ?? 0);
  return out;
}

/**
 * logrotate -f every `everyMs` while `running`, alternating with and without a SIGUSR1
 * postrotate to the daemon running at that moment (never in the middle of a restart: `gate`).
 */
async function rotateLoop(
  dir: string,
  gate: Gate,
  pid: () => number | null,
  everyMs: number,
  running: () => boolean,
  failures: string[],
): Promise<{ runs: number; withPostrotate: number }> {
  const path = join(dir, 'logs', 'events.jsonl');
  const state = join(dir, 'logrotate.state');
  const conf = join(dir, 'logrotate.conf');
  let runs = 0;
  let withPostrotate = 0;
  while (running()) {
    await delay(everyMs);
    if (!running()) break;
    const usr1 = runs % 2 === 1;
    await gate.run(async () => {
      await writeFile(conf, logrotateConfig(path, usr1 ? pid() : null));
      try {
        const { stderr } = await exec(LOGROTATE, ['-f', '-s', state, conf]);
        if (stderr.trim() !== '') failures.push(`logrotate #${runs + 1} complained: ${stderr.trim()}`);
      } catch (err) {
        failures.push(`logrotate #${runs + 1} failed: ${(err as Error).message.trim()}`);
      }
    });
    runs++;
    if (usr1) withPostrotate++;
  }
  return { runs, withPostrotate };
}

/** The receiver's mode cycle while `running`: ok → unavailable → ok → hang → … */
async function flapLoop(
  receiver: FlappingReceiver,
  flap: SoakOptions['flap'],
  running: () => boolean,
): Promise<void> {
  const cycle: Array<[ReceiverMode, number]> = [
    ['ok', flap.okMs],
    ['unavailable', flap.unavailableMs],
    ['ok', flap.okMs],
    ['hang', flap.hangMs],
  ];
  for (let i = 0; running(); i++) {
    const [mode, ms] = cycle[i % cycle.length] as [ReceiverMode, number];
    receiver.mode = mode;
    await delay(ms);
  }
  receiver.mode = 'ok';
}

/**
 * Stops the broker `kafkaUpMs` after each start and starts it again `kafkaDownMs` later,
 * alternating a graceful stop (SIGTERM, controlled shutdown) and a SIGKILL. Ends with the
 * broker running.
 */
async function brokerLoop(
  broker: KafkaBroker,
  opts: SoakOptions,
  running: () => boolean,
  failures: string[],
  say: (line: string) => void,
): Promise<{ stops: number; kills: number; restarts: number }> {
  let stops = 0;
  let kills = 0;
  let restarts = 0;
  while (running()) {
    await delay(opts.kafkaUpMs);
    if (!running()) break;
    const kill = stops % 2 === 1;
    const pid = broker.pid;
    // Our own child, by its pid: the hard way a broker can go.
    if (kill && pid !== null) process.kill(pid, 'SIGKILL');
    await broker.stop();
    stops++;
    if (kill) kills++;
    say(`kafka broker ${kill ? 'killed' : 'stopped'}`);
    await delay(opts.kafkaDownMs);
    try {
      await broker.restart();
      restarts++;
      say('kafka broker started again');
    } catch (err) {
      failures.push(`kafka: the broker did not start again: ${(err as Error).message}`);
      break;
    }
  }
  return { stops, kills, restarts };
}

interface FileFindings {
  files: number;
  lines: number;
  ids: Set<string>;
  duplicateIds: string[];
  invalid: string[];
  maxLineBytes: number;
  /** Accepted alerts found more than once / in no file; lines for alerts never accepted. */
  seqDuplicates: number;
  missing: number;
  foreign: number;
  /** Alerts of requests the sender got no answer to or a 503 not-confirmed for, found in a file (the daemon had taken them). */
  unansweredSeqs: Set<number>;
  /** The event id of each alert found, by its sequence number. */
  idOfSeq: string[];
}

/** Reads the live and every rotated file, one at a time, keeping only ids and sequence numbers. */
async function readFiles(logs: string, load: LoadGenerator): Promise<FileFindings> {
  const names = (await readdir(logs)).filter((f) => /^events\.jsonl(\.\d+)?$/.test(f));
  const seen = new Uint8Array(load.sent);
  const out: FileFindings = {
    files: names.length,
    lines: 0,
    ids: new Set(),
    duplicateIds: [],
    invalid: [],
    maxLineBytes: 0,
    seqDuplicates: 0,
    missing: 0,
    foreign: 0,
    unansweredSeqs: new Set(),
    idOfSeq: [],
  };
  for (const name of names) {
    const text = await readFile(join(logs, name), 'utf8');
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      const line = text.slice(start, end);
      start = end + 1;
      out.lines++;
      out.maxLineBytes = Math.max(out.maxLineBytes, Buffer.byteLength(line) + 1);
      let event: { id: string; data: Record<string, Record<string, unknown> | undefined> };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        out.invalid.push(`${name}: not JSON: ${line.slice(0, 120)}`);
        continue;
      }
      const errors = validateEvent(event);
      if (errors.length > 0) out.invalid.push(`${name}: ${errors.join('; ')}`);
      if (out.ids.has(event.id)) out.duplicateIds.push(event.id);
      out.ids.add(event.id);
      const seq = seqOfEvent(event);
      if (seq === null) continue; // the warm-up
      const state = seq < load.sent ? load.stateOf(seq) : SEQ.unsent;
      const taken = state === SEQ.failed || state === SEQ.unconfirmed;
      if (taken && seen[seq] === 0) {
        out.unansweredSeqs.add(seq);
      }
      if (state !== SEQ.accepted && !taken) out.foreign++;
      else if ((seen[seq] as number) > 0) out.seqDuplicates++;
      else {
        seen[seq] = 1;
        out.idOfSeq[seq] = event.id;
      }
    }
  }
  for (let seq = 0; seq < load.sent; seq++)
    if (load.stateOf(seq) === SEQ.accepted && seen[seq] === 0) out.missing++;
  return out;
}

interface TopicFindings {
  messages: number;
  highWatermark: number;
  ids: Map<string, number>;
  badHeaders: number;
}

/** Reads the whole topic from the beginning with a real consumer, until it has every message the broker holds. */
async function consumeTopic(kafka: Kafka, topic: string): Promise<TopicFindings> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const highWatermark = offsets.reduce((sum, p) => sum + Number(p.high), 0);
  const out: TopicFindings = { messages: 0, highWatermark, ids: new Map(), badHeaders: 0 };
  const consumer = kafka.consumer({ groupId: `soak-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          out.messages++;
          const id = m.headers?.event_id?.toString() ?? '';
          // The header is what a consumer de-duplicates by; it must be the value's own id.
          if (!m.value?.includes(`"id":"${id}"`)) out.badHeaders++;
          out.ids.set(id, (out.ids.get(id) ?? 0) + 1);
        }
      },
    });
    await waitFor(() => out.messages >= highWatermark, {
      timeoutMs: 120_000,
      intervalMs: 100,
      what: `the consumer to read ${highWatermark} messages`,
    }).catch(() => {});
  } finally {
    await consumer.disconnect();
  }
  return out;
}

function logSummary(logs: readonly LogLine[]): SoakReport['logs'] {
  const errors: Record<string, number> = {};
  const warnings: Record<string, number> = {};
  const errorSamples: LogLine[] = [];
  for (const l of logs) {
    if (l.level === 'error') {
      // The first line of each error message in full: the count alone does not say why.
      if (errors[l.msg] === undefined) errorSamples.push(l);
      errors[l.msg] = (errors[l.msg] ?? 0) + 1;
    } else if (l.level === 'warn') warnings[l.msg] = (warnings[l.msg] ?? 0) + 1;
  }
  return { errors, warnings, errorSamples };
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The report as the CLI prints it and the CI test fails with. */
export function formatReport({ report: r, failures }: SoakResult): string {
  const num = (n: number, w: number): string => String(n).padStart(w);
  const lines = [
    `soak: ${r.durationS}s at ${r.load.ratePerS} events/s offered (${r.load.corootRequests} Coroot + ${r.load.alertmanagerRequests} Alertmanager requests); webhook and Kafka on disk buffers (max_size ${mib(BUFFERS.diskMaxBytes)} each, when_full: block), the daemon SIGKILLed ${r.kills.length} times`,
    `  senders: offered ${r.load.offered}, accepted (202) ${r.load.accepted}, refused (503) ${r.load.refused}, not confirmed within acknowledgement_timeout (503) ${r.load.unconfirmed}, failed ${r.load.failed} (${r.load.failedInRestart} while the daemon was killed and restarted), skipped ${r.load.skipped} (not sent while ${MAX_IN_FLIGHT} requests were unanswered); answer time p50 ${r.load.latencyMs.p50} ms, p99 ${r.load.latencyMs.p99} ms, max ${r.load.latencyMs.max} ms`,
    `  last process's answer time: ${r.serverSlow.over100ms} requests over 100 ms, ${r.serverSlow.over1s} over 1 s`,
    '  delivered (every event answered 202, by id):',
    '  output    distinct  copies beyond the first  202-events missing  written (Σ processes)  failed+dropped',
  ];
  for (const name of OUTPUTS) {
    const o = r.outputs[name];
    lines.push(
      `  ${name.padEnd(8)} ${num(o.observed, 9)} ${num(o.duplicates, 24)} ${num(o.missing, 19)} ${num(o.written, 22)} ${num(o.failed + o.dropped, 15)}${Object.keys(o.dropsByReason).length > 0 ? ` ${JSON.stringify(o.dropsByReason)}` : ''}`,
    );
  }
  lines.push(
    '  processes (books at the last scrape: took + backlog at start = written + failed + dropped + buffered):',
  );
  for (const p of r.processes) {
    const outs = p.outputs
      .map((o) => {
        const backlog = p.backlogAtStart[o.output] ?? 0;
        return `${o.output} ${o.handed - p.recorderQueue}${backlog > 0 ? ` + ${backlog}` : ''} = ${o.written}+${o.failed}+${o.dropped}+${o.pending}`;
      })
      .join('; ');
    lines.push(
      `    #${p.n} pid ${p.pid}: ${p.ranS}s, ${p.end === 'SIGKILL' ? `SIGKILLed ${p.lastScrapeBeforeEndMs} ms after its last scrape` : 'ran to the end (idle)'}; ${p.snapshots} scrapes, ${p.imbalances.length === 0 ? 'every one balanced' : `${p.imbalances.length} did not balance`}; received ${p.received} (${p.recorderQueue} queued); ${outs}; VmHWM ${mib(p.peakHwm)}`,
    );
  }
  for (const k of r.kills) {
    const f = (name: DiskOutput): string => {
      const b = k.found[name];
      return `${name} ${b.pending} events, ${mib(b.bytes)} (${b.accepted} answered 202, ${b.unanswered} of unanswered requests, ${b.own} own${b.tornTail > 0 ? `, ${b.tornTail} torn tail` : ''}; ${k.alreadyDelivered[name]} had already arrived; buffered at the last scrape ${k.bufferedAtLastScrape[name]}; lost ${k.lost[name]})`;
    };
    lines.push(
      `  kill #${k.n} at t+${k.atS}s (broker ${k.brokerDown ? 'down' : 'UP'}, receiver ${k.receiverMode}), next process ready in ${k.restartMs} ms; took ≤ ${k.tookAfterLastScrape} events after its last scrape; on disk:`,
      `    ${f('webhook')}`,
      `    ${f('kafka')}`,
      ...(k.unansweredNotInFile > 0
        ? [
            `    ${k.unansweredNotInFile} records of unanswered requests were on disk but not yet in the file (taken, never answered 202; delivered anyway)`,
          ]
        : []),
    );
  }
  lines.push(
    `  file: ${r.rotations.runs} logrotate runs (${r.rotations.withPostrotate} with SIGUSR1), ${r.rotations.reopens} reopens, ${r.rotations.files} files`,
    `  webhook receiver: ${r.receiver.requests} requests: ${r.receiver.ok} answered 200 (${r.receiver.okEvents} events; ${r.receiver.ackLostEvents} sent again after a 200 the daemon missed, ${r.receiver.duplicateAcks} acknowledged more than once), ${r.receiver.unavailable} answered 503, ${r.receiver.hung} hung`,
    `  kafka: broker stopped ${r.kafka.stops} times (${r.kafka.kills} by SIGKILL), started again ${r.kafka.restarts}; consumer read ${r.kafka.consumed} of ${r.kafka.highWatermark} messages`,
    `  memory: baseline RSS ${mib(r.memory.baselineRss)}, peak sampled ${mib(r.memory.peakRssSampled)}, peak (VmHWM, any process) ${mib(r.memory.peakHwm)}, end ${mib(r.memory.endRss)}, bound ${mib(r.memory.bound)}`,
    `  disk: buffer folders peak ${mib(r.disk.peakBytes)} in ${r.disk.samples} samples, bound (Σ max_size) ${mib(r.disk.bound)}`,
    `  fds: baseline ${r.fds.baseline} ${JSON.stringify(r.fds.baselineKinds)}`,
    `       end      ${r.fds.end} ${JSON.stringify(r.fds.endKinds)}`,
    `  daemon logs (every process): errors ${JSON.stringify(r.logs.errors)}, warnings ${JSON.stringify(r.logs.warnings)}`,
    ...r.logs.errorSamples.map((l) => `    first ${JSON.stringify(l)}`),
  );
  if (failures.length === 0) lines.push('  PASS: every invariant holds');
  else {
    lines.push(`  FAIL: ${failures.length} invariant(s) broken (files kept in ${r.dir}):`);
    for (const f of failures) lines.push(`    - ${f}`);
  }
  return lines.join('\n');
}
