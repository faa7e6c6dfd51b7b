//! Tag patterns (SPEC 2.8): case-sensitive globs and full-match regexes.

use crate::matcher::glob::Glob;

/// Patterns larger than this are refused: a tag is at most 128 characters,
/// and the regex compiler's cost grows with the pattern.
const MAX_REGEX_LEN: usize = 1024;

/// One compiled tag pattern.
#[derive(Debug, Clone)]
pub enum TagPattern {
    /// `*`/`?` glob over the whole tag.
    Glob(Glob),
    /// A regular expression that must match the whole tag.
    Regex(regex_lite::Regex),
}

impl TagPattern {
    /// Compiles a glob entry of `tags.allow` / `tags.reject`.
    pub fn glob(text: &str) -> Result<TagPattern, String> {
        if text.is_empty() {
            return Err("a tag pattern must not be empty".into());
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '*' | '?')))
        {
            return Err(format!(
                "{bad:?} cannot appear in a tag; tags are letters, digits, '_', '.', '-' (and the wildcards '*', '?'); use allowRegex or rejectRegex for regular expressions"
            ));
        }
        Ok(TagPattern::Glob(Glob::new(text, false)))
    }

    /// Compiles a regex entry of `tags.allowRegex` / `tags.rejectRegex`;
    /// it is anchored so it must match the whole tag. Classes are ASCII
    /// (`\d`, `\w`), as tags are.
    pub fn regex(text: &str) -> Result<TagPattern, String> {
        if text.len() > MAX_REGEX_LEN {
            return Err(format!("a tag regex is at most {MAX_REGEX_LEN} characters"));
        }
        regex_lite::Regex::new(&format!("^(?:{text})$"))
            .map(TagPattern::Regex)
            .map_err(|e| format!("invalid regular expression: {e}"))
    }

    /// Whether the whole tag matches.
    pub fn matches(&self, tag: &str) -> bool {
        match self {
            TagPattern::Glob(g) => g.matches(tag),
            TagPattern::Regex(r) => r.is_match(tag),
        }
    }

    /// True when the pattern matches only the tag equal to its text.
    pub fn is_literal(&self) -> bool {
        matches!(self, TagPattern::Glob(g) if g.is_literal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(s: &str) -> TagPattern {
        match TagPattern::regex(s) {
            Ok(p) => p,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn regexes_must_match_the_whole_tag() {
        let semver = re(r"v?\d+\.\d+\.\d+");
        assert!(semver.matches("1.2.3"));
        assert!(semver.matches("v1.2.3"));
        assert!(!semver.matches("1.2.3-rc1"));
        assert!(!semver.matches("x1.2.3"));
        // Alternation is anchored as a whole, not per branch.
        let alt = re("a|b");
        assert!(!alt.matches("ab"));
        assert!(alt.matches("b"));
    }

    #[test]
    fn regex_classes_are_ascii() {
        assert!(!re(r"\d+").matches("١٢٣"));
    }

    #[test]
    fn bad_patterns_are_refused_with_a_reason() {
        assert!(TagPattern::regex("(").is_err());
        assert!(TagPattern::regex(&"a".repeat(2000)).is_err());
        assert!(TagPattern::glob("").is_err());
        assert!(TagPattern::glob("^v1$").is_err());
    }

    #[test]
    fn globs_are_case_sensitive() {
        let Ok(p) = TagPattern::glob("*-SNAPSHOT") else {
            panic!("glob")
        };
        assert!(p.matches("1.0-SNAPSHOT"));
        assert!(!p.matches("1.0-snapshot"));
    }
}
