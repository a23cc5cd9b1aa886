/*
 * A process that feeds a disk-buffered webhook output and waits to be killed: used by
 * test/integration/disk-buffer.test.ts to SIGKILL a real process holding a disk buffer.
 * argv: <dataDir> <url> <events>. Prints "committed <n>" once every event is committed.
 */
import { serializeEvent } from '../../src/events/serialize.js';
import { Logger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/registry.js';
import type { WebhookOutputConfig } from '../../src/outputs/webhook/config.js';
import { WebhookOutput } from '../../src/outputs/webhook/output.js';
import { testAlertEvent } from './events.js';

const [dataDir, url, count] = process.argv.slice(2) as [string, string, string];
const config: WebhookOutputConfig = JSON.parse(process.env.WEBHOOK_CONFIG as string);
config.url = url;
const out = new WebhookOutput(config, {
  metrics: new Metrics('test'),
  logger: new Logger('error'),
  version: 'test',
  dataDir,
});
out.start();
let taken = 0;
for (let i = 0; i < Number(count); i++) {
  const event = testAlertEvent(i);
  if (out.send(serializeEvent(event), event)) taken++;
}
const core = (out as unknown as { core: { buffer: { committed(): Promise<void> } } }).core;
await core.buffer.committed();
process.stdout.write(`committed ${taken}\n`);
setInterval(() => {}, 1000);
