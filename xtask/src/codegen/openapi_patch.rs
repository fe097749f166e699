//! Mechanical fixes applied to the parsed upstream OpenAPI documents before
//! progenitor sees them. The spec files themselves are never edited.
//!
//! The documents are patched as generic YAML values (so every fix is a plain
//! tree edit), then deserialised into `openapiv3::OpenAPI`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};
use serde_yaml::{Mapping, Value};

use super::open_enums::{self, OpenEnum};

pub(super) const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Which operations of a document to keep.
#[derive(Clone, Debug)]
pub(crate) enum Keep {
    /// Operations carrying at least one of these tags.
    Tags(&'static [&'static str]),
    /// Operations on these exact paths.
    Paths(&'static [&'static str]),
    /// Everything.
    All,
}

/// The name of the synthetic schema created for an `explode: false` array
/// query parameter; the generator replaces it with a comma-joining type.
pub(crate) fn comma_list_schema(item_type: &str) -> String {
    format!("CommaSeparated{item_type}")
}

/// What patching did, for the generator settings that depend on it.
#[derive(Debug, Default)]
pub(crate) struct Patched {
    pub(crate) spec: Value,
    /// Synthetic comma-list schemas: schema name → item type name (a component
    /// schema name, or `String`).
    pub(crate) comma_lists: BTreeMap<String, String>,
    /// The string enums a response can carry, generated open (see [`super::open_enums`]).
    pub(crate) open_enums: Vec<OpenEnum>,
}

/// Apply every patch, in order.
pub(crate) fn patch(source: &str, keep: &Keep) -> anyhow::Result<Patched> {
    let mut spec: Value = serde_yaml::from_str(source).context("parsing OpenAPI YAML")?;
    api_key_location(&mut spec);
    super::v2_sandboxes::add(&mut spec)?;
    filter_operations(&mut spec, keep)?;
    synthesize_operation_ids(&mut spec)?;
    let comma_lists = comma_join_unexploded_arrays(&mut spec)?;
    drop_multipart_only_operations(&mut spec);
    single_request_media_type(&mut spec);
    single_response_media_type(&mut spec);
    bodyless_error_responses(&mut spec);
    prune_unreachable(&mut spec);
    let open_enums = open_enums::open_response_enums(&mut spec)?;
    Ok(Patched {
        spec,
        comma_lists,
        open_enums,
    })
}

/// An `apiKey` security scheme says where the key goes with `in`. envd.yaml before
/// e2b@2.36.0 wrote `scheme: header` instead (an HTTP-scheme field), which OpenAPI readers
/// reject; such a `scheme` is read as the `in` it stands for.
fn api_key_location(spec: &mut Value) {
    let Some(schemes) = spec
        .get_mut("components")
        .and_then(|c| c.get_mut("securitySchemes"))
        .and_then(Value::as_mapping_mut)
    else {
        return;
    };
    for (_, scheme) in schemes.iter_mut() {
        let Some(scheme) = scheme.as_mapping_mut() else {
            continue;
        };
        let is_api_key = scheme.get("type").and_then(Value::as_str) == Some("apiKey");
        let location = scheme
            .get("scheme")
            .and_then(Value::as_str)
            .filter(|l| matches!(*l, "header" | "query" | "cookie"))
            .map(str::to_owned);
        if is_api_key
            && !scheme.contains_key("in")
            && let Some(location) = location
        {
            scheme.remove("scheme");
            scheme.insert("in".into(), location.into());
        }
    }
}

fn map_mut<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Mapping> {
    v.get_mut(key).and_then(Value::as_mapping_mut)
}

fn operations_mut(spec: &mut Value) -> impl Iterator<Item = (String, String, &mut Value)> {
    map_mut(spec, "paths").into_iter().flat_map(|paths| {
        paths.iter_mut().flat_map(|(path, item)| {
            let path = path.as_str().unwrap_or_default().to_owned();
            item.as_mapping_mut().into_iter().flat_map(move |item| {
                let path = path.clone();
                item.iter_mut().filter_map(move |(method, op)| {
                    let method = method.as_str()?;
                    METHODS
                        .contains(&method)
                        .then(|| (method.to_owned(), path.clone(), op))
                })
            })
        })
    })
}

/// Drop operations the SDK does not expose, and path items left empty.
fn filter_operations(spec: &mut Value, keep: &Keep) -> anyhow::Result<()> {
    let Some(paths) = map_mut(spec, "paths") else {
        bail!("document has no paths");
    };
    for (path, item) in paths.iter_mut() {
        let path = path.as_str().unwrap_or_default().to_owned();
        let Some(item) = item.as_mapping_mut() else {
            continue;
        };
        item.retain(|method, op| {
            let Some(method) = method.as_str() else {
                return true;
            };
            if !METHODS.contains(&method) {
                return true;
            }
            if op.get("x-internal").and_then(Value::as_bool) == Some(true) {
                return false;
            }
            match keep {
                Keep::All => true,
                Keep::Paths(paths) => paths.contains(&path.as_str()),
                Keep::Tags(tags) => op
                    .get("tags")
                    .and_then(Value::as_sequence)
                    .is_some_and(|t| {
                        t.iter()
                            .any(|t| t.as_str().is_some_and(|t| tags.contains(&t)))
                    }),
            }
        });
    }
    paths.retain(|_, item| {
        item.as_mapping().is_some_and(|m| {
            m.keys()
                .any(|k| k.as_str().is_some_and(|k| METHODS.contains(&k)))
        })
    });
    Ok(())
}

/// `GET /sandboxes/{sandboxID}/logs` → `get_sandboxes_sandbox_id_logs`, the
/// naming the official Python SDK's generated client uses.
pub(crate) fn operation_id(method: &str, path: &str) -> String {
    let mut words = vec![method.to_ascii_lowercase()];
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let segment = segment.trim_start_matches('{').trim_end_matches('}');
        words.push(snake_case(segment));
    }
    words.join("_")
}

fn snake_case(s: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' || c == '.' || c == '_' {
            if !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if !out.is_empty() && !out.ends_with('_') && (prev_lower || (prev_upper && next_lower))
            {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn synthesize_operation_ids(spec: &mut Value) -> anyhow::Result<()> {
    let mut seen = BTreeSet::new();
    for (method, path, op) in operations_mut(spec) {
        let Some(op) = op.as_mapping_mut() else {
            continue;
        };
        let id = match op.get("operationId").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => operation_id(&method, &path),
        };
        if !seen.insert(id.clone()) {
            bail!("duplicate operationId `{id}` ({method} {path})");
        }
        op.insert("operationId".into(), id.into());
    }
    Ok(())
}

/// Query arrays with `style: form, explode: false` travel as one comma-joined
/// value (`state=running,paused`). progenitor repeats the key for arrays, so each
/// such parameter is pointed at a synthetic named schema that the generator
/// replaces with a type serialising as a joined string.
fn comma_join_unexploded_arrays(spec: &mut Value) -> anyhow::Result<BTreeMap<String, String>> {
    let mut lists = BTreeMap::new();
    for (_, _, op) in operations_mut(spec) {
        let Some(params) = op.get_mut("parameters").and_then(Value::as_sequence_mut) else {
            continue;
        };
        for param in params {
            if param.get("in").and_then(Value::as_str) != Some("query")
                || param.get("explode").and_then(Value::as_bool) != Some(false)
            {
                continue;
            }
            let Some(schema) = param.get("schema") else {
                continue;
            };
            if schema.get("type").and_then(Value::as_str) != Some("array") {
                continue;
            }
            let item_type = match schema.get("items") {
                Some(items) => match items.get("$ref").and_then(Value::as_str) {
                    Some(r) => r.rsplit('/').next().unwrap_or_default().to_owned(),
                    None if items.get("type").and_then(Value::as_str) == Some("string") => {
                        "String".to_owned()
                    }
                    None => bail!("unsupported item type in comma-joined query array"),
                },
                None => bail!("query array without items"),
            };
            let name = comma_list_schema(&item_type);
            let mut synthetic = schema.clone();
            if let Some(m) = synthetic.as_mapping_mut() {
                m.insert(
                    "description".into(),
                    "A list sent as one comma-joined query value.".into(),
                );
            }
            lists.insert(name.clone(), (item_type, synthetic));
            let mut reference = Mapping::new();
            reference.insert("$ref".into(), format!("#/components/schemas/{name}").into());
            param
                .as_mapping_mut()
                .expect("parameter is a mapping")
                .insert("schema".into(), Value::Mapping(reference));
        }
    }
    let schemas = spec
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(Value::as_mapping_mut);
    let mut out = BTreeMap::new();
    if let Some(schemas) = schemas {
        for (name, (item, synthetic)) in lists {
            schemas.insert(name.clone().into(), synthetic);
            out.insert(name, item);
        }
    }
    Ok(out)
}

/// progenitor cannot send `multipart/form-data`. An operation whose request body comes in
/// that media type only (envd's `POST /files` before e2b@2.36.0, which added a raw
/// `application/octet-stream` upload) is left out of the generated client.
fn drop_multipart_only_operations(spec: &mut Value) {
    let bodies = spec
        .get("components")
        .and_then(|c| c.get("requestBodies"))
        .cloned()
        .unwrap_or(Value::Null);
    let multipart_only = |op: &Value| -> bool {
        let Some(body) = op.get("requestBody") else {
            return false;
        };
        let body = match body.get("$ref").and_then(Value::as_str) {
            Some(r) => bodies
                .get(r.rsplit('/').next().unwrap_or_default())
                .unwrap_or(&Value::Null),
            None => body,
        };
        body.get("content")
            .and_then(Value::as_mapping)
            .is_some_and(|c| {
                !c.is_empty() && c.keys().all(|k| k.as_str() == Some("multipart/form-data"))
            })
    };
    let Some(paths) = map_mut(spec, "paths") else {
        return;
    };
    for (_, item) in paths.iter_mut() {
        if let Some(item) = item.as_mapping_mut() {
            item.retain(|method, op| {
                !(method.as_str().is_some_and(|m| METHODS.contains(&m)) && multipart_only(op))
            });
        }
    }
    paths.retain(|_, item| {
        item.as_mapping().is_some_and(|m| {
            m.keys()
                .any(|k| k.as_str().is_some_and(|k| METHODS.contains(&k)))
        })
    });
}

/// Prefer JSON when a body may come in several media types; progenitor takes one.
fn preferred_media_type(content: &Mapping) -> Option<Value> {
    const ORDER: [&str; 4] = [
        "application/json",
        "application/octet-stream",
        "multipart/form-data",
        "text/plain",
    ];
    ORDER
        .iter()
        .map(|m| Value::from(*m))
        .find(|m| content.contains_key(m))
        .or_else(|| content.keys().next().cloned())
}

fn keep_one_media_type(content: &mut Mapping) {
    if content.len() > 1
        && let Some(keep) = preferred_media_type(content)
    {
        content.retain(|k, _| *k == keep);
    }
}

fn single_request_media_type(spec: &mut Value) {
    for (_, _, op) in operations_mut(spec) {
        if let Some(content) = op
            .get_mut("requestBody")
            .and_then(|b| b.get_mut("content"))
            .and_then(Value::as_mapping_mut)
        {
            keep_one_media_type(content);
        }
    }
    if let Some(bodies) = spec
        .get_mut("components")
        .and_then(|c| c.get_mut("requestBodies"))
        .and_then(Value::as_mapping_mut)
    {
        for (_, body) in bodies.iter_mut() {
            if let Some(content) = body.get_mut("content").and_then(Value::as_mapping_mut) {
                keep_one_media_type(content);
            }
        }
    }
}

fn single_response_media_type(spec: &mut Value) {
    let fix = |responses: &mut Mapping| {
        for (_, resp) in responses.iter_mut() {
            if let Some(content) = resp.get_mut("content").and_then(Value::as_mapping_mut) {
                keep_one_media_type(content);
            }
        }
    };
    for (_, _, op) in operations_mut(spec) {
        if let Some(r) = op.get_mut("responses").and_then(Value::as_mapping_mut) {
            fix(r);
        }
    }
    if let Some(r) = spec
        .get_mut("components")
        .and_then(|c| c.get_mut("responses"))
        .and_then(Value::as_mapping_mut)
    {
        fix(r);
    }
}

/// progenitor requires every error response of an operation to share one type.
/// Error responses documented without a body get the operation's error body
/// type when it has one (servers do send `{"code","message"}` there); when no
/// error response has a body, they are left as they are.
fn bodyless_error_responses(spec: &mut Value) {
    let shared = spec
        .get("components")
        .and_then(|c| c.get("responses"))
        .cloned()
        .unwrap_or(Value::Null);
    for (_, _, op) in operations_mut(spec) {
        let Some(responses) = op.get_mut("responses").and_then(Value::as_mapping_mut) else {
            continue;
        };
        let is_error = |k: &Value| {
            let k = k
                .as_str()
                .map(str::to_owned)
                .or_else(|| k.as_u64().map(|n| n.to_string()));
            k.is_some_and(|k| k.starts_with('4') || k.starts_with('5') || k == "default")
        };
        let resolve = |r: &Value| -> Value {
            match r.get("$ref").and_then(Value::as_str) {
                Some(path) => shared
                    .get(path.rsplit('/').next().unwrap_or_default())
                    .cloned()
                    .unwrap_or(Value::Null),
                None => r.clone(),
            }
        };
        let error_content = responses
            .iter()
            .filter(|(k, _)| is_error(k))
            .map(|(_, r)| resolve(r))
            .find_map(|r| r.get("content").cloned());
        let Some(content) = error_content else {
            continue;
        };
        for (k, r) in responses.iter_mut() {
            if is_error(k) && resolve(r).get("content").is_none() {
                let description = resolve(r)
                    .get("description")
                    .cloned()
                    .unwrap_or_else(|| "Error".into());
                let mut m = Mapping::new();
                m.insert("description".into(), description);
                m.insert("content".into(), content.clone());
                *r = Value::Mapping(m);
            }
        }
    }
}

pub(super) fn collect_refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                if k.as_str() == Some("$ref")
                    && let Some(r) = v.as_str()
                {
                    out.insert(r.to_owned());
                }
                collect_refs(v, out);
            }
        }
        Value::Sequence(s) => s.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Every component reference (`#/components/<kind>/<name>`) reachable from `frontier`,
/// following references transitively.
pub(super) fn reachable(spec: &Value, mut frontier: BTreeSet<String>) -> BTreeSet<String> {
    let components = spec.get("components").unwrap_or(&Value::Null);
    let mut reachable = BTreeSet::new();
    while let Some(r) = frontier.pop_first() {
        if !reachable.insert(r.clone()) {
            continue;
        }
        let mut parts = r.trim_start_matches("#/components/").splitn(2, '/');
        let (Some(kind), Some(name)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let Some(target) = components.get(kind).and_then(|k| k.get(name)) {
            let mut next = BTreeSet::new();
            collect_refs(target, &mut next);
            frontier.extend(next.into_iter().filter(|n| !reachable.contains(n)));
        }
    }
    reachable
}

/// Remove components no kept operation reaches (transitively).
fn prune_unreachable(spec: &mut Value) {
    let mut frontier = BTreeSet::new();
    if let Some(paths) = spec.get("paths") {
        collect_refs(paths, &mut frontier);
    }
    let reachable = reachable(spec, frontier);
    let Some(components) = map_mut(spec, "components") else {
        return;
    };
    for (kind, entries) in components.iter_mut() {
        let Some(kind) = kind.as_str() else { continue };
        if kind == "securitySchemes" {
            continue;
        }
        if let Some(entries) = entries.as_mapping_mut() {
            entries.retain(|name, _| {
                let name = name.as_str().unwrap_or_default();
                reachable.contains(&format!("#/components/{kind}/{name}"))
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_follow_python_sdk_naming() {
        assert_eq!(operation_id("GET", "/v2/sandboxes"), "get_v2_sandboxes");
        assert_eq!(
            operation_id("post", "/sandboxes/{sandboxID}/connect"),
            "post_sandboxes_sandbox_id_connect"
        );
        assert_eq!(
            operation_id("get", "/templates/{templateID}/builds/{buildID}/status"),
            "get_templates_template_id_builds_build_id_status"
        );
        assert_eq!(operation_id("post", "/access-tokens"), "post_access_tokens");
    }

    const DOC: &str = r##"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /a:
    get:
      tags: [keep]
      parameters:
        - {name: state, in: query, explode: false, style: form, schema: {type: array, items: {$ref: "#/components/schemas/State"}}}
      responses:
        "200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/A"}}}}
        "404": {description: missing}
        "500": {description: err, content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
    post:
      tags: [drop]
      requestBody:
        content:
          application/json: {schema: {$ref: "#/components/schemas/B"}}
      responses:
        "204": {description: ok}
  /b:
    post:
      tags: [keep]
      x-internal: true
      responses:
        "204": {description: ok}
components:
  schemas:
    A: {type: object, properties: {x: {$ref: "#/components/schemas/C"}}}
    B: {type: object}
    C: {type: string}
    State: {type: string, enum: [running, paused]}
    Error: {type: object}
"##;

    #[test]
    fn api_key_scheme_written_as_scheme_reads_as_in() {
        let doc = r#"
openapi: 3.0.0
info: {title: t, version: "1"}
paths: {}
components:
  securitySchemes:
    Old: {type: apiKey, scheme: header, name: X-Access-Token}
    New: {type: apiKey, in: query, name: key}
    Bearer: {type: http, scheme: bearer}
"#;
        let p = patch(doc, &Keep::All).unwrap();
        let schemes = &p.spec["components"]["securitySchemes"];
        assert_eq!(schemes["Old"]["in"], "header");
        assert!(schemes["Old"].get("scheme").is_none());
        assert_eq!(schemes["New"]["in"], "query");
        assert_eq!(schemes["Bearer"]["scheme"], "bearer");
        let spec: openapiv3::OpenAPI = serde_yaml::from_value(p.spec).unwrap();
        assert_eq!(spec.components.unwrap().security_schemes.len(), 3);
    }

    #[test]
    fn multipart_only_uploads_are_left_out() {
        let doc = r##"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /files:
    get:
      responses: {"200": {description: ok}}
    post:
      requestBody: {$ref: "#/components/requestBodies/File"}
      responses: {"200": {description: ok}}
  /raw:
    post:
      requestBody:
        content:
          multipart/form-data: {schema: {type: object}}
          application/octet-stream: {schema: {type: string, format: binary}}
      responses: {"200": {description: ok}}
components:
  requestBodies:
    File:
      content:
        multipart/form-data: {schema: {type: object}}
"##;
        let p = patch(doc, &Keep::All).unwrap();
        assert!(p.spec["paths"]["/files"].get("post").is_none());
        assert!(p.spec["paths"]["/files"].get("get").is_some());
        let raw = &p.spec["paths"]["/raw"]["post"]["requestBody"]["content"];
        assert!(raw.get("application/octet-stream").is_some());
        assert!(raw.get("multipart/form-data").is_none());
    }

    #[test]
    fn patches_compose() {
        let p = patch(DOC, &Keep::Tags(&["keep"])).unwrap();
        let spec = &p.spec;
        // drop-tagged and internal operations are gone
        assert!(spec["paths"]["/a"].get("post").is_none());
        assert!(spec["paths"].get("/b").is_none());
        assert_eq!(spec["paths"]["/a"]["get"]["operationId"], "get_a");
        // comma list
        assert_eq!(
            p.comma_lists.get("CommaSeparatedState").map(String::as_str),
            Some("State")
        );
        assert_eq!(
            spec["paths"]["/a"]["get"]["parameters"][0]["schema"]["$ref"],
            "#/components/schemas/CommaSeparatedState"
        );
        // body-less 404 gets the error body
        assert!(
            spec["paths"]["/a"]["get"]["responses"]["404"]
                .get("content")
                .is_some()
        );
        // B is unreachable once the POST is gone; C is reached through A
        let schemas = spec["components"]["schemas"].as_mapping().unwrap();
        assert!(!schemas.contains_key("B"));
        assert!(schemas.contains_key("C"));
        assert!(schemas.contains_key("CommaSeparatedState"));
    }
}
