//! `imagegate scan`: every object in manifest files, through the policy, in
//! one report.
//!
//! 1. Read the settings and the host-capability flags; compile the module
//!    once; start ONE instance and ask it `validate_settings` (not valid:
//!    exit 1 with the policy's message, as `run`).
//! 2. Read every PATH (`scan::inputs`, in a thread of its own while the
//!    module compiles): documents, lists, objects, and the input errors (a
//!    broken document is reported with its position and the rest is still
//!    read).
//! 3. Each object of a kind the policy checks is wrapped as a CREATE request
//!    exactly as `run` wraps a plain object (`input::wrap_object`) and goes
//!    through `validate` on one of `--jobs` worker threads (default: the
//!    number of cores), each with its own instance of the one compiled
//!    module: the module caches its compiled settings by their bytes, so
//!    each call costs an evaluation, not a settings parse. Results go back
//!    to their object's place, so the report does not depend on `--jobs`. When a call fails (a trap, the time or memory
//!    limit), the object is reported as an error and a fresh instance takes
//!    over. Other kinds are skipped, and so is an object a controller in
//!    the input created (a Pod of a ReplicaSet of a Deployment, in a
//!    `kubectl get ... -o json` dump): it is reported once, at the owner.
//! 4. Write the report; exit 2 when some input could not be read or
//!    evaluated, else 3 when an object is rejected, else 0. Nothing to scan
//!    (no manifest file found) is an input error (exit 2), not a clean scan.

use std::collections::HashSet;
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Map, Value};

use crate::capabilities::LogSink;
use crate::cli::{ScanArgs, ScanFormat};
use crate::commands::{InvalidSettings, host_provider, load_policy_from, load_settings, start};
use crate::input;
use crate::output::{SettingsValidationResponse, ValidationResponse, patch_of};
use crate::payload::write_validate_payload;
use crate::runtime::{Instance, Policy};
use crate::scan::inputs::{self, Found, Inputs, Object};
use crate::scan::message::{parse_rejection, parse_violation};
use crate::scan::{
    CHECKED_KINDS, Entry, Finding, ObjectResult, Outcome, Report, Verdict, json, junit,
    policyreport, sarif, text,
};
use crate::terminal::use_color;

/// Scans longer than this many objects show progress on a terminal.
const PROGRESS_ABOVE: usize = 200;

/// Runs `imagegate scan`.
pub fn run(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    one_stdin_reader(args)?;
    let settings = load_settings(&args.settings)?;
    let provider = host_provider(&args.host)?;
    // The manifests are read and parsed while the module compiles: on two
    // cores that hides most of either.
    let paths = args.paths.clone();
    let stdin_name = args
        .stdin_filename
        .clone()
        .unwrap_or_else(|| inputs::STDIN_NAME.to_owned());
    let reader = std::thread::Builder::new()
        .name("imagegate-read".into())
        .spawn(move || inputs::read(&paths, &stdin_name))
        .context("cannot start a thread")?;
    let policy_path = args.policy.policy.as_path();
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        usize::from,
    );
    let mut options = args
        .limits
        .runtime_options(args.host.offline, LogSink::Stderr);
    // One instance per worker, as many again replacing ones that trapped.
    options.max_instances =
        u32::try_from(jobs.saturating_mul(2).saturating_add(1)).unwrap_or(u32::MAX);
    let mut policy = load_policy_from(&args.policy, &args.host.registry, options)?;
    if let Some(provider) = provider {
        policy.set_provider(provider);
    }
    let settings = serde_json::to_vec(&settings)?;
    let mut instance = start(&policy, policy_path)?;
    let verdict = SettingsValidationResponse::from_guest(instance.validate_settings(&settings));
    if !verdict.valid {
        return Err(InvalidSettings(verdict.message).into());
    }

    let inputs = reader
        .join()
        .map_err(|_| anyhow::anyhow!("reading the manifests failed"))?;
    if inputs.files.is_empty() {
        anyhow::bail!(
            "nothing to scan: no manifest files in {} (directories are searched for *.yaml, \
             *.yml and *.json)",
            args.paths.join(", ")
        );
    }
    let evaluator = Evaluator {
        policy: &policy,
        policy_path,
        instance,
        settings,
        payload: Vec::new(),
    };
    let report = evaluate(inputs, evaluator, jobs)?;

    let rendered = match args.output {
        ScanFormat::Text => text::render(&report, use_color()),
        ScanFormat::Json => json::render(&report)?,
        ScanFormat::Sarif => sarif::render(&report)?,
        ScanFormat::Junit => junit::render(&report),
        ScanFormat::Policyreport => policyreport::render(&report)?,
    };
    let mut out = std::io::stdout().lock();
    out.write_all(rendered.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to stdout")?;
    Ok(ExitCode::from(report.exit_code()))
}

/// Stdin can be read once: by one `-` PATH, `--settings -` or
/// `--host-capabilities -`.
fn one_stdin_reader(args: &ScanArgs) -> anyhow::Result<()> {
    let paths = args.paths.iter().filter(|p| *p == "-").count();
    if paths > 1 {
        anyhow::bail!("- can be given once: stdin can be read once");
    }
    let mut readers = Vec::new();
    if paths == 1 {
        readers.push("PATH -");
    }
    if args.settings.settings.as_deref() == Some("-") {
        readers.push("--settings -");
    }
    if args.host.host_capabilities.as_deref() == Some("-") {
        readers.push("--host-capabilities -");
    }
    if readers.len() > 1 {
        anyhow::bail!("{} cannot all read stdin", readers.join(" and "));
    }
    Ok(())
}

/// A policy instance objects go through: one per worker thread.
struct Evaluator<'a> {
    policy: &'a Policy,
    policy_path: &'a Path,
    instance: Instance,
    /// The settings, serialized once: the module caches by these bytes.
    settings: Vec<u8>,
    /// The payload buffer, reused.
    payload: Vec<u8>,
}

impl<'a> Evaluator<'a> {
    /// Another evaluator with a fresh instance of the same compiled module.
    fn another(&self) -> anyhow::Result<Evaluator<'a>> {
        Ok(Evaluator {
            policy: self.policy,
            policy_path: self.policy_path,
            instance: start(self.policy, self.policy_path)?,
            settings: self.settings.clone(),
            payload: Vec::new(),
        })
    }

    /// `validate` for one request. A failed call replaces the instance (its
    /// state cannot be trusted after a trap); the failure is the object's.
    fn validate(&mut self, request: &Value) -> anyhow::Result<Result<ValidationResponse, String>> {
        self.payload.clear();
        write_validate_payload(&mut self.payload, request, &self.settings)?;
        match self.instance.validate(&self.payload) {
            Ok(reply) => Ok(
                serde_json::from_slice::<ValidationResponse>(&reply).map_err(|e| {
                    format!("the policy's reply to validate is not a ValidationResponse: {e}")
                }),
            ),
            Err(error) => {
                self.instance = start(self.policy, self.policy_path)?;
                Ok(Err(error.to_string()))
            }
        }
    }
}

/// Progress on stderr, for long scans on a terminal.
struct Progress {
    total: usize,
    shown: Option<Instant>,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let show = total > PROGRESS_ABOVE && std::io::stderr().is_terminal();
        Progress {
            total,
            shown: show.then(|| Instant::now() - Duration::from_secs(1)),
        }
    }

    fn tick(&mut self, done: usize) {
        let Some(shown) = self.shown else { return };
        if shown.elapsed() >= Duration::from_millis(100) {
            eprint!("\rimagegate scan: {done}/{} objects checked", self.total);
            self.shown = Some(Instant::now());
        }
    }

    fn finish(&self) {
        if self.shown.is_some() {
            eprint!("\r\u{1b}[K");
        }
    }
}

/// A string field of `metadata`.
fn metadata_text(object: &Map<String, Value>, key: &str) -> Option<String> {
    object
        .get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn text_field(object: &Map<String, Value>, key: &str) -> Option<String> {
    object.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Every object through the policy; the report is in input order whatever
/// the number of workers.
///
/// Skipped objects and input errors take their place in the report at once;
/// the objects to evaluate go to `jobs` worker threads, each with its own
/// instance, which take the next object as they finish one (objects differ
/// in cost). Each result goes back to its slot, so the report is identical
/// to the single-threaded one.
fn evaluate(inputs: Inputs, evaluator: Evaluator<'_>, jobs: usize) -> anyhow::Result<Report> {
    let Inputs {
        files,
        documents,
        found,
    } = inputs;
    let present = checked_objects(&found);
    let mut slots: Vec<Option<Entry>> = Vec::with_capacity(found.len());
    let mut work: Vec<(usize, Object)> = Vec::new();
    for item in found {
        let owner = match &item {
            Found::Object(object) => checked_owner(&object.object, &present),
            _ => None,
        };
        let entry = match item {
            Found::Error(error) => Entry::Error(error),
            Found::NotObject { at, reason } => Entry::Object(ObjectResult {
                at,
                api_version: None,
                kind: None,
                namespace: None,
                name: None,
                outcome: Outcome::Skipped(reason),
            }),
            Found::Object(object) if !is_checked(&object.object) => {
                let kind = text_field(&object.object, "kind").unwrap_or_default();
                Entry::Object(ObjectResult {
                    at: object.at,
                    api_version: text_field(&object.object, "apiVersion"),
                    namespace: metadata_text(&object.object, "namespace"),
                    name: metadata_text(&object.object, "name"),
                    outcome: Outcome::Skipped(format!("kind {kind} is not checked by the policy")),
                    kind: Some(kind),
                })
            }
            Found::Object(object) if owner.is_some() => Entry::Object(ObjectResult {
                at: object.at,
                api_version: text_field(&object.object, "apiVersion"),
                kind: text_field(&object.object, "kind"),
                namespace: metadata_text(&object.object, "namespace"),
                name: metadata_text(&object.object, "name"),
                outcome: Outcome::Skipped(format!(
                    "created by {}, which is checked",
                    owner.unwrap_or_default()
                )),
            }),
            Found::Object(object) => {
                work.push((slots.len(), object));
                slots.push(None);
                continue;
            }
        };
        slots.push(Some(entry));
    }
    drop(present);

    let mut progress = Progress::new(work.len());
    // No more workers than objects: each costs an instance.
    let jobs = jobs.clamp(1, work.len().max(1));
    let mut evaluators = Vec::with_capacity(jobs);
    for _ in 1..jobs {
        evaluators.push(evaluator.another()?);
    }
    evaluators.push(evaluator);
    let queue = std::sync::Mutex::new(work.into_iter());
    let documents = &documents;
    let outcome = std::thread::scope(|scope| -> anyhow::Result<()> {
        let (results, received) =
            std::sync::mpsc::channel::<anyhow::Result<(usize, ObjectResult)>>();
        for mut evaluator in evaluators {
            let results = results.clone();
            let queue = &queue;
            std::thread::Builder::new()
                .name("imagegate-scan".into())
                .spawn_scoped(scope, move || {
                    loop {
                        // The lock is held only to take the next object.
                        let next = queue.lock().map(|mut q| q.next());
                        let Ok(Some((slot, object))) = next else {
                            return;
                        };
                        let document = documents.get(object.at.document);
                        let result = check(object, document, &mut evaluator).map(|r| (slot, r));
                        let failed = result.is_err();
                        if results.send(result).is_err() || failed {
                            return;
                        }
                    }
                })
                .context("cannot start a thread")?;
        }
        drop(results);
        let mut done = 0;
        for result in received {
            let (slot, result) = result?;
            slots[slot] = Some(Entry::Object(result));
            done += 1;
            progress.tick(done);
        }
        Ok(())
    });
    progress.finish();
    // On an error the receiver is gone, so each worker stops after its
    // current object; the scope has joined them all by here.
    outcome?;
    let entries = slots
        .into_iter()
        .collect::<Option<Vec<Entry>>>()
        .context("an object was not evaluated")?;
    Ok(Report {
        files,
        document_numbers: documents.iter().map(|d| d.index).collect(),
        entries,
    })
}

/// `(namespace, kind, name)` of every object of a checked kind.
fn checked_objects(found: &[Found]) -> HashSet<(String, String, String)> {
    found
        .iter()
        .filter_map(|f| match f {
            Found::Object(o) if is_checked(&o.object) => Some((
                metadata_text(&o.object, "namespace").unwrap_or_default(),
                text_field(&o.object, "kind")?,
                metadata_text(&o.object, "name")?,
            )),
            _ => None,
        })
        .collect()
}

/// `ReplicaSet/web-7d4b9c5f8` when a controller of a checked kind created
/// this object and is in the input too: a `kubectl get pods,deployments,...`
/// dump then reports each workload once, at the owner whose manifest a
/// person fixes.
fn checked_owner(
    object: &Map<String, Value>,
    present: &HashSet<(String, String, String)>,
) -> Option<String> {
    let namespace = metadata_text(object, "namespace").unwrap_or_default();
    let owners = object.get("metadata")?.get("ownerReferences")?.as_array()?;
    owners.iter().find_map(|owner| {
        if owner.get("controller").and_then(Value::as_bool) != Some(true) {
            return None;
        }
        let kind = owner.get("kind")?.as_str()?;
        let name = owner.get("name")?.as_str()?;
        present
            .contains(&(namespace.clone(), kind.to_owned(), name.to_owned()))
            .then(|| format!("{kind}/{name}"))
    })
}

fn is_checked(object: &Map<String, Value>) -> bool {
    object
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|kind| CHECKED_KINDS.contains(&kind))
}

/// One object: wrapped as `run` wraps it, evaluated, its verdict read.
fn check(
    object: Object,
    document: Option<&inputs::Document>,
    evaluator: &mut Evaluator<'_>,
) -> anyhow::Result<ObjectResult> {
    let prefix = object.path_prefix();
    let item_text = object.text.clone();
    let at = object.at;
    let api_version = text_field(&object.object, "apiVersion");
    let kind = text_field(&object.object, "kind");
    let mut result = ObjectResult {
        at,
        api_version,
        kind,
        namespace: metadata_text(&object.object, "namespace"),
        name: metadata_text(&object.object, "name"),
        outcome: Outcome::Skipped(String::new()),
    };
    let request = match input::wrap_object(object.object) {
        Ok(request) => request,
        Err(problem) => {
            result.outcome = Outcome::Failed(problem);
            return Ok(result);
        }
    };
    result.namespace = text_field(request.as_object().unwrap_or(&Map::new()), "namespace");
    let response = match evaluator.validate(&request)? {
        Ok(response) => response,
        Err(message) => {
            result.outcome = Outcome::Failed(message);
            return Ok(result);
        }
    };

    let line_of = |path: &str| {
        if let (Some(text), Some(document)) = (&item_text, document) {
            return document
                .item_line_of(text.clone(), at.line, path)
                .unwrap_or(at.line);
        }
        let full = if prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{prefix}.{path}")
        };
        document.and_then(|d| d.line_of(&full)).unwrap_or(at.line)
    };
    let finding = |text: &str, violation: Option<crate::scan::message::Violation>| {
        let line = violation.as_ref().map_or(at.line, |v| line_of(&v.path));
        Finding {
            violation,
            text: text.to_owned(),
            line,
        }
    };
    let violations = match (&response.message, response.accepted) {
        (Some(message), false) => match parse_rejection(message) {
            Some(list) => list
                .into_iter()
                .map(|v| finding(&v.render(), Some(v)))
                .collect(),
            None => vec![finding(message, None)],
        },
        (None, false) => vec![finding("rejected", None)],
        _ => Vec::new(),
    };
    let warnings = response
        .warnings
        .iter()
        .flatten()
        .map(|w| finding(w, parse_violation(w)))
        .collect();
    let patch = patch_of(request.get("object"), &response);
    let patch = match serde_json::to_value(&patch)? {
        Value::Array(ops) => ops,
        _ => Vec::new(),
    };
    result.outcome = Outcome::Checked(Verdict {
        allowed: response.accepted,
        message: response.message.clone(),
        violations,
        warnings,
        patch,
    });
    Ok(result)
}
