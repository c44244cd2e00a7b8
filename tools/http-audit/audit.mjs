// The graphql-http audit suite (GraphQL over HTTP conformance) against a running server.
// Every request carries a real session token, started here from an identity token, so
// the cases that query the schema run as a signed-in client would. Prints every result
// and fails unless every MUST and every SHOULD passes.
//
//   AUDIT_URL=http://127.0.0.1:8080/graphql AUDIT_IDENTITY_TOKEN=… node audit.mjs
import { auditServer } from "graphql-http";

const url = process.env.AUDIT_URL;
const identityToken = process.env.AUDIT_IDENTITY_TOKEN;
if (!url || !identityToken) {
  console.error("set AUDIT_URL and AUDIT_IDENTITY_TOKEN");
  process.exit(2);
}

const started = await fetch(url, {
  method: "POST",
  headers: { "content-type": "application/json", authorization: `Bearer ${identityToken}` },
  body: JSON.stringify({
    query: "mutation Start { startSession(input: {}) { token } }",
  }),
});
const startBody = await started.json();
const sessionToken = startBody?.data?.startSession?.token;
if (!sessionToken) {
  console.error("could not start a session:", JSON.stringify(startBody));
  process.exit(1);
}

/** `fetch` with the session token, unless the case set its own Authorization. */
function signedIn(input, init = {}) {
  const headers = new Headers(init.headers);
  if (!headers.has("authorization")) headers.set("authorization", `Bearer ${sessionToken}`);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: signedIn });
// `notice` marks a MAY the server chose not to do.
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] += 1;
  const line = `${result.status.padEnd(5)} ${result.id} ${result.name}`;
  if (result.status === "ok") {
    console.log(line);
  } else {
    console.log(`${line}\n      ${result.reason}`);
    if (result.response) {
      const body = await result.response.text().catch(() => "(body already read)");
      console.log(`      ${result.response.status} ${result.response.headers.get("content-type")} ${body.slice(0, 300)}`);
    }
  }
}
console.log(
  `graphql-http audit: ${counts.ok} passed, ${counts.notice} MAY notices, ${counts.warn} SHOULD warnings, ${counts.error} MUST errors`,
);
process.exit(counts.warn + counts.error === 0 ? 0 : 1);
