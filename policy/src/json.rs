//! Reading just the parts of a JSON document the policy needs, in one pass.
//!
//! Admission requests carry whole objects and only a few fields matter (the
//! pod spec's containers and volumes). Instead of building a
//! `serde_json::Value` tree, or scanning the same bytes once per level, the
//! policy walks the document once with serde seeds that descend into the keys
//! they want, skip everything else, and borrow the strings they keep.
//!
//! Each step of the walk implements [`Shape`]: it says which JSON type it
//! expects, and every other type becomes a [`ShapeError`] with its field
//! path, recorded in a [`Walk`] (serde's own errors carry a line and column
//! instead of a path).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
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

/// A JSON type, for messages about values of the wrong one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
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
    /// How a message names the type.
    pub fn describe(self) -> &'static str {
        match self {
            JsonType::Bool => "a boolean",
            JsonType::Number => "a number",
            JsonType::String => "a string",
            JsonType::Array => "a list",
            JsonType::Object => "an object",
        }
    }
}

/// The state of one walk: the first shape error met, if any, and what it
/// was met in (`Deployment`).
#[derive(Debug, Default)]
pub struct Walk {
    error: RefCell<Option<ShapeError>>,
    subject: RefCell<Option<String>>,
}

impl Walk {
    /// Records a shape error (the first one wins: it is the innermost) and
    /// returns a serde error that unwinds the walk.
    pub fn fail<E: de::Error>(&self, path: String, problem: String) -> E {
        let mut slot = self.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(ShapeError { path, problem });
        }
        E::custom("shape error")
    }

    /// Names what the recorded error was met in, if none is named yet.
    pub fn name_error(&self, subject: &str) {
        if self.error.borrow().is_some() && self.subject.borrow().is_none() {
            *self.subject.borrow_mut() = Some(subject.to_owned());
        }
    }

    /// The recorded error and what it was met in.
    pub fn take_error(&self) -> Option<(String, ShapeError)> {
        let error = self.error.borrow_mut().take()?;
        let subject = self
            .subject
            .borrow_mut()
            .take()
            .unwrap_or_else(|| "object".to_owned());
        Some((subject, error))
    }

    /// Runs `seed` over `raw`; a failure is the recorded shape error, or the
    /// JSON syntax error when the document itself is broken.
    pub fn run<'de, S: DeserializeSeed<'de>>(
        &self,
        raw: &'de RawValue,
        seed: S,
    ) -> Result<S::Value, ShapeError> {
        let mut de = serde_json::Deserializer::from_str(raw.get());
        seed.deserialize(&mut de).map_err(|e| {
            self.error
                .borrow_mut()
                .take()
                .unwrap_or_else(|| ShapeError {
                    path: String::new(),
                    problem: e.to_string(),
                })
        })
    }
}

/// One step of a walk: the JSON type it expects and what it does with it.
/// Types it does not handle are shape errors naming its path; `null` is the
/// step's [`Shape::null`] (absent, for every step here).
pub trait Shape<'de>: Sized {
    /// What the step produces.
    type Value;

    /// The walk this step belongs to.
    fn walk(&self) -> &Walk;
    /// The field path of the value, for messages.
    fn path(&self) -> String;
    /// The expected type, for messages (`an object`, `a list`, `a string`).
    fn expected(&self) -> &'static str;
    /// The value for `null`.
    fn null(self) -> Self::Value;

    /// Handles an object.
    fn map<A: MapAccess<'de>>(self, _map: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong(JsonType::Object))
    }
    /// Handles a list.
    fn seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong(JsonType::Array))
    }
    /// Handles a string.
    fn str<E: de::Error>(self, _s: Cow<'de, str>) -> Result<Self::Value, E> {
        Err(self.wrong(JsonType::String))
    }

    /// The error for a value of type `found`.
    fn wrong<E: de::Error>(&self, found: JsonType) -> E {
        self.walk().fail(
            self.path(),
            format!("expected {}, found {}", self.expected(), found.describe()),
        )
    }

    /// The error for a key written twice in one object. Readers disagree on
    /// which copy counts, and the policy must not read another one than the
    /// runtime does.
    fn duplicate<E: de::Error>(&self, key: &str) -> E {
        self.walk()
            .fail(self.path(), format!("key \"{key}\" is written twice"))
    }
}

/// Adapts a [`Shape`] to serde: `deserialize_any`, then dispatch on the type.
pub struct Step<S>(pub S);

impl<'de, S: Shape<'de>> DeserializeSeed<'de> for Step<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, S: Shape<'de>> Visitor<'de> for Step<S> {
    type Value = S::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.expected())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.seq(seq)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        self.0.str(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.0.str(Cow::Owned(v.to_owned()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.0.null())
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.0.null())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(self.0.wrong(JsonType::Bool))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(self.0.wrong(JsonType::Number))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(self.0.wrong(JsonType::Number))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(self.0.wrong(JsonType::Number))
    }
}

/// A map key, borrowed unless it has escapes (which are decoded, so
/// `"im\u0061ge"` is the key `image`).
pub struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
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

    /// A step that expects a string at path `x`.
    struct Text<'w>(&'w Walk);

    impl<'de> Shape<'de> for Text<'_> {
        type Value = Option<Cow<'de, str>>;
        fn walk(&self) -> &Walk {
            self.0
        }
        fn path(&self) -> String {
            "x".into()
        }
        fn expected(&self) -> &'static str {
            "a string"
        }
        fn null(self) -> Self::Value {
            None
        }
        fn str<E: de::Error>(self, s: Cow<'de, str>) -> Result<Self::Value, E> {
            Ok(Some(s))
        }
    }

    fn text(json: &str) -> Result<Option<String>, ShapeError> {
        let raw: &RawValue = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        let walk = Walk::default();
        walk.run(raw, Step(Text(&walk)))
            .map(|v| v.map(Cow::into_owned))
    }

    #[test]
    fn wrong_types_name_path_and_type() {
        assert_eq!(text(r#""a""#), Ok(Some("a".into())));
        assert_eq!(text("null"), Ok(None));
        for (json, found) in [
            ("1", "a number"),
            ("true", "a boolean"),
            ("[]", "a list"),
            ("{}", "an object"),
        ] {
            assert_eq!(
                text(json).map_err(|e| e.to_string()),
                Err(format!("x: expected a string, found {found}"))
            );
        }
    }

    #[test]
    fn escapes_are_decoded() {
        assert_eq!(text(r#""ng\u0069nx""#), Ok(Some("nginx".into())));
    }
}
