//! Email address checks, as strict as GoTrue's and no stricter.

const INVALID: &str = "Unable to validate email address: invalid format";

/// Trims and lowercases an address, or explains why it is not one.
pub fn normalize(input: &str) -> Result<String, &'static str> {
    let email = input.trim().to_lowercase();
    if email.is_empty() {
        return Err("An email address is required");
    }
    if email.len() > 255 {
        return Err("An email address is too long");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(INVALID);
    };
    if !valid_local_part(local) || !valid_domain(domain) {
        return Err(INVALID);
    }
    Ok(email)
}

/// GoTrue's pattern (badoux/checkmail):
/// `^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`
/// The local part: ASCII letters, digits and these symbols only (no quotes, brackets, commas,
/// colons or whitespace).
fn valid_local_part(local: &str) -> bool {
    !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b))
}

/// Dot-separated labels of 1 to 63 ASCII letters, digits and inner hyphens.
fn valid_domain(domain: &str) -> bool {
    domain.split('.').all(|label| {
        let bytes = label.as_bytes();
        (1..=63).contains(&bytes.len())
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && bytes.first() != Some(&b'-')
            && bytes.last() != Some(&b'-')
    })
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
        for good in [
            "a.b+tag@example.com",
            "o'brien@x.io",
            "x!#$%&'*+/=?^_`{|}~-@a-b.c0",
            "root@localhost",
        ] {
            assert!(normalize(good).is_ok(), "{good:?} should be accepted");
        }
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
            "a@x-.com",
            "a@.x.com",
            "a@x.com.",
            "xx:;x@x.x",
            "a(b)@x.x",
            "a,b@x.x",
            "a\"b@x.x",
            "a@b@x.x",
            "a\u{0}b@x.x",
            "ü@x.x",
            "a@bü.x",
        ] {
            assert_eq!(
                normalize(bad).err().map(|_| ()),
                Some(()),
                "{bad:?} should be rejected"
            );
        }
        let long_label = format!("a@{}.com", "x".repeat(64));
        assert!(normalize(&long_label).is_err());
    }
}
