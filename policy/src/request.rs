//! The parts of Kubewarden's `validate` payload the policy reads:
//! `{"request": <AdmissionRequest>, "settings": <settings>}`.
//!
//! The payload is read in one pass. Hosts serialize the request's `kind`,
//! `operation` and `subResource` before its `object` (policy-evaluator and
//! the API server both do), so by the time the object arrives the policy
//! knows whether and where to look, and walks it right there; otherwise the
//! object is kept as raw JSON and walked afterwards. Both spellings the SDK
//! accepts (`subResource` and `sub_resource`) are read, every other field is
//! skipped, and a field written twice is an error.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::json::{Key, ShapeError, Walk};
use crate::workload::{self, ImageSite, PodSpecLocation};

/// `group`/`version`/`kind` of the object.
#[derive(Debug, Deserialize, Default)]
pub struct GroupVersionKind<'a> {
    /// e.g. `apps`; empty for the core group.
    #[serde(borrow, default)]
    pub group: Option<Cow<'a, str>>,
    /// e.g. `v1`.
    #[serde(borrow, default)]
    pub version: Option<Cow<'a, str>>,
    /// e.g. `Deployment`.
    #[serde(borrow, default)]
    pub kind: Option<Cow<'a, str>>,
}

/// The request's object, as far as the policy has read it.
#[derive(Debug, Default)]
pub enum Object<'a> {
    /// No object, or `null`.
    #[default]
    Missing,
    /// Skipped: the request is not one the policy checks.
    Skipped,
    /// Read before the fields that say where to look; walked later.
    Raw(&'a RawValue),
    /// Walked while reading: the image fields of its pod spec.
    Sites(Vec<ImageSite<'a>>),
}

/// An AdmissionRequest, reduced to what the policy needs.
#[derive(Debug, Default)]
pub struct AdmissionRequest<'a> {
    /// Echoed back by hosts.
    pub uid: Option<Cow<'a, str>>,
    /// The object's kind.
    pub kind: Option<GroupVersionKind<'a>>,
    /// e.g. `ephemeralcontainers`, `status`.
    pub sub_resource: Option<Cow<'a, str>>,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: Option<Cow<'a, str>>,
    /// The new object.
    pub object: Object<'a>,
}

/// A request the policy cannot evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The payload or the request is not what Kubewarden sends.
    Invalid(String),
    /// A field the policy needs is missing.
    Missing(&'static str),
    /// The object (of the kind named) has the wrong shape.
    Shape(String, ShapeError),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Invalid(e) => write!(f, "invalid request: {e}"),
            RequestError::Missing(field) => write!(f, "invalid request: {field} is missing"),
            RequestError::Shape(kind, e) => write!(f, "invalid {kind}: {e}"),
        }
    }
}

impl std::error::Error for RequestError {}

impl<'a> AdmissionRequest<'a> {
    /// Where to look in the object: `None` when the request is not checked
    /// (another operation, kind or subresource, SPEC 3).
    pub fn pod_spec_location(&self) -> Result<Option<PodSpecLocation>, RequestError> {
        let operation = self
            .operation
            .as_deref()
            .ok_or(RequestError::Missing("request.operation"))?;
        if operation != "CREATE" && operation != "UPDATE" {
            return Ok(None);
        }
        match self.sub_resource.as_deref() {
            None | Some("") | Some("ephemeralcontainers") => {}
            Some(_) => return Ok(None),
        }
        let kind = self
            .kind_name()
            .ok_or(RequestError::Missing("request.kind.kind"))?;
        Ok(workload::pod_spec_location(kind))
    }

    /// `kind.kind`, when written.
    pub fn kind_name(&self) -> Option<&str> {
        self.kind.as_ref().and_then(|k| k.kind.as_deref())
    }

    /// The image fields of the object's pod spec, walking the object now if
    /// it was read before the fields that locate the pod spec.
    pub fn image_sites(
        &self,
        location: &PodSpecLocation,
    ) -> Result<Cow<'_, [ImageSite<'a>]>, RequestError> {
        match &self.object {
            Object::Sites(sites) => Ok(Cow::Borrowed(sites)),
            Object::Raw(raw) => workload::image_sites(raw, location)
                .map(Cow::Owned)
                .map_err(|e| {
                    RequestError::Shape(self.kind_name().unwrap_or("object").to_owned(), e)
                }),
            Object::Missing | Object::Skipped => Err(RequestError::Missing("request.object")),
        }
    }
}

/// The `validate` payload: the request, and the settings as raw JSON (the
/// settings cache is keyed by their bytes).
#[derive(Debug)]
pub struct ValidatePayload<'a> {
    /// The admission request.
    pub request: AdmissionRequest<'a>,
    /// The settings object, when present.
    pub settings: Option<&'a RawValue>,
}

impl<'a> ValidatePayload<'a> {
    /// Reads a `validate` payload.
    pub fn parse(bytes: &'a [u8]) -> Result<ValidatePayload<'a>, RequestError> {
        // One UTF-8 check of the whole payload, so that serde_json reads it
        // as a `str` and does not check every string again (a tenth of a
        // reused validate in policy.wasm).
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let (line, column) = line_and_column(bytes, e.valid_up_to());
            RequestError::Invalid(format!(
                "the payload is not UTF-8 at line {line} column {column}"
            ))
        })?;
        let walk = Walk::default();
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = PayloadSeed { walk: &walk }
            .deserialize(&mut de)
            .and_then(|payload| de.end().map(|()| payload));
        parsed.map_err(|e| match walk.take_error() {
            Some((kind, shape)) => RequestError::Shape(kind, shape),
            None => RequestError::Invalid(e.to_string()),
        })
    }
}

/// 1-based line and column of byte `offset`, counted as serde_json counts
/// them (bytes since the last newline).
fn line_and_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let column = 1 + before.iter().rev().take_while(|&&b| b != b'\n').count();
    (line, column)
}

struct PayloadSeed<'w> {
    walk: &'w Walk,
}

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = ValidatePayload<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PayloadSeed<'_> {
    type Value = ValidatePayload<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"an object {"request": ..., "settings": ...}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut request = None;
        let mut settings = None;
        while let Some(key) = map.next_key_seed(Key)? {
            match key.as_ref() {
                "request" => {
                    if request.is_some() {
                        return Err(de::Error::duplicate_field("request"));
                    }
                    request = Some(map.next_value_seed(RequestSeed { walk: self.walk })?);
                }
                "settings" => {
                    if settings.is_some() {
                        return Err(de::Error::duplicate_field("settings"));
                    }
                    settings = Some(map.next_value::<&RawValue>()?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(ValidatePayload {
            request: request.ok_or_else(|| de::Error::missing_field("request"))?,
            settings,
        })
    }
}

struct RequestSeed<'w> {
    walk: &'w Walk,
}

impl<'de> DeserializeSeed<'de> for RequestSeed<'_> {
    type Value = AdmissionRequest<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RequestSeed<'_> {
    type Value = AdmissionRequest<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AdmissionRequest object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut request = AdmissionRequest::default();
        let mut seen = [false; 5];
        while let Some(key) = map.next_key_seed(Key)? {
            let field = match key.as_ref() {
                "uid" => 0,
                "kind" => 1,
                "subResource" | "sub_resource" => 2,
                "operation" => 3,
                "object" => 4,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if std::mem::replace(&mut seen[field], true) {
                return Err(de::Error::custom(format_args!(
                    "field `{key}` is written twice"
                )));
            }
            match field {
                0 => request.uid = map.next_value()?,
                1 => request.kind = map.next_value()?,
                2 => request.sub_resource = map.next_value()?,
                3 => request.operation = map.next_value()?,
                _ => request.object = read_object(&request, &mut map, self.walk)?,
            }
        }
        Ok(request)
    }
}

/// Reads `object`: walks it now when the fields read so far say where to
/// look, skips it when they say the request is not checked, keeps it raw
/// when they are not all known yet.
fn read_object<'de, A: MapAccess<'de>>(
    request: &AdmissionRequest<'de>,
    map: &mut A,
    walk: &Walk,
) -> Result<Object<'de>, A::Error> {
    let known = request.operation.is_some() && request.kind_name().is_some();
    if !known {
        let raw: Option<&RawValue> = map.next_value()?;
        return Ok(raw.map_or(Object::Missing, Object::Raw));
    }
    match request.pod_spec_location() {
        Ok(Some(location)) => {
            let kind = request.kind_name().unwrap_or("object");
            match map.next_value_seed(workload::ObjectSeed {
                walk,
                location: &location,
            }) {
                Ok(Some(sites)) => Ok(Object::Sites(sites)),
                Ok(None) => Ok(Object::Missing),
                Err(e) => {
                    walk.name_error(kind);
                    Err(e)
                }
            }
        }
        _ => {
            map.next_value::<IgnoredAny>()?;
            Ok(Object::Skipped)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<ValidatePayload<'_>, String> {
        ValidatePayload::parse(json.as_bytes()).map_err(|e| e.to_string())
    }

    fn images(payload: &ValidatePayload<'_>) -> Result<Vec<String>, String> {
        let location = payload
            .request
            .pod_spec_location()
            .map_err(|e| e.to_string())?
            .ok_or("not checked")?;
        let sites = payload
            .request
            .image_sites(&location)
            .map_err(|e| e.to_string())?;
        Ok(sites
            .iter()
            .filter_map(|s| s.image.as_deref().map(str::to_owned))
            .collect())
    }

    const POD: &str = r#"{"spec": {"containers": [{"name": "a", "image": "a:1"}]}}"#;

    #[test]
    fn object_after_kind_is_walked_while_reading() {
        let json = format!(
            r#"{{"settings": {{}}, "request": {{"operation": "CREATE", "kind": {{"kind": "Pod"}}, "object": {POD}}}}}"#
        );
        let payload = parse(&json).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(payload.request.object, Object::Sites(_)));
        assert_eq!(images(&payload), Ok(vec!["a:1".to_owned()]));
        assert_eq!(payload.settings.map(RawValue::get), Some("{}"));
    }

    #[test]
    fn object_before_kind_is_walked_afterwards() {
        let json = format!(
            r#"{{"request": {{"object": {POD}, "kind": {{"kind": "Pod"}}, "operation": "UPDATE"}}}}"#
        );
        let payload = parse(&json).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(payload.request.object, Object::Raw(_)));
        assert_eq!(images(&payload), Ok(vec!["a:1".to_owned()]));
        assert!(payload.settings.is_none());
    }

    #[test]
    fn unchecked_requests_skip_the_object() {
        let json = r#"{"request": {"operation": "DELETE", "kind": {"kind": "Pod"}, "object": {"spec": 5}}}"#;
        let payload = parse(json).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(payload.request.object, Object::Skipped));
        assert_eq!(payload.request.pod_spec_location(), Ok(None));
    }

    #[test]
    fn shape_errors_name_the_kind_in_either_order() {
        let early = r#"{"request": {"operation": "CREATE", "kind": {"kind": "Deployment"}, "object": {"spec": {"template": 1}}}}"#;
        assert_eq!(
            parse(early).map(|_| ()),
            Err("invalid Deployment: spec.template: expected an object, found a number".into())
        );
        let late = r#"{"request": {"object": {"spec": {"template": 1}}, "operation": "CREATE", "kind": {"kind": "Deployment"}}}"#;
        let payload = parse(late).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            images(&payload),
            Err("invalid Deployment: spec.template: expected an object, found a number".into())
        );
    }

    #[test]
    fn fields_written_twice_are_refused() {
        let json = r#"{"request": {"kind": {"kind": "Service"}, "operation": "CREATE", "object": {}, "kind": {"kind": "Pod"}}}"#;
        let Err(e) = parse(json) else {
            panic!("duplicate kind accepted")
        };
        assert!(e.contains("field `kind` is written twice"), "{e}");
        let json = r#"{"request": {"operation": "CREATE"}, "request": {"operation": "DELETE"}}"#;
        assert!(parse(json).is_err());
    }

    #[test]
    fn missing_parts_are_named() {
        let Err(e) = parse(r#"{"settings": {}}"#) else {
            panic!("no request accepted")
        };
        assert!(e.contains("missing field `request`"), "{e}");
        let payload = parse(r#"{"request": {"kind": {"kind": "Pod"}, "object": {}}}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            payload
                .request
                .pod_spec_location()
                .map_err(|e| e.to_string()),
            Err("invalid request: request.operation is missing".into())
        );
        let payload = parse(
            r#"{"request": {"kind": {"kind": "Pod"}, "operation": "CREATE", "object": null}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            images(&payload),
            Err("invalid request: request.object is missing".into())
        );
    }

    #[test]
    fn not_json_is_invalid() {
        for bad in [
            "",
            "nope",
            "[1]",
            r#"{"request": 5}"#,
            r#"{"request": {}} trailing"#,
        ] {
            let Err(e) = parse(bad) else {
                panic!("{bad:?} accepted")
            };
            assert!(e.starts_with("invalid request: "), "{bad:?}: {e}");
        }
    }

    #[test]
    fn invalid_utf8_is_located() {
        let bytes = b"{\"request\": {\n  \"uid\": \"a\xffb\"}}";
        let Err(e) = ValidatePayload::parse(bytes) else {
            panic!("invalid UTF-8 accepted")
        };
        assert_eq!(
            e.to_string(),
            "invalid request: the payload is not UTF-8 at line 2 column 12"
        );
    }

    #[test]
    fn snake_case_sub_resource_is_read() {
        let json = r#"{"request": {"sub_resource": "status", "operation": "UPDATE", "kind": {"kind": "Pod"}, "object": {}}}"#;
        let payload = parse(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(payload.request.pod_spec_location(), Ok(None));
    }
}
