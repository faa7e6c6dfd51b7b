//! `imagegate`: runs the imagegate policy module (policy.wasm, a Kubewarden
//! waPC module) on wasmtime and prints what `kwctl run` prints.
//!
//! Exit codes (README "Exit codes"): 0 the command did its work; 1 the
//! policy found the settings not valid; 2 usage or input errors (unknown
//! flag, missing or unreadable file, input that is not JSON/YAML or has the
//! wrong shape, a policy file that is missing or not a waPC module, nothing
//! to scan); 3 images rejected (`scan`, and `run -o text`).

mod artifact;
mod capabilities;
mod cli;
mod commands;
mod docker_config;
mod exit_code;
mod files;
mod import;
mod input;
mod invalid_settings;
mod metadata;
mod module_cache;
mod output;
mod payload;
mod recorded;
mod registry;
mod runtime;
mod scan;
mod serve;
mod terminal;
mod verify;
mod wapc;
mod wasm_sections;

// musl's malloc takes one lock for every thread: the static build (the
// container image) allocates through mimalloc instead (BENCHMARKS.md, "The
// container image").
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::Cli;
use crate::commands::InvalidSettings;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = error.print();
            if error.use_stderr() {
                let args: Vec<String> = std::env::args().collect();
                if let Some(tip) = cli::usage_tip(&args) {
                    eprintln!("\n{tip}");
                }
            }
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    match commands::dispatch(cli.command) {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => {
            // The reader went away (`imagegate … | head`): nothing to report,
            // as ripgrep does (crates/core/main.rs).
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("imagegate: error: {error:#}");
            if error.downcast_ref::<InvalidSettings>().is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::from(2)
            }
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
