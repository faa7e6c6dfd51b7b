//! `imagegate annotate`: what `kwctl annotate` does (kubewarden-abi.md §4.3).
//!
//! 1. Read metadata.yml; `rules` and `mutating` are required.
//! 2. For a `kubewarden-wapc` policy, instantiate the module and call
//!    `protocol_version`; store the answer as `protocolVersion` (other modes
//!    store `Unknown`).
//! 3. With `--usage FILE`, store the file as `io.kubewarden.policy.usage`.
//! 4. Write `io.kubewarden.kwctl`, as kwctl does (after every other
//!    annotation, so it replaces one metadata.yml sets): kwctl writes its own
//!    version there, the version of the tool that annotated the module; we
//!    write imagegate's, since imagegate did the annotating.
//! 5. Check the metadata as policy-evaluator does, then write the module with
//!    one custom section `io.kubewarden.metadata` holding the metadata as JSON.
//!
//! Decision: an `io.kubewarden.metadata` section already in the input is
//! *replaced*, not kept next to the new one, so annotating an annotated module
//! gives the same result as annotating the plain one (Kubewarden reads the
//! first such section, so a stale one kept in front would win).

use std::process::ExitCode;

use anyhow::Context as _;

use crate::capabilities::LogSink;
use crate::cli::AnnotateArgs;
use crate::input::{self, Source};
use crate::metadata::{
    ExecutionMode, KWCTL_ANNOTATION, METADATA_SECTION, Metadata, PROTOCOL_UNKNOWN, USAGE_ANNOTATION,
};
use crate::runtime::{Policy, RuntimeOptions};
use crate::wasm_sections;

/// Runs `imagegate annotate`.
pub fn run(args: &AnnotateArgs) -> anyhow::Result<ExitCode> {
    let metadata_path = args.metadata.display().to_string();
    let source = Source::file("metadata", &metadata_path);
    let bytes = input::read_source(&metadata_path, &source)?;
    let document = input::parse_document(&bytes, &source)?;
    let mut metadata = Metadata::from_document(document)
        .map_err(|problem| anyhow::anyhow!("{source}: {problem}"))?;

    let policy_path = &args.policy;
    let module = std::fs::read(policy_path)
        .with_context(|| format!("cannot read policy \"{}\"", policy_path.display()))?;
    // Fail on a malformed module before running anything.
    wasm_sections::sections(&module)
        .with_context(|| format!("policy \"{}\"", policy_path.display()))?;

    metadata.protocol_version = Some(match metadata.execution_mode {
        ExecutionMode::KubewardenWapc => {
            let options = RuntimeOptions {
                guest_output: LogSink::Stderr,
                offline: true,
                ..RuntimeOptions::default()
            };
            let policy = Policy::from_bytes(policy_path, &module, options)?;
            policy.protocol_version().with_context(|| {
                format!(
                    "cannot get the protocol version of policy \"{}\"",
                    policy_path.display()
                )
            })?
        }
        _ => PROTOCOL_UNKNOWN.to_owned(),
    });

    if let Some(usage_path) = &args.usage {
        let usage = std::fs::read_to_string(usage_path)
            .with_context(|| format!("cannot read usage file \"{}\"", usage_path.display()))?;
        metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(USAGE_ANNOTATION.to_owned(), usage);
    }

    metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(
            KWCTL_ANNOTATION.to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        );

    metadata
        .validate()
        .map_err(|problem| anyhow::anyhow!("{source}: metadata is not valid: {problem}"))?;

    let json = serde_json::to_vec(&metadata)?;
    let annotated = wasm_sections::replace_custom_section(&module, METADATA_SECTION, &json)
        .with_context(|| format!("policy \"{}\"", policy_path.display()))?;
    std::fs::write(&args.output_path, annotated)
        .with_context(|| format!("cannot write \"{}\"", args.output_path.display()))?;
    Ok(ExitCode::SUCCESS)
}
