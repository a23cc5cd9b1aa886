import type { IngestEndpointConfig, RecorderConfig } from '../recorder-config/schema.js';
import { parseAlertmanagerBody } from './alertmanager.js';
import { parseCorootBody } from './coroot/webhook.js';
import { isRecord, own } from './fields.js';
import type { ParseResult } from './parse-result.js';

/** One push endpoint: where it listens, how its body becomes drafts, which config governs it. */
export interface IngestEndpoint {
  /** Metric label. */
  name: 'coroot' | 'alertmanager';
  path: string;
  parse: (body: unknown) => ParseResult;
  /**
   * How many events a parsed body would carry, read off its top-level array without parsing
   * the items (0 when it has none), so that a payload larger than the whole queue is refused
   * before a million items become a million drafts.
   */
  count: (body: unknown) => number;
  config: (config: RecorderConfig) => IngestEndpointConfig;
}

export const corootEndpoint: IngestEndpoint = {
  name: 'coroot',
  path: '/api/v1/coroot',
  parse: parseCorootBody,
  count: (body) => (Array.isArray(body) ? body.length : 1),
  config: (c) => c.ingest.coroot,
};

export const alertmanagerEndpoint: IngestEndpoint = {
  name: 'alertmanager',
  path: '/api/v1/alertmanager',
  parse: parseAlertmanagerBody,
  count: (body) => {
    const alerts = isRecord(body) ? own(body, 'alerts') : undefined;
    return Array.isArray(alerts) ? alerts.length : 0;
  },
  config: (c) => c.ingest.alertmanager,
};
