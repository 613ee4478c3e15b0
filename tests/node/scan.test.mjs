// Scan-to-log-in for websites without a verified WeChat website app, with an unmodified
// supabase-js against `saoma dev`: signInWithOAuth({ provider: 'wechat_mini_qr' }) (a
// mini-program code) and ({ provider: 'wechat_mp_qr' }) (follow the 公众号), PKCE and implicit,
// once per storage backend. The browser's part is played over HTTP as saoma's waiting page plays
// it (ticket, poll, then `location`); the phone reads the code off the page's image and acts
// through the simulator's phone routes. tests/e2e-nextjs plays the same in Chromium.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { createClient } from '@supabase/supabase-js';

import { startSaoma, createPgDatabase, pgBaseUrl } from './helpers.mjs';
import { decodeCodeImage, redirectOf, scanAndConfirm } from './wechat.mjs';

const APP = 'http://localhost:3000';
const MINI_PAGE = 'pages/scan-login/index';

async function json(res, what) {
  const body = await res.json();
  assert.equal(res.status, 200, `${what}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/**
 * The browser at saoma's waiting page: opens it and asks for a code as its script does
 * (relative to the page). Returns { pageUrl, ticket, poll() }.
 */
async function openWaitingPage(server, authorizeUrl) {
  const pageUrl = new URL(await redirectOf(authorizeUrl));
  assert.equal(pageUrl.pathname.replace(/^\/auth\/v1/, ''), '/scan_login', `saoma's own waiting page: ${pageUrl}`);
  assert.equal(pageUrl.origin, server.url);
  const page = await fetch(pageUrl);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /id="scan-code"/);

  const ticket = await json(
    await fetch(new URL('scan_login/ticket', pageUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ state: pageUrl.searchParams.get('state') }),
    }),
    'POST scan_login/ticket',
  );
  assert.ok(ticket.expires_in > 0 && ticket.poll_interval_ms > 0, JSON.stringify(ticket));
  // A POST, as the page polls: the secret stays out of URLs.
  const poll = async () =>
    json(
      await fetch(new URL('scan_login/poll', pageUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ scene: ticket.scene, secret: ticket.secret }),
      }),
      'POST scan_login/poll',
    );
  return { pageUrl, ticket, poll };
}

/** The simulated phone's routes, with JSON answers. */
async function phone(url, form) {
  const res = await fetch(url, {
    method: form ? 'POST' : 'GET',
    headers: { accept: 'application/json' },
    body: form ? new URLSearchParams(form) : undefined,
  });
  return json(res, `the phone at ${url}`);
}

/** The phone scans the mini-program code and confirms in the mini-program as `persona`. */
async function confirmInMiniProgram(server, waiting, persona) {
  const opened = new URL(decodeCodeImage(waiting.ticket.image));
  assert.equal(`${opened.origin}${opened.pathname}`, `${server.url}/wechat-sim/sim/mini/open`);
  assert.equal(opened.searchParams.get('appid'), 'wx_sim_mini');
  assert.equal(opened.searchParams.get('page'), MINI_PAGE);
  assert.equal(opened.searchParams.get('scene'), waiting.ticket.scene);

  const scanned = await phone(opened);
  assert.equal(scanned.status, 200, JSON.stringify(scanned));
  assert.equal(scanned.body.site, 'localhost', 'the mini-program says which site is asking');
  assert.equal((await waiting.poll()).status, 'scanned');

  const form = { appid: 'wx_sim_mini', scene: waiting.ticket.scene, persona };
  const confirmed = await phone(`${server.url}/wechat-sim/sim/mini/open/confirm`, form);
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed));
}

/** The phone scans the 公众号 code and follows (or enters) the account as `persona`. */
async function followOfficialAccount(server, waiting, persona) {
  const scanPage = decodeCodeImage(waiting.ticket.image);
  assert.match(scanPage, new RegExp(`^${server.url}/wechat-sim/sim/mp/scan/[^/]+$`));
  const shown = await fetch(scanPage);
  assert.equal(shown.status, 200);
  assert.match(await shown.text(), /关注公众号|进入公众号/);
  assert.equal((await waiting.poll()).status, 'waiting', 'looking at the account is not a login');

  const pushed = await phone(`${scanPage}/confirm`, { persona });
  assert.ok(pushed.pushed >= 1, `WeChat pushed the event to saoma: ${JSON.stringify(pushed)}`);
  assert.equal(pushed.status, 200, JSON.stringify(pushed));
  assert.equal(pushed.body, 'success');
}

const PHONES = { wechat_mini_qr: confirmInMiniProgram, wechat_mp_qr: followOfficialAccount };

/**
 * signInWithOAuth, the waiting page, the phone; then the page's own next step: once the poll
 * says `confirmed`, its `location` (saoma's /callback), which redirects to redirectTo.
 */
async function scanLogin(server, supabase, provider, persona, redirectTo) {
  const { data, error } = await supabase.auth.signInWithOAuth({
    provider,
    options: { redirectTo, skipBrowserRedirect: true },
  });
  assert.equal(error, null);
  const waiting = await openWaitingPage(server, data.url);
  assert.equal(waiting.ticket.provider, provider);
  assert.equal((await waiting.poll()).status, 'waiting');

  await PHONES[provider](server, waiting, persona);

  const answer = await waiting.poll();
  assert.equal(answer.status, 'confirmed', JSON.stringify(answer));
  const callback = new URL(answer.location, waiting.pageUrl);
  assert.equal(callback.pathname.replace(/^\/auth\/v1/, ''), '/callback');
  const back = await redirectOf(callback);
  assert.equal((await waiting.poll()).status, 'redeemed');
  return back;
}

function scanSuite(name, databaseUrl) {
  let server;
  before(async () => {
    server = await startSaoma({ command: 'dev', databaseUrl: await databaseUrl() });
  });
  after(async () => {
    await server?.stop();
  });

  const client = (flowType) =>
    createClient(server.url, server.anonKey, {
      auth: { flowType, persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    });

  /** PKCE: the code in redirectTo's query, exchanged by the client that started the flow. */
  async function pkceLogin(provider, persona) {
    const supabase = client('pkce');
    const back = new URL(await scanLogin(server, supabase, provider, persona, `${APP}/private`));
    assert.equal(`${back.origin}${back.pathname}`, `${APP}/private`);
    const code = back.searchParams.get('code');
    assert.ok(code, `a code in ${back}`);
    const exchanged = await supabase.auth.exchangeCodeForSession(code);
    assert.equal(exchanged.error, null);
    assert.ok(exchanged.data.session.access_token);
    const me = await supabase.auth.getUser();
    assert.equal(me.error, null);
    assert.equal(me.data.user.id, exchanged.data.user.id);
    return me.data.user;
  }

  /** Implicit: the session in redirectTo's fragment. */
  async function implicitLogin(provider, persona) {
    const supabase = client('implicit');
    const back = await scanLogin(server, supabase, provider, persona, `${APP}/welcome`);
    assert.ok(back.startsWith(`${APP}/welcome#`), back);
    const fragment = new URLSearchParams(back.split('#')[1]);
    const { error } = await supabase.auth.setSession({
      access_token: fragment.get('access_token'),
      refresh_token: fragment.get('refresh_token'),
    });
    assert.equal(error, null);
    const me = await supabase.auth.getUser();
    assert.equal(me.error, null);
    return me.data.user;
  }

  let firstUser;
  // app_metadata.provider is a user's first sign-in's, and one person is one user across every
  // WeChat login (unionid): each provider's first login here is a persona new to this server.
  test(`${name}: wechat_mini_qr, PKCE — scan, confirm in the mini-program, exchangeCodeForSession`, async () => {
    const user = await pkceLogin('wechat_mini_qr', 'xiaoming');
    assert.equal(user.app_metadata.provider, 'wechat_mini_qr');
    // WeChat gives scan logins no nickname: the person is their unionid and openid.
    assert.ok(user.user_metadata.unionid, JSON.stringify(user.user_metadata));
    assert.ok(user.user_metadata.openid);
    firstUser = user;
    assert.deepEqual(user.identities.map((i) => i.provider), ['wechat_mini_qr']);
  });

  test(`${name}: wechat_mini_qr, implicit — the session arrives in the URL fragment`, async () => {
    assert.ok(firstUser, 'signed in by the previous test');
    const user = await implicitLogin('wechat_mini_qr', 'xiaohong');
    assert.equal(user.app_metadata.provider, 'wechat_mini_qr');
    assert.notEqual(user.id, firstUser.id, 'another person, another user');
    assert.ok(user.user_metadata.unionid);
    assert.notEqual(user.user_metadata.unionid, firstUser.user_metadata.unionid);
  });

  let follower;
  test(`${name}: wechat_mp_qr, PKCE — scan, follow the 公众号, exchangeCodeForSession`, async () => {
    follower = await pkceLogin('wechat_mp_qr', 'laowang');
    assert.equal(follower.app_metadata.provider, 'wechat_mp_qr');
    assert.ok(follower.user_metadata.unionid, JSON.stringify(follower.user_metadata));
    assert.deepEqual(follower.identities.map((i) => i.provider), ['wechat_mp_qr']);
  });

  test(`${name}: wechat_mp_qr, implicit — a follower scanning again is the same user`, async () => {
    assert.ok(follower, 'signed in by the previous test');
    const user = await implicitLogin('wechat_mp_qr', 'laowang');
    assert.equal(user.id, follower.id);
    assert.equal(user.app_metadata.provider, 'wechat_mp_qr');
  });
}

describe('scan logins through supabase-js on SQLite', () => {
  scanSuite('sqlite', async () => undefined);
});

describe('scan logins through supabase-js on Postgres', { skip: pgBaseUrl ? false : 'SAOMA_TEST_PG_URL is not set: Postgres suite not run' }, () => {
  let db;
  scanSuite('postgres', async () => {
    db = await createPgDatabase();
    return db.url;
  });
  after(async () => {
    await db?.drop();
  });
});

describe('one person, one user: wechat_qr and wechat_mini_qr (unionid)', () => {
  let server;
  before(async () => {
    server = await startSaoma({ command: 'dev' });
  });
  after(async () => {
    await server?.stop();
  });

  test('小明 scanning the website QR code, then the mini-program code, is one user with both identities', async () => {
    const client = () =>
      createClient(server.url, server.anonKey, {
        auth: { flowType: 'pkce', persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      });
    const sessionFrom = async (supabase, back) => {
      const { data, error } = await supabase.auth.exchangeCodeForSession(new URL(back).searchParams.get('code'));
      assert.equal(error, null);
      return data.user;
    };

    const website = client();
    const { data } = await website.auth.signInWithOAuth({
      provider: 'wechat_qr',
      options: { redirectTo: `${APP}/private`, skipBrowserRedirect: true },
    });
    const byWebsite = await sessionFrom(website, await scanAndConfirm(await redirectOf(data.url), 'xiaoming'));
    assert.equal(byWebsite.app_metadata.provider, 'wechat_qr');

    const mini = client();
    const back = await scanLogin(server, mini, 'wechat_mini_qr', 'xiaoming', `${APP}/private`);
    const byMiniCode = await sessionFrom(mini, back);
    assert.equal(byMiniCode.id, byWebsite.id);
    const me = await mini.auth.getUser();
    assert.equal(me.data.user.id, byWebsite.id);
    assert.equal(me.data.user.app_metadata.provider, 'wechat_qr', "the first sign-in's provider");
    assert.deepEqual(me.data.user.identities.map((i) => i.provider).sort(), ['wechat_mini_qr', 'wechat_qr']);
  });
});
