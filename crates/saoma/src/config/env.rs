//! The environment variables saoma reads, and how their text becomes configuration values.

use std::collections::BTreeMap;

use super::ConfigError;

/// One environment variable: its name and the TOML path it sets.
pub(super) struct EnvVar {
    pub name: String,
    pub path: Vec<&'static str>,
    pub kind: Kind,
}

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Str,
    Int,
    Bool,
    List,
}

/// The WeChat app sections, each read from `SAOMA_EXTERNAL_<NAME>_*`.
pub const WECHAT_PROVIDERS: [&str; 4] = ["wechat_qr", "wechat_mp", "wechat_mini", "wechat_app"];

const FIXED: &[(&str, &[&str], Kind)] = &[
    ("SAOMA_HOST", &["host"], Kind::Str),
    ("SAOMA_PORT", &["port"], Kind::Int),
    ("SAOMA_DATABASE_URL", &["database_url"], Kind::Str),
    ("SAOMA_SITE_URL", &["site_url"], Kind::Str),
    ("SAOMA_URI_ALLOW_LIST", &["uri_allow_list"], Kind::List),
    ("SAOMA_EXTERNAL_URL", &["external_url"], Kind::Str),
    ("SAOMA_DISABLE_SIGNUP", &["disable_signup"], Kind::Bool),
    ("SAOMA_JWT_SECRET", &["jwt", "secret"], Kind::Str),
    ("SAOMA_JWT_EXP", &["jwt", "exp"], Kind::Int),
    ("SAOMA_JWT_AUD", &["jwt", "aud"], Kind::Str),
    ("SAOMA_JWT_ISSUER", &["jwt", "issuer"], Kind::Str),
    (
        "SAOMA_JWT_SIGNING_KEY_FILE",
        &["jwt", "signing_key_file"],
        Kind::Str,
    ),
    ("SAOMA_JWT_KID", &["jwt", "kid"], Kind::Str),
    (
        "SAOMA_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED",
        &["security", "refresh_token_rotation_enabled"],
        Kind::Bool,
    ),
    (
        "SAOMA_SECURITY_MANUAL_LINKING_ENABLED",
        &["security", "manual_linking_enabled"],
        Kind::Bool,
    ),
    (
        "SAOMA_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL",
        &["security", "refresh_token_reuse_interval"],
        Kind::Int,
    ),
    (
        "SAOMA_MAILER_AUTOCONFIRM",
        &["mailer", "autoconfirm"],
        Kind::Bool,
    ),
    (
        "SAOMA_PASSWORD_MIN_LENGTH",
        &["password", "min_length"],
        Kind::Int,
    ),
    (
        "SAOMA_PASSWORD_BCRYPT_COST",
        &["password", "bcrypt_cost"],
        Kind::Int,
    ),
    (
        "SAOMA_EXTERNAL_EMAIL_ENABLED",
        &["external", "email", "enabled"],
        Kind::Bool,
    ),
    (
        "SAOMA_EXTERNAL_ANONYMOUS_USERS_ENABLED",
        &["external", "anonymous_users", "enabled"],
        Kind::Bool,
    ),
    (
        "SAOMA_WECHAT_SIMULATOR_ALLOWED",
        &["wechat_simulator_allowed"],
        Kind::Bool,
    ),
];

pub(super) fn env_vars() -> Vec<EnvVar> {
    let mut vars: Vec<EnvVar> = FIXED
        .iter()
        .map(|(name, path, kind)| EnvVar {
            name: (*name).to_owned(),
            path: path.to_vec(),
            kind: *kind,
        })
        .collect();
    for provider in WECHAT_PROVIDERS {
        let upper = provider.to_ascii_uppercase();
        for (field, kind) in [
            ("enabled", Kind::Bool),
            ("app_id", Kind::Str),
            ("secret", Kind::Str),
            ("redirect_uri", Kind::Str),
            ("open_base_url", Kind::Str),
            ("api_base_url", Kind::Str),
        ] {
            vars.push(EnvVar {
                name: format!("SAOMA_EXTERNAL_{upper}_{}", field.to_ascii_uppercase()),
                path: vec!["external", provider, field],
                kind,
            });
        }
    }
    vars
}

/// Names that look like ours but are not: reported at start, since a typo silently ignored
/// is a setting silently lost.
pub fn unknown_env_names(env: &BTreeMap<String, String>) -> Vec<String> {
    let known = env_vars();
    env.keys()
        .filter(|name| name.starts_with("SAOMA_") && !name.starts_with("SAOMA_TEST_"))
        .filter(|name| *name != "SAOMA_CONFIG" && *name != "SAOMA_LOG")
        .filter(|name| !known.iter().any(|var| &var.name == *name))
        .cloned()
        .collect()
}

pub(super) fn parse_env(var: &EnvVar, raw: &str) -> Result<toml::Value, ConfigError> {
    let err = |message: &str| ConfigError::Env {
        name: var.name.clone(),
        message: message.into(),
    };
    Ok(match var.kind {
        Kind::Str => toml::Value::String(raw.to_owned()),
        Kind::Int => {
            toml::Value::Integer(raw.trim().parse().map_err(|_| err("expected an integer"))?)
        }
        Kind::Bool => toml::Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" | "" => false,
            _ => return Err(err("expected true or false")),
        }),
        Kind::List => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
    })
}

pub(super) fn set_path(table: &mut toml::Table, path: &[&str], value: toml::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
        if !entry.is_table() {
            *entry = toml::Value::Table(Default::default());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        current = next;
    }
    current.insert(last.to_string(), value);
}
