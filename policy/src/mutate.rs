//! Mutations: edits to the original object by JSON pointer, so everything the
//! policy does not touch (fields newer than any typed model, key order of the
//! untouched parts) stays as it was.

use serde_json::Value;

/// Set the value at `pointer` (RFC 6901) in the object; the parent must
/// exist and be an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// e.g. `/spec/containers/0/imagePullPolicy`.
    pub pointer: String,
    /// The new value.
    pub value: Value,
}

/// Applies `edits` to `object`.
pub fn apply(object: &mut Value, edits: &[Edit]) -> Result<(), String> {
    for edit in edits {
        let (parent, key) = edit
            .pointer
            .rsplit_once('/')
            .ok_or_else(|| format!("{}: not a JSON pointer", edit.pointer))?;
        let target = object
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| format!("{parent}: no object to edit"))?;
        target.insert(
            key.replace("~1", "/").replace("~0", "~"),
            edit.value.clone(),
        );
    }
    Ok(())
}

/// The request's object from a `validate` payload, with `edits` applied.
pub fn mutated_object(payload: &[u8], edits: &[Edit]) -> Result<Value, String> {
    #[derive(serde::Deserialize)]
    struct Payload {
        request: Request,
    }
    #[derive(serde::Deserialize)]
    struct Request {
        object: Value,
    }
    let mut object = serde_json::from_slice::<Payload>(payload)
        .map_err(|e| e.to_string())?
        .request
        .object;
    apply(&mut object, edits)?;
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn edits_set_fields_and_keep_the_rest() {
        let mut object =
            json!({"spec": {"containers": [{"name": "a", "image": "x", "zzz": 1}]}, "status": {}});
        let edits = [Edit {
            pointer: "/spec/containers/0/imagePullPolicy".into(),
            value: json!("Always"),
        }];
        assert_eq!(apply(&mut object, &edits), Ok(()));
        assert_eq!(
            object,
            json!({"spec": {"containers": [{"name": "a", "image": "x", "zzz": 1, "imagePullPolicy": "Always"}]}, "status": {}})
        );
    }

    #[test]
    fn a_missing_parent_is_an_error() {
        let mut object = json!({"spec": {}});
        let edits = [Edit {
            pointer: "/spec/containers/0/imagePullPolicy".into(),
            value: json!("Always"),
        }];
        assert!(apply(&mut object, &edits).is_err());
    }
}
