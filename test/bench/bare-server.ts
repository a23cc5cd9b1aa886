import { createServer } from 'node:http';

/**
 * A bare node:http server that reads the body and answers with the status given as the
 * first argument (default 202), nothing else: the ceiling for the ingest benches, the
 * receiver of the webhook bench, and (503) the failing receiver of the overload bench.
 * Run as its own process, like the daemon is.
 */
const status = Number(process.argv[2] ?? 202);
const body = status < 300 ? '{"accepted":1}' : '{"error":"unavailable"}';
const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    Buffer.concat(chunks);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr && typeof addr === 'object') process.stdout.write(`LISTEN ${addr.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
