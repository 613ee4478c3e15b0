//! WeChat's API errors: an errcode and an errmsg, sent with HTTP 200.

/// The errcodes the simulated API endpoints answer, with WeChat's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WxError {
    #[error("system error")]
    Busy,
    #[error("invalid credential")]
    InvalidCredential,
    /// 40001 from the `cgi-bin`/`wxa` APIs, for an app access token that is unknown or was
    /// replaced by a newer one.
    #[error("invalid credential, access_token is invalid or not latest")]
    StaleAppAccessToken,
    #[error("invalid grant_type")]
    InvalidGrantType,
    #[error("invalid openid")]
    InvalidOpenid,
    #[error("invalid appid")]
    InvalidAppid,
    #[error("invalid access_token")]
    InvalidAccessToken,
    #[error("invalid code")]
    InvalidCode,
    #[error("invalid refresh_token")]
    InvalidRefreshToken,
    #[error("invalid appsecret")]
    InvalidAppsecret,
    #[error("code been used")]
    CodeBeenUsed,
    #[error("access_token missing")]
    MissingAccessToken,
    #[error("appid missing")]
    MissingAppid,
    #[error("refresh_token missing")]
    MissingRefreshToken,
    #[error("appsecret missing")]
    MissingSecret,
    #[error("missing code")]
    MissingCode,
    #[error("missing openid")]
    MissingOpenid,
    #[error("access_token expired")]
    AccessTokenExpired,
    #[error("refresh_token expired")]
    RefreshTokenExpired,
    #[error("code expired")]
    CodeExpired,
    #[error("data format error")]
    DataFormat,
    #[error("api unauthorized")]
    ApiUnauthorized,
    /// 45009: a daily quota (or, for `getwxacodeunlimit`, the minute rate) is used up.
    #[error("reach max api daily quota limit")]
    DailyQuota,
    /// 45011: `stable_token` forced again within 30 s.
    #[error("api minute-quota reach limit  mustslower  retry next minute")]
    MinuteQuota,
    #[error("invalid scene")]
    InvalidScene,
    #[error("invalid page")]
    InvalidPage,
    #[error("invalid args")]
    InvalidArgs,
}

impl WxError {
    pub fn errcode(self) -> i32 {
        match self {
            WxError::Busy => -1,
            WxError::InvalidCredential | WxError::StaleAppAccessToken => 40001,
            WxError::InvalidGrantType => 40002,
            WxError::InvalidOpenid => 40003,
            WxError::InvalidAppid => 40013,
            WxError::InvalidAccessToken => 40014,
            WxError::InvalidCode => 40029,
            WxError::InvalidRefreshToken => 40030,
            WxError::InvalidAppsecret => 40125,
            WxError::CodeBeenUsed => 40163,
            WxError::MissingAccessToken => 41001,
            WxError::MissingAppid => 41002,
            WxError::MissingRefreshToken => 41003,
            WxError::MissingSecret => 41004,
            WxError::MissingCode => 41008,
            WxError::MissingOpenid => 41009,
            WxError::AccessTokenExpired => 42001,
            WxError::RefreshTokenExpired => 42002,
            WxError::CodeExpired => 42003,
            WxError::DataFormat => 47001,
            WxError::ApiUnauthorized => 48001,
            WxError::DailyQuota => 45009,
            WxError::MinuteQuota => 45011,
            WxError::InvalidScene => 40129,
            WxError::InvalidPage => 41030,
            WxError::InvalidArgs => 40097,
        }
    }
}
