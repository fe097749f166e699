//! Incremental UTF-8 decoding of output chunks that may split characters.

/// Decodes a byte stream chunk by chunk into text.
///
/// A character split across chunks is held back until its remaining bytes arrive; invalid
/// bytes become U+FFFD (like Python's `errors="replace"` and JavaScript's `TextDecoder`). At
/// the end, an incomplete trailing character becomes one U+FFFD.
#[derive(Debug, Default)]
pub(crate) struct Utf8Decoder {
    /// The start of a character whose remaining bytes have not arrived (at most 3 bytes).
    pending: Vec<u8>,
}

impl Utf8Decoder {
    pub(crate) fn new() -> Self {
        Utf8Decoder::default()
    }

    /// Decode the next chunk; returns the text complete so far (possibly empty).
    pub(crate) fn decode(&mut self, chunk: &[u8]) -> String {
        let joined;
        let mut input: &[u8] = if self.pending.is_empty() {
            chunk
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(chunk);
            joined = buf;
            &joined
        };
        let mut out = String::with_capacity(input.len());
        loop {
            match std::str::from_utf8(input) {
                Ok(text) => {
                    out.push_str(text);
                    return out;
                }
                Err(e) => {
                    let (valid, rest) = input.split_at(e.valid_up_to());
                    out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            input = &rest[bad..];
                        }
                        None => {
                            // An incomplete character at the end: wait for the rest.
                            self.pending.extend_from_slice(rest);
                            return out;
                        }
                    }
                }
            }
        }
    }

    /// The end of the stream: an incomplete trailing character becomes U+FFFD.
    pub(crate) fn finish(&mut self) -> String {
        if self.pending.is_empty() {
            String::new()
        } else {
            self.pending.clear();
            char::REPLACEMENT_CHARACTER.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in(chunks: &[&[u8]]) -> String {
        let mut d = Utf8Decoder::new();
        let mut out: String = chunks.iter().map(|c| d.decode(c)).collect();
        out.push_str(&d.finish());
        out
    }

    #[test]
    fn every_split_of_multibyte_text_decodes_whole() {
        let text = "aé€😀z";
        let bytes = text.as_bytes();
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let out = decode_in(&[&bytes[..i], &bytes[i..j], &bytes[j..]]);
                assert_eq!(out, text, "split at {i}, {j}");
            }
        }
        // One byte at a time.
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode_in(&singles), text);
    }

    #[test]
    fn split_character_is_held_back_until_complete() {
        let mut d = Utf8Decoder::new();
        let euro = "€".as_bytes();
        assert_eq!(d.decode(&euro[..1]), "");
        assert_eq!(d.decode(&euro[1..2]), "");
        assert_eq!(d.decode(&euro[2..]), "€");
        assert_eq!(d.finish(), "");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        assert_eq!(decode_in(&[b"a\xffb"]), "a\u{fffd}b");
        assert_eq!(decode_in(&[b"a\xc3", b"(b"]), "a\u{fffd}(b");
        // A truncated sequence followed by a valid character.
        assert_eq!(decode_in(&[b"\xe2\x82", b"A"]), "\u{fffd}A");
        // Incomplete at the very end.
        assert_eq!(decode_in(&[b"ok\xf0\x9f"]), "ok\u{fffd}");
        // Surrogates and overlong encodings are invalid.
        assert_eq!(decode_in(&[b"\xed\xa0\x80"]), "\u{fffd}\u{fffd}\u{fffd}");
        assert_eq!(decode_in(&[b"\xc0\xaf"]), "\u{fffd}\u{fffd}");
    }

    #[test]
    fn empty_chunks_are_harmless() {
        let mut d = Utf8Decoder::new();
        assert_eq!(d.decode(b""), "");
        assert_eq!(d.decode("é".as_bytes()), "é");
        assert_eq!(d.decode(b""), "");
        assert_eq!(d.finish(), "");
    }
}
