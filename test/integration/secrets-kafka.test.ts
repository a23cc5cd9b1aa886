/*
 * Secrets kept (issue 7), the Kafka half: the compiled daemon at --log-level debug against
 * the suite's real broker on its SASL listener, with outputs that authenticate (PLAIN and
 * SCRAM-SHA-512, password by file and by `${ENV}`) and outputs the broker refuses (wrong
 * PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 passwords, inline, by file, by `${ENV}`), then a
 * reload that swaps passwords (a good one made wrong, a wrong one made right). kafkajs'
 * SASL failures and debug logs, /metrics and the JSONL file (config_reloaded included)
 * must hold none of the passwords. The rest of the secret kinds: secrets.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { post, type RunningDaemon, startDaemon, tempDir } from '../helpers/daemon.js';
import { loadFixture } from '../helpers/fixtures.js';
import { sampleSum, scrape } from '../helpers/metrics.js';
import { readEvents } from '../helpers/schema.js';
import { SecretSet } from '../helpers/secrets.js';
import { waitFor } from '../helpers/wait.js';
import { SASL_USER } from '../kafka/broker.js';
import { waitForKafka } from '../kafka/context.js';
import { createTopic } from '../kafka/topics.js';

const kafka = inject('kafka');
const M = 'coroot_event_recorder_';

describe.skipIf(kafka.saslBrokers === null)('Kafka SASL secrets never leave the daemon', () => {
  const secrets = new SecretSet();
  // The suite broker knows one user; its password is a secret like any other here.
  secrets.plant('sasl-good', SASL_USER.password);
  const wrong = {
    plainInline: secrets.add('sasl-wrong-plain-inline'),
    scram256File: secrets.add('sasl-wrong-scram256-file'),
    scram512Env: secrets.add('sasl-wrong-scram512-env'),
    reloaded: secrets.add('sasl-wrong-after-reload'),
  };
  const ingestToken = secrets.add('ingest-token');
  const env: NodeJS.ProcessEnv = {
    CER_TEST_SASL_GOOD: SASL_USER.password,
    CER_TEST_SASL_WRONG: wrong.scram512Env,
  };
  let dir: string;
  let topic: string;
  let d: RunningDaemon | null = null;

  beforeAll(async () => {
    await waitForKafka(kafka);
    topic = `secrets-${randomUUID().slice(0, 8)}`;
    const admin = new Kafka({
      brokers: [kafka.brokers as string],
      clientId: 'secrets-test',
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      await createTopic(admin, topic);
    } finally {
      await admin.disconnect();
    }
    dir = await tempDir('cer-secrets-kafka-');
    await writeFile(join(dir, 'good.pass'), `${SASL_USER.password}\n`);
    await writeFile(join(dir, 'wrong.pass'), `${wrong.scram256File}\n`);
    await writeFile(join(dir, 'ingest.token'), `${ingestToken}\n`);
  });

  afterAll(async () => {
    await d?.stop('SIGKILL');
  });

  it('SASL successes, refusals and a password-changing reload leak nothing', async () => {
    const output = (name: string, mechanism: string, password: string): string => `
  - name: ${name}
    brokers: [${kafka.saslBrokers}]
    topic: ${topic}
    acks: leader
    linger: 0ms
    sasl: { mechanism: ${mechanism}, username: ${SASL_USER.username}, ${password} }`;
    const config = `
instance: secrets-kafka-test
shutdown_timeout: 3s
ingest:
  coroot:
    bearer_token_file: ./ingest.token
file_outputs:
  - path: ./events.jsonl
    fsync: none
kafka_outputs:${[
      output('good-plain-file', 'plain', 'password_file: ./good.pass'),
      output('good-scram512-env', 'scram-sha-512', 'password: "${CER_TEST_SASL_GOOD}"'),
      output('wrong-plain-inline', 'plain', `password: "${wrong.plainInline}"`),
      output('wrong-scram256-file', 'scram-sha-256', 'password_file: ./wrong.pass'),
      output('wrong-scram512-env', 'scram-sha-512', 'password: "${CER_TEST_SASL_WRONG}"'),
    ].join('')}
`;
    d = await startDaemon(config, { dir, env });
    const daemon = d;
    const alert = loadFixture('coroot/alert-firing-warning.json');
    const auth = { authorization: `Bearer ${ingestToken}` };
    expect((await post(`${daemon.baseUrl}/api/v1/coroot`, alert, auth)).status).toBe(202);

    const count = async (name: string, result: string): Promise<number> =>
      sampleSum(await scrape(daemon.baseUrl), `${M}output_events_total`, { output: name, result });
    // Both accepted passwords work (recorder_started + the alert)...
    for (const name of ['good-plain-file', 'good-scram512-env']) {
      await waitFor(async () => (await count(name, 'written')) >= 2, {
        what: `${name} to deliver`,
        timeoutMs: 30_000,
      });
    }
    // ...and each refused one went through the broker's SASL refusal, logged by the output.
    const refused = (name: string, after = 0) =>
      waitFor(
        () =>
          daemon.logs
            .slice(after)
            .find(
              (l) =>
                l.output === name && l.msg.includes('cannot connect') && l.code !== 'KafkaJSConnectionError',
            ),
        { what: `${name} refused by the broker`, timeoutMs: 30_000 },
      );
    for (const name of ['wrong-plain-inline', 'wrong-scram256-file', 'wrong-scram512-env']) {
      const line = await refused(name);
      expect(String(line.code)).toMatch(/SASL|AUTHENTICATION/i);
    }

    // A reload that changes passwords: the good file turns wrong, the wrong file turns good.
    const before = daemon.logs.length;
    await writeFile(join(dir, 'good.pass'), `${wrong.reloaded}\n`);
    await writeFile(join(dir, 'wrong.pass'), `${SASL_USER.password}\n`);
    const reload = await fetch(`${daemon.baseUrl}/-/reload`, { method: 'POST' });
    expect(reload.status).toBe(200);
    const file = join(dir, 'events.jsonl');
    await waitFor(async () => (await readEvents(file)).some((e) => e.type === 'config_reloaded'), {
      what: 'a config_reloaded event',
    });
    await refused('good-plain-file', before);
    // Another alert: the same one again would be a repeat the recorder de-duplicates.
    const another = { ...(alert as Record<string, unknown>), summary: 'after the reload' };
    expect((await post(`${daemon.baseUrl}/api/v1/coroot`, another, auth)).status).toBe(202);
    // The replacement output gets config_reloaded and the alert; what the refused one held is dropped.
    await waitFor(async () => (await count('wrong-scram256-file', 'written')) >= 2, {
      what: 'the output with the corrected password to deliver',
      timeoutMs: 30_000,
    });

    const metrics = await scrape(daemon.baseUrl);
    expect(await daemon.stop('SIGTERM')).toBe(0);
    const events = await readFile(file, 'utf8');
    expect(events).toContain('"config_reloaded"');
    secrets.assertNoLeaks('the daemon log (stderr, --log-level debug)', daemon.rawStderr());
    secrets.assertNoLeaks('/metrics', metrics);
    secrets.assertNoLeaks('/-/reload', await reload.text());
    secrets.assertNoLeaks('the JSONL file (config_reloaded events included)', events);
    // kafkajs' own debug lines were there to search (the SASL exchange is logged at debug).
    expect(daemon.logs.some((l) => l.level === 'debug' && String(l.msg).includes('SASL'))).toBe(true);
  });
});
