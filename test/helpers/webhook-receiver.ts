/*
 * A switchable webhook receiver: a real node:http server on 127.0.0.1 (port from the OS) that
 * answers every request with `status` (change it at any time: 503 stands for a receiver that is
 * down, 200 brings it back, a 4xx refuses) and keeps the events of the bodies it answered 2xx.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The parts of an event (docs/events.md) the tests look at. */
export interface ReceivedEvent {
  id?: string;
  data?: { alert?: { labels?: Record<string, string>; extra?: Record<string, unknown> } };
}

export class WebhookReceiver {
  /** Requests answered so far, whatever the status. */
  requests = 0;
  /** Every event of every body answered 2xx, in arrival order (a retried body counts again). */
  readonly events: ReceivedEvent[] = [];
  /** The ids of `events`. */
  readonly ids = new Set<string>();

  private constructor(
    private readonly server: Server,
    /** `http://127.0.0.1:<port>/hook` */
    readonly url: string,
    readonly port: number,
    /** What the next request is answered (read when its whole body has arrived). */
    public status: number,
  ) {}

  static async start(status = 200): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (receiver) receiver.answer(Buffer.concat(chunks));
        res.writeHead(receiver?.status ?? 503).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}/hook`, port, status);
    return receiver;
  }

  /** The distinct values `pick` finds in the accepted events (undefined ones left out). */
  distinct<T>(pick: (event: ReceivedEvent) => T | undefined): Set<T> {
    const values = new Set<T>();
    for (const event of this.events) {
      const value = pick(event);
      if (value !== undefined) values.add(value);
    }
    return values;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private answer(body: Buffer): void {
    this.requests++;
    if (this.status < 200 || this.status > 299) return;
    const value = JSON.parse(body.toString('utf8')) as ReceivedEvent | ReceivedEvent[];
    for (const event of Array.isArray(value) ? value : [value]) {
      this.events.push(event);
      if (event.id) this.ids.add(event.id);
    }
  }
}

/** The `uid` labels of the Alertmanager alerts a receiver accepted. */
export function receivedUids(receiver: WebhookReceiver): Set<string> {
  return receiver.distinct((e) => e.data?.alert?.labels?.uid);
}
