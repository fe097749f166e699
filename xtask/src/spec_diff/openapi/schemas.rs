//! Schemas: their type summaries, fields and facets.

use super::*;

/// `#/components/schemas/Foo` → `Foo`.
pub(super) fn ref_name(reference: &str) -> String {
    reference
        .rsplit('/')
        .next()
        .unwrap_or(reference)
        .replace("~1", "/")
        .replace("~0", "~")
}

/// A one-line type: `Foo` for a reference, `array<string>`, `map<integer(int64)>`,
/// `allOf[Foo]`, `string(date-time)`, `object`.
pub(super) fn type_summary(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return ref_name(reference);
    }
    let mut parts = Vec::new();
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(members) = schema.get(key).and_then(Value::as_array) {
            let members: Vec<String> = members.iter().map(type_summary).collect();
            parts.push(format!("{key}[{}]", members.join(", ")));
        }
    }
    let has_properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    let ty = match schema.get("type") {
        Some(Value::String(t)) => Some(t.clone()),
        Some(Value::Array(ts)) => Some(ts.iter().map(text).collect::<Vec<_>>().join("|")),
        _ if has_properties || schema.get("additionalProperties").is_some() => {
            Some("object".to_owned())
        }
        _ => None,
    };
    if let Some(ty) = ty {
        let summary = match ty.as_str() {
            "array" => format!(
                "array<{}>",
                schema.get("items").map_or("any".to_owned(), type_summary)
            ),
            "object" if !has_properties => match schema.get("additionalProperties") {
                Some(Value::Bool(true)) => "map<any>".to_owned(),
                Some(ap @ Value::Object(_)) => format!("map<{}>", type_summary(ap)),
                _ => "object".to_owned(),
            },
            _ => match schema.get("format") {
                Some(format) => format!("{ty}({})", text(format)),
                None => ty,
            },
        };
        // `allOf` next to `type` is rare; show both rather than hide either.
        parts.push(summary);
    }
    if parts.is_empty() {
        return if schema.get("enum").is_some() {
            "enum".to_owned()
        } else {
            "any".to_owned()
        };
    }
    parts.join(" & ")
}

/// The schema's own facets (not its fields').
pub(super) fn schema_facets(schema: &Value) -> Facets {
    let mut facets = Facets::new();
    facets.insert("type".to_owned(), Facet::Text(type_summary(schema)));
    let Some(map) = schema.as_object() else {
        return facets;
    };
    if let Some(values) = map.get("enum").and_then(Value::as_array) {
        facets.insert(
            "enum".to_owned(),
            Facet::Set(values.iter().map(text).collect()),
        );
    }
    if let Some(nullable) = map.get("nullable") {
        facets.insert("nullable".to_owned(), Facet::Text(text(nullable)));
    }
    // With properties the type says `object`; the map part is a facet of its own.
    if map.get("properties").is_some()
        && let Some(ap) = map.get("additionalProperties")
    {
        let shown = match ap {
            Value::Object(_) => type_summary(ap),
            other => text(other),
        };
        facets.insert("additionalProperties".to_owned(), Facet::Text(shown));
    }
    for (key, value) in map {
        if STRUCTURAL.contains(&key.as_str()) {
            continue;
        }
        let facet = if is_docs_key(key) {
            Facet::Docs(text(value))
        } else {
            Facet::Text(text(value))
        };
        facets.insert(key.clone(), facet);
    }
    facets
}

/// A property of an object schema, at any depth.
#[derive(Debug, Clone, Copy)]
pub(super) struct Field<'a> {
    schema: &'a Value,
    required: bool,
}

/// The fields of a schema, keyed by dotted path (`a.b`, `list[].x`, `map{}.y`); fields of inline
/// `allOf` members are merged, inline `oneOf`/`anyOf` members are prefixed `(oneOf#i).`.
pub(super) fn fields(schema: &Value) -> BTreeMap<String, Field<'_>> {
    let mut out = BTreeMap::new();
    collect_fields(schema, "", &mut out);
    nested_fields(schema, "", &mut out);
    out
}

pub(super) fn is_inline(schema: &Value) -> bool {
    schema.is_object() && schema.get("$ref").is_none()
}

pub(super) fn collect_fields<'a>(
    schema: &'a Value,
    prefix: &str,
    out: &mut BTreeMap<String, Field<'a>>,
) {
    if !is_inline(schema) {
        return;
    }
    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (name, property) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let path = format!("{prefix}{name}");
        out.insert(
            path.clone(),
            Field {
                schema: property,
                required: required.contains(name.as_str()),
            },
        );
        collect_fields(property, &format!("{path}."), out);
        nested_fields(property, &path, out);
    }
    for member in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        collect_fields(member, prefix, out);
    }
    for key in ["oneOf", "anyOf"] {
        for (i, member) in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            collect_fields(member, &format!("{prefix}({key}#{i})."), out);
        }
    }
}

/// Fields of inline array items (`path[].x`) and map values (`path{}.x`).
pub(super) fn nested_fields<'a>(
    schema: &'a Value,
    path: &str,
    out: &mut BTreeMap<String, Field<'a>>,
) {
    if !is_inline(schema) {
        return;
    }
    if let Some(items) = schema.get("items") {
        collect_fields(items, &format!("{path}[]."), out);
        nested_fields(items, &format!("{path}[]"), out);
    }
    if let Some(ap) = schema.get("additionalProperties") {
        collect_fields(ap, &format!("{path}{{}}."), out);
        nested_fields(ap, &format!("{path}{{}}"), out);
    }
}

pub(super) fn field_facets(field: &Field<'_>) -> Facets {
    let mut facets = schema_facets(field.schema);
    facets.insert(
        "required".to_owned(),
        Facet::Text(required_word(field.required)),
    );
    facets
}

pub(super) fn required_word(required: bool) -> String {
    if required { "required" } else { "optional" }.to_owned()
}

/// `string, optional` / `Foo, required, nullable` / `string, optional, enum [a, b]`.
pub(super) fn field_brief(field: &Field<'_>) -> String {
    let mut brief = format!(
        "{}, {}",
        type_summary(field.schema),
        required_word(field.required)
    );
    append_schema_notes(field.schema, &mut brief);
    brief
}

pub(super) fn append_schema_notes(schema: &Value, brief: &mut String) {
    if schema.get("nullable") == Some(&Value::Bool(true)) {
        brief.push_str(", nullable");
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values.iter().map(text).collect();
        brief.push_str(&format!(", enum [{}]", truncate(&values.join(", "))));
    }
}

/// A one-line description of a whole schema: `object (6 fields)`, `string, enum [a, b]`.
pub(super) fn schema_brief(schema: &Value) -> String {
    let mut brief = type_summary(schema);
    let n = fields(schema).len();
    if n > 0 {
        brief.push_str(&format!(" ({n} field{})", if n == 1 { "" } else { "s" }));
    }
    append_schema_notes(schema, &mut brief);
    brief
}

/// The changes between two versions of a schema: its own facets, then field by field.
pub(super) fn schema_changes(old: &Value, new: &Value) -> Vec<Entry> {
    let mut entries: Vec<Entry> = diff_facets(&schema_facets(old), &schema_facets(new))
        .into_iter()
        .map(Entry::changed)
        .collect();
    let (old_fields, new_fields) = (fields(old), fields(new));
    let names: BTreeSet<&String> = old_fields.keys().chain(new_fields.keys()).collect();
    for name in names {
        match (old_fields.get(name), new_fields.get(name)) {
            (None, Some(f)) => {
                entries.push(Entry::added(format!("field {name}: {}", field_brief(f))))
            }
            (Some(f), None) => {
                entries.push(Entry::removed(format!("field {name}: {}", field_brief(f))))
            }
            (Some(a), Some(b)) => {
                let changes = diff_facets(&field_facets(a), &field_facets(b));
                if !changes.is_empty() {
                    entries.push(Entry::changed(format!(
                        "field {name}: {}",
                        changes.join("; ")
                    )));
                }
            }
            (None, None) => {}
        }
    }
    entries
}

/// Facets of a schema used inline (parameter, body, response): its own facets plus one text
/// facet per field, keyed `field <path>`, all prefixed by `prefix`.
pub(super) fn inline_schema_facets(schema: &Value, prefix: &str, facets: &mut Facets) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else if k == "type" {
            prefix.to_owned()
        } else {
            format!("{prefix} {k}")
        }
    };
    for (k, facet) in schema_facets(schema) {
        let k = key(&k);
        facets.entry(k).or_insert(facet);
    }
    for (name, field) in fields(schema) {
        facets.insert(
            key(&format!("field {name}")),
            Facet::Text(field_brief(&field)),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Document, tags
// ---------------------------------------------------------------------------------------------
