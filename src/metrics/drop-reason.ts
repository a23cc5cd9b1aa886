/**
 * Why an output lost an event. Each loss is counted under exactly one reason
 * (docs/metrics.md). `filtered` is deliberately absent: an event an output does not want
 * is not a loss. The list lives with the metrics that count it, so outputs (above) import
 * it from here and metrics never import outputs.
 */
export type DropReason =
  | 'buffer_full'
  | 'retries_exhausted'
  | 'rejected'
  | 'closed'
  | 'shutdown'
  | 'write_error'
  /** A disk buffer found the record unreadable (bad checksum, missing segment). */
  | 'corrupted';

/** Reasons counted as `result="failed"` (delivery attempted and given up); the rest are `dropped`. */
export const FAILED_REASONS: ReadonlySet<DropReason> = new Set([
  'retries_exhausted',
  'rejected',
  'write_error',
]);
