/*
 * The webhook receiver of the soak: a real node:http server whose behaviour flaps between
 * answering 200, answering 503 and hanging (reading the request and never answering, so the
 * daemon's attempt times out). It remembers which events it acknowledged with a 200: that is
 * what "delivered" means from the receiver's side.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type ReceiverMode = 'ok' | 'unavailable' | 'hang';

export interface ReceiverStats {
  requests: number;
  /** Requests answered 200, and the events in them (a retried request counts again). */
  ok: number;
  okEvents: number;
  unavailable: number;
  hung: number;
  /** Requests whose body was not a JSON array of events with ids (never expected). */
  malformed: number;
}

export class FlappingReceiver {
  mode: ReceiverMode = 'ok';
  readonly stats: ReceiverStats = { requests: 0, ok: 0, okEvents: 0, unavailable: 0, hung: 0, malformed: 0 };
  /** Event id → how many 200 answers carried it. */
  readonly acked = new Map<string, number>();
  /**
   * Bytes of each distinct acknowledged request body, keyed by its first event id: a retry
   * resends the same body, so this sums what the daemon should count in output_bytes_total.
   */
  private readonly ackedBodies = new Map<string, number>();
  private readonly hanging = new Set<ServerResponse>();
  private readonly server: Server;
  url = '';

  constructor() {
    this.server = createServer((req, res) => this.onRequest(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${port}/hook`;
    return this.url;
  }

  /** Sum of the distinct acknowledged bodies' sizes. */
  ackedBytes(): number {
    let sum = 0;
    for (const n of this.ackedBodies.values()) sum += n;
    return sum;
  }

  /** Events acknowledged by more than one 200 (the daemon retried a request that had arrived). */
  duplicateAcks(): number {
    let n = 0;
    for (const count of this.acked.values()) if (count > 1) n += count - 1;
    return n;
  }

  /** Requests held open right now by the `hang` mode. */
  get hangingNow(): number {
    return this.hanging.size;
  }

  /** Closes idle keep-alive connections so the daemon's pooled sockets go away (fd baseline). */
  closeIdle(): void {
    this.server.closeIdleConnections();
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => this.answer(Buffer.concat(chunks), res));
    // A client that gives up mid-body leaves nothing to answer.
    req.on('error', () => {});
  }

  /**
   * Requests the receiver acknowledged and then got again: the daemon did not see that 200
   * (its attempt timed out first), so it retried. Event count per body, by first event id.
   */
  readonly ackLost = new Map<string, { events: number; bytes: number }>();

  /** Events of ackLost: received and acknowledged, though the daemon may count them failed. */
  ackLostEvents(): number {
    let n = 0;
    for (const body of this.ackLost.values()) n += body.events;
    return n;
  }

  /** Bytes of the ackLost bodies (the daemon counts them in output_bytes_total only if a retry's 200 reached it). */
  ackLostBytes(): number {
    let n = 0;
    for (const body of this.ackLost.values()) n += body.bytes;
    return n;
  }

  /** The mode is read when the whole body has arrived: that is when the answer is decided. */
  private answer(body: Buffer, res: ServerResponse): void {
    this.stats.requests++;
    const mode = this.mode;
    const ids = eventIds(body);
    const first = ids?.[0];
    if (ids && first !== undefined && this.ackedBodies.has(first))
      this.ackLost.set(first, { events: ids.length, bytes: body.length });
    if (mode === 'hang') {
      this.stats.hung++;
      this.hanging.add(res);
      // The daemon's attempt timeout aborts the request and closes the socket.
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    if (mode === 'unavailable') {
      this.stats.unavailable++;
      res.writeHead(503, { 'content-type': 'text/plain' }).end('flapping\n');
      return;
    }
    if (ids === null) {
      this.stats.malformed++;
      res.writeHead(400).end('not a JSON array of events\n');
      return;
    }
    // Acknowledged only once the answer is handed to a live connection: a 200 written after
    // the daemon gave up on the attempt (its socket is gone) never reached it.
    res.once('finish', () => {
      this.stats.ok++;
      this.stats.okEvents += ids.length;
      for (const id of ids) this.acked.set(id, (this.acked.get(id) ?? 0) + 1);
      if (ids[0] !== undefined && !this.ackedBodies.has(ids[0])) this.ackedBodies.set(ids[0], body.length);
    });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
  }
}

/** The ids of a webhook body (one event, or a JSON array of them with `batch`); null when malformed. */
function eventIds(body: Buffer): string[] | null {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  const events = Array.isArray(value) ? value : [value];
  const ids: string[] = [];
  for (const e of events) {
    const id = (e as { id?: unknown } | null)?.id;
    if (typeof id !== 'string') return null;
    ids.push(id);
  }
  return ids;
}
