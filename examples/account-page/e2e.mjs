// End-to-end: the account page in a real browser (Debian's Chromium through
// playwright-core), two browser contexts as two devices of one user. The laptop sees the
// phone sign in live, trusts and renames itself, signs the phone out, and the phone shows
// "You were signed out" within a second; then the laptop forgets the phone. On failure,
// screenshots of both pages go to $ARTIFACTS.
//
//   SERVER=http://127.0.0.1:8080 LAPTOP_TOKEN=… PHONE_TOKEN=… node e2e.mjs
// (`bash examples/account-page/run.sh` starts a server and does all of it.)
import { mkdirSync } from "node:fs";

import { chromium } from "playwright-core";

const server = process.env.SERVER ?? "http://127.0.0.1:8080";
const artifacts = process.env.ARTIFACTS ?? "/tmp/sessionhub-account-page";
const [laptopToken, phoneToken] = [process.env.LAPTOP_TOKEN, process.env.PHONE_TOKEN];
if (!laptopToken || !phoneToken) {
  console.error("set LAPTOP_TOKEN and PHONE_TOKEN: identity tokens of one user");
  process.exit(2);
}
const SIGNED_OUT_WITHIN_MS = 1000;

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true });
const pages = {};
const problems = [];

async function open(device, identityToken) {
  const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => problems.push(`${device}: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`${device}: ${message.text()}`);
  });
  pages[device] = page;
  await page.goto(`${server}/account`);
  await page.locator("#identity").fill(identityToken);
  await page.locator("#device-name").fill(device);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Where you're signed in" }).waitFor();
  return page;
}

const deviceCard = (page, name) =>
  page.locator(".device").filter({ has: page.locator(".name", { hasText: new RegExp(`^${name}$`) }) });

function step(text) {
  console.log(`- ${text}`);
}

try {
  const laptop = await open("Laptop", laptopToken);
  step("the laptop signed in and lists its own device");
  await deviceCard(laptop, "Laptop").getByText("This session").waitFor();

  const phone = await open("Phone", phoneToken);
  step("the phone signed in");
  await deviceCard(laptop, "Phone").waitFor({ timeout: 2000 });
  step("the laptop saw the phone's sign-in live, without reloading");

  await deviceCard(laptop, "Laptop").getByRole("button", { name: "Trust" }).click();
  await deviceCard(laptop, "Laptop").locator(".tag.trusted").waitFor();
  step("the laptop trusted itself");

  laptop.once("dialog", (dialog) => dialog.accept("Work laptop"));
  await deviceCard(laptop, "Laptop").getByRole("button", { name: "Rename" }).click();
  await deviceCard(laptop, "Work laptop").waitFor();
  step("the laptop renamed itself to Work laptop");

  const revoked = Date.now();
  await deviceCard(laptop, "Phone").getByRole("button", { name: "Sign out" }).click();
  await phone.locator("#signed-out").waitFor({ timeout: SIGNED_OUT_WITHIN_MS });
  const tookMs = Date.now() - revoked;
  step(`the phone showed "${await phone.locator("#signed-out").innerText()}" ${tookMs} ms after the click`);
  await deviceCard(laptop, "Phone").getByText("Sign out").waitFor({ state: "detached" });
  step("the phone's session left the laptop's list");

  await deviceCard(laptop, "Phone").getByRole("button", { name: "Forget" }).click();
  await deviceCard(laptop, "Phone").waitFor({ state: "detached" });
  step("the laptop forgot the phone");

  mkdirSync(artifacts, { recursive: true });
  await laptop.screenshot({ path: `${artifacts}/laptop.png`, fullPage: true });
  await phone.screenshot({ path: `${artifacts}/phone.png`, fullPage: true });
  if (problems.length > 0) throw new Error(`the pages logged errors:\n${problems.join("\n")}`);
  console.log(`account page end to end: passed; screenshots in ${artifacts}`);
} catch (error) {
  mkdirSync(artifacts, { recursive: true });
  for (const [device, page] of Object.entries(pages)) {
    await page.screenshot({ path: `${artifacts}/failure-${device}.png`, fullPage: true }).catch(() => {});
  }
  console.error(`account page end to end: FAILED: ${error.message}\nscreenshots in ${artifacts}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
