//! The `validate` payload, `{"request":…,"settings":…}`, written the way
//! Kubewarden's policy-server writes it.
//!
//! policy-server serializes its `AdmissionRequest` struct, so the request's
//! keys come in the struct's order: `uid`, `kind`, …, `operation`, …,
//! `object`, `oldObject` (kubewarden-abi.md §2). A `serde_json::Value` keeps
//! its keys sorted instead, which puts `object` before `operation`; a policy
//! that reads the request in one pass then has to keep the object aside and
//! read it a second time once it knows what the request is. Writing the
//! known keys in policy-server's order makes every imagegate command
//! (`run`, `bench`, `scan`, `serve`) hand the policy the same bytes a cluster
//! would, and measure what a cluster would see. Keys policy-server does not
//! know follow, in their sorted order; nothing is dropped.
//!
//! The settings are copied byte for byte: the policy caches its compiled
//! settings by those bytes, so a host that reuses an instance must send the
//! same bytes every time.

use serde_json::Value;

/// policy-evaluator's `AdmissionRequest` fields, in declaration order, with
/// the names it serializes (camelCase).
pub const REQUEST_KEY_ORDER: [&str; 17] = [
    "uid",
    "kind",
    "resource",
    "subResource",
    "requestKind",
    "requestResource",
    "requestSubResource",
    "name",
    "namespace",
    "operation",
    "userInfo",
    "object",
    "oldObject",
    "dryRun",
    "options",
    // Not in the struct, but both spellings are read by the SDK: keep the
    // snake_case ones next to where their camelCase twins would be.
    "sub_resource",
    "old_object",
];

/// Appends `{"request":<request>,"settings":<settings_json>}` to `out`.
/// `settings_json` must be one JSON value; it is copied as it is.
pub fn write_validate_payload(
    out: &mut Vec<u8>,
    request: &Value,
    settings_json: &[u8],
) -> Result<(), serde_json::Error> {
    out.extend_from_slice(b"{\"request\":");
    write_request(out, request)?;
    out.extend_from_slice(b",\"settings\":");
    out.extend_from_slice(settings_json);
    out.push(b'}');
    Ok(())
}

/// The payload as a new buffer; see [`write_validate_payload`].
pub fn validate_payload(
    request: &Value,
    settings_json: &[u8],
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(settings_json.len() + 4096);
    write_validate_payload(&mut out, request, settings_json)?;
    Ok(out)
}

/// Appends `{"request":<request>,"settings":<settings_json>}` to `out`, the
/// request given as its keys and their values' JSON text (as `serve` reads
/// it, without decoding the object): the same bytes as
/// [`write_validate_payload`] up to the whitespace inside values.
pub fn write_validate_payload_raw(
    out: &mut Vec<u8>,
    request: &std::collections::BTreeMap<String, &serde_json::value::RawValue>,
    settings_json: &[u8],
) -> Result<(), serde_json::Error> {
    out.extend_from_slice(b"{\"request\":{");
    let known = REQUEST_KEY_ORDER
        .iter()
        .filter_map(|key| request.get_key_value(*key));
    let others = request
        .iter()
        .filter(|(key, _)| !REQUEST_KEY_ORDER.contains(&key.as_str()));
    for (i, (key, value)) in known.chain(others).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, key)?;
        out.push(b':');
        out.extend_from_slice(value.get().as_bytes());
    }
    out.extend_from_slice(b"},\"settings\":");
    out.extend_from_slice(settings_json);
    out.push(b'}');
    Ok(())
}

/// Writes the request with policy-server's key order; a request that is not
/// an object is written as it is (the policy will say what is wrong).
fn write_request(out: &mut Vec<u8>, request: &Value) -> Result<(), serde_json::Error> {
    let Value::Object(map) = request else {
        return serde_json::to_writer(&mut *out, request);
    };
    let known = REQUEST_KEY_ORDER
        .iter()
        .filter_map(|key| map.get_key_value(*key));
    let others = map
        .iter()
        .filter(|(key, _)| !REQUEST_KEY_ORDER.contains(&key.as_str()));
    out.push(b'{');
    for (i, (key, value)) in known.chain(others).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, key)?;
        out.push(b':');
        serde_json::to_writer(&mut *out, value)?;
    }
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(request: &Value, settings: &[u8]) -> String {
        let bytes = validate_payload(request, settings).unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8(bytes).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn request_keys_come_in_policy_server_order() {
        // `json!` sorts the keys: object < operation < uid.
        let request = json!({
            "zzz": 1,
            "object": {"kind": "Pod"},
            "operation": "CREATE",
            "uid": "u",
            "kind": {"kind": "Pod"},
            "aaa": 2,
            "dryRun": false,
        });
        assert_eq!(
            payload(&request, b"{}"),
            r#"{"request":{"uid":"u","kind":{"kind":"Pod"},"operation":"CREATE","object":{"kind":"Pod"},"dryRun":false,"aaa":2,"zzz":1},"settings":{}}"#
        );
    }

    #[test]
    fn the_raw_request_gives_the_same_bytes() {
        let request = json!({
            "zzz": 1, "object": {"kind": "Pod", "a": [1, {"b": null}]}, "operation": "CREATE",
            "uid": "u", "kind": {"kind": "Pod"}, "aaa": "\u{e9}\"", "dryRun": false,
        });
        let text = request.to_string();
        let raw: std::collections::BTreeMap<String, &serde_json::value::RawValue> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        write_validate_payload_raw(&mut out, &raw, b"{}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(String::from_utf8_lossy(&out), payload(&request, b"{}"));
    }

    #[test]
    fn every_key_is_kept_once() {
        let request = json!({
            "uid": "u", "kind": {}, "resource": {}, "subResource": "s", "requestKind": {},
            "requestResource": {}, "requestSubResource": "r", "name": "n", "namespace": "ns",
            "operation": "UPDATE", "userInfo": {}, "object": {}, "oldObject": {}, "dryRun": true,
            "options": {}, "sub_resource": "s", "old_object": {}, "extra": [1],
        });
        let written: Value =
            serde_json::from_str(&payload(&request, b"null")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written, json!({"request": request, "settings": null}));
    }

    #[test]
    fn settings_bytes_are_copied_as_given() {
        assert_eq!(
            payload(&json!({"uid": "u"}), br#"{"b":1,  "a":2}"#),
            r#"{"request":{"uid":"u"},"settings":{"b":1,  "a":2}}"#
        );
    }

    #[test]
    fn a_request_that_is_not_an_object_is_written_as_it_is() {
        assert_eq!(
            payload(&json!([1]), b"{}"),
            r#"{"request":[1],"settings":{}}"#
        );
    }
}
