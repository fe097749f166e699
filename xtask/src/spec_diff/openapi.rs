//! Structural diff of two OpenAPI 3.0 documents.
//!
//! The documents are read as plain YAML values (not `openapiv3` types) so that any document
//! upstream writes can be compared, including extensions and constructs a typed model rejects.
//! `$ref`s to parameters, request bodies and responses are followed, so an operation is compared
//! by what it means, not by how it is spelled; schema `$ref`s are shown by name.
//!
//! Each compared thing is reduced to *facets* (name → text, set or docs), and the report lists
//! the facets that differ.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use super::{Entry, Group, push_group};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Keywords of a schema that shape its type; [`type_summary`] and the field walk cover them.
const STRUCTURAL: [&str; 12] = [
    "$ref",
    "type",
    "format",
    "items",
    "properties",
    "required",
    "allOf",
    "oneOf",
    "anyOf",
    "additionalProperties",
    "enum",
    "nullable",
];

/// Keywords that only document.
const DOCS: [&str; 6] = [
    "summary",
    "description",
    "title",
    "example",
    "examples",
    "externalDocs",
];

/// Diffs two versions of an OpenAPI document; a missing side counts as an empty document.
pub(super) fn diff(old: Option<&[u8]>, new: Option<&[u8]>) -> anyhow::Result<Vec<Group>> {
    let parse_side = |bytes: Option<&[u8]>| match bytes {
        Some(bytes) => parse(bytes),
        None => Ok(Value::Object(Map::new())),
    };
    let old = parse_side(old)?;
    let new = parse_side(new)?;
    Ok(diff_docs(&Doc(&old), &Doc(&new)))
}

/// Parses YAML (or JSON) into a JSON value; mapping keys become strings (`200:` → `"200"`) and
/// `<<` merge keys are applied.
fn parse(bytes: &[u8]) -> anyhow::Result<Value> {
    let mut value: serde_yaml::Value = serde_yaml::from_slice(bytes).context("invalid YAML")?;
    value.apply_merge().context("invalid YAML merge key")?;
    let value = yaml_to_json(value);
    if !value.is_object() {
        bail!("not an OpenAPI document: the top level is not a mapping");
    }
    Ok(value)
}

fn yaml_to_json(value: serde_yaml::Value) -> Value {
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

fn yaml_key(key: serde_yaml::Value) -> String {
    use serde_yaml::Value as Y;
    match key {
        Y::String(s) => s,
        Y::Number(n) => n.to_string(),
        Y::Bool(b) => b.to_string(),
        Y::Null => "null".to_owned(),
        other => serde_json::to_string(&yaml_to_json(other)).unwrap_or_default(),
    }
}

/// A parsed document.
#[derive(Debug, Clone, Copy)]
struct Doc<'a>(&'a Value);

impl<'a> Doc<'a> {
    fn get(self, path: &[&str]) -> Option<&'a Value> {
        path.iter().try_fold(self.0, |v, key| v.get(*key))
    }

    fn object(self, path: &[&str]) -> Option<&'a Map<String, Value>> {
        self.get(path).and_then(Value::as_object)
    }

    /// Follows local `$ref`s (`#/components/...`) until a non-reference.
    fn resolve(self, mut value: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(target) = value
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix('#'))
                .and_then(|pointer| self.0.pointer(pointer))
            else {
                break;
            };
            value = target;
        }
        value
    }
}

fn diff_docs(old: &Doc<'_>, new: &Doc<'_>) -> Vec<Group> {
    let mut groups = Vec::new();

    let changes = diff_facets(&document_facets(*old), &document_facets(*new));
    push_group(
        &mut groups,
        "Document",
        changes.into_iter().map(Entry::changed).collect(),
    );

    push_group(&mut groups, "Tags", diff_tags(*old, *new));
    push_group(&mut groups, "Operations", diff_operations(*old, *new));

    let kinds: BTreeSet<&String> = [old, new]
        .iter()
        .filter_map(|d| d.object(&["components"]))
        .flat_map(Map::keys)
        .collect();
    // Schemas first: they are what generated types come from.
    let mut kinds: Vec<&String> = kinds.into_iter().collect();
    kinds.sort_by_key(|k| (k.as_str() != "schemas", k.as_str()));
    for kind in kinds {
        let entries = diff_components(*old, *new, kind);
        let title = match kind.as_str() {
            "schemas" => "Schemas".to_owned(),
            "parameters" => "Shared parameters".to_owned(),
            "responses" => "Shared responses".to_owned(),
            "requestBodies" => "Shared request bodies".to_owned(),
            "headers" => "Shared headers".to_owned(),
            "securitySchemes" => "Security schemes".to_owned(),
            other => format!("components.{other}"),
        };
        push_group(&mut groups, title, entries);
    }
    groups
}

// ---------------------------------------------------------------------------------------------
// Facets
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Facet {
    /// Compared and shown verbatim.
    Text(String),
    /// Compared as a set; changes are shown as `+x, -y`.
    Set(BTreeSet<String>),
    /// Documentation only: changes are flagged, not shown.
    Docs(String),
}

type Facets = BTreeMap<String, Facet>;

/// Describes every facet that differs, documentation changes last.
fn diff_facets(old: &Facets, new: &Facets) -> Vec<String> {
    let empty = BTreeSet::new();
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut changes = Vec::new();
    let mut docs = Vec::new();
    for key in keys {
        let (a, b) = (old.get(key), new.get(key));
        if a == b {
            continue;
        }
        match (a, b) {
            (Some(Facet::Docs(_)) | None, Some(Facet::Docs(_)) | None) => docs.push(match a {
                None => format!("{key} added (docs)"),
                Some(_) if b.is_none() => format!("{key} removed (docs)"),
                Some(_) => format!("{key} changed (docs)"),
            }),
            (Some(Facet::Set(_)) | None, Some(Facet::Set(_)) | None) => {
                let set = |f: Option<&Facet>| match f {
                    Some(Facet::Set(s)) => s.clone(),
                    _ => empty.clone(),
                };
                let (a, b) = (&set(a), &set(b));
                let added = b.difference(a).map(|x| format!("+{x}"));
                let removed = a.difference(b).map(|x| format!("-{x}"));
                changes.push(format!(
                    "{key}: {}",
                    added.chain(removed).collect::<Vec<_>>().join(", ")
                ));
            }
            _ => changes.push(format!("{key}: {} → {}", show(a), show(b))),
        }
    }
    changes.extend(docs);
    changes
}

fn show(facet: Option<&Facet>) -> String {
    match facet {
        None => "(none)".to_owned(),
        Some(Facet::Text(t) | Facet::Docs(t)) => truncate(t),
        Some(Facet::Set(s)) => truncate(&format!(
            "[{}]",
            s.iter().cloned().collect::<Vec<_>>().join(", ")
        )),
    }
}

fn truncate(s: &str) -> String {
    const MAX: usize = 100;
    let s = s.trim();
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

/// A scalar as text (strings unquoted), anything else as compact JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_docs_key(key: &str) -> bool {
    DOCS.contains(&key)
}

/// Adds the `x-…` extensions of `value` as text facets.
fn extension_facets(value: &Value, facets: &mut Facets) {
    for (key, v) in value.as_object().into_iter().flatten() {
        if key.starts_with("x-") {
            facets.insert(key.clone(), Facet::Text(text(v)));
        }
    }
}

/// Adds the given keys of `value` that are present as facets (docs keys as [`Facet::Docs`]).
fn keyword_facets(value: &Value, keys: &[&str], facets: &mut Facets) {
    for key in keys {
        if let Some(v) = value.get(*key) {
            let facet = if is_docs_key(key) {
                Facet::Docs(text(v))
            } else {
                Facet::Text(text(v))
            };
            facets.insert((*key).to_owned(), facet);
        }
    }
}

/// Every leaf of a value, keyed by its dotted path (for components with no dedicated model).
fn leaf_facets(value: &Value, prefix: &str, facets: &mut Facets) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaf_facets(v, &path, facets);
            }
        }
        leaf => {
            let last = prefix.rsplit('.').next().unwrap_or(prefix);
            let facet = if is_docs_key(last) {
                Facet::Docs(text(leaf))
            } else {
                Facet::Text(text(leaf))
            };
            facets.insert(prefix.to_owned(), facet);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

/// `#/components/schemas/Foo` → `Foo`.
fn ref_name(reference: &str) -> String {
    reference
        .rsplit('/')
        .next()
        .unwrap_or(reference)
        .replace("~1", "/")
        .replace("~0", "~")
}

/// A one-line type: `Foo` for a reference, `array<string>`, `map<integer(int64)>`,
/// `allOf[Foo]`, `string(date-time)`, `object`.
fn type_summary(schema: &Value) -> String {
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
fn schema_facets(schema: &Value) -> Facets {
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
struct Field<'a> {
    schema: &'a Value,
    required: bool,
}

/// The fields of a schema, keyed by dotted path (`a.b`, `list[].x`, `map{}.y`); fields of inline
/// `allOf` members are merged, inline `oneOf`/`anyOf` members are prefixed `(oneOf#i).`.
fn fields(schema: &Value) -> BTreeMap<String, Field<'_>> {
    let mut out = BTreeMap::new();
    collect_fields(schema, "", &mut out);
    nested_fields(schema, "", &mut out);
    out
}

fn is_inline(schema: &Value) -> bool {
    schema.is_object() && schema.get("$ref").is_none()
}

fn collect_fields<'a>(schema: &'a Value, prefix: &str, out: &mut BTreeMap<String, Field<'a>>) {
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
fn nested_fields<'a>(schema: &'a Value, path: &str, out: &mut BTreeMap<String, Field<'a>>) {
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

fn field_facets(field: &Field<'_>) -> Facets {
    let mut facets = schema_facets(field.schema);
    facets.insert(
        "required".to_owned(),
        Facet::Text(required_word(field.required)),
    );
    facets
}

fn required_word(required: bool) -> String {
    if required { "required" } else { "optional" }.to_owned()
}

/// `string, optional` / `Foo, required, nullable` / `string, optional, enum [a, b]`.
fn field_brief(field: &Field<'_>) -> String {
    let mut brief = format!(
        "{}, {}",
        type_summary(field.schema),
        required_word(field.required)
    );
    append_schema_notes(field.schema, &mut brief);
    brief
}

fn append_schema_notes(schema: &Value, brief: &mut String) {
    if schema.get("nullable") == Some(&Value::Bool(true)) {
        brief.push_str(", nullable");
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values.iter().map(text).collect();
        brief.push_str(&format!(", enum [{}]", truncate(&values.join(", "))));
    }
}

/// A one-line description of a whole schema: `object (6 fields)`, `string, enum [a, b]`.
fn schema_brief(schema: &Value) -> String {
    let mut brief = type_summary(schema);
    let n = fields(schema).len();
    if n > 0 {
        brief.push_str(&format!(" ({n} field{})", if n == 1 { "" } else { "s" }));
    }
    append_schema_notes(schema, &mut brief);
    brief
}

/// The changes between two versions of a schema: its own facets, then field by field.
fn schema_changes(old: &Value, new: &Value) -> Vec<Entry> {
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
fn inline_schema_facets(schema: &Value, prefix: &str, facets: &mut Facets) {
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

fn document_facets(doc: Doc<'_>) -> Facets {
    let mut facets = Facets::new();
    if let Some(v) = doc.get(&["openapi"]) {
        facets.insert("openapi".to_owned(), Facet::Text(text(v)));
    }
    for key in ["version", "title"] {
        if let Some(v) = doc.get(&["info", key]) {
            facets.insert(format!("info.{key}"), Facet::Text(text(v)));
        }
    }
    if let Some(v) = doc.get(&["info", "description"]) {
        facets.insert("info.description".to_owned(), Facet::Docs(text(v)));
    }
    if let Some(servers) = doc.get(&["servers"]).and_then(Value::as_array) {
        let urls = servers
            .iter()
            .map(|s| s.get("url").map_or_else(|| text(s), text));
        facets.insert("servers".to_owned(), Facet::Set(urls.collect()));
    }
    if let Some(security) = doc.get(&["security"]) {
        facets.insert("security".to_owned(), Facet::Set(security_set(security)));
    }
    extension_facets(doc.0, &mut facets);
    facets
}

/// Security requirement alternatives: `ApiKeyAuth`, `BearerAuth+TeamAuth`, `anonymous`.
fn security_set(security: &Value) -> BTreeSet<String> {
    security
        .as_array()
        .into_iter()
        .flatten()
        .map(|requirement| match requirement.as_object() {
            Some(schemes) if !schemes.is_empty() => schemes
                .iter()
                .map(|(name, scopes)| match scopes.as_array() {
                    Some(s) if !s.is_empty() => {
                        let s: Vec<String> = s.iter().map(text).collect();
                        format!("{name}({})", s.join(" "))
                    }
                    _ => name.clone(),
                })
                .collect::<Vec<_>>()
                .join("+"),
            _ => "anonymous".to_owned(),
        })
        .collect()
}

fn diff_tags(old: Doc<'_>, new: Doc<'_>) -> Vec<Entry> {
    let tags = |doc: Doc<'_>| -> BTreeMap<String, Facets> {
        doc.get(&["tags"])
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|tag| {
                let name = tag.get("name").map(text)?;
                let mut facets = Facets::new();
                leaf_facets(tag, "", &mut facets);
                facets.remove("name");
                Some((name, facets))
            })
            .collect()
    };
    diff_named(&tags(old), &tags(new), |name, _| name.to_owned())
}

/// Added, removed and changed entries between two maps of facets.
fn diff_named(
    old: &BTreeMap<String, Facets>,
    new: &BTreeMap<String, Facets>,
    label: impl Fn(&str, &Facets) -> String,
) -> Vec<Entry> {
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut entries = Vec::new();
    for name in names {
        match (old.get(name), new.get(name)) {
            (None, Some(f)) => entries.push(Entry::added(label(name, f))),
            (Some(f), None) => entries.push(Entry::removed(label(name, f))),
            (Some(a), Some(b)) => {
                let changes = diff_facets(a, b);
                if !changes.is_empty() {
                    entries.push(
                        Entry::changed(name.clone())
                            .with_children(changes.into_iter().map(Entry::changed).collect()),
                    );
                }
            }
            (None, None) => {}
        }
    }
    entries
}

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

/// An operation with the path item it belongs to (for path-level parameters).
#[derive(Debug, Clone, Copy)]
struct Operation<'a> {
    path_item: &'a Value,
    op: &'a Value,
}

/// Operations keyed by (path, method index), i.e. sorted by path then in `METHODS` order.
fn operations(doc: Doc<'_>) -> BTreeMap<(String, usize), Operation<'_>> {
    let mut out = BTreeMap::new();
    for (path, item) in doc.object(&["paths"]).into_iter().flatten() {
        let item = doc.resolve(item);
        for (i, method) in METHODS.iter().enumerate() {
            if let Some(op) = item.get(*method) {
                out.insert(
                    (path.clone(), i),
                    Operation {
                        path_item: item,
                        op,
                    },
                );
            }
        }
    }
    out
}

fn operation_label(path: &str, method: usize) -> String {
    format!("{} {path}", METHODS[method].to_uppercase())
}

fn diff_operations(old: Doc<'_>, new: Doc<'_>) -> Vec<Entry> {
    let (old_ops, new_ops) = (operations(old), operations(new));
    let keys: BTreeSet<&(String, usize)> = old_ops.keys().chain(new_ops.keys()).collect();
    let mut entries = Vec::new();
    for key @ (path, method) in keys {
        let label = operation_label(path, *method);
        match (old_ops.get(key), new_ops.get(key)) {
            (None, Some(op)) => entries.push(
                Entry::added(format!("{label}{}", operation_title(op)))
                    .with_children(operation_outline(new, op)),
            ),
            (Some(op), None) => {
                entries.push(Entry::removed(format!("{label}{}", operation_title(op))));
            }
            (Some(a), Some(b)) => {
                let changes = operation_changes((old, a), (new, b));
                if !changes.is_empty() {
                    entries.push(Entry::changed(label).with_children(changes));
                }
            }
            (None, None) => {}
        }
    }
    entries
}

/// ` [tag] — summary`.
fn operation_title(op: &Operation<'_>) -> String {
    let mut title = String::new();
    let tags: Vec<String> = op
        .op
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    if !tags.is_empty() {
        title.push_str(&format!(" [{}]", tags.join(", ")));
    }
    if let Some(summary) = op.op.get("summary") {
        title.push_str(&format!(" — {}", truncate(&text(summary))));
    }
    title
}

/// What an added operation looks like: parameters, body, responses, extensions.
fn operation_outline(doc: Doc<'_>, op: &Operation<'_>) -> Vec<Entry> {
    let mut lines = Vec::new();
    let params = parameters(doc, op);
    if !params.is_empty() {
        let list: Vec<String> = params
            .iter()
            .map(|((location, name), p)| {
                let required = if is_required_param(p) { "" } else { "?" };
                format!("{name}{required} ({location})")
            })
            .collect();
        lines.push(Entry::note(format!("parameters: {}", list.join(", "))));
    }
    if let Some(body) = request_body(doc, op) {
        lines.push(Entry::note(format!(
            "request body: {}",
            body_brief(doc, body)
        )));
    }
    let responses: Vec<(String, String)> = responses(doc, op)
        .into_iter()
        .map(|(code, r)| (code, response_brief(doc, r)))
        .collect();
    if !responses.is_empty() {
        lines.push(Entry::note(format!(
            "responses: {}",
            group_responses(&responses)
        )));
    }
    let mut extensions = Facets::new();
    extension_facets(op.op, &mut extensions);
    for (key, value) in extensions {
        lines.push(Entry::note(format!("{key}: {}", show(Some(&value)))));
    }
    lines
}

/// `200 → Foo; 400, 401 → Error`, grouping codes with the same body.
fn group_responses(responses: &[(String, String)]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (code, brief) in responses {
        match groups.iter_mut().find(|(b, _)| b == brief) {
            Some((_, codes)) => codes.push(code),
            None => groups.push((brief, vec![code])),
        }
    }
    groups
        .iter()
        .map(|(brief, codes)| format!("{} → {brief}", codes.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

fn operation_facets(doc: Doc<'_>, op: &Operation<'_>) -> Facets {
    let mut facets = Facets::new();
    keyword_facets(
        op.op,
        &[
            "summary",
            "description",
            "operationId",
            "deprecated",
            "externalDocs",
        ],
        &mut facets,
    );
    if let Some(tags) = op.op.get("tags").and_then(Value::as_array) {
        facets.insert(
            "tags".to_owned(),
            Facet::Set(tags.iter().map(text).collect()),
        );
    }
    // What applies: the operation's own requirement, else the document's.
    if let Some(security) = op.op.get("security").or_else(|| doc.get(&["security"])) {
        facets.insert("security".to_owned(), Facet::Set(security_set(security)));
    }
    for key in ["servers", "callbacks"] {
        if let Some(v) = op.op.get(key) {
            facets.insert(key.to_owned(), Facet::Text(text(v)));
        }
    }
    extension_facets(op.op, &mut facets);
    facets
}

fn operation_changes(old: (Doc<'_>, &Operation<'_>), new: (Doc<'_>, &Operation<'_>)) -> Vec<Entry> {
    let ((old_doc, a), (new_doc, b)) = (old, new);
    let mut entries: Vec<Entry> = Vec::new();

    // Parameters.
    let (old_params, new_params) = (parameters(old_doc, a), parameters(new_doc, b));
    let keys: BTreeSet<&(String, String)> = old_params.keys().chain(new_params.keys()).collect();
    for key @ (location, name) in keys {
        let label = format!("{location} parameter {name}");
        match (old_params.get(key), new_params.get(key)) {
            (None, Some(p)) => {
                entries.push(Entry::added(format!("{label}: {}", parameter_brief(p))))
            }
            (Some(p), None) => {
                entries.push(Entry::removed(format!("{label}: {}", parameter_brief(p))))
            }
            (Some(x), Some(y)) => {
                let changes = diff_facets(&parameter_facets(x), &parameter_facets(y));
                if !changes.is_empty() {
                    entries.push(Entry::changed(format!("{label}: {}", changes.join("; "))));
                }
            }
            (None, None) => {}
        }
    }

    // Request body.
    match (request_body(old_doc, a), request_body(new_doc, b)) {
        (None, Some(x)) => entries.push(Entry::added(format!(
            "request body: {}",
            body_brief(new_doc, x)
        ))),
        (Some(x), None) => entries.push(Entry::removed(format!(
            "request body: {}",
            body_brief(old_doc, x)
        ))),
        (Some(x), Some(y)) => {
            let changes = diff_facets(&body_facets(old_doc, x), &body_facets(new_doc, y));
            if !changes.is_empty() {
                entries.push(Entry::changed(format!(
                    "request body: {}",
                    changes.join("; ")
                )));
            }
        }
        (None, None) => {}
    }

    // Responses: additions and removals grouped by body, changes one by one.
    let (old_responses, new_responses) = (responses(old_doc, a), responses(new_doc, b));
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut changed = Vec::new();
    for (code, y) in &new_responses {
        match old_responses.get(code) {
            None => added.push((code.clone(), response_brief(new_doc, y))),
            Some(x) => {
                let changes =
                    diff_facets(&response_facets(old_doc, x), &response_facets(new_doc, y));
                if !changes.is_empty() {
                    changed.push(Entry::changed(format!(
                        "response {code}: {}",
                        changes.join("; ")
                    )));
                }
            }
        }
    }
    for (code, x) in &old_responses {
        if !new_responses.contains_key(code) {
            removed.push((code.clone(), response_brief(old_doc, x)));
        }
    }
    let plural = |list: &[(String, String)]| {
        if list.len() == 1 {
            "response"
        } else {
            "responses"
        }
    };
    if !added.is_empty() {
        entries.push(Entry::added(format!(
            "{} {}",
            plural(&added),
            group_responses(&added)
        )));
    }
    if !removed.is_empty() {
        entries.push(Entry::removed(format!(
            "{} {}",
            plural(&removed),
            group_responses(&removed)
        )));
    }
    entries.extend(changed);

    // The operation itself, documentation last.
    let facets = diff_facets(&operation_facets(old_doc, a), &operation_facets(new_doc, b));
    entries.extend(facets.into_iter().map(Entry::changed));
    entries
}

fn request_body<'a>(doc: Doc<'a>, op: &Operation<'a>) -> Option<&'a Value> {
    op.op.get("requestBody").map(|b| doc.resolve(b))
}

/// Path-level and operation-level parameters, resolved, keyed by (location, name).
fn parameters<'a>(doc: Doc<'a>, op: &Operation<'a>) -> BTreeMap<(String, String), &'a Value> {
    let mut out = BTreeMap::new();
    for list in [op.path_item.get("parameters"), op.op.get("parameters")] {
        for p in list.and_then(Value::as_array).into_iter().flatten() {
            let p = doc.resolve(p);
            let location = p.get("in").map_or_else(|| "?".to_owned(), text);
            let name = p.get("name").map_or_else(|| "?".to_owned(), text);
            out.insert((location, name), p);
        }
    }
    out
}

fn is_required_param(p: &Value) -> bool {
    p.get("required") == Some(&Value::Bool(true))
        || p.get("in").and_then(Value::as_str) == Some("path")
}

fn parameter_facets(p: &Value) -> Facets {
    let mut facets = Facets::new();
    facets.insert(
        "required".to_owned(),
        Facet::Text(required_word(is_required_param(p))),
    );
    keyword_facets(
        p,
        &[
            "style",
            "explode",
            "deprecated",
            "allowEmptyValue",
            "allowReserved",
            "description",
            "example",
            "examples",
        ],
        &mut facets,
    );
    extension_facets(p, &mut facets);
    if let Some(schema) = p.get("schema") {
        let mut schema_facets = Facets::new();
        inline_schema_facets(schema, "", &mut schema_facets);
        for (key, facet) in schema_facets {
            let key = if facets.contains_key(&key) {
                format!("schema {key}")
            } else {
                key
            };
            facets.insert(key, facet);
        }
    }
    content_facets(p, &mut facets);
    facets
}

/// `OrderDirection, optional` / `array<State>, optional, style form, explode false`.
fn parameter_brief(p: &Value) -> String {
    let mut brief = match p.get("schema") {
        Some(schema) => type_summary(schema),
        None => content_brief(p),
    };
    brief.push_str(&format!(", {}", required_word(is_required_param(p))));
    if let Some(schema) = p.get("schema") {
        append_schema_notes(schema, &mut brief);
    }
    for key in ["style", "explode"] {
        if let Some(v) = p.get(key) {
            brief.push_str(&format!(", {key} {}", text(v)));
        }
    }
    if p.get("deprecated") == Some(&Value::Bool(true)) {
        brief.push_str(", deprecated");
    }
    brief
}

/// One facet per media type of `content` (keyed by the media type), plus its inline fields.
fn content_facets(value: &Value, facets: &mut Facets) {
    for (media_type, media) in value
        .get("content")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        match media.get("schema") {
            Some(schema) => inline_schema_facets(schema, media_type, facets),
            None => {
                facets.insert(media_type.clone(), Facet::Text("(no schema)".to_owned()));
            }
        }
    }
}

/// `Foo` for JSON, `string (text/plain)` otherwise, `no body` without content.
fn content_brief(value: &Value) -> String {
    let parts: Vec<String> = value
        .get("content")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(media_type, media)| {
            let ty = media
                .get("schema")
                .map_or("(no schema)".to_owned(), type_summary);
            if media_type == "application/json" {
                ty
            } else {
                format!("{ty} ({media_type})")
            }
        })
        .collect();
    if parts.is_empty() {
        "no body".to_owned()
    } else {
        parts.join(" | ")
    }
}

fn body_facets(_doc: Doc<'_>, body: &Value) -> Facets {
    let mut facets = Facets::new();
    facets.insert(
        "required".to_owned(),
        Facet::Text(required_word(
            body.get("required") == Some(&Value::Bool(true)),
        )),
    );
    keyword_facets(body, &["description"], &mut facets);
    extension_facets(body, &mut facets);
    content_facets(body, &mut facets);
    facets
}

fn body_brief(_doc: Doc<'_>, body: &Value) -> String {
    format!(
        "{}, {}",
        content_brief(body),
        required_word(body.get("required") == Some(&Value::Bool(true)))
    )
}

/// Responses, resolved, keyed by status code (`200`, `4XX`, `default`).
fn responses<'a>(doc: Doc<'a>, op: &Operation<'a>) -> BTreeMap<String, &'a Value> {
    op.op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(code, r)| (code.clone(), doc.resolve(r)))
        .collect()
}

fn response_facets(doc: Doc<'_>, response: &Value) -> Facets {
    let mut facets = Facets::new();
    keyword_facets(response, &["description"], &mut facets);
    extension_facets(response, &mut facets);
    content_facets(response, &mut facets);
    if let Some(headers) = response.get("headers").and_then(Value::as_object) {
        let names = headers.iter().map(|(name, h)| {
            let h = doc.resolve(h);
            match h.get("schema") {
                Some(schema) => format!("{name}: {}", type_summary(schema)),
                None => name.clone(),
            }
        });
        facets.insert("headers".to_owned(), Facet::Set(names.collect()));
    }
    facets
}

fn response_brief(_doc: Doc<'_>, response: &Value) -> String {
    content_brief(response)
}

// ---------------------------------------------------------------------------------------------
// Components
// ---------------------------------------------------------------------------------------------

fn diff_components(old: Doc<'_>, new: Doc<'_>, kind: &str) -> Vec<Entry> {
    let empty = Map::new();
    let old_items = old.object(&["components", kind]).unwrap_or(&empty);
    let new_items = new.object(&["components", kind]).unwrap_or(&empty);
    let names: BTreeSet<&String> = old_items.keys().chain(new_items.keys()).collect();
    let mut entries = Vec::new();
    for name in names {
        match (old_items.get(name), new_items.get(name)) {
            (None, Some(item)) => {
                let brief = component_brief(new, kind, new.resolve(item));
                entries.push(Entry::added(format!("{name}: {brief}")));
            }
            (Some(item), None) => {
                let brief = component_brief(old, kind, old.resolve(item));
                entries.push(Entry::removed(format!("{name}: {brief}")));
            }
            (Some(a), Some(b)) => {
                let changes = if kind == "schemas" {
                    schema_changes(a, b)
                } else {
                    diff_facets(
                        &component_facets(old, kind, old.resolve(a)),
                        &component_facets(new, kind, new.resolve(b)),
                    )
                    .into_iter()
                    .map(Entry::changed)
                    .collect()
                };
                if !changes.is_empty() {
                    entries.push(Entry::changed(name.clone()).with_children(changes));
                }
            }
            (None, None) => {}
        }
    }
    entries
}

fn component_brief(doc: Doc<'_>, kind: &str, item: &Value) -> String {
    match kind {
        "schemas" => schema_brief(item),
        "parameters" => format!(
            "{} parameter {}: {}",
            item.get("in").map_or_else(|| "?".to_owned(), text),
            item.get("name").map_or_else(|| "?".to_owned(), text),
            parameter_brief(item)
        ),
        "responses" => response_brief(doc, item),
        "requestBodies" => body_brief(doc, item),
        "headers" => item
            .get("schema")
            .map_or_else(|| content_brief(item), type_summary),
        "securitySchemes" => [
            item.get("type"),
            item.get("scheme"),
            item.get("in"),
            item.get("name"),
        ]
        .into_iter()
        .flatten()
        .map(text)
        .collect::<Vec<_>>()
        .join(" "),
        _ => String::new(),
    }
}

fn component_facets(doc: Doc<'_>, kind: &str, item: &Value) -> Facets {
    match kind {
        "parameters" | "headers" => parameter_facets(item),
        "responses" => response_facets(doc, item),
        "requestBodies" => body_facets(doc, item),
        _ => {
            let mut facets = Facets::new();
            leaf_facets(item, "", &mut facets);
            facets
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(old: &str, new: &str) -> String {
        let groups = diff(Some(old.as_bytes()), Some(new.as_bytes())).unwrap();
        let mut out = String::new();
        super::super::render_groups(&mut out, &groups);
        out
    }

    const BASE: &str = r##"
openapi: 3.0.0
info: {title: T, version: 1.0.0}
security:
  - ApiKeyAuth: []
tags:
  - name: sandboxes
components:
  parameters:
    id: {name: id, in: path, required: true, schema: {type: string}}
  responses:
    "400": {description: bad, content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
  schemas:
    Error:
      type: object
      required: [code, message]
      properties:
        code: {type: integer, format: int32}
        message: {type: string}
    State:
      type: string
      enum: [running, paused]
    Node:
      type: object
      required: [id, cached]
      properties:
        id: {type: string}
        cached: {type: array, items: {type: string}}
        proxy:
          allOf:
            - $ref: "#/components/schemas/State"
          x-not-implemented: true
        inner:
          type: object
          properties:
            depth: {type: integer}
paths:
  /things:
    get:
      summary: List things
      parameters:
        - name: state
          in: query
          schema: {type: array, items: {$ref: "#/components/schemas/State"}}
          style: form
          explode: false
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Node"}}
        "400": {$ref: "#/components/responses/400"}
  /things/{id}:
    parameters:
      - $ref: "#/components/parameters/id"
    delete:
      responses:
        "204": {description: deleted}
"##;

    #[test]
    fn identical_documents_have_no_changes() {
        assert_eq!(render(BASE, BASE), "");
        // Formatting and key order do not matter, `$ref`s are followed.
        let reordered = BASE.replace(
            "info: {title: T, version: 1.0.0}",
            "info:\n  version: 1.0.0\n  title: T",
        );
        assert_eq!(render(BASE, &reordered), "");
    }

    #[test]
    fn operations_added_removed_changed() {
        let new = BASE
            .replace(
                "        \"204\": {description: deleted}\n",
                "        \"204\": {description: deleted}\n        \"400\": {$ref: \"#/components/responses/400\"}\n        \"404\": {$ref: \"#/components/responses/400\"}\n",
            )
            .replace(
                "          explode: false\n",
                "          explode: false\n        - name: limit\n          in: query\n          required: true\n          schema: {type: integer, format: int32}\n",
            )
            .replace("      summary: List things\n", "      summary: List all things\n      x-internal: true\n")
            + r##"
  /other:
    post:
      tags: [sandboxes]
      summary: Make one
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Node"}
      responses:
        "201": {description: made, content: {application/json: {schema: {$ref: "#/components/schemas/Node"}}}}
        "400": {$ref: "#/components/responses/400"}
"##;
        let expected = "\
Operations (1 added, 2 changed):
  + POST /other [sandboxes] — Make one
        request body: Node, required
        responses: 201 → Node; 400 → Error
  ~ GET /things
      + query parameter limit: integer(int32), required
      ~ x-internal: (none) → true
      ~ summary changed (docs)
  ~ DELETE /things/{id}
      + responses 400, 404 → Error
";
        assert_eq!(render(BASE, &new), expected);
        // And backwards.
        let back = render(&new, BASE);
        assert!(
            back.contains("  - POST /other [sandboxes] — Make one\n"),
            "{back}"
        );
        assert!(
            back.contains("      - responses 400, 404 → Error\n"),
            "{back}"
        );
        assert!(
            back.contains("      - query parameter limit: integer(int32), required\n"),
            "{back}"
        );
    }

    #[test]
    fn parameter_and_response_changes() {
        let new = BASE
            .replace("          explode: false\n", "          explode: true\n")
            .replace(
                "schema: {type: array, items: {$ref: \"#/components/schemas/Node\"}}",
                "schema: {type: array, items: {$ref: \"#/components/schemas/State\"}}",
            )
            .replace(
                "    id: {name: id, in: path, required: true, schema: {type: string}}",
                "    id: {name: id, in: path, required: true, schema: {type: integer}}",
            );
        let out = render(BASE, &new);
        let expected = "\
Operations (2 changed):
  ~ GET /things
      ~ query parameter state: explode: false → true
      ~ response 200: application/json: array<Node> → array<State>
  ~ DELETE /things/{id}
      ~ path parameter id: type: string → integer
Shared parameters (1 changed):
  ~ id
      ~ type: string → integer
";
        assert_eq!(out, expected);
    }

    #[test]
    fn schemas_and_fields() {
        let new = BASE
            .replace("enum: [running, paused]", "enum: [running, paused, killed]")
            .replace("      required: [id, cached]\n", "      required: [id]\n")
            .replace(
                "        cached: {type: array, items: {type: string}}\n",
                "        fresh: {type: string, format: date-time, nullable: true}\n",
            )
            .replace(
                "          allOf:\n            - $ref: \"#/components/schemas/State\"\n          x-not-implemented: true\n",
                "          $ref: \"#/components/schemas/State\"\n",
            )
            .replace("            depth: {type: integer}", "            depth: {type: integer, format: int64}")
            .replace(
                "        message: {type: string}\n",
                "        message: {type: string, description: What went wrong}\n",
            )
            .replace(
                "    State:\n",
                "    Secret:\n      type: object\n      properties:\n        a: {type: string}\n        b: {type: string}\n    Labels:\n      type: object\n      additionalProperties: {type: string}\n    State:\n",
            );
        let out = render(BASE, &new);
        let expected = "\
Schemas (2 added, 3 changed):
  ~ Error
      ~ field message: description added (docs)
  + Labels: map<string>
  ~ Node
      - field cached: array<string>, required
      + field fresh: string(date-time), optional, nullable
      ~ field inner.depth: type: integer → integer(int64)
      ~ field proxy: type: allOf[State] → State; x-not-implemented: true → (none)
  + Secret: object (2 fields)
  ~ State
      ~ enum: +killed
";
        assert_eq!(out, expected);
    }

    #[test]
    fn document_tags_and_other_components() {
        let new = BASE
            .replace("version: 1.0.0", "version: 1.1.0")
            .replace(
                "  - name: sandboxes\n",
                "  - name: sandboxes\n  - name: secrets\n",
            )
            .replace(
                "    \"400\": {description: bad,",
                "    \"429\": {description: slow down}\n    \"400\": {description: bad,",
            )
            .replace("  - ApiKeyAuth: []\n", "  - ApiKeyAuth: []\n  - {}\n");
        let out = render(BASE, &new);
        let expected = "\
Document (2 changed):
  ~ info.version: 1.0.0 → 1.1.0
  ~ security: +anonymous
Tags (1 added):
  + secrets
Operations (2 changed):
  ~ GET /things
      ~ security: +anonymous
  ~ DELETE /things/{id}
      ~ security: +anonymous
Shared responses (1 added):
  + 429: no body
";
        assert_eq!(out, expected);
    }

    #[test]
    fn missing_side_is_an_empty_document() {
        let groups = diff(None, Some(BASE.as_bytes())).unwrap();
        let titles: Vec<&str> = groups.iter().map(|g| g.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Document",
                "Tags",
                "Operations",
                "Schemas",
                "Shared parameters",
                "Shared responses"
            ]
        );
        assert!(
            groups
                .iter()
                .flat_map(|g| &g.entries)
                .all(|e| e.marker != super::super::Marker::Removed)
        );
    }

    #[test]
    fn numeric_status_keys_and_merge_keys() {
        let doc =
            parse(b"a: &x {k: 1}\nb:\n  <<: *x\n  j: 2\nresponses:\n  200: {description: ok}\n")
                .unwrap();
        assert_eq!(doc["b"]["k"], 1);
        assert_eq!(doc["responses"]["200"]["description"], "ok");
        assert!(parse(b"- not a mapping\n").is_err());
    }

    #[test]
    fn type_summaries() {
        let s = |yaml: &str| type_summary(&parse(yaml.as_bytes()).unwrap());
        assert_eq!(s("$ref: '#/components/schemas/Foo'"), "Foo");
        assert_eq!(
            s("{type: array, items: {type: integer, format: int64}}"),
            "array<integer(int64)>"
        );
        assert_eq!(
            s("{type: object, additionalProperties: {type: string}}"),
            "map<string>"
        );
        assert_eq!(s("{type: object, additionalProperties: true}"), "map<any>");
        assert_eq!(
            s("{type: object, properties: {a: {type: string}}}"),
            "object"
        );
        assert_eq!(
            s("{oneOf: [{$ref: '#/a/A'}, {$ref: '#/a/B'}]}"),
            "oneOf[A, B]"
        );
        assert_eq!(s("{description: anything}"), "any");
    }
}
