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
    split_around(s, find(s, byte)?)
}

/// `s` before and after the one-byte separator at `at` (a position found by
/// this module or by [`Landmarks`]).
pub fn split_around(s: &str, at: usize) -> Option<(&str, &str)> {
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

/// What one pass over an image string finds: whether it is all printable
/// ASCII, and where the separators that split it into parts are. Parsing
/// then needs no further pass over the whole string for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Landmarks {
    /// Not empty, and every byte is printable ASCII (`!` to `~`): no
    /// whitespace, no control or non-ASCII character.
    pub printable: bool,
    /// The first `@`.
    pub at: Option<usize>,
    /// The first `%`.
    pub percent: Option<usize>,
    /// The first `/` before the first `@` (or anywhere, without `@`).
    pub first_slash: Option<usize>,
    /// The last `/` before the first `@` (or anywhere, without `@`).
    pub last_slash: Option<usize>,
}

impl Landmarks {
    /// One pass over `s`.
    pub fn of(s: &str) -> Landmarks {
        let mut marks = Landmarks {
            printable: !s.is_empty(),
            at: None,
            percent: None,
            first_slash: None,
            last_slash: None,
        };
        for (i, b) in s.bytes().enumerate() {
            match b {
                b'/' if marks.at.is_none() => {
                    marks.first_slash = marks.first_slash.or(Some(i));
                    marks.last_slash = Some(i);
                }
                b'@' => marks.at = marks.at.or(Some(i)),
                b'%' => marks.percent = marks.percent.or(Some(i)),
                b'!'..=b'~' => {}
                _ => marks.printable = false,
            }
        }
        marks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn landmarks_agree_with_separate_searches() {
        for s in [
            "",
            "nginx",
            "ghcr.io/org/app:1",
            "a/b@sha256:x/y",
            "@/",
            "a%2f/b",
            "a b/c",
            "é/x",
            "/",
            "a@b@c",
            "[::1]:5000/app@sha256:0",
        ] {
            let marks = Landmarks::of(s);
            let before_at = s.split_once('@').map_or(s, |(name, _)| name);
            assert_eq!(
                marks,
                Landmarks {
                    printable: !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()),
                    at: s.find('@'),
                    percent: s.find('%'),
                    first_slash: before_at.find('/'),
                    last_slash: before_at.rfind('/'),
                },
                "{s:?}"
            );
        }
    }

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
