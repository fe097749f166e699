//! Facets: what each compared thing is reduced to, and how two sets of facets differ.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Facet {
    /// Compared and shown verbatim.
    Text(String),
    /// Compared as a set; changes are shown as `+x, -y`.
    Set(BTreeSet<String>),
    /// Documentation only: changes are flagged, not shown.
    Docs(String),
}

pub(super) type Facets = BTreeMap<String, Facet>;

/// Describes every facet that differs, documentation changes last.
pub(super) fn diff_facets(old: &Facets, new: &Facets) -> Vec<String> {
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

pub(super) fn show(facet: Option<&Facet>) -> String {
    match facet {
        None => "(none)".to_owned(),
        Some(Facet::Text(t) | Facet::Docs(t)) => truncate(t),
        Some(Facet::Set(s)) => truncate(&format!(
            "[{}]",
            s.iter().cloned().collect::<Vec<_>>().join(", ")
        )),
    }
}

pub(super) fn truncate(s: &str) -> String {
    const MAX: usize = 100;
    let s = s.trim();
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

/// A scalar as text (strings unquoted), anything else as compact JSON.
pub(super) fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn is_docs_key(key: &str) -> bool {
    DOCS.contains(&key)
}

/// Adds the `x-…` extensions of `value` as text facets.
pub(super) fn extension_facets(value: &Value, facets: &mut Facets) {
    for (key, v) in value.as_object().into_iter().flatten() {
        if key.starts_with("x-") {
            facets.insert(key.clone(), Facet::Text(text(v)));
        }
    }
}

/// Adds the given keys of `value` that are present as facets (docs keys as [`Facet::Docs`]).
pub(super) fn keyword_facets(value: &Value, keys: &[&str], facets: &mut Facets) {
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
pub(super) fn leaf_facets(value: &Value, prefix: &str, facets: &mut Facets) {
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
