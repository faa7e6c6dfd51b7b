//! `imagegate check-settings`: the policy's answer to `validate_settings`,
//! printed as `{"valid":…,"message":…}`; exit 0 when valid, 1 when not.

use std::process::ExitCode;

use crate::capabilities::LogSink;
use crate::cli::CheckSettingsArgs;
use crate::commands::{load_policy_from, load_settings, print_line, start};
use crate::output::SettingsValidationResponse;

/// Runs `imagegate check-settings`.
pub fn run(args: &CheckSettingsArgs) -> anyhow::Result<ExitCode> {
    let settings = load_settings(&args.settings)?;
    let policy = load_policy_from(
        &args.policy,
        &args.registry,
        args.limits.runtime_options(false, LogSink::Stderr),
    )?;
    let payload = serde_json::to_vec(&settings)?;
    let verdict = SettingsValidationResponse::from_guest(
        start(&policy, &args.policy.policy)?.validate_settings(&payload),
    );
    print_line(&serde_json::to_string(&verdict)?)?;
    Ok(if verdict.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
