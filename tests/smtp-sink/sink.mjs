#!/usr/bin/env node
// A real SMTP server on 127.0.0.1 for saoma's mail tests (Rust and Node). Every message it
// accepts is parsed (mailparser) and reported. Behaviours, for the failure paths:
//   - user/pass set: AUTH (PLAIN or LOGIN, over plain text) is required and checked;
//   - a recipient whose local part starts with "reject" is refused: 550 5.1.1;
//   - a recipient whose local part starts with "busy" is refused once per address with
//     451 4.3.0, then accepted (a transient failure saoma retries once).
// As a process: `node sink.mjs` with SINK_PORT (0: any), SINK_USER, SINK_PASS; it prints
// {"listening": port} and then one JSON line per message on stdout.
// As a module: `const sink = await startSink({user, pass})`, then sink.port, sink.messages,
// await sink.waitFor(to), await sink.close().
import { SMTPServer } from "smtp-server";
import { simpleParser } from "mailparser";
import { pathToFileURL } from "node:url";

export async function startSink({ port = 0, user = "", pass = "", onMessage = () => {} } = {}) {
  const messages = [];
  const waiters = [];
  const busySeen = new Set();
  const server = new SMTPServer({
    name: "saoma-smtp-sink",
    secure: false,
    disabledCommands: user ? ["STARTTLS"] : ["STARTTLS", "AUTH"],
    authOptional: !user,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === user && auth.password === pass) {
        return callback(null, { user: auth.username });
      }
      const error = new Error("5.7.8 Authentication credentials invalid");
      error.responseCode = 535;
      return callback(error);
    },
    onRcptTo(address, _session, callback) {
      const local = address.address.split("@")[0].toLowerCase();
      if (local.startsWith("reject")) {
        const error = new Error(`5.1.1 <${address.address}>: Recipient address rejected: User unknown`);
        error.responseCode = 550;
        return callback(error);
      }
      if (local.startsWith("busy") && !busySeen.has(address.address)) {
        busySeen.add(address.address);
        const error = new Error("4.3.0 Try again later");
        error.responseCode = 451;
        return callback(error);
      }
      return callback();
    },
    onData(stream, session, callback) {
      const chunks = [];
      stream.on("data", (chunk) => chunks.push(chunk));
      stream.on("end", async () => {
        const raw = Buffer.concat(chunks);
        try {
          const parsed = await simpleParser(raw);
          const message = {
            mail_from: session.envelope.mailFrom && session.envelope.mailFrom.address,
            rcpt_to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
            auth_user: session.user || null,
            from: parsed.from ? parsed.from.value : [],
            to: parsed.to ? parsed.to.value : [],
            subject: parsed.subject || "",
            date: parsed.date ? parsed.date.toISOString() : null,
            message_id: parsed.messageId || null,
            content_type: parsed.headers.get("content-type") ? parsed.headers.get("content-type").value : null,
            text: parsed.text || "",
            html: parsed.html || "",
            raw: raw.toString("latin1"),
          };
          messages.push(message);
          onMessage(message);
          for (const waiter of waiters.splice(0)) waiter();
          callback();
        } catch (error) {
          callback(error);
        }
      });
    },
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    port: server.server.address().port,
    messages,
    /** The newest message to `to` (case-insensitive), waiting up to `timeoutMs` for one. */
    async waitFor(to, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages
          .filter((m) => m.rcpt_to.some((r) => r.toLowerCase() === to.toLowerCase()))
          .at(-1);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no mail to ${to} within ${timeoutMs} ms`);
        await new Promise((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sink = await startSink({
    port: Number(process.env.SINK_PORT || 0),
    user: process.env.SINK_USER || "",
    pass: process.env.SINK_PASS || "",
    onMessage: (message) => process.stdout.write(JSON.stringify(message) + "\n"),
  });
  process.stdout.write(JSON.stringify({ listening: sink.port }) + "\n");
  // Stops when the test that started it closes stdin (or dies).
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
}
