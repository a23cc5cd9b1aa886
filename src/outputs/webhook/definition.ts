import { BASIC_AUTH_KEYS, TLS_KEYS } from '../../config/common.js';
import { withMemoryBuffer } from '../delivery/open-buffer.js';
import type { OutputDefinition } from '../output.js';
import { BATCH_KEYS, readWebhookOutput, WEBHOOK_OUTPUT_KEYS, type WebhookOutputConfig } from './config.js';
import { WebhookOutput } from './output.js';

/** `webhook_outputs`: HTTP POST to a URL (docs/configuration.md). */
export const WEBHOOK_OUTPUT: OutputDefinition<WebhookOutputConfig> = {
  type: 'webhook',
  section: 'webhook_outputs',
  keys: WEBHOOK_OUTPUT_KEYS,
  nestedKeys: { basic_auth: BASIC_AUTH_KEYS, tls: TLS_KEYS, batch: BATCH_KEYS },
  read: readWebhookOutput,
  create: (config, deps) => new WebhookOutput(config, deps),
  replay: withMemoryBuffer,
};
