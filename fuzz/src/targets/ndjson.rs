//! The code interpreter's `/execute` stream as the SDK decodes it.

use bytes::Bytes;
use e2b_code_interpreter::fuzzing::{self, Line};
use e2b_code_interpreter::{Error, OutputEvent};

use crate::input::{block_on, chunks, fields, join, param};

pub(crate) const DICTIONARY: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b"{\"type\": \"",
    b"\"type\"",
    b"stdout",
    b"stderr",
    b"result",
    b"error",
    b"number_of_executions",
    b"end_of_execution",
    b"keepalive",
    b"\"text\"",
    b"\"timestamp\"",
    b"\"execution_count\"",
    b"\"is_main_result\"",
    b"\"extra\"",
    b"\"png\"",
    b"\"chart\"",
    b"\"data\"",
    b"\"json\"",
    b"\"elements\"",
    b"\"points\"",
    b"\"x_scale\"",
    b"\"superchart\"",
    b"\"box_and_whisker\"",
    b"\"traceback\"",
    b"NaN",
    b"-Infinity",
    b"2025-01-01T00:00:00.123456Z",
];

/// An item of the stream, comparable.
fn show(item: &Result<OutputEvent, Error>) -> String {
    match item {
        Ok(event) => format!("{event:?}"),
        Err(e) => format!("error: {e}"),
    }
}

/// What the stream must yield for `body`, from the line decoder alone: the
/// events of its lines up to the end marker or the first bad line; a stream
/// that stops without the marker ends with an error.
fn model(body: &[u8]) -> Vec<String> {
    let mut items = Vec::new();
    let mut lines: Vec<&[u8]> = body.split(|b| *b == b'\n').collect();
    let rest = lines.pop().unwrap_or_default();
    for line in lines {
        match fuzzing::parse_line(line) {
            Ok(Line::Event(event)) => items.push(format!("{event:?}")),
            Ok(Line::End) => return items,
            Ok(Line::Skip) => {}
            Err(e) => {
                items.push(format!("error: {e}"));
                return items;
            }
        }
    }
    match fuzzing::parse_line(rest) {
        Ok(Line::End) => return items,
        Ok(Line::Event(event)) => items.push(format!("{event:?}")),
        Ok(Line::Skip) => {}
        Err(e) => {
            items.push(format!("error: {e}"));
            return items;
        }
    }
    items.push("error: closed early".into());
    items
}

/// `params` (chunking) `SEP` the response body.
pub(crate) fn execution(data: &[u8]) {
    let [params, body] = fields::<2>(data);
    let whole = block_on(fuzzing::decode_stream(vec![Bytes::copy_from_slice(body)]));
    let split = block_on(fuzzing::decode_stream(chunks(body, param(params, 0))));
    let whole_shown: Vec<String> = whole.iter().map(show).collect();
    let split_shown: Vec<String> = split.iter().map(show).collect();
    assert_eq!(split_shown, whole_shown, "chunking changed the stream");
    let mut expected = model(body);
    // The transport error's wording is the stream's own.
    if let (Some(last), Some(Err(e))) = (expected.last_mut(), whole.last())
        && last == "error: closed early"
        && e.is_transport()
    {
        *last = show(&whole[whole.len() - 1]);
    }
    assert_eq!(whole_shown, expected, "the stream disagrees with its lines");
    for item in &whole {
        match item {
            Ok(OutputEvent::Result(result)) => {
                // Results serialize to the wire shape, which decodes to the same result.
                let mut line = serde_json::to_value(&**result).expect("results serialize");
                line["type"] = "result".into();
                let text = serde_json::to_vec(&line).unwrap();
                match fuzzing::parse_line(&text) {
                    // Compared as printed: NaN (a box plot's missing minimum) is not
                    // equal to itself.
                    Ok(Line::Event(OutputEvent::Result(back))) => assert_eq!(
                        format!("{back:?}"),
                        format!("{result:?}"),
                        "result changed in a round trip: {line}"
                    ),
                    other => panic!("a serialized result decodes as {other:?}"),
                }
                let _ = (result.png_bytes(), result.jpeg_bytes(), result.formats());
            }
            Ok(_) => {}
            Err(e) => assert!(e.is_protocol() || e.is_transport(), "untyped error: {e:?}"),
        }
    }
    if whole.iter().all(Result::is_ok) {
        let execution = block_on(fuzzing::decode_execution(vec![Bytes::copy_from_slice(
            body,
        )]))
        .expect("a stream without errors folds");
        let results = whole
            .iter()
            .filter(|i| matches!(i, Ok(OutputEvent::Result(_))))
            .count();
        assert_eq!(execution.results.len(), results);
    }
}

pub(crate) fn seeds() -> Vec<Vec<u8>> {
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==";
    let chart = r#"{"type": "superchart", "title": "t", "elements": [{"type": "line", "title": "l", "x_label": "x", "y_label": "y", "x_unit": null, "y_unit": "s", "x_ticks": [1, 2], "x_tick_labels": ["1", "2"], "x_scale": "linear", "y_ticks": [0.5], "y_tick_labels": ["0.5"], "y_scale": "log", "elements": [{"label": "a", "points": [[1, 2], [2, NaN]]}]}, {"type": "scatter", "elements": [{"label": "s", "points": [["2025-01-01T00:00:00", 1]]}]}, {"type": "bar", "elements": [{"label": "b", "value": 3, "group": "g"}]}, {"type": "pie", "elements": [{"label": "p", "angle": 90, "radius": 1}]}, {"type": "box_and_whisker", "elements": [{"label": "w", "min": 0, "first_quartile": 1, "median": 2, "third_quartile": 3, "max": 4, "outliers": [9]}]}]}"#;
    let lines = [
        r#"{"type": "number_of_executions", "execution_count": 3}"#.to_owned(),
        r#"{"type": "stdout", "text": "hello\n", "timestamp": "2025-01-01T00:00:00.123456Z"}"#
            .to_owned(),
        r#"{"type": "stderr", "text": "warn\n", "timestamp": "2025-01-01T00:00:01Z"}"#.to_owned(),
        r#"{"type": "keepalive"}"#.to_owned(),
        format!(
            r#"{{"type": "result", "text": "<Figure>", "png": "{png}", "chart": {chart}, "extra": {{"application/vnd.custom": {{"a": 1}}}}, "is_main_result": false}}"#
        ),
        r#"{"type": "result", "text": "2", "html": "<b>2</b>", "data": {"a": [1, 2]}, "json": {"k": [true, null]}, "is_main_result": true}"#.to_owned(),
        r#"{"type": "error", "name": "ZeroDivisionError", "value": "division by zero", "traceback": "Traceback (most recent call last):\n  ..."}"#.to_owned(),
        r#"{"type": "end_of_execution"}"#.to_owned(),
    ];
    let body = lines.join("\n") + "\n";
    let mut seeds = vec![
        join([&[0][..], body.as_bytes()]),
        join([&[7][..], body.as_bytes()]),
        join([&[1][..], lines[..3].join("\n").as_bytes()]),
        join([&[0][..], b"not json\n"]),
        join([
            &[3][..],
            &b"{\"type\": \"stdout\", \"text\": \"a\xffb\"}\r\n"[..],
        ]),
    ];
    for line in &lines {
        seeds.push(join([&[0][..], line.as_bytes()]));
    }
    seeds
}
