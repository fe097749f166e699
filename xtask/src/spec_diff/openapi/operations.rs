//! Operations: parameters, request bodies and responses, outlined and compared.

use super::*;

/// An operation with the path item it belongs to (for path-level parameters).
#[derive(Debug, Clone, Copy)]
pub(super) struct Operation<'a> {
    path_item: &'a Value,
    op: &'a Value,
}

/// Operations keyed by (path, method index), i.e. sorted by path then in `METHODS` order.
pub(super) fn operations(doc: Doc<'_>) -> BTreeMap<(String, usize), Operation<'_>> {
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

pub(super) fn operation_label(path: &str, method: usize) -> String {
    format!("{} {path}", METHODS[method].to_uppercase())
}

pub(super) fn diff_operations(old: Doc<'_>, new: Doc<'_>) -> Vec<Entry> {
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
pub(super) fn operation_title(op: &Operation<'_>) -> String {
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
pub(super) fn operation_outline(doc: Doc<'_>, op: &Operation<'_>) -> Vec<Entry> {
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
pub(super) fn group_responses(responses: &[(String, String)]) -> String {
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

pub(super) fn operation_facets(doc: Doc<'_>, op: &Operation<'_>) -> Facets {
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

pub(super) fn operation_changes(
    old: (Doc<'_>, &Operation<'_>),
    new: (Doc<'_>, &Operation<'_>),
) -> Vec<Entry> {
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

pub(super) fn request_body<'a>(doc: Doc<'a>, op: &Operation<'a>) -> Option<&'a Value> {
    op.op.get("requestBody").map(|b| doc.resolve(b))
}

/// Path-level and operation-level parameters, resolved, keyed by (location, name).
pub(super) fn parameters<'a>(
    doc: Doc<'a>,
    op: &Operation<'a>,
) -> BTreeMap<(String, String), &'a Value> {
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

pub(super) fn is_required_param(p: &Value) -> bool {
    p.get("required") == Some(&Value::Bool(true))
        || p.get("in").and_then(Value::as_str) == Some("path")
}

pub(super) fn parameter_facets(p: &Value) -> Facets {
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
pub(super) fn parameter_brief(p: &Value) -> String {
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
pub(super) fn content_facets(value: &Value, facets: &mut Facets) {
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
pub(super) fn content_brief(value: &Value) -> String {
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

pub(super) fn body_facets(_doc: Doc<'_>, body: &Value) -> Facets {
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

pub(super) fn body_brief(_doc: Doc<'_>, body: &Value) -> String {
    format!(
        "{}, {}",
        content_brief(body),
        required_word(body.get("required") == Some(&Value::Bool(true)))
    )
}

/// Responses, resolved, keyed by status code (`200`, `4XX`, `default`).
pub(super) fn responses<'a>(doc: Doc<'a>, op: &Operation<'a>) -> BTreeMap<String, &'a Value> {
    op.op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(code, r)| (code.clone(), doc.resolve(r)))
        .collect()
}

pub(super) fn response_facets(doc: Doc<'_>, response: &Value) -> Facets {
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

pub(super) fn response_brief(_doc: Doc<'_>, response: &Value) -> String {
    content_brief(response)
}

// ---------------------------------------------------------------------------------------------
// Components
// ---------------------------------------------------------------------------------------------
