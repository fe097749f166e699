//! The lines of an `/execute` stream: one JSON object each, as upstream's
//! server writes them (null fields left out).

use serde_json::{Map, Value, json};

use crate::interpreter::jupyter::message::Message;

/// The `(MIME type, field)` pairs of a result; other MIME types go to `extra`.
const MIME_FIELDS: [(&str, &str); 12] = [
    ("text/plain", "text"),
    ("text/html", "html"),
    ("text/markdown", "markdown"),
    ("image/svg+xml", "svg"),
    ("image/png", "png"),
    ("image/jpeg", "jpeg"),
    ("application/pdf", "pdf"),
    ("text/latex", "latex"),
    ("application/json", "json"),
    ("application/javascript", "javascript"),
    ("e2b/data", "data"),
    ("e2b/chart", "chart"),
];

/// What one execution has produced so far.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Whether an `error` line was written (only the first error counts).
    pub(crate) error_sent: bool,
    /// Whether the `number_of_executions` line was written.
    pub(crate) count_sent: bool,
}

/// The lines an iopub message of the execution becomes.
pub(crate) fn iopub_lines(msg: &Message, progress: &mut Progress) -> Option<Value> {
    let content = &msg.content;
    match msg.header.msg_type.as_str() {
        "execute_input" => count(content, progress),
        "stream" => {
            let name = content.get("name").and_then(Value::as_str)?;
            if name != "stdout" && name != "stderr" {
                return None;
            }
            Some(json!({
                "type": name,
                "text": content.get("text").and_then(Value::as_str).unwrap_or_default(),
                "timestamp": msg.header.date,
            }))
        }
        "execute_result" => Some(result(content.get("data"), true)),
        // tslab's last value and what its code threw, marked by the script
        // the agent loads into it.
        "display_data" => match content.pointer("/metadata/e2b/error") {
            Some(thrown) => error(thrown, progress),
            None => Some(result(content.get("data"), is_marked_main(content))),
        },
        "error" => error(content, progress),
        _ => None,
    }
}

/// Whether a display message is marked as an execution's main result.
fn is_marked_main(content: &Value) -> bool {
    content
        .pointer("/metadata/e2b/main_result")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The lines of an `execute_reply`: the execution count, for kernels that
/// announce no `execute_input` (tslab), and an error not yet sent.
pub(crate) fn reply_lines(reply: &Message, progress: &mut Progress) -> Vec<Value> {
    let mut lines = Vec::new();
    if reply
        .content
        .get("execution_count")
        .is_some_and(Value::is_u64)
    {
        lines.extend(count(&reply.content, progress));
    }
    if reply.content.get("status").and_then(Value::as_str) == Some("error") {
        lines.extend(error(&reply.content, progress));
    }
    lines
}

fn count(content: &Value, progress: &mut Progress) -> Option<Value> {
    if progress.count_sent {
        return None;
    }
    progress.count_sent = true;
    Some(json!({
        "type": "number_of_executions",
        "execution_count": content.get("execution_count").cloned().unwrap_or(Value::Null),
    }))
}

/// A synthetic error line (the service's own failures during an execution).
pub(crate) fn synthetic_error(name: &str, value: &str, progress: &mut Progress) -> Option<Value> {
    error(
        &json!({"ename": name, "evalue": value, "traceback": []}),
        progress,
    )
}

fn error(content: &Value, progress: &mut Progress) -> Option<Value> {
    if progress.error_sent {
        return None;
    }
    progress.error_sent = true;
    let traceback = content
        .get("traceback")
        .and_then(Value::as_array)
        .map(|lines| {
            lines
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    // Kernels that report failures only on stderr (tslab) reply `error`
    // without a name: the line still says an error happened.
    let name = content
        .get("ename")
        .and_then(Value::as_str)
        .unwrap_or("Error");
    let value = content
        .get("evalue")
        .and_then(Value::as_str)
        .unwrap_or("the code failed; the kernel reported the details on stderr");
    Some(json!({
        "type": "error",
        "name": name,
        "value": value,
        "traceback": traceback,
    }))
}

/// A `result` line from a MIME bundle.
pub(crate) fn result(data: Option<&Value>, is_main_result: bool) -> Value {
    let mut bundle = data.and_then(Value::as_object).cloned().unwrap_or_default();
    let mut line = Map::new();
    line.insert("type".to_owned(), json!("result"));
    for (mime, field) in MIME_FIELDS {
        if let Some(value) = bundle.remove(mime) {
            if value.is_null() {
                continue;
            }
            let value = if field == "text" {
                strip_quotes(value)
            } else {
                value
            };
            line.insert(field.to_owned(), value);
        }
    }
    line.insert("extra".to_owned(), Value::Object(bundle));
    line.insert("is_main_result".to_owned(), json!(is_main_result));
    Value::Object(line)
}

/// `'text'` or `"text"` (a string's repr) becomes `text`.
fn strip_quotes(value: Value) -> Value {
    match value {
        Value::String(s)
            if s.len() >= 2
                && ((s.starts_with('\'') && s.ends_with('\''))
                    || (s.starts_with('"') && s.ends_with('"'))) =>
        {
            Value::String(s[1..s.len() - 1].to_owned())
        }
        other => other,
    }
}

/// The line for a type with no fields (`keepalive`, `end_of_execution`).
pub(crate) fn marker(kind: &str) -> Value {
    json!({ "type": kind })
}

/// A line as bytes, newline included.
pub(crate) fn encode(line: &Value) -> bytes::Bytes {
    let mut bytes = serde_json::to_vec(line).unwrap_or_default();
    bytes.push(b'\n');
    bytes.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(msg_type: &str, content: Value) -> Message {
        let mut m = Message::new("s", msg_type, content);
        m.header.date = "2025-01-01T00:00:00.123456Z".to_owned();
        m
    }

    #[test]
    fn results_map_every_mime_type_and_keep_the_rest_in_extra() {
        let data = json!({
            "text/plain": "'hi'", "text/html": "<b>", "text/markdown": "*m*",
            "image/svg+xml": "<svg/>", "image/png": "iVBO", "image/jpeg": "/9j/",
            "application/pdf": "JVBE", "text/latex": "$x$", "application/json": {"a": 1},
            "application/javascript": "1;", "e2b/data": {"a": [1]}, "e2b/chart": {"type": "line"},
            "application/vnd.custom": "x"
        });
        let line = result(Some(&data), true);
        assert_eq!(
            line,
            json!({
                "type": "result", "text": "hi", "html": "<b>", "markdown": "*m*",
                "svg": "<svg/>", "png": "iVBO", "jpeg": "/9j/", "pdf": "JVBE", "latex": "$x$",
                "json": {"a": 1}, "javascript": "1;", "data": {"a": [1]},
                "chart": {"type": "line"}, "extra": {"application/vnd.custom": "x"},
                "is_main_result": true
            })
        );
        let line = result(
            Some(&json!({"text/plain": "\"q\"", "image/png": "x"})),
            false,
        );
        assert_eq!(line["text"], "q");
        assert_eq!(line["extra"], json!({}));
        assert_eq!(line["is_main_result"], false);
        assert!(line.get("html").is_none());
        let line = result(Some(&json!({"text/plain": "'"})), true);
        assert_eq!(line["text"], "'");
    }

    #[test]
    fn iopub_messages_become_lines_and_only_the_first_error_counts() {
        let mut p = Progress::default();
        let l = iopub_lines(
            &message("execute_input", json!({"execution_count": 3, "code": "x"})),
            &mut p,
        );
        assert_eq!(
            l,
            Some(json!({"type": "number_of_executions", "execution_count": 3}))
        );
        let l = iopub_lines(
            &message("stream", json!({"name": "stderr", "text": "e\n"})),
            &mut p,
        );
        assert_eq!(
            l,
            Some(
                json!({"type": "stderr", "text": "e\n", "timestamp": "2025-01-01T00:00:00.123456Z"})
            )
        );
        assert_eq!(
            iopub_lines(
                &message("status", json!({"execution_state": "busy"})),
                &mut p
            ),
            None
        );
        let err = message(
            "error",
            json!({"ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": ["a", "b"]}),
        );
        assert_eq!(
            iopub_lines(&err, &mut p),
            Some(
                json!({"type": "error", "name": "ZeroDivisionError", "value": "division by zero", "traceback": "a\nb"})
            )
        );
        let reply = message(
            "execute_reply",
            json!({"status": "error", "ename": "X", "evalue": "", "traceback": []}),
        );
        assert_eq!(reply_lines(&reply, &mut p), Vec::<Value>::new());
        let mut fresh = Progress::default();
        assert_eq!(reply_lines(&reply, &mut fresh)[0]["name"], "X");
        let counted = message(
            "execute_reply",
            json!({"status": "ok", "execution_count": 4}),
        );
        let mut fresh = Progress::default();
        assert_eq!(
            reply_lines(&counted, &mut fresh),
            vec![json!({"type": "number_of_executions", "execution_count": 4})]
        );
        assert_eq!(reply_lines(&counted, &mut fresh), Vec::<Value>::new());
    }
}
