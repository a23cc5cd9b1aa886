import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type CounterCell, CounterCells, type HistogramCell, HistogramCells } from './cells.js';
import { type DropReason, FAILED_REASONS } from './drop-reason.js';

/**
 * Every metric of docs/metrics.md, in one place, on one Registry per daemon (so tests can run
 * several daemons in one process without sharing counters).
 */
const P = 'coroot_event_recorder_';

export type IngestRejectReason =
  | 'invalid_json'
  | 'invalid_payload'
  | 'too_large'
  | 'unauthorized'
  | 'unsupported_media_type'
  | 'queue_full'
  /** A `when_full: block` output cannot write at all (disk full): refused before reading the body. */
  | 'output_blocked'
  /** Accepted, but not durable within `acknowledgement_timeout` (or lost): 503, the sender retries. */
  | 'not_durable';

export type KafkaErrorType = 'timeout' | 'network' | 'broker' | 'unknown';

const INGEST_DURATION_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];

export class Metrics {
  readonly registry = new Registry();

  // Series updated per event or per request are kept in cells (metric-cells.ts) and handed
  // to prom-client when it collects; take them through the `*Cell` methods below.
  private readonly receivedCells = new CounterCells<'source' | 'type'>();
  private readonly droppedCells = new CounterCells<'reason'>();
  private readonly outputEventsCells = new CounterCells<'output' | 'result'>();
  private readonly outputDropsCells = new CounterCells<'output' | 'reason'>();
  private readonly outputBytesCells = new CounterCells<'output'>();
  /**
   * Every output that exists, running or retiring (closing after a reload removed or
   * replaced it), in creation order: the output gauges are read from them at scrape time.
   */
  private readonly outputSources: OutputGaugeSource[] = [];
  private readonly ingestRequestsCells = new CounterCells<'endpoint' | 'code'>();
  private readonly ingestDurationCells = new HistogramCells<'endpoint'>(INGEST_DURATION_BUCKETS);
  private readonly ingestRejectedCells = new CounterCells<'endpoint' | 'reason'>();
  private readonly deduplicatedCells = new CounterCells<'source'>();

  readonly eventsReceived = new Counter({
    name: `${P}events_received_total`,
    help: 'Events accepted by the recorder queue, by source and type.',
    labelNames: ['source', 'type'] as const,
    registers: [this.registry],
    collect: cellsCollector(this.receivedCells),
  });
  readonly eventsDropped = new Counter({
    name: `${P}events_dropped_total`,
    help: 'Events lost before any output saw them, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
    collect: cellsCollector(this.droppedCells),
  });
  readonly queueLength = new Gauge({
    name: `${P}queue_length`,
    help: 'Events waiting in the recorder queue.',
    registers: [this.registry],
  });
  readonly queueCapacity = new Gauge({
    name: `${P}queue_capacity`,
    help: 'Capacity of the recorder queue (queue_size).',
    registers: [this.registry],
  });
  readonly outputEvents = new Counter({
    name: `${P}output_events_total`,
    help: 'Outcome of each event per output: written, failed (delivery attempted and given up) or dropped (never attempted).',
    labelNames: ['output', 'result'] as const,
    registers: [this.registry],
    collect: cellsCollector(this.outputEventsCells),
  });
  readonly outputDrops = new Counter({
    name: `${P}output_drops_total`,
    help: 'Events an output lost, by reason (failed + dropped of output_events_total).',
    labelNames: ['output', 'reason'] as const,
    registers: [this.registry],
    collect: cellsCollector(this.outputDropsCells),
  });
  readonly outputBytes = new Counter({
    name: `${P}output_bytes_total`,
    help: 'Payload bytes delivered by an output.',
    labelNames: ['output'] as const,
    registers: [this.registry],
    collect: cellsCollector(this.outputBytesCells),
  });
  readonly outputQueueLength = new Gauge({
    name: `${P}output_queue_length`,
    help: "Events in an output's own buffer, not yet written, failed or dropped.",
    labelNames: ['output'] as const,
    registers: [this.registry],
    // Summed over outputs of one name: a replaced output still draining and its successor
    // share the counters, so both hold part of what `pending` means in the invariant.
    collect: () => {
      const gauge = this.outputQueueLength;
      gauge.reset();
      const sums = new Map<string, number>();
      for (const s of this.outputSources) sums.set(s.name, (sums.get(s.name) ?? 0) + s.pending());
      for (const [output, n] of sums) gauge.set({ output }, n);
    },
  });
  /** Buffers whose size `output_buffer_bytes` reports, read at scrape time (one per output name). */
  private readonly buffers = new Map<string, BufferGauge>();
  readonly outputBufferBytes = new Gauge({
    name: `${P}output_buffer_bytes`,
    help: "Bytes in an output's buffer: event lines in memory, or segment files on disk.",
    labelNames: ['output'] as const,
    registers: [this.registry],
    collect: () => this.collectBuffers(),
  });
  readonly outputBufferMaxBytes = new Gauge({
    name: `${P}output_buffer_max_bytes`,
    help: 'The bound on output_buffer_bytes of a disk buffer (its max_size).',
    labelNames: ['output'] as const,
    registers: [this.registry],
  });
  readonly outputSendDuration = new Histogram({
    name: `${P}output_send_duration_seconds`,
    help: 'Duration of one delivery (a file write, a webhook POST, a Kafka produce).',
    labelNames: ['output'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly outputBlockedSeconds = new Counter({
    name: `${P}output_blocked_seconds_total`,
    help: 'Time a when_full: block output held intake back (no room, or unable to write).',
    labelNames: ['output'] as const,
    registers: [this.registry],
  });
  /**
   * Events each output name lost (every reason), kept as plain numbers so shutdown can report
   * exactly what its drain lost per output (the counters above are flushed at scrape time).
   */
  readonly lostByOutput = new Map<string, number>();
  readonly outputUp = new Gauge({
    name: `${P}output_up`,
    help: 'Whether an output can deliver now (1) or not (0).',
    labelNames: ['output'] as const,
    registers: [this.registry],
    // The newest output of a name wins: after a reload the successor, not the one retiring.
    collect: () => {
      const gauge = this.outputUp;
      gauge.reset();
      for (const s of this.outputSources) gauge.set({ output: s.name }, s.isUp() ? 1 : 0);
    },
  });
  readonly webhookRetries = new Counter({
    name: `${P}webhook_retries_total`,
    help: 'Webhook delivery attempts after the first.',
    labelNames: ['output'] as const,
    registers: [this.registry],
  });
  readonly kafkaProduceErrors = new Counter({
    name: `${P}kafka_produce_errors_total`,
    help: 'Failed Kafka produce requests, by error type.',
    labelNames: ['output', 'error_type'] as const,
    registers: [this.registry],
  });
  readonly fileReopens = new Counter({
    name: `${P}file_reopens_total`,
    help: 'Times a file output reopened its file (rotation, deletion, SIGUSR1).',
    labelNames: ['output'] as const,
    registers: [this.registry],
  });
  readonly ingestRequests = new Counter({
    name: `${P}ingest_requests_total`,
    help: 'HTTP requests to the ingest endpoints, by endpoint and status code.',
    labelNames: ['endpoint', 'code'] as const,
    registers: [this.registry],
    collect: cellsCollector(this.ingestRequestsCells),
  });
  readonly ingestDuration = new Histogram({
    name: `${P}ingest_request_duration_seconds`,
    help: 'Time from the start of an ingest request to its answer.',
    labelNames: ['endpoint'] as const,
    buckets: INGEST_DURATION_BUCKETS,
    registers: [this.registry],
    collect: cellsCollector(this.ingestDurationCells),
  });
  readonly ingestRejected = new Counter({
    name: `${P}ingest_rejected_total`,
    help: 'Ingest requests answered with an error, by endpoint and reason.',
    labelNames: ['endpoint', 'reason'] as const,
    registers: [this.registry],
    collect: cellsCollector(this.ingestRejectedCells),
  });
  readonly eventsDeduplicated = new Counter({
    name: `${P}events_deduplicated_total`,
    help: 'Second copies of a notification within dedupe.window: answered 202, not recorded again.',
    labelNames: ['source'] as const,
    registers: [this.registry],
    collect: cellsCollector(this.deduplicatedCells),
  });
  readonly corootApiPolls = new Counter({
    name: `${P}coroot_api_polls_total`,
    help: 'Coroot API polls, by project and result.',
    labelNames: ['project', 'result'] as const,
    registers: [this.registry],
  });
  readonly configLastReloadSuccessful = new Gauge({
    name: `${P}config_last_reload_successful`,
    help: 'Whether the last configuration reload attempt was successful.',
    registers: [this.registry],
  });
  readonly configLastReloadSuccessTimestamp = new Gauge({
    name: `${P}config_last_reload_success_timestamp_seconds`,
    help: 'Timestamp of the last successful configuration reload.',
    registers: [this.registry],
  });
  readonly buildInfo = new Gauge({
    name: `${P}build_info`,
    help: 'A metric with a constant 1 value labeled by version and Node.js version.',
    labelNames: ['version', 'node_version'] as const,
    registers: [this.registry],
  });

  constructor(version: string, opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) this.registerProcessMetrics();
    this.buildInfo.set({ version, node_version: process.version }, 1);
  }

  /**
   * prom-client's default process and Node metrics, less the three gauges it names
   * `*_total`, which `promtool check metrics` rejects (`nodejs_active_handles`,
   * `nodejs_active_requests` and `nodejs_active_resources` by type carry the same data).
   */
  private registerProcessMetrics(): void {
    collectDefaultMetrics({ register: this.registry, prefix: P });
    for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) {
      this.registry.removeSingleMetric(`${P}nodejs_${name}`);
    }
  }

  /** Reports `buffer` as the buffer of `output` until `untrackBuffer` with the same buffer. */
  trackBuffer(output: string, buffer: BufferGauge): void {
    this.buffers.set(output, buffer);
  }

  untrackBuffer(output: string, buffer: BufferGauge): void {
    if (this.buffers.get(output) !== buffer) return; // a newer output of the same name took over
    this.buffers.delete(output);
    this.outputBufferBytes.remove(output);
    this.outputBufferMaxBytes.remove(output);
  }

  private collectBuffers(): void {
    for (const [output, buffer] of this.buffers) {
      this.outputBufferBytes.labels(output).set(buffer.bytes);
      if (buffer.maxBytes !== null) this.outputBufferMaxBytes.labels(output).set(buffer.maxBytes);
    }
  }

  /**
   * The per-output counters, pre-bound to the output's label. `source` is read for
   * `output_up` and `output_queue_length` at every scrape until `OutputMeter.release()`
   * (the end of the output's close), so a removed output's series go with it.
   */
  forOutput(output: string, source: OutputState): OutputMeter {
    const entry: OutputGaugeSource = {
      name: output,
      isUp: () => source.isUp(),
      pending: () => source.pending(),
    };
    this.outputSources.push(entry);
    return new OutputMeter(this, output, () => {
      const at = this.outputSources.indexOf(entry);
      if (at !== -1) this.outputSources.splice(at, 1);
    });
  }

  receivedCell(source: string, type: string): CounterCell {
    return this.receivedCells.cell({ source, type });
  }

  droppedCell(reason: 'queue_full' | 'shutdown' | 'unserializable'): CounterCell {
    return this.droppedCells.cell({ reason });
  }

  deduplicatedCell(source: string): CounterCell {
    return this.deduplicatedCells.cell({ source });
  }

  ingestRequestsCell(endpoint: string, code: string): CounterCell {
    return this.ingestRequestsCells.cell({ endpoint, code });
  }

  ingestDurationCell(endpoint: string): HistogramCell {
    return this.ingestDurationCells.cell({ endpoint });
  }

  ingestRejectedCell(endpoint: string, reason: IngestRejectReason): CounterCell {
    return this.ingestRejectedCells.cell({ endpoint, reason });
  }

  outputEventsCell(output: string, result: 'written' | 'failed' | 'dropped'): CounterCell {
    return this.outputEventsCells.cell({ output, result });
  }

  outputDropsCell(output: string, reason: DropReason): CounterCell {
    return this.outputDropsCells.cell({ output, reason });
  }

  outputBytesCell(output: string): CounterCell {
    return this.outputBytesCells.cell({ output });
  }
}

/** What the output gauges read from an output when /metrics is scraped. */
export interface OutputState {
  isUp(): boolean;
  pending(): number;
}

interface OutputGaugeSource extends OutputState {
  readonly name: string;
}

/** A `collect` hook that hands a metric's cells to it; prom-client calls it with the metric as `this`. */
function cellsCollector<M>(cells: { flush(metric: M): void }): (this: M) => void {
  return function collect(this: M): void {
    cells.flush(this);
  };
}

/**
 * One output's accounting. Every event an output takes in `send` must end in exactly
 * one of `written`, `lost` (which classifies it as failed or dropped), so that
 * received = written + failed + dropped + pending holds (docs/metrics.md "The invariant").
 */
/** What the buffer gauges read (a DeliveryBuffer has both). */
export interface BufferGauge {
  readonly bytes: number;
  readonly maxBytes: number | null;
}

export class OutputMeter {
  private readonly writtenCounter: CounterCell;
  private readonly failedCounter: CounterCell;
  private readonly droppedCounter: CounterCell;
  private readonly bytesCounter: CounterCell;
  private readonly durationHistogram;
  private readonly dropCounters = new Map<DropReason, CounterCell>();

  constructor(
    private readonly metrics: Metrics,
    readonly output: string,
    private readonly onRelease: () => void,
  ) {
    this.writtenCounter = metrics.outputEventsCell(output, 'written');
    this.failedCounter = metrics.outputEventsCell(output, 'failed');
    this.droppedCounter = metrics.outputEventsCell(output, 'dropped');
    this.bytesCounter = metrics.outputBytesCell(output);
    this.durationHistogram = metrics.outputSendDuration.labels(output);
  }

  /** The output is closed: its gauges are no longer read (a successor of the same name keeps its own). Idempotent. */
  release(): void {
    this.onRelease();
  }

  written(events: number, bytes: number): void {
    if (events > 0) this.writtenCounter.inc(events);
    if (bytes > 0) this.bytesCounter.inc(bytes);
  }

  lost(reason: DropReason, events = 1): void {
    if (events <= 0) return;
    (FAILED_REASONS.has(reason) ? this.failedCounter : this.droppedCounter).inc(events);
    let counter = this.dropCounters.get(reason);
    if (!counter) {
      counter = this.metrics.outputDropsCell(this.output, reason);
      this.dropCounters.set(reason, counter);
    }
    counter.inc(events);
    const lost = this.metrics.lostByOutput;
    lost.set(this.output, (lost.get(this.output) ?? 0) + events);
  }

  trackBuffer(buffer: BufferGauge): void {
    this.metrics.trackBuffer(this.output, buffer);
  }

  untrackBuffer(buffer: BufferGauge): void {
    this.metrics.untrackBuffer(this.output, buffer);
  }

  /** Seconds, as prom-client histograms expect. */
  observeSend(seconds: number): void {
    this.durationHistogram.observe(seconds);
  }
}
