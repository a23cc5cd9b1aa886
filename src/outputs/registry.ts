import { FILE_OUTPUT } from './file/definition.js';
import { KAFKA_OUTPUT } from './kafka/definition.js';
import type { Output, OutputConfigBase, OutputDefinition, OutputDeps } from './output.js';
import { WEBHOOK_OUTPUT } from './webhook/definition.js';

/**
 * Every output type, in the order their sections are read. The whole-file schema
 * (recorder-config/schema.ts), the docs checks and the CLI iterate this list: adding an output
 * type is its folder (config.ts, output.ts, definition.ts) plus one entry here.
 */
export const OUTPUT_TYPES = [FILE_OUTPUT, WEBHOOK_OUTPUT, KAFKA_OUTPUT] as const;

/** The config of any registered output type, told apart by `type`. */
export type OutputConfig = ReturnType<(typeof OUTPUT_TYPES)[number]['read']>;

/** Builds an output from its config through its type's definition. */
export function createOutput(config: OutputConfig, deps: OutputDeps): Output {
  return definitionOf(config.type).create(config, deps);
}

/**
 * The definition of `type`. Typed for any config: each definition's `type` matches the
 * config it reads, which TypeScript cannot follow through a lookup by value.
 */
export function definitionOf(type: OutputConfig['type']): OutputDefinition<OutputConfigBase> {
  const definition = OUTPUT_TYPES.find((d) => d.type === type);
  if (!definition) throw new Error(`unknown output type ${type}`);
  return definition as unknown as OutputDefinition<OutputConfigBase>;
}
