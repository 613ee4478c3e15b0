//! What an auth service can refuse, as one enum, and the one table that says how GoTrue
//! answers each refusal: HTTP status, `error_code`, and the OAuth `error` used when the
//! refusal ends a browser login in a redirect instead of a JSON body.

use std::borrow::Cow;

use axum::http::StatusCode;

use crate::{mail::MailError, providers::ProviderError, sms::SmsError, store::StoreError};

pub type AuthResult<T> = Result<T, AuthError>;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The request is malformed or breaks a rule of the API.
    #[error("{0}")]
    Validation(Cow<'static, str>),
    /// A well-formed request that cannot be done as asked (GoTrue's 422 `validation_failed`).
    #[error("{0}")]
    Unprocessable(&'static str),
    /// A new password fails the configured rules; `reasons` are GoTrue's (`length`...).
    #[error("{message}")]
    WeakPassword {
        message: String,
        reasons: Vec<&'static str>,
    },
    #[error("New password should be different from the old password.")]
    SamePassword,
    #[error("Request rate limit reached")]
    RateLimited,

    #[error("Invalid login credentials")]
    InvalidCredentials,
    #[error("Email not confirmed")]
    EmailNotConfirmed,
    #[error("Phone not confirmed")]
    PhoneNotConfirmed,
    /// A one-time code that is wrong, used, expired or dead from wrong guesses: one answer
    /// for all, as GoTrue gives.
    #[error("Token has expired or is invalid")]
    OtpExpired,
    /// An emailed link that is wrong, used or expired (GoTrue words it apart from codes).
    #[error("Email link is invalid or has expired")]
    EmailLinkInvalid,
    /// A password change on an old session without the `nonce` from `/reauthenticate`.
    #[error("Password update requires reauthentication")]
    ReauthenticationNeeded,
    #[error("Nonce has expired or is invalid")]
    ReauthenticationNotValid,
    /// Another mail asked for too soon (`smtp.max_frequency`), or the deployment's hourly
    /// email budget (`rate_limit.email_sent`) spent; the message says which.
    #[error("{0}")]
    OverEmailSendRateLimit(String),
    /// `POST /otp` with `create_user: false` for a number without an account.
    #[error("Signups not allowed for otp")]
    OtpSignupsDisabled,
    /// Another code asked for too soon (`sms.max_frequency`), or the deployment's hourly SMS
    /// budget (`rate_limit.sms_sent`) spent; the message says which.
    #[error("{0}")]
    OverSmsSendRateLimit(String),
    /// Signing in (any grant) as a banned user.
    #[error("User is banned")]
    UserBanned,
    /// Refreshing a session of a banned user.
    #[error("Invalid Refresh Token: User Banned")]
    RefreshUserBanned,
    /// An access token of a banned user, on an endpoint that needs one.
    #[error("User is banned")]
    TokenUserBanned,

    #[error("Signups not allowed for this instance")]
    SignupDisabled,
    /// The message says which use of email is off (logins, signups, changes).
    #[error("{0}")]
    EmailProviderDisabled(&'static str),
    #[error("{0}")]
    PhoneProviderDisabled(&'static str),
    #[error("Anonymous sign-ins are disabled")]
    AnonymousProviderDisabled,
    /// A login method that is not configured (or no longer is).
    #[error("Unsupported provider: {0} is not enabled")]
    ProviderDisabled(String),
    #[error("Manual linking is disabled")]
    ManualLinkingDisabled,
    /// Only admins may do this (the message says what).
    #[error("{0}")]
    NotAdmin(&'static str),

    #[error("User already registered")]
    UserAlreadyExists,
    #[error("A user with this email address has already been registered")]
    EmailExists,
    #[error("A user with this phone number has already been registered")]
    PhoneExists,
    #[error("Identity is already linked to another user")]
    IdentityAlreadyExists,
    #[error("Identity doesn't exist")]
    IdentityNotFound,
    #[error("User must have at least 1 identity after unlinking")]
    SingleIdentityNotDeletable,
    #[error("User not found")]
    UserNotFound,
    /// The user an access token names was deleted since it was issued.
    #[error("User from sub claim in JWT does not exist")]
    TokenUserGone,

    #[error("Invalid Refresh Token: Refresh Token Not Found")]
    RefreshTokenNotFound,
    #[error("Invalid Refresh Token: Already Used")]
    RefreshTokenAlreadyUsed,
    #[error("Invalid Refresh Token: Session Expired")]
    SessionExpired,

    #[error("invalid flow state, no valid flow state found")]
    FlowStateNotFound,
    #[error("invalid flow state, flow state has expired")]
    FlowStateExpired,
    #[error("code challenge does not match previously saved code verifier")]
    BadCodeVerifier,
    /// A callback without a readable `state`: nothing says which login it belongs to.
    #[error("OAuth callback with missing or invalid state")]
    BadOAuthState,
    /// The person cancelled at the provider (WeChat calls back with no code).
    #[error("The user cancelled the login")]
    LoginCancelled,
    /// A callback for a login that already finished, with another code or too late.
    #[error("This login was already used")]
    FlowStateAlreadyUsed,
    /// The provider refused the callback's code (used, expired, forged).
    #[error("{0}")]
    BadOAuthCallback(String),
    /// The provider reported an error in the callback (the person refused, or cancelled).
    #[error("{0}")]
    ProviderRefused(String),
    /// A scan-to-log-in ticket nobody issued (or swept long ago).
    #[error("This login code is unknown")]
    ScanTicketNotFound,
    /// A scan-to-log-in ticket past its life: the browser must show a new code.
    #[error("This login code has expired; refresh the page for a new one")]
    ScanTicketExpired,
    /// A scan-to-log-in ticket already confirmed, cancelled or used.
    #[error("This login code was already used or cancelled")]
    ScanTicketFinished,
    /// A push that claims to be WeChat's and is not (its signature, or its app, is wrong).
    #[error("{0}")]
    PushRefused(&'static str),
    /// The user to link an identity to was deleted while the person was at the provider.
    #[error("The user to link to no longer exists")]
    LinkTargetGone,

    /// A provider's answer, outside a browser login (see [`AuthError::BadOAuthCallback`]).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A mail could not be sent.
    #[error(transparent)]
    Mail(#[from] MailError),
    /// A text message could not be sent.
    #[error(transparent)]
    Sms(#[from] SmsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug or a broken invariant: answered 500, the cause only logged.
    #[error("{0}")]
    Internal(String),
}

impl AuthError {
    pub fn validation(message: impl Into<Cow<'static, str>>) -> Self {
        Self::Validation(message.into())
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// GoTrue's answer to this error. The one table of the mapping: every variant is a row.
    pub fn wire(&self) -> Wire {
        use AuthError::*;
        let (status, code, oauth) = match self {
            Validation(_) => (400, "validation_failed", INVALID_REQUEST),
            Unprocessable(_) => (422, "validation_failed", INVALID_REQUEST),
            WeakPassword { .. } => (422, "weak_password", INVALID_REQUEST),
            SamePassword => (422, "same_password", INVALID_REQUEST),
            RateLimited => (429, "over_request_rate_limit", INVALID_REQUEST),
            InvalidCredentials => (400, "invalid_credentials", INVALID_REQUEST),
            EmailNotConfirmed => (400, "email_not_confirmed", ACCESS_DENIED),
            PhoneNotConfirmed => (400, "phone_not_confirmed", ACCESS_DENIED),
            OtpExpired => (403, "otp_expired", ACCESS_DENIED),
            OtpSignupsDisabled => (422, "otp_disabled", ACCESS_DENIED),
            OverSmsSendRateLimit(_) => (429, "over_sms_send_rate_limit", INVALID_REQUEST),
            EmailLinkInvalid => (403, "otp_expired", ACCESS_DENIED),
            ReauthenticationNeeded => (400, "reauthentication_needed", INVALID_REQUEST),
            ReauthenticationNotValid => (422, "reauthentication_not_valid", INVALID_REQUEST),
            OverEmailSendRateLimit(_) => (429, "over_email_send_rate_limit", INVALID_REQUEST),
            UserBanned | RefreshUserBanned => (400, "user_banned", ACCESS_DENIED),
            TokenUserBanned => (403, "user_banned", ACCESS_DENIED),
            SignupDisabled => (422, "signup_disabled", ACCESS_DENIED),
            EmailProviderDisabled(_) => (422, "email_provider_disabled", ACCESS_DENIED),
            PhoneProviderDisabled(_) => (400, "phone_provider_disabled", ACCESS_DENIED),
            AnonymousProviderDisabled => (422, "anonymous_provider_disabled", ACCESS_DENIED),
            ProviderDisabled(_) => (400, "provider_disabled", SERVER_ERROR),
            ManualLinkingDisabled => (404, "manual_linking_disabled", ACCESS_DENIED),
            NotAdmin(_) => (403, "not_admin", ACCESS_DENIED),
            UserAlreadyExists => (422, "user_already_exists", ACCESS_DENIED),
            EmailExists => (422, "email_exists", ACCESS_DENIED),
            PhoneExists => (422, "phone_exists", ACCESS_DENIED),
            IdentityAlreadyExists => (422, "identity_already_exists", ACCESS_DENIED),
            IdentityNotFound => (422, "identity_not_found", ACCESS_DENIED),
            SingleIdentityNotDeletable => (422, "single_identity_not_deletable", ACCESS_DENIED),
            UserNotFound => (404, "user_not_found", ACCESS_DENIED),
            TokenUserGone => (403, "user_not_found", ACCESS_DENIED),
            RefreshTokenNotFound => (400, "refresh_token_not_found", INVALID_REQUEST),
            RefreshTokenAlreadyUsed => (400, "refresh_token_already_used", INVALID_REQUEST),
            SessionExpired => (400, "session_expired", INVALID_REQUEST),
            FlowStateNotFound => (404, "flow_state_not_found", INVALID_REQUEST),
            FlowStateExpired => (422, "flow_state_expired", INVALID_REQUEST),
            BadCodeVerifier => (400, "bad_code_verifier", INVALID_REQUEST),
            FlowStateAlreadyUsed => (400, "flow_state_already_used", INVALID_REQUEST),
            BadOAuthState => (400, "bad_oauth_state", INVALID_REQUEST),
            LoginCancelled => (400, "access_denied", ACCESS_DENIED),
            BadOAuthCallback(_) => (400, "bad_oauth_callback", INVALID_REQUEST),
            ProviderRefused(_) => (400, "provider_error", ACCESS_DENIED),
            LinkTargetGone => (404, "user_not_found", ACCESS_DENIED),
            ScanTicketNotFound => (404, "flow_state_not_found", INVALID_REQUEST),
            ScanTicketExpired => (422, "flow_state_expired", INVALID_REQUEST),
            ScanTicketFinished => (400, "flow_state_already_used", INVALID_REQUEST),
            PushRefused(_) => (401, "bad_signature", INVALID_REQUEST),
            Provider(ProviderError::InvalidCode(_)) => {
                (400, "invalid_credentials", INVALID_REQUEST)
            }
            Provider(ProviderError::Unavailable(_)) => (503, "provider_unavailable", SERVER_ERROR),
            Provider(ProviderError::BadRequest(_)) => (400, "validation_failed", INVALID_REQUEST),
            Provider(ProviderError::RateLimited(_)) => {
                (429, "over_request_rate_limit", INVALID_REQUEST)
            }
            Provider(_) | Internal(_) => (500, UNEXPECTED, SERVER_ERROR),
            Mail(MailError::InvalidAddress(_)) => (400, "email_address_invalid", INVALID_REQUEST),
            Mail(MailError::Unavailable(_)) => (503, "email_send_failed", SERVER_ERROR),
            Mail(MailError::Misconfigured(_)) => (500, "email_send_failed", SERVER_ERROR),
            Sms(SmsError::TooFrequent(_)) => (429, "over_sms_send_rate_limit", INVALID_REQUEST),
            Sms(SmsError::InvalidNumber(_)) => (400, "validation_failed", INVALID_REQUEST),
            Sms(SmsError::Unavailable(_)) => (503, "sms_send_failed", SERVER_ERROR),
            Sms(SmsError::Misconfigured(_)) => (500, "sms_send_failed", SERVER_ERROR),
            Store(StoreError::Conflict(_)) => (422, "conflict", ACCESS_DENIED),
            Store(err) if err.is_unavailable() => (503, "database_unavailable", SERVER_ERROR),
            Store(_) => (500, UNEXPECTED, SERVER_ERROR),
        };
        Wire {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            oauth_error: oauth,
        }
    }

    /// What the caller is told. Faults are described generically: their cause (hosts, SQL,
    /// provider secrets) goes to the log only, see [`AuthError::log_detail`].
    pub fn public_message(&self) -> Cow<'_, str> {
        match self {
            Self::Provider(ProviderError::Misconfigured(_) | ProviderError::Protocol(_))
            | Self::Internal(_) => Cow::Borrowed(UNEXPECTED_MESSAGE),
            Self::Mail(MailError::InvalidAddress(_)) => {
                Cow::Borrowed("Email address is invalid: the mail server refused it")
            }
            Self::Mail(MailError::Misconfigured(_)) => {
                Cow::Borrowed("Error sending email: the mail server refused this server's settings")
            }
            Self::Mail(MailError::Unavailable(_)) => Cow::Borrowed(
                "Error sending email: the mail server is unavailable, please try again",
            ),
            Self::Sms(SmsError::Misconfigured(_)) => {
                Cow::Borrowed("Error sending SMS: the gateway refused this server's settings")
            }
            Self::Sms(SmsError::Unavailable(_)) => {
                Cow::Borrowed("Error sending SMS: the gateway is unavailable, please try again")
            }
            Self::Store(StoreError::Conflict(what)) => Cow::Owned(format!("{what} already exists")),
            Self::Store(err) if err.is_unavailable() => {
                Cow::Borrowed("The database is unavailable, please try again")
            }
            Self::Store(_) => Cow::Borrowed(UNEXPECTED_MESSAGE),
            other => Cow::Owned(other.to_string()),
        }
    }

    /// The cause to log, when it is not what the caller was told.
    pub fn log_detail(&self) -> Option<String> {
        match self {
            Self::Provider(ProviderError::Misconfigured(_) | ProviderError::Protocol(_))
            | Self::Internal(_)
            | Self::Sms(SmsError::Misconfigured(_) | SmsError::Unavailable(_))
            | Self::Mail(_)
            | Self::Store(_) => Some(self.to_string()),
            _ => None,
        }
    }
}

/// How GoTrue answers an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wire {
    pub status: StatusCode,
    /// The `error_code` (`code` in the 2024-01-01 API).
    pub code: &'static str,
    /// The OAuth `error` of a redirect that ends a browser login with this error.
    pub oauth_error: &'static str,
}

const INVALID_REQUEST: &str = "invalid_request";
const ACCESS_DENIED: &str = "access_denied";
const SERVER_ERROR: &str = "server_error";
const UNEXPECTED: &str = "unexpected_failure";
pub const UNEXPECTED_MESSAGE: &str =
    "Unexpected failure, please check server logs for more information";

#[cfg(test)]
mod tests;
