#!/usr/bin/env node
// Echo server built on Node `ws` (pinned in package.json / package-lock.json).
//
//   node echo_server.js [--port PORT] [--host HOST] [--deflate | --no-compression]
//                       [--deflate-threshold BYTES] [--max-fragments N] [--verbose]
//                       [--tls-cert PEM --tls-key PEM [--keylog FILE]]
//
// Contract (shared with peers/python/echo_server.py, see peers/README.md):
//  * binds a loopback address only (default 127.0.0.1; --port 0 picks a free port);
//  * prints exactly one line `LISTENING <port>` to stdout once it accepts connections,
//    and nothing else on stdout;
//  * echoes every message back as it came (text as text, binary as binary);
//  * no size limit (maxPayload: 0); permessage-deflate OFF unless --deflate (ws' own
//    server default is off); --deflate accepts it with ws' default parameters.
//    (ws' `threshold`, 1024 by default, set with --deflate-threshold, only matters
//    when server_no_context_takeover was negotiated: otherwise ws compresses every
//    message, however small);
//  * ws 8.23's own fragment limits stay at their defaults (maxFragments 16384 frames per
//    message, closed with 1008): --max-fragments N changes it, 0 = no limit;
//  * handles `error` on every socket, so a peer that breaks the protocol gets its close
//    frame (1002/1007/...) and the process lives on;
//  * exits 0 on SIGTERM or SIGINT; diagnostics go to stderr only;
//  * --tls-cert/--tls-key: wss:// on an https server with Node's TLS defaults; --keylog
//    FILE appends the session secrets in NSS key log format (the 'keylog' event).
'use strict';

const fs = require('fs');
const https = require('https');
const net = require('net');
const { WebSocketServer } = require('ws');
const wsVersion = require('ws/package.json').version;

function usage(msg) {
  if (msg) process.stderr.write(`echo_server.js: ${msg}\n`);
  process.stderr.write(
    'usage: node echo_server.js [--port PORT] [--host HOST] [--deflate | --no-compression]\n' +
      '                           [--deflate-threshold BYTES] [--max-fragments N] [--verbose]\n' +
      '                           [--tls-cert PEM --tls-key PEM [--keylog FILE]]\n'
  );
  process.exit(2);
}

function isLoopback(host) {
  if (host === 'localhost' || host === '::1') return true;
  return net.isIPv4(host) && host.startsWith('127.');
}

function parseArgs(argv) {
  const opts = {
    port: 0,
    host: '127.0.0.1',
    deflate: false,
    threshold: null,
    maxFragments: null,
    verbose: false,
    tlsCert: null,
    tlsKey: null,
    keylog: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--port') opts.port = Number(value());
    else if (a === '--host') opts.host = value();
    else if (a === '--deflate' || a === '--compression') opts.deflate = true;
    else if (a === '--no-compression' || a === '--no-deflate') opts.deflate = false;
    else if (a === '--deflate-threshold') opts.threshold = Number(value());
    else if (a === '--max-fragments') opts.maxFragments = Number(value());
    else if (a === '--verbose') opts.verbose = true;
    else if (a === '--tls-cert') opts.tlsCert = value();
    else if (a === '--tls-key') opts.tlsKey = value();
    else if (a === '--keylog') opts.keylog = value();
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('--port must be in 0..65535');
  if (!isLoopback(opts.host)) usage(`--host '${opts.host}' is not a loopback address; this server binds loopback only`);
  if (opts.threshold !== null && !(Number.isInteger(opts.threshold) && opts.threshold >= 0)) {
    usage('--deflate-threshold must be a non-negative integer');
  }
  if (opts.maxFragments !== null && !(Number.isInteger(opts.maxFragments) && opts.maxFragments >= 0)) {
    usage('--max-fragments must be a non-negative integer');
  }
  if (!opts.tlsCert !== !opts.tlsKey) usage('--tls-cert and --tls-key go together');
  if (opts.keylog && !opts.tlsCert) usage('--keylog needs --tls-cert');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const log = (msg) => {
  if (opts.verbose) process.stderr.write(`echo_server.js: ${msg}\n`);
};

let perMessageDeflate = false;
if (opts.deflate) {
  perMessageDeflate = opts.threshold === null ? true : { threshold: opts.threshold };
}

const serverOptions = {
  perMessageDeflate,
  maxPayload: 0, // no limit, like the python peer's max_size=None
};
if (opts.maxFragments !== null) serverOptions.maxFragments = opts.maxFragments;
let tlsServer = null;
if (opts.tlsCert) {
  // A request that is not an upgrade gets what ws' own server gives it: 426.
  tlsServer = https.createServer({ cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) }, (req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain' });
    res.end('Upgrade Required');
  });
  if (opts.keylog) tlsServer.on('keylog', (line) => fs.appendFileSync(opts.keylog, line));
  serverOptions.server = tlsServer;
} else {
  serverOptions.host = opts.host;
  serverOptions.port = opts.port;
}
const wss = new WebSocketServer(serverOptions);

wss.on('error', (err) => {
  process.stderr.write(`echo_server.js: server error: ${err.message}\n`);
  process.exit(1);
});

// A bad HTTP upgrade: ws answers 400 itself when nobody listens; keep the default
// answer but make sure nothing throws.
wss.on('wsClientError', (err, socket) => {
  log(`bad handshake: ${err.message}`);
  if (socket.writable) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  }
  socket.destroy();
});

wss.on('connection', (ws, req) => {
  const peer = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
  log(`open ${peer} extensions=${JSON.stringify(ws.extensions)}`);
  // Without this listener a protocol error on one connection (bad opcode, bad UTF-8,
  // unmasked frame, ...) is an unhandled 'error' event and kills the whole process.
  ws.on('error', (err) => log(`error ${peer}: ${err.code || ''} ${err.message}`));
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary }, (err) => {
      if (err) log(`send failed ${peer}: ${err.message}`);
    });
  });
  ws.on('close', (code, reason) => log(`close ${peer} code=${code} reason=${JSON.stringify(reason.toString())}`));
});

function listening() {
  const { port } = wss.address();
  process.stdout.write(`LISTENING ${port}\n`);
  log(`ws ${wsVersion} on ${opts.host}:${port}, perMessageDeflate=${JSON.stringify(perMessageDeflate)}`);
}
if (tlsServer) {
  tlsServer.on('error', (err) => {
    process.stderr.write(`echo_server.js: server error: ${err.message}\n`);
    process.exit(1);
  });
  tlsServer.on('tlsClientError', (err) => log(`TLS error: ${err.message}`));
  tlsServer.listen(opts.port, opts.host, listening);
} else {
  wss.on('listening', listening);
}

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: closing`);
  for (const client of wss.clients) client.close(1001, 'server shutting down');
  // Give clients a moment for the closing handshake, then go regardless.
  setTimeout(() => {
    for (const client of wss.clients) client.terminate();
    process.exit(0);
  }, 2000).unref();
  wss.close(() => (tlsServer ? tlsServer.close(() => process.exit(0)) : process.exit(0)));
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
