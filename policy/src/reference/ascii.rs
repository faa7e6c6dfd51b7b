//! Searching image strings for their ASCII separators (`/`, `:`, `@`, `.`),
//! byte by byte.
//!
//! `str::split_once(':')` and friends go through `core`'s `CharSearcher`,
//! which sets up a `memchr` for every call: in policy.wasm that was a tenth
//! of a reused `validate`, on strings of a few dozen bytes. A plain loop over
//! the bytes does the same job in a fraction of the time. An ASCII byte never
//! occurs inside a multi-byte UTF-8 sequence, so every position found is a
//! character boundary.

/// Position of the first `byte` in `s`.
pub fn find(s: &str, byte: u8) -> Option<usize> {
    s.bytes().position(|b| b == byte)
}

/// Position of the last `byte` in `s`.
pub fn rfind(s: &str, byte: u8) -> Option<usize> {
    s.bytes().rposition(|b| b == byte)
}

/// `s` split around the first `byte`, which belongs to neither part.
pub fn split_once(s: &str, byte: u8) -> Option<(&str, &str)> {
    let at = find(s, byte)?;
    Some((s.get(..at)?, s.get(at + 1..)?))
}

/// The parts of `s` between occurrences of `byte`, as `str::split` gives
/// them (empty parts included).
pub fn split(s: &str, byte: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let current = rest?;
        match find(current, byte) {
            Some(at) => {
                rest = current.get(at + 1..);
                current.get(..at)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_str() {
        for s in [
            "",
            "/",
            "a",
            "a/b",
            "/a/",
            "a//b",
            "ghcr.io/org/app:1",
            "é/ü:x",
            "::",
        ] {
            for byte in [b'/', b':', b'.'] {
                let c = char::from(byte);
                assert_eq!(find(s, byte), s.find(c), "{s:?} {c}");
                assert_eq!(rfind(s, byte), s.rfind(c), "{s:?} {c}");
                assert_eq!(split_once(s, byte), s.split_once(c), "{s:?} {c}");
                assert_eq!(
                    split(s, byte).collect::<Vec<_>>(),
                    s.split(c).collect::<Vec<_>>(),
                    "{s:?} {c}"
                );
            }
        }
    }
}
