/** What to do with an HTTP answer. */
export type StatusClass = 'delivered' | 'retry' | 'reject';

/**
 * 2xx is delivered. Retried: 408 (request timeout), 429 (rate limited) and 5xx, except
 * 501 (not implemented) and 505 (HTTP version not supported), which no retry can fix.
 * Every other status, 3xx included (redirects are not followed for a POST), is a
 * rejection of this request and is not retried: unlike Alertmanager's recorder, a 4xx is
 * the receiver saying no, and repeating the request only repeats the answer.
 */
export function classifyStatus(status: number): StatusClass {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 429) return 'retry';
  if (status >= 500 && status <= 599 && status !== 501 && status !== 505) return 'retry';
  return 'reject';
}
