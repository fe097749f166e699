//! Reusable components other than schemas.

use super::*;

pub(super) fn diff_components(old: Doc<'_>, new: Doc<'_>, kind: &str) -> Vec<Entry> {
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

pub(super) fn component_brief(doc: Doc<'_>, kind: &str, item: &Value) -> String {
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

pub(super) fn component_facets(doc: Doc<'_>, kind: &str, item: &Value) -> Facets {
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
