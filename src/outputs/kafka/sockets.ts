import net from 'node:net';
import tls from 'node:tls';
import type { ISocketFactory } from 'kafkajs';

/** kafkajs' own keep-alive delay (network/socketFactory.js). */
const KEEP_ALIVE_DELAY_MS = 60_000;

/**
 * kafkajs' socket factory, plus a registry of the sockets it opened. kafkajs may still be
 * inside a retry when the output closes, and its retry path reconnects the cluster even
 * after `disconnect()`. Once `shutdown()` ran, every socket is destroyed and every new
 * connection attempt fails at once, so nothing can keep the process alive after close.
 */
export class SocketRegistry {
  private readonly open = new Set<net.Socket>();
  private closed = false;

  readonly factory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
    if (this.closed) return refusedSocket();
    const socket = ssl
      ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
      : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS);
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    return socket;
  };

  get size(): number {
    return this.open.size;
  }

  shutdown(): void {
    this.closed = true;
    for (const socket of this.open) socket.destroy();
    this.open.clear();
  }
}

function refusedSocket(): net.Socket {
  const socket = new net.Socket();
  // kafkajs attaches its 'error' listener right after the factory returns.
  process.nextTick(() => socket.destroy(new Error('the Kafka output is closed')));
  return socket;
}
