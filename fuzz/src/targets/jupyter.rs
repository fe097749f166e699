//! Jupyter messages from a kernel (code running inside the sandbox writes
//! them), through the agent's conversion to `/execute` lines, into the SDK.

use e2b_code_interpreter::OutputEvent;
use e2b_code_interpreter::fuzzing::{self as sdk, Line};
use e2b_local::fuzzing::ExecutionLines;
use e2b_local::jupyter::hmac::HmacSha256;
use e2b_local::jupyter::message::{Codec, DELIMITER, Message, WireError};
use serde_json::{Value, json};

use crate::input::{SEP, all_fields, join, param};

const KEY: &[u8] = b"6c4ad1a3-e2b-fuzz-key";

pub(crate) const DICTIONARY: &[&[u8]] = &[
    b"<IDS|MSG>",
    b"\"msg_type\"",
    b"\"msg_id\"",
    b"\"parent_header\"",
    b"\"content\"",
    b"stream",
    b"execute_result",
    b"display_data",
    b"execute_input",
    b"execute_reply",
    b"error",
    b"status",
    b"\"name\"",
    b"\"stdout\"",
    b"\"text\"",
    b"\"data\"",
    b"\"text/plain\"",
    b"\"image/png\"",
    b"\"e2b/chart\"",
    b"\"execution_count\"",
    b"\"ename\"",
    b"\"evalue\"",
    b"\"traceback\"",
    b"'quoted'",
];

/// `params` (signing) `SEP` frame `SEP` frame …; with `params & 2` the
/// signature frame is recomputed, so that mutated JSON reaches the parser.
pub(crate) fn message(data: &[u8]) {
    let parts = all_fields(data);
    let (params, frames) = parts
        .split_first()
        .map_or((&[][..], &[][..]), |(p, f)| (*p, f));
    let keyed = param(params, 0) & 1 == 1;
    let key: &[u8] = if keyed { KEY } else { b"" };
    let codec = Codec::new(key);
    let mut frames: Vec<Vec<u8>> = frames.iter().map(|f| f.to_vec()).collect();
    if keyed
        && param(params, 0) & 2 == 2
        && let Some(at) = frames.iter().position(|f| f == DELIMITER)
        && frames.len() >= at + 6
    {
        let parts: Vec<&[u8]> = frames[at + 2..at + 6].iter().map(Vec::as_slice).collect();
        frames[at + 1] = HmacSha256::new(KEY).hex_mac(&parts).into_bytes();
    }
    check_hmac(&frames);
    let (identities, message) = match codec.decode(&frames) {
        Ok(decoded) => decoded,
        Err(WireError::Malformed(_) | WireError::BadSignature | WireError::Json { .. }) => return,
    };
    let encoded = codec.encode(&identities, &message);
    let (identities2, message2) = codec
        .decode(&encoded)
        .unwrap_or_else(|e| panic!("own encoding of {message:?} does not decode: {e}"));
    assert_eq!(identities2, identities);
    assert_eq!(message2, message, "message changed in a round trip");
    if keyed {
        assert_eq!(
            Codec::new(b"another key").decode(&encoded),
            Err(WireError::BadSignature)
        );
    }
    check_lines(&message);
}

fn check_hmac(frames: &[Vec<u8>]) {
    let Some((key, parts)) = frames.split_first() else {
        return;
    };
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let mac = HmacSha256::new(key);
    let hex = mac.hex_mac(&parts);
    assert!(mac.verify(&parts, hex.as_bytes()));
    assert!(mac.verify(&parts, hex.to_uppercase().as_bytes()));
    assert!(!mac.verify(&parts, &hex.as_bytes()[1..]));
    let joined = parts.concat();
    assert_eq!(mac.mac(&[joined.as_slice()]), mac.mac(&parts));
}

/// Every line the agent writes for a kernel message decodes in the SDK,
/// as the event the line announces.
fn check_lines(message: &Message) {
    let mut lines = ExecutionLines::new();
    let mut produced: Vec<Value> = lines.iopub(message).into_iter().collect();
    produced.extend(lines.reply(message));
    for line in produced {
        let text = serde_json::to_vec(&line).expect("lines serialize");
        let decoded = sdk::parse_line(&text)
            .unwrap_or_else(|e| panic!("the SDK refuses the agent's line {line}: {e}"));
        let kind = line["type"].as_str().unwrap_or_default();
        match (kind, &decoded) {
            ("stdout", Line::Event(OutputEvent::Stdout(m)))
            | ("stderr", Line::Event(OutputEvent::Stderr(m))) => {
                assert_eq!(Some(m.line.as_str()), line["text"].as_str());
            }
            ("result", Line::Event(OutputEvent::Result(_)))
            | ("error", Line::Event(OutputEvent::Error(_)))
            | ("number_of_executions", Line::Event(OutputEvent::ExecutionCount(_))) => {}
            // A kernel's count that is not a number is left out, not an error.
            ("number_of_executions", Line::Skip) => {
                assert!(!line["execution_count"].is_u64(), "{line}");
            }
            _ => panic!("the agent wrote {line}, the SDK read {decoded:?}"),
        }
    }
}

fn frames_of(key: &[u8], message: &Message) -> Vec<u8> {
    let frames = Codec::new(key).encode(&[b"kernel-1".to_vec()], message);
    let params = if key.is_empty() { 0u8 } else { 3 };
    let mut out = vec![params];
    for frame in frames {
        debug_assert!(!frame.contains(&SEP));
        out.push(SEP);
        out.extend(frame);
    }
    out
}

pub(crate) fn seeds() -> Vec<Vec<u8>> {
    let session = "fuzz-session";
    let reply_to = |mut m: Message| {
        m.parent_header = json!({"msg_id": "fuzz-session_1", "msg_type": "execute_request"});
        m
    };
    let messages = [
        Message::new(session, "status", json!({"execution_state": "busy"})),
        Message::new(
            session,
            "execute_input",
            json!({"code": "1+1", "execution_count": 4}),
        ),
        Message::new(
            session,
            "stream",
            json!({"name": "stdout", "text": "hello\n"}),
        ),
        Message::new(
            session,
            "stream",
            json!({"name": "stderr", "text": "caf\u{e9}\n"}),
        ),
        Message::new(
            session,
            "execute_result",
            json!({"execution_count": 4, "data": {"text/plain": "'2'", "text/html": "<b>2</b>",
                   "e2b/data": {"a": [1, 2]}, "application/x-custom": {"k": 1}}, "metadata": {}}),
        ),
        Message::new(
            session,
            "display_data",
            json!({"data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure size 640x480>",
                   "e2b/chart": {"type": "pie", "elements": [{"label": "a", "angle": 360, "radius": 1}]}},
                   "metadata": {}}),
        ),
        Message::new(
            session,
            "error",
            json!({"ename": "ZeroDivisionError", "evalue": "division by zero",
                   "traceback": ["\u{1b}[0;31m---\u{1b}[0m", "ZeroDivisionError: division by zero"]}),
        ),
        Message::new(
            session,
            "execute_reply",
            json!({"status": "error", "execution_count": 5, "ename": "", "evalue": ""}),
        ),
        Message::new(
            session,
            "execute_reply",
            json!({"status": "ok", "execution_count": 6}),
        ),
    ];
    let mut seeds = Vec::new();
    for message in messages {
        let message = reply_to(message);
        seeds.push(frames_of(KEY, &message));
        seeds.push(frames_of(b"", &message));
    }
    // Signed and not re-signed (mutations break the signature), and too few frames.
    let mut stale = frames_of(KEY, &reply_to(Message::new(session, "stream", json!({}))));
    stale[0] = 1;
    seeds.push(stale);
    seeds.push(join([&[0][..], b"<IDS|MSG>", b"", b"{}"]));
    seeds
}
