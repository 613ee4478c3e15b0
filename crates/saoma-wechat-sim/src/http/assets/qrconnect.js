// The QR page's poll loop, shaped like WeChat's: each poll loads a <script> that sets
// window.wx_errcode (408 waiting, 404 scanned, 405 confirmed, 403 cancelled, 402 expired).
(function () {
  "use strict";
  var root = document.getElementById("login");
  var pollUrl = root.dataset.pollUrl;
  var redirectUri = root.dataset.redirectUri;
  var state = root.dataset.state;
  var selfRedirect = root.dataset.selfRedirect === "true";
  var last = 408;

  function show(id) {
    ["waiting", "scanned", "expired"].forEach(function (name) {
      document.getElementById(name).hidden = name !== id;
    });
    document.getElementById("qr").className = id === "waiting" ? "qr" : "qr dim";
  }

  // redirect_uri?code=CODE&state=STATE, or &code=… when it already has a query; a cancel
  // carries the state alone: that is how WeChat says "denied".
  function callbackUrl(code) {
    var base = redirectUri;
    var fragment = "";
    var hash = base.indexOf("#");
    if (hash >= 0) {
      fragment = base.slice(hash);
      base = base.slice(0, hash);
    }
    var query = (code ? "code=" + encodeURIComponent(code) + "&" : "") +
      "state=" + encodeURIComponent(state);
    return base + (base.indexOf("?") >= 0 ? "&" : "?") + query + fragment;
  }

  // In wxLogin.js's iframe, self_redirect=true keeps the navigation inside the frame.
  function go(url) {
    if (selfRedirect) {
      window.location.href = url;
    } else {
      window.top.location.href = url;
    }
  }

  // The duplicate_redirect fault: the callback is hit once in the background before the
  // real navigation, with the same code and state, as WeChat sometimes does.
  async function confirmed(code, count) {
    var url = callbackUrl(code);
    for (var i = 1; i < count; i++) {
      try {
        await fetch(url, { mode: "no-cors", credentials: "include" });
      } catch (ignored) {
        // The navigation below is what matters.
      }
    }
    go(url);
  }

  function handle() {
    var errcode = window.wx_errcode;
    if (errcode === 405) {
      confirmed(window.wx_code, window.wx_redirect_count || 1);
      return;
    }
    if (errcode === 403) {
      go(callbackUrl(""));
      return;
    }
    if (errcode === 402) {
      show("expired");
      return;
    }
    show(errcode === 404 ? "scanned" : "waiting");
    last = errcode || last;
    setTimeout(poll, 1000);
  }

  function poll() {
    window.wx_errcode = undefined;
    window.wx_code = "";
    window.wx_redirect_count = undefined;
    var script = document.createElement("script");
    script.src = pollUrl + "&last=" + last + "&_=" + Date.now();
    script.onload = function () {
      script.remove();
      handle();
    };
    script.onerror = function () {
      script.remove();
      setTimeout(poll, 2000);
    };
    document.head.appendChild(script);
  }

  poll();
})();
