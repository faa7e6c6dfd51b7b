//! The Kubewarden waPC entry: registers `validate`, `validate_settings` and
//! `protocol_version`. Everything else lives in the core.

use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};

/// Called by the waPC host after instantiation; registers the handlers.
#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function("protocol_version", kubewarden_policy_sdk::protocol_version_guest);
}

fn validate(_payload: &[u8]) -> CallResult {
    Ok(br#"{"accepted":true}"#.to_vec())
}

fn validate_settings(_payload: &[u8]) -> CallResult {
    Ok(br#"{"valid":true}"#.to_vec())
}
