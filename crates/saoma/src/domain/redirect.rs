//! Where a flow may send the user back to: GoTrue's rules (the site URL's host, loopback
//! addresses, or a URI allow-list glob; anything else silently becomes the site URL), decided
//! on the URL as a browser parses it (WHATWG rules, which the `url` crate implements).
//!
//! Matching the raw string is not enough: `https://evil%2Ecom?.example.org/` matches
//! `https://*.example.org/**` character by character, yet a browser goes to `evil.com`. So a
//! target is first parsed, and refused unless the browser would read the very host that the raw
//! text shows; only then are the rules applied, to the parsed parts.

use url::{Host, Position, Url};

mod glob;

pub use glob::glob_match;

/// Longer targets are refused outright (the site URL is used instead): browsers, mobile apps
/// and GoTrue clients never send more, and the checks below then stay cheap whatever the
/// text is, before any rate limit applies.
const MAX_REDIRECT_BYTES: usize = 2048;

/// `true` when `redirect_to` may be used.
pub fn is_allowed(redirect_to: &str, site_url: &str, allow_list: &[String]) -> bool {
    if redirect_to.len() > MAX_REDIRECT_BYTES {
        return false;
    }
    let Some(target) = Target::parse(redirect_to) else {
        return false;
    };
    target.is_on_site(site_url)
        || target.is_web_loopback()
        || allow_list.iter().any(|pattern| target.matches(pattern))
}

/// `redirect_to` when allowed, else the site URL. The target is returned as given: it passed
/// only if a browser reads the same scheme, host and port from it.
pub fn resolve(redirect_to: Option<&str>, site_url: &str, allow_list: &[String]) -> String {
    match redirect_to.filter(|r| !r.is_empty()) {
        Some(target) if is_allowed(target, site_url, allow_list) => target.to_owned(),
        _ => site_url.to_owned(),
    }
}

/// A redirect target whose raw text and browser reading agree on scheme, host and port.
struct Target {
    url: Url,
    /// `https://a.example.org?x` has no path; the parser adds `/`, which a GoTrue pattern
    /// written without it must not be refused for.
    raw_path_empty: bool,
}

impl Target {
    fn parse(raw: &str) -> Option<Self> {
        // Browsers drop tabs and newlines anywhere, trim spaces and controls, and read `\` as
        // `/`; CR/LF would also end the Location header. Such a target is never what it shows.
        if raw
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return None;
        }
        // Without `//` a special scheme still gets a host (`https:evil.com`); require it, so the
        // authority below is the one the parser reads.
        let (raw_scheme, rest) = raw.split_once("://")?;
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let raw_authority = &rest[..authority_end];
        let url = Url::parse(raw).ok()?;
        // `https://app.example.com@evil.com/` goes to evil.com.
        if raw_authority.contains('@') || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let (raw_host, raw_port) = split_port(raw_authority)?;
        let host = url.host()?;
        let host_text = url.host_str()?;
        // The parser percent-decodes (`evil%2Ecom`), maps IDN and full-width characters, and
        // reads `2130706433` or `0x7f.1` as dotted quads: any difference beyond case means
        // the browser would go somewhere the text does not show.
        let same_host = raw_host.eq_ignore_ascii_case(host_text);
        let same_port = match raw_port {
            None => url.port().is_none(),
            Some(port) => port.parse::<u16>().ok() == url.port_or_known_default(),
        };
        let same_scheme = raw_scheme.eq_ignore_ascii_case(url.scheme());
        if !(same_host && same_port && same_scheme && is_plain_host(&host)) {
            return None;
        }
        Some(Self {
            raw_path_empty: authority_end == rest.len()
                || rest[authority_end..].starts_with(['?', '#']),
            url,
        })
    }

    fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// Same scheme and host as the site URL; the port too, except on loopback where dev
    /// servers move around.
    fn is_on_site(&self, site_url: &str) -> bool {
        let Ok(site) = Url::parse(site_url) else {
            return false;
        };
        let same_host = site
            .host_str()
            .is_some_and(|host| host.eq_ignore_ascii_case(self.host()));
        let same_port = self.url.port_or_known_default() == site.port_or_known_default()
            || self.url.host().is_some_and(|host| is_loopback(&host));
        self.url.scheme() == site.scheme() && same_host && same_port
    }

    /// Loopback is the developer's own machine, but only for web schemes: with any other
    /// scheme (`javascript://127.0.0.1/%0aalert(1)`) the host means nothing.
    fn is_web_loopback(&self) -> bool {
        matches!(self.url.scheme(), "http" | "https")
            && self.url.host().is_some_and(|host| is_loopback(&host))
    }

    /// GoTrue's glob over the normalised URL without its fragment, and the pattern's own host
    /// part (when it has one) over the parsed host, so no `?`, `#` or `@` in host position can
    /// make a different host match.
    fn matches(&self, pattern: &str) -> bool {
        let pattern = normalise_pattern(pattern);
        if let Some(host_glob) = pattern_host(&pattern) {
            if !glob_match(host_glob, self.host()) {
                return false;
            }
        }
        let url = &self.url;
        let normalised = &url[..Position::AfterQuery];
        if glob_match(&pattern, normalised) {
            return true;
        }
        self.raw_path_empty
            && url.path() == "/"
            && glob_match(
                &pattern,
                &format!(
                    "{}{}",
                    &url[..Position::BeforePath],
                    &url[Position::AfterPath..Position::AfterQuery]
                ),
            )
    }
}

/// `host[:port]` or `[v6]:port`; `None` when what follows a bracketed host is not a port.
fn split_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let close = authority.find(']')? + 1;
        let (host, after) = authority.split_at(close);
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    Some(match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

/// An IP literal, or a name of letters, digits, dots and hyphens: nothing a browser could
/// decode into something else (custom schemes keep `%` and the like in their hosts verbatim).
fn is_plain_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        }
        Host::Ipv4(_) | Host::Ipv6(_) => true,
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// The parser lower-cases schemes, and web hosts: a pattern written `HTTPS://App.example.org`
/// is lower-cased the same way, or it could never match.
fn normalise_pattern(pattern: &str) -> String {
    let Some((scheme, rest)) = pattern.split_once("://") else {
        return pattern.to_owned();
    };
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https") {
        return format!("{scheme}://{rest}");
    }
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    format!("{scheme}://{}{path}", authority.to_ascii_lowercase())
}

/// The host part of a pattern with a `scheme://` prefix: up to the first `/`, less a port
/// (digits or glob characters after the last `:`).
fn pattern_host(pattern: &str) -> Option<&str> {
    let (_, rest) = pattern.split_once("://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.ends_with(']') {
        return Some(authority);
    }
    Some(match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| "0123456789*?[]{},-!^".contains(c)) => host,
        _ => authority,
    })
}

#[cfg(test)]
mod tests;
