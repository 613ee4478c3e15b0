// Conformance: an unmodified @supabase/supabase-js client against a saoma server, once per
// storage backend (SQLite, Postgres). Each backend gets one server for its whole suite;
// every test uses its own fresh e-mail address, so tests do not depend on each other.
//
// Run: npm test   (Postgres suite: set SAOMA_TEST_PG_URL, e.g.
//                  postgres://postgres@127.0.0.1:5432/postgres; it is skipped otherwise)

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  createClient,
  isAuthApiError,
  isAuthSessionMissingError,
} from '@supabase/supabase-js';

import { startSaoma, createPgDatabase, pgBaseUrl } from './helpers.mjs';

const PASSWORD = 'correct-Horse-battery-9';

/** A fresh, never-used address. */
const freshEmail = () => `node-${randomUUID()}@example.com`;

/** Payload of a JWT, decoded (not verified: the server is the one that verifies). */
function jwtClaims(token) {
  const [, payload] = token.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

/** Fails with the whole error when `error` is set, so a failure shows what the server said. */
function assertNoError(error, what) {
  if (error) {
    assert.fail(
      `${what} failed: ${error.name} status=${error.status} code=${error.code} message=${error.message}`,
    );
  }
}

function assertSession(session, what) {
  assert.ok(session, `${what}: expected a session, got ${JSON.stringify(session)}`);
  assert.equal(typeof session.access_token, 'string', `${what}: access_token`);
  assert.ok(session.access_token.split('.').length === 3, `${what}: access_token is a JWT`);
  assert.equal(typeof session.refresh_token, 'string', `${what}: refresh_token`);
  assert.ok(session.refresh_token.length > 0, `${what}: refresh_token is not empty`);
  assert.equal(session.token_type, 'bearer', `${what}: token_type`);
  assert.equal(typeof session.expires_in, 'number', `${what}: expires_in`);
  assert.equal(typeof session.expires_at, 'number', `${what}: expires_at`);
  assert.ok(session.user && typeof session.user.id === 'string', `${what}: session.user`);
}

const backends = [
  {
    name: 'sqlite',
    skip: false,
    // SQLite file in the server's own temp dir (helpers' default).
    async database() {
      return { url: undefined, drop: async () => {} };
    },
  },
  {
    name: 'postgres',
    skip: pgBaseUrl
      ? false
      : 'SAOMA_TEST_PG_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/postgres): Postgres suite not run',
    database: () => createPgDatabase(pgBaseUrl),
  },
];

for (const backend of backends) {
  describe(`supabase-js against saoma (${backend.name})`, { skip: backend.skip }, () => {
    let db;
    let server;

    before(async () => {
      db = await backend.database();
      try {
        server = await startSaoma({ databaseUrl: db.url });
      } catch (err) {
        await db.drop().catch(() => {});
        db = undefined;
        throw err;
      }
    });

    after(async () => {
      try {
        if (server) {
          const exit = await server.stop();
          // A clean shutdown on SIGTERM: exit code 0, or killed by the signal itself.
          assert.ok(
            exit.code === 0 || exit.signal === 'SIGTERM',
            `saoma did not shut down cleanly: ${JSON.stringify(exit)}\n${server.logs()}`,
          );
        }
      } finally {
        if (db) await db.drop();
      }
    });

    /** A plain client, exactly as an application would create it. */
    const newClient = () =>
      createClient(server.url, server.anonKey, {
        auth: { persistSession: false, autoRefreshToken: false },
      });

    /** Signs up a fresh user on a new client; returns { client, email, session, user }. */
    async function signedUpClient(metadata = {}) {
      const client = newClient();
      const email = freshEmail();
      const { data, error } = await client.auth.signUp({
        email,
        password: PASSWORD,
        options: { data: metadata },
      });
      assertNoError(error, 'signUp');
      assertSession(data.session, 'signUp');
      return { client, email, session: data.session, user: data.user };
    }

    /** Signs in an existing user on a new client; returns { client, session }. */
    async function signedInClient(email) {
      const client = newClient();
      const { data, error } = await client.auth.signInWithPassword({ email, password: PASSWORD });
      assertNoError(error, 'signInWithPassword');
      assertSession(data.session, 'signInWithPassword');
      return { client, session: data.session };
    }

    test('signUp returns a session (autoconfirm) and the user with its metadata', async () => {
      const client = newClient();
      const email = freshEmail();
      const metadata = { display_name: 'Ada Lovelace', plan: 'pro', age: 36 };
      const { data, error } = await client.auth.signUp({
        email,
        password: PASSWORD,
        options: { data: metadata },
      });
      assertNoError(error, 'signUp');

      assertSession(data.session, 'signUp');
      const { user } = data;
      assert.ok(user, 'signUp returns the user');
      assert.equal(user.email, email);
      assert.equal(user.aud, 'authenticated');
      assert.equal(user.role, 'authenticated');
      assert.equal(user.is_anonymous, false);
      assert.ok(user.email_confirmed_at, 'autoconfirm: email_confirmed_at is set');
      for (const [k, v] of Object.entries(metadata)) {
        assert.deepEqual(user.user_metadata[k], v, `user_metadata.${k}`);
      }
      assert.equal(data.session.user.id, user.id, 'session.user is the signed-up user');

      const claims = jwtClaims(data.session.access_token);
      assert.equal(claims.sub, user.id, 'access token sub');
      assert.equal(claims.role, 'authenticated', 'access token role');
      assert.equal(claims.email, email, 'access token email');
      assert.equal(typeof claims.session_id, 'string', 'access token session_id');
    });

    test('signInWithPassword returns a session; getUser() returns the same user', async () => {
      const { email, user: signedUp } = await signedUpClient({ source: 'signin-test' });

      const client = newClient();
      const { data, error } = await client.auth.signInWithPassword({ email, password: PASSWORD });
      assertNoError(error, 'signInWithPassword');
      assertSession(data.session, 'signInWithPassword');
      assert.equal(data.user.id, signedUp.id);
      assert.equal(data.user.email, email);

      const got = await client.auth.getUser();
      assertNoError(got.error, 'getUser');
      assert.equal(got.data.user.id, signedUp.id);
      assert.equal(got.data.user.email, email);
      assert.equal(got.data.user.user_metadata.source, 'signin-test');
    });

    test('updateUser({ data }) merges into user_metadata, and getUser() shows it', async () => {
      const { client } = await signedUpClient({ display_name: 'Grace' });

      const { data, error } = await client.auth.updateUser({ data: { nickname: 'x' } });
      assertNoError(error, 'updateUser');
      assert.equal(data.user.user_metadata.nickname, 'x');
      // GoTrue merges `data` into the existing user_metadata rather than replacing it.
      assert.equal(data.user.user_metadata.display_name, 'Grace', 'existing metadata kept');

      const got = await client.auth.getUser();
      assertNoError(got.error, 'getUser after updateUser');
      assert.equal(got.data.user.user_metadata.nickname, 'x');
      assert.equal(got.data.user.user_metadata.display_name, 'Grace');
    });

    test('refreshSession rotates tokens; reusing a token two rotations old ends the session', async () => {
      const { client, session: s1, user } = await signedUpClient();
      const RT1 = s1.refresh_token;
      const sessionId = jwtClaims(s1.access_token).session_id;

      // RT1 -> RT2
      const r2 = await client.auth.refreshSession();
      assertNoError(r2.error, 'refreshSession #1');
      assertSession(r2.data.session, 'refreshSession #1');
      const s2 = r2.data.session;
      assert.notEqual(s2.refresh_token, RT1, 'refresh #1 issues a new refresh token');
      assert.equal(s2.user.id, user.id);
      // Same session, same user. (GoTrue's access tokens carry no jti and second-resolution
      // iat/exp, so a refresh within the same second as sign-in may legitimately return a
      // byte-identical access token; the new-access-token check is done after the wait below.)
      assert.equal(jwtClaims(s2.access_token).sub, user.id);
      assert.equal(jwtClaims(s2.access_token).session_id, sessionId, 'refresh keeps the session');

      // RT2 -> RT3
      const r3 = await client.auth.refreshSession();
      assertNoError(r3.error, 'refreshSession #2');
      assertSession(r3.data.session, 'refreshSession #2');
      const s3 = r3.data.session;
      assert.notEqual(s3.refresh_token, s2.refresh_token, 'refresh #2 issues a new refresh token');
      assert.notEqual(s3.refresh_token, RT1);

      // The only sleep: get past the 1 s reuse interval for RT1 (revoked by refresh #1).
      await sleep(1_500);

      // RT3 -> RT4, now more than a second after sign-in: a new access token as well.
      const r4 = await client.auth.refreshSession();
      assertNoError(r4.error, 'refreshSession #3');
      assertSession(r4.data.session, 'refreshSession #3');
      const s4 = r4.data.session;
      assert.notEqual(s4.refresh_token, s3.refresh_token, 'refresh #3 issues a new refresh token');
      assert.notEqual(s4.access_token, s1.access_token, 'refresh issues a new access token');
      assert.ok(
        jwtClaims(s4.access_token).iat > jwtClaims(s1.access_token).iat,
        'the new access token is issued later',
      );
      assert.equal(jwtClaims(s4.access_token).session_id, sessionId);
      const before = await newClient().auth.getUser(s4.access_token);
      assertNoError(before.error, 'getUser(latest access token) before reuse');

      // RT1 is neither active nor the parent of the active token, and is past the reuse
      // interval: GoTrue rejects it as already used and ends the session.
      const reuse = await client.auth.refreshSession({ refresh_token: RT1 });
      assert.ok(reuse.error, `reusing RT1 must fail, got a session with refresh token ${reuse.data.session?.refresh_token}`);
      assert.ok(
        isAuthApiError(reuse.error),
        `expected AuthApiError, got ${reuse.error.name}: ${reuse.error.message}`,
      );
      assert.equal(reuse.error.code, 'refresh_token_already_used');
      assert.equal(reuse.error.status, 400);
      assert.equal(reuse.data.session, null);

      // The session is over: its latest access token is refused with session_not_found,
      // which supabase-js reports as AuthSessionMissingError.
      const after = await newClient().auth.getUser(s4.access_token);
      assert.equal(after.data.user, null);
      assert.ok(after.error, 'getUser(latest access token) must fail after reuse detection');
      assert.ok(
        isAuthSessionMissingError(after.error),
        `expected AuthSessionMissingError, got ${after.error.name} status=${after.error.status} code=${after.error.code}: ${after.error.message}`,
      );

      // And the latest refresh token is dead too.
      const late = await newClient().auth.refreshSession({ refresh_token: s4.refresh_token });
      assert.ok(late.error, 'the latest refresh token must not work after the session ended');
      assert.ok(isAuthApiError(late.error), `expected AuthApiError, got ${late.error.name}`);
    });

    test('refreshing with the parent of the active token returns the active token again', async () => {
      const { client, session: s1 } = await signedUpClient();
      const RT1 = s1.refresh_token;

      const r2 = await client.auth.refreshSession();
      assertNoError(r2.error, 'refreshSession');
      const RT2 = r2.data.session.refresh_token;
      assert.notEqual(RT2, RT1);

      // A client that lost the answer to its refresh presents RT1 again: GoTrue hands back
      // the currently active token (RT2) instead of minting another one, with no time limit.
      const again = await newClient().auth.refreshSession({ refresh_token: RT1 });
      assertNoError(again.error, 'refreshSession with the parent of the active token');
      assertSession(again.data.session, 'refreshSession with the parent');
      assert.equal(again.data.session.refresh_token, RT2, 'the active refresh token is returned');

      // RT2 is still the active token and works normally.
      const r3 = await newClient().auth.refreshSession({ refresh_token: RT2 });
      assertNoError(r3.error, 'refreshSession with the active token');
      assert.notEqual(r3.data.session.refresh_token, RT2);
    });

    test("signOut({ scope: 'local' }) ends one session; 'global' ends all of them", async () => {
      const { email, user } = await signedUpClient();
      const a = await signedInClient(email);
      const b = await signedInClient(email);
      const c = await signedInClient(email);
      const ids = [a, b, c].map((x) => jwtClaims(x.session.access_token).session_id);
      assert.equal(new Set(ids).size, 3, 'each sign-in is its own session');

      // Local sign-out of A.
      const outA = await a.client.auth.signOut({ scope: 'local' });
      assertNoError(outA.error, "signOut({ scope: 'local' })");
      const { data: afterA } = await a.client.auth.getSession();
      assert.equal(afterA.session, null, 'client A forgot its session');

      const gotA = await newClient().auth.getUser(a.session.access_token);
      assert.equal(gotA.data.user, null);
      assert.ok(gotA.error, "A's access token must be refused after local sign-out");
      assert.ok(
        isAuthSessionMissingError(gotA.error),
        `expected AuthSessionMissingError, got ${gotA.error.name} status=${gotA.error.status} code=${gotA.error.code}`,
      );
      const refA = await newClient().auth.refreshSession({ refresh_token: a.session.refresh_token });
      assert.ok(refA.error, "A's refresh token must be refused after local sign-out");
      assert.ok(isAuthApiError(refA.error), `expected AuthApiError, got ${refA.error.name}`);
      assert.equal(refA.error.code, 'refresh_token_not_found');

      // B and C (other sessions of the same user) are unaffected.
      const gotB = await b.client.auth.getUser();
      assertNoError(gotB.error, 'getUser on B after local sign-out of A');
      assert.equal(gotB.data.user.id, user.id);
      const gotC = await newClient().auth.getUser(c.session.access_token);
      assertNoError(gotC.error, 'getUser(C token) after local sign-out of A');
      assert.equal(gotC.data.user.id, user.id);

      // Global sign-out from B ends every session of the user, including C's.
      const outB = await b.client.auth.signOut({ scope: 'global' });
      assertNoError(outB.error, "signOut({ scope: 'global' })");

      for (const [name, x] of [['B', b], ['C', c]]) {
        const got = await newClient().auth.getUser(x.session.access_token);
        assert.equal(got.data.user, null);
        assert.ok(got.error, `${name}'s access token must be refused after global sign-out`);
        assert.ok(
          isAuthSessionMissingError(got.error),
          `${name}: expected AuthSessionMissingError, got ${got.error.name} status=${got.error.status} code=${got.error.code}`,
        );
        const ref = await newClient().auth.refreshSession({ refresh_token: x.session.refresh_token });
        assert.ok(ref.error, `${name}'s refresh token must be refused after global sign-out`);
        assert.ok(isAuthApiError(ref.error), `${name}: expected AuthApiError, got ${ref.error.name}`);
        assert.equal(ref.error.code, 'refresh_token_not_found');
      }

      // The user can still sign in again afterwards.
      await signedInClient(email);
    });

    test('signInAnonymously returns a session for an anonymous user', async () => {
      const client = newClient();
      const { data, error } = await client.auth.signInAnonymously();
      assertNoError(error, 'signInAnonymously');
      assertSession(data.session, 'signInAnonymously');
      assert.equal(data.user.is_anonymous, true);
      assert.equal(data.session.user.is_anonymous, true);
      assert.equal(jwtClaims(data.session.access_token).is_anonymous, true);

      const got = await client.auth.getUser();
      assertNoError(got.error, 'getUser (anonymous)');
      assert.equal(got.data.user.id, data.user.id);
      assert.equal(got.data.user.is_anonymous, true);
    });

    test('signInWithPassword with a wrong password: AuthApiError invalid_credentials, 400', async () => {
      const { email } = await signedUpClient();

      const client = newClient();
      const { data, error } = await client.auth.signInWithPassword({
        email,
        password: `${PASSWORD}-wrong`,
      });
      assert.ok(error, 'a wrong password must fail');
      assert.ok(isAuthApiError(error), `expected AuthApiError, got ${error.name}: ${error.message}`);
      assert.equal(error.code, 'invalid_credentials');
      assert.equal(error.status, 400);
      assert.equal(data.session, null);
      assert.equal(data.user, null);

      // An unknown address answers exactly the same (no account enumeration).
      const unknown = await newClient().auth.signInWithPassword({
        email: freshEmail(),
        password: PASSWORD,
      });
      assert.ok(unknown.error, 'an unknown e-mail must fail');
      assert.ok(isAuthApiError(unknown.error), `expected AuthApiError, got ${unknown.error.name}`);
      assert.equal(unknown.error.code, 'invalid_credentials');
      assert.equal(unknown.error.status, 400);
    });
  });
}
