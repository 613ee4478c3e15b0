// The peer of saoma's benchmarks: better-auth with email + password, served by node:http,
// on SQLite (better-sqlite3) or Postgres (pg). Started by `saoma-bench`, never by hand:
//
//   PEER_PORT=9100 PEER_DATABASE=sqlite:/tmp/x/peer.db node server.mjs
//   PEER_PORT=9100 PEER_DATABASE=postgres://postgres@127.0.0.1:5432/db node server.mjs
//
// Routes: better-auth's own under /api/auth (get-session, sign-in/email, sign-up/email),
// plus GET /health once migrations are applied.
import http from "node:http";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";

const port = Number(process.env.PEER_PORT ?? "9100");
const database = process.env.PEER_DATABASE ?? "";

async function openDatabase(url) {
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { default: pg } = await import("pg");
    // The same pool size as saoma's Postgres pool.
    return new pg.Pool({ connectionString: url, max: 16 });
  }
  if (url.startsWith("sqlite:")) {
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(url.slice("sqlite:".length));
    // The same pragmas as saoma's SQLite store.
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    return db;
  }
  throw new Error(`PEER_DATABASE must be sqlite:<path> or postgres://..., got ${url}`);
}

const options = {
  database: await openDatabase(database),
  baseURL: `http://127.0.0.1:${port}`,
  secret: process.env.PEER_SECRET ?? "saoma-bench-peer-secret-0123456789abcdef",
  emailAndPassword: { enabled: true, autoSignIn: true, requireEmailVerification: false },
  // Benchmarks hammer one address: better-auth's limiter would answer 429.
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  logger: { level: "error" },
};

const { runMigrations } = await getMigrations(options);
await runMigrations();
const auth = betterAuth(options);
const handler = toNodeHandler(auth);

const server = http.createServer((req, res) => {
  if (req.url === "/health") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"ok":true}');
    return;
  }
  handler(req, res).catch((err) => {
    console.error(err);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});
server.keepAliveTimeout = 120_000;
server.listen(port, "127.0.0.1", () => {
  console.log(`better-auth peer on http://127.0.0.1:${port} (${database.split(":")[0]})`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
