// A real browser through the simulator's QR login: the desktop page shows a QR code, a second
// browser context (the "phone") opens what the code encodes and confirms or cancels, and the
// desktop page must reach the callback by itself, as it would with WeChat.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { decodeQr, launchBrowser, loginUrl, shoot, startSimulator } from "./helpers.mjs";

const CALLBACK_WAIT_MS = 10_000;

let sim;
let browser;

before(async () => {
  sim = await startSimulator();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await sim?.stop();
});

/** Opens the QR page on a desktop, decodes its QR code, opens that on a phone. */
async function scanFromPhone(prefix, state) {
  const desktop = await browser.newContext({ viewport: { width: 1024, height: 720 } });
  const page = await desktop.newPage();
  await page.goto(loginUrl(sim, state));
  const qr = page.locator("#qr");
  await page.waitForFunction(() => {
    const img = document.getElementById("qr");
    return img.complete && img.naturalWidth > 0;
  });
  await shoot(page, `${prefix}-1-qr-page`);
  const uuid = await qr.getAttribute("data-uuid");
  assert.match(uuid, /^[A-Za-z0-9]{16,}$/);

  const qrText = decodeQr(await shoot(qr, `${prefix}-2-qr-code`));
  assert.equal(qrText, `${sim.base}/sim/phone/${uuid}`);

  const handset = await browser.newContext({ viewport: { width: 390, height: 760 }, isMobile: true });
  const phone = await handset.newPage();
  await phone.goto(qrText);
  await shoot(phone, `${prefix}-3-phone`);
  await page.locator("#scanned").waitFor({ state: "visible" });
  await shoot(page, `${prefix}-4-qr-page-scanned`);
  return { desktop, page, handset, phone };
}

function isCallback(url) {
  return url.pathname === "/sim/echo-callback";
}

test("confirming on the phone sends the QR page to the callback with code and state", async () => {
  const { desktop, page, handset, phone } = await scanFromPhone("confirm", "abc123");
  try {
    await phone.check("input[name=persona][value=xiaohong]");
    await shoot(phone, "confirm-5-phone-persona");
    await phone.click("#confirm");
    await phone.locator("#result", { hasText: "已确认登录" }).waitFor();
    await shoot(phone, "confirm-6-phone-confirmed");

    await page.waitForURL(isCallback, { timeout: CALLBACK_WAIT_MS });
    await shoot(page, "confirm-7-callback");
    const landed = new URL(page.url());
    assert.equal(landed.origin, sim.base);
    assert.equal(landed.searchParams.get("state"), "abc123");
    const code = landed.searchParams.get("code");
    assert.match(code, /^[A-Za-z0-9]{16,}$/);

    // The code the browser carried is the one WeChat's API accepts, for the chosen persona.
    const token = await (
      await fetch(
        `${sim.api}/sns/oauth2/access_token?appid=wx_sim_website&secret=sim-website-secret` +
          `&code=${code}&grant_type=authorization_code`,
      )
    ).json();
    assert.ok(token.access_token, JSON.stringify(token));
    const info = await (
      await fetch(`${sim.api}/sns/userinfo?access_token=${token.access_token}&openid=${token.openid}`)
    ).json();
    assert.equal(info.nickname, "小红");
  } finally {
    await desktop.close();
    await handset.close();
  }
});

test("cancelling on the phone sends the QR page to the callback with state and no code", async () => {
  const { desktop, page, handset, phone } = await scanFromPhone("cancel", "abc123");
  try {
    await phone.click("#cancel");
    await phone.locator("#result", { hasText: "已取消登录" }).waitFor();
    await shoot(phone, "cancel-5-phone-cancelled");

    await page.waitForURL(isCallback, { timeout: CALLBACK_WAIT_MS });
    await shoot(page, "cancel-6-callback");
    const landed = new URL(page.url());
    assert.equal(landed.searchParams.get("state"), "abc123");
    assert.equal(landed.searchParams.has("code"), false);
  } finally {
    await desktop.close();
    await handset.close();
  }
});

test("the duplicate_redirect fault hits the callback twice with the same code", async () => {
  await sim.setFaults({ duplicate_redirect: true });
  const { desktop, page, handset, phone } = await scanFromPhone("duplicate", "dup42");
  try {
    const hits = [];
    page.on("request", (request) => {
      if (isCallback(new URL(request.url()))) hits.push(request.url());
    });
    await phone.click("#confirm");
    await page.waitForURL(isCallback, { timeout: CALLBACK_WAIT_MS });
    await shoot(page, "duplicate-5-callback");
    assert.equal(hits.length, 2, hits.join("\n"));
    assert.equal(hits[0], hits[1]);
    assert.match(hits[0], /[?&]code=[A-Za-z0-9]+&state=dup42$/);
  } finally {
    await sim.setFaults({});
    await desktop.close();
    await handset.close();
  }
});
