//! Email address checks, as strict as GoTrue's and no stricter.

/// Trims and lowercases an address, or explains why it is not one.
pub fn normalize(input: &str) -> Result<String, &'static str> {
    let email = input.trim().to_lowercase();
    if email.is_empty() {
        return Err("An email address is required");
    }
    if email.len() > 255 {
        return Err("An email address is too long");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("Unable to validate email address: invalid format");
    };
    let domain_ok = !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    if local.is_empty() || local.contains(char::is_whitespace) || !domain_ok {
        return Err("Unable to validate email address: invalid format");
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn accepts_and_lowercases() {
        assert_eq!(
            normalize("  Alice@Example.COM ").as_deref(),
            Ok("alice@example.com")
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a b@example.com",
            "a@exa..mple.com",
            "a@-x_y.com",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
