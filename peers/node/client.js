#!/usr/bin/env node
// Scripted WebSocket client built on Node `ws` (pinned in package.json).
//
//   node client.js URL [STEP ...] [--script FILE|-] [--no-compression | --deflate]
//                  [--deflate-threshold BYTES] [--close-code N] [--close-reason TEXT]
//                  [--no-wait] [--timeout SECONDS] [--inline-max BYTES]
//
// Same step syntax and JSON-lines output as peers/python/client.py (see peers/README.md).
// permessage-deflate is offered by default (as ws does), with threshold 0 so that every
// message is compressed once it is negotiated, even under client_no_context_takeover
// (where ws' own default would leave messages under 1024 bytes uncompressed).
// Exit status: 0 when the script ran and the connection closed cleanly enough to see the
// peer's close frame; 1 on connection error, timeout or unexpected close; 2 on usage error.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const WebSocket = require('ws');
const wsVersion = require('ws/package.json').version;

const PEER = `node-ws/${wsVersion}`;
const TEXT_PATTERN = 'abcdefghijklmnopqrstuvwxyz0123456789';

class UsageError extends Error {}

function parseCompact(arg) {
  if (arg.startsWith('{')) return JSON.parse(arg);
  const colon = arg.indexOf(':');
  let kind = colon < 0 ? arg : arg.slice(0, colon);
  const rest = colon < 0 ? '' : arg.slice(colon + 1);
  if (colon < 0 && arg.includes('@')) {
    const at = arg.indexOf('@');
    return { type: arg.slice(0, at), size: parseInt(arg.slice(at + 1), 10) };
  }
  if (kind === 'text') return { type: 'text', data: rest };
  if (kind === 'binary') return { type: 'binary', hex: rest };
  if (kind === 'ping') return { type: 'ping', data: rest };
  if (kind === 'close') {
    const step = { type: 'close' };
    if (rest) {
      const c2 = rest.indexOf(':');
      step.code = parseInt(c2 < 0 ? rest : rest.slice(0, c2), 10);
      step.reason = c2 < 0 ? '' : rest.slice(c2 + 1);
    }
    return step;
  }
  if (kind === 'sleep') return { type: 'sleep', ms: parseInt(rest || '0', 10) };
  throw new UsageError(`cannot parse step '${arg}'`);
}

function payloadOf(step) {
  if (step.size !== undefined) {
    const n = Number(step.size);
    if (step.type === 'binary') {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = i % 256;
      return b;
    }
    return Buffer.from(TEXT_PATTERN.repeat(Math.floor(n / TEXT_PATTERN.length) + 1).slice(0, n));
  }
  if (step.hex !== undefined) {
    if (!/^([0-9a-fA-F]{2})*$/.test(step.hex)) throw new UsageError(`bad hex '${step.hex}'`);
    return Buffer.from(step.hex, 'hex');
  }
  if (step.base64 !== undefined) return Buffer.from(step.base64, 'base64');
  return Buffer.from(String(step.data === undefined ? '' : step.data), 'utf8');
}

// Same cuts as client.py: ceil(len/parts) bytes each, moved back to a UTF-8 character
// boundary for text so every fragment is valid UTF-8 on its own.
function splitUtf8(data, parts, isText) {
  const size = Math.max(1, Math.ceil(data.length / parts));
  const out = [];
  let pos = 0;
  for (let k = 0; k < parts - 1; k++) {
    let end = Math.min(data.length, pos + size);
    if (isText) {
      while (end < data.length && end > pos && (data[end] & 0xc0) === 0x80) end--;
    }
    out.push(data.subarray(pos, end));
    pos = end;
  }
  out.push(data.subarray(pos));
  return out;
}

function normalise(steps) {
  steps.forEach((step, i) => {
    if (!step || typeof step !== 'object' || !step.type) {
      throw new UsageError(`step ${i} is not an object with a 'type': ${JSON.stringify(step)}`);
    }
    if (!['text', 'binary', 'ping', 'close', 'sleep'].includes(step.type)) {
      throw new UsageError(`step ${i}: unknown type '${step.type}'`);
    }
    if (step.type === 'close' && i !== steps.length - 1) throw new UsageError('a close step must be the last step');
    if (step.type === 'text') new TextDecoder('utf-8', { fatal: true }).decode(payloadOf(step));
    if (step.type === 'ping' && payloadOf(step).length > 125) {
      throw new UsageError(`step ${i}: a ping payload is at most 125 bytes`);
    }
  });
  return steps;
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function describe(kind, data, inlineMax) {
  const d = { type: kind, len: data.length, sha256: crypto.createHash('sha256').update(data).digest('hex') };
  if (data.length <= inlineMax) {
    if (kind === 'text') d.data = data.toString('utf8');
    else d.hex = data.toString('hex');
  }
  return d;
}

function usage(msg) {
  if (msg) process.stderr.write(`client.js: ${msg}\n`);
  process.stderr.write(
    'usage: node client.js URL [STEP ...] [--script FILE|-] [--no-compression | --deflate]\n' +
      '       [--deflate-threshold BYTES] [--close-code N] [--close-reason TEXT] [--no-wait]\n' +
      '       [--timeout SECONDS] [--inline-max BYTES]\n'
  );
  process.exit(2);
}

function parseArgs(argv) {
  const a = {
    url: null, steps: [], script: null, compression: true, threshold: 0,
    closeCode: 1000, closeReason: '', noWait: false, timeout: 10, inlineMax: 4096,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--script') a.script = value();
    else if (arg === '--no-compression') a.compression = false;
    else if (arg === '--deflate' || arg === '--compression') a.compression = true;
    else if (arg === '--deflate-threshold') a.threshold = Number(value());
    else if (arg === '--close-code') a.closeCode = Number(value());
    else if (arg === '--close-reason') a.closeReason = value();
    else if (arg === '--no-wait') a.noWait = true;
    else if (arg === '--timeout') a.timeout = Number(value());
    else if (arg === '--inline-max') a.inlineMax = Number(value());
    else if (arg === '-h' || arg === '--help') usage();
    else if (arg.startsWith('--')) usage(`unknown option ${arg}`);
    else if (a.url === null) a.url = arg;
    else a.steps.push(arg);
  }
  if (!a.url) usage('URL is required');
  return a;
}

async function run(args, steps) {
  const timeoutMs = args.timeout * 1000;
  let closeCode = args.closeCode;
  let closeReason = args.closeReason;
  if (steps.length && steps[steps.length - 1].type === 'close') {
    const last = steps.pop();
    if (last.code !== undefined) closeCode = Number(last.code);
    if (last.reason !== undefined) closeReason = String(last.reason);
  }

  const ws = new WebSocket(args.url, {
    perMessageDeflate: args.compression ? { threshold: args.threshold } : false,
    maxPayload: 0,
    handshakeTimeout: timeoutMs,
  });

  const sent = [];
  const recv = [];
  let waiters = [];
  let closed = null; // {code, reason} once the connection is closed
  let extensions = null;
  const wake = () => {
    const w = waiters;
    waiters = [];
    w.forEach((f) => f());
  };
  const waitFor = (pred, what) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${args.timeout}s waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (pred()) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      check();
    });

  ws.on('upgrade', (res) => {
    extensions = res.headers['sec-websocket-extensions'] || null;
  });
  let pongs = [];
  ws.on('pong', (data) => {
    pongs.push(Buffer.from(data));
    wake();
  });
  ws.on('message', (data, isBinary) => {
    const buf = Buffer.isBuffer(data) ? data : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]);
    const d = { event: 'recv', index: recv.length, ...describe(isBinary ? 'binary' : 'text', buf, args.inlineMax) };
    recv.push([d.type, d.sha256]);
    emit(d);
    wake();
  });
  let lastError = null;
  ws.on('error', (err) => {
    lastError = err;
    wake();
  });
  ws.on('close', (code, reason) => {
    closed = { code, reason: reason.toString('utf8') };
    wake();
  });

  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('close', () => reject(lastError || new Error('connection closed during handshake')));
  });
  emit({ event: 'open', peer: PEER, url: args.url, extensions, subprotocol: ws.protocol || null });

  let ok = true;
  try {
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      if (closed) throw new Error('connection closed by peer');
      if (step.type === 'sleep') {
        await new Promise((r) => setTimeout(r, Number(step.ms || 0)));
        continue;
      }
      const data = payloadOf(step);
      if (step.type === 'ping') {
        const t0 = process.hrtime.bigint();
        pongs = [];
        ws.ping(data);
        emit({ event: 'sent', step: i, ...describe('ping', data, 125) });
        await waitFor(() => pongs.some((p) => p.equals(data)) || closed, 'a pong');
        if (closed) throw new Error('connection closed while waiting for a pong');
        const rtt = Number(process.hrtime.bigint() - t0) / 1e6;
        emit({ event: 'recv', ...describe('pong', data, 125), rtt_ms: Math.round(rtt * 1000) / 1000 });
        continue;
      }
      const frames = Math.max(1, Number(step.fragments || 1));
      const isBinary = step.type === 'binary';
      const chunks = frames === 1 ? [data] : splitUtf8(data, frames, !isBinary);
      await new Promise((resolve, reject) => {
        chunks.forEach((c, k) => {
          const fin = k === chunks.length - 1;
          ws.send(c, { binary: isBinary, fin }, fin ? (err) => (err ? reject(err) : resolve()) : undefined);
        });
      });
      const d = describe(step.type, data, args.inlineMax);
      emit({ event: 'sent', step: i, ...d, frames });
      sent.push([step.type, d.sha256]);
      if (!args.noWait) {
        await waitFor(() => recv.length >= sent.length || closed, 'a reply');
        if (recv.length < sent.length) throw new Error('connection closed while waiting for a reply');
      }
    }
  } catch (err) {
    emit({ event: 'error', message: err.message });
    ok = false;
  }

  if (!closed && ws.readyState === WebSocket.OPEN) {
    emit({ event: 'sent', type: 'close', code: closeCode, reason: closeReason });
    ws.close(closeCode, closeReason);
  }
  try {
    await waitFor(() => closed, 'the close handshake');
  } catch (err) {
    emit({ event: 'error', message: err.message });
    ws.terminate();
    ok = false;
  }
  // ws reports 1006 when no close frame arrived; 1005 when one arrived without a code.
  const gotClose = closed && closed.code !== 1006;
  emit({ event: 'recv', type: 'close', code: gotClose ? closed.code : null, reason: gotClose ? closed.reason : null });
  if (!gotClose) ok = false;
  const echoMatch = JSON.stringify(sent) === JSON.stringify(recv);
  emit({
    event: 'done', ok, sent: sent.length, received: recv.length, echo_match: echoMatch,
    close_code: gotClose ? closed.code : null,
  });
  return ok ? 0 : 1;
}

async function main() {
  // A reader that goes away (`| head`) ends us quietly, like any filter.
  process.stdout.on('error', (err) => process.exit(err.code === 'EPIPE' ? 0 : 1));
  const args = parseArgs(process.argv.slice(2));
  let steps = [];
  try {
    if (args.script) {
      const src = fs.readFileSync(args.script === '-' ? 0 : args.script, 'utf8');
      const loaded = JSON.parse(src);
      steps = steps.concat(Array.isArray(loaded) ? loaded : loaded.steps);
    }
    steps = normalise(steps.concat(args.steps.map(parseCompact)));
  } catch (err) {
    process.stderr.write(`client.js: ${err.message}\n`);
    process.exit(2);
  }
  let code;
  try {
    code = await run(args, steps);
  } catch (err) {
    emit({ event: 'error', message: `${err.code || err.name}: ${err.message}` });
    code = 1;
  }
  process.exitCode = code;
  // Let stdout drain, then leave even if a socket lingers.
  setTimeout(() => process.exit(code), 50).unref();
}

main();
