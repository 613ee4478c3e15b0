//! Phone numbers as GoTrue stores them: the country code and the number, digits only, no `+`
//! (E.164 without its plus), so that one number is one user however a client wrote it.

/// GoTrue's answer to a number it cannot read.
pub const INVALID: &str = "Invalid phone number format (E.164 required)";

/// `raw` in GoTrue's stored form. Spaces, dashes, dots and parentheses are dropped and a
/// leading `+` removed; a bare 11-digit mainland mobile number (`1xxxxxxxxxx`) gets
/// `default_country` in front when one is configured (e.g. `86`). Anything else that is not
/// 2 to 15 digits starting with 1-9 is refused with [`INVALID`].
pub fn normalize(raw: &str, default_country: &str) -> Result<String, &'static str> {
    let trimmed = raw.trim();
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(INVALID),
        }
    }
    let country = default_country.trim().trim_start_matches('+');
    if !plus && !country.is_empty() && is_mainland_mobile(&digits) {
        digits.insert_str(0, country);
    }
    let valid = (2..=15).contains(&digits.len()) && !digits.starts_with('0');
    if valid {
        Ok(digits)
    } else {
        Err(INVALID)
    }
}

/// A mainland China mobile number written without its country code.
fn is_mainland_mobile(digits: &str) -> bool {
    digits.len() == 11 && digits.starts_with('1')
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn numbers_are_stored_as_digits_with_country_code() {
        for raw in [
            "+86 138 0000 0000",
            "8613800000000",
            "+86-138-0000-0000",
            " +86 (138) 0000.0000 ",
        ] {
            assert_eq!(normalize(raw, "").as_deref(), Ok("8613800000000"), "{raw}");
        }
    }

    #[test]
    fn a_bare_mainland_number_needs_a_configured_country() {
        assert_eq!(
            normalize("13800000000", "86").as_deref(),
            Ok("8613800000000")
        );
        // Without a default country it is taken as written (GoTrue's E.164 rule holds).
        assert_eq!(normalize("13800000000", "").as_deref(), Ok("13800000000"));
        // With a `+`, the caller said it carries its country code.
        assert_eq!(
            normalize("+13800000000", "86").as_deref(),
            Ok("13800000000")
        );
        // Not an 11-digit mainland mobile: left alone.
        assert_eq!(
            normalize("4915112345678", "86").as_deref(),
            Ok("4915112345678")
        );
    }

    #[test]
    fn what_is_not_a_number_is_refused() {
        for raw in [
            "",
            "+",
            "abc",
            "0861380000000",
            "1",
            "1234567890123456",
            "86\u{0}138",
            "86１３８",
        ] {
            assert!(normalize(raw, "86").is_err(), "{raw:?}");
        }
    }
}
