// Stops the local PostgreSQL for 15 s under load against two instances on it, and reports
// what clients saw. See docs/performance.md:
//   node outage.mjs <base-url-a> <base-url-b>
// Needs root (it runs pg_ctlcluster) and SESSIONHUB_IDENTITY_SECRET shared with the servers.
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import WebSocket from 'ws';
import { graphql as gql, identity, sleep } from './client.mjs';

const [a, b] = process.argv.slice(2);
const cluster = fs.readdirSync('/etc/postgresql')[0];
async function signIn(base, user) {
  const r = await gql(base, identity(user), 'mutation { startSession(input: {}) { token session { id } } }');
  return r.body.data.startSession;
}

// The session that will be revoked right after PostgreSQL is back, watched on B.
const laptop = await signIn(a, 'outage-user');
const phone = await signIn(b, 'outage-user');
const pushed = [];
const ws = new WebSocket(b.replace('http', 'ws') + '/graphql/ws', 'graphql-transport-ws');
let closedWith = null;
await new Promise((resolve) => {
  ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { token: phone.token } })));
  ws.on('message', (m) => {
    const message = JSON.parse(m);
    if (message.type === 'connection_ack') {
      ws.send(JSON.stringify({ id: 'bye', type: 'subscribe', payload: { query: 'subscription { signedOut { reason } }' } }));
      resolve();
    } else if (message.type === 'next') {
      pushed.push({ at: Date.now(), data: message.payload.data });
    }
  });
  ws.on('close', (code) => (closedWith = code));
});

// Load: 20 clients, each with its own session, alternating between the instances.
const clients = [];
for (let i = 0; i < 20; i++) clients.push((await signIn(i % 2 ? b : a, `outage-load-${i}`)).token);
const samples = [];
let running = true;
const load = clients.map(async (token, i) => {
  while (running) {
    const base = i % 2 ? b : a;
    const started = Date.now();
    let code = 'OK';
    try {
      const r = await gql(base, token, '{ currentSession { id } }');
      code = r.body.errors ? r.body.errors[0].extensions.code : 'OK';
    } catch {
      code = 'NETWORK';
    }
    samples.push({ base, started, ms: Date.now() - started, code });
    await sleep(20);
  }
});
const readiness = [];
const probe = (async () => {
  while (running) {
    for (const base of [a, b]) {
      const r = await fetch(`${base}/readyz`).then((r) => r.json()).catch(() => ({ status: 'down' }));
      readiness.push({ base, at: Date.now(), ...r });
    }
    await sleep(200);
  }
})();

await sleep(3000);
const stopped = Date.now();
execSync(`pg_ctlcluster --skip-systemctl-redirect ${cluster} main stop -m fast`);
await sleep(15000);
execSync(`pg_ctlcluster --skip-systemctl-redirect ${cluster} main start`);
const back = Date.now();
// The revoke right after PostgreSQL is back, through A.
let revoke;
for (;;) {
  revoke = await gql(a, laptop.token, 'mutation($id: ID!) { revokeSession(id: $id) { id } }', { id: phone.session.id });
  if (!revoke.body.errors) break;
  await sleep(50);
}
const revoked = Date.now();
await sleep(3000);
running = false;
await Promise.all([...load, probe]);
const refusedOn = {};
for (const base of [a, b]) {
  const r = await gql(base, phone.token, '{ currentSession { id } }');
  refusedOn[base] = r.body.errors?.[0]?.extensions?.code ?? 'ACCEPTED';
}

const during = samples.filter((s) => s.started >= stopped && s.started < back);
const codes = {};
for (const s of during) codes[s.code] = (codes[s.code] || 0) + 1;
const firstOkAfter = (base) => {
  const ok = samples.filter((s) => s.base === base && s.started >= back && s.code === 'OK');
  return ok.length ? Math.min(...ok.map((s) => s.started + s.ms)) - back : null;
};
const reasons = [...new Set(readiness.filter((r) => r.at >= stopped && r.at < back).flatMap((r) => r.reasons ?? []))];
console.log(JSON.stringify({
  requestsDuringOutage: during.length,
  slowestDuringOutageMs: Math.max(...during.map((s) => s.ms)),
  codesDuringOutage: codes,
  readyzReasonsDuringOutage: reasons,
  servingAgainMsAfterStart: { a: firstOkAfter(a), b: firstOkAfter(b) },
  revokeAcceptedMsAfterStart: revoked - back,
  signedOutOnBMsAfterRevoke: pushed.length ? pushed[0].at - revoked : null,
  phoneSocketClosedWith: closedWith,
  phoneTokenAfterwards: refusedOn,
}));
process.exit(0);
