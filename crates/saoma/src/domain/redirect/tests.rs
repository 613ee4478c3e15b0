use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use url::{Host, Url};

use super::*;

const SITE: &str = "https://app.example.com";

fn list(patterns: &[&str]) -> Vec<String> {
    patterns.iter().map(|p| p.to_string()).collect()
}

fn allow() -> Vec<String> {
    list(&[
        "https://*.example.org/**",
        "myapp://callback",
        "https://preview-?.example.net/auth",
    ])
}

/// Each target with its verdict under `SITE` and `allow()`, and why.
const TABLE: &[(&str, bool)] = &[
    // What must keep working.
    ("https://app.example.com/private?next=/x", true),
    ("https://app.example.com", true),
    ("HTTPS://APP.EXAMPLE.COM/x", true),
    ("https://app.example.com:443/x", true),
    ("https://a.example.org/anything/at/all?x=1", true),
    ("https://a.example.org", true),
    ("https://a.example.org:443/x", true),
    ("https://A.Example.ORG/x", true),
    ("https://xn--bcher-kva.example.org/cb", true),
    ("https://a.example.org/%2e%2e/%2F%2Fevil.com", true),
    ("https://a.example.org/cb#x@evil.com", true),
    ("myapp://callback", true),
    ("MYAPP://callback", true),
    ("https://preview-1.example.net/auth#frag", true),
    ("http://localhost:4000/cb", true),
    ("http://127.0.0.1:8080/cb", true),
    ("http://127.1.2.3/cb", true),
    ("http://[::1]:8080/cb", true),
    ("https://[::1]/cb", true),
    // Scheme, port and host as parsed.
    ("http://app.example.com/", false),
    ("ftp://app.example.com/", false),
    ("https://app.example.com:8443/", false),
    ("https://a.example.org:8443/x", false),
    ("https://app.example.com.evil.com/", false),
    ("https://app.example.com./", false),
    ("https://a.example.org./x", false),
    ("https://a.b.example.org/x", false),
    ("https://preview-12.example.net/auth", false),
    ("https://evil.com/https://app.example.com", false),
    ("https://evil.com", false),
    // Userinfo.
    ("https://app.example.com@evil.com/", false),
    ("https://a@evil.com/", false),
    ("https://:@app.example.com/", false),
    ("https://a.example.org:x@evil.com/", false),
    // Backslashes and missing or extra slashes.
    ("https://evil.com\\@app.example.com/", false),
    ("https:\\\\evil.com/", false),
    ("https://evil.com\\.example.org/", false),
    ("//evil.com/", false),
    ("https:evil.com", false),
    ("https:/evil.com", false),
    ("https:///evil.com", false),
    ("https://", false),
    ("", false),
    // Percent-encoding and `?`/`#`/`@`/`/` in host position.
    ("https://evil%2Ecom?.example.org/", false),
    ("https://evil%2ecom.example.org/", false),
    ("https://evil.com%2F.example.org/", false),
    ("https://evil.com%40a.example.org/", false),
    ("https://16909060?.example.org/", false),
    ("https://evil.com?.example.org/", false),
    ("https://evil.com#.example.org/", false),
    ("https://evil.com/.example.org/", false),
    ("https://evil.com@a.example.org/", false),
    ("myapp://call%62ack", false),
    // Numeric hosts the parser rewrites into dotted quads.
    ("http://2130706433/", false),
    ("http://0x7f.1/", false),
    ("http://0x7f000001/", false),
    ("http://0177.0.0.1/", false),
    ("http://127.1/", false),
    ("http://127.0.0.01/", false),
    ("http://[0:0:0:0:0:0:0:1]/", false),
    ("http://[::ffff:127.0.0.1]/", false),
    ("http://127.0.0.1.evil.com/", false),
    ("http://localhost.evil.com/", false),
    // Loopback only for web schemes.
    ("javascript://127.0.0.1/%0aalert(1)", false),
    (
        "data://127.0.0.1/text/html,<script>alert(1)</script>",
        false,
    ),
    ("javascript://localhost/%0aalert(1)", false),
    ("javascript:alert(1)", false),
    // IDN and look-alikes the parser maps to another host.
    ("https://bücher.example.org/", false),
    ("https://ｅvil.com/", false),
    ("https://a。example.org/", false),
    ("https://app.example.com。/", false),
    // Whitespace.
    (" https://app.example.com/", false),
    ("https://app.example.com/ ", false),
    ("https://app.example.com/a b", false),
    ("https://app.example.com/\u{a0}", false),
];

#[test]
fn tricky_targets_get_their_verdicts() {
    assert!(TABLE.len() >= 40);
    let allow = allow();
    let wrong: Vec<_> = TABLE
        .iter()
        .filter(|(target, verdict)| is_allowed(target, SITE, &allow) != *verdict)
        .collect();
    assert!(
        wrong.is_empty(),
        "wrong verdicts (target, expected): {wrong:?}"
    );
}

#[test]
fn every_control_character_is_refused_anywhere() {
    let allow = allow();
    let templates = [
        "{}https://app.example.com/cb",
        "https://app.exa{}mple.com/cb",
        "https://a.example.org{}/cb",
        "https://a.example.org/c{}b?x=1",
        "https://app.example.com/cb{}",
        "http://127.0.0.1{}:3000/",
        "myapp://call{}back",
    ];
    for template in templates {
        assert!(
            is_allowed(&template.replace("{}", ""), SITE, &allow),
            "{template} must pass without the control character"
        );
        for c in (0u8..=0x1f).chain([0x7f]).map(char::from) {
            let target = template.replace("{}", &c.to_string());
            assert!(!is_allowed(&target, SITE, &allow), "{target:?} accepted");
            assert_eq!(resolve(Some(&target), SITE, &allow), SITE, "{target:?}");
        }
    }
}

#[test]
fn a_pattern_host_must_match_the_parsed_host() {
    // `**` crosses everything, so the whole-URL glob alone matches `evil.com/?.example.org/`.
    let allow = list(&["https://**.example.org/**"]);
    assert!(is_allowed("https://a.b.example.org/x", SITE, &allow));
    assert!(!is_allowed("https://evil.com/?.example.org/", SITE, &allow));
    assert!(!is_allowed("https://evil.com/#.example.org/", SITE, &allow));
    let ports = list(&["http://dev.example.org:*/**"]);
    assert!(is_allowed("http://dev.example.org:3000/cb", SITE, &ports));
    assert!(!is_allowed("http://evil.com:3000/cb", SITE, &ports));
}

#[test]
fn custom_schemes_only_through_the_allow_list() {
    assert!(!is_allowed("myapp://callback", SITE, &[]));
    assert!(is_allowed("myapp://callback", SITE, &allow()));
    assert!(
        is_allowed("myapp://callback", "myapp://callback", &[]),
        "a site URL with its own scheme still names itself"
    );
}

#[test]
fn site_host_and_loopback_rules() {
    assert!(
        is_allowed("http://localhost:4000/cb", "http://localhost:3000", &[]),
        "loopback ignores ports"
    );
    assert!(is_allowed(
        "http://LOCALHOST:3000/x",
        "http://localhost:3000",
        &[]
    ));
    assert!(!is_allowed(
        "https://app.example.com:8443/",
        "https://app.example.com:443",
        &[]
    ));
    assert!(is_allowed(
        "https://app.example.com/",
        "https://app.example.com:443",
        &[]
    ));
}

#[test]
fn allow_list_globs() {
    let allow = allow();
    assert!(is_allowed(
        "https://a.example.org/anything/at/all?x=1",
        SITE,
        &allow
    ));
    let no_path = list(&["https://a.example.org", "http://localhost:3000"]);
    assert!(is_allowed("https://a.example.org", SITE, &no_path));
    assert!(is_allowed("https://A.example.org", SITE, &no_path));
    assert!(!is_allowed("https://a.example.org/x", SITE, &no_path));
    let upper = list(&["HTTPS://A.Example.org/**"]);
    assert!(is_allowed("https://a.example.org/cb", SITE, &upper));
}

#[test]
fn glob_features() {
    assert!(glob_match(
        "http://localhost:3000/**",
        "http://localhost:3000/a/b?c=d"
    ));
    assert!(!glob_match(
        "http://localhost:3000/*",
        "http://localhost:3000/a/b"
    ));
    assert!(glob_match(
        "https://{www,app}.example.com/*",
        "https://app.example.com/x"
    ));
    assert!(glob_match(
        "https://[a-c]x.example.com",
        "https://bx.example.com"
    ));
    assert!(!glob_match(
        "https://[!a-c]x.example.com",
        "https://bx.example.com"
    ));
}

#[test]
fn resolve_falls_back_to_site_url() {
    let allow = allow();
    assert_eq!(resolve(Some("https://evil.com"), SITE, &[]), SITE);
    assert_eq!(resolve(None, SITE, &[]), SITE);
    assert_eq!(resolve(Some(""), SITE, &[]), SITE);
    assert_eq!(
        resolve(Some("https://evil%2Ecom?.example.org/"), SITE, &allow),
        SITE
    );
    assert_eq!(
        resolve(Some("https://app.example.com/p"), SITE, &[]),
        "https://app.example.com/p"
    );
    assert_eq!(
        resolve(
            Some("https://app.example.com/p\r\nSet-Cookie: a=b"),
            SITE,
            &[]
        ),
        SITE
    );
}

// The property: whatever is accepted, a browser (the same WHATWG parser) goes to a host the
// site URL or an allow-list entry names. Written out by hand here, not through the code above.

const PROPERTY_ALLOW: &[&str] = &[
    "https://*.example.org/**",
    "https://**.example.net/cb",
    "myapp://callback",
    "http://localhost:3000/**",
];

fn named_by_config(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let web = matches!(url.scheme(), "http" | "https");
    let loopback = match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name == "localhost",
        None => false,
    };
    let one_label_under = |suffix: &str| {
        host.strip_suffix(suffix)
            .is_some_and(|label| !label.is_empty() && !label.contains('.'))
    };
    let https = url.scheme() == "https";
    (https && host == "app.example.com")
        || (web && loopback)
        || (https && one_label_under(".example.org"))
        || (https && host.ends_with(".example.net"))
        || (url.scheme() == "myapp" && host == "callback")
}

const SCHEMES: &[&str] = &[
    "https",
    "https",
    "http",
    "HTTPS",
    "HtTp",
    "myapp",
    "javascript",
    "data",
    "ftp",
    "",
];
const SEPARATORS: &[&str] = &[
    "://", "://", "://", "://", "://", "://", ":", ":/", ":///", ":\\\\", "://\\", "//", ":\\/",
];
const USERINFO: &[&str] = &[
    "",
    "",
    "",
    "",
    "",
    "",
    "a@",
    "app.example.com@",
    "a.example.org:x@",
    "@",
    ":@",
];
const HOSTS: &[&str] = &[
    "app.example.com",
    "a.example.org",
    "x.y.example.net",
    "localhost",
    "127.0.0.1",
    "[::1]",
    "callback",
    "evil.com",
    "2130706433",
    "16909060",
    "0x7f.1",
];
const NASTY: &[&str] = &[
    ".",
    "..",
    "%2E",
    "%2e",
    "%2F",
    "%40",
    "%00",
    "%0d%0a",
    "?",
    "#",
    "@",
    "/",
    "//",
    "\\",
    ":",
    "[",
    "]",
    "*",
    "evil.com",
    "evil",
    ".com",
    "xn--bcher-kva",
    "bücher",
    "ｅ",
    "。",
    "\u{0}",
    "\r",
    "\n",
    "\t",
    " ",
    "\u{a0}",
    "\u{7f}",
    "\u{ad}",
    "\u{200b}",
    "0x",
    "0177.",
    "127.",
    ".example.org",
    "example.org",
    ".example.net",
    "?.example.org",
    "#.example.org",
    "@app.example.com",
    "%2Eexample.org",
    ":443",
    ":80",
    ":3000",
];
const PORTS: &[&str] = &[
    "", "", "", ":443", ":80", ":3000", ":", ":0443", ":99999", ":x",
];
const TAILS: &[&str] = &[
    "",
    "/",
    "/cb",
    "/a/../..",
    "?x=1",
    "#f",
    "?.example.org/",
    "#.example.org",
    "//evil.com",
    "/%2F%2Fevil.com",
    "\\evil.com",
    "@evil.com",
    "/\r\nSet-Cookie:x",
];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

/// Inserts `piece` at a random character boundary of `text`.
fn insert_at_random(rng: &mut StdRng, text: &mut String, piece: &str) {
    let boundaries: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let at = boundaries[rng.gen_range(0..boundaries.len())];
    text.insert_str(at, piece);
}

/// Targets the configuration accepts, for the mutating half of the generator.
const GOOD: &[&str] = &[
    "https://app.example.com/private?next=/x",
    "https://a.example.org/cb",
    "https://x.y.example.net/cb",
    "http://localhost:3000/cb",
    "http://127.0.0.1:8080/",
    "myapp://callback",
];

/// Half the time a URL assembled from the fragments above, with nasty pieces inserted into
/// its host; half the time an accepted URL with one nasty piece inserted anywhere.
fn random_target(rng: &mut StdRng) -> String {
    if rng.gen_bool(0.5) {
        let mut target = pick(rng, GOOD).to_owned();
        let piece = pick(rng, NASTY);
        insert_at_random(rng, &mut target, piece);
        return target;
    }
    let mut host = pick(rng, HOSTS).to_owned();
    for _ in 0..rng.gen_range(0..3) {
        let piece = pick(rng, NASTY);
        insert_at_random(rng, &mut host, piece);
    }
    let mut target = [
        pick(rng, SCHEMES),
        pick(rng, SEPARATORS),
        pick(rng, USERINFO),
        &host,
        pick(rng, PORTS),
        pick(rng, TAILS),
    ]
    .concat();
    if rng.gen_bool(0.2) {
        let piece = pick(rng, NASTY);
        insert_at_random(rng, &mut target, piece);
    }
    target
}

#[test]
fn whatever_is_accepted_goes_to_a_named_host() {
    let allow = list(PROPERTY_ALLOW);
    let mut rng = StdRng::seed_from_u64(12);
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..10_000 {
        let target = random_target(&mut rng);
        if !is_allowed(&target, SITE, &allow) {
            refused += 1;
            continue;
        }
        accepted += 1;
        let url = Url::parse(&target).unwrap_or_else(|e| panic!("{target:?} accepted: {e}"));
        assert!(
            named_by_config(&url),
            "{target:?} accepted, a browser goes to {:?}",
            url.host_str()
        );
    }
    // Neither side may be empty, or the property says nothing.
    assert!(
        accepted > 400 && refused > 400,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn targets_over_2048_bytes_fall_back_to_the_site_url() {
    let allow = allow();
    for base in ["https://app.example.com/", "https://a.example.org/"] {
        let longest = format!("{base}{}", "a".repeat(2048 - base.len()));
        assert_eq!(resolve(Some(&longest), SITE, &allow), longest);
        let too_long = format!("{longest}a");
        assert_eq!(resolve(Some(&too_long), SITE, &allow), SITE);
    }
}
