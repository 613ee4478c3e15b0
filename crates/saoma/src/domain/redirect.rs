//! Where a flow may send the user back to: GoTrue's rules. The site URL's host, loopback
//! addresses, or a URI allow-list glob; anything else silently becomes the site URL.

/// `true` when `redirect_to` may be used.
pub fn is_allowed(redirect_to: &str, site_url: &str, allow_list: &[String]) -> bool {
    let Some(target) = parse(redirect_to) else {
        return false;
    };
    if !matches!(target.scheme.as_str(), "http" | "https") && allow_list.is_empty() {
        return false;
    }
    if let Some(site) = parse(site_url) {
        let loopback = |h: &str| matches!(h, "localhost" | "127.0.0.1" | "[::1]" | "::1");
        if target.scheme == site.scheme && target.host == site.host {
            // Ports only matter off loopback.
            if target.port == site.port || loopback(&target.host) {
                return true;
            }
        }
    }
    if is_loopback_ip(&target.host) {
        return true;
    }
    let without_fragment = redirect_to.split('#').next().unwrap_or_default();
    allow_list
        .iter()
        .any(|pattern| glob_match(pattern, without_fragment))
}

/// `redirect_to` when allowed, else the site URL.
pub fn resolve(redirect_to: Option<&str>, site_url: &str, allow_list: &[String]) -> String {
    match redirect_to.map(str::trim).filter(|r| !r.is_empty()) {
        Some(target) if is_allowed(target, site_url, allow_list) => target.to_owned(),
        _ => site_url.to_owned(),
    }
}

struct Parts {
    scheme: String,
    host: String,
    port: Option<String>,
}

fn parse(url: &str) -> Option<Parts> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Userinfo (`user@host`) is a classic open-redirect trick: refuse it outright.
    if authority.contains('@') || authority.contains('\\') {
        return None;
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (
            format!("[{host}]"),
            after.strip_prefix(':').map(str::to_owned),
        )
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port.to_owned())),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some(Parts {
        scheme: scheme.to_ascii_lowercase(),
        host: host.to_ascii_lowercase(),
        port,
    })
}

fn is_loopback_ip(host: &str) -> bool {
    if host == "[::1]" {
        return true;
    }
    // Dotted quads only: bare decimal hosts like `2130706433` are refused, as GoTrue does.
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.len() <= 3 && o.chars().all(|c| c.is_ascii_digit()))
        && octets[0] == "127"
}

/// Glob matching as GoTrue's allow-list uses it (gobwas/glob with `.` and `/` as separators):
/// `*` matches within one label or path segment, `**` anything, `?` one non-separator
/// character, `[abc]` / `[!abc]` / `[a-z]` a class, `{a,b}` alternatives.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    matches_at(&pattern, &text)
}

fn is_separator(c: char) -> bool {
    c == '.' || c == '/'
}

fn matches_at(p: &[char], t: &[char]) -> bool {
    let Some(&first) = p.first() else {
        return t.is_empty();
    };
    match first {
        '*' if p.get(1) == Some(&'*') => (0..=t.len()).any(|i| matches_at(&p[2..], &t[i..])),
        '*' => {
            let limit = t.iter().position(|&c| is_separator(c)).unwrap_or(t.len());
            (0..=limit).any(|i| matches_at(&p[1..], &t[i..]))
        }
        '?' => t.first().is_some_and(|&c| !is_separator(c)) && matches_at(&p[1..], &t[1..]),
        '[' => match (class_end(p), t.first()) {
            (Some(end), Some(&c)) => {
                class_contains(&p[1..end], c) && matches_at(&p[end + 1..], &t[1..])
            }
            (None, Some(&c)) => c == '[' && matches_at(&p[1..], &t[1..]),
            (_, None) => false,
        },
        '{' => match alternatives(p) {
            Some((options, rest)) => options.iter().any(|option| {
                let mut combined = option.clone();
                combined.extend_from_slice(rest);
                matches_at(&combined, t)
            }),
            None => t.first() == Some(&'{') && matches_at(&p[1..], &t[1..]),
        },
        '\\' if p.len() > 1 => t.first() == Some(&p[1]) && matches_at(&p[2..], &t[1..]),
        literal => t.first() == Some(&literal) && matches_at(&p[1..], &t[1..]),
    }
}

fn class_end(p: &[char]) -> Option<usize> {
    p.iter().skip(2).position(|&c| c == ']').map(|i| i + 2)
}

fn class_contains(class: &[char], c: char) -> bool {
    let (negate, class) = match class.first() {
        Some('!') | Some('^') => (true, &class[1..]),
        _ => (false, class),
    };
    let mut found = false;
    let mut i = 0;
    while i < class.len() {
        if i + 2 < class.len() && class[i + 1] == '-' {
            found |= class[i] <= c && c <= class[i + 2];
            i += 3;
        } else {
            found |= class[i] == c;
            i += 1;
        }
    }
    found != negate
}

/// Splits `{a,b,c}rest` into the options and the rest (no nesting).
fn alternatives(p: &[char]) -> Option<(Vec<Vec<char>>, &[char])> {
    let close = p.iter().position(|&c| c == '}')?;
    let options = p[1..close]
        .split(|&c| c == ',')
        .map(<[char]>::to_vec)
        .collect();
    Some((options, &p[close + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "https://app.example.com";

    fn list(patterns: &[&str]) -> Vec<String> {
        patterns.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn site_host_is_always_allowed() {
        assert!(is_allowed(
            "https://app.example.com/private?next=/x",
            SITE,
            &[]
        ));
        assert!(
            !is_allowed("http://app.example.com/private", SITE, &[]),
            "scheme must match"
        );
        assert!(!is_allowed("https://app.example.com.evil.com/", SITE, &[]));
        assert!(!is_allowed(
            "https://evil.com/https://app.example.com",
            SITE,
            &[]
        ));
        assert!(!is_allowed("https://app.example.com@evil.com/", SITE, &[]));
        assert!(
            is_allowed("http://localhost:4000/cb", "http://localhost:3000", &[]),
            "loopback ignores ports"
        );
    }

    #[test]
    fn loopback_ips_yes_decimal_hosts_no() {
        assert!(is_allowed("http://127.0.0.1:8080/cb", SITE, &[]));
        assert!(is_allowed("http://[::1]:8080/cb", SITE, &[]));
        assert!(!is_allowed("http://2130706433/cb", SITE, &[]));
    }

    #[test]
    fn allow_list_globs() {
        let allow = list(&[
            "https://*.example.org/**",
            "myapp://callback",
            "https://preview-?.example.net/auth",
        ]);
        assert!(is_allowed(
            "https://a.example.org/anything/at/all?x=1",
            SITE,
            &allow
        ));
        assert!(
            !is_allowed("https://a.b.example.org/x", SITE, &allow),
            "* does not cross dots"
        );
        assert!(is_allowed("myapp://callback", SITE, &allow));
        assert!(
            is_allowed("https://preview-1.example.net/auth#frag", SITE, &allow),
            "fragment ignored"
        );
        assert!(!is_allowed(
            "https://preview-12.example.net/auth",
            SITE,
            &allow
        ));
        assert!(!is_allowed("https://evil.com/", SITE, &allow));
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
        assert_eq!(resolve(Some("https://evil.com"), SITE, &[]), SITE);
        assert_eq!(resolve(None, SITE, &[]), SITE);
        assert_eq!(
            resolve(Some("https://app.example.com/p"), SITE, &[]),
            "https://app.example.com/p"
        );
    }
}
