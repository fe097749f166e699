//! Connect envelope framing for streams: `flags:u8 | length:u32 BE | payload`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::code::Code;
use super::error::{ConnectError, Error};

/// The payload is compressed (never produced by this runtime).
pub const FLAG_COMPRESSED: u8 = 0b01;
/// The frame is the end-of-stream message.
pub const FLAG_END_STREAM: u8 = 0b10;

/// Largest message accepted by default (64 MiB): a stream frame announcing more
/// is a protocol error rather than an allocation.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// One decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Frame flags.
    pub flags: u8,
    /// The message (or end-of-stream JSON) bytes.
    pub payload: Bytes,
}

impl Frame {
    /// Whether this is the end-of-stream frame.
    pub fn is_end_stream(&self) -> bool {
        self.flags & FLAG_END_STREAM != 0
    }
}

/// Frame `payload` with `flags`.
pub fn encode(flags: u8, payload: &[u8]) -> Result<Bytes, Error> {
    let len = u32::try_from(payload.len()).map_err(|_| {
        Error::Codec(format!(
            "message of {} bytes is too large to frame",
            payload.len()
        ))
    })?;
    let mut buf = BytesMut::with_capacity(5 + payload.len());
    buf.put_u8(flags);
    buf.put_u32(len);
    buf.put_slice(payload);
    Ok(buf.freeze())
}

/// Incremental decoder: feed bytes as they arrive, take whole frames out.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    max_message_size: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_MAX_MESSAGE_SIZE)
    }
}

impl Decoder {
    /// A decoder refusing frames larger than `max_message_size`.
    pub fn new(max_message_size: usize) -> Self {
        Decoder {
            buf: BytesMut::new(),
            max_message_size,
        }
    }

    /// Append received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete frame, if one has fully arrived.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, Error> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let flags = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > self.max_message_size {
            return Err(Error::Protocol(format!(
                "message of {len} bytes exceeds the limit of {} bytes",
                self.max_message_size
            )));
        }
        if flags & FLAG_COMPRESSED != 0 {
            return Err(Error::Protocol(
                "received a compressed message, but no compression was negotiated".into(),
            ));
        }
        if flags & !(FLAG_COMPRESSED | FLAG_END_STREAM) != 0 {
            return Err(Error::Protocol(format!(
                "invalid envelope flags {flags:#04x}"
            )));
        }
        if self.buf.len() < 5 + len {
            self.buf.reserve(5 + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(5);
        let payload = self.buf.split_to(len).freeze();
        Ok(Some(Frame { flags, payload }))
    }

    /// Bytes received but not yet part of a complete frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// The content of an end-of-stream frame.
#[derive(Clone, Debug, Default)]
pub struct EndOfStream {
    /// The stream's error, if it failed.
    pub error: Option<ConnectError>,
    /// Trailing metadata.
    pub metadata: http::HeaderMap,
}

impl EndOfStream {
    /// Parse the JSON payload of an end-of-stream frame.
    pub fn parse(payload: &[u8]) -> Result<Self, Error> {
        let value: serde_json::Value = if payload.is_empty() {
            serde_json::Value::Object(Default::default())
        } else {
            serde_json::from_slice(payload)
                .map_err(|e| Error::Protocol(format!("malformed end-of-stream message: {e}")))?
        };
        let mut metadata = http::HeaderMap::new();
        if let Some(md) = value.get("metadata").and_then(|m| m.as_object()) {
            for (key, values) in md {
                let Ok(name) = http::HeaderName::try_from(key.as_str()) else {
                    continue;
                };
                for v in values.as_array().into_iter().flatten() {
                    if let Some(v) = v.as_str().and_then(|v| http::HeaderValue::try_from(v).ok()) {
                        metadata.append(name.clone(), v);
                    }
                }
            }
        }
        let error = match value.get("error") {
            None | Some(serde_json::Value::Null) => None,
            Some(err) => {
                let mut e = ConnectError::from_json(err).unwrap_or_else(|| {
                    ConnectError::new(
                        Code::Unknown,
                        err.get("message")
                            .and_then(|m| m.as_str())
                            .unwrap_or_default(),
                    )
                });
                e.metadata = metadata.clone();
                Some(e)
            }
        };
        Ok(EndOfStream { error, metadata })
    }

    /// The JSON payload for this end-of-stream frame.
    pub fn to_json(&self) -> Vec<u8> {
        let mut obj = serde_json::Map::new();
        if let Some(e) = &self.error {
            obj.insert("error".into(), e.to_json());
        }
        if !self.metadata.is_empty() {
            let mut md = serde_json::Map::new();
            for key in self.metadata.keys() {
                let values: Vec<serde_json::Value> = self
                    .metadata
                    .get_all(key)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(|v| v.into())
                    .collect();
                md.insert(key.as_str().to_owned(), values.into());
            }
            obj.insert("metadata".into(), md.into());
        }
        serde_json::to_vec(&serde_json::Value::Object(obj)).unwrap_or_else(|_| b"{}".to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere() {
        let a = encode(0, br#"{"event":{"start":{"pid":123}}}"#).unwrap();
        let b = encode(FLAG_END_STREAM, b"{}").unwrap();
        let wire: Vec<u8> = [a.as_ref(), b.as_ref()].concat();
        assert_eq!(&a[..5], &[0, 0, 0, 0, 31]);
        for split in 0..wire.len() {
            let mut d = Decoder::default();
            let mut frames = Vec::new();
            for part in [&wire[..split], &wire[split..]] {
                d.push(part);
                while let Some(f) = d.next_frame().unwrap() {
                    frames.push(f);
                }
            }
            assert_eq!(frames.len(), 2, "split at {split}");
            assert!(!frames[0].is_end_stream());
            assert!(frames[1].is_end_stream());
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn oversized_frame_is_refused_before_buffering() {
        let mut d = Decoder::new(10);
        d.push(&[0, 0, 0, 0, 11]);
        assert!(matches!(d.next_frame(), Err(Error::Protocol(_))));
    }

    #[test]
    fn compressed_and_unknown_flags_are_refused() {
        for flags in [FLAG_COMPRESSED, 0x80] {
            let mut d = Decoder::default();
            d.push(&encode(flags, b"x").unwrap());
            assert!(matches!(d.next_frame(), Err(Error::Protocol(_))));
        }
    }

    #[test]
    fn end_of_stream_error_and_metadata() {
        let eos = EndOfStream::parse(
            br#"{"error":{"code":"deadline_exceeded","message":"too slow"},"metadata":{"x-a":["1","2"]}}"#,
        )
        .unwrap();
        let err = eos.error.unwrap();
        assert_eq!(err.code, Code::DeadlineExceeded);
        assert_eq!(err.message, "too slow");
        assert_eq!(eos.metadata.get_all("x-a").iter().count(), 2);
        let ok = EndOfStream::parse(b"{}").unwrap();
        assert!(ok.error.is_none());
        assert!(EndOfStream::parse(b"{oops").is_err());
    }

    #[test]
    fn end_of_stream_round_trip() {
        let mut eos = EndOfStream {
            error: Some(ConnectError::new(Code::NotFound, "gone")),
            ..Default::default()
        };
        eos.metadata.insert("x-k", "v".parse().unwrap());
        let back = EndOfStream::parse(&eos.to_json()).unwrap();
        assert_eq!(back.error.unwrap().code, Code::NotFound);
        assert_eq!(back.metadata.get("x-k").unwrap(), "v");
    }
}
