// What the live measurements share: minting identity tokens as the product's login would
// (with SESSIONHUB_IDENTITY_SECRET, which the servers must share), and GraphQL over HTTP.
import crypto from 'node:crypto';

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

export function identity(user) {
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ sub: user, amr: ['pwd'], exp: Math.floor(Date.now() / 1000) + 300 });
  const sig = crypto
    .createHmac('sha256', process.env.SESSIONHUB_IDENTITY_SECRET)
    .update(`${head}.${body}`)
    .digest('base64url');
  return `${head}.${body}.${sig}`;
}

export async function graphql(base, token, query, variables = {}) {
  const r = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: r.status, body: await r.json() };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
