import { TLS_KEYS } from '../../config/common.js';
import { withMemoryBuffer } from '../delivery/open-buffer.js';
import type { OutputDefinition } from '../output.js';
import { KAFKA_OUTPUT_KEYS, type KafkaOutputConfig, readKafkaOutput, SASL_KEYS } from './config.js';
import { KafkaOutput } from './output.js';

/** `kafka_outputs`: produce to a Kafka topic (docs/configuration.md). */
export const KAFKA_OUTPUT: OutputDefinition<KafkaOutputConfig> = {
  type: 'kafka',
  section: 'kafka_outputs',
  keys: KAFKA_OUTPUT_KEYS,
  nestedKeys: { tls: TLS_KEYS, sasl: SASL_KEYS },
  read: readKafkaOutput,
  create: (config, deps) => new KafkaOutput(config, deps),
  replay: withMemoryBuffer,
};
