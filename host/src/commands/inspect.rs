//! `imagegate inspect`: the Kubewarden metadata embedded in a module (a
//! file, or a `registry://` artifact pulled through the cache), as YAML
//! (default, like `kwctl inspect -o yaml`) or pretty JSON.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::artifact;
use crate::cli::{InspectArgs, InspectFormat};
use crate::commands::{print_line, registry_client};
use crate::metadata::{METADATA_SECTION, Metadata};
use crate::wasm_sections;

/// Runs `imagegate inspect`.
pub fn run(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let path = args.file.display();
    let module = match args.file.to_str().filter(|f| artifact::is_registry_uri(f)) {
        Some(uri) => artifact::pull_for_policy(&registry_client(&args.registry)?, uri)?,
        None => std::fs::read(&args.file).with_context(|| format!("cannot read \"{path}\""))?,
    };
    let section = wasm_sections::find_custom_section(&module, METADATA_SECTION)
        .with_context(|| format!("\"{path}\""))?
        .ok_or_else(|| anyhow::anyhow!("no Kubewarden metadata found inside {path}"))?;
    let metadata: Metadata = serde_json::from_slice(section).with_context(|| {
        format!("the {METADATA_SECTION} section of \"{path}\" is not valid metadata")
    })?;
    let text = match args.output {
        InspectFormat::Json => serde_json::to_string_pretty(&metadata)?,
        InspectFormat::Yaml => serde_saphyr::to_string(&metadata)?.trim_end().to_owned(),
    };
    print_line(&text)?;
    Ok(ExitCode::SUCCESS)
}
