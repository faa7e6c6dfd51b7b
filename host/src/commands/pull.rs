//! `imagegate pull`: what `kwctl pull` does (kubewarden-abi.md §6.2): the
//! first wasm layer of a Kubewarden policy artifact, checked (manifest,
//! layer media types, digest, `\0asm`; see [`crate::artifact`]), into the
//! cache, and with `--output-path FILE` also into that file. The reference
//! is written as for `push`: `registry://` may be left out.

use std::process::ExitCode;

use serde_json::json;

use crate::artifact;
use crate::cli::{PublishOutput, PullArgs};
use crate::commands::{print_line, registry_client};

/// Runs `imagegate pull`.
pub fn run(args: &PullArgs) -> anyhow::Result<ExitCode> {
    // Checked before any network or credentials.
    artifact::parse_uri(&args.source, true)?;
    let uri = if artifact::is_registry_uri(&args.source) {
        args.source.clone()
    } else {
        format!("{}{}", artifact::SCHEME, args.source)
    };
    let client = registry_client(&args.registry)?;
    let pulled = artifact::pull_cached(&client, &uri, &artifact::cache_root()?)?;
    let path = match &args.output_path {
        Some(output) => {
            crate::files::write_atomically(output, &pulled.module)?;
            output.clone()
        }
        None => pulled.path.clone(),
    };
    match args.output {
        PublishOutput::Text => print_line(&format!(
            "Policy successfully pulled: {} -> {}",
            pulled.immutable_ref,
            path.display()
        ))?,
        PublishOutput::Json => print_line(
            &json!({
                "immutable_ref": pulled.immutable_ref,
                "layer_digest": pulled.layer_digest,
                "path": path,
                "from_cache": pulled.from_cache,
            })
            .to_string(),
        )?,
    }
    Ok(ExitCode::SUCCESS)
}
