// signInWithOAuth({ provider: 'wechat_qr' }) with an unmodified supabase-js, PKCE and implicit,
// against `saoma dev` (the WeChat simulator on the same port), once per storage backend. The
// browser's part (QR page, phone, callback) is played over HTTP here; tests/browser and the
// Next.js end-to-end test play it in Chromium.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { createClient } from '@supabase/supabase-js';

import { startSaoma, createPgDatabase, pgBaseUrl } from './helpers.mjs';
import { redirectOf, scanAndConfirm } from './wechat.mjs';

const APP = 'http://localhost:3000';

function oauthSuite(name, databaseUrl) {
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

  test(`${name}: PKCE — signInWithOAuth, scan, exchangeCodeForSession`, async () => {
    const supabase = client('pkce');
    const { data, error } = await supabase.auth.signInWithOAuth({
      provider: 'wechat_qr',
      options: { redirectTo: `${APP}/private`, skipBrowserRedirect: true },
    });
    assert.equal(error, null);
    const authorize = new URL(data.url);
    assert.equal(authorize.pathname, '/auth/v1/authorize');
    assert.equal(authorize.searchParams.get('code_challenge_method'), 's256');

    const providerUrl = await redirectOf(data.url);
    assert.match(providerUrl, /\/connect\/qrconnect\?appid=wx_sim_website&/);
    const back = new URL(await scanAndConfirm(providerUrl, 'xiaoming'));
    assert.equal(`${back.origin}${back.pathname}`, `${APP}/private`);
    const code = back.searchParams.get('code');
    assert.ok(code, `a code in ${back}`);

    const exchanged = await supabase.auth.exchangeCodeForSession(code);
    assert.equal(exchanged.error, null);
    const { session, user } = exchanged.data;
    assert.equal(user.user_metadata.full_name, '小明');
    assert.ok(session.provider_token, 'provider_token from WeChat');
    assert.equal(user.app_metadata.provider, 'wechat_qr');

    const me = await supabase.auth.getUser();
    assert.equal(me.error, null);
    assert.equal(me.data.user.id, user.id);
    assert.equal(me.data.user.user_metadata.nickname, '小明');
  });

  test(`${name}: implicit — the session arrives in the URL fragment`, async () => {
    const supabase = client('implicit');
    const { data } = await supabase.auth.signInWithOAuth({
      provider: 'wechat_qr',
      options: { redirectTo: `${APP}/welcome`, skipBrowserRedirect: true },
    });
    assert.equal(new URL(data.url).searchParams.get('code_challenge'), null);
    const back = await scanAndConfirm(await redirectOf(data.url), 'xiaohong');
    assert.ok(back.startsWith(`${APP}/welcome#`), back);
    const fragment = new URLSearchParams(back.split('#')[1]);
    const { data: set, error } = await supabase.auth.setSession({
      access_token: fragment.get('access_token'),
      refresh_token: fragment.get('refresh_token'),
    });
    assert.equal(error, null);
    assert.equal(set.user.user_metadata.full_name, '小红');
  });

  test(`${name}: a cancelled scan comes back as access_denied`, async () => {
    const supabase = client('pkce');
    const { data } = await supabase.auth.signInWithOAuth({
      provider: 'wechat_qr',
      options: { redirectTo: `${APP}/private`, skipBrowserRedirect: true },
    });
    const back = new URL(await scanAndConfirm(await redirectOf(data.url), null));
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.match(back.searchParams.get('error_description'), /cancelled/);
  });
}

describe('wechat_qr through supabase-js on SQLite', () => {
  oauthSuite('sqlite', async () => undefined);
});

describe('wechat_qr through supabase-js on Postgres', { skip: pgBaseUrl ? false : 'SAOMA_TEST_PG_URL is not set: Postgres suite not run' }, () => {
  let db;
  oauthSuite('postgres', async () => {
    db = await createPgDatabase();
    return db.url;
  });
  after(async () => {
    await db?.drop();
  });
});
