import type { IngestEndpointConfig, RecorderConfig } from '../config/schema.js';
import { parseAlertmanagerBody } from './alertmanager.js';
import { parseCorootBody } from './coroot.js';
import type { ParseResult } from './parse-result.js';

/** One push endpoint: where it listens, how its body becomes drafts, which config governs it. */
export interface IngestEndpoint {
  /** Metric label. */
  name: 'coroot' | 'alertmanager';
  path: string;
  parse: (body: unknown) => ParseResult;
  config: (config: RecorderConfig) => IngestEndpointConfig;
}

export const corootEndpoint: IngestEndpoint = {
  name: 'coroot',
  path: '/api/v1/coroot',
  parse: parseCorootBody,
  config: (c) => c.ingest.coroot,
};

export const alertmanagerEndpoint: IngestEndpoint = {
  name: 'alertmanager',
  path: '/api/v1/alertmanager',
  parse: parseAlertmanagerBody,
  config: (c) => c.ingest.alertmanager,
};
