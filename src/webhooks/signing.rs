//! Webhook signatures, per the Standard Webhooks convention.
//!
//! `webhook-signature` carries two entries over `"{id}.{timestamp}.{body}"`:
//! `v1,<base64 HMAC-SHA256>` with the webhook's own secret (`whsec_<base64>`),
//! and `v1a,<base64 Ed25519>` with the server's key, whose public half is
//! published at `/.well-known/channelhub.json` (as `whpk_<base64>`).

use base64::{Engine, engine::general_purpose::STANDARD};
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
