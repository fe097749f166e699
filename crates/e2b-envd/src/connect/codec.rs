//! Message codecs: Connect JSON (ProtoJSON) and binary protobuf.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::Error;

/// A message type the runtime can send and receive with either codec.
pub trait Message:
    prost::Message + Default + Serialize + DeserializeOwned + Send + 'static
{
}

impl<T> Message for T where
    T: prost::Message + Default + Serialize + DeserializeOwned + Send + 'static
{
}

/// A message that may arrive on a server stream. Keepalive messages (sent by
/// envd during silence) are consumed by the runtime — they reset the idle
/// timer — and never handed to the caller.
pub trait StreamMessage: Message {
    /// Whether this message only keeps the stream alive.
    fn is_keepalive(&self) -> bool;
}

/// The wire encoding of messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// Proto3 JSON mapping — what the official SDKs and envd speak by default.
    #[default]
    Json,
    /// Binary protobuf.
    Proto,
}

impl Codec {
    /// `Content-Type` of unary requests and responses.
    pub fn unary_content_type(self) -> &'static str {
        match self {
            Codec::Json => "application/json",
            Codec::Proto => "application/proto",
        }
    }

    /// `Content-Type` of streaming requests and responses.
    pub fn stream_content_type(self) -> &'static str {
        match self {
            Codec::Json => "application/connect+json",
            Codec::Proto => "application/connect+proto",
        }
    }

    /// Recognise a request or response content type: the codec and whether it
    /// is the streaming form. Parameters such as `charset` are ignored.
    pub fn from_content_type(content_type: &str) -> Option<(Codec, bool)> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" => Some((Codec::Json, false)),
            "application/proto" => Some((Codec::Proto, false)),
            "application/connect+json" => Some((Codec::Json, true)),
            "application/connect+proto" => Some((Codec::Proto, true)),
            _ => None,
        }
    }

    /// Encode a message.
    pub fn encode<M: Message>(self, message: &M) -> Result<Bytes, Error> {
        match self {
            Codec::Json => serde_json::to_vec(message)
                .map(Bytes::from)
                .map_err(|e| Error::Codec(format!("encoding JSON: {e}"))),
            Codec::Proto => Ok(Bytes::from(message.encode_to_vec())),
        }
    }

    /// Decode a message. JSON accepts both `lowerCamelCase` and proto field
    /// names and ignores unknown fields.
    pub fn decode<M: Message>(self, bytes: &[u8]) -> Result<M, Error> {
        match self {
            Codec::Json => {
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return Ok(M::default());
                }
                serde_json::from_slice(bytes)
                    .map_err(|e| Error::Codec(format!("decoding JSON: {e}")))
            }
            Codec::Proto => {
                M::decode(bytes).map_err(|e| Error::Codec(format!("decoding protobuf: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            Codec::from_content_type("application/json; charset=utf-8"),
            Some((Codec::Json, false))
        );
        assert_eq!(
            Codec::from_content_type("Application/Connect+Proto"),
            Some((Codec::Proto, true))
        );
        assert_eq!(Codec::from_content_type("text/plain"), None);
        for codec in [Codec::Json, Codec::Proto] {
            assert_eq!(
                Codec::from_content_type(codec.unary_content_type()),
                Some((codec, false))
            );
            assert_eq!(
                Codec::from_content_type(codec.stream_content_type()),
                Some((codec, true))
            );
        }
    }
}
