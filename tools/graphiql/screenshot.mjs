// Drives GraphiQL in headless Chromium against a running server, as a person exploring the
// API would: a query, then a subscription that hears its session revoked elsewhere. Any
// request the page makes to another origin is blocked and fails the run, so this also
// shows that GraphiQL needs nothing but the server. Screenshots go to $OUT (default .).
//
//   SERVER=http://127.0.0.1:8080 IDENTITY_TOKEN=$(cargo run -q -- token --user alice) \
//     node tools/graphiql/screenshot.mjs
import { mkdirSync } from "node:fs";

import { chromium } from "playwright-core";

const server = process.env.SERVER ?? "http://127.0.0.1:8080";
const identity = process.env.IDENTITY_TOKEN;
const out = process.env.OUT ?? ".";
mkdirSync(out, { recursive: true });
if (!identity) {
  console.error("set IDENTITY_TOKEN (cargo run -- token --user alice)");
  process.exit(2);
}

async function graphql(token, query, variables = {}) {
  const response = await fetch(`${server}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

// Two devices of one user: GraphiQL runs as the newer, which the older one revokes (a
// new device may not end an older one's sessions for a day).
const signIn = (device) =>
  graphql(identity, `mutation { startSession(input: { deviceName: "${device}" }) { token session { id } } }`);
const phone = (await signIn("Phone")).startSession;
const explorer = (await signIn("GraphiQL")).startSession;

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true });
const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
const foreign = [];
await page.route("**/*", (route) => {
  if (new URL(route.request().url()).origin === new URL(server).origin) return route.continue();
  foreign.push(route.request().url());
  return route.abort();
});
const problems = [];
// The browser logs every 4xx it receives; those are answers, not the page's own errors.
page.on("console", (message) => {
  if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
    problems.push(message.text());
  }
});
page.on("pageerror", (error) => problems.push(error.message));

try {
await page.goto(`${server}/graphiql`);
const QUERY_EDITOR = ".graphiql-query-editor";
const HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden)";
await page.locator(`${QUERY_EDITOR} .monaco-editor`).waitFor({ timeout: 30_000 });

/** Replaces the whole text of one of GraphiQL's editors. */
async function fill(selector, text) {
  await page.locator(`${selector} .monaco-editor`).click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(text);
}

/** Runs the operation in the query editor, as Ctrl+Enter there does. */
async function execute() {
  // GraphiQL picks the operation to run from the document a moment after it changes.
  await page.waitForTimeout(500);
  await page.locator(`${QUERY_EDITOR} .monaco-editor`).click();
  await page.keyboard.press("Control+Enter");
}

async function run(expected) {
  await execute();
  const response = page.locator(".result-window");
  await response.getByText(expected).first().waitFor({ timeout: 10_000 });
  return response.innerText();
}

// The headers editor is open, with the template that says where the token goes.
const template = await page.locator(HEADERS_EDITOR).innerText();
if (!template.includes("Authorization")) throw new Error(`headers editor shows: ${template}`);
await fill(HEADERS_EDITOR, `{"Authorization": "Bearer ${explorer.token}"}`);

await fill(
  QUERY_EDITOR,
  "query WhereAmISignedIn { sessions { isCurrent device { name type browser { name } } } }",
);
const listed = await run("Phone");
await page.screenshot({ path: `${out}/graphiql-query.png` });
console.log(`query answered in GraphiQL:\n${listed}`);

// The query is in GraphiQL's history now; neither it nor anything else the page stored
// may hold the token, which any script of this origin could read long after.
await page.locator(".graphiql-sidebar button[aria-label*='History' i]").first().click();
await page.getByText("WhereAmISignedIn").first().waitFor({ timeout: 10_000 });
const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
if (!stored.includes("WhereAmISignedIn")) {
  throw new Error(`the history was not stored where expected: ${stored.slice(0, 500)}`);
}
if (stored.includes(explorer.token)) {
  throw new Error("localStorage holds the session token");
}
console.log(`localStorage (${stored.length} characters) holds the history, and no token`);

await fill(QUERY_EDITOR, "subscription SignedOut { signedOut { reason sessionId } }");
await execute();
// Subscribed once the connection is up; then the phone revokes this session.
await page.waitForTimeout(1000);
await graphql(phone.token, "mutation ($id: ID!) { revokeSession(id: $id) { id } }", {
  id: explorer.session.id,
});
const pushed = await page.locator(".result-window").getByText("REVOKED").first()
  .waitFor({ timeout: 10_000 })
  .then(() => page.locator(".result-window").innerText());
await page.screenshot({ path: `${out}/graphiql-subscription.png` });
console.log(`subscription pushed in GraphiQL:\n${pushed}`);
} catch (error) {
  await page.screenshot({ path: `${out}/graphiql-failure.png` }).catch(() => {});
  console.error(`GraphiQL: FAILED: ${error.message}\nproblems: ${problems.join("\n")}\nscreenshot in ${out}`);
  process.exitCode = 1;
}
await browser.close();
if (process.exitCode) process.exit();

if (foreign.length > 0) {
  console.error(`the page asked for other origins: ${foreign.join(", ")}`);
  process.exit(1);
}
if (problems.length > 0) {
  console.error(`the page logged errors:\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`no request left ${server}; screenshots in ${out}`);
