use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn health_settings_and_jwks_answer_under_both_prefixes() {
    let app = spawn_app().await;
    for prefix in ["", "/auth/v1"] {
        let health = app.get(&format!("{prefix}/health"), None).await;
        assert_eq!(health.status, StatusCode::OK);
        assert_eq!(health.body["name"], "saoma");

        let settings = app.get(&format!("{prefix}/settings"), None).await;
        assert_eq!(settings.status, StatusCode::OK);
        assert_eq!(settings.body["external"]["email"], true);
        assert_eq!(settings.body["external"]["anonymous_users"], true);
        assert_eq!(settings.body["mailer_autoconfirm"], true);
        assert_eq!(settings.body["disable_signup"], false);

        let jwks = app
            .get(&format!("{prefix}/.well-known/jwks.json"), None)
            .await;
        assert_eq!(jwks.status, StatusCode::OK);
        // HS256 secrets are never published.
        assert_eq!(jwks.body, json!({"keys": []}));
        assert_eq!(jwks.headers["cache-control"], "public, max-age=600");
    }
}

#[tokio::test]
async fn cors_preflight_allows_supabase_headers() {
    let app = spawn_app().await;
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/auth/v1/token"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "apikey, authorization, content-type, x-client-info, x-supabase-api-version",
        )
        .send()
        .await
        .expect("preflight");
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .to_lowercase();
    for header in [
        "apikey",
        "authorization",
        "content-type",
        "x-client-info",
        "x-supabase-api-version",
    ] {
        assert!(allowed.contains(header), "{header} not in {allowed}");
    }
}
