/*
 * The soak (issue 7): the compiled daemon under steady mixed Coroot + Alertmanager load
 * while everything around it misbehaves — its JSONL file rotated by the real logrotate
 * every few seconds, its webhook receiver flapping between 200, 503 and hanging, its
 * Kafka broker (a real one, this soak's own) stopped and started — then every event is
 * reconciled, per output, against /metrics and against what really arrived.
 *
 * What "exact" means per output (docs/metrics.md "The invariant": every event an output is handed ends in
 * exactly one of written / failed / dropped):
 * - all outputs: once idle, events_received_total = written + failed + dropped, with
 *   nothing queued, and failed + dropped = the sum of output_drops_total over reasons.
 * - file: every line is one event, each event id once across the live and rotated
 *   files; lines = written; the accepted events missing from the files = its drops.
 * - webhook: at-least-once by design (a request whose 200 the daemon did not see is
 *   retried), so the receiver may legitimately be handed an event twice. Exact means:
 *   the distinct events the receiver answered 200 = written, each of them one the daemon
 *   accepted, and the bytes of the distinct acknowledged bodies = output_bytes_total.
 *   Duplicate acknowledgements are reported, not failed.
 * - kafka: at-least-once too (a produce that timed out may have been written; a reset
 *   producer loses its idempotence state). Exact means: the distinct event ids in the
 *   topic = written, each one the daemon accepted, and the consumer read every message
 *   the broker holds (sum of high watermarks). Duplicates are reported, not failed.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { books, type OutputBooks } from '../bench/accounting.js';
import { post, type RunningDaemon, startDaemon, tempDir } from '../helpers/daemon.js';
import { sampleSum, scrape } from '../helpers/metrics.js';
import { MemorySampler, memoryOf, openFds } from '../helpers/proc.js';
import { validateEvent } from '../helpers/schema.js';
import { waitFor } from '../helpers/wait.js';
import { KafkaBroker, missingPrerequisites } from '../kafka/broker.js';
import { createTopic } from '../kafka/topics.js';
import { LoadGenerator, type LoadStats, SEQ, seqOfEvent } from './load.js';
import { FlappingReceiver, type ReceiverMode, type ReceiverStats } from './receiver.js';
import { classifyFds, countKinds, type KnownPorts } from './sockets.js';

const exec = promisify(execFile);
const P = 'coroot_event_recorder_';
export const LOGROTATE = '/usr/sbin/logrotate';
const TOPIC = 'soak-events';
const OUTPUTS = ['file', 'webhook', 'kafka'] as const;
type OutputName = (typeof OUTPUTS)[number];

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
  /** Budget for the outputs to deliver what they hold once the load has stopped. */
  settleTimeoutMs: number;
  /** Progress lines (the CLI prints them); silent when absent. */
  progress?: (line: string) => void;
  /** Keep the daemon's folder (config, logs, rotated files) even when every invariant holds. */
  keepDir?: boolean;
}

/** The daemon's buffers, in events; the memory bound is derived from them. */
export const BUFFERS = {
  queueSize: 8192,
  fileBuffer: 8192,
  webhookQueue: 2048,
  webhookWorkers: 4,
  webhookBatch: 100,
  kafkaBuffer: 10_000,
} as const;

/**
 * Memory one buffered event may hold, as a multiple of its serialized size: the recorder
 * queue holds the event object graph (keys, strings, nested objects: 2–3× its JSON), each
 * output holds the serialized Buffer (and Kafka a Message object around it).
 */
const BYTES_PER_SLOT_FACTOR = 4;
/** V8 heap headroom beyond the baseline (young generation, fragmentation, kafkajs/undici state). */
const MEMORY_SLACK_BYTES = 96 * 1024 * 1024;

/** Defaults for a run of `durationMs`; short runs scale the Kafka cycle so at least one fits. */
/** Requests the senders keep in flight; beyond it they skip (the daemon slowed them down). */
const MAX_IN_FLIGHT = 64;

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
    settleTimeoutMs: 120_000,
  };
}

/** One output's books from /metrics (test/bench/accounting.ts), and what its far side got. */
export interface OutputFigures extends OutputBooks {
  /** Distinct events in the files / acknowledged by the receiver / in the topic. */
  observed: number;
  /** The far side got an event more than once (file: a failure; webhook and kafka: reported). */
  duplicates: number;
}

export interface SoakReport {
  durationS: number;
  load: LoadStats & { ratePerS: number };
  /** Every event the recorder took: what the senders posted plus its own lifecycle events. */
  received: number;
  /** Of them, from the ingest endpoints (coroot + alertmanager). */
  ingested: number;
  /** Ingest requests the daemon itself took more than 100 ms / 1 s to answer (its histogram). */
  serverSlow: { over100ms: number; over1s: number };
  outputs: Record<OutputName, OutputFigures>;
  rotations: { runs: number; withPostrotate: number; reopens: number; files: number };
  receiver: ReceiverStats & { duplicateAcks: number; ackLostEvents: number };
  kafka: { stops: number; kills: number; restarts: number; consumed: number; highWatermark: number };
  memory: { baselineRss: number; peakRssSampled: number; peakHwm: number; endRss: number; bound: number };
  fds: {
    baseline: number;
    end: number;
    baselineKinds: Record<string, number>;
    endKinds: Record<string, number>;
  };
  logs: { errors: Record<string, number>; warnings: Record<string, number> };
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
]);

function daemonConfig(receiverUrl: string, brokers: string): string {
  return `instance: soak
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
    buffer: { max_events: ${BUFFERS.webhookQueue} }
    max_attempts: 4
    retry_backoff: 100ms
    max_backoff: 1s
    batch: { max_events: ${BUFFERS.webhookBatch}, max_bytes: 256KiB, flush_interval: 20ms }
kafka_outputs:
  - name: kafka
    brokers: [${brokers}]
    topic: ${TOPIC}
    acks: all
    buffer: { max_events: ${BUFFERS.kafkaBuffer} }
    linger: 5ms
    timeout: 5s
`;
}

function logrotateConfig(path: string, pid: number, postrotate: boolean): string {
  return [
    `${path} {`,
    // Never delete a rotated file: the check reads every line ever written.
    '  rotate 100000',
    '  create 0640',
    '  missingok',
    ...(postrotate ? ['  postrotate', `    kill -USR1 ${pid}`, '  endscript'] : []),
    '}',
    '',
  ].join('\n');
}

/** Runs the soak and checks every invariant. Throws only when it cannot run at all. */
export async function run(partial: Partial<SoakOptions> = {}): Promise<SoakResult> {
  const opts: SoakOptions = { ...defaultOptions(partial.durationMs), ...partial };
  const say = opts.progress ?? (() => {});
  const missing = missingPrerequisites();
  if (missing) throw new Error(`the soak needs a Kafka broker: ${missing}`);

  const failures: string[] = [];
  const dir = await tempDir('cer-soak-');
  const receiver = new FlappingReceiver();
  let broker: KafkaBroker | null = null;
  let daemon: RunningDaemon | null = null;
  let load: LoadGenerator | null = null;
  try {
    say('starting the Kafka broker');
    broker = await KafkaBroker.start();
    const kafka = new Kafka({ brokers: [broker.brokers], clientId: 'soak', logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await createTopic(admin, TOPIC, { partitions: 3 });
    await admin.disconnect();

    await receiver.start();
    daemon = await startDaemon(daemonConfig(receiver.url, broker.brokers), {
      dir,
      // Info, not the helper's debug: the helper keeps every line in memory for the whole run.
      args: ['--log-level', 'info'],
    });
    const d = daemon;
    const ports: KnownPorts = {
      listen: Number(new URL(d.baseUrl).port),
      receiver: Number(new URL(receiver.url).port),
      kafka: [broker.port, broker.saslPort, broker.controllerPort],
    };
    say(`daemon pid ${d.pid} at ${d.baseUrl}, folder ${dir}`);

    // Warm-up: one event through every output, so the baseline has its connections open.
    const warm = await post(`${d.baseUrl}/api/v1/coroot`, [warmupAlert()]);
    if (warm.status !== 202) throw new Error(`warm-up answered ${warm.status}: ${warm.text}`);
    await waitFor(async () => idle(await scrape(d.baseUrl)), {
      timeoutMs: 60_000,
      what: 'the warm-up delivered',
    });
    const baselineFds = await settledFds(d.pid, ports, receiver, null);
    const baselineMem = await memoryOf(d.pid);
    say(`baseline: ${baselineFds.length} fds, RSS ${mib(baselineMem.rss)}`);

    // --- the load and the faults -----------------------------------------------------
    const memory = new MemorySampler(d.pid);
    memory.start();
    load = new LoadGenerator({
      baseUrl: d.baseUrl,
      rate: opts.rate,
      eventsPerRequest: opts.eventsPerRequest,
      maxInFlight: MAX_IN_FLIGHT,
      requestTimeoutMs: 10_000,
    });
    const liveLoad = load;
    const stopAt = Date.now() + opts.durationMs;
    const running = (): boolean => Date.now() < stopAt;
    load.start();
    const rotation = rotateLoop(d, opts.rotateEveryMs, running, failures);
    const flapping = flapLoop(receiver, opts.flap, running);
    const brokerCycles = brokerLoop(broker, opts, running, failures, say);
    const ticker = setInterval(() => {
      const s = liveLoad.stats;
      say(
        `t+${Math.round((opts.durationMs - (stopAt - Date.now())) / 1000)}s offered ${s.offered} accepted ${s.accepted} refused ${s.refused} failed ${s.failed} skipped ${s.skipped}; receiver ${receiver.mode}; RSS ${mib(memory.last?.rss ?? 0)}`,
      );
    }, 10_000);
    await delay(opts.durationMs);
    clearInterval(ticker);
    await load.stop();
    const rotations = await rotation;
    receiver.mode = 'ok';
    const cycles = await brokerCycles;
    await flapping;
    say('load stopped; waiting for the outputs to deliver what they hold');

    // --- settle ---------------------------------------------------------------------
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
    await memory.sample();
    memory.stop();

    // --- what really arrived ------------------------------------------------------------
    say('reading the files, the receiver and the topic');
    const file = await readFiles(join(d.dir, 'logs'), load);
    const topic = await consumeTopic(kafka, TOPIC);

    const endFds = await settledFds(d.pid, ports, receiver, load, baselineFds.length);
    const endMem = await memoryOf(d.pid);
    const healthy = await fetch(`${d.baseUrl}/-/healthy`)
      .then((r) => r.status === 200)
      .catch(() => false);
    const aliveBeforeStop = d.proc.exitCode === null && d.proc.signalCode === null;

    // --- figures ----------------------------------------------------------------------
    const received = sampleSum(settled, `${P}events_received_total`);
    // The daemon records its own lifecycle events (recorder_started) beside what was posted.
    const ingested =
      sampleSum(settled, `${P}events_received_total`, { source: 'coroot' }) +
      sampleSum(settled, `${P}events_received_total`, { source: 'alertmanager' });
    const outputs = {} as Record<OutputName, OutputFigures>;
    for (const name of OUTPUTS) outputs[name] = figures(settled, name);
    outputs.file.observed = file.ids.size;
    outputs.file.duplicates = file.lines - file.ids.size;
    outputs.webhook.observed = receiver.acked.size;
    outputs.webhook.duplicates = receiver.duplicateAcks();
    outputs.kafka.observed = topic.ids.size;
    outputs.kafka.duplicates = topic.messages - topic.ids.size;

    const maxLine = Math.max(file.maxLineBytes, 1);
    const slots =
      BUFFERS.queueSize +
      BUFFERS.fileBuffer +
      BUFFERS.webhookQueue +
      BUFFERS.webhookWorkers * BUFFERS.webhookBatch +
      BUFFERS.kafkaBuffer;
    const bound = baselineMem.rss + slots * maxLine * BYTES_PER_SLOT_FACTOR + MEMORY_SLACK_BYTES;

    const requests = sampleSum(settled, `${P}ingest_request_duration_seconds_count`);
    const within = (le: string): number =>
      sampleSum(settled, `${P}ingest_request_duration_seconds_bucket`, { le });
    const serverSlow = { over100ms: requests - within('0.1'), over1s: requests - within('1') };

    const report: SoakReport = {
      durationS: opts.durationMs / 1000,
      load: { ...load.stats, ratePerS: opts.rate },
      received,
      ingested,
      serverSlow,
      outputs,
      rotations: {
        runs: rotations.runs,
        withPostrotate: rotations.withPostrotate,
        reopens: sampleSum(settled, `${P}file_reopens_total`),
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
        peakRssSampled: memory.peakRss,
        peakHwm: endMem.hwm,
        endRss: endMem.rss,
        bound,
      },
      fds: {
        baseline: baselineFds.length,
        end: endFds.length,
        baselineKinds: countKinds(baselineFds),
        endKinds: countKinds(endFds),
      },
      logs: logSummary(d),
      dir,
    };

    // --- invariants -------------------------------------------------------------------
    const fail = (what: string): void => {
      failures.push(what);
    };
    const s = load.stats;
    const warmup = 1;
    // A request the sender gave up on (its 10 s timeout: the soak process itself starved of
    // CPU) may still have been accepted: its events count as accepted when they are in a file.
    const expected = s.accepted + warmup + file.unansweredFound;
    if (ingested !== expected)
      fail(
        `ingest: events_received_total from coroot + alertmanager ${ingested} ≠ accepted by the senders ${s.accepted} + ${warmup} warm-up + ${file.unansweredFound} of unanswered requests found in the files`,
      );
    const odd = s.errors.filter((e) => !e.includes('Timeout'));
    if (odd.length > 0) fail(`ingest: unexpected answers: ${odd.join(' | ')}`);
    const refusedRequests = sampleSum(settled, `${P}ingest_rejected_total`, { reason: 'queue_full' });
    if (refusedRequests * opts.eventsPerRequest !== s.refused)
      fail(`ingest: ${refusedRequests} requests counted queue_full, senders saw ${s.refused} events refused`);
    const lostBeforeOutputs = sampleSum(settled, `${P}events_dropped_total`);
    if (lostBeforeOutputs !== 0)
      fail(`recorder: events_dropped_total ${lostBeforeOutputs} (expected 0 with on_queue_full: reject)`);
    if (sampleSum(settled, `${P}queue_length`) !== 0) fail('recorder: queue_length not 0 once idle');

    for (const name of OUTPUTS) {
      const o = outputs[name];
      if (o.written + o.failed + o.dropped + o.pending !== o.handed)
        fail(
          `${name}: handed ${o.handed} ≠ written ${o.written} + failed ${o.failed} + dropped ${o.dropped} + pending ${o.pending}`,
        );
      if (o.pending !== 0) fail(`${name}: ${o.pending} events still queued after the settle`);
      const byReason = Object.values(o.dropsByReason).reduce((a, b) => a + b, 0);
      if (byReason !== o.failed + o.dropped)
        fail(`${name}: output_drops_total by reason ${byReason} ≠ failed ${o.failed} + dropped ${o.dropped}`);
    }

    // file
    if (file.invalid.length > 0)
      fail(
        `file: ${file.invalid.length} lines fail the schema or do not parse: ${file.invalid.slice(0, 3).join(' | ')}`,
      );
    if (file.lines !== outputs.file.written)
      fail(`file: ${file.lines} lines ≠ written ${outputs.file.written}`);
    if (outputs.file.duplicates > 0)
      fail(
        `file: ${outputs.file.duplicates} duplicate event ids, e.g. ${file.duplicateIds.slice(0, 3).join(', ')}`,
      );
    if (file.seqDuplicates > 0) fail(`file: ${file.seqDuplicates} accepted alerts written more than once`);
    if (file.foreign > 0) fail(`file: ${file.foreign} lines for alerts the daemon never accepted`);
    const fileLosses = outputs.file.failed + outputs.file.dropped;
    if (file.missing !== fileLosses)
      fail(`file: ${file.missing} accepted alerts in no file, but ${fileLosses} counted lost`);
    if (rotations.runs === 0) fail('file: logrotate never ran');

    // webhook
    const wh = outputs.webhook;
    // A 200 the daemon missed (its attempt timed out as the answer arrived) is retried: the
    // events are then written (a duplicate acknowledgement) or, if that was the last
    // attempt, counted failed though the receiver has them. Only those may exceed written.
    const ackLost = receiver.ackLostEvents();
    if (wh.observed < wh.written || wh.observed > wh.written + ackLost)
      fail(
        `webhook: receiver acknowledged ${wh.observed} distinct events; written ${wh.written} (+ at most ${ackLost} whose 200 the daemon missed)`,
      );
    const whForeign = [...receiver.acked.keys()].filter((id) => !file.ids.has(id)).length;
    if (whForeign > 0) fail(`webhook: ${whForeign} acknowledged events are in no file`);
    const whBytes = sampleSum(settled, `${P}output_bytes_total`, { output: 'webhook' });
    const ackedBytes = receiver.ackedBytes();
    if (whBytes > ackedBytes || whBytes < ackedBytes - receiver.ackLostBytes())
      fail(
        `webhook: output_bytes_total ${whBytes} ≠ acknowledged bodies ${ackedBytes} bytes (less at most ${receiver.ackLostBytes()} of bodies whose 200 the daemon missed)`,
      );
    if (receiver.stats.malformed > 0) fail(`webhook: ${receiver.stats.malformed} malformed request bodies`);
    if (receiver.stats.unavailable === 0 || receiver.stats.hung === 0)
      fail('webhook: the receiver never answered 503 or never hung: the flap did not happen');

    // kafka
    const kf = outputs.kafka;
    if (kf.observed !== kf.written)
      fail(`kafka: ${kf.observed} distinct events in the topic ≠ written ${kf.written}`);
    if (topic.messages !== topic.highWatermark)
      fail(`kafka: consumed ${topic.messages} of the ${topic.highWatermark} messages in the topic`);
    const kfForeign = [...topic.ids.keys()].filter((id) => !file.ids.has(id)).length;
    if (kfForeign > 0) fail(`kafka: ${kfForeign} events in the topic are in no file`);
    if (topic.badHeaders > 0)
      fail(`kafka: ${topic.badHeaders} messages whose event_id header is not the value's id`);
    if (cycles.stops === 0 || cycles.restarts === 0) fail('kafka: the broker was never stopped and started');

    // process
    if (!aliveBeforeStop)
      fail(`daemon: not running at the end (exit ${String(d.proc.exitCode ?? d.proc.signalCode)})`);
    if (!healthy) fail('daemon: /-/healthy did not answer 200 at the end');
    if (endMem.hwm > bound)
      fail(
        `memory: peak RSS ${mib(endMem.hwm)} above the bound ${mib(bound)} (baseline ${mib(baselineMem.rss)} + ${slots} buffered events × ${maxLine} B × ${BYTES_PER_SLOT_FACTOR} + ${mib(MEMORY_SLACK_BYTES)})`,
      );
    if (endFds.length > baselineFds.length)
      fail(
        `fds: ${endFds.length} open at the end > baseline ${baselineFds.length}; extra: ${JSON.stringify(kindDiff(report.fds.baselineKinds, report.fds.endKinds))}`,
      );
    const rotatedOpen = endFds.filter((t) => /events\.jsonl\.\d+/.test(t) || t.endsWith(' (deleted)'));
    if (rotatedOpen.length > 0) fail(`fds: rotated or deleted files still open: ${rotatedOpen.join(', ')}`);
    const bugs = d.logs.filter((l) => BUG_MESSAGES.has(l.msg));
    if (bugs.length > 0)
      fail(`logs: ${bugs.length} lines only a bug writes, e.g. ${JSON.stringify(bugs[0])}`);
    const raw = d.logs.filter((l) => l.level === 'raw' && l.msg.trim() !== '');
    if (raw.length > 0)
      fail(
        `logs: ${raw.length} non-JSON stderr lines (a crash trace or a Node warning), e.g. ${raw[0]?.msg}`,
      );

    const code = await d.stop('SIGTERM');
    daemon = null;
    if (code !== 0) fail(`daemon: exited ${String(code)} on SIGTERM`);
    return { report, failures };
  } catch (err) {
    // The soak could not finish (most likely the daemon died): say what the daemon last said.
    failures.push(String(err));
    const d = daemon;
    if (d === null) throw err;
    const state =
      d.proc.exitCode === null && d.proc.signalCode === null
        ? 'still running'
        : `exited (${String(d.proc.exitCode ?? d.proc.signalCode)})`;
    const tail = d.rawStderr().trim().split('\n').slice(-20).join('\n');
    throw new Error(
      `${(err as Error).message}\ndaemon ${state}; folder kept: ${dir}; last stderr lines:\n${tail}`,
    );
  } finally {
    await load?.stop().catch(() => {});
    await load?.close().catch(() => {});
    await daemon?.stop('SIGKILL').catch(() => null);
    await receiver.stop().catch(() => {});
    await broker?.destroy().catch(() => {});
    if (failures.length === 0 && !opts.keepDir) await rm(dir, { recursive: true, force: true });
  }
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

/** Every event handed to every output is written, failed or dropped, and nothing waits anywhere. */
function idle(text: string): boolean {
  if (sampleSum(text, `${P}queue_length`) !== 0) return false;
  const outputs = books(text).outputs;
  return (
    OUTPUTS.every((name) => outputs.some((o) => o.output === name)) &&
    outputs.every((o) => o.pending === 0 && o.imbalance === 0)
  );
}

function figures(text: string, output: OutputName): OutputFigures {
  const o = books(text).outputs.find((b) => b.output === output);
  if (!o) throw new Error(`no ${output} output in /metrics`);
  return { ...o, observed: 0, duplicates: 0 };
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

function kindDiff(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(after)) if (n > (before[k] ?? 0)) out[k] = n - (before[k] ?? 0);
  return out;
}

/** logrotate -f every `everyMs` while `running`, alternating with and without a SIGUSR1 postrotate. */
async function rotateLoop(
  d: RunningDaemon,
  everyMs: number,
  running: () => boolean,
  failures: string[],
): Promise<{ runs: number; withPostrotate: number }> {
  const path = join(d.dir, 'logs', 'events.jsonl');
  const state = join(d.dir, 'logrotate.state');
  const confs = [join(d.dir, 'logrotate.conf'), join(d.dir, 'logrotate-usr1.conf')] as const;
  await writeFile(confs[0], logrotateConfig(path, d.pid, false));
  await writeFile(confs[1], logrotateConfig(path, d.pid, true));
  let runs = 0;
  let withPostrotate = 0;
  while (running()) {
    await delay(everyMs);
    if (!running()) break;
    const usr1 = runs % 2 === 1;
    try {
      const { stderr } = await exec(LOGROTATE, ['-f', '-s', state, usr1 ? confs[1] : confs[0]]);
      if (stderr.trim() !== '') failures.push(`logrotate #${runs + 1} complained: ${stderr.trim()}`);
    } catch (err) {
      failures.push(`logrotate #${runs + 1} failed: ${(err as Error).message.trim()}`);
    }
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
  /** Alerts of requests the sender got no answer to, found in a file (the daemon had accepted them). */
  unansweredFound: number;
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
    unansweredFound: 0,
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
      if (state === SEQ.failed && seen[seq] === 0) out.unansweredFound++;
      if (state !== SEQ.accepted && state !== SEQ.failed) out.foreign++;
      else if ((seen[seq] as number) > 0) out.seqDuplicates++;
      else seen[seq] = 1;
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

function logSummary(d: RunningDaemon): SoakReport['logs'] {
  const errors: Record<string, number> = {};
  const warnings: Record<string, number> = {};
  for (const l of d.logs) {
    if (l.level === 'error') errors[l.msg] = (errors[l.msg] ?? 0) + 1;
    else if (l.level === 'warn') warnings[l.msg] = (warnings[l.msg] ?? 0) + 1;
  }
  return { errors, warnings };
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The report as the CLI prints it and the CI test fails with. */
export function formatReport({ report: r, failures }: SoakResult): string {
  const pct = (n: number, of: number): string => (of === 0 ? '0%' : `${((100 * n) / of).toFixed(1)}%`);
  const lines = [
    `soak: ${r.durationS}s at ${r.load.ratePerS} events/s offered (${r.load.corootRequests} Coroot + ${r.load.alertmanagerRequests} Alertmanager requests)`,
    `  senders: offered ${r.load.offered}, accepted ${r.load.accepted}, refused (503) ${r.load.refused}, failed ${r.load.failed}, skipped ${r.load.skipped} (not sent while ${MAX_IN_FLIGHT} requests were unanswered); answer time p50 ${r.load.latencyMs.p50} ms, p99 ${r.load.latencyMs.p99} ms, max ${r.load.latencyMs.max} ms`,
    `  daemon-side answer time: ${r.serverSlow.over100ms} requests over 100 ms, ${r.serverSlow.over1s} over 1 s`,
    `  recorder: received ${r.received}: ${r.ingested} posted (accepted + 1 warm-up) and ${r.received - r.ingested} of its own lifecycle events`,
    '  output    handed   written   failed  dropped  observed  dups  drops by reason',
  ];
  for (const name of OUTPUTS) {
    const o = r.outputs[name];
    lines.push(
      `  ${name.padEnd(8)} ${String(o.handed).padStart(7)} ${String(o.written).padStart(9)} ${String(o.failed).padStart(8)} ${String(o.dropped).padStart(8)} ${String(o.observed).padStart(9)} ${String(o.duplicates).padStart(5)}  ${JSON.stringify(o.dropsByReason)} (${pct(o.written, o.handed)} delivered)`,
    );
  }
  lines.push(
    `  file: ${r.rotations.runs} logrotate runs (${r.rotations.withPostrotate} with SIGUSR1), ${r.rotations.reopens} reopens, ${r.rotations.files} files`,
    `  webhook receiver: ${r.receiver.requests} requests: ${r.receiver.ok} answered 200 (${r.receiver.okEvents} events; ${r.receiver.ackLostEvents} sent again after a 200 the daemon missed, ${r.receiver.duplicateAcks} acknowledged twice), ${r.receiver.unavailable} answered 503, ${r.receiver.hung} hung`,
    `  kafka: broker stopped ${r.kafka.stops} times (${r.kafka.kills} by SIGKILL), started again ${r.kafka.restarts}; consumer read ${r.kafka.consumed} of ${r.kafka.highWatermark} messages`,
    `  memory: baseline RSS ${mib(r.memory.baselineRss)}, peak (VmHWM) ${mib(r.memory.peakHwm)}, end ${mib(r.memory.endRss)}, bound ${mib(r.memory.bound)}`,
    `  fds: baseline ${r.fds.baseline} ${JSON.stringify(r.fds.baselineKinds)}`,
    `       end      ${r.fds.end} ${JSON.stringify(r.fds.endKinds)}`,
    `  daemon log: errors ${JSON.stringify(r.logs.errors)}, warnings ${JSON.stringify(r.logs.warnings)}`,
  );
  if (failures.length === 0) lines.push('  PASS: every invariant holds');
  else {
    lines.push(`  FAIL: ${failures.length} invariant(s) broken (files kept in ${r.dir}):`);
    for (const f of failures) lines.push(`    - ${f}`);
  }
  return lines.join('\n');
}
