/**
 * The suite's servers that bind late or restart on the same port (the Kafka broker,
 * Alertmanager) take their ports from freePorts(): below the kernel's ephemeral range, so no
 * other test's listen(0) or outgoing connection can be handed the same port meanwhile (a CI
 * run lost its broker to exactly that).
 */
import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePorts } from '../helpers/net.js';

const ephemeralLow = Number(
  readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
);

describe('freePorts', () => {
  it('gives distinct ports below the ephemeral range that a server can bind', async () => {
    const ports = await freePorts(20);
    expect(new Set(ports).size).toBe(20);
    for (const port of ports) {
      expect(port).toBeLessThan(ephemeralLow);
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('never picks a port something already listens on', async () => {
    // 500 held ports are about 4 % of the range: 1,000 picks without the bind check would
    // land on one of them all but certainly.
    const held = await Promise.all(
      (await freePorts(500)).map(
        (port) =>
          new Promise<Server>((resolve, reject) => {
            const server = createServer();
            server.once('error', reject);
            server.listen(port, '127.0.0.1', () => resolve(server));
          }),
      ),
    );
    const heldPorts = new Set(held.map((server) => (server.address() as AddressInfo).port));
    try {
      for (let i = 0; i < 10; i++) {
        for (const port of await freePorts(100)) expect(heldPorts.has(port)).toBe(false);
      }
    } finally {
      await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
    }
  });
});
