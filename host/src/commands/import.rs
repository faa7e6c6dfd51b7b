//! `imagegate import`: prints imagegate settings equivalent to an
//! incumbent's image policy (`import::*`), the comments and differences
//! saying what changes.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;

use crate::capabilities::LogSink;
use crate::cli::{ImportArgs, ImportOutput};
use crate::commands::{InvalidSettings, load_policy_from, start};
use crate::import::compare::{self, Image, NewVerdict, OFFLINE_RULES};
use crate::import::{self, Change, Import, SourceKind, emulate};
use crate::output::{SettingsValidationResponse, ValidationResponse};
use crate::payload::write_validate_payload;
use crate::scan::inputs::{self, Found};
use crate::scan::message::parse_rejection;

/// Runs `imagegate import`.
pub fn run(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let stdin_readers = usize::from(args.source == "-")
        + usize::from(args.images.as_deref() == Some("-"))
        + args.scan.iter().filter(|p| *p == "-").count();
    if stdin_readers > 1 {
        anyhow::bail!("stdin can be read once: give one of SOURCE_FILE, --images and --scan as -");
    }
    let source = crate::input::Source::file("import", &args.source);
    let bytes = crate::input::read_source(&args.source, &source)?;
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{source}: not UTF-8 text"))?;
    let documents = import::documents(&text, &args.source).map_err(anyhow::Error::msg)?;
    let kind = match args.from {
        Some(kind) => kind,
        None => import::detect(&documents).ok_or_else(|| {
            anyhow::anyhow!(
                "{source}: cannot tell which policy this is (a Gatekeeper constraint, \
                 trusted-repos-policy settings, an OpenShift Image or ImagePolicyConfig, or a \
                 policy.json); say it with --from"
            )
        })?,
    };
    let imported = read(kind, &documents, args)?;
    if args.images.is_some() || !args.scan.is_empty() {
        return compare(kind, &documents, &imported, args);
    }
    let rendered = render(kind, &imported, args)?;
    let mut out = std::io::stdout().lock();
    out.write_all(rendered.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to stdout")?;
    if args.output == ImportOutput::Yaml {
        eprint!("{}", report_text(&imported));
    }
    Ok(ExitCode::SUCCESS)
}

/// The source read into settings and differences.
fn read(
    kind: SourceKind,
    documents: &[serde_json::Value],
    args: &ImportArgs,
) -> anyhow::Result<Import> {
    let mut imported = Import::default();
    match kind {
        SourceKind::Gatekeeper => {
            import::gatekeeper::import(documents, args.repos_match, &mut imported)
        }
        SourceKind::TrustedRepos => import::trusted_repos::import(documents, &mut imported),
        SourceKind::Openshift => import::openshift::import(documents, &mut imported),
        SourceKind::PolicyJson => {
            let base = Path::new(&args.source).parent().unwrap_or(Path::new("."));
            import::policy_json::import(documents, base, &mut imported);
        }
    }
    import::common_differences(&mut imported, kind);
    Ok(imported)
}

fn render(kind: SourceKind, imported: &Import, args: &ImportArgs) -> anyhow::Result<String> {
    let manifest = args
        .manifest
        .then(|| import::manifest::render(&args.name, &imported.settings, &imported.advice));
    Ok(match args.output {
        ImportOutput::Yaml => {
            let header = format!(
                "# imagegate settings imported from {} ({}) by imagegate import.\n# {} \
                 difference(s): the comments say what changes, stderr lists them all.\n",
                args.source,
                kind.as_str(),
                imported.differences.len()
            );
            match manifest {
                Some(manifest) => format!("{header}{manifest}"),
                None => format!("{header}{}", imported.settings.to_yaml(0)),
            }
        }
        ImportOutput::Json => {
            let mut value = json!({
                "from": kind,
                "settings": imported.settings.to_json(),
                "differences": imported.differences,
                "match": imported.advice,
            });
            if let Some(manifest) = manifest {
                value["manifest"] = json!(manifest);
            }
            let mut text = serde_json::to_string_pretty(&value)?;
            text.push('\n');
            text
        }
    })
}

/// The differences for people, grouped by kind.
pub fn report_text(imported: &Import) -> String {
    let mut out = String::new();
    let groups = [
        (Change::Changed, "changed (some images get another verdict)"),
        (Change::NotCarried, "not carried over"),
        (Change::Advice, "for the deployment"),
    ];
    for (change, title) in groups {
        let items: Vec<_> = imported
            .differences
            .iter()
            .filter(|d| d.change == change)
            .collect();
        if items.is_empty() {
            continue;
        }
        out.push_str(&format!("imagegate import: {title}:\n"));
        for d in items {
            let setting = d
                .setting
                .as_ref()
                .map(|s| format!(" -> {s}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  - {}{setting} [{}]: {}\n",
                d.source, d.reason, d.message
            ));
        }
    }
    out
}

/// The images `--images` and `--scan` name; input errors are fatal (exit 2).
fn images_to_compare(args: &ImportArgs) -> anyhow::Result<Vec<Image>> {
    let mut images = Vec::new();
    if let Some(path) = &args.images {
        let source = crate::input::Source::file("images", path);
        let bytes = crate::input::read_source(path, &source)?;
        let text =
            String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{source}: not UTF-8 text"))?;
        images.extend(compare::image_lines(&text, path));
    }
    if !args.scan.is_empty() {
        let read = inputs::read(&args.scan, inputs::STDIN_NAME);
        for found in read.found {
            match found {
                Found::Object(object) => {
                    compare::object_images(&serde_json::Value::Object(object.object), &mut images)
                }
                Found::Error(error) => anyhow::bail!(
                    "{}{}: {}",
                    read.files.get(error.file).map_or("", |f| f.name.as_str()),
                    error.line.map(|l| format!(":{l}")).unwrap_or_default(),
                    error.message
                ),
                Found::NotObject { .. } => {}
            }
        }
    }
    Ok(images)
}

/// `--images` / `--scan`: the images whose verdict changes, grouped by reason.
fn compare(
    kind: SourceKind,
    documents: &[serde_json::Value],
    imported: &Import,
    args: &ImportArgs,
) -> anyhow::Result<ExitCode> {
    let images = images_to_compare(args)?;
    let settings = imported.settings.to_json();
    let settings_bytes = serde_json::to_vec(&settings)?;
    let policy_path = args.policy.policy.as_path();
    let policy = load_policy_from(
        &args.policy,
        &args.registry,
        args.limits.runtime_options(true, LogSink::Stderr),
    )?;
    let mut instance = start(&policy, policy_path)?;
    let verdict =
        SettingsValidationResponse::from_guest(instance.validate_settings(&settings_bytes));
    if !verdict.valid {
        return Err(InvalidSettings(verdict.message).into());
    }
    let ignore_digest = settings
        .pointer("/digests/resolve")
        .and_then(serde_json::Value::as_str)
        == Some("Required");
    let mut payload = Vec::new();
    let mut new = |image: &str| -> anyhow::Result<NewVerdict> {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "import", "namespace": "default"},
                         "spec": {"containers": [{"name": "c", "image": image}]}});
        let request = crate::input::wrap_object(pod.as_object().cloned().unwrap_or_default())
            .map_err(anyhow::Error::msg)?;
        payload.clear();
        write_validate_payload(&mut payload, &request, &settings_bytes)?;
        let reply = instance.validate(&payload)?;
        let response: ValidationResponse = serde_json::from_slice(&reply)?;
        let violations = match (&response.message, response.accepted) {
            (Some(message), false) => parse_rejection(message).unwrap_or_default(),
            _ => Vec::new(),
        };
        let rules: Vec<String> = violations
            .iter()
            .map(|v| v.rule.clone())
            .filter(|r| !(OFFLINE_RULES.contains(&r.as_str()) || ignore_digest && r == "digest"))
            .collect();
        let allowed = response.accepted || (rules.is_empty() && !violations.is_empty());
        Ok(NewVerdict {
            allowed,
            rules,
            message: response.message,
        })
    };
    let old = |image: &str| emulate::evaluate(kind, documents, args.repos_match, image);
    let (unique, changed) = compare::compare(&images, old, &mut new)?;
    let rendered = match args.output {
        ImportOutput::Yaml => compare::render_text(unique, &changed),
        ImportOutput::Json => {
            let mut text = serde_json::to_string_pretty(&json!({
                "from": kind,
                "images": unique,
                "changed": changed,
                "settings": settings,
                "differences": imported.differences,
            }))?;
            text.push('\n');
            text
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(rendered.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to stdout")?;
    Ok(ExitCode::SUCCESS)
}
