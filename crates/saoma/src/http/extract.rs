//! Extractors that fail in GoTrue's error format rather than axum's plain-text one.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Query, Request},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
};
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use uuid::Uuid;

use super::{error::ApiError, storable};
pub use crate::auth::{present, Client};
use crate::{
    auth::AuthError,
    domain::{Session, User},
    jwt::{Claims, JwtError},
    state::SharedState,
    store::Principal,
};

/// A JSON body; wrong content type, bad JSON, a bad shape or an oversized body are 4xx errors.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = RawBody::from_request(req, state).await?;
        body.json().map(Self)
    }
}

/// A form body (`application/x-www-form-urlencoded`), refused in GoTrue's format like
/// [`ApiJson`] rather than with axum's plain-text errors.
pub struct ApiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // The content type first: no point reading a body that will be refused.
        if content_type_essence(req.headers()) != "application/x-www-form-urlencoded" {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "validation_failed",
                "Request body must be a form, sent with Content-Type: application/x-www-form-urlencoded",
            ));
        }
        let body = RawBody::from_request(req, state).await?;
        if !storable::urlencoded_is_storable(&body.bytes) {
            return Err(unstorable("Form fields"));
        }
        serde_urlencoded::from_bytes(&body.bytes)
            .map(Self)
            .map_err(|e| ApiError::validation(format!("Invalid form fields: {e}")))
    }
}

/// A body read but not yet parsed, for handlers whose body shape depends on the query.
pub struct RawBody {
    headers: HeaderMap,
    bytes: Bytes,
}

impl RawBody {
    /// The body as it came (a provider's XML push).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json(&self.headers, &self.bytes)
    }
}

/// How long a client may take to send a request body once its headers are in; the accept loop
/// (`http::serve`) puts it in every request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct BodyReadTimeout(pub std::time::Duration);

impl Default for BodyReadTimeout {
    fn default() -> Self {
        Self(std::time::Duration::from_secs(30))
    }
}

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        // A declared length over the limit is refused before anything is read.
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
            return Err(body_too_large());
        }
        let timeout = req
            .extensions()
            .get::<BodyReadTimeout>()
            .copied()
            .unwrap_or_default();
        let read = tokio::time::timeout(timeout.0, Bytes::from_request(req, state))
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!(
                        "Request body not received within {} seconds",
                        timeout.0.as_secs()
                    ),
                )
            })?;
        let bytes = read.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                body_too_large()
            } else {
                ApiError::bad_request(
                    "bad_json",
                    format!("Could not read request body: {}", rejection.body_text()),
                )
            }
        })?;
        Ok(Self { headers, bytes })
    }
}

fn body_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request_entity_too_large",
        format!("Request body too large (max {MAX_BODY_BYTES} bytes)"),
    )
}

/// For `#[serde(deserialize_with)]` on optional query parameters that clients send empty when
/// unset (auth-js's `listUsers()` sends `?page=&per_page=`): blank is `None`.
pub fn blank_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let raw: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => value.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// Largest request body accepted, as GoTrue's.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The media type of the request's `Content-Type`, lowercased, without parameters.
fn content_type_essence(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Parses a JSON request body, refusing other content types, text no database stores, and
/// any top-level value but an object (serde would fill a struct from an array).
fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    let essence = content_type_essence(headers);
    if essence != "application/json" && !essence.ends_with("+json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_json",
            "Request body must be JSON, sent with Content-Type: application/json",
        ));
    }
    let not_json = |e: serde_json::Error| {
        ApiError::bad_request(
            "bad_json",
            format!("Could not parse request body as JSON: {e}"),
        )
    };
    if !storable::json_is_storable(body) {
        return Err(unstorable("Request body"));
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'{') {
        // Valid JSON of the wrong shape is the caller's mistake in kind, not in syntax.
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(not_json)?;
        return Err(ApiError::validation("Request body must be a JSON object"));
    }
    serde_json::from_slice(body).map_err(not_json)
}

/// Input that no database stores, refused before any handler sees it.
fn unstorable(what: &str) -> ApiError {
    ApiError::validation(format!(
        "{what} must not contain NUL characters or unpaired UTF-16 surrogates"
    ))
}

/// Query parameters; a malformed query is a 400 `validation_failed`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        if !storable::urlencoded_is_storable(query.as_bytes()) {
            return Err(unstorable("Query parameters"));
        }
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|e| {
                ApiError::validation(format!("Invalid query parameters: {}", e.body_text()))
            })
    }
}

/// GoTrue's answer when the user a valid token names no longer exists.
pub fn user_from_token_gone() -> ApiError {
    AuthError::TokenUserGone.into()
}

/// The signed-in caller: a valid access token whose user and session still exist.
pub struct Authenticated {
    pub claims: Claims,
    /// Shared, not copied: on SQLite the same read may answer many requests.
    principal: Arc<Principal>,
    /// The raw bearer token, for endpoints that hand it back.
    pub token: String,
}

impl Authenticated {
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn user(&self) -> &User {
        &self.principal.user
    }

    /// The session the token names, when it has one.
    pub fn session(&self) -> Option<&Session> {
        self.principal.session.as_ref()
    }

    /// The session the token names; tokens without one cannot sign out a session.
    pub fn session_id(&self) -> Option<Uuid> {
        self.session().map(|s| s.id)
    }
}

/// Reads `Authorization: Bearer <jwt>` and checks the signature and expiry only.
pub fn bearer_claims(parts: &Parts, state: &SharedState) -> Result<(String, Claims), ApiError> {
    let header_value = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim();
    let token = match header_value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            token.trim()
        }
        _ => {
            return Err(ApiError::unauthorized(
                "no_authorization",
                "This endpoint requires a valid Bearer token",
            ))
        }
    };
    let claims = state.keys.verify(token, state.clock.now()).map_err(|e| {
        let message = match e {
            JwtError::Expired => "invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired".to_owned(),
            other => format!("invalid JWT: unable to parse or verify signature, {other}"),
        };
        ApiError::forbidden("bad_jwt", message)
    })?;
    Ok((token.to_owned(), claims))
}

impl FromRequestParts<SharedState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let (token, claims) = bearer_claims(parts, state)?;
        let user_id = claims
            .sub
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::forbidden("bad_jwt", "invalid claim: missing sub claim"))?;
        let user_id = Uuid::parse_str(user_id).map_err(|_| {
            ApiError::bad_request("bad_jwt", "invalid claim: sub claim must be a UUID")
        })?;
        let session_id = match claims.session_id.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(Uuid::parse_str(raw).map_err(|_| {
                ApiError::forbidden("bad_jwt", "invalid claim: session_id claim must be a UUID")
            })?),
        };
        let principal = state
            .store
            .principal(user_id, session_id)
            .await?
            .ok_or_else(user_from_token_gone)?;
        if session_id.is_some() && principal.session.is_none() {
            return Err(ApiError::forbidden(
                "session_not_found",
                "Session from session_id claim in JWT does not exist",
            ));
        }
        if principal.user.is_banned(state.clock.now()) {
            return Err(AuthError::TokenUserBanned.into());
        }
        Ok(Self {
            claims,
            principal,
            token,
        })
    }
}

impl FromRequestParts<SharedState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let limits = &state.config.rate_limit;
        let from_header = limits.header.as_deref().and_then(|name| {
            forwarded_ip(
                parts.headers.get_all(name).iter(),
                limits.trusted_proxy_hops,
            )
        });
        let peer = || {
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip().to_canonical())
        };
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect());
        Ok(Self {
            ip: from_header
                .or_else(peer)
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
            user_agent,
        })
    }
}

/// The client address in a proxy header such as `X-Forwarded-For`: each proxy appends the
/// address it was called from, so the entry `hops` from the right (across all the header's
/// lines) is the one your outermost trusted proxy wrote. Entries left of it are whatever the
/// client sent. `None` when there are fewer entries or that one is not an IP address (an
/// `address:port` form is accepted).
fn forwarded_ip<'a>(lines: impl Iterator<Item = &'a HeaderValue>, hops: usize) -> Option<IpAddr> {
    let mut entries = Vec::new();
    for line in lines {
        // A line that is not text makes the count from the right unknowable.
        entries.extend(line.to_str().ok()?.split(','));
    }
    let entry = entries.get(entries.len().checked_sub(hops)?)?.trim();
    let ip = entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()?;
    Some(ip.to_canonical())
}

/// A caller with an admin JWT (`role` `service_role` or `supabase_admin`, as Supabase's keys).
pub struct Admin {
    pub claims: Claims,
}

impl FromRequestParts<SharedState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let (_, claims) = bearer_claims(parts, state)?;
        if !matches!(claims.role.as_str(), "service_role" | "supabase_admin") {
            return Err(ApiError::forbidden("not_admin", "User not allowed"));
        }
        Ok(Self { claims })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_ip(lines: &[&str], hops: usize) -> Option<String> {
        let values: Vec<HeaderValue> = lines
            .iter()
            .map(|line| HeaderValue::from_str(line).expect("header value"))
            .collect();
        forwarded_ip(values.iter(), hops).map(|ip| ip.to_string())
    }

    #[test]
    fn the_client_is_what_the_trusted_proxies_appended() {
        // The client wrote the first two entries; the one proxy appended the last.
        let forged = ["1.1.1.1, 2.2.2.2, 203.0.113.7"];
        assert_eq!(client_ip(&forged, 1).as_deref(), Some("203.0.113.7"));
        // Two proxies: the outer one's entry is second from the right.
        assert_eq!(client_ip(&forged, 2).as_deref(), Some("2.2.2.2"));
        // Entries count across repeated header lines, in order.
        let lines = ["1.1.1.1", "203.0.113.7, 10.0.0.1"];
        assert_eq!(client_ip(&lines, 2).as_deref(), Some("203.0.113.7"));
        assert_eq!(client_ip(&lines, 3).as_deref(), Some("1.1.1.1"));
    }

    #[test]
    fn addresses_are_parsed_and_normalised() {
        assert_eq!(
            client_ip(&[" 2001:DB8::1 "], 1).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            client_ip(&["203.0.113.7:4711"], 1).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            client_ip(&["[2001:db8::1]:443"], 1).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            client_ip(&["::ffff:203.0.113.7"], 1).as_deref(),
            Some("203.0.113.7")
        );
    }

    #[test]
    fn missing_or_garbage_entries_fall_back() {
        for lines in [
            &[][..],
            &["203.0.113.7, not-an-ip"][..],
            &[""][..],
            &["203.0.113.7,"][..],
            &["unknown"][..],
        ] {
            assert_eq!(client_ip(lines, 1), None, "{lines:?}");
        }
        // Fewer entries than trusted proxies: the request did not come through them all.
        assert_eq!(client_ip(&["203.0.113.7"], 2), None);
    }
}
