//! The HTTP floors: an empty handler in saoma's HTTP stack (axum 0.8 on hyper, tokio's
//! multi-threaded runtime as `#[tokio::main]` sets it up), and the same plus one HS256
//! verification with jsonwebtoken 9 into saoma's claims shape. Run as its own process
//! (`saoma-bench floor-server`), like saoma.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    routing::get,
    Router,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// saoma's own access-token claims, so the floor decodes exactly what saoma decodes.
pub use saoma::jwt::Claims;

struct Keys {
    decoding: DecodingKey,
    validation: Validation,
}

/// Serves the floors on 127.0.0.1:`port` until killed.
pub async fn serve(port: u16, secret: &str) -> anyhow::Result<()> {
    let mut validation = Validation::new(Algorithm::HS256);
    // As saoma: expiry checked against the clock by hand, no audience check.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let keys = Arc::new(Keys {
        decoding: DecodingKey::from_secret(secret.as_bytes()),
        validation,
    });
    let router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/empty", get(|| async {}))
        .route("/jwt", get(jwt))
        .with_state(keys);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, router).await?;
    Ok(())
}

fn verify(keys: &Keys, headers: &HeaderMap) -> Option<Claims> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match jsonwebtoken::decode::<Claims>(token, &keys.decoding, &keys.validation) {
        Ok(data)
            if data
                .claims
                .exp
                .is_none_or(|exp| exp > chrono::Utc::now().timestamp()) =>
        {
            Some(data.claims)
        }
        _ => None,
    }
}

async fn jwt(State(keys): State<Arc<Keys>>, headers: HeaderMap) -> StatusCode {
    match verify(&keys, &headers) {
        Some(_) => StatusCode::OK,
        None => StatusCode::UNAUTHORIZED,
    }
}
