import type { OutputFilter } from '../config/common.js';
import type { MapReader } from '../config/reader.js';
import type { RecorderEvent } from '../events/event.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/registry.js';

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
  /** True when the output can deliver now (drives `output_up` and readiness). */
  isUp(): boolean;
  /** Events taken by `send` and not yet written, failed or dropped. */
  pending(): number;
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
}
