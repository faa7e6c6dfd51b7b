//! What `imagegate scan` reads: files and directories, documents in them, and
//! the Kubernetes objects in those documents.
//!
//! * A directory is walked recursively, in name order, for `*.yaml`, `*.yml`
//!   and `*.json` (any letter case); symbolic links to directories are not
//!   followed (no loops). A file named on the command line is read whatever
//!   its name. `-` is stdin.
//! * A file is split into YAML documents at `---` lines (a document marker
//!   at column 0, which YAML does not allow inside a document), so that a
//!   broken document is reported with its file, line and column and the
//!   documents after it are still read. Each document is JSON or YAML, read
//!   as `imagegate run` reads a request file (JSON first). Documents that are
//!   empty or only comments are not counted.
//! * `kind: List` and `kind: <Kind>List` documents give their `items`; an item
//!   of a typed list (`DeploymentList`) that does not write `apiVersion` and
//!   `kind` (as the API server answers a list) takes the list's `apiVersion`
//!   and the kind without `List`.
//! * A document that has no string `apiVersion` and `kind` is not a
//!   Kubernetes object (a Helm values file, a kustomization); it is counted
//!   as skipped, with that reason.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::locate::Lines;

/// A file that was read (or could not be).
#[derive(Debug, Clone)]
pub struct File {
    /// The path as reports show it (for `-`, `--stdin-filename`, else
    /// [`STDIN_NAME`]).
    pub name: String,
}

/// One YAML document of a file.
#[derive(Debug)]
pub struct Document {
    /// 1-based position of the document in its file.
    pub index: usize,
    /// Lines of the file before the document's text.
    pub line_offset: usize,
    /// The document's text.
    pub text: String,
    lines: std::sync::OnceLock<Lines>,
}

impl Document {
    /// The file line of `path` in this document (or of the nearest field
    /// written, see [`Lines::nearest`]).
    pub fn line_of(&self, path: &str) -> Option<usize> {
        self.lines
            .get_or_init(|| Lines::index(&self.text))
            .nearest(path)
            .map(|line| line + self.line_offset)
    }
}

/// What was found, in file and document order.
#[derive(Debug)]
pub enum Found {
    /// A Kubernetes object.
    Object(Object),
    /// A document (or list item) that is not a Kubernetes object.
    NotObject {
        /// Where.
        at: At,
        /// Why it is skipped.
        reason: String,
    },
    /// Input that could not be read: a missing file, a broken document.
    Error(InputError),
}

/// Where an object is: file, document, list item, first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    /// Index into [`Inputs::files`].
    pub file: usize,
    /// Index into [`Inputs::documents`].
    pub document: usize,
    /// Its index in the list's `items`, for list items.
    pub item: Option<usize>,
    /// The file line the object starts on.
    pub line: usize,
}

/// An object and where it is.
#[derive(Debug)]
pub struct Object {
    /// Where.
    pub at: At,
    /// The object.
    pub object: Map<String, Value>,
    /// For an item of a JSON list: its bytes in the document's text, so the
    /// lines of its findings come from indexing that text alone.
    pub text: Option<std::ops::Range<usize>>,
}

impl Document {
    /// The file line of `path` inside the list item at `text`, which starts
    /// on file line `line`: only the item's text is indexed, not the whole
    /// list, so each worker indexes the items it evaluates.
    pub fn item_line_of(
        &self,
        text: std::ops::Range<usize>,
        line: usize,
        path: &str,
    ) -> Option<usize> {
        let item = self.text.get(text)?;
        Lines::index(item)
            .nearest(path)
            .map(|within| within + line - 1)
    }
}

impl Object {
    /// The field path of the object in its document: `""`, or `items[3]`.
    pub fn path_prefix(&self) -> String {
        self.at
            .item
            .map(|i| format!("items[{i}]"))
            .unwrap_or_default()
    }
}

/// Input that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// Index into [`Inputs::files`].
    pub file: usize,
    /// 1-based position of the document in its file, when one is at fault.
    pub document: Option<usize>,
    /// File line (1-based), when known.
    pub line: Option<usize>,
    /// Column (1-based), when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Everything read.
#[derive(Debug, Default)]
pub struct Inputs {
    /// The files, in the order read.
    pub files: Vec<File>,
    /// Their documents.
    pub documents: Vec<Document>,
    /// What they hold.
    pub found: Vec<Found>,
}

/// File extensions read in directories.
const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// The name reports give stdin when `--stdin-filename` names it not.
pub const STDIN_NAME: &str = "<stdin>";

/// Reads every path (`-` is stdin, named `stdin_name` in reports).
pub fn read(paths: &[String], stdin_name: &str) -> Inputs {
    let mut inputs = Inputs::default();
    for path in paths {
        if path == "-" {
            let mut bytes = Vec::new();
            let result = std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map(|_| bytes);
            inputs.add_file(stdin_name.to_owned(), result);
            continue;
        }
        let start = PathBuf::from(path);
        if start.is_dir() {
            let mut files = Vec::new();
            if let Err((dir, error)) = walk(&start, &mut files) {
                let file = inputs.new_file(dir.display().to_string());
                inputs.error(file, format!("cannot read the directory: {error}"));
            }
            for file in files {
                let result = std::fs::read(&file);
                inputs.add_file(file.display().to_string(), result);
            }
        } else {
            let result = std::fs::read(&start);
            inputs.add_file(path.clone(), result);
        }
    }
    inputs
}

/// The files under `dir` with a scanned extension, sorted by path.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), (PathBuf, std::io::Error)> {
    let entries = std::fs::read_dir(dir).map_err(|e| (dir.to_owned(), e))?;
    let mut entries: Vec<_> = entries
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| (dir.to_owned(), e))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&path, files)?;
        } else if (kind.is_file() || (kind.is_symlink() && path.is_file()))
            && path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
        {
            files.push(path);
        }
    }
    Ok(())
}

impl Inputs {
    fn new_file(&mut self, name: String) -> usize {
        self.files.push(File { name });
        self.files.len() - 1
    }

    fn error(&mut self, file: usize, message: String) {
        self.found.push(Found::Error(InputError {
            file,
            document: None,
            line: None,
            column: None,
            message,
        }));
    }

    fn add_file(&mut self, name: String, bytes: std::io::Result<Vec<u8>>) {
        let file = self.new_file(name);
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(error) => return self.error(file, format!("cannot read it: {error}")),
        };
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => {
                return self.error(file, format!("not UTF-8 text: {}", error.utf8_error()));
            }
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        for (index, chunk) in split_documents(text).into_iter().enumerate() {
            self.add_document(file, index + 1, chunk);
        }
    }

    fn add_document(&mut self, file: usize, index: usize, chunk: Chunk) {
        let Some(first_line) = first_content_line(&chunk.text) else {
            return; // empty, or only comments
        };
        let value = match parse(&chunk.text) {
            Ok(value) => value,
            Err(problem) => {
                self.found.push(Found::Error(InputError {
                    file,
                    document: Some(index),
                    line: Some(problem.line.unwrap_or(first_line) + chunk.line_offset),
                    column: problem.column,
                    message: problem.message,
                }));
                return;
            }
        };
        let document = self.documents.len();
        self.documents.push(Document {
            index,
            line_offset: chunk.line_offset,
            text: chunk.text,
            lines: std::sync::OnceLock::new(),
        });
        let at = At {
            file,
            document,
            item: None,
            line: first_line + chunk.line_offset,
        };
        match value {
            Value::Null => {}
            Value::Object(map) if is_list(&map) => self.add_list(at, map),
            Value::Object(map) if is_object(&map) => {
                self.found.push(Found::Object(Object {
                    at,
                    object: map,
                    text: None,
                }));
            }
            other => self.found.push(Found::NotObject {
                at,
                reason: not_an_object(&other),
            }),
        }
    }

    fn add_list(&mut self, at: At, mut list: Map<String, Value>) {
        let list_kind = list
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let item_kind = list_kind
            .strip_suffix("List")
            .unwrap_or_default()
            .to_owned();
        let api_version = list.get("apiVersion").cloned();
        let Some(Value::Array(items)) = list.remove("items") else {
            return;
        };
        let document = &self.documents[at.document];
        // The items of a JSON list are found by a bracket scan of the text:
        // indexing every field of a 46 MB list for its items' lines took
        // most of a large scan's time and memory. When the scan does not
        // find as many items as were parsed, the index is used as before.
        let spans = json_list_items(&document.text).filter(|s| s.len() == items.len());
        for (index, item) in items.into_iter().enumerate() {
            let span = spans.as_ref().and_then(|s| s.get(index)).cloned();
            let line = match &span {
                Some(span) => span.line + document.line_offset,
                None => document
                    .line_of(&format!("items[{index}]"))
                    .unwrap_or(at.line),
            };
            let at = At {
                item: Some(index),
                line,
                ..at
            };
            match item {
                Value::Object(mut map) => {
                    // A typed list's items may leave out what the list says.
                    if !item_kind.is_empty() && !map.contains_key("kind") {
                        map.insert("kind".into(), Value::String(item_kind.clone()));
                        if let Some(api_version) = &api_version
                            && !map.contains_key("apiVersion")
                        {
                            map.insert("apiVersion".into(), api_version.clone());
                        }
                    }
                    if is_object(&map) {
                        self.found.push(Found::Object(Object {
                            at,
                            object: map,
                            text: span.map(|s| s.bytes),
                        }));
                    } else {
                        self.found.push(Found::NotObject {
                            at,
                            reason: not_an_object(&Value::Object(map)),
                        });
                    }
                }
                other => self.found.push(Found::NotObject {
                    at,
                    reason: not_an_object(&other),
                }),
            }
        }
    }
}

/// An item of a JSON list: its bytes and its first line (1-based, in the
/// document's text).
#[derive(Debug, Clone)]
struct ItemSpan {
    bytes: std::ops::Range<usize>,
    line: usize,
}

/// The items of the top-level `"items": [...]` of a JSON document, by a scan
/// of brackets and strings (no parse: the document was parsed already). An
/// item that is not an object or array gets an empty span, so indices still
/// match. `None` when the text is not a JSON object with one such key.
fn json_list_items(text: &str) -> Option<Vec<ItemSpan>> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut line = 1;
    let mut i = 0;
    // The last key at depth 1, and whether its `:` was read.
    let mut key: Option<std::ops::Range<usize>> = None;
    let mut after_colon = false;
    let mut items: Option<Vec<ItemSpan>> = None;
    let mut in_items = false;
    let mut item_start: Option<(usize, usize)> = None;
    let mut done = None;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\n' => line += 1,
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    } else if bytes[i] == b'\n' {
                        return None;
                    }
                    i += 1;
                }
                if depth == 1 && !after_colon {
                    key = Some(start + 1..i);
                }
                if in_items && depth == 2 {
                    items.as_mut()?.push(ItemSpan {
                        bytes: start..start,
                        line,
                    });
                }
            }
            b':' if depth == 1 => after_colon = true,
            b',' if depth == 1 => {
                after_colon = false;
                key = None;
            }
            b'{' | b'[' => {
                if depth == 1 && after_colon && b == b'[' {
                    if key.clone().and_then(|k| text.get(k)) == Some("items") {
                        if items.is_some() || done.is_some() {
                            return None; // two `items` keys
                        }
                        items = Some(Vec::new());
                        in_items = true;
                    }
                } else if in_items && depth == 2 {
                    item_start = Some((i, line));
                }
                depth += 1;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if in_items && depth == 2 {
                    let (start, first) = item_start.take()?;
                    items.as_mut()?.push(ItemSpan {
                        bytes: start..i + 1,
                        line: first,
                    });
                } else if in_items && depth == 1 {
                    in_items = false;
                    done = items.take();
                }
            }
            b' ' | b'\t' | b'\r' | b',' | b':' => {}
            _ if in_items && depth == 2 => {
                // A number, true, false or null: skip to its end.
                items.as_mut()?.push(ItemSpan { bytes: i..i, line });
                while i + 1 < bytes.len()
                    && !matches!(bytes[i + 1], b',' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    done
}

/// `apiVersion` and `kind` are strings.
fn is_object(map: &Map<String, Value>) -> bool {
    map.get("apiVersion").is_some_and(Value::is_string)
        && map
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| !k.is_empty())
}

/// `kind: List` or `kind: <Kind>List`, with an `items` array.
fn is_list(map: &Map<String, Value>) -> bool {
    map.get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && map.get("items").is_some_and(Value::is_array)
}

fn not_an_object(value: &Value) -> String {
    match value {
        Value::Object(_) => "not a Kubernetes object (no apiVersion and kind)".into(),
        other => format!(
            "not a Kubernetes object ({})",
            crate::input::describe(other)
        ),
    }
}

/// A document's text and the file lines before it.
#[derive(Debug, PartialEq, Eq)]
struct Chunk {
    line_offset: usize,
    text: String,
}

/// Splits a YAML stream at document markers: lines that start with `---`
/// followed by the end of the line or a space. Text after the marker on its
/// line (`--- {a: 1}`, `--- # comment`) stays in the document, the marker
/// blanked so columns are kept. A text without markers is one document.
fn split_documents(text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut offset = 0;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_marker = bare
            .strip_prefix("---")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
        if is_marker {
            if number > 0 {
                chunks.push(Chunk {
                    line_offset: offset,
                    text: std::mem::take(&mut current),
                });
            }
            offset = number;
            current.push_str("   ");
            current.push_str(&line[3..]);
        } else {
            current.push_str(line);
        }
    }
    chunks.push(Chunk {
        line_offset: offset,
        text: current,
    });
    chunks
}

/// The first line (1-based) with something other than blanks, comments and
/// the document marker.
fn first_content_line(text: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let line = line.trim();
            !line.is_empty() && !line.starts_with('#') && line != "..."
        })
        .map(|i| i + 1)
}

/// A document that does not parse.
#[derive(Debug, PartialEq, Eq)]
struct ParseProblem {
    /// Line in the document (1-based).
    line: Option<usize>,
    /// Column (1-based).
    column: Option<usize>,
    message: String,
}

/// Parses one document: JSON when it looks like JSON and is, else YAML. The
/// message is the JSON parser's when the text looks like JSON, else the YAML
/// parser's (as `imagegate run` reads requests).
fn parse(text: &str) -> Result<Value, ParseProblem> {
    let looks_like_json = text.trim_start().starts_with(['{', '[']);
    let json_error = if looks_like_json {
        match serde_json::from_str::<Value>(text) {
            Ok(value) => return Ok(value),
            Err(error) => Some(error),
        }
    } else {
        None
    };
    // Large `kubectl get -o yaml` lists exceed serde-saphyr's default budget
    // (250,000 nodes); the budget guards against alias bombs, which its
    // alias limits still do.
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: 50_000_000,
            max_events: 200_000_000,
        },
    };
    match serde_saphyr::from_str_with_options::<Value>(text, options) {
        Ok(value) => Ok(value),
        Err(yaml) => Err(match json_error {
            Some(json) => {
                let message = json.to_string();
                let message = message
                    .rsplit_once(" at line ")
                    .map_or(message.as_str(), |(m, _)| m)
                    .to_owned();
                ParseProblem {
                    line: Some(json.line()),
                    column: Some(json.column()),
                    message: format!("not JSON: {message}"),
                }
            }
            None => {
                let location = yaml.location();
                ParseProblem {
                    line: location.and_then(|l| usize::try_from(l.line()).ok()),
                    column: location.and_then(|l| usize::try_from(l.column()).ok()),
                    message: format!("not YAML: {}", yaml_message(&yaml)),
                }
            }
        }),
    }
}

/// serde-saphyr's message without its location and on one line.
fn yaml_message(error: &serde_saphyr::Error) -> String {
    use serde_saphyr::MessageFormatter as _;
    let message = serde_saphyr::UserMessageFormatter.format_message(error);
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_list_items_are_found_by_their_brackets() {
        let text = "{\"kind\": \"List\", \"note\": \"[{\\\"items\\\": [\",\n \"metadata\": {\"items\": [1]},\n \"items\": [\n  {\"a\": \"}]\"},\n  7, \"s\", null,\n  [1, {\"b\": 2}]\n]}";
        let items = json_list_items(text).expect("items found");
        let found: Vec<(&str, usize)> = items
            .iter()
            .map(|i| (&text[i.bytes.clone()], i.line))
            .collect();
        assert_eq!(
            found,
            [
                ("{\"a\": \"}]\"}", 4),
                ("", 5),
                ("", 5),
                ("", 5),
                ("[1, {\"b\": 2}]", 6)
            ]
        );
        let parsed: Value = serde_json::from_str(text).unwrap();
        assert_eq!(parsed["items"].as_array().unwrap().len(), items.len());
        assert!(json_list_items("{\"items\": [], \"items\": []}").is_none());
        assert!(json_list_items("{\"kind\": \"List\"}").is_none());
    }

    #[test]
    fn documents_are_split_at_markers() {
        let text = "a: 1\n---\nb: 2\n--- # c\nc: 3\n---x: 4\n---\n";
        let chunks = split_documents(text);
        assert_eq!(
            chunks,
            vec![
                Chunk {
                    line_offset: 0,
                    text: "a: 1\n".into()
                },
                Chunk {
                    line_offset: 1,
                    text: "   \nb: 2\n".into()
                },
                Chunk {
                    line_offset: 3,
                    text: "    # c\nc: 3\n---x: 4\n".into()
                },
                Chunk {
                    line_offset: 6,
                    text: "   \n".into()
                },
            ]
        );
        assert_eq!(split_documents("---\na: 1\n").len(), 1);
        assert_eq!(split_documents("").len(), 1);
    }

    #[test]
    fn first_content_lines() {
        assert_eq!(first_content_line("   \n# x\n\napiVersion: v1\n"), Some(4));
        assert_eq!(first_content_line("   \n# only a comment\n"), None);
    }

    #[test]
    fn yaml_errors_have_positions_without_the_text() {
        let problem = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(problem.message.starts_with("not YAML: "), "{problem:?}");
        assert!(!problem.message.contains("line"), "{problem:?}");
        assert!(
            problem.line.is_some() && problem.column.is_some(),
            "{problem:?}"
        );
        let problem = parse("{\"a\": 1,\n \"b\": [1}").unwrap_err();
        assert_eq!((problem.line, problem.column), (Some(2), Some(9)));
        assert!(
            problem.message == "not JSON: expected `,` or `]`",
            "{problem:?}"
        );
        assert_eq!(parse("{a: 1}").unwrap(), serde_json::json!({"a": 1}));
    }

    fn read_text(text: &str) -> Inputs {
        let mut inputs = Inputs::default();
        inputs.add_file("x.yaml".into(), Ok(text.as_bytes().to_vec()));
        inputs
    }

    #[test]
    fn broken_documents_do_not_stop_the_file() {
        let inputs = read_text(
            "apiVersion: v1\nkind: Pod\n---\n# empty\n---\nkind: [\n---\napiVersion: v1\nkind: Pod\n",
        );
        let kinds: Vec<String> = inputs
            .found
            .iter()
            .map(|f| match f {
                Found::Object(o) => format!("object {} line {}", o.at.document, o.at.line),
                Found::NotObject { .. } => "not".into(),
                Found::Error(e) => format!("error doc {:?} line {:?}", e.document, e.line),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "object 0 line 1",
                "error doc Some(3) line Some(6)",
                "object 1 line 8"
            ]
        );
    }

    #[test]
    fn lists_give_their_items() {
        let inputs = read_text(
            "apiVersion: apps/v1\nkind: DeploymentList\nitems:\n- metadata: {name: a}\n- apiVersion: v1\n  kind: Pod\n- 3\n",
        );
        let Found::Object(first) = &inputs.found[0] else {
            panic!()
        };
        assert_eq!(first.object["kind"], "Deployment");
        assert_eq!(first.object["apiVersion"], "apps/v1");
        assert_eq!((first.at.item, first.at.line), (Some(0), 4));
        assert_eq!(first.path_prefix(), "items[0]");
        let Found::Object(second) = &inputs.found[1] else {
            panic!()
        };
        assert_eq!(
            (second.object["kind"].as_str(), second.at.line),
            (Some("Pod"), 5)
        );
        assert!(
            matches!(&inputs.found[2], Found::NotObject { reason, .. } if reason == "not a Kubernetes object (a number)")
        );
        let inputs = read_text("kind: List\napiVersion: v1\nitems:\n- {kind: Pod}\n");
        assert!(matches!(&inputs.found[0], Found::NotObject { .. }));
    }

    #[test]
    fn not_objects_are_named() {
        let inputs = read_text("replicaCount: 2\n---\n- a\n");
        let reasons: Vec<&str> = inputs
            .found
            .iter()
            .filter_map(|f| match f {
                Found::NotObject { reason, .. } => Some(reason.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            reasons,
            [
                "not a Kubernetes object (no apiVersion and kind)",
                "not a Kubernetes object (an array)"
            ]
        );
    }
}
