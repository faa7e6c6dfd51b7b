//! Reading just the parts of a JSON document the policy needs.
//!
//! Admission requests carry whole objects, and only a few fields matter
//! (the pod spec's containers and volumes). Instead of building a
//! `serde_json::Value` tree, the policy keeps borrowed [`RawValue`] slices and
//! looks up the few keys it wants, skipping the rest: cheaper on the cold
//! path, and every wrong type is reported with its field path.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON value of the wrong shape, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// Field path, e.g. `spec.template.spec.containers[0]`.
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

/// The JSON type of a raw value, read from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    /// `null`
    Null,
    /// `true` / `false`
    Bool,
    /// a number
    Number,
    /// a string
    String,
    /// a list
    Array,
    /// an object
    Object,
}

impl JsonType {
    /// The type of `raw`.
    pub fn of(raw: &RawValue) -> JsonType {
        match raw.get().trim_start().as_bytes().first() {
            Some(b'{') => JsonType::Object,
            Some(b'[') => JsonType::Array,
            Some(b'"') => JsonType::String,
            Some(b't' | b'f') => JsonType::Bool,
            Some(b'n') | None => JsonType::Null,
            Some(_) => JsonType::Number,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            JsonType::Null => "null",
            JsonType::Bool => "a boolean",
            JsonType::Number => "a number",
            JsonType::String => "a string",
            JsonType::Array => "a list",
            JsonType::Object => "an object",
        }
    }
}

fn wrong_type(path: &str, expected: &str, found: &RawValue) -> ShapeError {
    ShapeError {
        path: path.to_owned(),
        problem: format!(
            "expected {expected}, found {}",
            JsonType::of(found).describe()
        ),
    }
}

/// Looks up `keys` in the object `raw` (`None` for `null`); other keys are
/// skipped. A key written twice is an error: readers disagree on which copy
/// counts, and a policy must not read a different one than the runtime.
pub fn fields<'a, const N: usize>(
    raw: &'a RawValue,
    keys: &[&str; N],
    path: &str,
) -> Result<Option<[Option<&'a RawValue>; N]>, ShapeError> {
    match JsonType::of(raw) {
        JsonType::Null => return Ok(None),
        JsonType::Object => {}
        _ => return Err(wrong_type(path, "an object", raw)),
    }
    let mut de = serde_json::Deserializer::from_str(raw.get());
    Pick { keys }
        .deserialize(&mut de)
        .map(Some)
        .map_err(|e| ShapeError {
            path: path.to_owned(),
            problem: e.to_string(),
        })
}

/// The items of the list `raw` (empty for `null`).
pub fn items<'a>(raw: &'a RawValue, path: &str) -> Result<Vec<&'a RawValue>, ShapeError> {
    match JsonType::of(raw) {
        JsonType::Null => Ok(Vec::new()),
        JsonType::Array => serde_json::from_str(raw.get()).map_err(|e| ShapeError {
            path: path.to_owned(),
            problem: e.to_string(),
        }),
        _ => Err(wrong_type(path, "a list", raw)),
    }
}

/// The string `raw` (`None` for `null`), borrowed unless it has escapes.
pub fn string<'a>(raw: &'a RawValue, path: &str) -> Result<Option<Cow<'a, str>>, ShapeError> {
    match JsonType::of(raw) {
        JsonType::Null => Ok(None),
        JsonType::String => {
            let mut de = serde_json::Deserializer::from_str(raw.get());
            de.deserialize_str(StrVisitor)
                .map(Some)
                .map_err(|e| ShapeError {
                    path: path.to_owned(),
                    problem: e.to_string(),
                })
        }
        _ => Err(wrong_type(path, "a string", raw)),
    }
}

struct Pick<'k, const N: usize> {
    keys: &'k [&'k str; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for Pick<'_, N> {
    type Value = [Option<&'de RawValue>; N];

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Pick<'_, N> {
    type Value = [Option<&'de RawValue>; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = [None; N];
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match self.keys.iter().position(|k| *k == key) {
                Some(i) => {
                    if out[i].is_some() {
                        return Err(de::Error::custom(format_args!(
                            "key \"{key}\" is written twice"
                        )));
                    }
                    out[i] = Some(map.next_value::<&'de RawValue>()?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(StrVisitor)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> &RawValue {
        match serde_json::from_str(s) {
            Ok(r) => r,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn picks_keys_and_skips_the_rest() {
        let r = raw(r#"{"a": 1, "skip": {"deep": [1, 2, {"x": null}]}, "b": "two"}"#);
        let Ok(Some([a, b, c])) = fields(r, &["a", "b", "c"], "x") else {
            panic!("fields")
        };
        assert_eq!(a.map(RawValue::get), Some("1"));
        assert_eq!(b.map(RawValue::get), Some("\"two\""));
        assert!(c.is_none());
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let r = raw(r#"{"image": "good", "image": "evil"}"#);
        let Err(e) = fields(r, &["image"], "spec.containers[0]") else {
            panic!("duplicate accepted")
        };
        assert_eq!(e.path, "spec.containers[0]");
        assert!(e.problem.contains("written twice"), "{e}");
    }

    #[test]
    fn wrong_types_name_the_path() {
        let Err(e) = fields(raw(r#""str""#), &["a"], "spec") else {
            panic!("string accepted as object")
        };
        assert_eq!(e.to_string(), "spec: expected an object, found a string");
        let Err(e) = items(raw("{}"), "spec.containers") else {
            panic!("object accepted as list")
        };
        assert_eq!(
            e.to_string(),
            "spec.containers: expected a list, found an object"
        );
        let Err(e) = string(raw("5"), "spec.containers[0].image") else {
            panic!("number accepted as string")
        };
        assert_eq!(
            e.to_string(),
            "spec.containers[0].image: expected a string, found a number"
        );
    }

    #[test]
    fn strings_with_escapes_are_decoded() {
        let Ok(Some(s)) = string(raw(r#""ng\u0069nx""#), "x") else {
            panic!("string")
        };
        assert_eq!(s, "nginx");
        assert!(matches!(string(raw("null"), "x"), Ok(None)));
    }
}
