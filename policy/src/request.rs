//! The parts of Kubewarden's `validate` payload the policy reads:
//! `{"request": <AdmissionRequest>, "settings": <settings>}`. Both spellings
//! the SDK accepts (camelCase and snake_case) are read; other fields are
//! skipped without being parsed into a tree.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The `validate` payload, with the request and settings left unparsed.
#[derive(Debug, Deserialize)]
pub struct ValidatePayload<'a> {
    /// The admission request.
    #[serde(borrow)]
    pub request: &'a RawValue,
    /// The settings object (`{}` or absent when none).
    #[serde(borrow, default)]
    pub settings: Option<&'a RawValue>,
}

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

/// An AdmissionRequest, reduced to what the policy needs.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest<'a> {
    /// Echoed back by hosts.
    #[serde(borrow, default)]
    pub uid: Option<Cow<'a, str>>,
    /// The object's kind.
    #[serde(borrow, default)]
    pub kind: Option<GroupVersionKind<'a>>,
    /// e.g. `ephemeralcontainers`, `status`.
    #[serde(borrow, default, alias = "sub_resource")]
    pub sub_resource: Option<Cow<'a, str>>,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    #[serde(borrow, default)]
    pub operation: Option<Cow<'a, str>>,
    /// The new object.
    #[serde(borrow, default)]
    pub object: Option<&'a RawValue>,
}

impl<'a> AdmissionRequest<'a> {
    /// Parses a request from its JSON text.
    pub fn parse(raw: &'a RawValue) -> Result<AdmissionRequest<'a>, serde_json::Error> {
        serde_json::from_str(raw.get())
    }
}
