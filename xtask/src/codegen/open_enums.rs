//! Forward-compatible ("open") enums for the REST clients.
//!
//! A server newer than the pinned spec may answer with enum values the spec does not list
//! yet: a new sandbox state, build status or log level. progenitor's enums reject them,
//! and one such value fails the whole response (a whole page of a listing). So every
//! string enum that a response can carry is generated here instead of by progenitor:
//!
//! 1. [`open_response_enums`] (a patch of the parsed spec) finds them: the component
//!    schemas reachable from any response. A string enum written inline as a property
//!    of such a schema is first moved into a named schema, under the name progenitor
//!    would have given it (`{Schema}{Property}`), so that it can be replaced.
//! 2. progenitor is told to use a type of that name in `<module>::types` in place of its
//!    own (a type replacement), and [`insert`] puts the definition into the generated
//!    `types` module: the spec's values as unit variants, plus
//!    [`FALLBACK`]`(String)` holding any other value as sent. It round-trips: it
//!    serialises back to the string it was read from.
//!
//! Enums that are only ever sent (query parameters, request bodies) stay progenitor's
//! strict enums. An enum a response carries that is also sent (the `state` filter of
//! the listing) is open in both directions, so a caller can send a value newer than the
//! spec too.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_yaml::{Mapping, Value};

use super::openapi_patch::{METHODS, collect_refs, reachable};

/// The variant holding a value the spec does not list. Not `Unknown`: some enums list an
/// `unknown` value of their own (a volume entry's type).
pub(crate) const FALLBACK: &str = "UnknownValue";

/// A string enum generated open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OpenEnum {
    /// The schema name, which is also the Rust type name.
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    /// The values the spec lists, in its order.
    pub(crate) values: Vec<String>,
}

const SCHEMA_PREFIX: &str = "#/components/schemas/";

/// Find the string enums a response can carry (moving inline ones into named schemas)
/// and return them, sorted by name. Fails on an enum this generator cannot open, so that
/// a spec update never silently brings back a strict enum on the response path.
pub(crate) fn open_response_enums(spec: &mut Value) -> anyhow::Result<Vec<OpenEnum>> {
    let (roots, inline) = response_roots(spec);
    for (at, schema) in &inline {
        reject_nested_enums(schema, at, false)?;
    }
    let schemas = schema_names(&reachable(spec, roots.clone()));
    hoist_inline_enums(spec, &schemas)?;
    // Hoisting only adds references to new schemas; look again to include them.
    let reached = reachable(spec, roots);
    for r in &reached {
        if let Some(responses) = r.strip_prefix("#/components/responses/")
            && let Some(response) = component(spec, "responses", responses)
        {
            for (at, schema) in content_schemas(response, r) {
                reject_nested_enums(schema, &at, false)?;
            }
        }
    }
    let mut out = Vec::new();
    for name in schema_names(&reached) {
        let Some(schema) = component(spec, "schemas", &name) else {
            continue;
        };
        let at = format!("{SCHEMA_PREFIX}{name}");
        reject_nested_enums(schema, &at, true)?;
        if schema.get("enum").is_some() {
            out.push(open_enum(&name, schema).with_context(|| format!("at {at}"))?);
        }
    }
    Ok(out)
}

fn component<'a>(spec: &'a Value, kind: &str, name: &str) -> Option<&'a Value> {
    spec.get("components")?.get(kind)?.get(name)
}

fn schema_names(refs: &BTreeSet<String>) -> BTreeSet<String> {
    refs.iter()
        .filter_map(|r| r.strip_prefix(SCHEMA_PREFIX))
        .map(str::to_owned)
        .collect()
}

/// The references every operation's responses make, and the schemas written inline in
/// them (with where they are, for error messages).
fn response_roots(spec: &Value) -> (BTreeSet<String>, Vec<(String, Value)>) {
    let mut refs = BTreeSet::new();
    let mut inline = Vec::new();
    let paths = spec.get("paths").and_then(Value::as_mapping);
    for (path, item) in paths.into_iter().flatten() {
        let path = path.as_str().unwrap_or_default();
        let Some(item) = item.as_mapping() else {
            continue;
        };
        for (method, op) in item {
            let Some(method) = method.as_str().filter(|m| METHODS.contains(m)) else {
                continue;
            };
            let Some(responses) = op.get("responses").and_then(Value::as_mapping) else {
                continue;
            };
            collect_refs(&Value::Mapping(responses.clone()), &mut refs);
            for (status, response) in responses {
                let status = status
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| status.as_u64().map(|n| n.to_string()))
                    .unwrap_or_default();
                let at = format!("{method} {path} response {status}");
                for (at, schema) in content_schemas(response, &at) {
                    inline.push((at, schema.clone()));
                }
            }
        }
    }
    (refs, inline)
}

/// The body schemas of a response, one per media type.
fn content_schemas<'a>(response: &'a Value, at: &str) -> Vec<(String, &'a Value)> {
    let content = response.get("content").and_then(Value::as_mapping);
    content
        .into_iter()
        .flatten()
        .filter_map(|(media, body)| {
            let schema = body.get("schema")?;
            Some((
                format!("{at} {}", media.as_str().unwrap_or_default()),
                schema,
            ))
        })
        .collect()
}

/// The schemas directly inside `schema`, with their location suffix.
fn subschemas(schema: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_mapping) {
        for (name, property) in properties {
            let name = name.as_str().unwrap_or_default();
            out.push((format!("/properties/{name}"), property));
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = schema.get(key).filter(|c| c.is_mapping()) {
            out.push((format!("/{key}"), child));
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for (i, child) in schema
            .get(key)
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .enumerate()
        {
            out.push((format!("/{key}/{i}"), child));
        }
    }
    out
}

/// Fail on an `enum` anywhere inside `schema` but at its root (when `root_allowed`):
/// progenitor would generate a strict enum there that this generator cannot replace.
fn reject_nested_enums(schema: &Value, at: &str, root_allowed: bool) -> anyhow::Result<()> {
    if schema.get("$ref").is_some() {
        return Ok(());
    }
    if !root_allowed && schema.get("enum").is_some() {
        bail!(
            "a response can carry the inline enum at {at}, which would be generated strict \
             (failing on values newer than the spec); teach xtask/src/codegen/open_enums.rs \
             to name it"
        );
    }
    for (suffix, child) in subschemas(schema) {
        reject_nested_enums(child, &format!("{at}{suffix}"), false)?;
    }
    Ok(())
}

/// Move each inline enum property of `schemas` into a schema of its own, named as
/// progenitor names inline enums (`VolumeEntryStat.type` → `VolumeEntryStatType`).
fn hoist_inline_enums(spec: &mut Value, schemas: &BTreeSet<String>) -> anyhow::Result<()> {
    let Some(components) = spec
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(Value::as_mapping_mut)
    else {
        return Ok(());
    };
    let mut hoisted = BTreeMap::new();
    for name in schemas {
        let Some(properties) = components
            .get_mut(name.as_str())
            .and_then(|s| s.get_mut("properties"))
            .and_then(Value::as_mapping_mut)
        else {
            continue;
        };
        for (property, schema) in properties.iter_mut() {
            if schema.get("enum").is_none() {
                continue;
            }
            let property = property.as_str().unwrap_or_default();
            let new_name = format!("{name}{}", pascal_case(property));
            let mut reference = Mapping::new();
            reference.insert("$ref".into(), format!("{SCHEMA_PREFIX}{new_name}").into());
            let schema = std::mem::replace(schema, Value::Mapping(reference));
            if hoisted.insert(new_name.clone(), schema).is_some() {
                bail!("two inline enums would both be named `{new_name}`");
            }
        }
    }
    for (name, schema) in hoisted {
        if components.contains_key(name.as_str()) {
            bail!("cannot name the inline enum `{name}`: a schema of that name exists");
        }
        components.insert(name.into(), schema);
    }
    Ok(())
}

/// Read a root string enum, refusing the shapes the generated code does not handle.
fn open_enum(name: &str, schema: &Value) -> anyhow::Result<OpenEnum> {
    if schema
        .get("type")
        .is_some_and(|t| t.as_str() != Some("string"))
    {
        bail!("enum `{name}` is not a string enum; only string enums can be opened");
    }
    if schema.get("nullable").and_then(Value::as_bool) == Some(true)
        || schema.get("default").is_some()
    {
        bail!("enum `{name}` is nullable or has a default, which open enums do not support yet");
    }
    let values = schema
        .get("enum")
        .and_then(Value::as_sequence)
        .map(|values| {
            values
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        })
        .context("`enum` is not a list")?
        .with_context(|| format!("enum `{name}` lists a value that is not a string"))?;
    if values.is_empty() {
        bail!("enum `{name}` lists no values");
    }
    let description = schema
        .get("description")
        .and_then(Value::as_str)
        .map(|d| d.trim().to_owned());
    Ok(OpenEnum {
        name: name.to_owned(),
        description,
        values,
    })
}

/// `box_and_whisker`, `boxAndWhisker` → `BoxAndWhisker`; the casing progenitor (typify)
/// gives enum variants and inline type names.
pub(crate) fn pascal_case(s: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if !c.is_ascii_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower {
            words.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
        .iter()
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
            })
        })
        .collect()
}

/// The variant names of `e`, checked to be identifiers, distinct, and not the fallback.
fn variants(e: &OpenEnum) -> anyhow::Result<Vec<syn::Ident>> {
    let mut seen = BTreeSet::new();
    e.values
        .iter()
        .map(|value| {
            let name = pascal_case(value);
            let ident = syn::parse_str::<syn::Ident>(&name).ok().filter(|_| {
                name.starts_with(|c: char| c.is_ascii_alphabetic()) && name != FALLBACK
            });
            let Some(ident) = ident else {
                bail!("`{}` value `{value}` has no usable variant name", e.name);
            };
            if !seen.insert(name.clone()) {
                bail!("`{}` values would share the variant name `{name}`", e.name);
            }
            Ok(ident)
        })
        .collect()
}

/// The definition of one open enum: the type and its impls.
fn definition(e: &OpenEnum) -> anyhow::Result<TokenStream> {
    let name = format_ident!("{}", e.name);
    let fallback = format_ident!("{FALLBACK}");
    let variants = variants(e)?;
    let values = &e.values;
    let value_docs = values.iter().map(|v| format!("`{v}`"));
    // One attribute per line, so that the docs render as `///` lines.
    let mut doc: Vec<String> = match &e.description {
        Some(description) => description.lines().map(str::to_owned).collect(),
        None => vec![format!("`{}`", e.name)],
    };
    doc.push(String::new());
    doc.push(format!(
        "Open: a value the spec does not list (sent by a newer server) decodes to \
         [`{}::{FALLBACK}`] with the value as sent, and encodes back to it.",
        e.name
    ));
    let fallback_doc = "A value the spec does not list, as sent.";
    Ok(quote! {
        #( #[doc = #doc] )*
        #[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
        #[non_exhaustive]
        pub enum #name {
            #( #[doc = #value_docs] #variants, )*
            #[doc = #fallback_doc]
            #fallback(::std::string::String),
        }
        impl #name {
            ///The value as it travels on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #( Self::#variants => #values, )*
                    Self::#fallback(value) => value.as_str(),
                }
            }
        }
        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::std::convert::From<&str> for #name {
            fn from(value: &str) -> Self {
                match value {
                    #( #values => Self::#variants, )*
                    _ => Self::#fallback(value.to_owned()),
                }
            }
        }
        impl ::std::convert::From<::std::string::String> for #name {
            fn from(value: ::std::string::String) -> Self {
                match value.as_str() {
                    #( #values => Self::#variants, )*
                    _ => Self::#fallback(value),
                }
            }
        }
        impl ::std::str::FromStr for #name {
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                Ok(Self::from(value))
            }
        }
        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                <::std::string::String as ::serde::Deserialize<'de>>::deserialize(deserializer)
                    .map(Self::from)
            }
        }
    })
}

/// The type name an item of the `types` module defines, if it defines one.
fn defined_name(item: &syn::Item) -> Option<String> {
    match item {
        syn::Item::Struct(s) => Some(s.ident.to_string()),
        syn::Item::Enum(e) => Some(e.ident.to_string()),
        syn::Item::Type(t) => Some(t.ident.to_string()),
        _ => None,
    }
}

/// Put the definitions of `enums` into the `types` module of progenitor's output, each
/// where progenitor would have put its own (the module is sorted by type name).
pub(crate) fn insert(generated: TokenStream, enums: &[OpenEnum]) -> anyhow::Result<TokenStream> {
    if enums.is_empty() {
        return Ok(generated);
    }
    let mut file: syn::File = syn::parse2(generated).context("generated code does not parse")?;
    let Some(types) = file.items.iter_mut().find_map(|item| match item {
        syn::Item::Mod(m) if m.ident == "types" => m.content.as_mut().map(|(_, items)| items),
        _ => None,
    }) else {
        bail!("progenitor's output has no `types` module");
    };
    for e in enums {
        if types
            .iter()
            .any(|item| defined_name(item).as_deref() == Some(&e.name))
        {
            bail!("progenitor generated `{}` despite the replacement", e.name);
        }
        let items = syn::parse2::<syn::File>(definition(e)?)
            .context("open enum definition does not parse")?
            .items;
        let at = types
            .iter()
            .position(|item| {
                matches!(item, syn::Item::Mod(_))
                    || defined_name(item).is_some_and(|n| n.as_str() > e.name.as_str())
            })
            .unwrap_or(types.len());
        types.splice(at..at, items);
    }
    Ok(quote!(#file))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r##"
openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /items:
    get:
      parameters:
        - {name: order, in: query, schema: {$ref: "#/components/schemas/Order"}}
        - {name: state, in: query, schema: {$ref: "#/components/schemas/State"}}
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: array, items: {$ref: "#/components/schemas/Item"}}}}}
    post:
      requestBody:
        content:
          application/json: {schema: {$ref: "#/components/schemas/NewItem"}}
      responses:
        "204": {description: ok}
components:
  schemas:
    Item:
      type: object
      properties:
        state: {$ref: "#/components/schemas/State"}
        type: {type: string, description: Kind of item, enum: [file, unknown]}
        count: {type: integer}
    State: {type: string, description: State of the item, enum: [running, paused]}
    Order: {type: string, enum: [asc, desc]}
    NewItem:
      type: object
      properties:
        kind: {type: string, enum: [a, b]}
"##;

    fn spec(doc: &str) -> Value {
        serde_yaml::from_str(doc).unwrap()
    }

    #[test]
    fn response_enums_open_request_enums_stay() {
        let mut spec = spec(DOC);
        let open = open_response_enums(&mut spec).unwrap();
        let names: Vec<_> = open.iter().map(|e| e.name.as_str()).collect();
        // `Order` (a query parameter) and `NewItem.kind` (a request body) stay strict.
        assert_eq!(names, ["ItemType", "State"]);
        assert_eq!(open[0].values, ["file", "unknown"]);
        assert_eq!(open[0].description.as_deref(), Some("Kind of item"));
        assert_eq!(
            spec["components"]["schemas"]["Item"]["properties"]["type"]["$ref"],
            "#/components/schemas/ItemType"
        );
        assert!(
            spec["components"]["schemas"]["NewItem"]["properties"]["kind"]
                .get("enum")
                .is_some()
        );
    }

    #[test]
    fn enums_the_generator_cannot_open_are_refused() {
        let nested = DOC.replace(
            "count: {type: integer}",
            "tags: {type: array, items: {type: string, enum: [x]}}",
        );
        let err = open_response_enums(&mut spec(&nested)).unwrap_err();
        assert!(
            format!("{err:#}").contains("#/components/schemas/Item/properties/tags/items"),
            "{err:#}"
        );
        let defaulted = DOC.replace(
            "description: State of the item,",
            "description: State of the item, default: running,",
        );
        assert!(open_response_enums(&mut spec(&defaulted)).is_err());
        let numeric = DOC.replace("enum: [running, paused]", "enum: [1, 2]");
        assert!(open_response_enums(&mut spec(&numeric)).is_err());
    }

    #[test]
    fn variant_names_follow_progenitor() {
        assert_eq!(pascal_case("running"), "Running");
        assert_eq!(pascal_case("box_and_whisker"), "BoxAndWhisker");
        assert_eq!(pascal_case("boxAndWhisker"), "BoxAndWhisker");
        assert_eq!(pascal_case("SIGKILL"), "Sigkill");
        assert_eq!(pascal_case("type"), "Type");
        let clash = OpenEnum {
            name: "E".into(),
            description: None,
            values: vec!["a-b".into(), "a_b".into()],
        };
        assert!(variants(&clash).is_err());
        let fallback = OpenEnum {
            values: vec!["unknown_value".into()],
            ..clash.clone()
        };
        assert!(variants(&fallback).is_err());
        let digit = OpenEnum {
            values: vec!["2xx".into()],
            ..clash
        };
        assert!(variants(&digit).is_err());
    }

    #[test]
    fn definitions_go_where_progenitor_puts_types() {
        let generated = quote! {
            pub mod types {
                pub struct Apple;
                impl Apple {}
                pub struct Zebra;
                pub mod builder {}
            }
        };
        let enums = [OpenEnum {
            name: "Mango".into(),
            description: Some("A fruit".into()),
            values: vec!["ripe".into()],
        }];
        let file: syn::File = syn::parse2(insert(generated, &enums).unwrap()).unwrap();
        let syn::Item::Mod(types) = &file.items[0] else {
            panic!("types module")
        };
        let names: Vec<_> = types
            .content
            .as_ref()
            .unwrap()
            .1
            .iter()
            .map(defined_name)
            .collect();
        let mango = names.iter().position(|n| n.as_deref() == Some("Mango"));
        let apple = names.iter().position(|n| n.as_deref() == Some("Apple"));
        let zebra = names.iter().position(|n| n.as_deref() == Some("Zebra"));
        assert!(apple < mango && mango < zebra, "{names:?}");
    }
}
