//! JSON Schemas for MCP tools, made portable: hosts map tool schemas onto
//! narrower dialects (one `type` per schema, no bare `true`), and the MCP
//! Inspector's `--strict` check refuses what they cannot take. Used as
//! schemars transforms on the types the tools take and answer.

use schemars::{Schema, SchemaGenerator, json_schema, transform::transform_subschemas};
use serde_json::Value;

/// Arguments: an optional field may be absent; it is not advertised as
/// `null` (`"type": ["integer", "null"]` becomes `"type": "integer"`).
pub fn input(schema: &mut Schema) {
    drop_rust_format(schema);
    if let Some(object) = schema.as_object_mut()
        && let Some(single) = without_null(object.get("type"))
    {
        object.insert("type".into(), single);
    }
    transform_subschemas(&mut input, schema);
}

/// Answers: a nullable field is `anyOf` a typed branch and `null`.
pub fn output(schema: &mut Schema) {
    drop_rust_format(schema);
    if let Some(object) = schema.as_object_mut()
        && let Some(single) = without_null(object.get("type"))
    {
        let description = object.remove("description");
        let mut typed = std::mem::take(object);
        typed.insert("type".into(), single);
        object.insert(
            "anyOf".into(),
            Value::Array(vec![
                Value::Object(typed),
                serde_json::json!({"type": "null"}),
            ]),
        );
        if let Some(description) = description {
            object.insert("description".into(), description);
        }
    }
    transform_subschemas(&mut output, schema);
}

/// schemars names Rust's integer widths as formats (`uint32`, `int64`),
/// which JSON Schema does not define and validators warn about.
fn drop_rust_format(schema: &mut Schema) {
    if let Some(object) = schema.as_object_mut()
        && object
            .get("format")
            .and_then(Value::as_str)
            .is_some_and(|f| f.starts_with("int") || f.starts_with("uint"))
    {
        object.remove("format");
    }
}

/// `["T", "null"]` → `"T"`.
fn without_null(types: Option<&Value>) -> Option<Value> {
    match types?.as_array()?.as_slice() {
        [a, b] if b == "null" => Some(a.clone()),
        [a, b] if a == "null" => Some(b.clone()),
        _ => None,
    }
}

/// Any JSON value, each kind spelled out (not a bare `true`).
pub fn any_value(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Any JSON value.",
        "anyOf": [
            {"type": "object", "additionalProperties": true},
            {"type": "array"},
            {"type": "string"},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "null"},
        ],
    })
}

/// A JSON object of any members.
pub fn any_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "additionalProperties": true})
}
