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

mod components;
mod facets;
mod load;
mod operations;
mod schemas;

use components::*;
use facets::*;
use load::*;
use operations::*;
use schemas::*;

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
