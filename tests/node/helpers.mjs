// Helpers for the Node.js conformance tests: start and stop a saoma server, pick a free
// port, create and drop a throwaway Postgres database, and read the anon key.
//
// Nothing here talks to anything but 127.0.0.1 and the Postgres server named by
// SAOMA_TEST_PG_URL.

import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');

/** The saoma binary: $SAOMA_BIN, or <repo>/target/debug/saoma. */
export const saomaBin = process.env.SAOMA_BIN
  ? path.resolve(process.env.SAOMA_BIN)
  : path.join(repoRoot, 'target', 'debug', 'saoma');

/** Base Postgres URL for the Postgres suite, or undefined when the suite is to be skipped. */
export const pgBaseUrl = process.env.SAOMA_TEST_PG_URL || undefined;

/** Secret shared by the server and `saoma keys`: 48 random hex chars (>= 32 required). */
export function randomSecret() {
  return randomBytes(24).toString('hex');
}

/** A port that was free a moment ago on 127.0.0.1 (listen on 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/**
 * The child's environment: ours minus every SAOMA_* variable (so nothing from the
 * caller's shell, such as SAOMA_BIN or SAOMA_TEST_PG_URL, leaks into the server's
 * configuration), except SAOMA_LOG, plus `vars`.
 */
function childEnv(vars) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('SAOMA_') && k !== 'SAOMA_LOG') continue;
    env[k] = v;
  }
  return { ...env, ...vars };
}

/** Runs `saoma keys` with the given secret; returns { anonKey, serviceRoleKey }. */
export async function saomaKeys(jwtSecret, cwd) {
  const { stdout } = await execFileP(saomaBin, ['keys'], {
    cwd: cwd ?? os.tmpdir(),
    env: childEnv({ SAOMA_JWT_SECRET: jwtSecret }),
    timeout: 10_000,
  });
  const anon = /^anon key:\s+(\S+)\s*$/m.exec(stdout);
  const service = /^service_role key:\s+(\S+)\s*$/m.exec(stdout);
  if (!anon || !service) {
    throw new Error(`unexpected output from \`saoma keys\`:\n${stdout}`);
  }
  return { anonKey: anon[1], serviceRoleKey: service[1] };
}

function psql(url, sql) {
  return execFileP('psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    timeout: 30_000,
  });
}

/**
 * Creates a fresh database next to the one in `baseUrl`.
 * Returns { url, name, drop() }, where `url` is `baseUrl` with the database name replaced.
 */
export async function createPgDatabase(baseUrl = pgBaseUrl) {
  if (!baseUrl) throw new Error('SAOMA_TEST_PG_URL is not set');
  const name = `saoma_node_${randomBytes(6).toString('hex')}`;
  await psql(baseUrl, `CREATE DATABASE ${name}`);
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return {
    name,
    url: u.toString(),
    async drop() {
      // WITH (FORCE) (PG 13+) ends connections the server may not have closed yet.
      await psql(baseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `saoma serve` with a fresh configuration and waits until
 * GET /auth/v1/health answers 200.
 *
 * options.command: 'serve' (default) or 'dev' (adds the WeChat simulator; URL on localhost).
 * options.databaseUrl: a postgres:// URL; default: a SQLite file in a fresh temp dir.
 * options.env: extra SAOMA_* settings (override the defaults below).
 *
 * Returns { url, authUrl, port, anonKey, serviceRoleKey, jwtSecret, logs(), stop() }.
 * `url` is the base URL for createClient (supabase-js appends /auth/v1 itself).
 */
export async function startSaoma(options = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'saoma-node-'));
  const port = await freePort();
  const jwtSecret = randomSecret();
  // `saoma dev` serves the WeChat simulator, whose demo app registers `localhost`.
  const command = options.command ?? 'serve';
  const url = command === 'dev' ? `http://localhost:${port}` : `http://127.0.0.1:${port}`;
  const env = childEnv({
    SAOMA_HOST: '127.0.0.1',
    SAOMA_PORT: String(port),
    SAOMA_DATABASE_URL: options.databaseUrl ?? path.join(dir, 'saoma.db'),
    SAOMA_JWT_SECRET: jwtSecret,
    SAOMA_JWT_EXP: '3600',
    SAOMA_MAILER_AUTOCONFIRM: 'true',
    SAOMA_EXTERNAL_ANONYMOUS_USERS_ENABLED: 'true',
    SAOMA_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL: '1',
    SAOMA_SITE_URL: command === 'dev' ? 'http://localhost:3000' : 'http://127.0.0.1:3000',
    ...(command === 'dev' ? {} : { SAOMA_EXTERNAL_URL: url }),
    ...options.env,
  });

  let output = '';
  const child = spawn(saomaBin, [command], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const verbose = !!process.env.SAOMA_TEST_VERBOSE;
  const collect = (chunk) => {
    output += chunk.toString();
    if (verbose) process.stderr.write(chunk);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);

  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
    child.on('error', (err) => {
      exited = { code: null, signal: null, error: err };
      resolve(exited);
    });
  });

  const cleanupDir = () => rm(dir, { recursive: true, force: true });

  async function stop() {
    if (!exited) {
      child.kill('SIGTERM');
      let timer;
      const timedOut = await Promise.race([
        exitPromise.then(() => false),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve(true), 10_000);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        child.kill('SIGKILL');
        await exitPromise;
        await cleanupDir();
        throw new Error(`saoma did not exit within 10 s of SIGTERM; killed.\n--- saoma output ---\n${output}`);
      }
    }
    await cleanupDir();
    return exited;
  }

  // Wait for health (30 s: a debug build starting on a loaded machine).
  const deadline = Date.now() + 30_000;
  let lastError = 'no attempt';
  for (;;) {
    if (exited) {
      await cleanupDir();
      const why = exited.error ? exited.error.message : `code ${exited.code}, signal ${exited.signal}`;
      throw new Error(`saoma exited before it was healthy (${why}); binary: ${saomaBin}\n--- saoma output ---\n${output}`);
    }
    try {
      const res = await fetch(`${url}/auth/v1/health`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = err.cause?.code ?? err.message;
    }
    if (Date.now() > deadline) {
      await stop().catch(() => {});
      throw new Error(`saoma was not healthy within 30 s (last: ${lastError})\n--- saoma output ---\n${output}`);
    }
    await sleep(50);
  }

  let keys;
  try {
    keys = await saomaKeys(jwtSecret, dir);
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }

  return {
    url,
    authUrl: `${url}/auth/v1`,
    port,
    jwtSecret,
    anonKey: keys.anonKey,
    serviceRoleKey: keys.serviceRoleKey,
    logs: () => output,
    stop,
  };
}
