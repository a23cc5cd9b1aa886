import { createServer } from 'node:http';

/**
 * The ceiling for ingest benches: a bare node:http server that reads the body and
 * answers 202, nothing else. Run as its own process, like the daemon is.
 */
const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    Buffer.concat(chunks);
    res.writeHead(202, { 'content-type': 'application/json', 'content-length': 14 });
    res.end('{"accepted":1}');
  });
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr && typeof addr === 'object') process.stdout.write(`LISTEN ${addr.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
