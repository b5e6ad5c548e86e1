//! Webhook signatures, per the Standard Webhooks convention.
//!
//! `webhook-signature` carries two entries over `"{id}.{timestamp}.{body}"`:
//! `v1,<base64 HMAC-SHA256>` with the webhook's own secret (`whsec_<base64>`),
//! and `v1a,<base64 Ed25519>` with the server's key, whose public half is
//! published at `/.well-known/channelhub.json` (as `whpk_<base64>`).
//!
//! Zooid's headers come beside them, so that Zooid's `verifyWebhook` checks
//! a channelhub delivery unchanged: `X-Zooid-Signature` is the same server
//! key's Ed25519 signature (standard base64) over `"{timestamp}.{body}"`,
//! where `X-Zooid-Timestamp` is an RFC 3339 time with milliseconds; the
//! public key is published at `/.well-known/zooid.json` as SPKI DER.

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::store::{Store, StoreError};

const KEY_SETTING: &str = "webhook_signing_key";

/// The server's Ed25519 signing key.
pub struct ServerKey(SigningKey);

impl ServerKey {
    /// The key kept in the store, made on first start.
    pub async fn load_or_create(store: &dyn Store) -> Result<ServerKey, StoreError> {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        let stored = store
            .put_setting_if_absent(KEY_SETTING, &STANDARD.encode(seed))
            .await?;
        let bytes: [u8; 32] = STANDARD
            .decode(stored)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| StoreError::Malformed("webhook signing key".into()))?;
        Ok(ServerKey(SigningKey::from_bytes(&bytes)))
    }

    /// The public key as Standard Webhooks writes it: `whpk_<base64>`.
    pub fn public_key(&self) -> String {
        format!(
            "whpk_{}",
            STANDARD.encode(self.0.verifying_key().as_bytes())
        )
    }

    /// The public key as Zooid publishes it: SPKI DER (RFC 8410), base64url.
    pub fn spki_base64url(&self) -> String {
        const SPKI_PREFIX: [u8; 12] = [
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.0.verifying_key().as_bytes());
        URL_SAFE_NO_PAD.encode(der)
    }

    /// The `X-Zooid-Signature` header value: over `"{timestamp}.{body}"`.
    pub fn zooid_signature(&self, timestamp: &str, body: &str) -> String {
        let signed = format!("{timestamp}.{body}");
        STANDARD.encode(self.0.sign(signed.as_bytes()).to_bytes())
    }

    /// A detached Ed25519 signature of `message`, base64url without padding
    /// (a Zooid directory claim's `signature`).
    pub fn sign_base64url(&self, message: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.0.sign(message).to_bytes())
    }

    /// The `webhook-signature` header value for one delivery.
    pub fn signature(&self, secret: &str, message_id: &str, timestamp: i64, body: &str) -> String {
        let signed = format!("{message_id}.{timestamp}.{body}");
        let key = secret_key(secret);
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(signed.as_bytes());
        let hmac = STANDARD.encode(mac.finalize().into_bytes());
        let ed25519 = STANDARD.encode(self.0.sign(signed.as_bytes()).to_bytes());
        format!("v1,{hmac} v1a,{ed25519}")
    }
}

/// A new webhook secret: `whsec_` and 24 random bytes in base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The HMAC key a `whsec_` secret stands for.
fn secret_key(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .unwrap_or_else(|_| secret.as_bytes().to_vec())
}
