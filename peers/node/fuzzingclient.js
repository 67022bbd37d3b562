#!/usr/bin/env node
// An Autobahn-style client driver built on Node `ws`: for a fuzzingserver (Autobahn's
// `wstest -m fuzzingserver`, or `wsprobe serve`) it fetches the case count, runs every
// case echoing each message back, and asks for the reports.
//
//     fuzzingclient.js BASE_URL [--agent NAME] [--cases N]
//
// Exit status: 0 when the driver ran to its end; 1 when the server could not be reached.
'use strict';

const WebSocket = require('ws');
const { version } = require('ws/package.json');

function open(url, onMessage) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { maxPayload: 256 * 1024 * 1024 });
    let first = null;
    ws.on('message', (data, isBinary) => {
      if (onMessage) onMessage(ws, data, isBinary);
      else if (first === null) first = data.toString();
    });
    ws.on('close', () => resolve({ ok: true, first }));
    ws.on('error', (e) => resolve({ ok: false, error: e, first }));
  });
}

async function main() {
  const args = process.argv.slice(2);
  const base = (args[0] || '').replace(/\/$/, '');
  const flag = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
  };
  const agent = flag('--agent', `node-ws-${version}`);
  const limit = Number(flag('--cases', '0'));
  const count = await open(`${base}/getCaseCount`);
  if (!count.ok || count.first === null) {
    console.error(`fuzzingclient: ${count.error || 'no case count'}`);
    process.exit(1);
  }
  let n = Number(count.first);
  if (limit > 0) n = Math.min(n, limit);
  for (let i = 1; i <= n; i++) {
    await open(`${base}/runCase?case=${i}&agent=${encodeURIComponent(agent)}`, (ws, data, isBinary) => {
      ws.send(data, { binary: isBinary });
    });
  }
  await open(`${base}/updateReports?agent=${encodeURIComponent(agent)}`);
}

main();
