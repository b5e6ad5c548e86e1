//! The JWT deny-list as a node holds it, and what ends a live JWT holder:
//! its key removed (or replaced), its `jti` or subject revoked. Matching
//! only; the rows are the store's, the notices the hub's.

use std::collections::{HashMap, HashSet};

use super::JwtGrant;
use crate::model::{Millis, RevocationRecord};

/// The deny-list: tokens refused before their `exp`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    /// Clock skew allowed (ms): a subject entry also covers tokens whose
    /// `iat` is within this after its `issued_before` (a minting clock ahead
    /// must not carry a token past its revocation).
    leeway_ms: Millis,
    jtis: HashSet<String>,
    /// Key issuer → sub → tokens issued before this are refused; `None`:
    /// all. Nested, so that a lookup borrows the grant's strings (it runs
    /// on every use of a JWT).
    subjects: HashMap<Option<String>, HashMap<String, Option<Millis>>>,
}

impl Revocations {
    pub fn from_records(records: &[RevocationRecord], leeway_ms: Millis) -> Revocations {
        let mut revocations = Revocations {
            leeway_ms,
            ..Revocations::default()
        };
        for record in records {
            revocations.add(record);
        }
        revocations
    }

    pub fn add(&mut self, record: &RevocationRecord) {
        if record.kind == "jti" {
            self.jtis.insert(record.value.clone());
            return;
        }
        let subjects = self.subjects.entry(record.issuer.clone()).or_default();
        let before = match (subjects.get(&record.value), record.issued_before) {
            (Some(None), _) | (_, None) => None,
            (Some(Some(a)), Some(b)) => Some((*a).max(b)),
            (None, Some(b)) => Some(b),
        };
        subjects.insert(record.value.clone(), before);
    }

    /// Whether `grant` is refused by an entry.
    pub fn covers(&self, grant: &JwtGrant) -> bool {
        if grant
            .jti
            .as_ref()
            .is_some_and(|jti| self.jtis.contains(jti))
        {
            return true;
        }
        let Some(sub) = &grant.sub else {
            return false;
        };
        let entry = self
            .subjects
            .get(&grant.issuer)
            .and_then(|subjects| subjects.get(sub.as_str()));
        match entry {
            Some(None) => true,
            // A token that does not say when it was issued cannot show it is newer.
            Some(Some(before)) => grant
                .iat
                .is_none_or(|iat| iat < before.saturating_add(self.leeway_ms)),
            None => false,
        }
    }
}

/// Why a live JWT holder must leave: its key was removed, or it was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtRevoked {
    Key(String),
    Tokens(Revocations),
    /// The one listener it is handed to no longer holds (a replay page or a
    /// long-poll found so): never sent to a room, where it would cover
    /// every JWT holder.
    Lapsed,
}

impl JwtRevoked {
    pub fn covers(&self, grant: &JwtGrant) -> bool {
        match self {
            JwtRevoked::Key(kid) => grant.kid.as_deref() == Some(kid.as_str()),
            JwtRevoked::Tokens(revocations) => revocations.covers(grant),
            JwtRevoked::Lapsed => true,
        }
    }
}

/// This node's view of the keys and the deny-list at one moment, for the
/// periodic access recheck.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwtView {
    /// Each trusted key's fingerprint, by kid.
    pub keys: HashMap<String, [u8; 32]>,
    pub revocations: Revocations,
}

impl JwtView {
    /// Whether `grant` still holds under this view (its expiry aside).
    pub fn holds(&self, grant: &JwtGrant) -> bool {
        let key_holds = match &grant.kid {
            None => true,
            Some(kid) => self.keys.get(kid) == grant.key_fingerprint.as_ref(),
        };
        key_holds && !self.revocations.covers(grant)
    }
}
