//! A credential from configuration: read and written as the plain string it is, never printed.

use serde::{Deserialize, Serialize};

/// An external provider's secret (a WeChat AppSecret, an OAuth client secret). `Debug` shows
/// only whether one is set, so a logged configuration never leaks it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that sends it to the provider.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "[redacted]"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value_but_not_its_absence() {
        assert_eq!(
            format!("{:?}", Secret::from("s3cr3t-app-secret")),
            "[redacted]"
        );
        assert_eq!(format!("{:?}", Secret::default()), "\"\"");
    }
}
