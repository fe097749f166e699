//! What an execution produces: [`Execution`], [`ExecutionResult`], [`Logs`],
//! [`ExecutionError`], [`OutputMessage`], and the [`OutputEvent`]s of a stream.

use std::fmt;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use e2b_core::{Error, Result};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::charts::Chart;

/// Everything one [`run_code`](crate::CodeInterpreter::run_code) produced.
///
/// Serializes to JSON like upstream's `to_json()`: `results`, `logs`, `error`,
/// `execution_count`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Execution {
    /// The cell's results: its value (the [main result](ExecutionResult::is_main_result))
    /// and everything it displayed (plots, `display(...)` calls), in order.
    pub results: Vec<ExecutionResult>,
    /// What the code printed.
    pub logs: Logs,
    /// The error the code raised, if any. A failing cell is not an `Err`: the execution
    /// completed and reports the error here, like the official SDKs.
    pub error: Option<ExecutionError>,
    /// The kernel's execution counter for this cell (`In [n]`).
    pub execution_count: Option<u32>,
}

impl Execution {
    /// The text of the main result (the value of the cell's last expression), if any.
    pub fn text(&self) -> Option<&str> {
        self.results
            .iter()
            .find(|r| r.is_main_result)
            .and_then(|r| r.text.as_deref())
    }

    /// Fold one event into the execution.
    pub(crate) fn apply(&mut self, event: OutputEvent) {
        match event {
            OutputEvent::Stdout(m) => self.logs.stdout.push(m.line),
            OutputEvent::Stderr(m) => self.logs.stderr.push(m.line),
            OutputEvent::Result(r) => self.results.push(*r),
            OutputEvent::Error(e) => self.error = Some(e),
            OutputEvent::ExecutionCount(n) => self.execution_count = Some(n),
        }
    }
}

/// What the code printed, one entry per chunk the kernel sent (not per line).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Logs {
    /// Chunks written to standard output.
    pub stdout: Vec<String>,
    /// Chunks written to standard error.
    pub stderr: Vec<String>,
}

/// An error raised by the executed code (not a failure of the SDK).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ExecutionError {
    /// The error's name, e.g. `NameError`, `ZeroDivisionError`. The server names its own
    /// failures `ExecutionAborted`, `ContextRestarting`, `UnexpectedEndOfExecution`.
    pub name: String,
    /// The error's message.
    pub value: String,
    /// The traceback, as text.
    pub traceback: String,
}

impl fmt::Display for ExecutionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.value)
    }
}

/// A chunk of standard output or error, with the time the kernel produced it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OutputMessage {
    /// The text (a chunk as the kernel flushed it; it may hold several lines or part of one).
    pub line: String,
    /// When the kernel produced it, if the server said.
    pub timestamp: Option<DateTime<Utc>>,
    /// `true` for standard error.
    pub error: bool,
}

impl fmt::Display for OutputMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line)
    }
}

/// One piece of output of a running execution, as
/// [`run_code_stream`](crate::CodeInterpreter::run_code_stream) yields them.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum OutputEvent {
    /// The kernel's execution counter for this cell (arrives first).
    ExecutionCount(u32),
    /// Standard output.
    Stdout(OutputMessage),
    /// Standard error.
    Stderr(OutputMessage),
    /// A result: the cell's value or something it displayed (boxed: results are large).
    Result(Box<ExecutionResult>),
    /// The error the code raised.
    Error(ExecutionError),
}

/// One result of a cell: its value or a displayed object, in every representation the
/// kernel produced (upstream's `Result`).
///
/// Images (`png`, `jpeg`) are base64 as sent; [`png_bytes`](Self::png_bytes) and
/// [`jpeg_bytes`](Self::jpeg_bytes) decode them.
///
/// Serializes to the JSON the server sent (its `result` line without `type`): absent
/// representations are left out, the chart is its original JSON.
#[doc(alias = "Result")]
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ExecutionResult {
    /// `text/plain` (surrounding quotes of string values removed by the server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `text/html`, e.g. a DataFrame's table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// `text/markdown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markdown: Option<String>,
    /// `image/svg+xml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub svg: Option<String>,
    /// `image/png`, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub png: Option<String>,
    /// `image/jpeg`, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jpeg: Option<String>,
    /// `application/pdf`, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdf: Option<String>,
    /// `text/latex`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latex: Option<String>,
    /// `application/json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// `application/javascript`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub javascript: Option<String>,
    /// `e2b/data`: structured data, e.g. a DataFrame as `{column: [values…]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// `e2b/chart`: the typed data of a matplotlib figure.
    #[serde(skip)]
    pub chart: Option<Chart>,
    /// Every other MIME type the kernel produced (and any field this crate does not know).
    pub extra: Map<String, Value>,
    /// `true` for the cell's value (Jupyter's `execute_result`), `false` for displayed
    /// objects (`display_data`).
    pub is_main_result: bool,
    #[serde(rename = "chart", skip_serializing_if = "Option::is_none")]
    chart_json: Option<Value>,
}

impl ExecutionResult {
    /// Decode a `result` line's fields. Never fails: a field of an unexpected type is kept
    /// in [`extra`](Self::extra).
    pub(crate) fn from_fields(fields: Map<String, Value>) -> ExecutionResult {
        let mut r = ExecutionResult::default();
        for (key, value) in fields {
            let slot = match key.as_str() {
                "type" => continue,
                "text" => &mut r.text,
                "html" => &mut r.html,
                "markdown" => &mut r.markdown,
                "svg" => &mut r.svg,
                "png" => &mut r.png,
                "jpeg" => &mut r.jpeg,
                "pdf" => &mut r.pdf,
                "latex" => &mut r.latex,
                "javascript" => &mut r.javascript,
                "json" => {
                    r.json = Some(value).filter(|v| !v.is_null());
                    continue;
                }
                "data" => {
                    r.data = Some(value).filter(|v| !v.is_null());
                    continue;
                }
                "chart" => {
                    r.chart = Chart::from_json(&value);
                    r.chart_json = Some(value).filter(|v| !v.is_null());
                    continue;
                }
                "is_main_result" => {
                    r.is_main_result = value.as_bool().unwrap_or(false);
                    continue;
                }
                "extra" => {
                    if let Value::Object(extra) = value {
                        r.extra.extend(extra);
                    }
                    continue;
                }
                _ => {
                    r.extra.insert(key, value);
                    continue;
                }
            };
            match value {
                Value::String(s) => *slot = Some(s),
                Value::Null => {}
                other => {
                    r.extra.insert(key, other);
                }
            }
        }
        r
    }

    /// The representations present, in upstream's order: `text`, `html`, `markdown`,
    /// `svg`, `png`, `jpeg`, `pdf`, `latex`, `json`, `javascript`, `data`, `chart`, then the
    /// MIME types in [`extra`](Self::extra).
    pub fn formats(&self) -> Vec<&str> {
        let fields = [
            ("text", self.text.is_some()),
            ("html", self.html.is_some()),
            ("markdown", self.markdown.is_some()),
            ("svg", self.svg.is_some()),
            ("png", self.png.is_some()),
            ("jpeg", self.jpeg.is_some()),
            ("pdf", self.pdf.is_some()),
            ("latex", self.latex.is_some()),
            ("json", self.json.is_some()),
            ("javascript", self.javascript.is_some()),
            ("data", self.data.is_some()),
            ("chart", self.chart.is_some()),
        ];
        fields
            .into_iter()
            .filter_map(|(name, present)| present.then_some(name))
            .chain(self.extra.keys().map(String::as_str))
            .collect()
    }

    /// The chart as the server sent it (JSON), e.g. to hand to a front end.
    pub fn chart_json(&self) -> Option<&Value> {
        self.chart_json.as_ref()
    }

    /// The PNG image, decoded.
    ///
    /// # Errors
    ///
    /// A protocol error if the image is not valid base64.
    pub fn png_bytes(&self) -> Result<Option<Vec<u8>>> {
        decode_image(self.png.as_deref(), "png")
    }

    /// The JPEG image, decoded.
    ///
    /// # Errors
    ///
    /// A protocol error if the image is not valid base64.
    pub fn jpeg_bytes(&self) -> Result<Option<Vec<u8>>> {
        decode_image(self.jpeg.as_deref(), "jpeg")
    }
}

fn decode_image(encoded: Option<&str>, what: &str) -> Result<Option<Vec<u8>>> {
    let Some(encoded) = encoded else {
        return Ok(None);
    };
    // Jupyter may wrap base64 in lines.
    let compact: String = encoded.split_ascii_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map(Some)
        .map_err(|e| {
            Error::with_source(
                e2b_core::ErrorKind::Protocol {
                    message: format!("the {what} image of a result is not valid base64"),
                },
                e,
            )
        })
}

/// One line of the `/execute` stream, decoded.
#[derive(Debug, PartialEq)]
pub(crate) enum Line {
    /// Output to report.
    Event(OutputEvent),
    /// `end_of_execution`: the stream is complete.
    End,
    /// `keepalive`, a blank line or a type this crate does not know.
    Skip,
}

/// Decode one NDJSON line (without its newline).
pub(crate) fn parse_line(bytes: &[u8]) -> Result<Line> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return Ok(Line::Skip);
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        // Python's json.dumps writes NaN and Infinity, which JSON does not have.
        Err(first) => serde_json::from_str(&non_finite_to_null(text)).map_err(|_| {
            Error::with_source(
                e2b_core::ErrorKind::Protocol {
                    message: format!(
                        "the code interpreter sent a line that is not JSON: {}",
                        truncate(text, 200)
                    ),
                },
                first,
            )
        })?,
    };
    let Value::Object(mut fields) = value else {
        return Err(Error::protocol(format!(
            "the code interpreter sent a line that is not a JSON object: {}",
            truncate(text, 200)
        )));
    };
    let kind = fields
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let string = |fields: &mut Map<String, Value>, key: &str| match fields.remove(key) {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    Ok(match kind.as_str() {
        "stdout" | "stderr" => {
            let timestamp = fields
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            let message = OutputMessage {
                line: string(&mut fields, "text"),
                timestamp,
                error: kind == "stderr",
            };
            Line::Event(if message.error {
                OutputEvent::Stderr(message)
            } else {
                OutputEvent::Stdout(message)
            })
        }
        "result" => Line::Event(OutputEvent::Result(Box::new(ExecutionResult::from_fields(
            fields,
        )))),
        "error" => Line::Event(OutputEvent::Error(ExecutionError {
            name: string(&mut fields, "name"),
            value: string(&mut fields, "value"),
            traceback: string(&mut fields, "traceback"),
        })),
        "number_of_executions" => match fields.get("execution_count").and_then(Value::as_u64) {
            Some(n) => Line::Event(OutputEvent::ExecutionCount(
                u32::try_from(n).unwrap_or(u32::MAX),
            )),
            None => Line::Skip,
        },
        "end_of_execution" => Line::End,
        _ => Line::Skip,
    })
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Replace the bare tokens `NaN`, `Infinity` and `-Infinity` outside strings with `null`.
fn non_finite_to_null(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut in_string = false;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if c == '\\' {
                let escaped: String = rest.chars().take(2).collect();
                out.push_str(&escaped);
                rest = &rest[escaped.len()..];
                continue;
            }
            if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(token) = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t))
        {
            out.push_str("null");
            rest = &rest[token.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(line: &str) -> OutputEvent {
        match parse_line(line.as_bytes()).unwrap() {
            Line::Event(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_line_type() {
        assert_eq!(
            event(r#"{"type": "number_of_executions", "execution_count": 3}"#),
            OutputEvent::ExecutionCount(3)
        );
        let OutputEvent::Stdout(m) = event(
            r#"{"type": "stdout", "text": "hi\n", "timestamp": "2025-01-01T00:00:00.123456+00:00"}"#,
        ) else {
            panic!()
        };
        assert_eq!(m.line, "hi\n");
        assert!(!m.error);
        assert_eq!(
            m.timestamp.unwrap().to_rfc3339(),
            "2025-01-01T00:00:00.123456+00:00"
        );
        let OutputEvent::Stderr(m) = event(r#"{"type": "stderr", "text": "oops"}"#) else {
            panic!()
        };
        assert!(m.error && m.timestamp.is_none());
        let OutputEvent::Error(e) =
            event(r#"{"type": "error", "name": "NameError", "value": "x", "traceback": "tb"}"#)
        else {
            panic!()
        };
        assert_eq!(e.to_string(), "NameError: x");
        assert_eq!(e.traceback, "tb");
        for skip in [
            r#"{"type": "keepalive"}"#,
            r#"{"type": "brand_new"}"#,
            "",
            "  ",
        ] {
            assert_eq!(parse_line(skip.as_bytes()).unwrap(), Line::Skip, "{skip}");
        }
        assert_eq!(
            parse_line(br#"{"type": "end_of_execution"}"#).unwrap(),
            Line::End
        );
        assert!(parse_line(b"{not json").unwrap_err().is_protocol());
        assert!(parse_line(b"[1]").unwrap_err().is_protocol());
    }

    #[test]
    fn result_every_mime_field() {
        let line = json!({
            "type": "result", "text": "2", "html": "<b>2</b>", "markdown": "**2**", "svg": "<svg/>",
            "png": "iVBO\nRw==", "jpeg": "/9j/", "pdf": "JVBE", "latex": "$2$", "json": {"a": 1},
            "javascript": "alert(1)", "data": {"x": [1, 2]},
            "chart": {"type": "pie", "title": "p", "elements": []},
            "extra": {"application/vnd.custom": "c"}, "is_main_result": true, "future": 1
        });
        let OutputEvent::Result(r) = event(&line.to_string()) else {
            panic!()
        };
        assert_eq!(r.text.as_deref(), Some("2"));
        assert_eq!(r.html.as_deref(), Some("<b>2</b>"));
        assert_eq!(r.markdown.as_deref(), Some("**2**"));
        assert_eq!(r.svg.as_deref(), Some("<svg/>"));
        assert_eq!(r.pdf.as_deref(), Some("JVBE"));
        assert_eq!(r.latex.as_deref(), Some("$2$"));
        assert_eq!(r.json, Some(json!({"a": 1})));
        assert_eq!(r.javascript.as_deref(), Some("alert(1)"));
        assert_eq!(r.data, Some(json!({"x": [1, 2]})));
        assert_eq!(r.chart.as_ref().unwrap().title(), Some("p"));
        assert_eq!(r.chart_json().unwrap()["type"], "pie");
        assert!(r.is_main_result);
        assert_eq!(
            r.formats(),
            [
                "text",
                "html",
                "markdown",
                "svg",
                "png",
                "jpeg",
                "pdf",
                "latex",
                "json",
                "javascript",
                "data",
                "chart",
                "application/vnd.custom",
                "future"
            ]
        );
        assert_eq!(r.png_bytes().unwrap().unwrap(), [0x89, b'P', b'N', b'G']);
        assert!(r.jpeg_bytes().unwrap().is_some());
        let execution = Execution {
            results: vec![ExecutionResult::default(), *r],
            ..Execution::default()
        };
        assert_eq!(execution.text(), Some("2"));
    }

    #[test]
    fn odd_values_are_tolerated() {
        let OutputEvent::Result(r) =
            event(r#"{"type": "result", "text": 5, "png": "@@", "chart": {}, "data": null}"#)
        else {
            panic!()
        };
        assert_eq!(r.text, None);
        assert_eq!(r.extra["text"], 5);
        assert!(r.chart.is_none() && r.data.is_none());
        assert!(!r.is_main_result);
        assert!(r.png_bytes().unwrap_err().is_protocol());
        // NaN and Infinity from Python's json.dumps, but not inside strings.
        let OutputEvent::Result(r) = event(
            r#"{"type": "result", "text": "NaN \"Infinity\"", "chart": {"type": "pie", "elements": [{"label": "NaN", "angle": NaN, "radius": -Infinity}]}}"#,
        ) else {
            panic!()
        };
        assert_eq!(r.text.as_deref(), Some("NaN \"Infinity\""));
        let Some(Chart::Pie(pie)) = r.chart else {
            panic!()
        };
        assert_eq!(pie.elements[0].label, "NaN");
        assert!(pie.elements[0].angle.is_nan());
        // Invalid UTF-8 is replaced, not fatal.
        let OutputEvent::Stdout(m) = event_bytes(b"{\"type\": \"stdout\", \"text\": \"a\xffb\"}")
        else {
            panic!()
        };
        assert_eq!(m.line, "a\u{fffd}b");
    }

    /// Truncated and corrupted lines (a deterministic stand-in for a fuzzer) are decoded
    /// or rejected, never a panic; charts inside them never fail the line.
    #[test]
    fn mangled_lines_never_panic() {
        let valid = [
            r#"{"type": "result", "text": "2", "png": "iVBO", "is_main_result": true, "chart": {"type": "superchart", "elements": [{"type": "line", "elements": [{"label": "a", "points": [[1, 2], ["x", null]]}], "x_ticks": [1, "b"], "x_scale": "log"}, {"type": "box_and_whisker", "elements": [{"label": "b", "min": 1, "outliers": [2]}]}, {"type": "bar", "elements": [{"label": "c", "value": 3, "group": "g"}]}, {"type": "pie", "elements": [{"label": "d", "angle": 1, "radius": 2}]}]}}"#,
            r#"{"type": "stdout", "text": "hé
", "timestamp": "2025-01-01T00:00:00Z"}"#,
            r#"{"type": "error", "name": "E", "value": "v", "traceback": "t"}"#,
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for line in valid {
            let bytes = line.as_bytes();
            for end in 0..=bytes.len() {
                let _ = parse_line(&bytes[..end]);
            }
            for _ in 0..2_000 {
                let mut mangled = bytes.to_vec();
                for _ in 0..(next() % 4 + 1) {
                    let at = (next() % mangled.len() as u64) as usize;
                    let pool = b"{}[]\\\",:09-eE.nN \xff\xc3";
                    let byte = pool[(next() % pool.len() as u64) as usize];
                    mangled[at] = byte;
                }
                let _ = parse_line(&mangled);
            }
        }
    }

    /// Found by the `jupyter_message` fuzz target: serde_json's default float parser
    /// read many shortest-representation floats one ULP off (`float_roundtrip` fixes it).
    #[test]
    fn floats_are_read_exactly() {
        let line = r#"{"type": "result", "data": {"x": [1.0715660391465826e-75, -1.603964615428183e+143, 0.30000000000000004]}}"#;
        let OutputEvent::Result(r) = event(line) else {
            panic!()
        };
        let x: Vec<f64> = r.data.unwrap()["x"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(
            x,
            [
                1.0715660391465826e-75,
                -1.603964615428183e+143,
                0.30000000000000004
            ]
        );
    }

    #[test]
    fn results_serialize_to_the_wire_shape() {
        let line = json!({
            "type": "result", "text": "2", "png": "iVBO", "data": {"a": [1]},
            "chart": {"type": "pie", "title": "p", "elements": []},
            "extra": {"application/x": 1}, "is_main_result": true
        });
        let OutputEvent::Result(r) = event(&line.to_string()) else {
            panic!()
        };
        let mut expected = line.clone();
        expected.as_object_mut().unwrap().remove("type");
        assert_eq!(serde_json::to_value(&*r).unwrap(), expected);
        let execution = Execution {
            results: vec![*r],
            ..Execution::default()
        };
        let json = serde_json::to_value(&execution).unwrap();
        assert_eq!(json["logs"], json!({"stdout": [], "stderr": []}));
        assert_eq!(json["error"], Value::Null);
        assert_eq!(json["results"][0]["chart"]["title"], "p");
    }

    fn event_bytes(bytes: &[u8]) -> OutputEvent {
        match parse_line(bytes).unwrap() {
            Line::Event(e) => e,
            other => panic!("{other:?}"),
        }
    }
}
