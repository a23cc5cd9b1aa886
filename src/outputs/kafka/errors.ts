import type { KafkaErrorType } from '../../metrics/registry.js';

/**
 * What to do with a batch whose produce request failed, after kafkajs' own retries:
 * - `retry`: a transient condition (broker down, leader moving, timeout, auth not yet
 *   granted): keep the batch and send it again after a backoff.
 * - `split`: the broker found the request too large: send its events one by one
 *   (a single event that is still too large is then rejected).
 * - `reset`: the idempotent producer's sequence state is broken (the broker lost or fenced
 *   our producer id): start a fresh producer and send the batch again.
 * - `reject`: the broker refused these records for good, or the error is not Kafka's at
 *   all (a bug must not become an endless retry loop): count the batch as failed.
 */
export type KafkaFailureAction = 'retry' | 'split' | 'reset' | 'reject';

export interface KafkaFailure {
  errorType: KafkaErrorType;
  action: KafkaFailureAction;
  /** The root cause's message, for the log (never contains credentials). */
  message: string;
  /** Kafka's error name (`NOT_LEADER_OR_FOLLOWER`) or the kafkajs error class. */
  code: string;
}

const NETWORK_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSStaleTopicMetadataAssignment',
]);

const TIMEOUT_ERRORS = new Set(['KafkaJSRequestTimeoutError', 'KafkaJSTimeout', 'KafkaJSLockTimeout']);

const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

const REJECTED = new Set([
  'CORRUPT_MESSAGE',
  'INVALID_RECORD',
  'INVALID_TIMESTAMP',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_REQUIRED_ACKS',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'UNSUPPORTED_COMPRESSION_TYPE',
  'UNSUPPORTED_VERSION',
]);

const PRODUCER_STATE = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
  'PRODUCER_FENCED',
]);

const NODE_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  type?: unknown;
  code?: unknown;
  retriable?: unknown;
  cause?: unknown;
  originalError?: unknown;
}

function asErrorLike(value: unknown): ErrorLike | null {
  return value !== null && typeof value === 'object' ? (value as ErrorLike) : null;
}

/**
 * kafkajs wraps the real cause (NumberOfRetriesExceeded → NonRetriable → ConnectionError …);
 * the chain is followed through `cause` / `originalError`, bounded against cycles.
 */
export function causeChain(err: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  let current = asErrorLike(err);
  while (current !== null && chain.length < 10 && !chain.includes(current)) {
    chain.push(current);
    current = asErrorLike(current.cause) ?? asErrorLike(current.originalError);
  }
  return chain;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export function classifyKafkaError(err: unknown): KafkaFailure {
  const chain = causeChain(err);
  const root = chain[chain.length - 1] ?? {};
  const message = str(root.message) || String(err);
  // A protocol error anywhere in the chain is the broker's verdict; it says the most.
  const protocol = chain.find((e) => e.name === 'KafkaJSProtocolError' && typeof e.type === 'string');
  if (protocol) return classifyProtocolError(str(protocol.type), str(protocol.message) || message);

  const name = str(root.name);
  if (NETWORK_ERRORS.has(name)) return { errorType: 'network', action: 'retry', message, code: name };
  if (TIMEOUT_ERRORS.has(name)) return { errorType: 'timeout', action: 'retry', message, code: name };
  if (name === 'KafkaJSSASLAuthenticationError')
    return { errorType: 'broker', action: 'retry', message, code: name };
  const sysCode = str(root.code);
  if (NODE_NETWORK_CODES.has(sysCode))
    return { errorType: 'network', action: 'retry', message, code: sysCode };
  if (sysCode === 'ETIMEDOUT') return { errorType: 'timeout', action: 'retry', message, code: sysCode };
  // Other kafkajs errors flagged retriable (e.g. "the producer is disconnected") are transient.
  if (name.startsWith('KafkaJS') && root.retriable === true)
    return { errorType: 'unknown', action: 'retry', message, code: name };
  return { errorType: 'unknown', action: 'reject', message, code: name || 'Error' };
}

function classifyProtocolError(type: string, message: string): KafkaFailure {
  const errorType: KafkaErrorType =
    type === 'REQUEST_TIMED_OUT' ? 'timeout' : type === 'NETWORK_EXCEPTION' ? 'network' : 'broker';
  let action: KafkaFailureAction = 'retry';
  if (TOO_LARGE.has(type)) action = 'split';
  else if (REJECTED.has(type)) action = 'reject';
  else if (PRODUCER_STATE.has(type)) action = 'reset';
  // Anything else, retriable or not (authorization, unknown topic, not enough replicas), is
  // a condition of the cluster that an operator can fix: keep the events meanwhile.
  return { errorType, action, message, code: type };
}
