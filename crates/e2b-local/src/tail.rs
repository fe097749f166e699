//! [`Tail`]: the last bytes of a child's output, kept for error messages.

use std::collections::VecDeque;

/// The last `capacity` bytes written to it.
#[derive(Debug)]
pub(crate) struct Tail {
    bytes: VecDeque<u8>,
    capacity: usize,
}

impl Tail {
    /// An empty tail that keeps at most `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            bytes: VecDeque::new(),
            capacity,
        }
    }

    /// Append `bytes`, dropping the oldest beyond the capacity.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.bytes.extend(bytes);
        let excess = self.bytes.len().saturating_sub(self.capacity);
        self.bytes.drain(..excess);
    }

    /// What is kept, lossily decoded.
    pub(crate) fn text(&self) -> String {
        let (front, back) = self.bytes.as_slices();
        String::from_utf8_lossy(&[front, back].concat()).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_bytes() {
        let mut t = Tail::new(16);
        t.push(&[b'a'; 16]);
        t.push(b"end");
        let text = t.text();
        assert_eq!(text.len(), 16);
        assert!(text.ends_with("aend"));
    }
}
