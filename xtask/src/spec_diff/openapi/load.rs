//! Reading a document: YAML into JSON values.

use super::*;

/// Parses YAML (or JSON) into a JSON value; mapping keys become strings (`200:` → `"200"`) and
/// `<<` merge keys are applied.
pub(super) fn parse(bytes: &[u8]) -> anyhow::Result<Value> {
    let mut value: serde_yaml::Value = serde_yaml::from_slice(bytes).context("invalid YAML")?;
    value.apply_merge().context("invalid YAML merge key")?;
    let value = yaml_to_json(value);
    if !value.is_object() {
        bail!("not an OpenAPI document: the top level is not a mapping");
    }
    Ok(value)
}

pub(super) fn yaml_to_json(value: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into()
            } else if let Some(u) = n.as_u64() {
                u.into()
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or_else(|| Value::String(n.to_string()), Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (yaml_key(k), yaml_to_json(v)))
                .collect(),
        ),
        Y::Tagged(tagged) => yaml_to_json(tagged.value),
    }
}

pub(super) fn yaml_key(key: serde_yaml::Value) -> String {
    use serde_yaml::Value as Y;
    match key {
        Y::String(s) => s,
        Y::Number(n) => n.to_string(),
        Y::Bool(b) => b.to_string(),
        Y::Null => "null".to_owned(),
        other => serde_json::to_string(&yaml_to_json(other)).unwrap_or_default(),
    }
}
