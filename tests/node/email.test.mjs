// Email with an unmodified supabase-js against `saoma serve`, whose mail leaves through a real
// SMTP server on loopback (smtp-server, in this process: plain SMTP with AUTH): sign-up
// confirmation (implicit and PKCE), email codes and magic links, password recovery, the secure
// address change, resend, reauthentication, admin links and invitations, GoTrue's errors for
// wrong, reused and expired codes, a mail server outage, and a Supabase-style custom template.
// Every link and code is read from the DELIVERED message. Once per storage backend.
//
// Three servers per backend: the main one (codes live a day, a 1 s resend interval so resends
// are waited for, not raced, and reauthentication required for password changes), one whose
// codes live 2 s with GoTrue's 60 s interval (configured with GoTrue's GOTRUE_SMTP_* names),
// and one with a custom confirmation template.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { createClient } from '@supabase/supabase-js';

import { startSaoma, createPgDatabase, pgBaseUrl } from './helpers.mjs';
// The SMTP sink the Rust mail tests use too; its packages come from tests/smtp-sink/node_modules
// (`npm ci` there first, as scripts/test does).
import { SmtpSink } from '../smtp-sink/sink.mjs';
import { verifyLink, mailedCode, htmlLinks } from './mail.mjs';

const SMTP_USER = 'saoma-mailer';
const SMTP_PASS = `smtp-${randomBytes(8).toString('hex')}`;
const SENDER = 'noreply@mail.saoma.test';
const SENDER_NAME = '扫码 Saoma';
const SITE = 'http://127.0.0.1:3000';
const REDIRECT = `${SITE}/welcome`;
const PASSWORD = 'email-password-1';
const ACCEPTED = 'Confirmation link accepted. Please proceed to confirm link sent to the other email';

/** The custom template, as a Supabase project keeps it (Authentication → Email Templates). */
const SUPABASE_STYLE_CONFIRMATION = `<h2>Confirm your signup</h2>

<p>Follow this link to confirm your user:</p>
<p><a href="{{ .SiteURL }}/auth/confirm?token_hash={{ .TokenHash }}&type=email">Confirm your mail</a></p>
<p>Your code: {{ .Token }}</p>
`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Past the main server's 1 s resend interval. */
const pastInterval = () => sleep(1_100);

let counter = 0;
// A letter suffix: the mailed text shows the address, and digits there could pass for a code.
const freshEmail = (what) =>
  `${what}-${++counter}${String.fromCharCode(...randomBytes(5).map((b) => 97 + (b % 26)))}@example.com`;

const backends = [
  { name: 'sqlite', skip: false, database: async () => ({ url: undefined, drop: async () => {} }) },
  {
    name: 'postgres',
    skip: pgBaseUrl
      ? false
      : 'SAOMA_TEST_PG_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/postgres): Postgres suite not run',
    database: () => createPgDatabase(pgBaseUrl),
  },
];

/** One SMTP sink for the file (tests run one after another; one of them stops it a while). */
const sink = new SmtpSink({ user: SMTP_USER, pass: SMTP_PASS });
before(() => sink.start());
after(() => sink.stop());

/** The settings that send the main servers' mail to the sink. */
const smtpEnv = () => ({
  SAOMA_SMTP_HOST: '127.0.0.1',
  SAOMA_SMTP_PORT: String(sink.port),
  SAOMA_SMTP_SECURITY: 'none',
  SAOMA_SMTP_USER: SMTP_USER,
  SAOMA_SMTP_PASS: SMTP_PASS,
  SAOMA_SMTP_ADMIN_EMAIL: SENDER,
  SAOMA_SMTP_SENDER_NAME: SENDER_NAME,
  SAOMA_SMTP_TIMEOUT_SECONDS: '3',
});

/** `saoma serve` with mail to the sink and `await env()` on a fresh database of `backend`. */
function mailServer(backend, env) {
  const handle = { server: undefined };
  let db;
  before(async () => {
    db = await backend.database();
    try {
      handle.server = await startSaoma({
        databaseUrl: db.url,
        env: {
          SAOMA_MAILER_AUTOCONFIRM: 'false',
          SAOMA_RATE_LIMIT_EMAIL_SENT: '100000',
          ...(await env()),
        },
      });
    } catch (err) {
      await db.drop().catch(() => {});
      db = undefined;
      throw err;
    }
  });
  after(async () => {
    try {
      await handle.server?.stop();
    } finally {
      await db?.drop();
    }
  });
  return handle;
}

const newClient = (server, flowType = 'implicit') =>
  createClient(server.url, server.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false, flowType },
  });

const adminClient = (server) =>
  createClient(server.url, server.serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  }).auth.admin;

/** supabase-js's AuthApiError, as GoTrue would answer it. */
function assertAuthError(error, status, code, what) {
  assert.ok(error, `${what}: an error`);
  assert.equal(error.status, status, `${what}: status (${error.message})`);
  assert.equal(error.code, code, `${what}: error code (${error.message})`);
}

/** A 503 from saoma, as supabase-js hands every 5xx over: retryable, with saoma's message. */
function assertUnavailable(error, what) {
  assert.ok(error, `${what}: an error`);
  assert.equal(error.name, 'AuthRetryableFetchError', `${what}: ${error.message}`);
  assert.equal(error.status, 503, `${what}: status`);
  assert.match(error.message, /mail server/i, `${what}: the message says why`);
}

/** The newest of `count` mails to `address`. */
async function newestMail(address, count = 1) {
  const messages = await sink.waitFor(address, count);
  assert.equal(messages.length, count, `mails to ${address}: ${messages.map((m) => m.subject)}`);
  return messages[0];
}

/** Nothing more reached `address` than `count` mails, a moment after the request. */
async function assertNoMoreMail(address, count = 0) {
  await sleep(300);
  assert.equal(sink.messagesTo(address).length, count, `mails to ${address}`);
}

/** Opens a mailed link as a browser would, without following the redirect: its target. */
async function follow(link) {
  const res = await fetch(link, { redirect: 'manual' });
  await res.arrayBuffer();
  assert.equal(res.status, 303, `GET ${link}: ${res.status}`);
  return new URL(res.headers.get('location'));
}

const fragment = (url) => new URLSearchParams(url.hash.slice(1));
const landing = (url) => `${url.origin}${url.pathname}`;

/** The link's target carries a session in its fragment (implicit flow): sets it on a client. */
async function sessionFromFragment(server, target, type) {
  const pairs = fragment(target);
  assert.equal(pairs.get('error'), null, `no error: ${target.hash}`);
  assert.equal(pairs.get('type'), type);
  assert.equal(pairs.get('token_type'), 'bearer');
  assert.ok(Number(pairs.get('expires_in')) > 0 && Number(pairs.get('expires_at')) > 0);
  const client = newClient(server);
  const { data, error } = await client.auth.setSession({
    access_token: pairs.get('access_token'),
    refresh_token: pairs.get('refresh_token'),
  });
  assert.equal(error, null);
  return { client, user: data.user };
}

/** GoTrue's refusal of a dead link: back to the app with the error in the fragment. */
function assertLinkRefused(target, landingUrl = REDIRECT) {
  assert.equal(landing(target), landingUrl);
  const pairs = fragment(target);
  assert.equal(pairs.get('error'), 'access_denied', target.hash);
  assert.equal(pairs.get('error_code'), 'otp_expired');
  assert.equal(pairs.get('error_description'), 'Email link is invalid or has expired');
  assert.equal(pairs.get('access_token'), null);
}

/** A confirmed account, signed in on a client: sign-up, then the mailed code. */
async function confirmedUser(server) {
  const email = freshEmail('user');
  const client = newClient(server);
  assert.equal((await client.auth.signUp({ email, password: PASSWORD })).error, null);
  const token = mailedCode(await newestMail(email));
  const { data, error } = await client.auth.verifyOtp({ email, token, type: 'signup' });
  assert.equal(error, null);
  assert.ok(data.session?.access_token);
  return { email, client, user: data.user };
}

async function assertPassword(server, email, password, works) {
  const { data, error } = await newClient(server).auth.signInWithPassword({ email, password });
  if (works) {
    assert.equal(error, null, `${email} signs in with ${password}`);
    assert.equal(data.user.email, email);
  } else {
    assertAuthError(error, 400, 'invalid_credentials', `${email} with ${password}`);
  }
}

/** GoTrue's (unkeyed) token hash: hex SHA-224 of the address followed by the code. saoma keys
 * its emailed codes' hashes with the server secret, so this must never be a working link. */
const tokenHash = (email, otp) => createHash('sha224').update(email + otp).digest('hex');

/** A code that is not `code`. */
const otherCode = (code) => (code === '000000' ? '111111' : '000000');

/**
 * An access token for `accessToken`'s user without a `session_id` claim, signed with the
 * server's secret, as an admin-minted token would be: GoTrue has no session to date it by, so
 * a password change needs reauthentication (a session over a day old cannot be had here).
 */
function sessionlessToken(server, accessToken) {
  const [headerPart, payloadPart] = accessToken.split('.');
  const header = JSON.parse(Buffer.from(headerPart, 'base64url'));
  assert.equal(header.alg, 'HS256', 'the servers here sign with their HS256 secret');
  const claims = JSON.parse(Buffer.from(payloadPart, 'base64url'));
  delete claims.session_id;
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode(header)}.${encode(claims)}`;
  const signature = createHmac('sha256', server.jwtSecret).update(unsigned).digest('base64url');
  return `${unsigned}.${signature}`;
}

for (const backend of backends) {
  describe(`email through a real SMTP server (${backend.name})`, { skip: backend.skip }, () => {
    describe('codes that live a day, a 1 s resend interval', () => {
      const main = mailServer(backend, () => ({
        ...smtpEnv(),
        SAOMA_SMTP_MAX_FREQUENCY: '1',
        SAOMA_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION: 'true',
      }));

      test('signUp → a well-formed mail through SMTP (AUTH) → its link signs in once (implicit flow)', async () => {
        const { server } = main;
        const email = freshEmail('signup');
        const supabase = newClient(server);
        const signedUp = await supabase.auth.signUp({
          email,
          password: PASSWORD,
          options: { emailRedirectTo: REDIRECT, data: { name: '小明' } },
        });
        assert.equal(signedUp.error, null);
        assert.equal(signedUp.data.session, null, 'no session before the address is confirmed');
        assert.equal(signedUp.data.user.email, email);
        assert.ok(signedUp.data.user.confirmation_sent_at, 'confirmation_sent_at');
        assert.equal(signedUp.data.user.email_confirmed_at ?? null, null);

        const early = await newClient(server).auth.signInWithPassword({ email, password: PASSWORD });
        assertAuthError(early.error, 400, 'email_not_confirmed', 'a password sign-in before confirming');

        const mail = await newestMail(email);
        assert.equal(mail.authUser, SMTP_USER, 'saoma logged in to the SMTP server');
        assert.equal(sink.refusedLogins, 0);
        assert.deepEqual(mail.from, { address: SENDER, name: SENDER_NAME });
        assert.ok(mail.subject.length > 0, 'a subject');
        assert.ok(mail.messageId?.endsWith('@mail.saoma.test>'), `Message-ID at the sender's domain: ${mail.messageId}`);
        assert.ok(mail.date instanceof Date && Math.abs(mail.date - Date.now()) < 60_000, 'a Date');
        assert.match(mail.contentType, /^multipart\/alternative/);
        const link = verifyLink(mail);
        const code = mailedCode(mail);
        assert.match(code, /^\d{6}$/);
        assert.ok(mail.html.includes(code), 'the HTML shows the code');
        assert.ok(htmlLinks(mail).includes(link), 'the HTML links to the same URL');

        const url = new URL(link);
        assert.equal(url.origin, server.url);
        assert.equal(url.searchParams.get('type'), 'signup');
        assert.equal(url.searchParams.get('redirect_to'), REDIRECT);
        assert.match(url.searchParams.get('token'), /^[0-9a-f]{56}$/, "the link carries a hash in GoTrue's shape");
        assert.notEqual(url.searchParams.get('token'), tokenHash(email, code), 'one nobody can compute from the address and the code');

        const target = await follow(link);
        assert.equal(landing(target), REDIRECT);
        const { client, user } = await sessionFromFragment(server, target, 'signup');
        assert.equal(user.id, signedUp.data.user.id);
        assert.ok(user.email_confirmed_at, 'the address is confirmed');
        assert.equal(user.user_metadata.name, '小明');
        assert.equal((await client.auth.getUser()).data.user.email, email);
        await assertPassword(server, email, PASSWORD, true);

        // The link and the code of the same mail are spent.
        assertLinkRefused(await follow(link));
        const again = await newClient(server).auth.verifyOtp({ email, token: code, type: 'email' });
        assertAuthError(again.error, 403, 'otp_expired', 'the used code');
      });

      test('signUp with a PKCE client → the link lands with ?code= → exchangeCodeForSession', async () => {
        const { server } = main;
        const email = freshEmail('pkce-signup');
        const supabase = newClient(server, 'pkce');
        const signedUp = await supabase.auth.signUp({
          email,
          password: PASSWORD,
          options: { emailRedirectTo: REDIRECT },
        });
        assert.equal(signedUp.error, null);
        const link = verifyLink(await newestMail(email));
        assert.match(new URL(link).searchParams.get('token'), /^pkce_[0-9a-f]{56}$/);

        const target = await follow(link);
        assert.equal(landing(target), REDIRECT);
        assert.equal(target.hash, '', 'no session in the fragment');
        const code = target.searchParams.get('code');
        assert.ok(code, `a code in ${target}`);
        const { data, error } = await supabase.auth.exchangeCodeForSession(code);
        assert.equal(error, null);
        assert.ok(data.session.access_token);
        assert.equal(data.user.id, signedUp.data.user.id);
        assert.ok(data.user.email_confirmed_at);
        await assertPassword(server, email, PASSWORD, true);
      });

      test('signInWithOtp({email}): a new address gets a code for verifyOtp({type:"email"}); the account then gets magic links', async () => {
        const { server } = main;
        const email = freshEmail('otp');
        const supabase = newClient(server);
        const sent = await supabase.auth.signInWithOtp({ email, options: { emailRedirectTo: REDIRECT } });
        assert.equal(sent.error, null);
        assert.equal(sent.data.user, null);
        assert.equal(sent.data.session, null);

        const first = await newestMail(email);
        const verified = await supabase.auth.verifyOtp({ email, token: mailedCode(first), type: 'email' });
        assert.equal(verified.error, null);
        assert.ok(verified.data.session.access_token);
        assert.equal(verified.data.user.email, email);
        assert.ok(verified.data.user.email_confirmed_at);

        // Now a confirmed account: a magic link (recovery slot), code and link in one mail.
        assert.equal((await newClient(server).auth.signInWithOtp({ email })).error, null);
        const second = await newestMail(email, 2);
        const link = verifyLink(second);
        assert.equal(new URL(link).searchParams.get('type'), 'magiclink');
        const byCode = await newClient(server).auth.verifyOtp({ email, token: mailedCode(second), type: 'email' });
        assert.equal(byCode.error, null);
        assert.equal(byCode.data.user.id, verified.data.user.id, 'one address, one account');
        // The mail's code and link are one token: the link died with the code.
        assertLinkRefused(await follow(link), `${SITE}/`);

        // A third mail, signed in by its link this time.
        await pastInterval();
        assert.equal((await newClient(server).auth.signInWithOtp({ email, options: { emailRedirectTo: REDIRECT } })).error, null);
        const byLink = await sessionFromFragment(server, await follow(verifyLink(await newestMail(email, 3))), 'magiclink');
        assert.equal(byLink.user.id, verified.data.user.id);

        const unknown = freshEmail('nobody');
        const refused = await newClient(server).auth.signInWithOtp({ email: unknown, options: { shouldCreateUser: false } });
        assertAuthError(refused.error, 422, 'otp_disabled', 'shouldCreateUser: false for an unknown address');
        await assertNoMoreMail(unknown);
      });

      test('signInWithOtp with a PKCE client: the magic link lands with ?code= for exchangeCodeForSession', async () => {
        const { server } = main;
        const { email, user } = await confirmedUser(server);
        const supabase = newClient(server, 'pkce');
        assert.equal((await supabase.auth.signInWithOtp({ email, options: { emailRedirectTo: REDIRECT } })).error, null);
        const link = verifyLink(await newestMail(email, 2));
        assert.match(new URL(link).searchParams.get('token'), /^pkce_/);
        const target = await follow(link);
        assert.equal(landing(target), REDIRECT);
        const { data, error } = await supabase.auth.exchangeCodeForSession(target.searchParams.get('code'));
        assert.equal(error, null);
        assert.equal(data.user.id, user.id);
      });

      test('resetPasswordForEmail → verifyOtp({type:"recovery"}) → updateUser({password}); unknown addresses get the same answer and no mail', async () => {
        const { server } = main;
        const { email, user } = await confirmedUser(server);
        const reset = await newClient(server).auth.resetPasswordForEmail(email, { redirectTo: REDIRECT });
        assert.equal(reset.error, null);
        assert.deepEqual(reset.data, {});

        const mail = await newestMail(email, 2);
        assert.equal(new URL(verifyLink(mail)).searchParams.get('type'), 'recovery');
        const supabase = newClient(server);
        const verified = await supabase.auth.verifyOtp({ email, token: mailedCode(mail), type: 'recovery' });
        assert.equal(verified.error, null);
        assert.equal(verified.data.user.id, user.id);
        const updated = await supabase.auth.updateUser({ password: 'a-new-password-2' });
        assert.equal(updated.error, null);
        await assertPassword(server, email, PASSWORD, false);
        await assertPassword(server, email, 'a-new-password-2', true);

        const unknown = freshEmail('nobody');
        const same = await newClient(server).auth.resetPasswordForEmail(unknown);
        assert.equal(same.error, null);
        assert.deepEqual(same.data, {});
        await assertNoMoreMail(unknown);
      });

      test('resetPasswordForEmail with a PKCE client: the link → ?code= → exchangeCodeForSession → updateUser({password})', async () => {
        const { server } = main;
        const { email, user } = await confirmedUser(server);
        const supabase = newClient(server, 'pkce');
        assert.equal((await supabase.auth.resetPasswordForEmail(email, { redirectTo: REDIRECT })).error, null);
        const target = await follow(verifyLink(await newestMail(email, 2)));
        assert.equal(landing(target), REDIRECT);
        const { data, error } = await supabase.auth.exchangeCodeForSession(target.searchParams.get('code'));
        assert.equal(error, null);
        assert.equal(data.user.id, user.id);
        assert.equal((await supabase.auth.updateUser({ password: 'a-new-password-3' })).error, null);
        await assertPassword(server, email, 'a-new-password-3', true);
      });

      test('updateUser({email}): a mail to each address; the current one\'s link, then the new one\'s code, complete the change', async () => {
        const { server } = main;
        const { email, client } = await confirmedUser(server);
        const newEmail = freshEmail('moved');
        const asked = await client.auth.updateUser({ email: newEmail }, { emailRedirectTo: REDIRECT });
        assert.equal(asked.error, null);
        assert.equal(asked.data.user.email, email, 'the address stays until confirmed');
        assert.equal(asked.data.user.new_email, newEmail);
        assert.ok(asked.data.user.email_change_sent_at);

        const toCurrent = await newestMail(email, 2);
        const toNew = await newestMail(newEmail);
        for (const mail of [toCurrent, toNew]) {
          assert.ok(mail.text.includes(newEmail), 'the mail names the new address');
          assert.equal(new URL(verifyLink(mail)).searchParams.get('type'), 'email_change');
        }
        assert.notEqual(mailedCode(toCurrent), mailedCode(toNew), 'one code per address');

        const first = await follow(verifyLink(toCurrent));
        assert.equal(landing(first), REDIRECT);
        assert.equal(fragment(first).get('message'), ACCEPTED);
        assert.equal(fragment(first).get('access_token'), null);
        assert.equal((await client.auth.getUser()).data.user.email, email, 'one confirmation is not enough');

        const done = await newClient(server).auth.verifyOtp({ email: newEmail, token: mailedCode(toNew), type: 'email_change' });
        assert.equal(done.error, null);
        assert.ok(done.data.session.access_token);
        assert.equal(done.data.user.email, newEmail);
        assert.equal((await client.auth.getUser()).data.user.email, newEmail);
        await assertPassword(server, newEmail, PASSWORD, true);
        await assertPassword(server, email, PASSWORD, false);
      });

      test('resend({type:"email_change"}) mails both addresses anew; the current code answers "accepted", the new link finishes', async () => {
        const { server } = main;
        const { email, client } = await confirmedUser(server);
        const newEmail = freshEmail('moved');
        assert.equal((await client.auth.updateUser({ email: newEmail }, { emailRedirectTo: REDIRECT })).error, null);
        const oldCurrentCode = mailedCode(await newestMail(email, 2));
        await newestMail(newEmail);

        await pastInterval();
        const resent = await newClient(server).auth.resend({ type: 'email_change', email, options: { emailRedirectTo: REDIRECT } });
        assert.equal(resent.error, null);
        const toCurrent = await newestMail(email, 3);
        const toNew = await newestMail(newEmail, 2);

        const stale = await newClient(server).auth.verifyOtp({ email, token: oldCurrentCode, type: 'email_change' });
        assertAuthError(stale.error, 403, 'otp_expired', 'the code of the replaced mail');

        const accepted = await newClient(server).auth.verifyOtp({ email, token: mailedCode(toCurrent), type: 'email_change' });
        assert.equal(accepted.error, null);
        assert.equal(accepted.data.session, null, 'no session after the first confirmation');

        const { user } = await sessionFromFragment(server, await follow(verifyLink(toNew)), 'email_change');
        assert.equal(user.email, newEmail);
      });

      test('resend({type:"signup"}) after the interval: a new code that confirms, the old one dead; nothing for unknown addresses', async () => {
        const { server } = main;
        const email = freshEmail('resend');
        assert.equal((await newClient(server).auth.signUp({ email, password: PASSWORD })).error, null);
        const oldCode = mailedCode(await newestMail(email));

        await pastInterval();
        const resent = await newClient(server).auth.resend({ type: 'signup', email });
        assert.equal(resent.error, null);
        const newCode = mailedCode(await newestMail(email, 2));
        const stale = await newClient(server).auth.verifyOtp({ email, token: oldCode, type: 'signup' });
        assertAuthError(stale.error, 403, 'otp_expired', 'the replaced code');
        const verified = await newClient(server).auth.verifyOtp({ email, token: newCode, type: 'signup' });
        assert.equal(verified.error, null);
        assert.ok(verified.data.user.email_confirmed_at);

        // A confirmed account and an unknown address: the same quiet answer, no mail.
        await pastInterval();
        assert.equal((await newClient(server).auth.resend({ type: 'signup', email })).error, null);
        await assertNoMoreMail(email, 2);
        const unknown = freshEmail('nobody');
        assert.equal((await newClient(server).auth.resend({ type: 'signup', email: unknown })).error, null);
        await assertNoMoreMail(unknown);
      });

      test('reauthenticate() mails a code; updateUser({password, nonce}) takes it; where the rule applies a missing or wrong nonce is refused', async () => {
        const { server } = main;
        const { email, client } = await confirmedUser(server);

        // A fresh session (under a day old): GoTrue does not ask for the nonce, but takes it.
        assert.equal((await client.auth.reauthenticate()).error, null);
        const mail = await newestMail(email, 2);
        const nonce = mailedCode(mail);
        assert.ok(mail.subject.includes(nonce), `the subject shows the code: ${mail.subject}`);
        assert.equal((await client.auth.updateUser({ password: 'reauth-password-2', nonce })).error, null);
        await assertPassword(server, email, 'reauth-password-2', true);

        // A token without a session (as an admin would mint): the rule applies.
        const { data: current } = await client.auth.getSession();
        const sessionless = newClient(server);
        const set = await sessionless.auth.setSession({
          access_token: sessionlessToken(server, current.session.access_token),
          refresh_token: 'not-used',
        });
        assert.equal(set.error, null);
        const missing = await sessionless.auth.updateUser({ password: 'reauth-password-3' });
        assertAuthError(missing.error, 400, 'reauthentication_needed', 'no nonce');

        await pastInterval();
        assert.equal((await sessionless.auth.reauthenticate()).error, null);
        const code = mailedCode(await newestMail(email, 3));
        const wrong = await sessionless.auth.updateUser({ password: 'reauth-password-3', nonce: otherCode(code) });
        assertAuthError(wrong.error, 422, 'reauthentication_not_valid', 'a wrong nonce');
        assert.equal((await sessionless.auth.updateUser({ password: 'reauth-password-3', nonce: code })).error, null);
        await assertPassword(server, email, 'reauth-password-3', true);
        const reused = await sessionless.auth.updateUser({ password: 'reauth-password-4', nonce: code });
        assertAuthError(reused.error, 422, 'reauthentication_not_valid', 'a used nonce');
      });

      test('auth.admin.generateLink for every type: GoTrue\'s properties, working links and codes, and no mail', async () => {
        const { server } = main;
        const admin = adminClient(server);
        const before = sink.delivered.length;
        const checkProperties = (properties, email, type, verificationType = type) => {
          assert.match(properties.email_otp, /^\d{6}$/);
          assert.match(properties.hashed_token, /^[0-9a-f]{56}$/);
          assert.equal(properties.verification_type, verificationType);
          assert.equal(properties.redirect_to, REDIRECT);
          const link = new URL(properties.action_link);
          assert.equal(`${link.origin}${link.pathname}`, `${server.url}/verify`);
          assert.equal(link.searchParams.get('token'), properties.hashed_token);
          assert.equal(link.searchParams.get('redirect_to'), REDIRECT);
          assert.equal(link.searchParams.get('type'), type);
          assert.match(properties.hashed_token, /^[0-9a-f]{56}$/);
          assert.notEqual(properties.hashed_token, tokenHash(email, properties.email_otp));
        };
        const options = { redirectTo: REDIRECT };

        // signup: a new account with the password; its link confirms and signs in.
        const signupEmail = freshEmail('gen-signup');
        const signup = await admin.generateLink({ type: 'signup', email: signupEmail, password: PASSWORD, options: { ...options, data: { plan: 'pro' } } });
        assert.equal(signup.error, null);
        checkProperties(signup.data.properties, signupEmail, 'signup');
        assert.equal(signup.data.user.email, signupEmail);
        assert.equal(signup.data.user.user_metadata.plan, 'pro');
        const signedUp = await sessionFromFragment(server, await follow(signup.data.properties.action_link), 'signup');
        assert.equal(signedUp.user.id, signup.data.user.id);
        await assertPassword(server, signupEmail, PASSWORD, true);
        const taken = await admin.generateLink({ type: 'signup', email: signupEmail, password: PASSWORD });
        assertAuthError(taken.error, 422, 'email_exists', 'signup for a confirmed address');

        // invite: verifyOtp({token_hash}) accepts the hashed token.
        const inviteEmail = freshEmail('gen-invite');
        const invite = await admin.generateLink({ type: 'invite', email: inviteEmail, options });
        assert.equal(invite.error, null);
        checkProperties(invite.data.properties, inviteEmail, 'invite');
        assert.ok(invite.data.user.invited_at, 'invited_at');
        const invited = await newClient(server).auth.verifyOtp({ token_hash: invite.data.properties.hashed_token, type: 'invite' });
        assert.equal(invited.error, null);
        assert.equal(invited.data.user.email, inviteEmail);

        // magiclink: an existing account by email_otp; an unknown address is signed up.
        const magic = await admin.generateLink({ type: 'magiclink', email: signupEmail, options });
        assert.equal(magic.error, null);
        checkProperties(magic.data.properties, signupEmail, 'magiclink');
        const byOtp = await newClient(server).auth.verifyOtp({ email: signupEmail, token: magic.data.properties.email_otp, type: 'magiclink' });
        assert.equal(byOtp.error, null);
        assert.equal(byOtp.data.user.id, signup.data.user.id);
        const newcomerEmail = freshEmail('gen-magic');
        const newcomer = await admin.generateLink({ type: 'magiclink', email: newcomerEmail, options });
        assert.equal(newcomer.error, null);
        checkProperties(newcomer.data.properties, newcomerEmail, 'signup', 'signup');
        const joined = await sessionFromFragment(server, await follow(newcomer.data.properties.action_link), 'signup');
        assert.equal(joined.user.email, newcomerEmail);

        // recovery: a session to set a new password with.
        const recovery = await admin.generateLink({ type: 'recovery', email: signupEmail, options });
        assert.equal(recovery.error, null);
        checkProperties(recovery.data.properties, signupEmail, 'recovery');
        const recovering = newClient(server);
        assert.equal((await recovering.auth.verifyOtp({ token_hash: recovery.data.properties.hashed_token, type: 'recovery' })).error, null);
        assert.equal((await recovering.auth.updateUser({ password: 'generated-password-2' })).error, null);
        await assertPassword(server, signupEmail, 'generated-password-2', true);
        const unknownRecovery = await admin.generateLink({ type: 'recovery', email: freshEmail('nobody') });
        assertAuthError(unknownRecovery.error, 404, 'user_not_found', 'recovery for an unknown address');

        // email_change_current + email_change_new: both links (secure change) move the account.
        const newEmail = freshEmail('gen-moved');
        const current = await admin.generateLink({ type: 'email_change_current', email: signupEmail, newEmail, options });
        assert.equal(current.error, null);
        assert.equal(current.data.properties.verification_type, 'email_change_current');
        assert.equal(current.data.user.new_email, newEmail);
        const currentLink = new URL(current.data.properties.action_link);
        assert.equal(currentLink.searchParams.get('type'), 'email_change');
        assert.match(current.data.properties.hashed_token, /^[0-9a-f]{56}$/);
        const next = await admin.generateLink({ type: 'email_change_new', email: signupEmail, newEmail, options });
        assert.equal(next.error, null);
        assert.equal(next.data.properties.verification_type, 'email_change_new');
        assert.equal(new URL(next.data.properties.action_link).searchParams.get('type'), 'email_change');
        assert.match(next.data.properties.email_otp, /^\d{6}$/);
        assert.equal(fragment(await follow(current.data.properties.action_link)).get('message'), ACCEPTED);
        const moved = await newClient(server).auth.verifyOtp({ email: newEmail, token: next.data.properties.email_otp, type: 'email_change' });
        assert.equal(moved.error, null);
        assert.equal(moved.data.user.email, newEmail);

        await sleep(300);
        assert.equal(sink.delivered.length, before, 'generateLink mails nothing');
      });

      test('auth.admin.inviteUserByEmail: the invitation\'s link signs the invited person in, who then sets a password', async () => {
        const { server } = main;
        const admin = adminClient(server);
        const email = freshEmail('invited');
        const invited = await admin.inviteUserByEmail(email, { redirectTo: REDIRECT, data: { team: '研发' } });
        assert.equal(invited.error, null);
        assert.equal(invited.data.user.email, email);
        assert.ok(invited.data.user.invited_at, 'invited_at');
        assert.equal(invited.data.user.user_metadata.team, '研发');

        const mail = await newestMail(email);
        assert.equal(mail.authUser, SMTP_USER);
        const link = verifyLink(mail);
        assert.equal(new URL(link).searchParams.get('type'), 'invite');
        const target = await follow(link);
        assert.equal(landing(target), REDIRECT);
        const { client, user } = await sessionFromFragment(server, target, 'invite');
        assert.equal(user.id, invited.data.user.id);
        assert.ok(user.email_confirmed_at);
        assert.equal((await client.auth.updateUser({ password: 'invited-password-1' })).error, null);
        await assertPassword(server, email, 'invited-password-1', true);

        const again = await admin.inviteUserByEmail(email);
        assertAuthError(again.error, 422, 'email_exists', 'inviting a confirmed address');
      });

      test('wrong, reused and forged codes and links → GoTrue\'s 403 otp_expired', async () => {
        const { server } = main;
        const email = freshEmail('wrong');
        assert.equal((await newClient(server).auth.signUp({ email, password: PASSWORD, options: { emailRedirectTo: REDIRECT } })).error, null);
        const mail = await newestMail(email);
        const code = mailedCode(mail);

        const wrong = await newClient(server).auth.verifyOtp({ email, token: otherCode(code), type: 'signup' });
        assertAuthError(wrong.error, 403, 'otp_expired', 'a wrong code');
        assert.equal(wrong.error.name, 'AuthApiError');
        assert.equal(wrong.error.message, 'Token has expired or is invalid');
        const forgedHash = await newClient(server).auth.verifyOtp({ token_hash: tokenHash(email, otherCode(code)), type: 'email' });
        assertAuthError(forgedHash.error, 403, 'otp_expired', 'a wrong token_hash');
        assert.equal(forgedHash.error.message, 'Email link is invalid or has expired');
        const forged = new URL(verifyLink(mail));
        forged.searchParams.set('token', tokenHash(email, otherCode(code)));
        assertLinkRefused(await follow(forged.toString()));

        // GoTrue's hash of the address and the RIGHT code is no link either: it could be
        // computed for every code by anyone who knows the address.
        const computed = await newClient(server).auth.verifyOtp({ token_hash: tokenHash(email, code), type: 'email' });
        assertAuthError(computed.error, 403, 'otp_expired', 'a token_hash computed from the address');

        const right = await newClient(server).auth.verifyOtp({ token_hash: new URL(verifyLink(mail)).searchParams.get('token'), type: 'email' });
        assert.equal(right.error, null);
        assert.equal(right.data.user.email, email);
        const reused = await newClient(server).auth.verifyOtp({ email, token: code, type: 'signup' });
        assertAuthError(reused.error, 403, 'otp_expired', 'a used code');
      });

      test('the SMTP server down: 503 email_send_failed and nothing half-done; back up, a resend goes out and works', async () => {
        const { server } = main;
        const email = freshEmail('outage');
        assert.equal((await newClient(server).auth.signUp({ email, password: PASSWORD })).error, null);
        await newestMail(email);
        await pastInterval();

        await sink.stop();
        try {
          // supabase-js turns every 5xx into an AuthRetryableFetchError (no code, GoTrue's
          // message, the status): the code is on the wire.
          const resend = await newClient(server).auth.resend({ type: 'signup', email });
          assertUnavailable(resend.error, 'resend while the mail server is down');
          const wire = await fetch(`${server.authUrl}/resend`, {
            method: 'POST',
            headers: { apikey: server.anonKey, 'content-type': 'application/json' },
            body: JSON.stringify({ type: 'signup', email }),
          });
          assert.equal(wire.status, 503);
          assert.equal(wire.headers.get('x-sb-error-code'), 'email_send_failed');
          const body = await wire.json();
          assert.equal(body.error_code, 'email_send_failed');
          assert.equal(body.msg, resend.error.message);

          const stranger = freshEmail('outage-new');
          const signUp = await newClient(server).auth.signUp({ email: stranger, password: PASSWORD });
          assertUnavailable(signUp.error, 'signUp while the mail server is down');
          const { data } = await adminClient(server).listUsers({ perPage: 1000 });
          assert.ok(!data.users.some((u) => u.email === stranger), 'the sign-up that could not mail is not kept');
          const otp = await newClient(server).auth.signInWithOtp({ email });
          assertUnavailable(otp.error, 'signInWithOtp while the mail server is down');
        } finally {
          await sink.start();
        }

        const resent = await newClient(server).auth.resend({ type: 'signup', email });
        assert.equal(resent.error, null, 'a resend once the server is back');
        const code = mailedCode(await newestMail(email, 2));
        const verified = await newClient(server).auth.verifyOtp({ email, token: code, type: 'signup' });
        assert.equal(verified.error, null);
        assert.ok(verified.data.user.email_confirmed_at);
      });
    });

    describe('codes that live 2 s, GoTrue\'s 60 s interval, GoTrue\'s setting names', () => {
      const short = mailServer(backend, () => ({
        GOTRUE_SMTP_HOST: '127.0.0.1',
        GOTRUE_SMTP_PORT: String(sink.port),
        GOTRUE_SMTP_USER: SMTP_USER,
        GOTRUE_SMTP_PASS: SMTP_PASS,
        GOTRUE_SMTP_ADMIN_EMAIL: SENDER,
        GOTRUE_SMTP_SENDER_NAME: SENDER_NAME,
        SAOMA_SMTP_SECURITY: 'none',
        SAOMA_MAILER_OTP_EXP: '2',
      }));

      test('a second mail inside smtp.max_frequency: 429; past mailer.otp_exp the code and the link: otp_expired', async () => {
        const { server } = short;
        const email = freshEmail('expiring');
        assert.equal((await newClient(server).auth.signUp({ email, password: PASSWORD, options: { emailRedirectTo: REDIRECT } })).error, null);
        const mail = await newestMail(email);
        assert.equal(mail.authUser, SMTP_USER);
        assert.deepEqual(mail.from, { address: SENDER, name: SENDER_NAME });

        const soon = await newClient(server).auth.resend({ type: 'signup', email });
        assertAuthError(soon.error, 429, 'over_email_send_rate_limit', 'a resend inside the interval');
        assert.match(soon.error.message, /^For security purposes, you can only request this after \d+ seconds\.$/);
        await assertNoMoreMail(email, 1);

        const otpEmail = freshEmail('expiring-otp');
        assert.equal((await newClient(server).auth.signInWithOtp({ email: otpEmail })).error, null);
        const otpMail = await newestMail(otpEmail);

        await sleep(2_600);
        const late = await newClient(server).auth.verifyOtp({ email, token: mailedCode(mail), type: 'signup' });
        assertAuthError(late.error, 403, 'otp_expired', 'a code past otp_exp');
        assertLinkRefused(await follow(verifyLink(mail)));
        const lateOtp = await newClient(server).auth.verifyOtp({ email: otpEmail, token: mailedCode(otpMail), type: 'email' });
        assertAuthError(lateOtp.error, 403, 'otp_expired', 'an email code past otp_exp');
      });
    });

    describe('a Supabase-style custom confirmation template', () => {
      let dir;
      const custom = mailServer(backend, async () => {
        dir = await mkdtemp(path.join(os.tmpdir(), 'saoma-template-'));
        const file = path.join(dir, 'confirmation.html');
        await writeFile(file, SUPABASE_STYLE_CONFIRMATION);
        return {
          ...smtpEnv(),
          SAOMA_MAILER_TEMPLATES_CONFIRMATION: file,
          SAOMA_MAILER_SUBJECTS_CONFIRMATION: 'Confirm {{ .Email }} for our app',
        };
      });
      after(() => dir && rm(dir, { recursive: true, force: true }));

      test('the delivered HTML carries {{ .SiteURL }}/auth/confirm?token_hash={{ .TokenHash }}&type=email and {{ .Token }}; verifyOtp({token_hash, type:"email"}) signs in', async () => {
        const { server } = custom;
        for (const flowType of ['pkce', 'implicit']) {
          const email = freshEmail(`template-${flowType}`);
          const supabase = newClient(server, flowType);
          assert.equal((await supabase.auth.signUp({ email, password: PASSWORD })).error, null);
          const mail = await newestMail(email);
          assert.equal(mail.subject, `Confirm ${email} for our app`);
          assert.ok(mail.html.includes('<h2>Confirm your signup</h2>'), mail.html);
          const [href] = htmlLinks(mail);
          const link = new URL(href);
          assert.equal(`${link.origin}${link.pathname}`, `${SITE}/auth/confirm`);
          assert.equal(link.searchParams.get('type'), 'email');
          const tokenHashParam = link.searchParams.get('token_hash');
          assert.match(tokenHashParam, flowType === 'pkce' ? /^pkce_[0-9a-f]{56}$/ : /^[0-9a-f]{56}$/);
          const code = /Your code: (\d{6})/.exec(mail.html)?.[1];
          assert.ok(code, `the code in ${mail.html}`);
          assert.ok(mail.text.includes(code), 'the text part shows the code too');

          // What the app's /auth/confirm route does on the server.
          const { data, error } = await newClient(server, flowType).auth.verifyOtp({ token_hash: tokenHashParam, type: 'email' });
          assert.equal(error, null, `${flowType}: verifyOtp`);
          assert.ok(data.session.access_token);
          assert.equal(data.user.email, email);
          assert.ok(data.user.email_confirmed_at);
          const again = await newClient(server).auth.verifyOtp({ token_hash: tokenHashParam, type: 'email' });
          assertAuthError(again.error, 403, 'otp_expired', `${flowType}: the template's link twice`);
        }
      });
    });
  });
}
