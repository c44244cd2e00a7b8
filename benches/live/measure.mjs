// Measures websocket admission, per-account fan-out and shutdown against a running
// server, with the npm `ws` client. See docs/performance.md for how to run each scenario:
//   node measure.mjs <cap|rate|burst|sigterm> <base-url> <server-pid>
// The server must share SESSIONHUB_IDENTITY_SECRET with this script, which mints
// identity tokens as the product's login would.
import fs from 'node:fs';
import WebSocket from 'ws';
import { graphql, identity, sleep } from './client.mjs';

const [scenario, base, pid] = process.argv.slice(2);
const gql = (token, query, variables) => graphql(base, token, query, variables);
async function signIn(user) {
  const r = await gql(identity(user), 'mutation { startSession(input: {}) { token } }');
  if (!r.body.data) throw new Error(JSON.stringify(r.body));
  return r.body.data.startSession.token;
}
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
function open(token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(base.replace('http', 'ws') + '/graphql/ws', 'graphql-transport-ws');
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } })));
    ws.once('message', (m) => (JSON.parse(m).type === 'connection_ack' ? resolve(ws) : reject(new Error(String(m)))));
    ws.on('error', reject);
  });
}

if (scenario === 'cap') {
  const token = await signIn('cap-user');
  const ws = await open(token);
  const before = rss();
  const counts = {};
  ws.on('message', (m) => {
    const msg = JSON.parse(m);
    const key = msg.type === 'error' ? `error ${msg.payload[0].extensions.code}` : msg.type;
    counts[key] = (counts[key] || 0) + 1;
  });
  let closed = null;
  ws.on('close', (code) => (closed = code));
  for (let i = 0; i < 10000; i++) {
    ws.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: 'subscription { sessionStarted { id } }' } }));
  }
  while ((counts['error TOO_MANY_SUBSCRIPTIONS'] || 0) < 9950 && closed === null) await sleep(20);
  const during = rss();
  await signIn('cap-user'); // one event fans out to the 50 live subscriptions
  await sleep(500);
  const afterEvent = rss();
  ws.close(1000);
  await sleep(500);
  console.log(JSON.stringify({ counts, closed, rssKiB: { before, during, afterEvent, afterClose: rss() } }));
} else if (scenario === 'rate') {
  // Each transport gets its own session and 2,000 queries, at most 20 in flight.
  const wsToken = await signIn('rate-ws');
  const httpToken = await signIn('rate-http');
  const ws = await open(wsToken);
  const counts = {};
  let closed = null;
  let inFlight = 0;
  ws.on('message', (m) => {
    const msg = JSON.parse(m);
    if (msg.type === 'ping') return;
    const key = msg.type === 'error' ? `error ${msg.payload[0].extensions.code}` : msg.type;
    counts[key] = (counts[key] || 0) + 1;
    if (msg.type === 'complete' || msg.type === 'error') inFlight--;
  });
  ws.on('close', (code) => (closed = code));
  let sent = 0;
  const t0 = Date.now();
  while (sent < 2000 && closed === null && Date.now() - t0 < 30000) {
    if (inFlight < 20) {
      ws.send(JSON.stringify({ id: `q${sent}`, type: 'subscribe', payload: { query: '{ currentSession { id } }' } }));
      sent++; inFlight++;
    } else await sleep(1);
  }
  while (closed === null && inFlight > 0 && Date.now() - t0 < 30000) await sleep(10);
  const http = {};
  await Promise.all(Array.from({ length: 20 }, async (_, worker) => {
    for (let i = worker; i < 2000; i += 20) {
      const r = await gql(httpToken, '{ currentSession { id } }');
      http[r.status] = (http[r.status] || 0) + 1;
    }
  }));
  console.log(JSON.stringify({ websocket: { sent, counts, closed }, http }));
} else if (scenario === 'sigterm') {
  const sockets = [];
  for (let u = 0; u < 100; u++) {
    for (let s = 0; s < 10; s++) sockets.push(await signIn(`term-${u}`));
  }
  const opened = await Promise.all(sockets.map(open));
  const codes = {};
  const done = Promise.all(opened.map((ws, i) => new Promise((resolve) => {
    ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { sessionRevoked { reason } }' } }));
    ws.on('close', (code) => { codes[code] = (codes[code] || 0) + 1; resolve(); });
  })));
  await sleep(1000);
  const t0 = Date.now();
  process.kill(Number(pid), 'SIGTERM');
  await done;
  const allClosed = Date.now() - t0;
  while (fs.existsSync(`/proc/${pid}`) && Date.now() - t0 < 10000) {
    const state = /State:\s+(\S)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1];
    if (state === 'Z') break;
    await sleep(5);
  }
  console.log(JSON.stringify({ sockets: opened.length, closeCodes: codes, msToAllClosed: allClosed, msToExit: Date.now() - t0 }));
}
if (scenario === 'burst') {
  const x = await signIn('burst-x');
  const yTokens = [await signIn('burst-y')];
  const xs = await open(x);
  const ys = await open(yTokens[0]);
  const seen = { x: {}, y: {} };
  const closed = {};
  for (const [name, ws] of [['x', xs], ['y', ys]]) {
    ws.on('message', (m) => { const { type, id } = JSON.parse(m); if (type !== 'ping') { const k = id ? `${type} ${id}` : type; seen[name][k] = (seen[name][k] || 0) + 1; } });
    ws.on('close', (code) => (closed[name] = code));
    for (const f of ['sessionStarted { id }', 'sessionRevoked { reason }']) {
      ws.send(JSON.stringify({ id: f.split(' ')[0], type: 'subscribe', payload: { query: `subscription { ${f} }` } }));
    }
  }
  await sleep(300);
  const t0 = Date.now();
  for (let i = 0; i < 999; i++) yTokens.push(await signIn('burst-y'));
  const r = await gql(yTokens[0], 'mutation { revokeAllSessions { revokedCount } }');
  const elapsed = Date.now() - t0;
  await sleep(2000);
  const xAlive = xs.readyState === WebSocket.OPEN;
  await signIn('burst-x');
  await sleep(500);
  console.log(JSON.stringify({ yEventsIn: elapsed, revoked: r.body.data.revokeAllSessions.revokedCount, xAlive, seen, closed }));
}
process.exit(0);
