/** One measured figure of `npm run bench`. */
export interface BenchResult {
  /** e.g. "record() hot path", "webhook delivery (batching off)". */
  scenario: string;
  /** What `value` measures, e.g. "ns/op", "events/s", "requests/s", "p99 ms". */
  unit: string;
  value: number;
  /** The ceiling measured in the same run (bare server, bare producer), same unit. */
  ceiling?: number;
  /** value / ceiling (or the inverse where lower is better, said in `note`). */
  ratio?: number;
  /** The target, as text (e.g. ">= 0.7 of bare"). */
  target?: string;
  /** Whether the target was met (omitted when there is no target). */
  met?: boolean;
  note?: string;
}

export interface BenchOptions {
  /** Short runs for smoke checks. */
  quick: boolean;
}
