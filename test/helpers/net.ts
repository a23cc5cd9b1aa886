import { createServer } from 'node:net';

/**
 * A loopback port nothing listens on right now: bind port 0, read it back, close. Free for
 * a server to take, or refused when a client connects to it.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
