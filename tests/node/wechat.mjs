// The browser's and the phone's part of the WeChat logins, played over HTTP against `saoma dev`
// and its simulator: following redirects, the website QR login (wechat_qr), and reading a scan
// login's code off its image as a phone's camera would.

import assert from 'node:assert/strict';

import jsQR from 'jsqr';
import { PNG } from 'pngjs';

/** Follows one redirect by hand and returns its target. */
export async function redirectOf(url) {
  const res = await fetch(url, { redirect: 'manual' });
  await res.arrayBuffer();
  assert.equal(res.status, 302, `expected a redirect from ${url}, got ${res.status}`);
  return res.headers.get('location');
}

/**
 * Plays the user of wechat_qr: opens the QR page, scans it with the "phone", picks a persona
 * and confirms (or cancels), then follows the page's navigation to saoma's callback. Returns
 * where saoma finally sends the browser.
 */
export async function scanAndConfirm(providerUrl, persona) {
  const page = await (await fetch(providerUrl.split('#')[0])).text();
  const uuid = /data-uuid="([^"]+)"/.exec(page)?.[1];
  assert.ok(uuid, 'the QR page shows a QR code');
  const simBase = providerUrl.slice(0, providerUrl.indexOf('/connect/qrconnect'));
  await (await fetch(`${simBase}/sim/phone/${uuid}`)).text();
  const action = persona ? 'confirm' : 'cancel';
  const form = new URLSearchParams(persona ? { persona } : {});
  await (await fetch(`${simBase}/sim/phone/${uuid}/${action}`, { method: 'POST', body: form })).text();
  const poll = await (await fetch(`${simBase}/connect/l/qrconnect?uuid=${uuid}`)).text();
  const query = new URL(providerUrl.split('#')[0]).searchParams;
  const callback = new URL(query.get('redirect_uri'));
  const code = /wx_code='([^']*)'/.exec(poll)?.[1];
  if (code) callback.searchParams.set('code', code);
  callback.searchParams.set('state', query.get('state'));
  return redirectOf(callback.toString());
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

/**
 * What the code in a waiting page's `data:` image says: a mini-program code is WeChat's picture
 * (the simulator's is a PNG, labelled image/jpeg as WeChat labels its codes, so the bytes
 * decide), a 公众号 code is an SVG QR code saoma drew.
 */
export function decodeCodeImage(dataUri) {
  const comma = dataUri.indexOf(',');
  assert.ok(dataUri.startsWith('data:image/') && comma > 0, `a data: image, got ${dataUri.slice(0, 40)}`);
  const bytes = Buffer.from(dataUri.slice(comma + 1), 'base64');
  const { width, height, data } = bytes.subarray(0, 4).equals(PNG_SIGNATURE)
    ? PNG.sync.read(bytes)
    : rasterizeSvg(bytes.toString('utf8'));
  const content = jsQR(new Uint8ClampedArray(data), width, height)?.data;
  assert.ok(content, 'the image is a readable QR code');
  return content;
}

/**
 * Draws the SVG saoma renders (qrcode's: one white rect, then a path of dark rectangles
 * `M{x} {y}h{w}v{h}H{x}V{y}`) into RGBA pixels for jsQR.
 */
function rasterizeSvg(svg) {
  const width = Number(/<svg[^>]*\swidth="(\d+)"/.exec(svg)?.[1]);
  const height = Number(/<svg[^>]*\sheight="(\d+)"/.exec(svg)?.[1]);
  assert.ok(width > 0 && height > 0, `an SVG with a size: ${svg.slice(0, 200)}`);
  const data = Buffer.alloc(width * height * 4, 0xff);
  let rects = 0;
  for (const [, x, y, w, h] of svg.matchAll(/M(\d+) (\d+)h(\d+)v(\d+)H\d+V\d+/g)) {
    rects += 1;
    for (let row = Number(y); row < Number(y) + Number(h) && row < height; row++) {
      for (let col = Number(x); col < Number(x) + Number(w) && col < width; col++) {
        data.fill(0, (row * width + col) * 4, (row * width + col) * 4 + 3);
      }
    }
  }
  assert.ok(rects > 0, 'the SVG draws dark modules');
  return { width, height, data };
}
