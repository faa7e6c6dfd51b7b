//! Reading settings as the user wrote them: a JSON value walked by hand, so
//! that wrong types, unknown keys and bad enum values become problems with
//! their key path, all of them at once, instead of the first serde error.

use serde_json::{Map, Value};

use crate::settings::SettingsProblem;

/// Walks a settings value and collects every problem found.
#[derive(Debug, Default)]
pub struct Reader {
    problems: Vec<SettingsProblem>,
}

impl Reader {
    /// The problems found so far.
    pub fn into_problems(self) -> Vec<SettingsProblem> {
        self.problems
    }

    /// Records a problem at `path` (and the entry's text, when there is one).
    // Called from dozens of places: one copy, not one per call site.
    #[inline(never)]
    pub fn problem(&mut self, path: &str, entry: Option<&str>, problem: impl Into<String>) {
        self.problems.push(SettingsProblem {
            path: path.to_owned(),
            entry: entry.map(str::to_owned),
            problem: problem.into(),
        });
    }

    /// An object with only `keys`; `null` or absent is `None`.
    pub fn object<'v>(
        &mut self,
        value: Option<&'v Value>,
        path: &str,
        keys: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        self.object_except(value, path, keys, &[])
    }

    /// [`Reader::object`], where the keys `reported` already have a problem
    /// of their own (they are neither read nor called unknown).
    pub fn object_except<'v>(
        &mut self,
        value: Option<&'v Value>,
        path: &str,
        keys: &[&str],
        reported: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        match value? {
            Value::Null => None,
            Value::Object(map) => {
                for key in map.keys() {
                    if !keys.contains(&key.as_str()) && !reported.contains(&key.as_str()) {
                        let hint = suggest(key, keys)
                            .map(|s| format!(" (did you mean \"{s}\"?)"))
                            .unwrap_or_else(|| format!(" (known keys: {})", keys.join(", ")));
                        self.problem(path, None, format!("unknown key \"{key}\"{hint}"));
                    }
                }
                Some(map)
            }
            other => {
                self.type_problem(path, "an object", other);
                None
            }
        }
    }

    /// A list; `null` or absent is empty.
    pub fn list<'v>(&mut self, value: Option<&'v Value>, path: &str) -> &'v [Value] {
        match value {
            None | Some(Value::Null) => &[],
            Some(Value::Array(items)) => items,
            Some(other) => {
                self.type_problem(path, "a list", other);
                &[]
            }
        }
    }

    /// A list of strings, with each string's index; other items are problems.
    pub fn strings<'v>(&mut self, value: Option<&'v Value>, path: &str) -> Vec<(usize, &'v str)> {
        let mut out = Vec::new();
        for (i, item) in self.list(value, path).iter().enumerate() {
            match item {
                Value::String(s) => out.push((i, s.as_str())),
                other => self.type_problem(&index(path, i), "a string", other),
            }
        }
        out
    }

    /// A boolean; `null` or absent is `false`.
    pub fn bool(&mut self, value: Option<&Value>, path: &str) -> bool {
        match value {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.type_problem(path, "true or false", other);
                false
            }
        }
    }

    /// A string; `null` or absent is `None`.
    pub fn string<'v>(&mut self, value: Option<&'v Value>, path: &str) -> Option<&'v str> {
        match value? {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => {
                self.type_problem(path, "a string", other);
                None
            }
        }
    }

    /// One of `allowed` (compared exactly; a near miss gets a suggestion).
    pub fn one_of<'a>(
        &mut self,
        value: Option<&Value>,
        path: &str,
        allowed: &[&'a str],
    ) -> Option<&'a str> {
        let text = self.string(value, path)?;
        if let Some(found) = allowed.iter().find(|a| **a == text) {
            return Some(found);
        }
        let hint = suggest(text, allowed)
            .map(|s| format!(" (did you mean \"{s}\"?)"))
            .unwrap_or_default();
        self.problem(
            path,
            Some(text),
            format!("must be one of {}{hint}", allowed.join(", ")),
        );
        None
    }

    /// A map of strings to strings; `null` or absent is empty.
    pub fn string_map<'v>(
        &mut self,
        value: Option<&'v Value>,
        path: &str,
    ) -> Vec<(&'v str, &'v str)> {
        let mut out = Vec::new();
        match value {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (key, v) in map {
                    match v {
                        Value::String(s) => out.push((key.as_str(), s.as_str())),
                        other => self.type_problem(&child(path, key), "a string", other),
                    }
                }
            }
            Some(other) => self.type_problem(path, "a map of strings", other),
        }
        out
    }

    fn type_problem(&mut self, path: &str, expected: &str, found: &Value) {
        self.problem(
            path,
            None,
            format!("expected {expected}, found {}", describe(found)),
        );
    }
}

/// `parent.key`, or `key` at the top level.
#[inline(never)]
pub fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// `path[i]`.
#[inline(never)]
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", Value::String(truncate(s))),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Keeps echoed user text short (settings may be large, or carry secrets).
fn truncate(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// The known word closest to `word`: the same ignoring case, `_` and `-`,
/// sharing its stem, or at most two edits away.
pub fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let w = squash(word);
    if let Some(exact) = known.iter().find(|k| squash(k) == w) {
        return Some(exact);
    }
    // A singular for a plural (`registry` for `registries`): a shared stem.
    let stem: String = w
        .chars()
        .take(w.chars().count().saturating_sub(1))
        .collect();
    if stem.chars().count() >= 5
        && let Some(k) = known.iter().find(|k| squash(k).starts_with(&stem))
    {
        return Some(k);
    }
    known
        .iter()
        .map(|k| (edit_distance(&w, &squash(k)), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let keys = ["registries", "repositories", "images", "tags"];
        assert_eq!(suggest("registry", &keys), Some("registries"));
        assert_eq!(suggest("registires", &keys), Some("registries"));
        assert_eq!(suggest("Tags", &keys), Some("tags"));
        assert_eq!(suggest("allow_regex", &["allowRegex"]), Some("allowRegex"));
        assert_eq!(suggest("zzzzzz", &keys), None);
    }

    #[test]
    fn long_strings_are_truncated_in_messages() {
        let long = "x".repeat(1000);
        assert!(describe(&Value::String(long)).len() < 100);
    }
}
