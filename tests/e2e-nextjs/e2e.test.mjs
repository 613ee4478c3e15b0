// End-to-end: the Next.js example (examples/nextjs-wechat-qr, a production build) in a real
// Chromium against `saoma dev` and its WeChat simulator. The desktop page signs in through the
// QR page while a second browser context plays the phone, as a person would; the same QR code
// embedded in /login (an iframe, as wxLogin.js does it); and a phone-sized context whose
// User-Agent is WeChat's own browser signs in on the simulated 公众号 authorization page. The
// phone login beside the WeChat button signs in with an SMS code read from the simulator's
// inbox page in a second tab. The scan logins (小程序码登录, 关注公众号登录) show saoma's waiting
// page, whose code the phone reads off a screenshot; the page moves on to the app by itself.
// Email sign-in (the link, and the code) and 忘记密码 → 设置新密码 take their mail from saoma
// dev's mailbox page (/mailbox) and its JSON.
//
// Expects a built example (`npm ci && npx next build` in examples/nextjs-wechat-qr) and
// target/debug/saoma; ./run.sh does both. Screenshots and both servers' logs go to
// artifacts/e2e-nextjs/.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import jsQR from "jsqr";
import { PNG } from "pngjs";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const EXAMPLE = join(repo, "examples/nextjs-wechat-qr");
const SAOMA_BIN = process.env.SAOMA_BIN ?? join(repo, "target/debug/saoma");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = join(repo, "artifacts/e2e-nextjs");

const JWT_EXP_SECONDS = 5;
const COOKIE = "sb-localhost-auth-token";
const STEP_TIMEOUT_MS = 20_000;
// WeChat's in-app browser on an iPhone: saoma recognises it by "MicroMessenger".
const WECHAT_IOS_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) " +
  "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN";
/** A sign-in mail as Supabase's Next.js guide has it (Authentication → Email Templates). */
const SUPABASE_STYLE_SIGN_IN = `<h2>Magic Link</h2>
<p>Follow this link to login:</p>
<p><a href="{{ .SiteURL }}/auth/confirm?token_hash={{ .TokenHash }}&type=email">Log In</a></p>
<p>Or enter this code: {{ .Token }}</p>
`;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let saoma; // { base, anonKey, stop, log }
let app; // { base, stop, log }
let browser;

// ---------------------------------------------------------------------------------------------
// Servers

async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/**
 * Spawns `command` in its own process group, collecting its output. `stop()` sends SIGTERM to
 * the group, then SIGKILL if it is still there after `graceMs`.
 */
function spawnServer(name, command, args, options) {
  const child = spawn(command, args, { ...options, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (chunk) => (log += chunk));
  child.stderr.on("data", (chunk) => (log += chunk));
  const exited = new Promise((ok) => child.once("exit", (code, signal) => ok({ code, signal })));
  const signalGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  return {
    name,
    child,
    exited,
    log: () => log,
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalGroup("SIGTERM");
      const timer = sleep(graceMs).then(() => "timeout");
      if ((await Promise.race([exited, timer])) === "timeout") {
        signalGroup("SIGKILL");
        await exited;
      }
    },
  };
}

/** Polls `url` until it answers `status`, failing early if the server exits. */
async function waitFor(server, url, status = 200, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.child.exitCode !== null) {
      throw new Error(`${server.name} exited with ${server.child.exitCode}:\n${server.log()}`);
    }
    try {
      const response = await fetch(url, { redirect: "manual" });
      if (response.status === status) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      throw new Error(`${server.name}: ${url} did not answer ${status} within ${timeoutMs} ms:\n${server.log()}`);
    }
    await sleep(150);
  }
}

async function startSaoma(appBase) {
  if (!existsSync(SAOMA_BIN)) {
    throw new Error(`${SAOMA_BIN} not found: run \`cargo build -p saoma\` (or set SAOMA_BIN)`);
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "saoma-e2e-nextjs-")); // saoma.db lands here
  // Sign-in mails (a new address's confirmation, a known one's magic link) use the template
  // Supabase's Next.js guide asks for, whose link goes straight to the app's /auth/confirm;
  // password resets keep saoma's built-in one, whose link passes through saoma's /verify.
  const template = join(dir, "sign-in.html");
  writeFileSync(template, SUPABASE_STYLE_SIGN_IN);
  const server = spawnServer("saoma dev", SAOMA_BIN, ["dev"], {
    cwd: dir,
    env: {
      ...process.env,
      SAOMA_PORT: String(port),
      SAOMA_SITE_URL: appBase,
      SAOMA_URI_ALLOW_LIST: `${appBase}/**`,
      SAOMA_JWT_EXP: String(JWT_EXP_SECONDS),
      SAOMA_MAILER_TEMPLATES_CONFIRMATION: template,
      SAOMA_MAILER_TEMPLATES_MAGIC_LINK: template,
      NO_COLOR: "1",
    },
  });
  const base = `http://localhost:${port}`;
  await waitFor(server, `${base}/auth/v1/health`);
  // `saoma dev` prints "  anon key:       <jwt>" once it listens.
  let anonKey;
  for (let i = 0; i < 50 && !anonKey; i++) {
    anonKey = server.log().match(/^\s*anon key:\s+(\S+)\s*$/m)?.[1];
    if (!anonKey) await sleep(100);
  }
  assert.ok(anonKey, `no anon key in saoma's output:\n${server.log()}`);
  const stop = server.stop;
  return {
    ...server,
    base,
    anonKey,
    async stop() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startApp(port, saomaServer) {
  if (!existsSync(join(EXAMPLE, ".next/BUILD_ID"))) {
    throw new Error(
      `no production build in ${EXAMPLE}: run \`npm ci && npx next build\` there (run.sh does)`,
    );
  }
  const base = `http://localhost:${port}`;
  const server = spawnServer(
    "next start",
    process.execPath,
    [join(EXAMPLE, "node_modules/next/dist/bin/next"), "start", "-p", String(port)],
    {
      cwd: EXAMPLE,
      env: {
        ...process.env,
        NODE_ENV: "production",
        NEXT_TELEMETRY_DISABLED: "1",
        // Read at request time by the server code (utils/supabase/env.ts), so this one build
        // works with the ports chosen here.
        NEXT_PUBLIC_SUPABASE_URL: saomaServer.base,
        NEXT_PUBLIC_SUPABASE_ANON_KEY: saomaServer.anonKey,
        NEXT_PUBLIC_SITE_URL: base,
      },
    },
  );
  await waitFor(server, `${base}/login`);
  return { ...server, base };
}

// ---------------------------------------------------------------------------------------------
// Browser helpers

let shots = 0;
/** Saves a screenshot as artifacts/e2e-nextjs/NN-<name>.png; returns the PNG bytes. */
async function shoot(target, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  shots += 1;
  return target.screenshot({ path: join(ARTIFACTS, `${String(shots).padStart(2, "0")}-${name}.png`) });
}

function decodeQr(pngBytes) {
  const image = PNG.sync.read(pngBytes);
  return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data ?? null;
}

const at = (base, pathname) => (url) => url.origin === base && url.pathname === pathname;

/** The session @supabase/ssr stores in the (possibly chunked) auth cookie, and its raw value. */
async function sessionCookie(context) {
  const cookies = (await context.cookies(app.base)).filter(
    (c) => c.name === COOKIE || c.name.startsWith(`${COOKIE}.`),
  );
  if (cookies.length === 0) return null;
  const chunk = (c) => (c.name === COOKIE ? -1 : Number(c.name.slice(COOKIE.length + 1)));
  cookies.sort((a, b) => chunk(a) - chunk(b));
  const raw = cookies.map((c) => c.value).join("");
  const json = raw.startsWith("base64-")
    ? Buffer.from(raw.slice("base64-".length), "base64url").toString("utf8")
    : decodeURIComponent(raw);
  return { raw, names: cookies.map((c) => c.name), session: JSON.parse(json) };
}

/** A second context playing the phone: opens the URL the QR code encodes (the "scan"). */
async function scanWithPhone(phoneUrl, prefix) {
  const handset = await browser.newContext({ viewport: { width: 390, height: 760 }, isMobile: true });
  const phone = await handset.newPage();
  await phone.goto(phoneUrl);
  await shoot(phone, `${prefix}-phone`);
  return { handset, phone };
}

/**
 * On the phone page: picks `persona` and presses `button` (确认登录; 关注公众号 is #follow), then
 * closes the phone.
 */
async function confirmOnPhone({ handset, phone }, persona, prefix, button = "#confirm") {
  try {
    await phone.check(`input[name=persona][value=${persona}]`);
    await shoot(phone, `${prefix}-phone-${persona}`);
    await phone.click(button);
    await phone.locator("#result").waitFor({ timeout: STEP_TIMEOUT_MS });
    await shoot(phone, `${prefix}-phone-confirmed`);
  } finally {
    await handset.close();
  }
}

/** Waits until `page` shows / signed in (after /private?code=...); returns nickname and id. */
async function landedHome(page, trace, prefix) {
  await page.waitForURL(at(app.base, "/"), { timeout: STEP_TIMEOUT_MS }).catch((error) => {
    throw new Error(`${error.message}\nnavigations:\n${trace.join("\n")}`);
  });
  await page.getByTestId("nickname").waitFor();
  await shoot(page, `${prefix}-home`);
  assert.ok(
    trace.some((line) => line.startsWith(`307 GET ${app.base}/private?code=`)),
    `the browser came through /private?code=...:\n${trace.join("\n")}`,
  );
  const userId = (await page.getByTestId("user-id").textContent()).trim();
  assert.match(userId, UUID_RE);
  return { nickname: await page.getByTestId("nickname").textContent(), userId };
}

/**
 * From a signed-out page: / → /login → 微信登录 → the simulator's QR page, whose QR code a
 * second context (the phone) opens. Returns the phone's page and context.
 */
async function openQrAndScan(page, prefix) {
  await page.goto(`${app.base}/`);
  await page.waitForURL(at(app.base, "/login"));
  await shoot(page, `${prefix}-login`);

  await page.getByRole("button", { name: "微信登录" }).click();
  await page.waitForURL(at(saoma.base, "/wechat-sim/connect/qrconnect"), { timeout: STEP_TIMEOUT_MS });
  const qr = page.locator("#qr");
  await page.waitForFunction(() => {
    const img = document.getElementById("qr");
    return img && img.complete && img.naturalWidth > 0;
  });
  await shoot(page, `${prefix}-qr-page`);

  const uuid = await qr.getAttribute("data-uuid");
  assert.match(uuid ?? "", /^[A-Za-z0-9]{8,}$/);
  const phoneUrl = decodeQr(await qr.screenshot());
  assert.equal(phoneUrl, `${saoma.base}/wechat-sim/sim/phone/${uuid}`, "the QR code encodes the phone page");

  const { handset, phone } = await scanWithPhone(phoneUrl, prefix);
  await page.locator("#scanned").waitFor({ state: "visible", timeout: STEP_TIMEOUT_MS });
  await shoot(page, `${prefix}-qr-page-scanned`);
  return { handset, phone };
}

/** Records the top-level navigations of `page` (URL and status), for the failure messages. */
function traceNavigations(page) {
  const trace = [];
  page.on("response", (response) => {
    const request = response.request();
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
      trace.push(`${response.status()} ${request.method()} ${response.url()}`);
    }
  });
  return trace;
}

// ---------------------------------------------------------------------------------------------

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // The numbering restarts every run: drop the previous run's screenshots.
  for (const name of readdirSync(ARTIFACTS)) {
    if (/^\d{2,}-.*\.png$/.test(name)) rmSync(join(ARTIFACTS, name), { force: true });
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: apt-get install -y chromium`);
  }
  const appPort = await freePort();
  saoma = await startSaoma(`http://localhost:${appPort}`);
  app = await startApp(appPort, saoma);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close();
  await Promise.all([app?.stop(), saoma?.stop()]);
  if (saoma) writeFileSync(join(ARTIFACTS, "saoma.log"), saoma.log());
  if (app) writeFileSync(join(ARTIFACTS, "next.log"), app.log());
});

describe("signing in with WeChat, the session's life, signing out", () => {
  let desktop;
  let page;
  let trace;
  let userId;

  before(async () => {
    desktop = await browser.newContext({ viewport: { width: 1024, height: 760 } });
    page = await desktop.newPage();
    trace = traceNavigations(page);
  });

  after(async () => {
    await desktop?.close();
  });

  test("confirming as 小明 on the phone lands on / with the WeChat nickname, avatar and user id", async () => {
    await confirmOnPhone(await openQrAndScan(page, "login"), "xiaoming", "login");

    // The QR page polls, goes to saoma's /callback, which sends it to /private?code=..., which
    // exchanges the code and redirects to /.
    const home = await landedHome(page, trace, "login");
    assert.equal(home.nickname, "小明");
    userId = home.userId;

    const avatar = page.getByTestId("avatar");
    const src = await avatar.getAttribute("src");
    assert.ok(src?.startsWith(`${saoma.base}/`), `avatar served by the simulator: ${src}`);
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="avatar"]');
      return img && img.complete;
    });
    const naturalWidth = await avatar.evaluate((img) => img.naturalWidth);
    assert.ok(naturalWidth > 0, `the avatar image loaded (naturalWidth ${naturalWidth})`);

    const stored = await sessionCookie(desktop);
    assert.ok(stored, `a ${COOKIE} cookie`);
    assert.equal(stored.session.user.id, userId);
    assert.equal(stored.session.user.app_metadata.provider, "wechat_qr");
  });

  test("after the access token expires, a reload stays signed in and rewrites the cookie", async () => {
    assert.ok(userId, "signed in by the previous test");
    const before = await sessionCookie(desktop);
    assert.ok(before, "a session cookie");
    // An access token lives JWT_EXP_SECONDS; wait until the stored one has expired.
    const waitMs = before.session.expires_at * 1000 - Date.now() + 1_500;
    if (waitMs > 0) await sleep(waitMs);
    const expired = await fetch(`${saoma.base}/auth/v1/user`, {
      headers: { apikey: saoma.anonKey, authorization: `Bearer ${before.session.access_token}` },
    });
    assert.equal(expired.status, 403, "saoma refuses the expired access token");

    const reloadedAt = Date.now();
    await page.reload();
    await page.getByTestId("nickname").waitFor();
    await shoot(page, "refresh-home-after-expiry");
    assert.equal(new URL(page.url()).pathname, "/");
    assert.equal(await page.getByTestId("nickname").textContent(), "小明");
    assert.equal((await page.getByTestId("user-id").textContent()).trim(), userId);

    const after = await sessionCookie(desktop);
    assert.ok(after, "still a session cookie");
    assert.notEqual(after.raw, before.raw, "the proxy rewrote the auth cookie");
    assert.notEqual(after.session.access_token, before.session.access_token);
    assert.notEqual(after.session.refresh_token, before.session.refresh_token);
    // Issued by the reload's refresh (not "still valid now": with a 5 s lifetime, a slow
    // machine can spend that much between the reload and this check).
    assert.ok(after.session.expires_at > before.session.expires_at, "the new access token is newer");
    assert.ok(after.session.expires_at * 1000 > reloadedAt, "the new access token was current at the reload");

    const fresh = await fetch(`${saoma.base}/auth/v1/user`, {
      headers: { apikey: saoma.anonKey, authorization: `Bearer ${after.session.access_token}` },
    });
    // It may itself have expired by now with a 5 s lifetime; only a 200 or an expiry is fine.
    assert.ok([200, 403].includes(fresh.status), `GET /user with the new token: ${fresh.status}`);
  });

  test("the profile form saves a display name that survives a reload", async () => {
    assert.ok(userId, "signed in");
    const name = `小明的新名字 ${Date.now() % 100000}`;
    await page.fill("#display_name", name);
    await shoot(page, "profile-filled");
    await page.getByTestId("save-profile").click();
    await page.getByTestId("display-name").filter({ hasText: name }).waitFor({ timeout: STEP_TIMEOUT_MS });
    await shoot(page, "profile-saved");

    await page.reload();
    await page.getByTestId("nickname").waitFor();
    assert.equal(await page.getByTestId("display-name").textContent(), name);
    assert.equal(await page.getByTestId("nickname").textContent(), "小明", "the WeChat nickname is kept");
    await shoot(page, "profile-after-reload");
  });

  test("signing out ends on /login, and / then sends there too", async () => {
    assert.ok(userId, "signed in");
    const lastSession = (await sessionCookie(desktop))?.session;
    await page.getByTestId("sign-out").click();
    await page.waitForURL(at(app.base, "/login"), { timeout: STEP_TIMEOUT_MS });
    await shoot(page, "signout-login");
    assert.equal(await sessionCookie(desktop), null, "the auth cookie is gone");

    await page.goto(`${app.base}/`);
    await page.waitForURL(at(app.base, "/login"));
    await page.getByRole("button", { name: "微信登录" }).waitFor();
    await shoot(page, "signout-home-redirects");

    // The session ended at saoma as well: the last refresh token no longer works.
    if (lastSession) {
      const refresh = await fetch(`${saoma.base}/auth/v1/token?grant_type=refresh_token`, {
        method: "POST",
        headers: { apikey: saoma.anonKey, "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: lastSession.refresh_token }),
      });
      assert.equal(refresh.status, 400, `refresh after sign-out: ${refresh.status} ${await refresh.text()}`);
    }
  });
});

test("cancelling on the phone ends on the app's /error page, which says so", async () => {
  const desktop = await browser.newContext({ viewport: { width: 1024, height: 760 } });
  try {
    const page = await desktop.newPage();
    const trace = traceNavigations(page);
    const { handset, phone } = await openQrAndScan(page, "cancel");
    try {
      await phone.click("#cancel");
      await phone.locator("#result").waitFor({ timeout: STEP_TIMEOUT_MS });
      await shoot(phone, "cancel-phone-cancelled");
    } finally {
      await handset.close();
    }

    await page.waitForURL(at(app.base, "/error"), { timeout: STEP_TIMEOUT_MS }).catch((error) => {
      throw new Error(`${error.message}\nnavigations:\n${trace.join("\n")}`);
    });
    const message = page.getByTestId("error-message");
    await message.waitFor();
    await shoot(page, "cancel-error-page");
    assert.match(await message.textContent(), /cancel/i);
    assert.ok(
      trace.some((line) => /\/private\?error=access_denied/.test(line)),
      `saoma sent the error to redirectTo:\n${trace.join("\n")}`,
    );
    assert.equal(await sessionCookie(desktop), null, "no session");
  } finally {
    await desktop.close();
  }
});

describe("inside WeChat's own browser: the 公众号 authorization page instead of a QR code", () => {
  let wechatUserId;

  test("微信登录 in WeChat's browser goes to the 公众号 page; 允许 as 小红 lands on /", async () => {
    const wechat = await browser.newContext({
      userAgent: WECHAT_IOS_UA,
      viewport: { width: 390, height: 760 },
      isMobile: true,
      hasTouch: true,
    });
    try {
      const page = await wechat.newPage();
      const trace = traceNavigations(page);
      await page.goto(`${app.base}/`);
      await page.waitForURL(at(app.base, "/login"));
      await shoot(page, "wechat-login");
      // No QR code to scan on the phone that would scan it: the embedded option is not offered.
      assert.equal(await page.getByTestId("embedded-qr").count(), 0, "no embedded QR in WeChat");

      await page.getByRole("button", { name: "微信登录" }).click();
      await page
        .waitForURL(at(saoma.base, "/wechat-sim/connect/oauth2/authorize"), { timeout: STEP_TIMEOUT_MS })
        .catch((error) => {
          throw new Error(`${error.message}\nnavigations:\n${trace.join("\n")}`);
        });
      await page.locator("#allow").waitFor();
      await shoot(page, "wechat-authorize-page");
      const authorizeUrl = new URL(page.url());
      assert.equal(authorizeUrl.searchParams.get("appid"), "wx_sim_mp", authorizeUrl.href);
      assert.equal(authorizeUrl.searchParams.get("scope"), "snsapi_userinfo", authorizeUrl.href);
      assert.equal(authorizeUrl.searchParams.get("response_type"), "code", authorizeUrl.href);
      assert.equal(authorizeUrl.hash, "#wechat_redirect", authorizeUrl.href);
      assert.ok(
        authorizeUrl.searchParams.get("redirect_uri")?.startsWith(`${saoma.base}/callback`),
        `WeChat returns to saoma's callback: ${authorizeUrl.href}`,
      );
      assert.ok(
        trace.some((line) => line.startsWith(`302 GET ${saoma.base}/auth/v1/authorize?provider=wechat_qr&`)),
        `the app asked for wechat_qr; saoma switched:\n${trace.join("\n")}`,
      );
      assert.equal(await page.locator("#qr").count(), 0, "no QR code inside WeChat");
      assert.equal(await page.locator("input[name=persona]").count(), 3);

      await page.check("input[name=persona][value=xiaohong]");
      await shoot(page, "wechat-authorize-xiaohong");
      await page.click("#allow");

      const { nickname, userId } = await landedHome(page, trace, "wechat");
      assert.equal(nickname, "小红");
      assert.ok(
        trace.some((line) => line.startsWith(`302 GET ${saoma.base}/callback?code=`)),
        `允许 went through saoma's callback:\n${trace.join("\n")}`,
      );
      const stored = await sessionCookie(wechat);
      assert.ok(stored, `a ${COOKIE} cookie`);
      assert.equal(stored.session.user.id, userId);
      assert.equal(stored.session.user.app_metadata.provider, "wechat_mp");
      wechatUserId = userId;
    } finally {
      await wechat.close();
    }
  });

  test("小红 scanning the QR code on a desktop is the same user (unionid)", async () => {
    assert.ok(wechatUserId, "signed in inside WeChat by the previous test");
    const desktop = await browser.newContext({ viewport: { width: 1024, height: 760 } });
    try {
      const page = await desktop.newPage();
      const trace = traceNavigations(page);
      const handset = await openQrAndScan(page, "unionid");
      await confirmOnPhone(handset, "xiaohong", "unionid");
      const { nickname, userId } = await landedHome(page, trace, "unionid");
      assert.equal(nickname, "小红");
      assert.equal(userId, wechatUserId, "one person, one account, whichever way 小红 signed in");

      const stored = await sessionCookie(desktop);
      assert.equal(stored.session.user.app_metadata.provider, "wechat_mp", "the first sign-in's provider");
      const providers = (stored.session.user.identities ?? []).map((i) => i.provider).sort();
      assert.deepEqual(providers, ["wechat_mp", "wechat_qr"], "both WeChat identities on the one user");
    } finally {
      await desktop.close();
    }
  });
});

test("the QR code embedded in /login: confirming as 老王 moves the whole page to /", async () => {
  const desktop = await browser.newContext({ viewport: { width: 1024, height: 760 } });
  try {
    const page = await desktop.newPage();
    const trace = traceNavigations(page);
    await page.goto(`${app.base}/login`);
    await shoot(page, "embedded-login");
    await page.getByTestId("embedded-qr").click();

    const iframe = page.getByTestId("wechat-iframe");
    await iframe.waitFor({ timeout: STEP_TIMEOUT_MS });
    const frame = await (await iframe.elementHandle()).contentFrame();
    await frame.waitForURL(at(saoma.base, "/wechat-sim/connect/qrconnect"), { timeout: STEP_TIMEOUT_MS });
    await frame.waitForFunction(() => {
      const img = document.getElementById("qr");
      return img && img.complete && img.naturalWidth > 0;
    });
    await shoot(page, "embedded-qr");

    // The QR code is in the page: the top window is still on /login.
    assert.equal(new URL(page.url()).pathname, "/login", page.url());
    assert.equal(page.frames().length, 2, "the page and the QR code's frame");
    const frameUrl = new URL(frame.url());
    assert.equal(frameUrl.searchParams.get("login_type"), "jssdk", frameUrl.href);
    assert.equal(frameUrl.searchParams.get("self_redirect"), "false", frameUrl.href);
    assert.equal(frameUrl.searchParams.get("style"), "black", frameUrl.href);
    assert.match(await frame.locator("body").getAttribute("class"), /\bjssdk\b/, "the compact variant");
    const box = await iframe.boundingBox();
    assert.deepEqual([box.width, box.height], [300, 400], "sized like wxLogin.js's iframe");

    const qr = frame.locator("#qr");
    const uuid = await qr.getAttribute("data-uuid");
    assert.match(uuid ?? "", /^[A-Za-z0-9]{8,}$/);
    const phoneUrl = decodeQr(await qr.screenshot());
    assert.equal(phoneUrl, `${saoma.base}/wechat-sim/sim/phone/${uuid}`, "the QR code encodes the phone page");

    const handset = await scanWithPhone(phoneUrl, "embedded");
    await frame.locator("#scanned").waitFor({ state: "visible", timeout: STEP_TIMEOUT_MS });
    await shoot(page, "embedded-qr-scanned");
    assert.equal(new URL(page.url()).pathname, "/login", "still on /login after the scan");
    await confirmOnPhone(handset, "laowang", "embedded");

    // The frame's page navigates window.top (self_redirect=false): saoma's /callback, then
    // /private?code=..., whose code verifier cookie /login/embedded set, then /.
    const { nickname, userId } = await landedHome(page, trace, "embedded");
    assert.equal(nickname, "老王");
    assert.ok(
      trace.some((line) => line.startsWith(`302 GET ${saoma.base}/callback?code=`)),
      `the top window went through saoma's callback:\n${trace.join("\n")}`,
    );
    assert.equal(page.frames().length, 1, "the iframe went with /login");
    const stored = await sessionCookie(desktop);
    assert.ok(stored, `a ${COOKIE} cookie`);
    assert.equal(stored.session.user.id, userId);
    assert.equal(stored.session.user.app_metadata.provider, "wechat_qr");
  } finally {
    await desktop.close();
  }
});

describe("scan logins for sites without a WeChat website app: saoma's waiting page, the phone, the app", () => {
  /**
   * From /login: presses the button, waits for saoma's waiting page to show its code, reads the
   * code off a screenshot (the 公众号 code is an SVG: the screenshot is its raster) and returns
   * the page the phone opens.
   */
  async function waitingPageCode(page, button, prefix) {
    await page.goto(`${app.base}/login`);
    await page.getByTestId(button).click();
    await page.waitForURL(at(saoma.base, "/scan_login"), { timeout: STEP_TIMEOUT_MS });
    await page.locator('#scan-status[data-status="waiting"]').waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.waitForFunction(() => {
      const img = document.getElementById("scan-code");
      return img && !img.hidden && img.complete && img.naturalWidth > 0;
    });
    await shoot(page, `${prefix}-waiting-page`);
    const phoneUrl = decodeQr(await page.locator("#scan-code").screenshot());
    assert.ok(phoneUrl, "the code on the waiting page is readable");
    return phoneUrl;
  }

  /** The waiting page moved on by itself: / signed in through /private?code=..., as `provider`. */
  async function signedInBy(page, desktop, trace, provider, prefix) {
    await page.waitForURL(at(app.base, "/"), { timeout: STEP_TIMEOUT_MS }).catch((error) => {
      throw new Error(`${error.message}\nnavigations:\n${trace.join("\n")}`);
    });
    const userId = (await page.getByTestId("user-id").textContent()).trim();
    assert.match(userId, UUID_RE);
    await shoot(page, `${prefix}-home`);
    assert.ok(
      trace.some((line) => line.startsWith(`302 GET ${saoma.base}/callback?code=`)),
      `the waiting page went to saoma's callback:\n${trace.join("\n")}`,
    );
    assert.ok(
      trace.some((line) => line.startsWith(`307 GET ${app.base}/private?code=`)),
      `the browser came through /private?code=...:\n${trace.join("\n")}`,
    );
    const stored = await sessionCookie(desktop);
    assert.ok(stored, `a ${COOKIE} cookie`);
    assert.equal(stored.session.user.id, userId);
    // The persona may have signed in another way earlier in this run (app_metadata.provider
    // is the first sign-in's); this login added its identity to the same user.
    const providers = (stored.session.user.identities ?? []).map((i) => i.provider);
    assert.ok(providers.includes(provider), `a ${provider} identity: ${providers}`);
    assert.equal(await page.getByTestId("provider").textContent(), stored.session.user.app_metadata.provider);
  }

  test("小程序码登录: the mini-program code, scanned (the page says so), confirmed as 小明, lands on /", async () => {
    const desktop = await browser.newContext({ viewport: { width: 1024, height: 900 } });
    try {
      const page = await desktop.newPage();
      const trace = traceNavigations(page);
      const phoneUrl = new URL(await waitingPageCode(page, "mini-qr-login", "mini-qr"));
      assert.equal(`${phoneUrl.origin}${phoneUrl.pathname}`, `${saoma.base}/wechat-sim/sim/mini/open`);
      assert.equal(phoneUrl.searchParams.get("appid"), "wx_sim_mini");
      assert.equal(phoneUrl.searchParams.get("page"), "pages/scan-login/index");

      // Opening the mini-program page tells saoma the code was scanned; the waiting page shows it.
      const handset = await scanWithPhone(phoneUrl.href, "mini-qr");
      await page.locator('#scan-status[data-status="scanned"]').waitFor({ timeout: STEP_TIMEOUT_MS });
      await shoot(page, "mini-qr-waiting-page-scanned");
      assert.equal(new URL(page.url()).pathname, "/scan_login", "still waiting for the confirmation");

      await confirmOnPhone(handset, "xiaoming", "mini-qr");
      await signedInBy(page, desktop, trace, "wechat_mini_qr", "mini-qr");
    } finally {
      await desktop.close();
    }
  });

  test("关注公众号登录: the 公众号's code, followed as 老王, lands on /", async () => {
    const desktop = await browser.newContext({ viewport: { width: 1024, height: 900 } });
    try {
      const page = await desktop.newPage();
      const trace = traceNavigations(page);
      const phoneUrl = await waitingPageCode(page, "mp-qr-login", "mp-qr");
      assert.match(phoneUrl, new RegExp(`^${saoma.base}/wechat-sim/sim/mp/scan/[^/?]+$`));

      const handset = await scanWithPhone(phoneUrl, "mp-qr");
      await confirmOnPhone(handset, "laowang", "mp-qr", "#follow");
      await signedInBy(page, desktop, trace, "wechat_mp_qr", "mp-qr");
    } finally {
      await desktop.close();
    }
  });
});

describe("signing in with a phone number and an SMS code", () => {
  // Typed as people do, without the country code: `saoma dev` reads bare mainland numbers as +86.
  const TYPED = "139 0000 1234";
  const STORED = "8613900001234";

  /** The newest code on the simulator's inbox page for the number, opened in a second tab. */
  async function codeFromInboxPage(context, prefix) {
    const inbox = await context.newPage();
    try {
      await inbox.goto(`${saoma.base}/wechat-sim/sim/sms/phone/${STORED}`);
      // The page reloads itself every 2 s: read it between two reloads.
      let code = null;
      for (let attempt = 0; attempt < 5 && !code; attempt++) {
        code = await inbox
          .locator("#latest-code")
          .textContent({ timeout: 2_000 })
          .catch(() => null);
      }
      await shoot(inbox, `${prefix}-inbox`);
      assert.match(code?.trim() ?? "", /^\d{6}$/, "the inbox page shows a six-digit code");
      return code.trim();
    } finally {
      await inbox.close();
    }
  }

  test("number → 获取验证码 → the code from the inbox page → 登录 lands on / signed in by phone", async () => {
    const desktop = await browser.newContext({ viewport: { width: 1024, height: 900 } });
    try {
      const page = await desktop.newPage();
      const trace = traceNavigations(page);
      await page.goto(`${app.base}/`);
      await page.waitForURL(at(app.base, "/login"));
      // The phone login sits beside the WeChat button, which stays.
      await page.getByRole("button", { name: "微信登录" }).waitFor();
      await page.getByTestId("phone-login").waitFor();
      assert.equal(await page.locator("#token").count(), 0, "no code field before a code is sent");

      await page.fill("#phone", TYPED);
      await shoot(page, "sms-login");
      await page.getByTestId("send-code").click();
      await page.getByTestId("code-sent").waitFor({ timeout: STEP_TIMEOUT_MS });
      await shoot(page, "sms-code-sent");
      assert.match(await page.getByTestId("code-sent").textContent(), new RegExp(TYPED));

      // Asking again at once: saoma's 60 s interval, said readably.
      await page.getByTestId("send-code").click();
      await page.getByTestId("phone-error").waitFor({ timeout: STEP_TIMEOUT_MS });
      assert.match(await page.getByTestId("phone-error").textContent(), /请 \d+ 秒后再获取/);
      await shoot(page, "sms-resend-too-soon");

      const code = await codeFromInboxPage(desktop, "sms");

      // A wrong code first: the page says so, and the right one still works.
      await page.fill("#token", code === "000000" ? "111111" : "000000");
      await page.getByTestId("verify-code").click();
      await page
        .getByTestId("phone-error")
        .filter({ hasText: "验证码错误或已过期" })
        .waitFor({ timeout: STEP_TIMEOUT_MS });
      await shoot(page, "sms-wrong-code");

      await page.fill("#token", code);
      await page.getByTestId("verify-code").click();
      await page.waitForURL(at(app.base, "/"), { timeout: STEP_TIMEOUT_MS }).catch((error) => {
        throw new Error(`${error.message}\nnavigations:\n${trace.join("\n")}`);
      });
      await page.getByTestId("phone").waitFor();
      await shoot(page, "sms-home");
      assert.equal(await page.getByTestId("phone").textContent(), `+${STORED}`);
      assert.match((await page.getByTestId("user-id").textContent()).trim(), UUID_RE);

      const stored = await sessionCookie(desktop);
      assert.ok(stored, `a ${COOKIE} cookie`);
      assert.equal(stored.session.user.phone, STORED);
      assert.equal(stored.session.user.app_metadata.provider, "phone");

      // A reload stays signed in: the cookie session is the server's session.
      await page.reload();
      await page.getByTestId("phone").waitFor();
      assert.equal(new URL(page.url()).pathname, "/");
    } finally {
      await desktop.close();
    }
  });
});

describe("email: a sign-in link or code, and 忘记密码 → 设置新密码, with mail from saoma dev's mailbox", () => {
  let counter = 0;
  const freshEmail = (what) => `${what}-${Date.now().toString(36)}-${++counter}@example.com`;

  /** The mails saoma dev kept for `email`, newest first (its JSON), once `count` are there. */
  async function mailsTo(email, count = 1) {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const response = await fetch(`${saoma.base}/mailbox/messages?to=${encodeURIComponent(email)}`);
      assert.equal(response.status, 200);
      const mails = await response.json();
      if (mails.length >= count) return mails;
      if (Date.now() > deadline) throw new Error(`${count} mail(s) to ${email} expected, ${mails.length} kept`);
      await sleep(200);
    }
  }

  /** Opens the mailbox page for `email` in a new tab of `context`; it refreshes every 2 s. */
  async function openMailbox(context, email, prefix) {
    await mailsTo(email);
    const mailbox = await context.newPage();
    await mailbox.goto(`${saoma.base}/mailbox?to=${encodeURIComponent(email)}`);
    await mailbox.locator(".mail").first().waitFor({ timeout: STEP_TIMEOUT_MS });
    await shoot(mailbox, `${prefix}-mailbox`);
    return mailbox;
  }

  async function signOut(page) {
    await page.getByTestId("sign-out").click();
    await page.waitForURL(at(app.base, "/login"), { timeout: STEP_TIMEOUT_MS });
  }

  test("使用邮箱登录 → 发送登录邮件 → the link in the mailbox (Supabase-style /auth/confirm?token_hash=) lands on / signed in", async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 900 } });
    try {
      const email = freshEmail("magic");
      const page = await context.newPage();
      await page.goto(`${app.base}/login`);
      // The WeChat button and the phone login stay; the email login is a link away.
      await page.getByRole("button", { name: "微信登录" }).waitFor();
      await page.getByTestId("phone-login").waitFor();
      await page.getByTestId("email-login").click();
      await page.waitForURL(at(app.base, "/login/email"), { timeout: STEP_TIMEOUT_MS });
      await page.fill("#email", email);
      await shoot(page, "email-login");
      await page.getByTestId("send-email-link").click();
      await page.getByTestId("email-sent").waitFor({ timeout: STEP_TIMEOUT_MS });
      assert.match(await page.getByTestId("email-sent").textContent(), new RegExp(email));
      await shoot(page, "email-sent");

      // The mailbox page lists the mail; its HTML view is the mail as the recipient sees it.
      const mailbox = await openMailbox(context, email, "email-link");
      await mailbox.locator(".mail a", { hasText: "HTML" }).first().click();
      const link = mailbox.locator('a[href*="/auth/confirm?token_hash="]');
      await link.waitFor({ timeout: STEP_TIMEOUT_MS });
      await shoot(mailbox, "email-link-mail");
      const href = new URL(await link.getAttribute("href"));
      assert.equal(`${href.origin}${href.pathname}`, `${app.base}/auth/confirm`);
      assert.match(href.searchParams.get("token_hash"), /^pkce_[0-9a-f]{56}$/, "the app's PKCE flow");
      assert.equal(href.searchParams.get("type"), "email");

      const trace = traceNavigations(mailbox);
      await link.click();
      await mailbox.waitForURL(at(app.base, "/"), { timeout: STEP_TIMEOUT_MS }).catch((error) => {
        throw new Error(`${error.message}\nnavigations:\n${trace.join("\n")}`);
      });
      await mailbox.getByTestId("email").waitFor();
      await shoot(mailbox, "email-link-home");
      assert.equal(await mailbox.getByTestId("email").textContent(), email);
      assert.ok(trace.some((line) => line.startsWith(`307 GET ${app.base}/auth/confirm?token_hash=`)), trace.join("\n"));
      const stored = await sessionCookie(context);
      assert.equal(stored.session.user.email, email);

      // The first tab shares the cookies: signed in there too. The link works once.
      await page.goto(`${app.base}/`);
      await page.getByTestId("email").waitFor();
      await signOut(page);
      await mailbox.goto(href.toString());
      await mailbox.waitForURL(at(app.base, "/error"), { timeout: STEP_TIMEOUT_MS });
      assert.equal(await mailbox.getByTestId("error-code").textContent(), "otp_expired");
      await shoot(mailbox, "email-link-used");
    } finally {
      await context.close();
    }
  });

  test("发送登录邮件 → the code from the mailbox's JSON → 登录 (a wrong code first) lands on /", async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 900 } });
    try {
      const email = freshEmail("code");
      const page = await context.newPage();
      await page.goto(`${app.base}/login/email`);
      await page.fill("#email", email);
      await page.getByTestId("send-email-link").click();
      await page.getByTestId("email-sent").waitFor({ timeout: STEP_TIMEOUT_MS });

      const [mail] = await mailsTo(email);
      const code = /enter this code: (\d{6})/.exec(mail.html)?.[1];
      assert.ok(code, `a code in the mail:\n${mail.html}`);

      await page.fill("#token", code === "000000" ? "111111" : "000000");
      await page.getByTestId("verify-email-code").click();
      await page
        .getByTestId("email-error")
        .filter({ hasText: "验证码或链接错误或已过期" })
        .waitFor({ timeout: STEP_TIMEOUT_MS });
      await shoot(page, "email-wrong-code");

      // Asking again at once: saoma's 60 s interval, said readably.
      await page.getByTestId("send-email-link").click();
      await page.getByTestId("email-error").filter({ hasText: /请 \d+ 秒后再试/ }).waitFor({ timeout: STEP_TIMEOUT_MS });

      await page.fill("#token", code);
      await page.getByTestId("verify-email-code").click();
      await page.waitForURL(at(app.base, "/"), { timeout: STEP_TIMEOUT_MS });
      await page.getByTestId("email").waitFor();
      await shoot(page, "email-code-home");
      assert.equal(await page.getByTestId("email").textContent(), email);
    } finally {
      await context.close();
    }
  });

  test("忘记密码 → the reset link in the mailbox (saoma's /verify → /auth/confirm?code=) → 设置新密码 → only the new password signs in", async () => {
    const email = freshEmail("reset");
    const oldPassword = "old-password-1";
    const newPassword = "new-password-2";
    // An account with a password (saoma dev confirms sign-ups at once).
    const signup = await fetch(`${saoma.base}/auth/v1/signup`, {
      method: "POST",
      headers: { apikey: saoma.anonKey, "content-type": "application/json" },
      body: JSON.stringify({ email, password: oldPassword }),
    });
    assert.equal(signup.status, 200, await signup.text());

    const context = await browser.newContext({ viewport: { width: 1024, height: 900 } });
    try {
      const page = await context.newPage();
      await page.goto(`${app.base}/login/email`);
      await page.getByTestId("forgot-password").click();
      await page.waitForURL(at(app.base, "/forgot-password"), { timeout: STEP_TIMEOUT_MS });
      await page.fill("#email", email);
      await page.getByTestId("send-reset").click();
      await page.getByTestId("reset-sent").waitFor({ timeout: STEP_TIMEOUT_MS });
      await shoot(page, "reset-sent");

      // The built-in mail's link, clicked on the mailbox page (same browser: the PKCE code
      // verifier cookie the request set is there for /auth/confirm).
      const mailbox = await openMailbox(context, email, "reset");
      const link = mailbox.locator('.mail pre a[href*="/verify?"]').first();
      const href = new URL(await link.getAttribute("href"));
      assert.equal(href.searchParams.get("type"), "recovery");
      assert.equal(href.searchParams.get("redirect_to"), `${app.base}/auth/confirm?next=/update-password`);
      const trace = traceNavigations(mailbox);
      await link.click();
      await mailbox.waitForURL(at(app.base, "/update-password"), { timeout: STEP_TIMEOUT_MS }).catch((error) => {
        throw new Error(`${error.message}\nnavigations:\n${trace.join("\n")}`);
      });
      assert.ok(trace.some((line) => /^303 GET .*\/verify\?token=pkce_/.test(line)), trace.join("\n"));
      assert.ok(
        trace.some((line) => line.startsWith(`307 GET ${app.base}/auth/confirm?next=%2Fupdate-password&code=`) ||
          line.startsWith(`307 GET ${app.base}/auth/confirm?next=/update-password&code=`)),
        trace.join("\n"),
      );
      assert.equal(await mailbox.getByTestId("update-password-email").textContent(), `账号：${email}`);
      await shoot(mailbox, "reset-update-password");

      await mailbox.fill("#password", newPassword);
      await mailbox.fill("#confirm", `${newPassword}x`);
      await mailbox.getByTestId("save-password").click();
      await mailbox.getByTestId("update-password-error").filter({ hasText: "两次输入的密码不一致" }).waitFor({ timeout: STEP_TIMEOUT_MS });
      await mailbox.fill("#password", newPassword);
      await mailbox.fill("#confirm", newPassword);
      await mailbox.getByTestId("save-password").click();
      await mailbox.waitForURL((url) => url.origin === app.base && url.pathname === "/", { timeout: STEP_TIMEOUT_MS });
      await mailbox.getByTestId("password-updated").waitFor();
      await shoot(mailbox, "reset-done");
      await signOut(mailbox);

      // Signed out: the old password is refused, the new one signs in.
      await page.goto(`${app.base}/login/email`);
      await page.fill("#password-email", email);
      await page.fill("#password", oldPassword);
      await page.getByTestId("password-sign-in").click();
      await page.getByTestId("password-error").filter({ hasText: "邮箱或密码错误" }).waitFor({ timeout: STEP_TIMEOUT_MS });
      await shoot(page, "reset-old-password");
      await page.fill("#password-email", email);
      await page.fill("#password", newPassword);
      await page.getByTestId("password-sign-in").click();
      await page.waitForURL(at(app.base, "/"), { timeout: STEP_TIMEOUT_MS });
      assert.equal(await page.getByTestId("email").textContent(), email);
      await shoot(page, "reset-new-password-home");
    } finally {
      await context.close();
    }
  });
});
