#!/usr/bin/env bash
# Builds the Next.js example (examples/nextjs-wechat-qr) for production and runs its
# end-to-end test: saoma dev (with its WeChat simulator) + `next start` + headless Chromium.
#
#   tests/e2e-nextjs/run.sh
#
# Needs node >= 20.9 and npm, /usr/bin/chromium (Debian: apt-get install -y chromium) and
# target/debug/saoma (built here with `cargo build -p saoma` when missing; SAOMA_BIN overrides).
# Screenshots and server logs: artifacts/e2e-nextjs/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
example="$repo/examples/nextjs-wechat-qr"
export NEXT_TELEMETRY_DISABLED=1

if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM:-}" ]; then
    echo "run.sh: /usr/bin/chromium not found: apt-get install -y chromium" >&2
    exit 1
fi
if [ -z "${SAOMA_BIN:-}" ] && [ ! -x "$repo/target/debug/saoma" ]; then
    echo "run.sh: building saoma" >&2
    (cd "$repo" && cargo build -p saoma --locked)
fi

echo "== examples/nextjs-wechat-qr: npm ci, next build" >&2
# The build does not depend on saoma's URL or ports: the server code reads NEXT_PUBLIC_* at
# request time (utils/supabase/env.ts); the test passes them to `next start`.
(cd "$example" && npm ci --no-audit --no-fund --loglevel=error && npx --no-install next build)

echo "== tests/e2e-nextjs: npm ci, node --test" >&2
cd "$here"
npm ci --no-audit --no-fund --loglevel=error
node --test
