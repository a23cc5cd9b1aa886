import { openSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';

/**
 * A bare node:http server that reads the body and answers with the status given as the
 * first argument (default 202), nothing else: the ceiling for the ingest benches, the
 * receiver of the webhook bench, and (503) the failing receiver of the overload bench.
 * Run as its own process, like the daemon is. With a file as the second argument it also
 * appends each body and a newline to it before answering (the delivery-latency bench tails it).
 */
const status = Number(process.argv[2] ?? 202);
const record = process.argv[3] !== undefined ? openSync(process.argv[3], 'a') : null;
const body = status < 300 ? '{"accepted":1}' : '{"error":"unavailable"}';
const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const received = Buffer.concat(chunks);
    if (record !== null) writeSync(record, Buffer.concat([received, Buffer.from('\n')]));
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr && typeof addr === 'object') process.stdout.write(`LISTEN ${addr.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
