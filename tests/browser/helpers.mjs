// Shared plumbing for the browser tests: the simulator binary on a free port, a headless
// Debian Chromium, screenshots into artifacts/browser/, and QR decoding of a screenshot.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import jsQR from "jsqr";
import { PNG } from "pngjs";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");

export const CHROMIUM = "/usr/bin/chromium";
export const SIM_BIN = process.env.SAOMA_SIM_BIN ?? join(repo, "target/debug/saoma-wechat-sim");
export const ARTIFACTS = join(repo, "artifacts/browser");

async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/**
 * Starts the simulator binary with public URL http://localhost:<port>. `base` is what the
 * browser uses; `api` is the same server by IP, for Node's own requests.
 */
export async function startSimulator() {
  if (!existsSync(SIM_BIN)) {
    throw new Error(
      `simulator binary not found at ${SIM_BIN}: run \`cargo build -p saoma-wechat-sim\` ` +
        "or set SAOMA_SIM_BIN",
    );
  }
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const api = `http://127.0.0.1:${port}`;
  const child = spawn(SIM_BIN, ["--host", "127.0.0.1", "--port", String(port), "--public-url", base], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "info", NO_COLOR: "1" },
  });
  let log = "";
  child.stdout.on("data", (chunk) => (log += chunk));
  child.stderr.on("data", (chunk) => (log += chunk));
  const exited = new Promise((ok) => child.once("exit", ok));

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`simulator exited with ${child.exitCode}:\n${log}`);
    }
    try {
      const response = await fetch(`${api}/sim/faults`);
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`simulator did not answer within 10 s:\n${log}`);
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }

  return {
    base,
    api,
    log: () => log,
    async setFaults(faults) {
      const response = await fetch(`${api}/sim/faults`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(faults),
      });
      if (!response.ok) throw new Error(`PUT /sim/faults: ${response.status}`);
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** Saves a screenshot of `target` (a page or a locator) as artifacts/browser/<name>.png. */
export async function shoot(target, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return target.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** The text of the QR code in a PNG (e.g. a screenshot), or null. */
export function decodeQr(pngBytes) {
  const image = PNG.sync.read(pngBytes);
  const found = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
  return found ? found.data : null;
}

/** The simulator's login URL for `state`, with the echo callback as redirect_uri. */
export function loginUrl(sim, state) {
  const query = new URLSearchParams({
    appid: "wx_sim_website",
    redirect_uri: `${sim.base}/sim/echo-callback`,
    response_type: "code",
    scope: "snsapi_login",
    state,
  });
  return `${sim.base}/connect/qrconnect?${query}`;
}
