import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Loopback ports nothing listens on right now, for a server that binds them later (a Kafka
 * broker or Alertmanager booting for seconds while other test files run), a server
 * restarted on the same port after an outage, or a client that must be refused.
 *
 * Why not listen(0): the kernel hands out port-0 binds and the local ports of outgoing
 * connections from its ephemeral range, so while a broker boots, any other test's client or
 * server may be given the broker's port (a CI run failed that way: "Socket server failed to
 * bind to 127.0.0.1:43177: Address already in use"). These ports come from below that range,
 * which the kernel never assigns on its own; each is checked free by binding it once.
 */
export async function freePorts(n: number): Promise<number[]> {
  const { low, high } = portsBelowEphemeralRange();
  const ports = new Set<number>();
  for (let tries = 0; ports.size < n; tries++) {
    if (tries > 1000) throw new Error(`no ${n} free loopback ports in ${low}-${high}`);
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (!ports.has(port) && (await canBind(port))) ports.add(port);
  }
  return [...ports];
}

/** One port as freePorts() picks them. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port as number;
}

/** Reads the kernel's ephemeral range; the ports below it down to 20000 are ours to pick. */
function portsBelowEphemeralRange(): { low: number; high: number } {
  let ephemeralLow = 32768;
  try {
    const [first] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const parsed = Number(first);
    if (Number.isInteger(parsed) && parsed > 0) ephemeralLow = parsed;
  } catch {
    // Not Linux: keep the usual default.
  }
  // A machine whose ephemeral range starts low leaves no room below it: pick above 10000
  // anyway and rely on the bind check.
  const high = ephemeralLow > 21000 ? ephemeralLow - 1 : 32767;
  return { low: ephemeralLow > 21000 ? 20000 : 10000, high };
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
