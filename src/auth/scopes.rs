//! JWT scopes: Zooid's grammar, normalisation and matching, implemented the
//! way Zooid's own `packages/auth/src/scopes.ts` does, so that a token a
//! Zooid deployment minted grants here what it granted there.
//!
//! ```text
//! scope   = "admin" / ("pub" / "sub") ":" pattern
//! pattern = "*" / channel-id / prefix "*"     ; a string-prefix match
//! ```
//! `sub:` reads (and registers webhooks), `pub:` publishes; `pub` does not
//! imply `sub`; `admin` is everything. An ill-formed scope grants nothing
//! but still has to fit under its key's ceiling, as in Zooid.

use serde_json::Value;

/// Scopes a token may carry; past this it is refused (the token size bound
/// already limits them, this keeps matching cheap).
pub const MAX_SCOPES: usize = 256;

/// Whether `scope` is covered by `pattern` (Zooid's `scopeMatchesPattern`):
/// equal strings; the pattern `admin` covers anything; otherwise the same
/// action before the first `:`, and a channel part that is `*`, equal, or a
/// prefix ending in `*`.
pub fn matches(scope: &str, pattern: &str) -> bool {
    if scope == pattern || pattern == "admin" {
        return true;
    }
    let (Some((action, channel)), Some((pattern_action, pattern_channel))) =
        (scope.split_once(':'), pattern.split_once(':'))
    else {
        return false;
    };
    if action != pattern_action {
        return false;
    }
    match pattern_channel.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => channel.starts_with(prefix),
        None => channel == pattern_channel,
    }
}

/// Whether `scopes` grant `required` (Zooid's `hasScope`).
pub fn grants(scopes: &[String], required: &str) -> bool {
    scopes
        .iter()
        .any(|scope| scope == "admin" || matches(required, scope))
}

/// Whether every scope fits under some pattern of `ceiling` (Zooid's
/// `enforceScopeCeiling`); `None` is no ceiling.
pub fn within(scopes: &[String], ceiling: Option<&[String]>) -> Result<(), String> {
    let Some(ceiling) = ceiling else {
        return Ok(());
    };
    match scopes
        .iter()
        .find(|scope| !ceiling.iter().any(|pattern| matches(scope, pattern)))
    {
        Some(outside) => Err(format!(
            "scope {outside:?} is outside what its key may grant"
        )),
        None => Ok(()),
    }
}

/// Whether `scope` is one the grammar knows (used to validate ceilings).
pub fn well_formed(scope: &str) -> bool {
    if scope == "admin" {
        return true;
    }
    let Some((action, pattern)) = scope.split_once(':') else {
        return false;
    };
    let body = pattern.strip_suffix('*').unwrap_or(pattern);
    matches!(action, "pub" | "sub")
        && !pattern.is_empty()
        && pattern.len() <= 64
        && body
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The scopes a token's claims grant, in Zooid's order: `scopes`, then the
/// OIDC claim `https://zooid.dev/scopes`, then the legacy `scope` with
/// `channels`/`channel` (no list: every channel). Anything else: none.
pub fn normalize(claims: &serde_json::Map<String, Value>) -> Result<Vec<String>, String> {
    let list = |value: &Value, name: &str| -> Result<Vec<String>, String> {
        let items = value
            .as_array()
            .ok_or_else(|| format!("{name} must be an array of strings"))?;
        if items.len() > MAX_SCOPES {
            return Err(format!("{name} holds at most {MAX_SCOPES} entries"));
        }
        items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{name} must be an array of strings"))
            })
            .collect()
    };
    if let Some(scopes) = claims.get("scopes") {
        return list(scopes, "scopes");
    }
    if let Some(scopes) = claims.get("https://zooid.dev/scopes")
        && scopes.is_array()
    {
        return list(scopes, "https://zooid.dev/scopes");
    }
    let action = match claims.get("scope").and_then(Value::as_str) {
        Some("admin") => return Ok(vec!["admin".into()]),
        Some("publish") => "pub",
        Some("subscribe") => "sub",
        _ => return Ok(Vec::new()),
    };
    let channels = match (claims.get("channels"), claims.get("channel")) {
        (Some(channels), _) => list(channels, "channels")?,
        (None, Some(Value::String(channel))) => vec![channel.clone()],
        _ => vec!["*".into()],
    };
    Ok(channels
        .into_iter()
        .map(|channel| format!("{action}:{channel}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn matching_is_zooids() {
        assert!(matches("pub:orders", "pub:orders"));
        assert!(matches("pub:orders", "pub:*"));
        assert!(matches("pub:product-x", "pub:product-*"));
        assert!(!matches("pub:produc", "pub:product-*"));
        assert!(!matches("sub:orders", "pub:*"));
        assert!(matches("sub:orders", "admin"));
        assert!(!matches("admin", "pub:*"));
        let scopes = strings(&["pub:a-*"]);
        assert!(grants(&scopes, "pub:a-b"));
        assert!(!grants(&scopes, "sub:a-b"), "pub does not imply sub");
        assert!(grants(&strings(&["admin"]), "sub:anything"));
    }

    #[test]
    fn ceilings_hold_every_scope() {
        let ceiling = strings(&["pub:app-*", "sub:app-*"]);
        assert!(within(&strings(&["pub:app-1", "sub:app-*"]), Some(&ceiling)).is_ok());
        assert!(within(&strings(&["pub:other"]), Some(&ceiling)).is_err());
        assert!(within(&strings(&["admin"]), Some(&ceiling)).is_err());
        assert!(within(&strings(&["garbage"]), Some(&ceiling)).is_err());
        assert!(within(&strings(&["admin"]), Some(&strings(&["admin"]))).is_ok());
        assert!(within(&strings(&["admin"]), None).is_ok());
    }

    #[test]
    fn legacy_claims_normalize_as_zooid() {
        let claims = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            normalize(&claims(json!({"scopes": ["sub:a"], "scope": "admin"}))).unwrap(),
            strings(&["sub:a"])
        );
        assert_eq!(
            normalize(&claims(json!({"https://zooid.dev/scopes": ["pub:a"]}))).unwrap(),
            strings(&["pub:a"])
        );
        assert_eq!(
            normalize(&claims(json!({"scope": "admin"}))).unwrap(),
            strings(&["admin"])
        );
        assert_eq!(
            normalize(&claims(json!({"scope": "publish", "channels": ["a", "b"]}))).unwrap(),
            strings(&["pub:a", "pub:b"])
        );
        assert_eq!(
            normalize(&claims(json!({"scope": "subscribe", "channel": "a"}))).unwrap(),
            strings(&["sub:a"])
        );
        assert_eq!(
            normalize(&claims(json!({"scope": "subscribe"}))).unwrap(),
            strings(&["sub:*"])
        );
        assert!(normalize(&claims(json!({}))).unwrap().is_empty());
        assert!(normalize(&claims(json!({"scopes": "admin"}))).is_err());
        assert!(normalize(&claims(json!({"scopes": [1]}))).is_err());
    }

    #[test]
    fn well_formed_scopes() {
        for good in ["admin", "pub:*", "sub:orders", "pub:team-42-*"] {
            assert!(well_formed(good), "{good}");
        }
        for bad in ["pub:", "read:x", "pub:UPPER", "sub:a*b", "admin:x", ""] {
            assert!(!well_formed(bad), "{bad}");
        }
    }
}
