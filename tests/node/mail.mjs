// Reading what saoma mailed: the link, the code and the HTML's links of a message the SMTP
// sink (tests/smtp-sink/sink.mjs) delivered.

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
