//! Access tokens: GoTrue's claims, HS256 with the shared secret by default, or an asymmetric
//! key (ES256 / RS256, with a `kid`) that signs and is published at the JWKS endpoint.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{self, KeyPair};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AmrEntry {
    pub method: String,
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// GoTrue's access-token claims. Everything is optional on the way in, so that anon and
/// service_role keys (which carry only a role) parse too.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Value>,
    /// Optional, as in GoTrue: service keys without it are in use. Tokens saoma mints carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default)]
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_metadata: Option<Value>,
    #[serde(default)]
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<AmrEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_anonymous: Option<bool>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JwtError {
    #[error("token is expired")]
    Expired,
    #[error("signing method {0} is invalid")]
    Algorithm(String),
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the JWT secret must be at least 32 characters")]
    ShortSecret,
    #[error("signing key: {0}")]
    Signing(String),
}

struct AsymmetricKey {
    algorithm: Algorithm,
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_jwk: Value,
}

/// Signs and verifies access tokens.
pub struct JwtKeys {
    hs_encoding: EncodingKey,
    hs_decoding: DecodingKey,
    signing: Option<AsymmetricKey>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("secret", &"[redacted]")
            .field("signing_kid", &self.signing.as_ref().map(|k| &k.kid))
            .finish()
    }
}

impl JwtKeys {
    pub fn new(
        secret: &str,
        signing_key_pem: Option<(&str, Option<&str>)>,
    ) -> Result<Self, KeyError> {
        if secret.len() < 32 {
            return Err(KeyError::ShortSecret);
        }
        let signing = signing_key_pem
            .map(|(pem, kid)| AsymmetricKey::from_pem(pem, kid))
            .transpose()?;
        Ok(Self {
            hs_encoding: EncodingKey::from_secret(secret.as_bytes()),
            hs_decoding: DecodingKey::from_secret(secret.as_bytes()),
            signing,
        })
    }

    /// Signs user access tokens: with the asymmetric key when one is configured.
    pub fn sign(&self, claims: &Claims) -> Result<String, JwtError> {
        match &self.signing {
            Some(key) => {
                let mut header = Header::new(key.algorithm);
                header.kid = Some(key.kid.clone());
                jsonwebtoken::encode(&header, claims, &key.encoding)
            }
            None => jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.hs_encoding),
        }
        .map_err(|e| JwtError::Invalid(e.to_string()))
    }

    /// Signs with the shared secret whatever else is configured: anon / service_role keys are
    /// HS256 so that PostgREST and friends configured with the same secret accept them.
    pub fn sign_hs256(&self, claims: &Claims) -> Result<String, JwtError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.hs_encoding)
            .map_err(|e| JwtError::Invalid(e.to_string()))
    }

    /// Checks the signature (HS256 with the secret, or the configured asymmetric key) and
    /// expiry against `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, JwtError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| JwtError::Invalid(e.to_string()))?;
        let key = match (header.alg, &self.signing) {
            (Algorithm::HS256, _) => &self.hs_decoding,
            (alg, Some(key)) if alg == key.algorithm => {
                if header.kid.as_deref().is_some_and(|kid| kid != key.kid) {
                    return Err(JwtError::Invalid("unknown key id".into()));
                }
                &key.decoding
            }
            (alg, _) => return Err(JwtError::Algorithm(format!("{alg:?}"))),
        };
        let mut validation = Validation::new(header.alg);
        // Expiry is checked against the injected clock below; audiences are not checked,
        // as GoTrue does not.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| JwtError::Invalid(e.to_string()))?;
        if data.claims.exp.is_some_and(|exp| exp <= now.timestamp()) {
            return Err(JwtError::Expired);
        }
        Ok(data.claims)
    }

    /// The public keys clients may verify access tokens with.
    pub fn jwks(&self) -> Value {
        let keys: Vec<&Value> = self.signing.iter().map(|k| &k.public_jwk).collect();
        json!({ "keys": keys })
    }
}

impl AsymmetricKey {
    fn from_pem(pem_text: &str, kid: Option<&str>) -> Result<Self, KeyError> {
        let err = |e: &dyn std::fmt::Display| KeyError::Signing(e.to_string());
        let block = pem::parse(pem_text).map_err(|e| err(&e))?;
        let der = block.contents();
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let rng = ring::rand::SystemRandom::new();
        let (algorithm, encoding, decoding, mut jwk) = if let Ok(pair) =
            signature::EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                der,
                &rng,
            ) {
            // Uncompressed point: 0x04 || x || y.
            let point = pair.public_key().as_ref();
            let (x, y) = (b64(&point[1..33]), b64(&point[33..65]));
            let decoding = DecodingKey::from_ec_components(&x, &y).map_err(|e| err(&e))?;
            let encoding = EncodingKey::from_ec_pem(pem_text.as_bytes()).map_err(|e| err(&e))?;
            (
                Algorithm::ES256,
                encoding,
                decoding,
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
            )
        } else {
            let pair = signature::RsaKeyPair::from_pkcs8(der)
                .or_else(|_| signature::RsaKeyPair::from_der(der))
                .map_err(|_| KeyError::Signing("not a PKCS#8 P-256 or RSA private key".into()))?;
            let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
            let (n, e) = (b64(&public.n), b64(&public.e));
            let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|e| err(&e))?;
            let encoding = EncodingKey::from_rsa_pem(pem_text.as_bytes()).map_err(|e| err(&e))?;
            (
                Algorithm::RS256,
                encoding,
                decoding,
                json!({"kty": "RSA", "n": n, "e": e}),
            )
        };
        let kid = match kid {
            Some(kid) => kid.to_owned(),
            None => thumbprint(&jwk),
        };
        let alg = format!("{algorithm:?}");
        if let Value::Object(map) = &mut jwk {
            map.insert("kid".into(), json!(kid));
            map.insert("alg".into(), json!(alg));
            map.insert("use".into(), json!("sig"));
            map.insert("key_ops".into(), json!(["verify"]));
        }
        Ok(Self {
            algorithm,
            kid,
            encoding,
            decoding,
            public_jwk: jwk,
        })
    }
}

/// RFC 7638 thumbprint, a stable default `kid`.
fn thumbprint(jwk: &Value) -> String {
    let canonical = match jwk["kty"].as_str() {
        Some("EC") => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["crv"].as_str().unwrap_or_default(),
            jwk["x"].as_str().unwrap_or_default(),
            jwk["y"].as_str().unwrap_or_default()
        ),
        _ => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            jwk["e"].as_str().unwrap_or_default(),
            jwk["n"].as_str().unwrap_or_default()
        ),
    };
    URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: Some("u".into()),
            role: "authenticated".into(),
            exp: Some(exp),
            ..Claims::default()
        }
    }

    #[test]
    fn hs256_round_trip_and_expiry() {
        let keys = JwtKeys::new(SECRET, None).expect("keys");
        let now = Utc::now();
        let token = keys.sign(&claims(now.timestamp() + 60)).expect("sign");
        assert_eq!(
            keys.verify(&token, now).expect("verify").sub.as_deref(),
            Some("u")
        );
        assert_eq!(
            keys.verify(&token, now + chrono::Duration::seconds(61)),
            Err(JwtError::Expired)
        );
    }

    #[test]
    fn exp_is_optional_as_in_gotrue() {
        let keys = JwtKeys::new(SECRET, None).expect("keys");
        let now = Utc::now();
        let forever = Claims {
            exp: None,
            ..claims(0)
        };
        let token = keys.sign(&forever).expect("sign");
        assert!(!token.is_empty());
        assert_eq!(keys.verify(&token, now).map(|c| c.exp), Ok(None));
        // An explicit exp of 0 is 1970, long gone.
        let token = keys.sign(&claims(0)).expect("sign");
        assert_eq!(keys.verify(&token, now), Err(JwtError::Expired));
    }

    #[test]
    fn rejects_other_secrets_and_alg_none() {
        let keys = JwtKeys::new(SECRET, None).expect("keys");
        let other = JwtKeys::new(&SECRET.replace('s', "z"), None).expect("keys");
        let now = Utc::now();
        let token = other.sign(&claims(now.timestamp() + 60)).expect("sign");
        assert!(matches!(
            keys.verify(&token, now),
            Err(JwtError::Invalid(_))
        ));
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&claims(now.timestamp() + 60)).expect("json"));
        assert!(keys.verify(&format!("{header}.{body}."), now).is_err());
    }

    #[test]
    fn short_secret_is_refused() {
        assert!(matches!(
            JwtKeys::new("short", None),
            Err(KeyError::ShortSecret)
        ));
    }
}
