//! A JWT's parts as text: its shape, its header, its signature checked
//! against candidate keys, and its claims read with their types checked.
//! No policy here (which keys, which claims must hold): that is `jwt.rs`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use super::jwt::{MAX_TOKEN_BYTES, UNVERIFIED};
use crate::model::Millis;

/// A token whose signature verified: its claims, when the key that
/// verified it stops being accepted, that key's fingerprint.
pub(super) type Checked = (Map<String, Value>, Option<Millis>, [u8; 32]);

/// Whether `presented` is shaped like a JWT: three base64url segments, the
/// first a JSON object naming `alg`. Decides nothing about its validity.
pub fn looks_like_jwt(presented: &str) -> bool {
    presented.len() <= MAX_TOKEN_BYTES
        && presented.split('.').count() == 3
        && header_json(presented).is_some_and(|header| header.contains_key("alg"))
}

pub(super) fn header_json(token: &str) -> Option<Map<String, Value>> {
    let header = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The algorithm a token's header names, if this server accepts it at all.
pub(super) fn header_algorithm(token: &str) -> Result<Algorithm, String> {
    let header = header_json(token).ok_or("the token is not a well-formed JWT")?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or("the token's header names no alg")?;
    alg.parse::<Algorithm>()
        .map_err(|_| format!("alg {alg:?} is not accepted"))
}

/// Checks the signature with each of `signer`'s keys; the claims, and when
/// the key that verified them stops being accepted, on success. Every
/// failure before a signature verifies is one answer ([`UNVERIFIED`]):
/// whether a kid exists is not told by how a bad token fails.
pub(super) fn check_signature(
    token: &str,
    keys: &[(&DecodingKey, Option<Millis>, [u8; 32])],
    algorithm: Algorithm,
) -> Result<Checked, String> {
    let (message, signature) = token.rsplit_once('.').ok_or(UNVERIFIED)?;
    for (key, until, fingerprint) in keys {
        let verified = jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, algorithm);
        if matches!(verified, Ok(true)) {
            let claims = message
                .split_once('.')
                .and_then(|(_, payload)| URL_SAFE_NO_PAD.decode(payload).ok())
                .and_then(|json| serde_json::from_slice::<Map<String, Value>>(&json).ok())
                .ok_or("the token's claims are not a JSON object")?;
            return Ok((claims, *until, *fingerprint));
        }
    }
    Err(UNVERIFIED.into())
}

/// `sub` names who publishes: never with a `:` (it separates an issuer from
/// a subject, so `a` + `b:c` and `a:b` + `c` would be one publisher), and,
/// for a key without an issuer, never `admin` (the admin's publisher id).
pub(super) fn check_subject(sub: Option<&str>, has_issuer: bool) -> Result<(), String> {
    match sub {
        Some(sub) if sub.contains(':') => Err("sub may not contain ':'".into()),
        Some("admin") if !has_issuer => Err(
            "sub may not be \"admin\" on a key without an issuer (give the key an issuer)".into(),
        ),
        Some("") => Err("sub may not be empty".into()),
        _ => Ok(()),
    }
}

/// A NumericDate claim in milliseconds, if present.
pub(super) fn time_claim(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<Millis>, String> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|s| s.is_finite() && (0.0..1e11).contains(s))
            .map(|s| Some((s * 1000.0) as Millis))
            .ok_or_else(|| format!("{name} is not a valid time")),
        Some(_) => Err(format!("{name} must be a number of seconds")),
    }
}

pub(super) fn string_claim(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, String> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.contains('\0') => Err(format!("{name} holds a NUL character")),
        Some(Value::String(s)) if s.chars().count() <= 256 => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(format!("{name} is longer than 256 characters")),
        Some(_) => Err(format!("{name} must be a string")),
    }
}
