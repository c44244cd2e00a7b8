// GraphiQL as Sessionhub serves it at /graphiql: every asset from the server itself, the
// session token in the headers editor, and subscriptions over /graphql/ws carrying the
// same Authorization in `connection_init`.
import { GraphiQL } from "graphiql";
import { getOperationAST, parse } from "graphql";
import { createClient } from "graphql-ws";
import { createRoot } from "react-dom/client";
import "graphiql/style.css";

const page = document.body.dataset;
const assets = page.assets;

// Monaco's language services run in workers, served beside this bundle.
globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    const name = label === "json" || label === "graphql" ? label : "editor";
    return new Worker(`${assets}/${name}.worker.js?v=${page.version}`);
  },
};

const PLACEHOLDER = "<paste a token here>";
const HEADERS = `{
  "Authorization": "Bearer ${PLACEHOLDER}"
}`;

const QUERY = `# Sessionhub. Tokens go in the Headers tab below, as {"Authorization": "Bearer …"}.
#
# 1. Mint an identity token (valid 5 minutes), as your product's login would:
#      cargo run -- token --user alice --amr pwd
#    put it in the Authorization header, and run SignIn.
# 2. Replace the header's token with the session token SignIn returned (data.startSession.token).
#    Every other operation runs with it, subscriptions too.

mutation SignIn {
  startSession(input: { deviceName: "GraphiQL" }) {
    token
    session { id expiresAt }
  }
}

query WhereAmISignedIn {
  sessions {
    id
    isCurrent
    lastActivityAt
    device { name type browser { name version } os { name } }
  }
}

subscription SignedOut {
  signedOut { reason at }
}
`;

/** The headers editor's headers, without the template's placeholder: until a token is
 *  pasted, requests go without one (the schema can be explored anonymously). */
function headersOf(options) {
  return Object.fromEntries(
    Object.entries(options?.headers ?? {}).filter(
      ([, value]) => !String(value).includes(PLACEHOLDER),
    ),
  );
}

/** The Authorization value among `headers`, if any (any spelling of the name). */
function authorization(headers) {
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === "authorization");
  return entry?.[1];
}

// One websocket client per Authorization: a new token in the editor opens a new connection.
const socketsByToken = new Map();
function socketFor(token) {
  if (!socketsByToken.has(token)) {
    const url = new URL(page.subscriptions, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    socketsByToken.set(
      token,
      createClient({
        url: url.href,
        connectionParams: token ? { Authorization: token } : {},
        lazy: true,
      }),
    );
  }
  return socketsByToken.get(token);
}

function isSubscription({ query, operationName }) {
  try {
    return getOperationAST(parse(query), operationName)?.operation === "subscription";
  } catch {
    return false; // the server says what is wrong with the document
  }
}

async function* fetcher(params, options) {
  const headers = headersOf(options);
  const token = authorization(headers);
  if (isSubscription(params)) {
    yield* socketFor(token).iterate(params);
    return;
  }
  const response = await fetch(page.endpoint, {
    method: "POST",
    headers: {
      ...headers,
      "Content-Type": "application/json",
      Accept: "application/graphql-response+json, application/json",
    },
    body: JSON.stringify(params),
  });
  yield await response.json();
}

/** `value` with every `headers` member left out, however deeply nested. */
function withoutHeaders(value) {
  if (Array.isArray(value)) return value.map(withoutHeaders);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([name]) => name !== "headers")
        .map(([name, member]) => [name, withoutHeaders(member)]),
    );
  }
  return value;
}

/** GraphiQL's storage, on localStorage, which never keeps a header: `shouldPersistHeaders`
 *  leaves them out of the tabs, but the history would still write each query's headers,
 *  session tokens included, where any script of the origin could read them for good. */
const STORAGE_PREFIX = "graphiql:";
const tokenFreeStorage = {
  getItem: (key) => localStorage.getItem(key),
  setItem(key, value) {
    if (key.endsWith(":headers")) return;
    let kept = value;
    try {
      kept = JSON.stringify(withoutHeaders(JSON.parse(value)));
    } catch {
      // Not JSON (a theme, a query's text): it holds no headers.
    }
    localStorage.setItem(key, kept);
  },
  removeItem: (key) => localStorage.removeItem(key),
  get length() {
    return Object.keys(localStorage).filter((key) => key.startsWith(STORAGE_PREFIX)).length;
  },
  clear() {
    for (const key of Object.keys(localStorage)) {
      if (key.startsWith(STORAGE_PREFIX)) localStorage.removeItem(key);
    }
  },
};

createRoot(document.getElementById("graphiql")).render(
  <GraphiQL
    fetcher={fetcher}
    defaultQuery={QUERY}
    initialHeaders={HEADERS}
    defaultHeaders={HEADERS}
    defaultEditorToolsVisibility="headers"
    shouldPersistHeaders={false}
    storage={tokenFreeStorage}
  />,
);
