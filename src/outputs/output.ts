import type { OutputFilter } from '../config/common.js';
import type { MapReader } from '../config/reader.js';
import type { RecorderEvent } from '../events/event.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';
import type { BufferConfig, WhenFull } from './delivery/buffer-config.js';

/** What every output gets from the daemon. */
export interface OutputDeps {
  metrics: Metrics;
  logger: Logger;
  /** The daemon's version (User-Agent, client ids). */
  version: string;
  /** The top-level `data_dir` (disk buffers live under it); null or absent without one. */
  dataDir?: string | null;
}

/**
 * One destination. Only the write loop calls `send`; it must never block, never throw
 * and never await: it either takes the bytes into the output's own bounded buffer
 * (returns true) or counts the drop itself and returns false.
 *
 * Back-pressure and acknowledgements (docs/architecture.md, docs/operations.md "Back-pressure
 * and acknowledgements"): an output whose `whenFull` is `block` is asked `hasRoom()` before
 * each event; while it has none the write loop holds back (`whenRoom()` says when to look
 * again) and ingest answers 503. With `acknowledgements: true` an ingest request is answered
 * only once `committed()` of every `block` output that received its events has resolved true.
 */
export interface Output {
  /** Stable, secret-free identifier; used as the `output` metric label. */
  readonly name: string;
  /** `file`, `webhook`, `kafka`: for logs. */
  readonly kind: string;
  /**
   * Begin work (open the file, connect). Must return at once: an output that cannot
   * start retries in the background with backoff while the others run.
   */
  start(): void;
  /**
   * `line` is the serialized event: JSON followed by `\n`, shared with every other
   * output; never mutate it. Use `jsonOf(line)` for the bare JSON.
   */
  send(line: Buffer, event: RecorderEvent): boolean;
  /** `buffer.when_full` of this output. */
  readonly whenFull: WhenFull;
  /**
   * Whether `send` now would find room in the output's buffer. The write loop asks a `block`
   * output before every event. A `block` output's `send` still takes an event that finds no
   * room (the loop only does that at a reload or shutdown, bounded by the recorder queue);
   * a `drop_newest` output drops it. True while closing (`send` then counts `closed`).
   */
  hasRoom(): boolean;
  /** Resolves once `hasRoom()` may be true again, or the output is closing. Never rejects. */
  whenRoom(): Promise<void>;
  /**
   * Group commit: resolves once every event `send` took before this call is as durable as this
   * output makes it (the file output: written, and fdatasync'ed under `fsync: always`; a disk
   * buffer: committed per `sync`; a memory buffer: at once), true when all of them made it and
   * false when some were lost instead (counted as drops). One write serves every event taken
   * meanwhile. Called by one caller at a time (the write loop's commit round). Never rejects.
   */
  committed(): Promise<boolean>;
  /** True when the output can deliver now (drives `output_up` and readiness). */
  isUp(): boolean;
  /**
   * True when the output tried to write (or open, or connect) and failed, and has not
   * succeeded since: for a `block` output, ingest and readiness then answer 503. Unlike
   * `!isUp()`, false while the output is still starting (a file not yet opened).
   */
  failing(): boolean;
  /** Why the output's disk buffer cannot write now (ENOSPC…), or null: readiness reports it. */
  bufferProblem?(): string | null;
  /** Events taken by `send` and not yet written, failed or dropped. */
  pending(): number;
  /**
   * Resolves once `pending()` is at most `atMost` (0: drained), or once the output has closed
   * (nothing will change any more), or when `signal` aborts; to whether `pending() <= atMost`
   * then. Woken by the output's own progress, never by polling (replay paces itself with it).
   * Never rejects.
   */
  whenPendingAtMost(atMost: number, signal?: AbortSignal): Promise<boolean>;
  /**
   * Stop taking events, deliver what is buffered within `budgetMs`, count the rest
   * as dropped (`shutdown`), release resources. Never rejects.
   */
  close(budgetMs: number): Promise<void>;
  /** Reopen files after rotation (SIGUSR1); a no-op for outputs without files. */
  reopen?(): void;
}

/** What every output type's config has in common. */
export interface OutputConfigBase {
  readonly type: string;
  readonly name: string;
  readonly filter: OutputFilter;
  /** The `buffer:` block, the same on every type (delivery/buffer-config.ts). */
  readonly buffer: BufferConfig;
}

/**
 * One output type as the registry (outputs/registry.ts) lists it: how its YAML section is read
 * and how an output is built from the result. The whole-file schema, the docs checks and the
 * CLI iterate these, so an output type is one folder with a definition plus one registry line.
 */
export interface OutputDefinition<C extends OutputConfigBase> {
  readonly type: C['type'];
  /** The top-level YAML list that holds outputs of this type (`file_outputs`, ...). */
  readonly section: string;
  /** The keys one entry accepts (each documented in docs/configuration.md). */
  readonly keys: readonly string[];
  /** Keys of the nested maps, by the key that holds them (documented as `key.sub`). */
  readonly nestedKeys: Readonly<Record<string, readonly string[]>>;
  /** Reads one entry of `section`; errors go to the reader with file and line. */
  read(m: MapReader): C;
  /** Builds the output; must return at once (start() begins work). */
  create(config: C, deps: OutputDeps): Output;
  /**
   * The config `replay` builds this output from, alone beside a running daemon: a delivering
   * output gets a memory buffer (delivery/open-buffer.ts `withMemoryBuffer`); the file output
   * takes its config as it is.
   */
  replay(config: C): C;
}
