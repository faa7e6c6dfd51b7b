//! `imagegate run`: what `kwctl run` does for one request.
//!
//! 1. Read the request (review, bare request, or object wrapped as CREATE)
//!    and the settings (`{}` when none, said on stderr: an ALLOWED from
//!    empty settings must not pass for a verdict of the user's settings).
//! 2. Call `validate_settings` with the settings object; if the policy says
//!    they are not valid, fail with exit code 1 and its message. A policy
//!    that cannot even start is exit code 2, not "settings not valid".
//! 3. Call `validate` with `{"request": …, "settings": …}`. Each call gets a
//!    fresh instance, as in policy-server: nothing carries over.
//! 4. Print the AdmissionResponse (default), the policy's ValidationResponse
//!    (`--output validation`), the verdict for people (`--output text`, see
//!    [`text_verdict`]) or the decoded JSON Patch (`--patch`).
//!
//! Exit codes: the JSON outputs are kwctl's and exit 0 whatever the verdict,
//! as `kwctl run` does, so scripts that read `.allowed` keep working; `-o
//! text` is for people and CI jobs and exits 3 when the request is rejected
//! (README "Exit codes").

use std::process::ExitCode;

use serde_json::Value;

use crate::capabilities::LogSink;
use crate::cli::{RunArgs, RunOutput};
use crate::commands::{
    InvalidSettings, REJECTED, host_provider, load_policy_from, load_settings, one_stdin_reader,
    print_line, start,
};
use crate::input;
use crate::output::{
    AdmissionResponse, SettingsValidationResponse, ValidationResponse, patch_of, text_verdict,
};
use crate::payload::validate_payload;
use crate::terminal::{Style, use_color};

/// Runs `imagegate run`.
pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let recording = args.host.host_capabilities.as_deref();
    one_stdin_reader(&args.request, &args.settings, recording)?;
    let request = input::load_request(&args.request)?;
    let settings = load_settings(&args.settings)?;
    let provider = host_provider(&args.host)?;
    let mut policy = load_policy_from(
        &args.policy,
        &args.host.registry,
        args.limits
            .runtime_options(args.host.offline, LogSink::Stderr),
    )?;
    if let Some(provider) = provider {
        policy.set_provider(provider);
    }

    let settings_payload = serde_json::to_vec(&settings)?;
    let verdict = SettingsValidationResponse::from_guest(
        start(&policy, &args.policy.policy)?.validate_settings(&settings_payload),
    );
    if !verdict.valid {
        return Err(InvalidSettings(verdict.message).into());
    }

    // Said once everything has loaded, so an input error stays the only line.
    if args.settings.settings.is_none() && args.settings.settings_json.is_none() {
        eprintln!(
            "imagegate: note: no settings given (--settings FILE or --settings-json JSON): \
             evaluating with {{}}"
        );
    }
    let payload = validate_payload(&request, &settings_payload)?;
    let response = ValidationResponse::from_guest(policy.validate(&payload));

    let object = request.get("object");
    let mut code = ExitCode::SUCCESS;
    if args.patch {
        let patch = patch_of(object.filter(|o| !o.is_null()), &response);
        print_line(&serde_json::to_string_pretty(&patch)?)?;
    } else {
        let uid = request
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match args.output {
            RunOutput::Validation => print_line(&serde_json::to_string(&response)?)?,
            RunOutput::Admission => {
                let admission = AdmissionResponse::from_validation(uid, object, &response);
                print_line(&serde_json::to_string(&admission)?)?;
            }
            RunOutput::Text => {
                // Rendered from the AdmissionResponse, so text says what the
                // API server would do (a mutated DELETE is a rejection).
                let admission = AdmissionResponse::from_validation(uid, object, &response);
                let operations = if admission.patch.is_some() {
                    patch_of(object.filter(|o| !o.is_null()), &response).0.len()
                } else {
                    0
                };
                print_line(&text_verdict(
                    &admission,
                    operations,
                    Style { color: use_color() },
                ))?;
                if !admission.allowed {
                    code = ExitCode::from(REJECTED);
                }
            }
        }
    }
    Ok(code)
}
