// HTTP/2 (TLS, ALPN h2 only) loopback server for the http spec, on Node's built-in http2 module.
// Usage: node h2server.js CERT_DIR   (CERT_DIR holds server.pem and server.key, e.g. from
// testserver.py --tls). Prints {"port": N, "pid": P}; GET /h2 answers JSON with the HTTP version,
// the number of TLS sessions (connections) seen so far and the stream id. Exits when stdin closes
// or the parent goes away.
'use strict';
const http2 = require('http2');
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
const server = http2.createSecureServer({
  key: fs.readFileSync(path.join(dir, 'server.key')),
  cert: fs.readFileSync(path.join(dir, 'server.pem')),
  allowHTTP1: false,
});
let sessions = 0;
server.on('session', () => { sessions += 1; });
server.on('stream', (stream, headers) => {
  const delay = Number((headers[':path'].match(/ms=(\d+)/) || [])[1] || 0);
  setTimeout(() => {
    const body = JSON.stringify({ version: '2', sessions, stream: stream.id, path: headers[':path'] });
    stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-dup': ['a', 'b'] });
    stream.end(body);
  }, delay);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port, pid: process.pid }) + '\n');
});
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500).unref();
process.on('SIGTERM', () => process.exit(0));
