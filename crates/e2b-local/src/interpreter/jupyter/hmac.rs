//! HMAC-SHA256 (RFC 2104) over `sha2`, the signature scheme of Jupyter messages.

use sha2::{Digest, Sha256};

const BLOCK: usize = 64;

/// A keyed HMAC-SHA256.
#[derive(Clone)]
pub struct HmacSha256 {
    inner_pad: [u8; BLOCK],
    outer_pad: [u8; BLOCK],
}

impl std::fmt::Debug for HmacSha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key material stays out of logs.
        f.write_str("HmacSha256(..)")
    }
}

impl HmacSha256 {
    /// A MAC under `key` (any length; longer than a block is hashed first).
    pub fn new(key: &[u8]) -> Self {
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut inner_pad = [0x36u8; BLOCK];
        let mut outer_pad = [0x5cu8; BLOCK];
        for i in 0..BLOCK {
            inner_pad[i] ^= block[i];
            outer_pad[i] ^= block[i];
        }
        Self {
            inner_pad,
            outer_pad,
        }
    }

    /// The MAC of the concatenation of `parts`.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut inner = Sha256::new();
        inner.update(self.inner_pad);
        for part in parts {
            inner.update(part);
        }
        let mut outer = Sha256::new();
        outer.update(self.outer_pad);
        outer.update(inner.finalize());
        outer.finalize().into()
    }

    /// The MAC as lowercase hex, as Jupyter puts it on the wire.
    pub fn hex_mac(&self, parts: &[&[u8]]) -> String {
        self.mac(parts).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `signature` (hex, any case) is the MAC of `parts`, compared in constant time.
    pub fn verify(&self, parts: &[&[u8]], signature: &[u8]) -> bool {
        let expected = self.hex_mac(parts);
        let expected = expected.as_bytes();
        if signature.len() != expected.len() {
            return false;
        }
        expected
            .iter()
            .zip(signature)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b.to_ascii_lowercase()))
            == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test cases 1, 2 and 6 (key longer than a block).
    #[test]
    fn rfc_4231_vectors() {
        assert_eq!(
            HmacSha256::new(&[0x0b; 20]).hex_mac(&[b"Hi There"]),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            HmacSha256::new(b"Jefe").hex_mac(&[b"what do ya want ", b"for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            HmacSha256::new(&[0xaa; 131])
                .hex_mac(&[b"Test Using Larger Than Block-Size Key - Hash Key First"]),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn verify_rejects_tampering_and_accepts_upper_case() {
        let mac = HmacSha256::new(b"key");
        let sig = mac.hex_mac(&[b"a", b"b"]);
        assert!(mac.verify(&[b"ab"], sig.as_bytes()));
        assert!(mac.verify(&[b"ab"], sig.to_uppercase().as_bytes()));
        assert!(!mac.verify(&[b"ac"], sig.as_bytes()));
        assert!(!mac.verify(&[b"ab"], &sig.as_bytes()[1..]));
        assert!(!mac.verify(&[b"ab"], b""));
    }
}
