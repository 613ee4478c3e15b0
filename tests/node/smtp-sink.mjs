// A real SMTP server on loopback for the email tests (the npm package `smtp-server`), which
// keeps every message it is handed, parsed with `mailparser`: saoma's mail leaves through it
// exactly as it would through a provider's server (plain SMTP, AUTH PLAIN/LOGIN required),
// and the tests read the links and codes from what was delivered.
//
// The sink can be stopped and started again on the same port, to show what saoma answers
// while its mail server is down and that it recovers when the server is back.

import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class SmtpSink {
  /** `user` / `pass`: the only credentials the server accepts. */
  constructor({ user, pass }) {
    this.user = user;
    this.pass = pass;
    this.port = 0;
    /** Oldest first: { to: [addresses], from, subject, html, text, date, messageId, authUser, raw }. */
    this.delivered = [];
    /** Logins refused (wrong credentials). */
    this.refusedLogins = 0;
    this.server = undefined;
  }

  /** Listens on 127.0.0.1 (the same port as before after a stop; a free one the first time). */
  async start() {
    const server = new SMTPServer({
      secure: false,
      // Plain SMTP with AUTH, as `smtp.security = "none"` speaks it to a relay on the host.
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authOptional: false,
      authMethods: ['PLAIN', 'LOGIN'],
      // Pooled connections from saoma must not hold a stop up.
      closeTimeout: 100,
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (auth.username === this.user && auth.password === this.pass) {
          callback(null, { user: auth.username });
        } else {
          this.refusedLogins += 1;
          callback(new Error('Invalid username or password'));
        }
      },
      onData: (stream, session, callback) => {
        simpleParser(stream)
          .then((parsed) => {
            this.delivered.push({
              to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
              from: parsed.from?.value?.[0] ?? null,
              subject: parsed.subject ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
              text: parsed.text ?? '',
              date: parsed.date ?? null,
              messageId: parsed.messageId ?? null,
              contentType: parsed.headers.get('content-type')?.value ?? '',
              authUser: session.user ?? null,
            });
            callback();
          })
          .catch(callback);
      },
    });
    server.on('error', () => {});
    await new Promise((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.server.off('error', reject);
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

  /** The messages delivered to `address`, newest first. */
  messagesTo(address) {
    const to = address.toLowerCase();
    return this.delivered.filter((m) => m.to.includes(to)).reverse();
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

/** The first `/verify` link in a message's text part. */
export function verifyLink(message) {
  const match = /https?:\/\/\S+\/verify\?\S+/.exec(message.text);
  if (!match) throw new Error(`no /verify link in the mail's text:\n${message.text}`);
  return match[0];
}

/** The code (6 to 10 digits standing alone) in a message's text, links and addresses left out. */
export function mailedCode(message) {
  const words = message.text.replace(/https?:\/\/\S+/g, ' ').replace(/\S+@\S+/g, ' ');
  const match = /(?<![\d\w])\d{6,10}(?![\d\w])/.exec(words);
  if (!match) throw new Error(`no code in the mail's text:\n${message.text}`);
  return match[0];
}

/** The `href`s of a message's HTML, entities decoded. */
export function htmlLinks(message) {
  return [...message.html.matchAll(/href="([^"]*)"/g)].map((m) =>
    m[1].replaceAll('&amp;', '&').replaceAll('&#43;', '+').replaceAll('&#39;', "'").replaceAll('&quot;', '"'),
  );
}
