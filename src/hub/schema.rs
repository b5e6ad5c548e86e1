//! Strict event types: each channel's JSON Schemas, compiled once and reused.
//!
//! Compiling a schema costs far more than checking an event against it, so
//! validators are cached per channel and rebuilt only when the channel's
//! config changes. Remote `$ref`s are never fetched (no resolver features).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use jsonschema::Validator;
use serde_json::Value;

use crate::model::{ChannelConfig, Invalid};

/// Compiled validators for one channel config.
pub struct TypeRules {
    config: ChannelConfig,
    validators: BTreeMap<String, Validator>,
}

/// The schema a type's entry stands for. Zooid's CLI writes an entry as
/// `{"schema": {...}, "description": "..."}`: a wrapper (`schema` is no
/// JSON Schema keyword), whose inner schema is enforced. Anything else is a
/// JSON Schema itself. The stored config stays as written.
fn zooid_inner(entry: &Value) -> &Value {
    match entry.get("schema") {
        Some(inner @ Value::Object(_)) => inner,
        _ => entry,
    }
}

impl TypeRules {
    /// Compiles every schema of `config`; an unusable config is refused.
    pub fn compile(config: &ChannelConfig) -> Result<TypeRules, Invalid> {
        if config.strict_types && config.types.is_empty() {
            return Err(Invalid(
                "config.strict_types needs config.types: the event types and their JSON Schemas"
                    .into(),
            ));
        }
        let mut validators = BTreeMap::new();
        for (name, schema) in &config.types {
            let validator = jsonschema::validator_for(zooid_inner(schema)).map_err(|e| {
                Invalid(format!(
                    "config.types.{name} is not a valid JSON Schema: {e}"
                ))
            })?;
            validators.insert(name.clone(), validator);
        }
        Ok(TypeRules {
            config: config.clone(),
            validators,
        })
    }

    /// Checks one event against the channel's rules.
    pub fn check(&self, event_type: Option<&str>, data: &Value) -> Result<(), Invalid> {
        if !self.config.strict_types {
            return Ok(());
        }
        let known = || {
            self.validators
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(event_type) = event_type else {
            return Err(Invalid(format!(
                "this channel has strict types: an event needs a type, one of: {}",
                known()
            )));
        };
        let Some(validator) = self.validators.get(event_type) else {
            return Err(Invalid(format!(
                "event type {event_type:?} is not allowed on this channel; allowed: {}",
                known()
            )));
        };
        let errors: Vec<String> = validator
            .iter_errors(data)
            .map(|e| format!("{}: {e}", display_path(&e.instance_path().to_string())))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Invalid(format!(
                "data does not match the schema of type {event_type:?}: {}",
                errors.join("; ")
            )))
        }
    }
}

fn display_path(pointer: &str) -> String {
    if pointer.is_empty() {
        "/data".into()
    } else {
        format!("/data{pointer}")
    }
}

/// Compiled rules per channel, rebuilt when the channel's config changes.
#[derive(Default)]
pub struct TypeRulesCache {
    by_channel: Mutex<HashMap<String, Arc<TypeRules>>>,
}

impl TypeRulesCache {
    pub fn rules_for(
        &self,
        channel_id: &str,
        config: &ChannelConfig,
    ) -> Result<Arc<TypeRules>, Invalid> {
        let mut cache = self.by_channel.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(rules) = cache.get(channel_id)
            && rules.config == *config
        {
            return Ok(rules.clone());
        }
        let rules = Arc::new(TypeRules::compile(config)?);
        cache.insert(channel_id.to_owned(), rules.clone());
        Ok(rules)
    }

    pub fn forget(&self, channel_id: &str) {
        let mut cache = self.by_channel.lock().unwrap_or_else(|e| e.into_inner());
        cache.remove(channel_id);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn strict() -> ChannelConfig {
        ChannelConfig {
            storage: None,
            strict_types: true,
            types: BTreeMap::from([(
                "price.update".to_string(),
                json!({"type": "object", "required": ["price"], "properties": {"price": {"type": "number"}}}),
            )]),
        }
    }

    #[test]
    fn strict_types_check_type_and_schema() {
        let rules = TypeRules::compile(&strict()).unwrap();
        assert!(
            rules
                .check(Some("price.update"), &json!({"price": 1.5}))
                .is_ok()
        );
        let err = rules
            .check(Some("price.update"), &json!({"price": "high"}))
            .unwrap_err();
        assert!(err.0.contains("/data/price"), "{err}");
        assert!(rules.check(Some("other"), &json!({})).is_err());
        assert!(rules.check(None, &json!({})).is_err());
    }

    /// Zooid's CLI writes `{"schema": ..., "description": ...}` per type:
    /// its inner schema is enforced, not taken as an empty (allow-all) one.
    #[test]
    fn zooid_wrapped_schemas_are_enforced() {
        let config = ChannelConfig {
            storage: None,
            strict_types: true,
            types: BTreeMap::from([(
                "price".to_string(),
                json!({"schema": {"type": "object", "required": ["usd"],
                                  "properties": {"usd": {"type": "number"}}},
                       "description": "a price"}),
            )]),
        };
        let rules = TypeRules::compile(&config).unwrap();
        assert!(rules.check(Some("price"), &json!({"usd": 3})).is_ok());
        assert!(
            rules
                .check(Some("price"), &json!({"usd": "three"}))
                .is_err()
        );
        assert!(rules.check(Some("price"), &json!({})).is_err());
    }

    #[test]
    fn configs_that_cannot_work_are_refused() {
        let no_types = ChannelConfig {
            storage: None,
            strict_types: true,
            types: BTreeMap::new(),
        };
        assert!(TypeRules::compile(&no_types).is_err());
        let bad_schema = ChannelConfig {
            storage: None,
            strict_types: false,
            types: BTreeMap::from([("t".to_string(), json!({"type": 12}))]),
        };
        assert!(TypeRules::compile(&bad_schema).is_err());
        assert!(TypeRules::compile(&ChannelConfig::default()).is_ok());
    }
}
