//! The waiting page: shows the code, polls, and moves on by itself — to `/callback` once
//! WeChat confirmed, to a fresh code when asked after expiry or cancel. It uses only the JSON
//! API an app drawing its own page would use, relative to its own address (so it works under
//! `/auth/v1` and at the root alike). Element ids are stable for tests and custom styling:
//! `#scan-code` (the image), `#scan-status` (with `data-status`), `#scan-refresh`.

use axum::http::{header, HeaderName, HeaderValue};

/// Inline script and style only; the code is a `data:` image; nothing may frame the page (a
/// framed login page invites clickjacking: use the JSON API to embed).
const CSP: &str = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; \
                   script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

pub fn headers() -> [(HeaderName, HeaderValue); 4] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ]
}

/// What the page asks the person to do, per provider.
fn instructions(provider: &str) -> (&'static str, &'static str) {
    match provider {
        "wechat_mp_qr" => ("微信扫码登录", "请使用微信扫描二维码，关注公众号后即可登录"),
        _ => ("微信扫码登录", "请使用微信扫描小程序码，在小程序中确认登录"),
    }
}

pub fn render(provider: &str, flow_state: &str) -> String {
    let (title, hint) = instructions(provider);
    // The flow state is 32 hex characters (checked before rendering); escaped all the same.
    let flow_state = escape(flow_state);
    format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{STYLE}</style></head>
<body><main>
<h1>{title}</h1>
<p class="hint">{hint}</p>
<div class="frame"><img id="scan-code" alt="{title}" hidden></div>
<p id="scan-status" data-status="loading">正在获取二维码…</p>
<button id="scan-refresh" type="button" hidden>刷新二维码</button>
</main>
<script>
const FLOW_STATE = "{flow_state}";
{SCRIPT}
</script></body></html>"#
    )
}

/// The page when the flow cannot go on (unknown, expired, already finished).
pub fn refusal(message: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>无法登录</title><style>{STYLE}</style></head>
<body><main><h1>无法登录</h1>
<p id="scan-status" data-status="error">{}</p>
<p class="hint">请返回网站重新发起登录。</p></main></body></html>"#,
        escape(message)
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const STYLE: &str = "body{font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;\
background:#f5f5f5;margin:0}main{max-width:360px;margin:48px auto;background:#fff;\
border-radius:8px;padding:32px;text-align:center}h1{font-size:20px;margin:0 0 8px}\
.hint{color:#888;font-size:14px}.frame{width:240px;height:240px;margin:16px auto;\
display:flex;align-items:center;justify-content:center}.frame img{width:240px;height:240px}\
#scan-status{font-size:15px;min-height:1.5em}button{background:#07c160;color:#fff;border:0;\
border-radius:4px;padding:8px 20px;font-size:15px;cursor:pointer}";

/// Ticket → image → poll; statuses in words; a new code on request.
const SCRIPT: &str = r#"
const img = document.getElementById("scan-code");
const statusLine = document.getElementById("scan-status");
const refresh = document.getElementById("scan-refresh");
const WORDS = {
  waiting: "请扫码",
  scanned: "已扫码，请在手机上确认登录",
  confirmed: "已确认，正在登录…",
  cancelled: "你已取消此次登录",
  expired: "二维码已过期",
  redeemed: "已在此浏览器完成登录",
};
let ticket = null;
let timer = null;
function show(status, text) {
  statusLine.dataset.status = status;
  statusLine.textContent = text || WORDS[status] || status;
  refresh.hidden = !["cancelled", "expired", "error"].includes(status);
}
async function errorText(response) {
  try { const body = await response.json(); return body.msg || body.message || body.error_description || response.statusText; }
  catch (_) { return response.statusText; }
}
async function start() {
  clearTimeout(timer);
  img.hidden = true;
  show("loading", "正在获取二维码…");
  const response = await fetch("scan_login/ticket", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ state: FLOW_STATE }),
  });
  if (!response.ok) { show("error", await errorText(response)); return; }
  ticket = await response.json();
  img.src = ticket.image;
  img.hidden = false;
  show("waiting");
  timer = setTimeout(poll, ticket.poll_interval_ms);
}
async function poll() {
  let answer;
  try {
    const response = await fetch("scan_login/poll", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ scene: ticket.scene, secret: ticket.secret }),
    });
    if (!response.ok) { show("error", await errorText(response)); return; }
    answer = await response.json();
  } catch (_) {
    timer = setTimeout(poll, ticket.poll_interval_ms * 2);
    return;
  }
  show(answer.status);
  if (answer.status === "confirmed" && answer.location) { window.location.replace(answer.location); return; }
  if (["waiting", "scanned"].includes(answer.status)) timer = setTimeout(poll, ticket.poll_interval_ms);
  else img.hidden = answer.status !== "redeemed";
}
refresh.addEventListener("click", start);
start();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_escaped() {
        let page = refusal("<script>alert(1)</script>");
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("&lt;script&gt;"));
    }

    #[test]
    fn the_page_carries_its_flow_and_the_provider_s_words() {
        let page = render("wechat_mp_qr", "0123456789abcdef0123456789abcdef");
        assert!(page.contains(r#"const FLOW_STATE = "0123456789abcdef0123456789abcdef";"#));
        assert!(page.contains("关注公众号"));
        assert!(render("wechat_mini_qr", "x").contains("小程序码"));
    }
}
