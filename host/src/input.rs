//! Reading what the user hands imagegate: request files and settings.
//!
//! A request file (or `-` for stdin) holds JSON or YAML, and one of:
//!
//! * an AdmissionReview (`{"kind":"AdmissionReview","request":{…}}`): its
//!   `request` is used;
//! * a bare AdmissionRequest (has `uid`, `operation`, `object` or `oldObject`,
//!   or a `kind` that is an object): used as it is;
//! * a plain Kubernetes object (string `apiVersion` and `kind`): wrapped as a
//!   CREATE request, the way the API server would send it (see [`wrap_object`]).
//!
//! kwctl accepts the first two (kwctl `src/command/run/evaluator.rs`); the third
//! lets `imagegate run --request deployment.yaml` check a manifest directly.
//! Every error names the file.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};

/// The wrapping is the policy core's, shared with the JavaScript entry.
pub use imagegate_policy::wrap::wrap_object;

/// Where a document came from, for messages: `request file "x.json"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source(String);

impl Source {
    /// A file given with `flag`: `request file "x.json"`, `request from stdin`.
    pub fn file(what: &str, path: &str) -> Source {
        if path == "-" {
            Source(format!("{what} from stdin"))
        } else {
            Source(format!("{what} file \"{path}\""))
        }
    }

    /// A value given on the command line: `--settings-json`.
    pub fn flag(flag: &str) -> Source {
        Source(flag.to_owned())
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Bad input; each variant names where it came from.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be read.
    #[error("{source_name}: cannot read it: {error}")]
    Read {
        /// Where.
        source_name: Source,
        /// Why.
        error: std::io::Error,
    },
    /// Neither JSON nor YAML.
    #[error("{source_name}: not JSON or YAML: {message}")]
    Syntax {
        /// Where.
        source_name: Source,
        /// The parser's message, with line and column.
        message: String,
    },
    /// Parsed, but not the expected shape.
    #[error("{source_name}: {problem}")]
    Shape {
        /// Where.
        source_name: Source,
        /// What is wrong.
        problem: String,
    },
}

/// Reads `path`, or stdin when `path` is `-`.
pub fn read_source(path: &str, source_name: &Source) -> Result<Vec<u8>, InputError> {
    let result = if path == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map(|_| bytes)
    } else {
        std::fs::read(Path::new(path))
    };
    result.map_err(|error| InputError::Read {
        source_name: source_name.clone(),
        error,
    })
}

/// Parses one JSON or YAML document. JSON is tried first (its messages are
/// better for JSON); if both fail, the message is the JSON parser's when the
/// text looks like JSON (starts with `{` or `[`), else the YAML parser's.
pub fn parse_document(bytes: &[u8], source_name: &Source) -> Result<Value, InputError> {
    let json_error = match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let syntax = |message: String| InputError::Syntax {
        source_name: source_name.clone(),
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| syntax(format!("not UTF-8 text: {e}")))?;
    if text.trim().is_empty() {
        return Err(InputError::Shape {
            source_name: source_name.clone(),
            problem: "the file is empty".into(),
        });
    }
    match serde_saphyr::from_str::<Value>(text) {
        Ok(value) => Ok(value),
        Err(yaml_error) => {
            let looks_like_json = text.trim_start().starts_with(['{', '[']);
            Err(syntax(if looks_like_json {
                json_error.to_string()
            } else {
                yaml_message(&yaml_error)
            }))
        }
    }
}

/// The YAML parser's message for people, without source snippets, on one line.
fn yaml_message(error: &serde_saphyr::Error) -> String {
    let options = serde_saphyr::render_options! {
        formatter: &serde_saphyr::UserMessageFormatter,
        snippets: serde_saphyr::SnippetMode::Off,
    };
    one_line(&error.render_with_options(options))
}

/// Keeps a message on one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `an array`, `a string`, … for "found …" messages.
pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads a request file and returns the AdmissionRequest to evaluate.
pub fn load_request(path: &str) -> Result<Value, InputError> {
    let source_name = Source::file("request", path);
    let bytes = read_source(path, &source_name)?;
    let document = parse_document(&bytes, &source_name)?;
    admission_request(document).map_err(|problem| InputError::Shape {
        source_name,
        problem,
    })
}

/// Reads a settings file (YAML or JSON; an empty file or `null` means `{}`).
pub fn load_settings_file(path: &str) -> Result<Value, InputError> {
    let source_name = Source::file("settings", path);
    let bytes = read_source(path, &source_name)?;
    parse_settings_bytes(&bytes, path)
}

/// Parses the bytes of the settings file `path` (as [`load_settings_file`]
/// reads it); `serve` keeps the bytes to notice when the file changes.
///
/// A file with no settings in it (empty, only comments, or `null`) is
/// refused rather than read as `{}`: an empty file is more often a wrong
/// path, a truncated write or an emptied ConfigMap than a wish to accept
/// every image, and `{}` says that plainly.
pub fn parse_settings_bytes(bytes: &[u8], path: &str) -> Result<Value, InputError> {
    let source_name = Source::file("settings", path);
    let no_settings = |what: &str| InputError::Shape {
        source_name: source_name.clone(),
        problem: format!(
            "{what}, so it holds no settings; to accept every image on purpose, write {{}}"
        ),
    };
    if bytes.trim_ascii().is_empty() {
        return Err(no_settings("the file is empty"));
    }
    match parse_document(bytes, &source_name)? {
        Value::Null => Err(no_settings("the file has only comments or null")),
        document => settings_object(document, &source_name),
    }
}

/// Parses `--settings-json`.
pub fn parse_settings_json(json: &str) -> Result<Value, InputError> {
    let source_name = Source::flag("--settings-json");
    let value = serde_json::from_str::<Value>(json).map_err(|e| InputError::Syntax {
        source_name: Source::flag("--settings-json"),
        message: e.to_string(),
    })?;
    settings_object(value, &source_name)
}

/// Settings must be an object; `null` means no settings (`{}`), as in
/// policy-evaluator.
fn settings_object(value: Value, source_name: &Source) -> Result<Value, InputError> {
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(Map::new())),
        other => Err(InputError::Shape {
            source_name: source_name.clone(),
            problem: format!("settings must be an object, found {}", describe(&other)),
        }),
    }
}

/// Picks the AdmissionRequest out of a parsed request document.
pub fn admission_request(document: Value) -> Result<Value, String> {
    let Value::Object(map) = document else {
        return Err(format!(
            "expected an AdmissionReview, an AdmissionRequest or a Kubernetes object, found {}",
            describe(&document)
        ));
    };
    let kind = map.get("kind");
    if kind.and_then(Value::as_str) == Some("AdmissionReview") {
        return match map.get("request") {
            Some(request @ Value::Object(_)) => Ok(request.clone()),
            Some(other) => Err(format!(
                "the AdmissionReview's request must be an object, found {}",
                describe(other)
            )),
            None => Err("the AdmissionReview has no request".into()),
        };
    }
    let is_object_shaped =
        map.get("apiVersion").is_some_and(Value::is_string) && kind.is_some_and(Value::is_string);
    if is_object_shaped {
        return wrap_object(map);
    }
    let is_request_shaped = ["uid", "operation", "object", "oldObject"]
        .iter()
        .any(|k| map.contains_key(*k))
        || kind.is_some_and(Value::is_object);
    if is_request_shaped {
        return Ok(Value::Object(map));
    }
    let keys: Vec<&str> = map.keys().map(String::as_str).take(5).collect();
    Err(format!(
        "expected an AdmissionReview, an AdmissionRequest or a Kubernetes object, found an \
         object {}",
        if keys.is_empty() {
            "with no keys".to_owned()
        } else {
            format!("with keys {}", keys.join(", "))
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use imagegate_policy::wrap::{WRAPPED_UID, WRAPPED_USERNAME, resource_name};
    use serde_json::json;

    fn src() -> Source {
        Source::file("request", "x.yaml")
    }

    #[test]
    fn admission_review_gives_its_request() {
        let doc = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                         "request": {"uid": "abc", "operation": "CREATE"}});
        assert_eq!(
            admission_request(doc),
            Ok(json!({"uid": "abc", "operation": "CREATE"}))
        );
        assert_eq!(
            admission_request(json!({"kind": "AdmissionReview"})),
            Err("the AdmissionReview has no request".into())
        );
    }

    #[test]
    fn bare_request_is_used_as_is() {
        let doc = json!({"uid": "1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                         "operation": "UPDATE", "object": {}});
        assert_eq!(admission_request(doc.clone()), Ok(doc));
    }

    #[test]
    fn plain_object_is_wrapped_as_create() {
        let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec: {}\n";
        let doc = parse_document(yaml.as_bytes(), &src()).unwrap();
        let request = admission_request(doc).unwrap();
        assert_eq!(request["uid"], json!(WRAPPED_UID));
        assert_eq!(request["operation"], json!("CREATE"));
        assert_eq!(
            request["kind"],
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        assert_eq!(
            request["resource"],
            json!({"group": "apps", "version": "v1", "resource": "deployments"})
        );
        assert_eq!(request["name"], json!("web"));
        assert_eq!(request["namespace"], json!("default"));
        assert_eq!(request["object"]["metadata"]["name"], json!("web"));
        assert_eq!(request["userInfo"]["username"], json!(WRAPPED_USERNAME));
    }

    #[test]
    fn core_group_and_explicit_namespace() {
        let doc = json!({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": "p", "namespace": "team-a"}});
        let request = admission_request(doc).unwrap();
        assert_eq!(
            request["kind"],
            json!({"group": "", "version": "v1", "kind": "Pod"})
        );
        assert_eq!(request["resource"]["resource"], json!("pods"));
        assert_eq!(request["namespace"], json!("team-a"));
    }

    #[test]
    fn unknown_kinds_get_kubernetes_guess_and_no_namespace() {
        assert_eq!(resource_name("Ingress"), ("ingresses".into(), false));
        assert_eq!(
            resource_name("NetworkPolicy"),
            ("networkpolicies".into(), false)
        );
        assert_eq!(resource_name("ConfigMap"), ("configmaps".into(), false));
        let request = admission_request(json!({"apiVersion": "v1", "kind": "ConfigMap"})).unwrap();
        assert!(request.get("namespace").is_none() && request.get("name").is_none());
    }

    #[test]
    fn bad_api_version_is_named() {
        assert_eq!(
            admission_request(json!({"apiVersion": "a/b/c", "kind": "Pod"})),
            Err("apiVersion \"a/b/c\" is not \"version\" or \"group/version\"".into())
        );
    }

    #[test]
    fn other_shapes_are_refused() {
        assert_eq!(
            admission_request(json!([1])),
            Err(
                "expected an AdmissionReview, an AdmissionRequest or a Kubernetes object, \
                 found an array"
                    .into()
            )
        );
        assert_eq!(
            admission_request(json!({"foo": 1})),
            Err(
                "expected an AdmissionReview, an AdmissionRequest or a Kubernetes object, \
                 found an object with keys foo"
                    .into()
            )
        );
    }

    #[test]
    fn syntax_errors_name_the_file_and_position() {
        let err = parse_document(b"{\"a\": ", &src()).unwrap_err().to_string();
        assert!(
            err.starts_with("request file \"x.yaml\": not JSON or YAML: "),
            "{err}"
        );
        assert!(err.contains("line 1"), "{err}");
        let err = parse_document(b"a: [1, 2\nb: }", &src())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("request file \"x.yaml\": not JSON or YAML: "),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn empty_input_is_named() {
        let err = parse_document(b"  \n", &src()).unwrap_err().to_string();
        assert_eq!(err, "request file \"x.yaml\": the file is empty");
    }

    #[test]
    fn settings_must_be_objects() {
        assert_eq!(parse_settings_json("{\"a\":1}").unwrap(), json!({"a": 1}));
        assert_eq!(parse_settings_json("null").unwrap(), json!({}));
        assert_eq!(
            parse_settings_json("[1]").unwrap_err().to_string(),
            "--settings-json: settings must be an object, found an array"
        );
        assert!(
            parse_settings_json("{")
                .unwrap_err()
                .to_string()
                .starts_with("--settings-json: not JSON or YAML: ")
        );
    }
}
