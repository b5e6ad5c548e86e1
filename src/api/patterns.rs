//! The regular expressions request text must match, each compiled once.
//!
//! poem-openapi's own `validator(pattern = …)` compiles its expression on
//! every check: ≈50–200 µs a request, more than a whole plain publish costs
//! (the `Idempotency-Key` pattern alone was most of a keyed publish's extra
//! CPU). A handler names one of these instead, as
//! `validator(custom = "&crate::api::patterns::NAME")`; the refusal reads as
//! poem-openapi's would (`verification failed. pattern("…")`), and
//! [`super::contract`] writes the pattern where poem-openapi would have
//! ([`IN_SCHEMAS`], [`IN_PARAMETERS`]), so the document is unchanged.

use std::{fmt, sync::LazyLock};

use poem_openapi::validation::Validator;
use regex::Regex;

/// A pattern and its expression, compiled on first use.
pub struct Pattern {
    source: &'static str,
    regex: LazyLock<Regex>,
}

impl Pattern {
    const fn new(source: &'static str, compile: fn() -> Regex) -> Pattern {
        Pattern {
            source,
            regex: LazyLock::new(compile),
        }
    }

    /// The expression, as the document states it.
    pub fn source(&self) -> &'static str {
        self.source
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pattern(\"{}\")", self.source)
    }
}

impl<T: AsRef<str>> Validator<T> for &Pattern {
    fn check(&self, value: &T) -> bool {
        self.regex.is_match(value.as_ref())
    }
}

/// One pattern per name: the source is written once, and `compile` reads it.
macro_rules! patterns {
    ($($(#[$doc:meta])* $name:ident = $source:literal;)*) => {
        $(
            $(#[$doc])*
            pub static $name: Pattern = Pattern::new($source, || {
                Regex::new($source).expect("a valid expression")
            });
        )*
        #[cfg(test)]
        const ALL: &[&Pattern] = &[$(&$name),*];
    };
}

patterns! {
    /// `Idempotency-Key`: 1–255 visible ASCII characters.
    IDEMPOTENCY_KEY = "^[!-~]{1,255}$";
    /// An event id (a ULID), as a poll's `cursor`.
    EVENT_ID = "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$";
    /// A new channel's id.
    CHANNEL_ID = "^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$";
    /// A webhook's URL starts http(s)://.
    WEBHOOK_URL = "^[hH][tT][tT][pP][sS]?://";
    /// The one action a directory claim takes.
    DELETE_ACTION = "^delete$";
    /// A duration: `<number><s|m|h|d>`.
    DURATION = "^[0-9]{1,9}[smhd]$";
}

/// Properties of request bodies and their patterns: (schema, property).
pub const IN_SCHEMAS: &[(&str, &str, &Pattern)] = &[
    ("CreateChannel", "id", &CHANNEL_ID),
    ("RegisterWebhook", "url", &WEBHOOK_URL),
    ("DirectoryClaimBody", "action", &DELETE_ACTION),
    ("MintToken", "expires_in", &DURATION),
];

/// Parameters and their patterns: (path, method, parameter).
pub const IN_PARAMETERS: &[(&str, &str, &str, &Pattern)] = &[
    (
        "/channels/{channel_id}/events",
        "post",
        "Idempotency-Key",
        &IDEMPOTENCY_KEY,
    ),
    ("/channels/{channel_id}/events", "get", "cursor", &EVENT_ID),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles_and_judges() {
        for pattern in ALL {
            // Forces the compilation: a bad expression fails here, not on a request.
            let _ = (&**pattern).check(&"");
        }
        assert!((&IDEMPOTENCY_KEY).check(&"k-1"));
        assert!(!(&IDEMPOTENCY_KEY).check(&"two words"));
        assert!(!(&IDEMPOTENCY_KEY).check(&"x".repeat(256)));
        assert!((&EVENT_ID).check(&"01ARZ3NDEKTSV4RRFFQ69G5FAV"));
        assert!(!(&EVENT_ID).check(&"01ARZ3NDEKTSV4RRFFQ69G5FAU"));
        assert!(!(&CHANNEL_ID).check(&"-ab"));
        assert!((&WEBHOOK_URL).check(&"HTTPS://example.com"));
        assert!(!(&DELETE_ACTION).check(&"deleted"));
        assert!((&DURATION).check(&"15m"));
        assert_eq!(IDEMPOTENCY_KEY.to_string(), r#"pattern("^[!-~]{1,255}$")"#);
    }
}
