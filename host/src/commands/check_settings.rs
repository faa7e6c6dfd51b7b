//! `imagegate check-settings`: the policy's answer to `validate_settings`;
//! exit 0 when valid, 1 when not.
//!
//! `-o json` prints the answer as the policy gives it,
//! `{"valid":…,"message":…}` on one line; `-o text` is for people: `settings
//! are valid`, or `settings are NOT valid: N settings problems` and each
//! problem on a line of its own, its settings entry written as the user
//! wrote it (the message quotes entries as JSON strings, and the JSON output
//! escapes them again: `"^v\\\\d+$"` for `^v\d+$`). Without `-o`: text on a
//! terminal, JSON otherwise, so scripts keep reading JSON.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::capabilities::LogSink;
use crate::cli::{CheckSettingsArgs, CheckSettingsOutput};
use crate::commands::{load_policy_from, load_settings, print_line, start};
use crate::output::SettingsValidationResponse;
use crate::terminal::{Style, clean, stdout_is_terminal, use_color};

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
    let output = args.output.unwrap_or(if stdout_is_terminal() {
        CheckSettingsOutput::Text
    } else {
        CheckSettingsOutput::Json
    });
    match output {
        CheckSettingsOutput::Json => print_line(&serde_json::to_string(&verdict)?)?,
        CheckSettingsOutput::Text => print_line(&report(&verdict, Style { color: use_color() }))?,
    }
    Ok(if verdict.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The answer for people, without a trailing newline.
fn report(verdict: &SettingsValidationResponse, style: Style) -> String {
    let message = verdict.message.as_deref().filter(|m| !m.is_empty());
    let mut out = if verdict.valid {
        style.green("settings are valid")
    } else {
        style.red("settings are NOT valid")
    };
    let Some(message) = message else {
        return out;
    };
    match problems(message) {
        Some((header, items)) => {
            let _ = write!(out, ": {header}");
            for item in items {
                let _ = write!(out, "\n  - {}", clean(&item));
            }
        }
        None => {
            let _ = write!(out, ": {}", clean(message));
        }
    }
    out
}

/// `N settings problem(s): p1; p2; …` (policy/src/settings) read back into
/// its header and problems, each `path "entry": problem` with the entry's
/// JSON string decoded; `None` when the message is not in that form or does
/// not split into exactly N problems (a problem's text may hold `; `).
fn problems(message: &str) -> Option<(&str, Vec<String>)> {
    let (header, body) = message.split_once(": ")?;
    let (count, noun) = header.split_once(' ')?;
    let count: usize = count.parse().ok()?;
    if !matches!(noun, "settings problem" | "settings problems") || count == 0 {
        return None;
    }
    // Split where `; ` is followed by the head of a problem, or by a
    // top-level unknown key, which has no path (as the first problem may).
    let mut starts = vec![0];
    let mut search = 0;
    while let Some(found) = body.get(search..).and_then(|b| b.find("; ")) {
        let at = search + found + 2;
        let top_level = body
            .get(at..)
            .is_some_and(|rest| rest.starts_with("unknown key \""));
        if top_level || head(body, at).is_some() {
            starts.push(at);
        }
        search = at;
    }
    if starts.len() != count {
        return None;
    }
    let items = starts
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = starts.get(i + 1).map_or(body.len(), |next| next - 2);
            let item = body.get(start..end).unwrap_or_default();
            match head(body, start) {
                Some((path, Some(entry), rest)) => {
                    let problem = body.get(rest..end).unwrap_or_default();
                    format!("{path} \"{entry}\": {problem}")
                }
                _ => item.to_owned(),
            }
        })
        .collect();
    Some((header, items))
}

/// A problem's head at `at`: the settings path, its entry (a JSON string,
/// decoded) and where the problem text starts.
fn head(text: &str, at: usize) -> Option<(&str, Option<String>, usize)> {
    let rest = text.get(at..)?;
    if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let path_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || "._-[]".contains(c)))
        .unwrap_or(rest.len());
    let path = rest.get(..path_len)?;
    let after = rest.get(path_len..)?;
    if let Some(problem) = after.strip_prefix(": ") {
        return Some((path, None, text.len() - problem.len()));
    }
    let quoted = after.strip_prefix(' ')?;
    let mut stream = serde_json::Deserializer::from_str(quoted).into_iter::<String>();
    let entry = stream.next()?.ok()?;
    let problem = quoted.get(stream.byte_offset()..)?.strip_prefix(": ")?;
    Some((path, Some(entry), text.len() - problem.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Style = Style { color: false };

    fn answer(valid: bool, message: Option<&str>) -> SettingsValidationResponse {
        SettingsValidationResponse {
            valid,
            message: message.map(str::to_owned),
        }
    }

    #[test]
    fn valid_settings() {
        assert_eq!(report(&answer(true, None), PLAIN), "settings are valid");
        assert_eq!(
            report(&answer(true, None), Style { color: true }),
            "\u{1b}[32msettings are valid\u{1b}[0m"
        );
    }

    #[test]
    fn one_problem_per_line_with_regexes_as_written() {
        let message = r#"4 settings problems: tags.allowRegex[0] "^v\\d+($": not a regular expression: unclosed group; set "x"; y; registries.allow[1] "ghcr.io/": a registry has no path; unknown key "tag" (did you mean "tags"?); tags: expected an object"#;
        assert_eq!(
            report(&answer(false, Some(message)), PLAIN),
            "settings are NOT valid: 4 settings problems\n  \
             - tags.allowRegex[0] \"^v\\d+($\": not a regular expression: unclosed group; set \"x\"; y\n  \
             - registries.allow[1] \"ghcr.io/\": a registry has no path\n  \
             - unknown key \"tag\" (did you mean \"tags\"?)\n  \
             - tags: expected an object"
        );
    }

    #[test]
    fn other_messages_are_kept_whole() {
        for message in [
            "settings must be an object",
            "2 settings problems: a: b",
            "1 settings problem: a: b; c: d",
        ] {
            assert_eq!(
                report(&answer(false, Some(message)), PLAIN),
                format!("settings are NOT valid: {message}")
            );
        }
        assert_eq!(
            report(
                &answer(false, Some("1 settings problem: the settings are empty")),
                PLAIN
            ),
            "settings are NOT valid: 1 settings problem\n  - the settings are empty"
        );
        assert_eq!(
            report(&answer(false, Some("bad\n\u{1b}[2J")), PLAIN),
            "settings are NOT valid: bad\\n\\u{1b}[2J"
        );
    }
}
