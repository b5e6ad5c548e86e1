//! Trusted public keys: what a registration may hold, and the key a stored
//! row becomes for verification.
//!
//! A key arrives in Zooid's shape (`kid` and a raw Ed25519 `x`) or as a
//! public JWK (Ed25519, P-256, P-384, RSA ≥ 2048 bits). It is checked here,
//! fully, before anything else sees it: a JWK with private members is
//! refused (nothing secret is stored), an Ed25519 `x` must be exactly 32
//! bytes (jsonwebtoken's verifier would panic on a shorter one), an EC
//! point must be on its curve. The algorithm is pinned per key, so a token
//! cannot pick another one (algorithm confusion).

use jsonwebtoken::{
    Algorithm, DecodingKey,
    crypto::CryptoProvider,
    jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
        EllipticCurveKeyType, Jwk, OctetKeyPairParameters, OctetKeyPairType, RSAKeyParameters,
        RSAKeyType,
    },
};
use serde_json::{Map, Value};

use super::scopes;
use crate::model::{Millis, TrustedKeyRecord};

const MAX_KID_CHARS: usize = 128;
const MAX_ISSUER_CHARS: usize = 256;
const MAX_CEILING_SCOPES: usize = 64;
/// The longest `max_ttl` a key may set: 100 years.
const MAX_TTL_SECONDS: i64 = 100 * 365 * 24 * 3600;
/// JWK members that belong to a private key (RFC 7518 §6): never accepted.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A key registration, as the admin sent it.
#[derive(Debug, Default)]
pub struct KeyRequest {
    pub kid: String,
    /// Zooid's shape: a raw Ed25519 public key, base64url.
    pub x: Option<String>,
    pub kty: Option<String>,
    pub crv: Option<String>,
    /// Any public JWK instead of `x`.
    pub jwk: Option<Map<String, Value>>,
    pub alg: Option<String>,
    pub max_scopes: Option<Vec<String>>,
    pub issuer: Option<String>,
    pub require_exp: Option<bool>,
    pub max_ttl_seconds: Option<i64>,
    pub jwks_url: Option<String>,
}

/// A stored key, ready to verify with.
pub struct LoadedKey {
    pub record: TrustedKeyRecord,
    pub algorithm: Algorithm,
    pub decoding: DecodingKey,
    pub ceiling: Option<Vec<String>>,
    /// SHA-256 of the algorithm and the public JWK: a grant remembers the
    /// key it was verified with, so a kid registered again with another key
    /// does not keep the old key's tokens.
    pub fingerprint: [u8; 32],
}

impl LoadedKey {
    pub fn from_record(record: TrustedKeyRecord) -> Result<LoadedKey, String> {
        let jwk: Jwk = serde_json::from_str(&record.jwk).map_err(|e| e.to_string())?;
        let algorithm: Algorithm = record.alg.parse().map_err(|_| "unknown alg".to_owned())?;
        let decoding = usable_key(&jwk, algorithm)?;
        let ceiling = record
            .max_scopes
            .as_deref()
            .map(serde_json::from_str::<Vec<String>>)
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok(LoadedKey {
            fingerprint: record.fingerprint(),
            record,
            algorithm,
            decoding,
            ceiling,
        })
    }

    /// The public JWK as stored.
    pub fn jwk(&self) -> Map<String, Value> {
        serde_json::from_str(&self.record.jwk).unwrap_or_default()
    }
}

/// Checks a registration and makes the row to store; the error says what
/// is wrong with it.
pub fn prepare(request: KeyRequest, now: Millis) -> Result<TrustedKeyRecord, String> {
    if request.jwks_url.is_some() {
        return Err(
            "jwks_url is not supported yet: register the key itself, as x \
                    (Ed25519) or jwk"
                .into(),
        );
    }
    // `:` separates the parts of a JWT's identity (`jwt:<kid>:<subject>`)
    // and `#` marks the HS secret's: neither may be part of a kid.
    let kid_ok = (1..=MAX_KID_CHARS).contains(&request.kid.chars().count())
        && request
            .kid
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b':' && b != b'#');
    if !kid_ok {
        return Err(format!(
            "kid is 1 to {MAX_KID_CHARS} visible ASCII characters, without : and #"
        ));
    }
    let jwk = match (request.x, request.jwk) {
        (Some(x), None) => {
            if request.kty.as_deref().is_some_and(|kty| kty != "OKP")
                || request.crv.as_deref().is_some_and(|crv| crv != "Ed25519")
            {
                return Err("x is an Ed25519 public key: kty \"OKP\", crv \"Ed25519\"; \
                            give other keys as jwk"
                    .into());
            }
            ed25519_jwk(&x)?
        }
        (None, Some(jwk)) => public_jwk(jwk)?,
        (Some(_), Some(_)) => return Err("give either x or jwk, not both".into()),
        (None, None) => {
            return Err("either \"x\" (an Ed25519 public key) or \"jwk\" must be provided".into());
        }
    };
    let algorithm = pinned_algorithm(&jwk, request.alg.as_deref())?;
    usable_key(&jwk, algorithm)?;
    if let Some(ceiling) = &request.max_scopes {
        if ceiling.len() > MAX_CEILING_SCOPES {
            return Err(format!(
                "max_scopes holds at most {MAX_CEILING_SCOPES} patterns"
            ));
        }
        if let Some(bad) = ceiling.iter().find(|s| !scopes::well_formed(s)) {
            return Err(format!(
                "invalid scope {bad:?} in max_scopes: must be \"admin\", \
                 \"pub:<channel>\" or \"sub:<channel>\" (a trailing * matches a prefix)"
            ));
        }
    }
    if let Some(issuer) = &request.issuer
        && (issuer.is_empty()
            || issuer.chars().count() > MAX_ISSUER_CHARS
            || issuer.chars().any(char::is_control))
    {
        return Err(format!(
            "issuer is 1 to {MAX_ISSUER_CHARS} characters, without control characters"
        ));
    }
    // `key:<kid>` is the publisher id of tokens without `sub`.
    if request.issuer.as_deref() == Some("key") {
        return Err("issuer \"key\" is reserved (publisher ids of tokens without sub)".into());
    }
    let max_ttl_ms = match request.max_ttl_seconds {
        None => None,
        Some(seconds) if (1..=MAX_TTL_SECONDS).contains(&seconds) => Some(seconds * 1000),
        Some(_) => return Err(format!("max_ttl is 1 to {MAX_TTL_SECONDS} seconds")),
    };
    Ok(TrustedKeyRecord {
        kid: request.kid,
        alg: algorithm_name(algorithm).to_owned(),
        jwk: serde_json::to_string(&jwk).expect("a JWK serializes"),
        max_scopes: request
            .max_scopes
            .map(|s| serde_json::to_string(&s).expect("strings serialize")),
        issuer: request.issuer,
        require_exp: request.require_exp.unwrap_or(true),
        max_ttl_ms,
        created_at: now,
    })
}

pub fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        _ => "unsupported",
    }
}

fn b64(value: &str, member: &str) -> Result<Vec<u8>, String> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| format!("{member} is not base64url"))
}

fn ed25519_jwk(x: &str) -> Result<Jwk, String> {
    ed25519_point(x)?;
    Ok(Jwk {
        common: CommonParameters::default(),
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: x.trim_end_matches('=').to_owned(),
        }),
    })
}

/// An Ed25519 public key that can only be verified against: exactly 32
/// bytes (jsonwebtoken's verifier would panic on fewer), a point on the
/// curve, and not of small order (with such a key, a signature made by
/// nobody verifies: anyone could forge its tokens).
fn ed25519_point(x: &str) -> Result<(), String> {
    let bytes: [u8; 32] = b64(x, "x")?
        .try_into()
        .map_err(|_| "x must be a 32-byte Ed25519 public key, base64url".to_owned())?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|_| "x is not an Ed25519 public key (not a point on the curve)".to_owned())?;
    if key.is_weak() {
        return Err(
            "x is a weak Ed25519 key (a point of small order): signatures made by \
                    nobody would verify"
                .into(),
        );
    }
    Ok(())
}

/// The public members of a JWK, checked; private members are refused.
fn public_jwk(jwk: Map<String, Value>) -> Result<Jwk, String> {
    if let Some(private) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(format!(
            "jwk holds the private member {private:?}: register the public key only"
        ));
    }
    let text = |name: &str| -> Result<&str, String> {
        jwk.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("jwk.{name} is missing or not a string"))
    };
    match text("kty")? {
        "OKP" => match text("crv")? {
            "Ed25519" => ed25519_jwk(text("x")?),
            other => Err(format!("jwk.crv {other:?} is not supported (Ed25519 is)")),
        },
        "EC" => {
            let (curve, size) = match text("crv")? {
                "P-256" => (EllipticCurve::P256, 32),
                "P-384" => (EllipticCurve::P384, 48),
                other => {
                    return Err(format!(
                        "jwk.crv {other:?} is not supported (P-256 and P-384 are)"
                    ));
                }
            };
            let (x, y) = (text("x")?, text("y")?);
            if b64(x, "jwk.x")?.len() != size || b64(y, "jwk.y")?.len() != size {
                return Err(format!(
                    "jwk.x and jwk.y are {size} bytes each on this curve"
                ));
            }
            Ok(Jwk {
                common: CommonParameters::default(),
                algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                    key_type: EllipticCurveKeyType::EC,
                    curve,
                    x: x.trim_end_matches('=').to_owned(),
                    y: y.trim_end_matches('=').to_owned(),
                }),
            })
        }
        "RSA" => {
            let (n, e) = (text("n")?, text("e")?);
            let modulus = b64(n, "jwk.n")?;
            let bits = modulus.iter().skip_while(|b| **b == 0).count() * 8;
            if !(2048..=8192).contains(&bits) {
                return Err("an RSA key's modulus is 2048 to 8192 bits".into());
            }
            if b64(e, "jwk.e")?.len() > 8 {
                return Err("jwk.e is too large".into());
            }
            Ok(Jwk {
                common: CommonParameters::default(),
                algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                    key_type: RSAKeyType::RSA,
                    n: n.trim_end_matches('=').to_owned(),
                    e: e.trim_end_matches('=').to_owned(),
                }),
            })
        }
        other => Err(format!(
            "jwk.kty {other:?} is not supported (OKP, EC and RSA public keys are)"
        )),
    }
}

/// The algorithm a key's tokens must use: the one asked for, if it fits the
/// key, else the key's natural one.
fn pinned_algorithm(jwk: &Jwk, asked: Option<&str>) -> Result<Algorithm, String> {
    let (natural, allowed): (Algorithm, &[Algorithm]) = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(_) => (Algorithm::EdDSA, &[Algorithm::EdDSA]),
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P384 => {
            (Algorithm::ES384, &[Algorithm::ES384])
        }
        AlgorithmParameters::EllipticCurve(_) => (Algorithm::ES256, &[Algorithm::ES256]),
        AlgorithmParameters::RSA(_) => (
            Algorithm::RS256,
            &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
        ),
        _ => return Err("unsupported key type".into()),
    };
    let Some(asked) = asked else {
        return Ok(natural);
    };
    match asked.parse::<Algorithm>() {
        Ok(algorithm) if allowed.contains(&algorithm) => Ok(algorithm),
        _ => Err(format!(
            "alg {asked:?} does not fit this key (it takes {})",
            allowed
                .iter()
                .map(|a| algorithm_name(*a))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The key jsonwebtoken verifies with, proven usable now (an EC point off
/// its curve, a malformed modulus fail here, not at a token's first use).
fn usable_key(jwk: &Jwk, algorithm: Algorithm) -> Result<DecodingKey, String> {
    if let AlgorithmParameters::OctetKeyPair(p) = &jwk.algorithm {
        ed25519_point(&p.x)?;
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("the key is not usable: {e}"))?;
    let provider = CryptoProvider::try_get_default().expect("one crypto backend is built in");
    (provider.verifier_factory)(&algorithm, &key)
        .map_err(|e| format!("the key is not usable: {e}"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kid: &str) -> KeyRequest {
        KeyRequest {
            kid: kid.into(),
            ..KeyRequest::default()
        }
    }

    #[test]
    fn short_ed25519_keys_are_refused_before_they_can_panic() {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        let short = URL_SAFE_NO_PAD.encode([7u8; 31]);
        let err = prepare(
            KeyRequest {
                x: Some(short),
                ..request("k")
            },
            0,
        )
        .unwrap_err();
        assert!(err.contains("32-byte"), "{err}");
    }

    #[test]
    fn small_order_ed25519_keys_are_refused() {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        // The identity point: every "signature" (R = identity, s = 0) verifies.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let err = prepare(
            KeyRequest {
                x: Some(URL_SAFE_NO_PAD.encode(identity)),
                ..request("k")
            },
            0,
        )
        .unwrap_err();
        assert!(err.contains("weak"), "{err}");
    }

    #[test]
    fn private_members_and_jwks_urls_are_refused() {
        let jwk = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"});
        let err = prepare(
            KeyRequest {
                jwk: Some(jwk.as_object().unwrap().clone()),
                ..request("k")
            },
            0,
        )
        .unwrap_err();
        assert!(err.contains("private member"), "{err}");
        let err = prepare(
            KeyRequest {
                jwks_url: Some("https://example.com/jwks".into()),
                ..request("k")
            },
            0,
        )
        .unwrap_err();
        assert!(err.contains("not supported yet"), "{err}");
    }

    #[test]
    fn an_ec_point_off_its_curve_is_refused() {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        let coordinate = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let jwk =
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": coordinate, "y": coordinate});
        let err = prepare(
            KeyRequest {
                jwk: Some(jwk.as_object().unwrap().clone()),
                ..request("k")
            },
            0,
        )
        .unwrap_err();
        assert!(err.contains("not usable"), "{err}");
    }
}
