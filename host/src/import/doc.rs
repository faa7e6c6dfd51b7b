//! The imported settings as a document: entries in the order the import
//! writes them, each with an optional comment, rendered as commented YAML
//! or as plain JSON.

use serde_json::{Map, Value};

/// Where an entry goes.
#[derive(Debug, Clone)]
enum Slot {
    /// An item of the list at the path.
    Item,
    /// The value at the path (a scalar, or a map entry when the path's last
    /// key is the map key).
    Value,
}

#[derive(Debug, Clone)]
struct Entry {
    path: Vec<String>,
    slot: Slot,
    value: Value,
    comment: Option<String>,
}

/// Settings under construction.
#[derive(Debug, Default, Clone)]
pub struct SettingsDoc {
    entries: Vec<Entry>,
}

impl SettingsDoc {
    /// Appends `value` to the list at `path`; answers the setting's name,
    /// `registries.allow[0]`. The same value twice is kept once.
    pub fn push(&mut self, path: &[&str], value: Value, comment: Option<String>) -> String {
        let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        let existing: Vec<usize> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e.slot, Slot::Item) && e.path == path)
            .map(|(i, _)| i)
            .collect();
        let position = existing
            .iter()
            .position(|&i| self.entries[i].value == value);
        let index = match position {
            Some(p) => {
                let entry = &mut self.entries[existing[p]];
                if let Some(more) = comment {
                    entry.comment = Some(match entry.comment.take() {
                        Some(old) if old != more => format!("{old}; {more}"),
                        _ => more,
                    });
                }
                p
            }
            None => {
                self.entries.push(Entry {
                    path: path.clone(),
                    slot: Slot::Item,
                    value,
                    comment,
                });
                existing.len()
            }
        };
        format!("{}[{index}]", path.join("."))
    }

    /// Sets the value at `path` (the last one written wins).
    pub fn set(&mut self, path: &[&str], value: Value, comment: Option<String>) -> String {
        let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        self.entries
            .retain(|e| !(matches!(e.slot, Slot::Value) && e.path == path));
        self.entries.push(Entry {
            path: path.clone(),
            slot: Slot::Value,
            value,
            comment,
        });
        path.join(".")
    }

    /// The settings as JSON.
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        for entry in &self.entries {
            insert(&mut root, &entry.path, entry);
        }
        Value::Object(root)
    }

    /// The settings as YAML, each comment on the lines above its entry;
    /// `{}` when empty. Values are written as JSON (which is YAML).
    pub fn to_yaml(&self, indent: usize) -> String {
        if self.entries.is_empty() {
            return format!("{}{{}}\n", " ".repeat(indent));
        }
        let mut out = String::new();
        // Paths in the order first written, each with its entries.
        let mut written: Vec<Vec<String>> = Vec::new();
        for entry in &self.entries {
            if !written.contains(&entry.path) {
                written.push(entry.path.clone());
            }
        }
        // Paths that share a prefix are written together, each prefix where
        // it first appeared.
        let first_seen = |prefix: &[String]| {
            written
                .iter()
                .position(|p| p.starts_with(prefix))
                .unwrap_or(usize::MAX)
        };
        let mut order = written.clone();
        order.sort_by_cached_key(|path| {
            (1..=path.len())
                .map(|n| first_seen(&path[..n]))
                .collect::<Vec<_>>()
        });
        let mut open: Vec<String> = Vec::new();
        for path in &order {
            let Some((last, parents)) = path.split_last() else {
                continue;
            };
            let common = open.iter().zip(parents).take_while(|(a, b)| a == b).count();
            open.truncate(common);
            for key in &parents[common..] {
                out.push_str(&format!("{}{}:\n", pad(indent, open.len()), key_text(key)));
                open.push(key.clone());
            }
            let depth = open.len();
            let entries = self.entries.iter().filter(|e| &e.path == path);
            let mut header = false;
            for entry in entries {
                match entry.slot {
                    Slot::Value => {
                        comment(&mut out, indent, depth, entry.comment.as_deref());
                        out.push_str(&format!(
                            "{}{}: {}\n",
                            pad(indent, depth),
                            key_text(last),
                            entry.value
                        ));
                    }
                    Slot::Item => {
                        if !header {
                            out.push_str(&format!("{}{}:\n", pad(indent, depth), key_text(last)));
                            header = true;
                        }
                        comment(&mut out, indent, depth + 1, entry.comment.as_deref());
                        out.push_str(&format!("{}- {}\n", pad(indent, depth + 1), entry.value));
                    }
                }
            }
        }
        out
    }
}

/// Puts an entry at its path under `map`.
fn insert(map: &mut Map<String, Value>, path: &[String], entry: &Entry) {
    match path {
        [] => {}
        [last] => match entry.slot {
            Slot::Value => {
                map.insert(last.clone(), entry.value.clone());
            }
            Slot::Item => {
                let list = map
                    .entry(last.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = list {
                    items.push(entry.value.clone());
                }
            }
        },
        [first, rest @ ..] => {
            let child = map
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(child) = child {
                insert(child, rest, entry);
            }
        }
    }
}

fn pad(indent: usize, depth: usize) -> String {
    " ".repeat(indent + 2 * depth)
}

/// A map key: plain when it is a simple word, else quoted.
fn key_text(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric()) {
        key.to_owned()
    } else {
        Value::String(key.to_owned()).to_string()
    }
}

/// `# text` lines, wrapped at about 90 columns.
fn comment(out: &mut String, indent: usize, depth: usize, text: Option<&str>) {
    let Some(text) = text else { return };
    let prefix = format!("{}# ", pad(indent, depth));
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && prefix.len() + line.len() + word.len() + 1 > 90 {
            out.push_str(&format!("{prefix}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{prefix}{line}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_groups_sections_and_keeps_comments() {
        let mut doc = SettingsDoc::default();
        doc.push(&["registries", "allow"], json!("ghcr.io"), None);
        doc.set(
            &["digests", "require"],
            json!(true),
            Some("was a regex".into()),
        );
        doc.push(
            &["registries", "reject"],
            json!("docker.io"),
            Some("changed".into()),
        );
        doc.set(
            &[
                "imageMetadata",
                "rejectAnnotations",
                "images.openshift.io/deny-execution",
            ],
            json!("true"),
            None,
        );
        let yaml = doc.to_yaml(0);
        assert_eq!(
            yaml,
            "registries:\n  allow:\n    - \"ghcr.io\"\n  reject:\n    # changed\n    - \"docker.io\"\n\
             digests:\n  # was a regex\n  require: true\nimageMetadata:\n  rejectAnnotations:\n    \
             \"images.openshift.io/deny-execution\": \"true\"\n"
        );
        let parsed: Value = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(parsed, doc.to_json());
    }

    #[test]
    fn the_same_item_twice_is_kept_once() {
        let mut doc = SettingsDoc::default();
        assert_eq!(
            doc.push(&["tags", "reject"], json!("latest"), None),
            "tags.reject[0]"
        );
        assert_eq!(
            doc.push(&["tags", "reject"], json!("dev"), None),
            "tags.reject[1]"
        );
        assert_eq!(
            doc.push(&["tags", "reject"], json!("latest"), Some("x".into())),
            "tags.reject[0]"
        );
        assert_eq!(
            doc.to_json(),
            json!({"tags": {"reject": ["latest", "dev"]}})
        );
    }
}
