//! The v2 create and connect operations (`POST /v2/sandboxes`,
//! `POST /v2/sandboxes/{sandboxID}/connect`) that upstream's SDKs call from 2.51 on,
//! added to a pinned control-plane document that predates them.
//!
//! They are derived from the v1 operations of the same document, so a spec bump carries
//! its changes to the v1 bodies over to v2:
//!
//! - `NewSandboxV2` is `NewSandbox` without `secure`: every v2 sandbox is secured.
//! - `ConnectSandboxV2` is `ConnectSandbox` whose `timeout` may be left out (the server
//!   then uses 300 s), plus `memory`: `false` resumes a paused sandbox from its disk only.
//! - Neither carries property defaults. The server owns them: upstream's SDKs leave unset
//!   fields out of the body, and a generated type with defaults would always send them.
//! - The operations are the v1 ones with the body swapped, `429` documented (upstream's
//!   v2 operations list it), and the connect body optional, as upstream declares it.
//!
//! A document that already has either operation is left alone, so the patch retires
//! itself once the pin reaches a spec that defines them.

use anyhow::Context;
use serde_yaml::{Mapping, Value};

const NEW_SANDBOX_V2: &str = "NewSandboxV2";
const CONNECT_SANDBOX_V2: &str = "ConnectSandboxV2";

/// Add the v2 operations when the document has the v1 ones and not the v2 ones.
pub(super) fn add(spec: &mut Value) -> anyhow::Result<()> {
    let create_v1 = operation(spec, "/sandboxes", "post");
    let connect_v1 = operation(spec, "/sandboxes/{sandboxID}/connect", "post");
    let (Some(create_v1), Some(connect_v1)) = (create_v1, connect_v1) else {
        return Ok(());
    };
    if operation(spec, "/v2/sandboxes", "post").is_some()
        || operation(spec, "/v2/sandboxes/{sandboxID}/connect", "post").is_some()
    {
        return Ok(());
    }
    let schemas = spec
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(Value::as_mapping_mut)
        .context("document has no component schemas")?;
    let new_sandbox = schemas
        .get("NewSandbox")
        .cloned()
        .context("no NewSandbox schema")?;
    let connect_sandbox = schemas
        .get("ConnectSandbox")
        .cloned()
        .context("no ConnectSandbox schema")?;
    schemas.insert(NEW_SANDBOX_V2.into(), new_sandbox_v2(new_sandbox)?);
    schemas.insert(
        CONNECT_SANDBOX_V2.into(),
        connect_sandbox_v2(connect_sandbox)?,
    );

    let create = v2_operation(create_v1, "Create sandbox (v2)", NEW_SANDBOX_V2, true);
    let connect = v2_operation(
        connect_v1,
        "Connect sandbox (v2)",
        CONNECT_SANDBOX_V2,
        false,
    );
    let paths = spec
        .get_mut("paths")
        .and_then(Value::as_mapping_mut)
        .context("document has no paths")?;
    insert_operation(paths, "/v2/sandboxes", "post", create);
    insert_operation(paths, "/v2/sandboxes/{sandboxID}/connect", "post", connect);
    Ok(())
}

fn operation(spec: &Value, path: &str, method: &str) -> Option<Value> {
    spec.get("paths")?.get(path)?.get(method).cloned()
}

fn insert_operation(paths: &mut Mapping, path: &str, method: &str, op: Value) {
    let item = paths
        .entry(path.into())
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    if let Some(item) = item.as_mapping_mut() {
        item.insert(method.into(), op);
    }
}

fn properties(schema: &mut Value) -> anyhow::Result<&mut Mapping> {
    schema
        .get_mut("properties")
        .and_then(Value::as_mapping_mut)
        .context("schema has no properties")
}

/// Remove `default` from every property.
fn drop_defaults(schema: &mut Value) -> anyhow::Result<()> {
    for (_, property) in properties(schema)?.iter_mut() {
        if let Some(property) = property.as_mapping_mut() {
            property.remove("default");
        }
    }
    Ok(())
}

fn set_description(schema: &mut Value, description: &str) {
    if let Some(m) = schema.as_mapping_mut() {
        m.insert("description".into(), description.into());
    }
}

fn new_sandbox_v2(mut schema: Value) -> anyhow::Result<Value> {
    properties(&mut schema)?.remove("secure");
    if let Some(required) = schema.get_mut("required").and_then(Value::as_sequence_mut) {
        required.retain(|r| r.as_str() != Some("secure"));
    }
    drop_defaults(&mut schema)?;
    set_description(
        &mut schema,
        "Sandbox creation request. All system communication with the sandbox is always \
         secured; the template's envd version must support secured access. Fields left \
         out take the server's defaults (timeout 300 s, no auto-pause).",
    );
    Ok(schema)
}

fn connect_sandbox_v2(mut schema: Value) -> anyhow::Result<Value> {
    if let Some(m) = schema.as_mapping_mut() {
        m.remove("required");
    }
    drop_defaults(&mut schema)?;
    let mut memory = Mapping::new();
    memory.insert("type".into(), "boolean".into());
    memory.insert(
        "description".into(),
        "Defaults to true. When false and the sandbox is paused, resume from disk state \
         only: the sandbox cold-boots and any memory in the snapshot is ignored."
            .into(),
    );
    properties(&mut schema)?.insert("memory".into(), Value::Mapping(memory));
    set_description(
        &mut schema,
        "Connect request. A left-out timeout means 300 seconds.",
    );
    Ok(schema)
}

/// The v1 operation `op` with the body schema `body`, `429` documented, and the body
/// required or not.
fn v2_operation(mut op: Value, summary: &str, body: &str, body_required: bool) -> Value {
    let Some(m) = op.as_mapping_mut() else {
        return op;
    };
    m.remove("operationId");
    m.remove("deprecated");
    m.insert("summary".into(), summary.into());
    if let Some(request) = m.get_mut("requestBody").and_then(Value::as_mapping_mut) {
        request.insert("required".into(), body_required.into());
        if let Some(json) = request
            .get_mut("content")
            .and_then(|c| c.get_mut("application/json"))
            .and_then(Value::as_mapping_mut)
        {
            let mut reference = Mapping::new();
            reference.insert("$ref".into(), format!("#/components/schemas/{body}").into());
            json.insert("schema".into(), Value::Mapping(reference));
        }
    }
    if let Some(responses) = m.get_mut("responses").and_then(Value::as_mapping_mut)
        && !responses.contains_key("429")
    {
        let mut reference = Mapping::new();
        reference.insert("$ref".into(), "#/components/responses/429".into());
        responses.insert("429".into(), Value::Mapping(reference));
    }
    op
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r##"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /sandboxes:
    post:
      tags: [sandboxes]
      requestBody:
        required: true
        content:
          application/json: {schema: {$ref: "#/components/schemas/NewSandbox"}}
      responses:
        "201": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Sandbox"}}}}
  /sandboxes/{sandboxID}/connect:
    post:
      tags: [sandboxes]
      requestBody:
        required: true
        content:
          application/json: {schema: {$ref: "#/components/schemas/ConnectSandbox"}}
      responses:
        "200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Sandbox"}}}}
        "404": {$ref: "#/components/responses/404"}
components:
  responses:
    "404": {description: missing}
    "429": {description: slow down}
  schemas:
    Sandbox: {type: object}
    NewSandbox:
      required: [templateID]
      properties:
        templateID: {type: string}
        timeout: {type: integer, default: 15}
        autoPause: {type: boolean, default: false}
        secure: {type: boolean}
    ConnectSandbox:
      type: object
      required: [timeout]
      properties:
        timeout: {type: integer}
"##;

    #[test]
    fn derives_the_v2_operations_from_v1() {
        let mut spec: Value = serde_yaml::from_str(DOC).unwrap();
        add(&mut spec).unwrap();
        let create = &spec["paths"]["/v2/sandboxes"]["post"];
        assert_eq!(
            create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/NewSandboxV2"
        );
        assert_eq!(create["requestBody"]["required"], true);
        assert_eq!(
            create["responses"]["429"]["$ref"],
            "#/components/responses/429"
        );
        assert_eq!(create["tags"][0], "sandboxes");
        let connect = &spec["paths"]["/v2/sandboxes/{sandboxID}/connect"]["post"];
        assert_eq!(connect["requestBody"]["required"], false);
        assert!(connect["responses"].get("404").is_some());

        let v2 = &spec["components"]["schemas"]["NewSandboxV2"];
        let props = v2["properties"].as_mapping().unwrap();
        assert!(!props.contains_key("secure"));
        assert!(props.contains_key("templateID"));
        assert!(v2["properties"]["timeout"].get("default").is_none());
        assert!(v2["properties"]["autoPause"].get("default").is_none());
        let connect = &spec["components"]["schemas"]["ConnectSandboxV2"];
        assert!(connect.get("required").is_none());
        assert_eq!(connect["properties"]["memory"]["type"], "boolean");
        // The v1 schemas are untouched.
        let v1 = &spec["components"]["schemas"]["NewSandbox"];
        assert!(v1["properties"].get("secure").is_some());
        assert_eq!(v1["properties"]["timeout"]["default"], 15);
    }

    #[test]
    fn a_document_that_has_them_is_left_alone() {
        let mut spec: Value = serde_yaml::from_str(DOC).unwrap();
        add(&mut spec).unwrap();
        let once = spec.clone();
        add(&mut spec).unwrap();
        assert_eq!(spec, once);
        // And one without the v1 operations (the volume content API) too.
        let mut other: Value =
            serde_yaml::from_str("openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n")
                .unwrap();
        let before = other.clone();
        add(&mut other).unwrap();
        assert_eq!(other, before);
    }
}
