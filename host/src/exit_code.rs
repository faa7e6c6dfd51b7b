//! The exit codes a CI job tells apart (README "Exit codes"): 0 ok, 1
//! settings not valid, 2 usage or input error, 3 images rejected. Their own
//! module, so that `scan` and `commands` both import it and neither the other.

/// Some input could not be read or evaluated (also clap's usage errors).
pub const INPUT_ERROR: u8 = 2;

/// The exit code of "images rejected" (`scan`, `run -o text`): apart from
/// 1, settings not valid, so that a CI job can tell the two apart.
pub const REJECTED: u8 = 3;
