//! Go's duration syntax (`24h`, `1h30m`, `90s`, `500ms`), which GoTrue's `ban_duration` uses.

use chrono::Duration;

/// The longest ban: "forever" in practice, and far from what the databases can store (SQLite
/// reads dates up to year 9999; a ban of 999999999h would end in year 116000).
pub const MAX_BAN_YEARS: i64 = 100;

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
    let max_millis = (MAX_BAN_YEARS * 365 + MAX_BAN_YEARS / 4) as f64 * 86_400e3;
    let too_long = || format!("ban duration must be at most {MAX_BAN_YEARS} years: {text:?}");
    // Summed as float milliseconds and bounded before any conversion: no digit string, however
    // long, overflows (an `f64` saturates at infinity, which the bound refuses).
    let mut total_millis = 0.0;
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
        total_millis += value * millis;
        if total_millis > max_millis {
            return Err(too_long());
        }
    }
    Ok(Some(Duration::milliseconds(total_millis as i64)))
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

    #[test]
    fn bans_are_bounded() {
        let century = 100 * 365 * 24 + 25 * 24;
        assert_eq!(
            parse_ban(&format!("{century}h")),
            Ok(Some(Duration::hours(century)))
        );
        for huge in [
            "876625h",
            "999999999h",
            "9999999999999999999h",
            &format!("{}h", "9".repeat(400)),
            "600000h600000h",
        ] {
            let refused = parse_ban(huge).err().unwrap_or_default();
            assert!(refused.contains("at most 100 years"), "{huge}: {refused}");
        }
    }
}
