//! Text no database stores: NUL (Postgres refuses it in `text` and `jsonb`; SQLite would store
//! it and let an address with NUL in it exist) and unpaired UTF-16 surrogates (not Unicode
//! at all). The extractors refuse both on the raw input, so that no endpoint gets that far.

/// Whether JSON text is free of `\u0000` escapes and of `\uD800`-`\uDFFF` escapes that do not
/// form a surrogate pair. Raw control bytes are JSON's own error and left to the parser.
pub fn json_is_storable(json: &[u8]) -> bool {
    let mut at = 0;
    // In valid JSON a backslash only appears in strings, where it starts an escape; scanning
    // escape by escape keeps `\\u0000` (a backslash, then the text "u0000") apart.
    while let Some(offset) = json
        .get(at..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\\'))
    {
        let escape = at + offset;
        if json.get(escape + 1) != Some(&b'u') {
            at = escape + 2;
            continue;
        }
        at = escape + 6;
        match hex_unit(json, escape + 2) {
            Some(0) | Some(0xDC00..=0xDFFF) => return false,
            Some(0xD800..=0xDBFF) => {
                let low = (json.get(at..at + 2) == Some(b"\\u"))
                    .then(|| hex_unit(json, at + 2))
                    .flatten();
                if !matches!(low, Some(0xDC00..=0xDFFF)) {
                    return false;
                }
                at += 6;
            }
            // Other characters, or a malformed escape the parser reports.
            _ => {}
        }
    }
    true
}

/// Whether `application/x-www-form-urlencoded` text (a query string or a form body) is free of
/// NUL, raw or percent-encoded. Any `%00` decodes to NUL: `%` is not a hex digit, so it can
/// never be the tail of an earlier escape.
pub fn urlencoded_is_storable(text: &[u8]) -> bool {
    !text.contains(&0) && !text.windows(3).any(|w| w == b"%00")
}

/// The UTF-16 code unit of the four hex digits at `at`.
fn hex_unit(json: &[u8], at: usize) -> Option<u16> {
    let digits = std::str::from_utf8(json.get(at..at + 4)?).ok()?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_nul_and_lone_surrogates_are_found() {
        for bad in [
            r#"{"email":"a\u0000@x.x"}"#,
            r#"{"data":{"k\u0000":1}}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\uD800x"}"#,
            r#"{"a":"\ud800\u0041"}"#,
            r#"{"a":"\udc00"}"#,
            r#"{"a":"\\\u0000"}"#,
            r#"{"a":"\ud83d"#,
        ] {
            assert!(!json_is_storable(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn json_ordinary_escapes_pass() {
        for good in [
            r#"{"email":"a@x.x"}"#,
            r#"{"a":"\\u0000"}"#,
            r#"{"a":"\ud83d\ude00 \u00e9 \n \" \\"}"#,
            r#"{"a":"\u0001"}"#,
            r#"{"a":"\u12"}"#,
            r#"\"#,
        ] {
            assert!(json_is_storable(good.as_bytes()), "{good}");
        }
    }

    #[test]
    fn urlencoded_nul_is_found() {
        assert!(!urlencoded_is_storable(b"redirect_to=http://x/%00"));
        assert!(!urlencoded_is_storable(b"a=%%00"));
        assert!(!urlencoded_is_storable(b"a=\0"));
        assert!(urlencoded_is_storable(b"a=%2500&b=%0A"));
    }
}
