//! The mapping table, row by row, as GoTrue answers: a change to any status or code is a
//! change of the wire protocol and must show up here.

use super::*;

fn row(err: AuthError) -> (u16, &'static str, &'static str) {
    let wire = err.wire();
    (wire.status.as_u16(), wire.code, wire.oauth_error)
}

#[test]
fn every_refusal_has_gotrues_status_and_code() {
    use AuthError::*;
    let table: Vec<(AuthError, u16, &str, &str)> = vec![
        (
            AuthError::validation("x"),
            400,
            "validation_failed",
            "invalid_request",
        ),
        (
            Unprocessable("no email"),
            422,
            "validation_failed",
            "invalid_request",
        ),
        (
            WeakPassword {
                message: "short".into(),
                reasons: vec!["length"],
            },
            422,
            "weak_password",
            "invalid_request",
        ),
        (SamePassword, 422, "same_password", "invalid_request"),
        (
            RateLimited,
            429,
            "over_request_rate_limit",
            "invalid_request",
        ),
        (
            InvalidCredentials,
            400,
            "invalid_credentials",
            "invalid_request",
        ),
        (
            EmailNotConfirmed,
            400,
            "email_not_confirmed",
            "access_denied",
        ),
        (
            PhoneNotConfirmed,
            400,
            "phone_not_confirmed",
            "access_denied",
        ),
        (OtpExpired, 403, "otp_expired", "access_denied"),
        (OtpSignupsDisabled, 422, "otp_disabled", "access_denied"),
        (EmailLinkInvalid, 403, "otp_expired", "access_denied"),
        (
            ReauthenticationNeeded,
            400,
            "reauthentication_needed",
            "invalid_request",
        ),
        (
            ReauthenticationNotValid,
            422,
            "reauthentication_not_valid",
            "invalid_request",
        ),
        (
            OverEmailSendRateLimit("after 42 seconds".into()),
            429,
            "over_email_send_rate_limit",
            "invalid_request",
        ),
        (
            Mail(MailError::InvalidAddress("550".into())),
            400,
            "email_address_invalid",
            "invalid_request",
        ),
        (
            Mail(MailError::Unavailable("down".into())),
            503,
            "email_send_failed",
            "server_error",
        ),
        (
            Mail(MailError::Misconfigured("auth".into())),
            500,
            "email_send_failed",
            "server_error",
        ),
        (
            OverSmsSendRateLimit("after 42 seconds".into()),
            429,
            "over_sms_send_rate_limit",
            "invalid_request",
        ),
        (UserBanned, 400, "user_banned", "access_denied"),
        (RefreshUserBanned, 400, "user_banned", "access_denied"),
        (TokenUserBanned, 403, "user_banned", "access_denied"),
        (SignupDisabled, 422, "signup_disabled", "access_denied"),
        (
            EmailProviderDisabled("Email logins are disabled"),
            422,
            "email_provider_disabled",
            "access_denied",
        ),
        (
            PhoneProviderDisabled("Phone logins are disabled"),
            400,
            "phone_provider_disabled",
            "access_denied",
        ),
        (
            AnonymousProviderDisabled,
            422,
            "anonymous_provider_disabled",
            "access_denied",
        ),
        (
            ProviderDisabled("wechat_mini".into()),
            400,
            "provider_disabled",
            "server_error",
        ),
        (
            ManualLinkingDisabled,
            404,
            "manual_linking_disabled",
            "access_denied",
        ),
        (
            NotAdmin("User not allowed"),
            403,
            "not_admin",
            "access_denied",
        ),
        (
            UserAlreadyExists,
            422,
            "user_already_exists",
            "access_denied",
        ),
        (EmailExists, 422, "email_exists", "access_denied"),
        (PhoneExists, 422, "phone_exists", "access_denied"),
        (
            IdentityAlreadyExists,
            422,
            "identity_already_exists",
            "access_denied",
        ),
        (IdentityNotFound, 422, "identity_not_found", "access_denied"),
        (
            SingleIdentityNotDeletable,
            422,
            "single_identity_not_deletable",
            "access_denied",
        ),
        (UserNotFound, 404, "user_not_found", "access_denied"),
        (TokenUserGone, 403, "user_not_found", "access_denied"),
        (
            RefreshTokenNotFound,
            400,
            "refresh_token_not_found",
            "invalid_request",
        ),
        (
            RefreshTokenAlreadyUsed,
            400,
            "refresh_token_already_used",
            "invalid_request",
        ),
        (SessionExpired, 400, "session_expired", "invalid_request"),
        (
            FlowStateNotFound,
            404,
            "flow_state_not_found",
            "invalid_request",
        ),
        (
            FlowStateExpired,
            422,
            "flow_state_expired",
            "invalid_request",
        ),
        (BadCodeVerifier, 400, "bad_code_verifier", "invalid_request"),
        (
            FlowStateAlreadyUsed,
            400,
            "flow_state_already_used",
            "invalid_request",
        ),
        (BadOAuthState, 400, "bad_oauth_state", "invalid_request"),
        (LoginCancelled, 400, "access_denied", "access_denied"),
        (
            BadOAuthCallback("used code".into()),
            400,
            "bad_oauth_callback",
            "invalid_request",
        ),
        (
            ProviderRefused("denied".into()),
            400,
            "provider_error",
            "access_denied",
        ),
        (LinkTargetGone, 404, "user_not_found", "access_denied"),
        (
            ScanTicketNotFound,
            404,
            "flow_state_not_found",
            "invalid_request",
        ),
        (
            ScanTicketExpired,
            422,
            "flow_state_expired",
            "invalid_request",
        ),
        (
            ScanTicketFinished,
            400,
            "flow_state_already_used",
            "invalid_request",
        ),
        (
            PushRefused("Invalid signature"),
            401,
            "bad_signature",
            "invalid_request",
        ),
        (
            Provider(ProviderError::BadRequest("41030 invalid page".into())),
            400,
            "validation_failed",
            "invalid_request",
        ),
        (
            Provider(ProviderError::RateLimited("45009".into())),
            429,
            "over_request_rate_limit",
            "invalid_request",
        ),
        (
            Provider(ProviderError::InvalidCode("40029".into())),
            400,
            "invalid_credentials",
            "invalid_request",
        ),
        (
            Provider(ProviderError::Unavailable("-1 busy".into())),
            503,
            "provider_unavailable",
            "server_error",
        ),
        (
            Provider(ProviderError::Misconfigured("40125 bad secret".into())),
            500,
            "unexpected_failure",
            "server_error",
        ),
        (
            Provider(ProviderError::Protocol("not json".into())),
            500,
            "unexpected_failure",
            "server_error",
        ),
        (
            Sms(SmsError::TooFrequent("isv.BUSINESS_LIMIT_CONTROL".into())),
            429,
            "over_sms_send_rate_limit",
            "invalid_request",
        ),
        (
            Sms(SmsError::InvalidNumber("isv.MOBILE_NUMBER_ILLEGAL".into())),
            400,
            "validation_failed",
            "invalid_request",
        ),
        (
            Sms(SmsError::Unavailable("timeout".into())),
            503,
            "sms_send_failed",
            "server_error",
        ),
        (
            Sms(SmsError::Misconfigured("isv.AMOUNT_NOT_ENOUGH".into())),
            500,
            "sms_send_failed",
            "server_error",
        ),
        (
            Store(StoreError::Conflict("user")),
            422,
            "conflict",
            "access_denied",
        ),
        (
            Store(StoreError::Unavailable("pool closed")),
            503,
            "database_unavailable",
            "server_error",
        ),
        (
            Store(StoreError::Corrupt("bad json".into())),
            500,
            "unexpected_failure",
            "server_error",
        ),
        (
            AuthError::internal("bug"),
            500,
            "unexpected_failure",
            "server_error",
        ),
    ];
    for (err, status, code, oauth) in table {
        let shown = format!("{err:?}");
        assert_eq!(row(err), (status, code, oauth), "{shown}");
    }
}

#[test]
fn email_provider_disabled_is_one_answer_whatever_the_use() {
    for message in ["Email logins are disabled", "Email signups are disabled"] {
        assert_eq!(row(AuthError::EmailProviderDisabled(message)).0, 422);
    }
}

#[test]
fn faults_are_described_without_their_cause() {
    let secret_cause = [
        AuthError::internal("connection refused to 10.0.0.1"),
        AuthError::Provider(ProviderError::Misconfigured(
            "appsecret wxsecret123 invalid".into(),
        )),
        AuthError::Store(StoreError::Corrupt("row 10.0.0.1".into())),
    ];
    for err in secret_cause {
        let message = err.public_message();
        assert!(
            !message.contains("10.0.0.1") && !message.contains("wxsecret"),
            "{message}"
        );
        assert!(err.log_detail().is_some(), "{err:?} must be logged");
    }
    let refusal = AuthError::InvalidCredentials;
    assert_eq!(refusal.public_message(), "Invalid login credentials");
    assert_eq!(refusal.log_detail(), None);
}
