//! Go's duration syntax (`24h`, `1h30m`, `90s`, `500ms`), which GoTrue's `ban_duration` uses.

use chrono::Duration;

/// Parses a Go duration; `none` is no ban (`None`).
pub fn parse_ban(text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let invalid = || format!("invalid format for ban duration: {text:?}");
    if text.is_empty() {
        return Err(invalid());
    }
    let mut total = Duration::zero();
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        if digits == 0 {
            return Err(invalid());
        }
        let value: f64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let millis = match &rest[..unit_len] {
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3600e3,
            _ => return Err(invalid()),
        };
        rest = &rest[unit_len..];
        total += Duration::milliseconds((value * millis) as i64);
    }
    Ok(Some(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_ban("24h"), Ok(Some(Duration::hours(24))));
        assert_eq!(parse_ban("1h30m"), Ok(Some(Duration::minutes(90))));
        assert_eq!(parse_ban("1.5s"), Ok(Some(Duration::milliseconds(1500))));
        assert_eq!(parse_ban("none"), Ok(None));
        for bad in ["", "h", "10", "10d", "-1h", "1h x"] {
            assert!(parse_ban(bad).is_err(), "{bad}");
        }
    }
}
