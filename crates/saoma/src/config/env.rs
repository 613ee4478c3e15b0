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
    Float,
    Bool,
    List,
    /// Whole seconds, bare (`60`) or as a Go duration (`60s`, `1m30s`), as GoTrue reads
    /// its `time.Duration` settings.
    Seconds,
}

/// The WeChat app sections, each read from `SAOMA_EXTERNAL_<NAME>_*`.
pub const WECHAT_PROVIDERS: [&str; 6] = [
    "wechat_qr",
    "wechat_mp",
    "wechat_mini",
    "wechat_app",
    "wechat_mini_qr",
    "wechat_mp_qr",
];

const FIXED: &[(&str, &[&str], Kind)] = &[
    ("SAOMA_HOST", &["host"], Kind::Str),
    ("SAOMA_PORT", &["port"], Kind::Int),
    ("SAOMA_DATABASE_URL", &["database_url"], Kind::Str),
    (
        "SAOMA_SQLITE_READ_CACHE",
        &["sqlite_read_cache"],
        Kind::Bool,
    ),
    (
        "SAOMA_DATABASE_WAIT_SECONDS",
        &["database_wait_seconds"],
        Kind::Int,
    ),
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
        "SAOMA_RATE_LIMIT_ENABLED",
        &["rate_limit", "enabled"],
        Kind::Bool,
    ),
    (
        "SAOMA_RATE_LIMIT_HEADER",
        &["rate_limit", "header"],
        Kind::Str,
    ),
    (
        "SAOMA_RATE_LIMIT_TRUSTED_PROXY_HOPS",
        &["rate_limit", "trusted_proxy_hops"],
        Kind::Int,
    ),
    (
        "SAOMA_RATE_LIMIT_AUTHORIZE",
        &["rate_limit", "authorize"],
        Kind::Float,
    ),
    (
        "SAOMA_RATE_LIMIT_TOKEN_REFRESH",
        &["rate_limit", "token_refresh"],
        Kind::Float,
    ),
    (
        "SAOMA_RATE_LIMIT_VERIFY",
        &["rate_limit", "verify"],
        Kind::Float,
    ),
    ("SAOMA_RATE_LIMIT_OTP", &["rate_limit", "otp"], Kind::Float),
    (
        "SAOMA_RATE_LIMIT_SMS_SENT",
        &["rate_limit", "sms_sent"],
        Kind::Float,
    ),
    (
        "SAOMA_RATE_LIMIT_ANONYMOUS_USERS",
        &["rate_limit", "anonymous_users"],
        Kind::Float,
    ),
    (
        "SAOMA_RATE_LIMIT_BURST",
        &["rate_limit", "burst"],
        Kind::Float,
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
        "SAOMA_EXTERNAL_PHONE_ENABLED",
        &["external", "phone", "enabled"],
        Kind::Bool,
    ),
    (
        "SAOMA_SERVER_HEADER_READ_TIMEOUT",
        &["server", "header_read_timeout"],
        Kind::Int,
    ),
    (
        "SAOMA_SERVER_BODY_READ_TIMEOUT",
        &["server", "body_read_timeout"],
        Kind::Int,
    ),
    (
        "SAOMA_SERVER_WRITE_TIMEOUT",
        &["server", "write_timeout"],
        Kind::Int,
    ),
    (
        "SAOMA_SERVER_SHUTDOWN_GRACE",
        &["server", "shutdown_grace"],
        Kind::Int,
    ),
    (
        "SAOMA_SERVER_MAX_CONNECTIONS",
        &["server", "max_connections"],
        Kind::Int,
    ),
    (
        "SAOMA_SERVER_MAX_HEADER_BYTES",
        &["server", "max_header_bytes"],
        Kind::Int,
    ),
    (
        "SAOMA_SERVER_MAX_URI_BYTES",
        &["server", "max_uri_bytes"],
        Kind::Int,
    ),
    ("SAOMA_METRICS_ENABLED", &["metrics", "enabled"], Kind::Bool),
    ("SAOMA_METRICS_HOST", &["metrics", "host"], Kind::Str),
    ("SAOMA_METRICS_PORT", &["metrics", "port"], Kind::Int),
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
    vars.extend(sms_vars());
    vars.extend(mail_vars());
    for provider in WECHAT_PROVIDERS {
        let upper = provider.to_ascii_uppercase();
        for (field, kind) in [
            ("enabled", Kind::Bool),
            ("app_id", Kind::Str),
            ("secret", Kind::Str),
            ("redirect_uri", Kind::Str),
            ("open_base_url", Kind::Str),
            ("api_base_url", Kind::Str),
            ("page", Kind::Str),
            ("env_version", Kind::Str),
            ("push_token", Kind::Str),
            ("encoding_aes_key", Kind::Str),
            ("previous_encoding_aes_key", Kind::Str),
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

/// `SAOMA_SMS_*`: the `[sms]` section, its gateways' subsections as `SAOMA_SMS_ALIYUN_*`,
/// `SAOMA_SMS_TENCENT_*` and `SAOMA_SMS_HOOK_*`.
fn sms_vars() -> Vec<EnvVar> {
    const SMS: &[(&str, Kind)] = &[
        ("provider", Kind::Str),
        ("autoconfirm", Kind::Bool),
        ("otp_exp", Kind::Int),
        ("otp_length", Kind::Int),
        ("max_frequency", Kind::Seconds),
        ("max_attempts", Kind::Int),
        ("default_country", Kind::Str),
        ("test_otp", Kind::Str),
        ("test_otp_valid_until", Kind::Str),
        ("template", Kind::Str),
    ];
    const GATEWAYS: &[(&str, &[(&str, Kind)])] = &[
        (
            "aliyun",
            &[
                ("access_key_id", Kind::Str),
                ("access_key_secret", Kind::Str),
                ("sign_name", Kind::Str),
                ("template_code", Kind::Str),
                ("template_param", Kind::Str),
                ("base_url", Kind::Str),
            ],
        ),
        (
            "tencent",
            &[
                ("secret_id", Kind::Str),
                ("secret_key", Kind::Str),
                ("sdk_app_id", Kind::Str),
                ("sign_name", Kind::Str),
                ("template_id", Kind::Str),
                ("region", Kind::Str),
                ("base_url", Kind::Str),
            ],
        ),
        (
            "hook",
            &[
                ("enabled", Kind::Bool),
                ("uri", Kind::Str),
                ("secrets", Kind::Str),
            ],
        ),
    ];
    let mut vars: Vec<EnvVar> = SMS
        .iter()
        .map(|(field, kind)| EnvVar {
            name: format!("SAOMA_SMS_{}", field.to_ascii_uppercase()),
            path: vec!["sms", field],
            kind: *kind,
        })
        .collect();
    for (gateway, fields) in GATEWAYS {
        for (field, kind) in *fields {
            vars.push(EnvVar {
                name: format!(
                    "SAOMA_SMS_{}_{}",
                    gateway.to_ascii_uppercase(),
                    field.to_ascii_uppercase()
                ),
                path: vec!["sms", gateway, field],
                kind: *kind,
            });
        }
    }
    vars
}

/// The mails GoTrue has subjects and templates for (`mailer.subjects.*`, `mailer.templates.*`).
const MAILS: [&str; 6] = [
    "confirmation",
    "invite",
    "magic_link",
    "recovery",
    "email_change",
    "reauthentication",
];

/// `SAOMA_MAILER_*` and `SAOMA_SMTP_*`: the `[mailer]` and `[smtp]` sections (not
/// `mailer.dev_mailbox`, which only `saoma dev` sets), and the two mail settings of other
/// sections.
fn mail_vars() -> Vec<EnvVar> {
    const MAILER: &[(&str, Kind)] = &[
        ("secure_email_change_enabled", Kind::Bool),
        ("otp_exp", Kind::Int),
        ("otp_length", Kind::Int),
        ("max_attempts", Kind::Int),
        ("locale", Kind::Str),
    ];
    const SMTP: &[(&str, Kind)] = &[
        ("host", Kind::Str),
        ("port", Kind::Int),
        ("user", Kind::Str),
        ("pass", Kind::Str),
        ("security", Kind::Str),
        ("admin_email", Kind::Str),
        ("sender_name", Kind::Str),
        ("max_frequency", Kind::Seconds),
        ("timeout_seconds", Kind::Int),
        ("pool_size", Kind::Int),
    ];
    let var = |name: String, path: Vec<&'static str>, kind| EnvVar { name, path, kind };
    let mut vars = Vec::new();
    for (field, kind) in MAILER {
        vars.push(var(
            format!("SAOMA_MAILER_{}", field.to_ascii_uppercase()),
            vec!["mailer", field],
            *kind,
        ));
    }
    for mail in MAILS {
        let upper = mail.to_ascii_uppercase();
        vars.push(var(
            format!("SAOMA_MAILER_SUBJECTS_{upper}"),
            vec!["mailer", "subjects", mail],
            Kind::Str,
        ));
        vars.push(var(
            format!("SAOMA_MAILER_TEMPLATES_{upper}"),
            vec!["mailer", "templates", mail],
            Kind::Str,
        ));
    }
    for (field, kind) in [
        ("enabled", Kind::Bool),
        ("uri", Kind::Str),
        ("secrets", Kind::Str),
    ] {
        vars.push(var(
            format!("SAOMA_MAILER_HOOK_{}", field.to_ascii_uppercase()),
            vec!["mailer", "hook", field],
            kind,
        ));
    }
    for (field, kind) in SMTP {
        vars.push(var(
            format!("SAOMA_SMTP_{}", field.to_ascii_uppercase()),
            vec!["smtp", field],
            *kind,
        ));
    }
    vars.push(var(
        "SAOMA_RATE_LIMIT_EMAIL_SENT".into(),
        vec!["rate_limit", "email_sent"],
        Kind::Float,
    ));
    vars.push(var(
        "SAOMA_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION".into(),
        vec!["security", "update_password_require_reauthentication"],
        Kind::Bool,
    ));
    vars
}

/// GoTrue's environment variables that saoma understands (`GOTRUE_*` and the few without the
/// prefix), mapped onto saoma's settings.
const GOTRUE: &[(&str, &[&str], Kind)] = &[
    ("PORT", &["port"], Kind::Int),
    ("GOTRUE_API_HOST", &["host"], Kind::Str),
    ("API_EXTERNAL_URL", &["external_url"], Kind::Str),
    ("DATABASE_URL", &["database_url"], Kind::Str),
    ("GOTRUE_DB_DATABASE_URL", &["database_url"], Kind::Str),
    ("GOTRUE_SITE_URL", &["site_url"], Kind::Str),
    ("GOTRUE_URI_ALLOW_LIST", &["uri_allow_list"], Kind::List),
    ("GOTRUE_DISABLE_SIGNUP", &["disable_signup"], Kind::Bool),
    (
        "GOTRUE_METRICS_ENABLED",
        &["metrics", "enabled"],
        Kind::Bool,
    ),
    (
        "OTEL_EXPORTER_PROMETHEUS_HOST",
        &["metrics", "host"],
        Kind::Str,
    ),
    (
        "OTEL_EXPORTER_PROMETHEUS_PORT",
        &["metrics", "port"],
        Kind::Int,
    ),
    ("GOTRUE_JWT_SECRET", &["jwt", "secret"], Kind::Str),
    ("GOTRUE_JWT_EXP", &["jwt", "exp"], Kind::Int),
    ("GOTRUE_JWT_AUD", &["jwt", "aud"], Kind::Str),
    ("GOTRUE_JWT_ISSUER", &["jwt", "issuer"], Kind::Str),
    (
        "GOTRUE_MAILER_AUTOCONFIRM",
        &["mailer", "autoconfirm"],
        Kind::Bool,
    ),
    (
        "GOTRUE_PASSWORD_MIN_LENGTH",
        &["password", "min_length"],
        Kind::Int,
    ),
    (
        "GOTRUE_EXTERNAL_EMAIL_ENABLED",
        &["external", "email", "enabled"],
        Kind::Bool,
    ),
    (
        "GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED",
        &["external", "anonymous_users", "enabled"],
        Kind::Bool,
    ),
    (
        "GOTRUE_EXTERNAL_PHONE_ENABLED",
        &["external", "phone", "enabled"],
        Kind::Bool,
    ),
    (
        "GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED",
        &["security", "refresh_token_rotation_enabled"],
        Kind::Bool,
    ),
    (
        "GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL",
        &["security", "refresh_token_reuse_interval"],
        Kind::Int,
    ),
    (
        "GOTRUE_SECURITY_MANUAL_LINKING_ENABLED",
        &["security", "manual_linking_enabled"],
        Kind::Bool,
    ),
    (
        "GOTRUE_RATE_LIMIT_HEADER",
        &["rate_limit", "header"],
        Kind::Str,
    ),
    (
        "GOTRUE_RATE_LIMIT_TOKEN_REFRESH",
        &["rate_limit", "token_refresh"],
        Kind::Float,
    ),
    (
        "GOTRUE_RATE_LIMIT_VERIFY",
        &["rate_limit", "verify"],
        Kind::Float,
    ),
    ("GOTRUE_RATE_LIMIT_OTP", &["rate_limit", "otp"], Kind::Float),
    (
        "GOTRUE_RATE_LIMIT_SMS_SENT",
        &["rate_limit", "sms_sent"],
        Kind::Float,
    ),
    (
        "GOTRUE_RATE_LIMIT_ANONYMOUS_USERS",
        &["rate_limit", "anonymous_users"],
        Kind::Float,
    ),
    ("GOTRUE_SMS_PROVIDER", &["sms", "provider"], Kind::Str),
    (
        "GOTRUE_SMS_AUTOCONFIRM",
        &["sms", "autoconfirm"],
        Kind::Bool,
    ),
    ("GOTRUE_SMS_OTP_EXP", &["sms", "otp_exp"], Kind::Int),
    ("GOTRUE_SMS_OTP_LENGTH", &["sms", "otp_length"], Kind::Int),
    (
        "GOTRUE_SMS_MAX_FREQUENCY",
        &["sms", "max_frequency"],
        Kind::Seconds,
    ),
    ("GOTRUE_SMS_TEMPLATE", &["sms", "template"], Kind::Str),
    ("GOTRUE_SMS_TEST_OTP", &["sms", "test_otp"], Kind::Str),
    (
        "GOTRUE_SMS_TEST_OTP_VALID_UNTIL",
        &["sms", "test_otp_valid_until"],
        Kind::Str,
    ),
    (
        "GOTRUE_HOOK_SEND_SMS_ENABLED",
        &["sms", "hook", "enabled"],
        Kind::Bool,
    ),
    (
        "GOTRUE_HOOK_SEND_SMS_URI",
        &["sms", "hook", "uri"],
        Kind::Str,
    ),
    (
        "GOTRUE_HOOK_SEND_SMS_SECRETS",
        &["sms", "hook", "secrets"],
        Kind::Str,
    ),
    ("GOTRUE_SMTP_HOST", &["smtp", "host"], Kind::Str),
    ("GOTRUE_SMTP_PORT", &["smtp", "port"], Kind::Int),
    ("GOTRUE_SMTP_USER", &["smtp", "user"], Kind::Str),
    ("GOTRUE_SMTP_PASS", &["smtp", "pass"], Kind::Str),
    (
        "GOTRUE_SMTP_ADMIN_EMAIL",
        &["smtp", "admin_email"],
        Kind::Str,
    ),
    (
        "GOTRUE_SMTP_SENDER_NAME",
        &["smtp", "sender_name"],
        Kind::Str,
    ),
    (
        "GOTRUE_SMTP_MAX_FREQUENCY",
        &["smtp", "max_frequency"],
        Kind::Seconds,
    ),
    ("GOTRUE_MAILER_OTP_EXP", &["mailer", "otp_exp"], Kind::Int),
    (
        "GOTRUE_MAILER_OTP_LENGTH",
        &["mailer", "otp_length"],
        Kind::Int,
    ),
    (
        "GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED",
        &["mailer", "secure_email_change_enabled"],
        Kind::Bool,
    ),
    (
        "GOTRUE_HOOK_SEND_EMAIL_ENABLED",
        &["mailer", "hook", "enabled"],
        Kind::Bool,
    ),
    (
        "GOTRUE_HOOK_SEND_EMAIL_URI",
        &["mailer", "hook", "uri"],
        Kind::Str,
    ),
    (
        "GOTRUE_HOOK_SEND_EMAIL_SECRETS",
        &["mailer", "hook", "secrets"],
        Kind::Str,
    ),
    (
        "GOTRUE_RATE_LIMIT_EMAIL_SENT",
        &["rate_limit", "email_sent"],
        Kind::Float,
    ),
    (
        "GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION",
        &["security", "update_password_require_reauthentication"],
        Kind::Bool,
    ),
];

pub(super) fn gotrue_vars() -> Vec<EnvVar> {
    let mut vars: Vec<EnvVar> = GOTRUE
        .iter()
        .map(|(name, path, kind)| EnvVar {
            name: (*name).to_owned(),
            path: path.to_vec(),
            kind: *kind,
        })
        .collect();
    // GOTRUE_EXTERNAL_<PROVIDER>_{ENABLED,CLIENT_ID,SECRET,REDIRECT_URI,URL}, for the WeChat
    // providers (CLIENT_ID is the AppID; URL the API base URL).
    for provider in WECHAT_PROVIDERS {
        let upper = provider.to_ascii_uppercase();
        for (suffix, field, kind) in [
            ("ENABLED", "enabled", Kind::Bool),
            ("CLIENT_ID", "app_id", Kind::Str),
            ("SECRET", "secret", Kind::Str),
            ("REDIRECT_URI", "redirect_uri", Kind::Str),
            ("URL", "api_base_url", Kind::Str),
        ] {
            vars.push(EnvVar {
                name: format!("GOTRUE_EXTERNAL_{upper}_{suffix}"),
                path: vec!["external", provider, field],
                kind,
            });
        }
    }
    // GOTRUE_MAILER_SUBJECTS_* and GOTRUE_MAILER_TEMPLATES_* (GoTrue's are URLs, saoma's
    // file paths: a URL is refused at start, with what to do instead).
    for mail in MAILS {
        let upper = mail.to_ascii_uppercase();
        for (group, setting) in [("SUBJECTS", "subjects"), ("TEMPLATES", "templates")] {
            vars.push(EnvVar {
                name: format!("GOTRUE_MAILER_{group}_{upper}"),
                path: vec!["mailer", setting, mail],
                kind: Kind::Str,
            });
        }
    }
    vars
}

/// `GOTRUE_*` settings saoma does not have (SMTP, SMS, SAML, ...): reported at start, so that
/// a migration shows what is left behind.
pub fn unsupported_gotrue_names(env: &BTreeMap<String, String>) -> Vec<String> {
    let known = gotrue_vars();
    env.keys()
        .filter(|name| name.starts_with("GOTRUE_"))
        .filter(|name| !known.iter().any(|var| &var.name == *name))
        .cloned()
        .collect()
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
        Kind::Float => {
            toml::Value::Float(raw.trim().parse().map_err(|_| err("expected a number"))?)
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
        Kind::Seconds => toml::Value::Integer(
            parse_seconds(raw.trim()).ok_or_else(|| err("expected seconds, e.g. 60 or 60s"))?,
        ),
    })
}

/// `60` or a Go duration (`60s`, `1m30s`) → whole seconds; Go's syntax is read by the parser
/// `ban_duration` uses.
fn parse_seconds(raw: &str) -> Option<i64> {
    if let Ok(seconds) = raw.parse::<i64>() {
        return Some(seconds);
    }
    let duration = crate::domain::duration::parse_ban(raw).ok()??;
    Some(duration.num_seconds())
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
