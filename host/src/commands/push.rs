//! `imagegate push`: what `kwctl push` does (kubewarden-abi.md §6.1): the
//! module as a Kubewarden policy artifact (see [`crate::artifact`]), its
//! manifest annotations from the embedded metadata. A module without
//! metadata is refused unless `--force`, as kwctl does: policy-server and
//! `kwctl inspect` need it.

use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;

use crate::artifact;
use crate::cli::{PublishOutput, PushArgs};
use crate::commands::{print_line, registry_client};

/// Runs `imagegate push`.
pub fn run(args: &PushArgs) -> anyhow::Result<ExitCode> {
    let reference = artifact::parse_uri(&args.destination, true)?;
    let name = args.policy.display().to_string();
    let module =
        std::fs::read(&args.policy).with_context(|| format!("cannot read policy \"{name}\""))?;
    let metadata = artifact::embedded_metadata(&module, &name)?;
    if metadata.is_none() && !args.force {
        anyhow::bail!(
            "policy \"{name}\" has no Kubewarden metadata: annotate it first (imagegate \
             annotate --metadata metadata.yml --output-path annotated-policy.wasm {name}), or \
             push it anyway with --force"
        );
    }
    let artifact = artifact::build(module, metadata.as_ref())?;
    let client = registry_client(&args.registry)?;
    let digest = artifact::push(&client, &reference, &artifact)?;
    let immutable_ref = format!("{}@{digest}", artifact::repository_uri(&reference));
    match args.output {
        PublishOutput::Text => print_line(&format!("Policy successfully pushed: {immutable_ref}"))?,
        PublishOutput::Json => print_line(&json!({"immutable_ref": immutable_ref}).to_string())?,
    }
    Ok(ExitCode::SUCCESS)
}
