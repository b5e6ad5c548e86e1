//! `channelhub jwt keygen | mint | check`: for developers and tests, what an
//! application's server does when it mints tokens for its users, and a way
//! to ask the server what a token grants (and, if refused, why).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use clap::Subcommand;
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngCore;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{Client, Failure};

/// The fixed PKCS#8 prefix of an Ed25519 private key (RFC 8410), before its
/// 32-byte seed.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

#[derive(Debug, Subcommand)]
pub enum JwtCommand {
    /// Make an Ed25519 key pair: prints the private JWK (keep it on your app
    /// server) and the body that registers its public half (`POST /api/v1/keys`).
    Keygen {
        #[arg(long)]
        kid: String,
    },
    /// Mint a token, with the HS256 secret or a private JWK from `keygen`.
    Mint {
        /// The server's `--jwt-secret` (HS256).
        #[arg(
            long,
            env = "CHANNELHUB_JWT_SECRET",
            hide_env_values = true,
            conflicts_with = "key"
        )]
        secret: Option<String>,
        /// A file holding an Ed25519 private JWK (`keygen`'s), with its kid.
        #[arg(long)]
        key: Option<std::path::PathBuf>,
        /// Scopes: `admin`, `pub:<channel>`, `sub:<channel>` (`*`, prefix `*`).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        #[arg(long)]
        sub: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        aud: Option<String>,
        #[arg(long)]
        jti: Option<String>,
        /// Seconds until it expires; 0 mints one without `exp`.
        #[arg(long, default_value_t = 600)]
        ttl: u64,
    },
    /// Ask the server what a token grants (`GET /api/v1/whoami`), or why it
    /// refuses it.
    Check { token: String },
}

pub async fn run(client: &Client, command: JwtCommand) -> Result<(), Failure> {
    match command {
        JwtCommand::Keygen { kid } => {
            let mut seed = [0u8; 32];
            rand::rng().fill_bytes(&mut seed);
            let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
            let x = URL_SAFE_NO_PAD.encode(public);
            let document = json!({
                "private_jwk": {"kty": "OKP", "crv": "Ed25519", "kid": kid,
                                "x": x, "d": URL_SAFE_NO_PAD.encode(seed)},
                "register": {"kid": kid, "kty": "OKP", "crv": "Ed25519", "x": x},
            });
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(())
        }
        JwtCommand::Mint {
            secret,
            key,
            scopes,
            sub,
            name,
            aud,
            jti,
            ttl,
        } => {
            let now = jsonwebtoken::get_current_timestamp();
            let mut claims = Map::new();
            claims.insert("scopes".into(), json!(scopes));
            claims.insert("iat".into(), json!(now));
            if ttl > 0 {
                claims.insert("exp".into(), json!(now + ttl));
            }
            for (name, value) in [("sub", sub), ("name", name), ("aud", aud), ("jti", jti)] {
                if let Some(value) = value {
                    claims.insert(name.into(), json!(value));
                }
            }
            let (header, key) = match (secret, key) {
                (Some(secret), None) => (
                    Header::new(Algorithm::HS256),
                    EncodingKey::from_secret(secret.as_bytes())?,
                ),
                (None, Some(path)) => private_jwk(&std::fs::read_to_string(path)?)?,
                _ => return Err(Failure("give --secret or --key".into())),
            };
            println!("{}", jsonwebtoken::encode(&header, &claims, &key)?);
            Ok(())
        }
        JwtCommand::Check { token } => {
            let checker = client.clone_with_token(token);
            let who = checker.call(Method::GET, "/whoami", None).await?;
            println!("{}", serde_json::to_string_pretty(&who)?);
            Ok(())
        }
    }
}

/// A header naming the key, and the key, from an Ed25519 private JWK.
fn private_jwk(text: &str) -> Result<(Header, EncodingKey), Failure> {
    let jwk: Value = serde_json::from_str(text)?;
    let jwk = jwk.get("private_jwk").unwrap_or(&jwk);
    let field = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| Failure(format!("the key file's JWK has no {name}")))
    };
    if field("kty")? != "OKP" || field("crv")? != "Ed25519" {
        return Err(Failure(
            "the key file holds an Ed25519 (OKP) private JWK".into(),
        ));
    }
    let seed = URL_SAFE_NO_PAD.decode(field("d")?)?;
    if seed.len() != 32 {
        return Err(Failure("the JWK's d is a 32-byte Ed25519 seed".into()));
    }
    let mut der = ED25519_PKCS8_PREFIX.to_vec();
    der.extend_from_slice(&seed);
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(field("kid")?.to_owned());
    Ok((header, EncodingKey::from_ed_der(&der)))
}
