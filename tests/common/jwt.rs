//! JWT helpers for the tests: keys an application server would hold, tokens
//! it would mint (with jsonwebtoken), and the calls the JWT tests repeat.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ADMIN, Backend, TestServer};

pub const SECRET: &str = "jwt-test-secret-0123456789abcdef0123";
pub const AUDIENCE: &str = "https://hub.test";

pub fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// An Ed25519 key an application server would hold.
pub struct AppKey {
    pub kid: String,
    signing: SigningKey,
}

impl AppKey {
    pub fn new(kid: &str) -> AppKey {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
        AppKey {
            kid: kid.into(),
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The public key, as Zooid registers keys.
    pub fn x(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.signing.verifying_key().to_bytes())
    }

    pub fn mint(&self, claims: Value) -> String {
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(&self.signing.to_bytes());
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&der)).unwrap()
    }

    pub async fn register(&self, server: &TestServer, extra: Value) -> Value {
        let mut body = json!({"kid": self.kid, "kty": "OKP", "crv": "Ed25519", "x": self.x()});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, key) = server
            .call(Method::POST, "/keys", Some(ADMIN), Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        key
    }
}

pub fn hs256(secret: &str, claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

pub async fn start(backend: Backend, extra: &[&str]) -> TestServer {
    let mut args = vec!["--jwt-secret", SECRET, "--jwt-audience", AUDIENCE];
    args.extend_from_slice(extra);
    TestServer::start_with(backend, &args).await
}

pub async fn private_channel(server: &TestServer, id: &str) {
    server
        .create_channel(json!({"id": id, "is_public": false}))
        .await;
}

/// The status of a poll of `channel` with `token`, and the problem's detail.
pub async fn poll(server: &TestServer, channel: &str, token: &str) -> (StatusCode, String) {
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/channels/{channel}/events"),
            Some(token),
            None,
        )
        .await;
    (
        status,
        body["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

pub async fn publish(server: &TestServer, channel: &str, token: &str) -> (StatusCode, Value) {
    server
        .call(
            Method::POST,
            &format!("/channels/{channel}/events"),
            Some(token),
            Some(json!({"type": "t", "data": {"n": 1}})),
        )
        .await
}

pub async fn whoami(server: &TestServer, token: &str) -> (StatusCode, Value) {
    server.call(Method::GET, "/whoami", Some(token), None).await
}
