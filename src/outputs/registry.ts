import type { OutputConfig } from '../recorder-config/schema.js';
import { FileOutput } from './file/output.js';
import { KafkaOutput } from './kafka/output.js';
import type { Output, OutputDeps } from './output.js';
import { WebhookOutput } from './webhook/output.js';

/** Builds an output from its config. Adding an output type adds a case here and nothing else. */
export function createOutput(config: OutputConfig, deps: OutputDeps): Output {
  switch (config.type) {
    case 'file':
      return new FileOutput(config, deps);
    case 'webhook':
      return new WebhookOutput(config, deps);
    case 'kafka':
      return new KafkaOutput(config, deps);
  }
}
