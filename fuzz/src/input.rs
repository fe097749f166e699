//! Splitting one fuzz input into the fields of a structured input, and
//! running async decoders.

use std::future::Future;

use bytes::Bytes;

/// Separates the fields of an input. Never valid in UTF-8, so text fields
/// cannot contain it by accident.
pub const SEP: u8 = 0xff;

/// The first `N - 1` fields of `data` (split at [`SEP`]) and, last, the rest
/// (which may contain `SEP`). Missing fields are empty.
pub fn fields<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&[][..]; N];
    let mut rest = data;
    for slot in out.iter_mut().take(N - 1) {
        match rest.iter().position(|b| *b == SEP) {
            Some(at) => {
                *slot = &rest[..at];
                rest = &rest[at + 1..];
            }
            None => {
                *slot = rest;
                rest = &[];
            }
        }
    }
    out[N - 1] = rest;
    out
}

/// Every field of `data`, split at each [`SEP`].
pub fn all_fields(data: &[u8]) -> Vec<&[u8]> {
    data.split(|b| *b == SEP).collect()
}

/// Join fields with [`SEP`] (the inverse of [`fields`] and [`all_fields`]).
pub fn join<I, F>(parts: I) -> Vec<u8>
where
    I: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut out = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        out.extend_from_slice(part.as_ref());
    }
    out
}

/// Byte `i` of a parameter field, 0 when absent.
pub fn param(params: &[u8], i: usize) -> u8 {
    params.get(i).copied().unwrap_or(0)
}

/// `data` cut into the chunks a network might deliver: whole for `seed` 0,
/// else pieces of 1 to `seed` bytes in a pattern the seed decides.
pub fn chunks(data: &[u8], seed: u8) -> Vec<Bytes> {
    if seed == 0 {
        return vec![Bytes::copy_from_slice(data)];
    }
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = (state % u32::from(seed)) as usize + 1;
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        out.push(Bytes::copy_from_slice(chunk));
        rest = tail;
    }
    out
}

/// Lossy text of a field.
pub fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread Tokio runtime");
}

/// Run an async decoder to completion on this thread's runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    RUNTIME.with(|rt| rt.block_on(future))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_join_are_inverse() {
        let data = join([&b"a"[..], b"bc", b"d\xffe"]);
        assert_eq!(fields::<3>(&data), [&b"a"[..], b"bc", b"d\xffe"]);
        assert_eq!(fields::<2>(b"x"), [&b"x"[..], b""]);
        assert_eq!(
            all_fields(&join(["p", "q", ""])),
            vec![&b"p"[..], b"q", b""]
        );
    }

    #[test]
    fn chunks_cover_the_input() {
        let data: Vec<u8> = (0..=255).collect();
        for seed in 0..=255 {
            let joined: Vec<u8> = chunks(&data, seed).concat();
            assert_eq!(joined, data);
        }
    }
}
