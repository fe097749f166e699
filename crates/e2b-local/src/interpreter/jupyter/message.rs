//! Jupyter messages on the wire: identities, `<IDS|MSG>`, the HMAC signature,
//! then header, parent header, metadata and content as JSON, then buffers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::hmac::HmacSha256;

/// The delimiter between routing identities and the message.
pub const DELIMITER: &[u8] = b"<IDS|MSG>";

/// The messaging protocol version this client speaks.
pub const PROTOCOL_VERSION: &str = "5.3";

/// A message header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Unique per message.
    pub msg_id: String,
    /// The sending session (some kernels leave it out of their first messages).
    #[serde(default)]
    pub session: String,
    /// The sending user.
    #[serde(default)]
    pub username: String,
    /// ISO 8601 time of sending.
    #[serde(default)]
    pub date: String,
    /// `execute_request`, `stream`, `status`, …
    pub msg_type: String,
    /// Protocol version.
    #[serde(default)]
    pub version: String,
}

/// One message (without routing identities).
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// This message's header.
    pub header: Header,
    /// The header of the message this answers (`{}` when none).
    pub parent_header: Value,
    /// Free-form metadata.
    pub metadata: Value,
    /// Type-specific content.
    pub content: Value,
    /// Binary buffers.
    pub buffers: Vec<Vec<u8>>,
}

impl Message {
    /// A new message of `msg_type` from `session`, answering no one.
    pub fn new(session: &str, msg_type: &str, content: Value) -> Self {
        Self {
            header: Header {
                msg_id: next_message_id(session),
                session: session.to_owned(),
                username: "e2b".to_owned(),
                date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                msg_type: msg_type.to_owned(),
                version: PROTOCOL_VERSION.to_owned(),
            },
            parent_header: Value::Object(Default::default()),
            metadata: Value::Object(Default::default()),
            content,
            buffers: Vec::new(),
        }
    }

    /// The `msg_id` of the parent, when there is one.
    pub fn parent_id(&self) -> Option<&str> {
        self.parent_header.get("msg_id").and_then(Value::as_str)
    }
}

/// `<session>_<n>`: unique within a session, which is what replies are matched by.
fn next_message_id(session: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{session}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Why frames are not a valid message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// No `<IDS|MSG>` delimiter, or too few frames after it.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// The signature does not match.
    #[error("message signature does not match")]
    BadSignature,
    /// A JSON part does not parse.
    #[error("invalid JSON in the {part}: {detail}")]
    Json {
        /// Which part.
        part: &'static str,
        /// The parser's complaint.
        detail: String,
    },
}

/// Signs outgoing and verifies incoming messages under a connection's key.
#[derive(Clone, Debug)]
pub struct Codec {
    mac: Option<HmacSha256>,
}

impl Codec {
    /// A codec for `key`; an empty key means unsigned messages (as Jupyter does).
    pub fn new(key: &[u8]) -> Self {
        Self {
            mac: (!key.is_empty()).then(|| HmacSha256::new(key)),
        }
    }

    /// The frames of `message` after `identities`.
    pub fn encode(&self, identities: &[Vec<u8>], message: &Message) -> Vec<Vec<u8>> {
        // Serialising plain structs and `Value`s cannot fail.
        let header = serde_json::to_vec(&message.header).unwrap_or_default();
        let parent = serde_json::to_vec(&message.parent_header).unwrap_or_default();
        let metadata = serde_json::to_vec(&message.metadata).unwrap_or_default();
        let content = serde_json::to_vec(&message.content).unwrap_or_default();
        let signature = self
            .mac
            .as_ref()
            .map(|m| m.hex_mac(&[&header, &parent, &metadata, &content]))
            .unwrap_or_default();
        let mut frames = identities.to_vec();
        frames.push(DELIMITER.to_vec());
        frames.push(signature.into_bytes());
        frames.extend([header, parent, metadata, content]);
        frames.extend(message.buffers.iter().cloned());
        frames
    }

    /// The identities and message in `frames`, after checking the signature.
    pub fn decode(&self, frames: &[Vec<u8>]) -> Result<(Vec<Vec<u8>>, Message), WireError> {
        let split = frames
            .iter()
            .position(|f| f == DELIMITER)
            .ok_or(WireError::Malformed("no <IDS|MSG> delimiter"))?;
        let rest = &frames[split + 1..];
        if rest.len() < 5 {
            return Err(WireError::Malformed(
                "fewer than five frames after the delimiter",
            ));
        }
        if let Some(mac) = &self.mac {
            let parts = [&rest[1][..], &rest[2][..], &rest[3][..], &rest[4][..]];
            if !mac.verify(&parts, &rest[0]) {
                return Err(WireError::BadSignature);
            }
        }
        // Invalid UTF-8 is replaced, not refused: jupyter_client encodes
        // undecodable bytes (a Latin-1 file name printed by Python) as they are.
        let header = serde_json::from_str(&String::from_utf8_lossy(&rest[1])).map_err(|e| {
            WireError::Json {
                part: "header",
                detail: e.to_string(),
            }
        })?;
        let json = |part: &'static str, bytes: &[u8]| {
            serde_json::from_str::<Value>(&String::from_utf8_lossy(bytes)).map_err(|e| {
                WireError::Json {
                    part,
                    detail: e.to_string(),
                }
            })
        };
        let message = Message {
            header,
            parent_header: json("parent header", &rest[2])?,
            metadata: json("metadata", &rest[3])?,
            content: json("content", &rest[4])?,
            buffers: rest[5..].to_vec(),
        };
        Ok((frames[..split].to_vec(), message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_with_identities_and_buffers() {
        let codec = Codec::new(b"secret");
        let mut msg = Message::new("s1", "execute_request", json!({"code": "1+1"}));
        msg.buffers.push(vec![0, 1, 2]);
        let frames = codec.encode(&[b"peer".to_vec()], &msg);
        let (ids, back) = codec.decode(&frames).unwrap();
        assert_eq!(ids, vec![b"peer".to_vec()]);
        assert_eq!(back, msg);
        assert_eq!(back.parent_id(), None);
    }

    /// Found by the `jupyter_message` fuzz target: a kernel's floats were read
    /// one ULP off, and so changed on their way to the SDK (`float_roundtrip`).
    #[test]
    fn floats_survive_decoding_and_encoding() {
        let codec = Codec::new(b"key");
        let value = -1.81996730402717e-179_f64;
        let msg = Message::new(
            "s",
            "execute_result",
            json!({"data": {"e2b/data": [value]}}),
        );
        let (_, back) = codec.decode(&codec.encode(&[], &msg)).unwrap();
        assert_eq!(back.content["data"]["e2b/data"][0].as_f64(), Some(value));
        let text = br#"[1.0715660391465826e-75, 0.30000000000000004]"#;
        let parsed: Vec<f64> = serde_json::from_slice(text).unwrap();
        assert_eq!(parsed, [1.0715660391465826e-75, 0.30000000000000004]);
    }

    #[test]
    fn invalid_utf8_in_content_is_replaced() {
        let codec = Codec::new(b"key");
        let msg = Message::new("s", "stream", serde_json::json!({}));
        let mut frames = codec.encode(&[], &msg);
        // `{"text": "caf\xe9\n"}` with a raw Latin-1 byte, signed like the rest.
        let content = [&br#"{"text": "caf"#[..], &[0xe9], &br#"\n"}"#[..]].concat();
        frames[5] = content;
        let parts = [
            &frames[2][..],
            &frames[3][..],
            &frames[4][..],
            &frames[5][..],
        ];
        frames[1] = HmacSha256::new(b"key").hex_mac(&parts).into_bytes();
        let (_, decoded) = codec.decode(&frames).expect("decoded despite the bad byte");
        assert_eq!(decoded.content["text"], "caf\u{fffd}\n");
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        let codec = Codec::new(b"secret");
        let frames = codec.encode(&[], &Message::new("s", "x", json!({})));
        let mut tampered = frames.clone();
        tampered[5] = br#"{"evil":1}"#.to_vec();
        assert_eq!(codec.decode(&tampered), Err(WireError::BadSignature));
        assert!(matches!(
            Codec::new(b"other").decode(&frames),
            Err(WireError::BadSignature)
        ));
        assert!(matches!(
            codec.decode(&frames[1..]),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            codec.decode(&frames[..4]),
            Err(WireError::Malformed(_))
        ));
        let mut garbage = frames.clone();
        garbage[2] = b"not json".to_vec();
        let unsigned = Codec::new(b"");
        let garbage = {
            let mut g = unsigned.encode(&[], &Message::new("s", "x", json!({})));
            g[2] = garbage[2].clone();
            g
        };
        assert!(matches!(
            unsigned.decode(&garbage),
            Err(WireError::Json { part: "header", .. })
        ));
    }
}
