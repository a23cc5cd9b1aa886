import type { CounterCell, HistogramCell } from '../metrics/cells.js';
import type { IngestRejectReason, Metrics } from '../metrics/registry.js';

/** One endpoint's metric cells, looked up once instead of per request. */
export class EndpointMeter {
  readonly duration: HistogramCell;
  private readonly requests = new Map<number | 'aborted', CounterCell>();
  private readonly rejected = new Map<IngestRejectReason, CounterCell>();

  constructor(
    private readonly metrics: Metrics,
    private readonly endpoint: string,
  ) {
    this.duration = metrics.ingestDurationCell(endpoint);
  }

  request(code: number | 'aborted'): CounterCell {
    let cell = this.requests.get(code);
    if (!cell) {
      cell = this.metrics.ingestRequestsCell(this.endpoint, String(code));
      this.requests.set(code, cell);
    }
    return cell;
  }

  rejection(reason: IngestRejectReason): CounterCell {
    let cell = this.rejected.get(reason);
    if (!cell) {
      cell = this.metrics.ingestRejectedCell(this.endpoint, reason);
      this.rejected.set(reason, cell);
    }
    return cell;
  }
}
