//! What this server says about itself (Zooid's server identity: a name, a
//! description, tags, an owner, a company, an email), and the directory
//! claims it signs. The profile lives in the settings table, so every node
//! of a cluster answers the same; only the admin changes it.

use serde::Serialize;

use crate::{
    auth::Principal,
    model::{ServerProfile, format_millis, now_millis},
};

use super::{Hub, HubError, HubResult};

const PROFILE_SETTING: &str = "server_profile";

/// The bounds of a profile: a name up to 200 characters, a description up to
/// 2 000, other fields up to 256, and 32 tags of 1–64 characters.
const MAX_NAME_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 2000;
const MAX_FIELD_CHARS: usize = 256;
const MAX_TAGS: usize = 32;
const MAX_TAG_CHARS: usize = 64;

/// Channels one directory claim may name.
pub const MAX_CLAIM_CHANNELS: usize = 100;

/// A change to the profile: absent fields stay, `Some(None)` clears.
#[derive(Debug, Default)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub owner: Option<Option<String>>,
    pub company: Option<Option<String>>,
    pub email: Option<Option<String>>,
}

/// A directory claim to sign: the channels, and `delete` to withdraw them.
#[derive(Debug)]
pub struct ClaimRequest {
    pub channels: Vec<String>,
    pub delete: bool,
    /// The URL the claim names as this server's.
    pub server_url: String,
}

/// The signed claim's JSON text.
#[derive(Serialize)]
struct Claim<'a> {
    server_url: &'a str,
    channels: &'a [String],
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
}

fn check_chars(field: &str, value: &str, min: usize, max: usize) -> HubResult<()> {
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(HubError::Invalid(format!(
            "{field} must be {min}–{max} characters (got {chars})"
        )));
    }
    Ok(())
}

impl ProfileUpdate {
    fn check(&self) -> HubResult<()> {
        if let Some(name) = &self.name {
            check_chars("name", name, 1, MAX_NAME_CHARS)?;
        }
        if let Some(Some(description)) = &self.description {
            check_chars("description", description, 0, MAX_DESCRIPTION_CHARS)?;
        }
        if let Some(tags) = &self.tags {
            if tags.len() > MAX_TAGS {
                return Err(HubError::Invalid(format!(
                    "tags: at most {MAX_TAGS} (got {})",
                    tags.len()
                )));
            }
            for tag in tags {
                check_chars("a tag", tag, 1, MAX_TAG_CHARS)?;
            }
        }
        for (field, value) in [
            ("owner", &self.owner),
            ("company", &self.company),
            ("email", &self.email),
        ] {
            if let Some(Some(value)) = value {
                check_chars(field, value, 0, MAX_FIELD_CHARS)?;
            }
        }
        Ok(())
    }

    fn apply(self, profile: &mut ServerProfile) {
        let ProfileUpdate {
            name,
            description,
            tags,
            owner,
            company,
            email,
        } = self;
        if let Some(name) = name {
            profile.name = name;
        }
        if let Some(tags) = tags {
            profile.tags = tags;
        }
        for (slot, value) in [
            (&mut profile.description, description),
            (&mut profile.owner, owner),
            (&mut profile.company, company),
            (&mut profile.email, email),
        ] {
            if let Some(value) = value {
                *slot = value;
            }
        }
    }
}

impl Hub {
    /// The profile: as the admin last set it, else the name `channelhub`
    /// and nothing else.
    pub async fn server_profile(&self) -> HubResult<ServerProfile> {
        let stored = self.store.get_setting(PROFILE_SETTING).await?;
        Ok(stored
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_else(|| ServerProfile {
                name: "channelhub".into(),
                description: None,
                tags: Vec::new(),
                owner: None,
                company: None,
                email: None,
                updated_at: format_millis(now_millis()),
            }))
    }

    /// Changes the profile (admin). Concurrent changes: the last one wins
    /// whole, as with Zooid's upsert.
    pub async fn update_server_profile(
        &self,
        principal: &Principal,
        update: ProfileUpdate,
    ) -> HubResult<ServerProfile> {
        Self::require_admin(principal)?;
        update.check()?;
        let mut profile = self.server_profile().await?;
        update.apply(&mut profile);
        profile.updated_at = format_millis(now_millis());
        let text = serde_json::to_string(&profile).expect("a profile serializes");
        self.store.put_setting(PROFILE_SETTING, &text).await?;
        Ok(profile)
    }

    /// The JSON text of a directory claim (admin): this server's URL, the
    /// channels (each must exist), the time, and `action: "delete"` to
    /// withdraw them. The caller signs it with the server key.
    pub async fn directory_claim(
        &self,
        principal: &Principal,
        request: ClaimRequest,
    ) -> HubResult<String> {
        Self::require_admin(principal)?;
        let count = request.channels.len();
        if count == 0 || count > MAX_CLAIM_CHANNELS {
            return Err(HubError::Invalid(format!(
                "channels: 1–{MAX_CLAIM_CHANNELS} channel ids (got {count})"
            )));
        }
        let mut missing = Vec::new();
        for id in &request.channels {
            if self.store.get_channel(id).await?.is_none() {
                missing.push(id.as_str());
            }
        }
        if !missing.is_empty() {
            return Err(HubError::Invalid(format!(
                "Channels not found: {}",
                missing.join(", ")
            )));
        }
        let claim = Claim {
            server_url: &request.server_url,
            channels: &request.channels,
            timestamp: format_millis(now_millis()),
            action: request.delete.then_some("delete"),
        };
        Ok(serde_json::to_string(&claim).expect("a claim serializes"))
    }
}
