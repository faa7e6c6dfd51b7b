//! A tiny glob matcher for registry hosts, path components and tags.
//!
//! `*` matches any run of characters (including none) and `?` exactly one.
//! There is no separator handling here on purpose: callers split hosts from
//! ports and paths into components first, so `*` can never cross `:` or `/`
//! (general glob crates let `*` cross separators by default, which is how
//! `ghcr.io/org*` ends up admitting `ghcr.io/org-evil`).

/// A compiled glob. Literal patterns are compared directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    case_insensitive: bool,
    literal: bool,
}

impl Glob {
    /// Compiles `pattern`; with `case_insensitive` ASCII letters compare
    /// without regard to case (hosts), otherwise exactly (tags, paths).
    pub fn new(pattern: &str, case_insensitive: bool) -> Glob {
        let pattern = if case_insensitive {
            pattern.to_ascii_lowercase()
        } else {
            pattern.to_owned()
        };
        let literal = !has_wildcard(&pattern);
        Glob {
            pattern,
            case_insensitive,
            literal,
        }
    }

    /// The pattern text (lower-cased when case-insensitive).
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// True when the pattern has no `*` or `?`.
    pub fn is_literal(&self) -> bool {
        self.literal
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        if self.literal {
            return if self.case_insensitive {
                self.pattern.eq_ignore_ascii_case(text)
            } else {
                self.pattern == text
            };
        }
        glob_match(
            self.pattern.as_bytes(),
            text.as_bytes(),
            self.case_insensitive,
        )
    }
}

/// Whether `text` matches the glob `pattern` (case-sensitive), without
/// compiling it: for patterns kept as slices of a larger string.
pub fn matches(pattern: &str, text: &str) -> bool {
    if has_wildcard(pattern) {
        glob_match(pattern.as_bytes(), text.as_bytes(), false)
    } else {
        pattern == text
    }
}

/// True when `s` contains a glob wildcard.
pub fn has_wildcard(s: &str) -> bool {
    s.bytes().any(|b| b == b'*' || b == b'?')
}

/// Iterative glob match with single-star backtracking: linear in practice and
/// never worse than O(pattern × text), so hostile input cannot blow it up.
fn glob_match(pattern: &[u8], text: &[u8], case_insensitive: bool) -> bool {
    let eq = |p: u8, t: u8| {
        if case_insensitive {
            p == t.to_ascii_lowercase()
        } else {
            p == t
        }
    };
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(b'?') => {
                // `?` is one character, not one byte.
                p += 1;
                t += utf8_len(text[t]);
            }
            Some(&c) if eq(c, text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    let next = st + utf8_len(text[st]);
                    star = Some((sp, next));
                    p = sp + 1;
                    t = next;
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_any_run_including_empty() {
        let g = Glob::new("*.example.com", true);
        assert!(g.matches("a.example.com"));
        assert!(g.matches("a.b.example.com"));
        assert!(g.matches(".example.com"));
        assert!(!g.matches("example.com"));
        assert!(!g.matches("evil-example.com"));
    }

    #[test]
    fn question_mark_is_exactly_one_character() {
        let g = Glob::new("v?", false);
        assert!(g.matches("v1"));
        assert!(!g.matches("v"));
        assert!(!g.matches("v12"));
        assert!(Glob::new("?", false).matches("é"));
    }

    #[test]
    fn case_sensitivity_is_chosen_by_the_caller() {
        assert!(Glob::new("GHCR.io", true).matches("ghcr.IO"));
        assert!(!Glob::new("Latest", false).matches("latest"));
        assert!(Glob::new("*-SNAPSHOT", false).matches("1.0-SNAPSHOT"));
        assert!(!Glob::new("*-SNAPSHOT", false).matches("1.0-snapshot"));
    }

    #[test]
    fn backtracking_finds_later_matches() {
        assert!(Glob::new("a*b*c", false).matches("axxbyybzc"));
        assert!(!Glob::new("a*b*c", false).matches("axxbyybz"));
        assert!(Glob::new("**", false).matches(""));
        assert!(Glob::new("*", false).matches(""));
    }

    #[test]
    fn hostile_patterns_stay_fast() {
        let text = "a".repeat(10_000);
        let g = Glob::new(&format!("{}b", "*a".repeat(50)), false);
        assert!(!g.matches(&text));
    }
}
