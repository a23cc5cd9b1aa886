/** One measured figure of `npm run bench`. */
export interface BenchResult {
  /** Starts with the scenario's number, e.g. "1 record() ns/op", "6 webhook delivery (batching off)". */
  scenario: string;
  /** What `value` measures, e.g. "ns/op", "events/s", "requests/s", "p99 ms". */
  unit: string;
  value: number;
  /** The ceiling measured in the same run (bare server, bare producer), same unit. */
  ceiling?: number;
  /** value / ceiling (or the inverse where lower is better, said in `note`). */
  ratio?: number;
  /** The target, as text (e.g. ">= 0.75 of bare"). */
  target?: string;
  /** Whether the target was met (omitted when there is no target). */
  met?: boolean;
  note?: string;
}

/** Figures one scenario hands to a later one in the same run (scenario 5 compares with 4). */
export interface BenchContext {
  /** Scenario 4's end-to-end p99 (ms) at its fixed rate, when it ran and succeeded. */
  latencyP99Ms?: number;
}

export interface BenchOptions {
  /** Short runs for smoke checks. */
  quick: boolean;
  /** Shared between the scenarios of one run. */
  context: BenchContext;
  /** `--cpu-prof DIR`: where measured variants write their CPU profiles (cpu-profile.ts). */
  cpuProfDir?: string;
}
