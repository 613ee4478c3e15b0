// auth-js's admin client (supabase.auth.admin) against saoma, with a service_role key, once
// per storage backend.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import { createClient, isAuthApiError } from '@supabase/supabase-js';

import { startSaoma, createPgDatabase, pgBaseUrl } from './helpers.mjs';

const freshEmail = () => `admin-${randomUUID()}@example.com`;

function adminSuite(name, databaseUrl) {
  let server;
  let admin;
  before(async () => {
    server = await startSaoma({ databaseUrl: await databaseUrl() });
    admin = createClient(server.url, server.serviceRoleKey, {
      auth: { persistSession: false, autoRefreshToken: false },
    }).auth.admin;
  });
  after(async () => {
    await server?.stop();
  });

  test(`${name}: createUser, getUserById, updateUserById, deleteUser`, async () => {
    const email = freshEmail();
    const created = await admin.createUser({
      email,
      password: 'admin-created-password',
      email_confirm: true,
      user_metadata: { full_name: '张三' },
      app_metadata: { plan: 'pro' },
    });
    assert.equal(created.error, null);
    const { user } = created.data;
    assert.equal(user.email, email);
    assert.equal(user.app_metadata.plan, 'pro');
    assert.ok(user.email_confirmed_at);

    const fetched = await admin.getUserById(user.id);
    assert.equal(fetched.error, null);
    assert.equal(fetched.data.user.user_metadata.full_name, '张三');

    const updated = await admin.updateUserById(user.id, { ban_duration: '1h', user_metadata: { vip: true } });
    assert.equal(updated.error, null);
    assert.ok(updated.data.user.banned_until);
    assert.equal(updated.data.user.user_metadata.vip, true);

    const dup = await admin.createUser({ email, password: 'another-password' });
    assert.ok(isAuthApiError(dup.error));
    assert.equal(dup.error.code, 'email_exists');

    const removed = await admin.deleteUser(user.id, true);
    assert.equal(removed.error, null);
    const gone = await admin.getUserById(user.id);
    assert.equal(gone.error?.code, 'user_not_found');
  });

  test(`${name}: listUsers pages through X-Total-Count and Link`, async () => {
    for (let i = 0; i < 3; i++) {
      const { error } = await admin.createUser({ email: freshEmail(), password: 'listing-password' });
      assert.equal(error, null);
    }
    const first = await admin.listUsers({ page: 1, perPage: 2 });
    assert.equal(first.error, null);
    assert.equal(first.data.users.length, 2);
    assert.ok(first.data.total >= 3, `total ${first.data.total}`);
    assert.equal(first.data.nextPage, 2);
    assert.ok(first.data.lastPage >= 2);
    const second = await admin.listUsers({ page: 2, perPage: 2 });
    assert.equal(second.error, null);
    const ids = new Set([...first.data.users, ...second.data.users].map((u) => u.id));
    assert.equal(ids.size, first.data.users.length + second.data.users.length, 'pages do not overlap');
  });

  test(`${name}: the anon key is not an admin key`, async () => {
    const anon = createClient(server.url, server.anonKey, { auth: { persistSession: false } }).auth.admin;
    const { error } = await anon.listUsers();
    assert.ok(isAuthApiError(error));
    assert.equal(error.status, 403);
    assert.equal(error.code, 'not_admin');
  });
}

describe('auth-js admin on SQLite', () => {
  adminSuite('sqlite', async () => undefined);
});

describe('auth-js admin on Postgres', { skip: pgBaseUrl ? false : 'SAOMA_TEST_PG_URL is not set: Postgres suite not run' }, () => {
  let db;
  adminSuite('postgres', async () => {
    db = await createPgDatabase();
    return db.url;
  });
  after(async () => {
    await db?.drop();
  });
});
