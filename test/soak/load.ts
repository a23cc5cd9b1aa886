/*
 * The soak's senders: Coroot and Alertmanager webhook requests at a steady event rate.
 * Every alert carries a sequence number (the Coroot summary `soak-<seq>`, the Alertmanager
 * label `soak_seq`), so each line the daemon writes can be traced back to the request that
 * carried it, and the generator knows exactly which events the daemon accepted (202).
 */
import { Pool } from 'undici';

/** What became of each sequence number. */
export const SEQ = { unsent: 0, inFlight: 1, accepted: 2, refused: 3, failed: 4, unconfirmed: 5 } as const;

/**
 * The start of the 503 answer the daemon gives with acknowledgements on when a `block` output
 * did not make the events durable within acknowledgement_timeout (docs/troubleshooting.md): the
 * events were taken and are still written, so unlike a refusal they may be anywhere.
 */
const NOT_CONFIRMED = 'events accepted but not yet written within acknowledgement_timeout';

export interface LoadStats {
  /** Events sent in requests (whatever the answer). */
  offered: number;
  /** Events in requests answered 202 with `accepted` equal to the request's events. */
  accepted: number;
  /** Events in requests answered 503 before they were taken (queue full: a real sender retries them). */
  refused: number;
  /**
   * Events in requests answered 503 after they were taken, because they were not durable within
   * acknowledgement_timeout: not accepted (a real sender retries), yet recorded once the output can.
   */
  unconfirmed: number;
  /** Events in requests without an answer, or with an answer the soak did not expect. */
  failed: number;
  /**
   * Of `failed`, events in requests that failed while the daemon was being killed and started
   * again (`restarting`): refused connections, connections closed without an answer. Not
   * accepted, so not owed to any output; the events of such a request may still have been
   * recorded before the kill (the soak finds those in the file).
   */
  failedInRestart: number;
  requests: number;
  corootRequests: number;
  alertmanagerRequests: number;
  /** Events not sent because `maxInFlight` requests were unanswered (the daemon slowed its senders). */
  skipped: number;
  /** Answer time of the requests, milliseconds: median, 99th percentile, largest. */
  latencyMs: { p50: number; p99: number; max: number };
  /** The first few unexpected answers or transport errors, for the report. */
  errors: string[];
}

export interface LoadOptions {
  baseUrl: string;
  /** Target events per second. */
  rate: number;
  /** Alerts per request (a Coroot array or an Alertmanager group). */
  eventsPerRequest: number;
  /** Unanswered requests at most; beyond that the generator skips its share (and counts it). */
  maxInFlight: number;
  /** Bound of one request. */
  requestTimeoutMs: number;
}

const TICK_MS = 10;
const MAX_ERRORS_KEPT = 10;

/**
 * Sends at `rate` events/s until stop(). Pacing is by the clock: at each tick it sends
 * whatever the elapsed time allows, so a slow answer does not lower the offered rate
 * (it only raises the requests in flight, up to `maxInFlight`).
 */
export class LoadGenerator {
  readonly stats: LoadStats = {
    offered: 0,
    accepted: 0,
    refused: 0,
    unconfirmed: 0,
    failed: 0,
    failedInRestart: 0,
    requests: 0,
    corootRequests: 0,
    alertmanagerRequests: 0,
    skipped: 0,
    latencyMs: { p50: 0, p99: 0, max: 0 },
    errors: [],
  };
  /** Answer times in 0.1 ms buckets up to 10 s (the request timeout bounds them). */
  private readonly latencies = new Uint32Array(100_001);
  /** State of each sequence number (SEQ), grown as needed. */
  private states = new Uint8Array(1 << 16);
  private nextSeq = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private readonly pool: Pool;
  private idleWaiter: (() => void) | null = null;
  /**
   * Set by the soak from just before it kills the daemon until the next one is ready: the
   * transport errors meanwhile are the restart's, expected, and counted in `failedInRestart`.
   */
  restarting = false;

  constructor(private readonly opts: LoadOptions) {
    this.pool = new Pool(opts.baseUrl, { connections: opts.maxInFlight, pipelining: 1 });
  }

  start(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Stops sending and resolves once every request has its answer. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idleWaiter = resolve));
    this.percentiles();
  }

  /** Closes the keep-alive connections to the daemon (for the descriptor count). */
  async close(): Promise<void> {
    await this.pool.close();
  }

  /** Sequence numbers sent so far: 0 … sent-1. */
  get sent(): number {
    return this.nextSeq;
  }

  stateOf(seq: number): number {
    return seq < this.nextSeq ? (this.states[seq] as number) : SEQ.unsent;
  }

  /** A copy of every sequence number's state now (one byte each): what had been answered by then. */
  snapshotStates(): Uint8Array {
    return this.states.slice(0, this.nextSeq);
  }

  private tick(): void {
    const n = this.opts.eventsPerRequest;
    for (;;) {
      const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.opts.rate);
      if (this.stats.offered + this.stats.skipped + n > due) return;
      if (this.inFlight >= this.opts.maxInFlight) {
        // Skip the share rather than burst later: the rate is a ceiling, not a debt.
        this.stats.skipped += n;
        continue;
      }
      this.sendOne();
    }
  }

  private sendOne(): void {
    const n = this.opts.eventsPerRequest;
    const first = this.take(n);
    const coroot = this.stats.requests % 2 === 0;
    this.stats.requests++;
    this.stats.offered += n;
    if (coroot) this.stats.corootRequests++;
    else this.stats.alertmanagerRequests++;
    const body = coroot ? corootBody(first, n) : alertmanagerBody(first, n);
    this.inFlight++;
    const sentAt = performance.now();
    this.pool
      .request({
        path: coroot ? '/api/v1/coroot' : '/api/v1/alertmanager',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        headersTimeout: this.opts.requestTimeoutMs,
        bodyTimeout: this.opts.requestTimeoutMs,
      })
      .then(async (res) => {
        const text = await res.body.text();
        this.noteLatency(performance.now() - sentAt);
        this.settle(first, n, res.statusCode, text);
      })
      .catch((err: unknown) => {
        this.mark(first, n, SEQ.failed);
        this.stats.failed += n;
        if (this.restarting) this.stats.failedInRestart += n;
        else this.noteError(`transport: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0 && this.idleWaiter) this.idleWaiter();
      });
  }

  private settle(first: number, n: number, status: number, text: string): void {
    if (status === 202 && acceptedCount(text) === n) {
      this.mark(first, n, SEQ.accepted);
      this.stats.accepted += n;
    } else if (status === 503 && text.includes(NOT_CONFIRMED)) {
      this.mark(first, n, SEQ.unconfirmed);
      this.stats.unconfirmed += n;
    } else if (status === 503) {
      this.mark(first, n, SEQ.refused);
      this.stats.refused += n;
    } else {
      this.mark(first, n, SEQ.failed);
      this.stats.failed += n;
      this.noteError(`HTTP ${status}: ${text.slice(0, 200)}`);
    }
  }

  private take(n: number): number {
    const first = this.nextSeq;
    this.nextSeq += n;
    if (this.nextSeq > this.states.length) {
      const grown = new Uint8Array(Math.max(this.states.length * 2, this.nextSeq));
      grown.set(this.states);
      this.states = grown;
    }
    this.states.fill(SEQ.inFlight, first, first + n);
    return first;
  }

  private mark(first: number, n: number, state: number): void {
    this.states.fill(state, first, first + n);
  }

  private noteLatency(ms: number): void {
    const bucket = Math.min(this.latencies.length - 1, Math.round(ms * 10));
    this.latencies[bucket] = (this.latencies[bucket] as number) + 1;
    const l = this.stats.latencyMs;
    l.max = Math.max(l.max, Math.round(ms));
  }

  /** Fills latencyMs' percentiles from the buckets. */
  private percentiles(): void {
    const total = this.latencies.reduce((a, b) => a + b, 0);
    const at = (q: number): number => {
      let seen = 0;
      for (let i = 0; i < this.latencies.length; i++) {
        seen += this.latencies[i] as number;
        if (seen >= q * total) return i / 10;
      }
      return 0;
    };
    this.stats.latencyMs.p50 = at(0.5);
    this.stats.latencyMs.p99 = at(0.99);
  }

  private noteError(message: string): void {
    if (this.stats.errors.length < MAX_ERRORS_KEPT) this.stats.errors.push(message);
  }
}

function acceptedCount(text: string): number | null {
  try {
    const value = JSON.parse(text) as { accepted?: unknown };
    return typeof value.accepted === 'number' ? value.accepted : null;
  } catch {
    return null;
  }
}

/** The sequence number of an event the daemon wrote, or null when it is not one of the soak's. */
export function seqOfEvent(event: {
  data: Record<string, Record<string, unknown> | undefined>;
}): number | null {
  const alert = event.data.alert;
  if (!alert) return null;
  const labels = alert.labels as Record<string, string> | undefined;
  const fromLabel = labels?.soak_seq;
  if (fromLabel !== undefined) return Number(fromLabel);
  const summary = alert.summary;
  if (typeof summary === 'string' && summary.startsWith('soak-')) return Number(summary.slice(5));
  return null;
}

/** A Coroot webhook body: an array of `n` alerts; every fifth one is a resolve. */
function corootBody(first: number, n: number): string {
  const alerts = [];
  for (let seq = first; seq < first + n; seq++) {
    alerts.push({
      status: seq % 5 === 4 ? 'OK' : 'WARNING',
      project_name: 'soak',
      application: `soak:ns:Deployment:app-${seq % 17}`,
      rule_name: 'Soak rule',
      severity: 'warning',
      summary: `soak-${seq}`,
      details: [{ name: 'seq', value: String(seq) }],
      url: `https://coroot.example.com/p/soak0001/alerts?alert=${seq.toString(36).padStart(12, '0')}`,
    });
  }
  return JSON.stringify(alerts);
}

/** An Alertmanager (version 4) group of `n` alerts; every third one resolved. */
function alertmanagerBody(first: number, n: number): string {
  const now = new Date().toISOString();
  const alerts = [];
  for (let seq = first; seq < first + n; seq++) {
    const resolved = seq % 3 === 2;
    alerts.push({
      status: resolved ? 'resolved' : 'firing',
      labels: {
        alertname: 'SoakAlert',
        instance: `node-${seq % 13}`,
        severity: 'critical',
        soak_seq: `${seq}`,
      },
      annotations: { summary: `soak alert ${seq}` },
      startsAt: now,
      endsAt: resolved ? now : '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph',
      fingerprint: seq.toString(16).padStart(16, '0'),
    });
  }
  return JSON.stringify({
    version: '4',
    groupKey: '{}:{alertname="SoakAlert"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'recorder',
    groupLabels: { alertname: 'SoakAlert' },
    commonLabels: { alertname: 'SoakAlert' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
  });
}
