// A user's "where you're signed in" page on Sessionhub: their devices and sessions, with
// trust, rename, forget and revoke, kept up to date live; and when this session is ended
// elsewhere, "You were signed out", and nothing more until the next sign-in.
import type { Client } from "graphql-ws";

import { ApiError, SIGNED_OUT_CODES, liveClient, request, subscribe } from "./api";
import {
  AccountPageDocument,
  type AccountPageQuery,
  ForgetDeviceDocument,
  RenameDeviceDocument,
  RevokeOtherSessionsDocument,
  RevokeSessionDocument,
  SessionRevokedDocument,
  SessionStartedDocument,
  SignedOutDocument,
  StartSessionDocument,
  TrustDeviceDocument,
} from "./generated/graphql";

// A real product keeps the session token where its own login puts it; this example keeps
// it for the tab only, and the device token for the browser, so that signing in again
// here is recognised as the same device.
const SESSION_KEY = "sessionhub.session";
const DEVICE_KEY = "sessionhub.device";

const app = document.getElementById("app") as HTMLElement;
let live: Client | undefined;

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function button(label: string, className: string, action: () => Promise<unknown>) {
  const node = element("button", { class: className, type: "button" }, label);
  node.addEventListener("click", () => run(action));
  return node;
}

/** Runs an action of the page: an ended session signs out, other errors show. */
async function run(action: () => Promise<unknown>) {
  try {
    await action();
  } catch (error) {
    if (error instanceof ApiError && SIGNED_OUT_CODES.includes(error.code)) signedOut();
    else showError(error instanceof Error ? error.message : String(error));
  }
}

function showError(message: string) {
  document.getElementById("error")?.remove();
  app.prepend(element("p", { id: "error", class: "error", role: "alert" }, message));
}

function when(timestamp: string) {
  return new Date(timestamp).toLocaleString();
}

// ---- Signing in -------------------------------------------------------------------------

function signInForm(notice?: Node) {
  app.replaceChildren();
  if (notice) app.append(notice);
  const identity = element("textarea", {
    id: "identity",
    rows: "4",
    placeholder: "identity token (sessionhub token --user alice)",
  });
  const deviceName = element("input", { id: "device-name", placeholder: "this device's name" });
  app.append(
    element("h1", {}, "Sign in"),
    element(
      "p",
      {},
      "Paste an identity token from your login (in development: ",
      element("code", {}, "cargo run -- token --user alice"),
      ").",
    ),
    identity,
    deviceName,
    button("Sign in", "primary", async () => {
      const started = await request(
        StartSessionDocument,
        {
          input: {
            deviceName: deviceName.value.trim() || null,
            deviceToken: localStorage.getItem(DEVICE_KEY),
          },
        },
        identity.value.trim(),
      );
      sessionStorage.setItem(SESSION_KEY, started.startSession.token);
      localStorage.setItem(DEVICE_KEY, started.startSession.deviceToken);
      await showAccount();
    }),
  );
}

function signedOut() {
  live?.dispose();
  live = undefined;
  sessionStorage.removeItem(SESSION_KEY);
  const banner = element(
    "p",
    { id: "signed-out", class: "banner", role: "status" },
    "You were signed out. Sign in again to see where you are signed in.",
  );
  signInForm(banner);
}

// ---- The account page -------------------------------------------------------------------

type Device = AccountPageQuery["devices"][number];
type Session = Device["sessions"][number];

/** An action on the account, then the page as it is now. */
function change(token: string, action: () => Promise<unknown>) {
  return async () => {
    await action();
    await render(token);
  };
}

function sessionRow(token: string, session: Session) {
  const place = [session.location?.city, session.location?.country].filter(Boolean).join(", ");
  return element(
    "li",
    { class: "session", "data-session-id": session.id },
    element(
      "span",
      {},
      session.isCurrent ? "This session" : `Active ${when(session.lastActivityAt)}`,
      ` · signed in ${when(session.startedAt)}`,
      session.loginMethod ? ` with ${session.loginMethod}` : "",
      session.ipAddress ? ` · ${session.ipAddress}` : "",
      place ? ` · ${place}` : "",
    ),
    session.isCurrent
      ? ""
      : button(
          "Sign out",
          "revoke",
          change(token, () => request(RevokeSessionDocument, { id: session.id }, token)),
        ),
  );
}

function deviceCard(token: string, device: Device) {
  const software = [device.browser?.name, device.os?.name].filter(Boolean).join(" on ");
  return element(
    "section",
    { class: "device", "data-device-id": device.id },
    element(
      "h2",
      {},
      element("span", { class: "name" }, device.name),
      device.isCurrent ? element("span", { class: "tag" }, "this device") : "",
      device.isTrusted ? element("span", { class: "tag trusted" }, "trusted") : "",
      device.status === "HIJACKED" ? element("span", { class: "tag danger" }, "hijacked") : "",
    ),
    element("p", { class: "meta" }, `${device.type.toLowerCase()} · ${software || "unknown software"} · last seen ${when(device.lastSeenAt)}`),
    element("ul", {}, ...device.sessions.map((session) => sessionRow(token, session))),
    element(
      "div",
      { class: "actions" },
      device.isTrusted
        ? ""
        : button("Trust", "trust", change(token, () => request(TrustDeviceDocument, { id: device.id }, token))),
      button(
        "Rename",
        "rename",
        change(token, async () => {
          const name = window.prompt("New name for this device", device.name);
          if (name) await request(RenameDeviceDocument, { id: device.id, name }, token);
        }),
      ),
      device.isCurrent
        ? ""
        : button("Forget", "forget", change(token, () => request(ForgetDeviceDocument, { id: device.id }, token))),
    ),
  );
}

async function render(token: string) {
  const { devices } = await request(AccountPageDocument, {}, token);
  const others = devices.flatMap((device) => device.sessions).filter((session) => !session.isCurrent);
  app.replaceChildren(
    element("h1", {}, "Where you're signed in"),
    element("p", { id: "live", class: "meta" }, live ? "Updates live." : ""),
    ...devices.map((device) => deviceCard(token, device)),
    others.length > 0
      ? button(
          "Sign out of all other sessions",
          "danger",
          change(token, () => request(RevokeOtherSessionsDocument, {}, token)),
        )
      : "",
  );
}

async function showAccount() {
  const token = sessionStorage.getItem(SESSION_KEY);
  if (!token) return signInForm();
  live?.dispose();
  live = liveClient(token, (code) => code === 4403 && signedOut());
  // Every change anywhere in the account re-reads the page; a revoke of this session
  // instead arrives as signedOut.
  const refresh = () => run(() => render(token));
  subscribe(live, SessionStartedDocument, refresh);
  subscribe(live, SessionRevokedDocument, refresh);
  subscribe(live, SignedOutDocument, signedOut);
  await run(() => render(token));
}

run(showAccount);
