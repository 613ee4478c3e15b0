#!/usr/bin/env node
// The one SMTP sink for saoma's mail tests, Rust and Node alike: a real SMTP server on
// 127.0.0.1 (smtp-server) that keeps every message it accepts, parsed (mailparser), so saoma's
// mail leaves through it exactly as it would through a provider's server. Behaviours, for the
// failure paths:
//   - user/pass set: AUTH (PLAIN or LOGIN, over plain text) is required and checked, and the
//     logins it refuses are counted; none set: the server offers no AUTH at all;
//   - a recipient whose local part starts with "reject" is refused: 550 5.1.1;
//   - a recipient whose local part starts with "busy" is refused once per address with
//     451 4.3.0, then accepted (a transient failure saoma retries once).
// The sink can be stopped and started again on the same port, to show what saoma answers while
// its mail server is down and that it recovers when the server is back.
//
// As a module (tests/node): `const sink = new SmtpSink({ user, pass })`, `await sink.start()`,
// then sink.port, sink.delivered, sink.refusedLogins, sink.messagesTo(to),
// `await sink.waitFor(to, count)`, `await sink.stop()`. `startSink(options)` does the first two.
// As a process (the Rust tests, crates/saoma/tests/smtp/sink.rs): `node sink.mjs` with
// SINK_PORT (0: any), SINK_USER, SINK_PASS; it prints {"listening": port} and then one JSON
// line per message on stdout (`wireMessage`), and stops when its stdin closes.
import { SMTPServer } from "smtp-server";
import { simpleParser } from "mailparser";
import { pathToFileURL } from "node:url";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** An SMTP error with its reply code, as smtp-server sends it to the client. */
function smtpError(responseCode, message) {
  const error = new Error(message);
  error.responseCode = responseCode;
  return error;
}

/**
 * What the sink keeps of one accepted message:
 * { mailFrom, rcptTo: [addresses], authUser, from: {address, name} | null, to: [{address, name}],
 *   subject, date: Date | null, messageId, contentType, text, html, raw }.
 */
async function readMessage(raw, session) {
  const parsed = await simpleParser(raw);
  return {
    mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
    rcptTo: session.envelope.rcptTo.map((rcpt) => rcpt.address),
    authUser: session.user ?? null,
    from: parsed.from?.value?.[0] ?? null,
    to: parsed.to?.value ?? [],
    subject: parsed.subject ?? "",
    date: parsed.date ?? null,
    messageId: parsed.messageId ?? null,
    contentType: parsed.headers.get("content-type")?.value ?? "",
    text: parsed.text ?? "",
    // mailparser says `false` for a message without an HTML part.
    html: typeof parsed.html === "string" ? parsed.html : "",
    raw: raw.toString("latin1"),
  };
}

/** A message as the process prints it for the Rust tests (serde_json reads snake_case). */
export function wireMessage(message) {
  return {
    mail_from: message.mailFrom,
    rcpt_to: message.rcptTo,
    auth_user: message.authUser,
    from: message.from ? [message.from] : [],
    to: message.to,
    subject: message.subject,
    date: message.date ? message.date.toISOString() : null,
    message_id: message.messageId,
    content_type: message.contentType || null,
    text: message.text,
    html: message.html,
    raw: message.raw,
  };
}

export class SmtpSink {
  /**
   * `user` / `pass`: the only credentials the server accepts (none: no AUTH offered); `port`:
   * where to listen first (0: a free one); `onMessage(message)`: called for each accepted one.
   */
  constructor({ user = "", pass = "", port = 0, onMessage = () => {} } = {}) {
    this.user = user;
    this.pass = pass;
    this.port = port;
    this.onMessage = onMessage;
    /** Oldest first, in the shape `readMessage` describes. */
    this.delivered = [];
    /** Logins refused (wrong credentials). */
    this.refusedLogins = 0;
    /** The "busy" addresses already refused once (kept across a stop and start). */
    this.busySeen = new Set();
    this.server = undefined;
  }

  /** Listens on 127.0.0.1 (the same port as before after a stop; `port` the first time). */
  async start() {
    const server = new SMTPServer({
      name: "saoma-smtp-sink",
      secure: false,
      // Plain SMTP, as `smtp.security = "none"` speaks it to a relay on the host.
      disabledCommands: this.user ? ["STARTTLS"] : ["STARTTLS", "AUTH"],
      authOptional: !this.user,
      allowInsecureAuth: true,
      authMethods: ["PLAIN", "LOGIN"],
      // Pooled connections from saoma must not hold a stop up.
      closeTimeout: 100,
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (auth.username === this.user && auth.password === this.pass) {
          return callback(null, { user: auth.username });
        }
        this.refusedLogins += 1;
        return callback(smtpError(535, "5.7.8 Authentication credentials invalid"));
      },
      onRcptTo: (address, _session, callback) => callback(this.refusal(address.address)),
      onData: (stream, session, callback) => {
        const chunks = [];
        stream.on("data", (chunk) => chunks.push(chunk));
        stream.on("end", () => {
          readMessage(Buffer.concat(chunks), session)
            .then((message) => {
              this.delivered.push(message);
              this.onMessage(message);
              callback();
            })
            .catch(callback);
        });
      },
    });
    // A client cutting its connection (saoma's pool at a stop) is no reason to crash.
    server.on("error", () => {});
    await new Promise((resolve, reject) => {
      server.server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => {
        server.server.off("error", reject);
        resolve();
      });
    });
    this.port = server.server.address().port;
    this.server = server;
  }

  /** Stops listening and cuts the connections saoma keeps open. */
  async stop() {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /** Why a recipient is refused (an SMTP error), or undefined when it is accepted. */
  refusal(address) {
    const local = address.split("@")[0].toLowerCase();
    if (local.startsWith("reject")) {
      return smtpError(550, `5.1.1 <${address}>: Recipient address rejected: User unknown`);
    }
    if (local.startsWith("busy") && !this.busySeen.has(address)) {
      this.busySeen.add(address);
      return smtpError(451, "4.3.0 Try again later");
    }
    return undefined;
  }

  /** The messages delivered to `address` (case-insensitive), newest first. */
  messagesTo(address) {
    const to = address.toLowerCase();
    return this.delivered
      .filter((message) => message.rcptTo.some((rcpt) => rcpt.toLowerCase() === to))
      .reverse();
  }

  /**
   * Waits until `count` messages have reached `address` (the sink parses after saoma's send
   * returned, so a moment may pass) and returns them, newest first.
   */
  async waitFor(address, count = 1, timeoutMs = 5_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const messages = this.messagesTo(address);
      if (messages.length >= count) return messages;
      if (Date.now() > deadline) {
        throw new Error(`${count} mail(s) to ${address} expected, ${messages.length} arrived`);
      }
      await sleep(20);
    }
  }
}

/** A started sink (see `SmtpSink`'s constructor for the options). */
export async function startSink(options) {
  const sink = new SmtpSink(options);
  await sink.start();
  return sink;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sink = await startSink({
    port: Number(process.env.SINK_PORT || 0),
    user: process.env.SINK_USER || "",
    pass: process.env.SINK_PASS || "",
    onMessage: (message) => process.stdout.write(JSON.stringify(wireMessage(message)) + "\n"),
  });
  process.stdout.write(JSON.stringify({ listening: sink.port }) + "\n");
  // Stops when the test that started it closes stdin (or dies).
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
}
