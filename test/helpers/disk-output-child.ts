/*
 * A process that feeds a disk-buffered output and waits to be killed: the disk buffer tests
 * (test/integration/disk-buffer*.test.ts) SIGKILL a real process holding a disk buffer.
 * argv: <webhook|kafka> <dataDir> <events>; env OUTPUT_CONFIG: the output's config as JSON.
 * Prints "committed <n>" once the n events it took are committed to the buffer.
 */
import { serializeEvent } from '../../src/events/serialize.js';
import { Logger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/registry.js';
import type { DeliveryBuffer } from '../../src/outputs/delivery/buffer.js';
import type { KafkaOutputConfig } from '../../src/outputs/kafka/config.js';
import { KafkaOutput } from '../../src/outputs/kafka/output.js';
import type { Output } from '../../src/outputs/output.js';
import type { WebhookOutputConfig } from '../../src/outputs/webhook/config.js';
import { WebhookOutput } from '../../src/outputs/webhook/output.js';
import { testAlertEvent } from './events.js';

const [kind, dataDir, count] = process.argv.slice(2) as [string, string, string];
const config: unknown = JSON.parse(process.env.OUTPUT_CONFIG as string);
const deps = { metrics: new Metrics('test'), logger: new Logger('error'), version: 'test', dataDir };
const out: Output =
  kind === 'kafka'
    ? new KafkaOutput(config as KafkaOutputConfig, deps)
    : new WebhookOutput(config as WebhookOutputConfig, deps);
out.start();
let taken = 0;
for (let i = 0; i < Number(count); i++) {
  const event = testAlertEvent(i);
  if (out.send(serializeEvent(event), event)) taken++;
}
// The core's buffer is private; the test reaches it to wait for the commit, as the write loop would.
const core = (out as unknown as { core: { buffer: DeliveryBuffer } }).core;
await core.buffer.committed();
process.stdout.write(`committed ${taken}\n`);
setInterval(() => {}, 1000);
