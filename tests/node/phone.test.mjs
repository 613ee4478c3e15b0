// Phone sign-in with an unmodified supabase-js against `saoma dev`, whose codes go through the
// simulated Aliyun gateway into the simulator's inbox (on the same port, under /wechat-sim):
// signInWithOtp / verifyOtp, phone sign-up and password sign-in, resend, a number change, and
// GoTrue's errors for wrong, expired, over-guessed and too-frequent codes. Once per storage
// backend.
//
// Two servers per backend: one with codes that live long enough to read them at leisure and a
// 1 s resend interval (resend is waited for, not raced), and one with 2 s codes and GoTrue's 60 s
// interval (expiry is waited for, and a quick second send is surely inside the interval).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { createClient } from '@supabase/supabase-js';

import { startSaoma, createPgDatabase, pgBaseUrl } from './helpers.mjs';

const MAX_ATTEMPTS = 3;
const TEST_NUMBER = '8613700000000';
const TEST_CODE = '246810';
const PASSWORD = 'phone-password-1';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Distinct numbers per test: the simulated gateway allows one message a minute per number.
let nextNumber = 0;
const freshNumber = () => `+86139${String(++nextNumber).padStart(8, '0')}`;
/** How saoma (and GoTrue) store and return a number: digits with country code, no `+`. */
const stored = (phone) => phone.replace(/^\+/, '');

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

/** Starts `saoma dev` with `env` on a fresh database of `backend`; stops both afterwards. */
function devServer(backend, env) {
  const handle = { server: undefined };
  let db;
  before(async () => {
    db = await backend.database();
    try {
      handle.server = await startSaoma({ command: 'dev', databaseUrl: db.url, env });
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

const newClient = (server) =>
  createClient(server.url, server.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });

const sim = (server) => `${server.url}/wechat-sim/sim/sms`;

/** The simulator's inbox for `phone`, newest first. */
async function inbox(server, phone) {
  const res = await fetch(`${sim(server)}/inbox/${encodeURIComponent(phone)}`);
  assert.equal(res.status, 200, `GET inbox: ${res.status}`);
  return (await res.json()).messages;
}

/** The code of the newest message to `phone`, checking that `count` messages arrived so far. */
async function latestCode(server, phone, count = 1) {
  const messages = await inbox(server, phone);
  assert.equal(messages.length, count, `messages to ${phone}: ${JSON.stringify(messages)}`);
  const [newest] = messages;
  assert.match(newest.code ?? '', /^\d{6}$/, `a six-digit code in ${JSON.stringify(newest)}`);
  assert.ok(newest.text.includes(newest.code), `the text shows the code: ${newest.text}`);
  return newest.code;
}

/** Forgets the simulator's messages and the sends its per-number limits count. */
async function resetSimulator(server) {
  const res = await fetch(`${sim(server)}/reset`, { method: 'POST' });
  assert.equal(res.status, 204);
}

const otherCode = (code) => (code === '000000' ? '111111' : '000000');

/** supabase-js's AuthApiError, as GoTrue would answer it. */
function assertAuthError(error, status, code, what) {
  assert.ok(error, `${what}: an error`);
  assert.equal(error.status, status, `${what}: status (${error.message})`);
  assert.equal(error.code, code, `${what}: error code (${error.message})`);
}

function assertSession(data, phone, what) {
  assert.ok(data.session?.access_token, `${what}: an access token`);
  assert.ok(data.session.refresh_token, `${what}: a refresh token`);
  assert.equal(data.user.phone, stored(phone), `${what}: the user's phone`);
}

/** A signed-in client for a new number, by code. */
async function signedInByCode(server) {
  const phone = freshNumber();
  const supabase = newClient(server);
  assert.equal((await supabase.auth.signInWithOtp({ phone })).error, null);
  const token = await latestCode(server, phone);
  const { data, error } = await supabase.auth.verifyOtp({ phone, token, type: 'sms' });
  assert.equal(error, null);
  assertSession(data, phone, 'verifyOtp');
  return { supabase, phone, user: data.user };
}

for (const backend of backends) {
  describe(`phone sign-in through supabase-js (${backend.name})`, { skip: backend.skip }, () => {
    describe('codes that live a minute, a 1 s resend interval', () => {
      const dev = devServer(backend, {
        SAOMA_SMS_MAX_FREQUENCY: '1',
        SAOMA_SMS_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
        SAOMA_SMS_TEST_OTP: `${TEST_NUMBER}:${TEST_CODE}`,
      });

      test('signInWithOtp → the code in the inbox → verifyOtp: a session, getUser() shows the phone', async () => {
        const { server } = dev;
        const phone = freshNumber();
        const supabase = newClient(server);
        const sent = await supabase.auth.signInWithOtp({ phone });
        assert.equal(sent.error, null);
        // saoma answers {} to /otp: nothing to tell a known number from an unknown one.
        assert.equal(sent.data.user, null);
        assert.equal(sent.data.session, null);
        assert.equal(sent.data.messageId, undefined);

        const token = await latestCode(server, phone);
        const { data, error } = await supabase.auth.verifyOtp({ phone, token, type: 'sms' });
        assert.equal(error, null);
        assertSession(data, phone, 'verifyOtp');
        assert.ok(data.user.phone_confirmed_at, 'the number is confirmed');
        assert.equal(data.user.app_metadata.provider, 'phone');
        assert.deepEqual(data.user.identities.map((i) => i.provider), ['phone']);

        const me = await supabase.auth.getUser();
        assert.equal(me.error, null);
        assert.equal(me.data.user.id, data.user.id);
        assert.equal(me.data.user.phone, stored(phone));

        // A code works once.
        const again = await newClient(server).auth.verifyOtp({ phone, token, type: 'sms' });
        assertAuthError(again.error, 403, 'otp_expired', 'the same code twice');

        // Signing in again by code: the same user. (The reset lifts the simulated gateway's
        // one-a-minute limit for the number.)
        await resetSimulator(server);
        const second = newClient(server);
        assert.equal((await second.auth.signInWithOtp({ phone })).error, null);
        const next = await second.auth.verifyOtp({ phone, token: await latestCode(server, phone), type: 'sms' });
        assert.equal(next.error, null);
        assert.equal(next.data.user.id, data.user.id, 'one number, one account');
      });

      test('signUp({phone, password}) → verifyOtp → signInWithPassword({phone, password})', async () => {
        const { server } = dev;
        const phone = freshNumber();
        const supabase = newClient(server);
        const signedUp = await supabase.auth.signUp({ phone, password: PASSWORD });
        assert.equal(signedUp.error, null);
        assert.equal(signedUp.data.session, null, 'no session before the code comes back');
        assert.equal(signedUp.data.user.phone, stored(phone));
        assert.equal(signedUp.data.user.phone_confirmed_at ?? null, null);

        const early = await newClient(server).auth.signInWithPassword({ phone, password: PASSWORD });
        assertAuthError(early.error, 400, 'phone_not_confirmed', 'password sign-in before the code');

        const verified = await supabase.auth.verifyOtp({ phone, token: await latestCode(server, phone), type: 'sms' });
        assert.equal(verified.error, null);
        assertSession(verified.data, phone, 'verifyOtp after signUp');
        assert.equal(verified.data.user.id, signedUp.data.user.id);

        const other = newClient(server);
        const signedIn = await other.auth.signInWithPassword({ phone, password: PASSWORD });
        assert.equal(signedIn.error, null);
        assertSession(signedIn.data, phone, 'signInWithPassword');
        assert.equal(signedIn.data.user.id, signedUp.data.user.id);
        assert.equal((await other.auth.getUser()).data.user.phone, stored(phone));

        const wrong = await newClient(server).auth.signInWithPassword({ phone, password: 'not-the-password' });
        assertAuthError(wrong.error, 400, 'invalid_credentials', 'a wrong password');
      });

      test('resend({type: "sms"}) after the interval: a new code that signs in, the old one dead', async () => {
        const { server } = dev;
        const phone = freshNumber();
        const supabase = newClient(server);
        assert.equal((await supabase.auth.signUp({ phone, password: PASSWORD })).error, null);
        const first = await latestCode(server, phone);

        // Past sms.max_frequency (1 s); the reset lifts the simulated gateway's own
        // one-a-minute limit for the number, which a real gateway would also enforce.
        await sleep(1_100);
        await resetSimulator(server);
        const resent = await supabase.auth.resend({ type: 'sms', phone });
        assert.equal(resent.error, null);
        const second = await latestCode(server, phone);

        if (first !== second) {
          const old = await supabase.auth.verifyOtp({ phone, token: first, type: 'sms' });
          assertAuthError(old.error, 403, 'otp_expired', 'the replaced code');
        }
        const { data, error } = await supabase.auth.verifyOtp({ phone, token: second, type: 'sms' });
        assert.equal(error, null);
        assertSession(data, phone, 'verifyOtp with the resent code');
      });

      test('updateUser({phone}) → verifyOtp({type: "phone_change"}): the new number is the user\'s', async () => {
        const { server } = dev;
        const { supabase, phone: oldPhone, user } = await signedInByCode(server);
        const newPhone = freshNumber();

        const updated = await supabase.auth.updateUser({ phone: newPhone });
        assert.equal(updated.error, null);
        // Until the code comes back, the user keeps the old number.
        assert.equal(updated.data.user.phone, stored(oldPhone));
        assert.equal((await inbox(server, oldPhone)).length, 1, 'nothing more to the old number');

        const token = await latestCode(server, newPhone);
        const wrongType = await newClient(server).auth.verifyOtp({ phone: newPhone, token, type: 'sms' });
        assertAuthError(wrongType.error, 403, 'otp_expired', 'a phone_change code used as an sms one');

        const { data, error } = await supabase.auth.verifyOtp({ phone: newPhone, token, type: 'phone_change' });
        assert.equal(error, null);
        assertSession(data, newPhone, 'verifyOtp phone_change');
        assert.equal(data.user.id, user.id);

        const me = await supabase.auth.getUser();
        assert.equal(me.data.user.phone, stored(newPhone));
        const identity = me.data.user.identities.find((i) => i.provider === 'phone');
        assert.equal(identity?.identity_data?.phone, stored(newPhone), 'the phone identity follows');

        // The new number signs in as the same user; the old one is nobody's now.
        await resetSimulator(server);
        const viaNew = newClient(server);
        assert.equal((await viaNew.auth.signInWithOtp({ phone: newPhone, options: { shouldCreateUser: false } })).error, null);
        const back = await viaNew.auth.verifyOtp({ phone: newPhone, token: await latestCode(server, newPhone), type: 'sms' });
        assert.equal(back.error, null);
        assert.equal(back.data.user.id, user.id);
        const viaOld = await newClient(server).auth.signInWithOtp({ phone: oldPhone, options: { shouldCreateUser: false } });
        assertAuthError(viaOld.error, 422, 'otp_disabled', 'the old number without create_user');
      });

      test(`a wrong code: 403 otp_expired; the right one still works after ${MAX_ATTEMPTS - 1} wrong guesses`, async () => {
        const { server } = dev;
        const phone = freshNumber();
        const supabase = newClient(server);
        assert.equal((await supabase.auth.signInWithOtp({ phone })).error, null);
        const token = await latestCode(server, phone);

        for (let guess = 1; guess < MAX_ATTEMPTS; guess++) {
          const wrong = await supabase.auth.verifyOtp({ phone, token: otherCode(token), type: 'sms' });
          assertAuthError(wrong.error, 403, 'otp_expired', `wrong guess ${guess}`);
          assert.equal(wrong.error.message, 'Token has expired or is invalid');
          assert.equal(wrong.data.session, null);
        }
        const { data, error } = await supabase.auth.verifyOtp({ phone, token, type: 'sms' });
        assert.equal(error, null);
        assertSession(data, phone, 'the right code');
      });

      test(`${MAX_ATTEMPTS} wrong guesses kill the code: the right one then fails`, async () => {
        const { server } = dev;
        const phone = freshNumber();
        const supabase = newClient(server);
        assert.equal((await supabase.auth.signInWithOtp({ phone })).error, null);
        const token = await latestCode(server, phone);

        for (let guess = 1; guess <= MAX_ATTEMPTS; guess++) {
          const wrong = await supabase.auth.verifyOtp({ phone, token: otherCode(token), type: 'sms' });
          assertAuthError(wrong.error, 403, 'otp_expired', `wrong guess ${guess}`);
        }
        const late = await supabase.auth.verifyOtp({ phone, token, type: 'sms' });
        assertAuthError(late.error, 403, 'otp_expired', 'the right code after too many guesses');
        assert.equal(late.data.session, null);

        // A new code (after the interval) works again.
        await sleep(1_100);
        await resetSimulator(server);
        assert.equal((await supabase.auth.signInWithOtp({ phone })).error, null);
        const fresh = await supabase.auth.verifyOtp({ phone, token: await latestCode(server, phone), type: 'sms' });
        assert.equal(fresh.error, null);
        assertSession(fresh.data, phone, 'a new code');
      });

      test('a test number signs in with its fixed code; nothing reaches the gateway', async () => {
        const { server } = dev;
        const supabase = newClient(server);
        assert.equal((await supabase.auth.signInWithOtp({ phone: `+${TEST_NUMBER}` })).error, null);
        assert.deepEqual(await inbox(server, TEST_NUMBER), [], 'no message for a test number');

        const wrong = await supabase.auth.verifyOtp({ phone: `+${TEST_NUMBER}`, token: otherCode(TEST_CODE), type: 'sms' });
        assertAuthError(wrong.error, 403, 'otp_expired', 'a wrong code for a test number');
        const { data, error } = await supabase.auth.verifyOtp({ phone: `+${TEST_NUMBER}`, token: TEST_CODE, type: 'sms' });
        assert.equal(error, null);
        assertSession(data, `+${TEST_NUMBER}`, 'the fixed code');
        assert.deepEqual(await inbox(server, TEST_NUMBER), []);
      });
    });

    describe('codes that live 2 s, GoTrue\'s 60 s resend interval', () => {
      const dev = devServer(backend, { SAOMA_SMS_OTP_EXP: '2' });

      test('an expired code: 403 otp_expired', async () => {
        const { server } = dev;
        const phone = freshNumber();
        const supabase = newClient(server);
        assert.equal((await supabase.auth.signInWithOtp({ phone })).error, null);
        const token = await latestCode(server, phone);
        await sleep(2_500);
        const { data, error } = await supabase.auth.verifyOtp({ phone, token, type: 'sms' });
        assertAuthError(error, 403, 'otp_expired', 'a code past sms.otp_exp');
        assert.equal(error.message, 'Token has expired or is invalid');
        assert.equal(data.session, null);
      });

      test('resend inside the interval: 429 over_sms_send_rate_limit, no second message', async () => {
        const { server } = dev;
        const phone = freshNumber();
        const supabase = newClient(server);
        assert.equal((await supabase.auth.signUp({ phone, password: PASSWORD })).error, null);
        await latestCode(server, phone);

        const resent = await supabase.auth.resend({ type: 'sms', phone });
        assertAuthError(resent.error, 429, 'over_sms_send_rate_limit', 'resend at once');
        assert.match(resent.error.message, /only request this after \d+ seconds/);
        const otp = await supabase.auth.signInWithOtp({ phone });
        assertAuthError(otp.error, 429, 'over_sms_send_rate_limit', 'signInWithOtp at once');
        assert.equal((await inbox(server, phone)).length, 1, 'still one message');
      });
    });
  });
}
