//! The server's log: one line per event on stderr, JSON lines (the
//! default, for log collectors) or text (for people), each with an RFC 3339
//! timestamp in UTC and a level; `--log-level` drops the less important.
//!
//! A JSON line is `{"ts":…,"level":…,"msg":…}` followed by the event's
//! fields. Each line is written with one `write` to a locked stderr, so
//! lines from concurrent requests never interleave. Nothing secret goes in:
//! callers pass identifiers and verdicts, never objects or credentials.

use std::fmt::Write as _;
use std::io::Write as _;

/// How important an event is; `--log-level` keeps this level and above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum LogLevel {
    /// Requests and connections in detail.
    Debug,
    /// One line per admission decision, start, reloads, shutdown.
    Info,
    /// Something was refused or did not work and the server goes on.
    Warn,
    /// Only failures.
    Error,
}

impl LogLevel {
    fn label(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// `TIMESTAMP LEVEL message key=value …`.
    Text,
}

/// One field's value.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// A string (escaped as JSON; quoted in text when it has spaces).
    Str(&'a str),
    /// A string or nothing (`null`; left out in text).
    OptStr(Option<&'a str>),
    /// An unsigned number.
    U64(u64),
    /// A decimal number.
    F64(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A list of strings.
    List(&'a [&'a str]),
}

/// The server's logger.
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    level: LogLevel,
    format: LogFormat,
}

impl Logger {
    /// A logger that keeps `level` and above, written as `format`.
    pub fn new(level: LogLevel, format: LogFormat) -> Logger {
        Logger { level, format }
    }

    /// Whether `level` is written (to skip building fields when not).
    pub fn enabled(&self, level: LogLevel) -> bool {
        level >= self.level
    }

    /// Writes one event.
    pub fn log(&self, level: LogLevel, message: &str, fields: &[(&str, Field<'_>)]) {
        if !self.enabled(level) {
            return;
        }
        let mut line = self.line(level, message, fields);
        line.push('\n');
        // stderr gone (closed pipe): nothing else to tell it to.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    /// Shorthands for events with a message only.
    pub fn info(&self, message: &str) {
        self.log(LogLevel::Info, message, &[]);
    }

    /// See [`Logger::info`].
    pub fn warn(&self, message: &str) {
        self.log(LogLevel::Warn, message, &[]);
    }

    /// See [`Logger::info`].
    pub fn error(&self, message: &str) {
        self.log(LogLevel::Error, message, &[]);
    }

    fn line(&self, level: LogLevel, message: &str, fields: &[(&str, Field<'_>)]) -> String {
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let mut line = String::with_capacity(128 + message.len());
        match self.format {
            LogFormat::Json => {
                let _ = write!(
                    line,
                    "{{\"ts\":\"{ts}\",\"level\":\"{}\",\"msg\":",
                    level.label()
                );
                json_string(&mut line, message);
                for (key, value) in fields {
                    line.push(',');
                    json_string(&mut line, key);
                    line.push(':');
                    match value {
                        Field::Str(s) | Field::OptStr(Some(s)) => json_string(&mut line, s),
                        Field::OptStr(None) => line.push_str("null"),
                        Field::U64(n) => {
                            let _ = write!(line, "{n}");
                        }
                        Field::F64(x) if x.is_finite() => {
                            let _ = write!(line, "{x}");
                        }
                        Field::F64(_) => line.push_str("null"),
                        Field::Bool(b) => {
                            let _ = write!(line, "{b}");
                        }
                        Field::List(items) => {
                            line.push('[');
                            for (i, item) in items.iter().enumerate() {
                                if i > 0 {
                                    line.push(',');
                                }
                                json_string(&mut line, item);
                            }
                            line.push(']');
                        }
                    }
                }
                line.push('}');
            }
            LogFormat::Text => {
                let _ = write!(line, "{ts} {:<5} {message}", level.label().to_uppercase());
                for (key, value) in fields {
                    match value {
                        Field::OptStr(None) => continue,
                        Field::Str(s) | Field::OptStr(Some(s)) => {
                            let _ = write!(line, " {key}=");
                            text_value(&mut line, s);
                        }
                        Field::U64(n) => {
                            let _ = write!(line, " {key}={n}");
                        }
                        Field::F64(x) => {
                            let _ = write!(line, " {key}={x}");
                        }
                        Field::Bool(b) => {
                            let _ = write!(line, " {key}={b}");
                        }
                        Field::List(items) => {
                            let _ = write!(line, " {key}={}", items.join(","));
                        }
                    }
                }
            }
        }
        line
    }
}

/// `s` as a JSON string.
fn json_string(out: &mut String, s: &str) {
    // serde_json escapes exactly as JSON requires; a `&str` cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned()));
}

/// `s` bare when it is one word, else quoted as JSON, so a line splits on
/// spaces unambiguously.
fn text_value(out: &mut String, s: &str) {
    if !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c.is_control())
    {
        out.push_str(s);
    } else {
        json_string(out, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_objects_with_time_level_message_and_fields() {
        let logger = Logger::new(LogLevel::Info, LogFormat::Json);
        let line = logger.line(
            LogLevel::Warn,
            "say \"hi\"\n",
            &[
                ("uid", Field::Str("u-1")),
                ("name", Field::OptStr(None)),
                ("allowed", Field::Bool(false)),
                ("rules", Field::List(&["tag", "source"])),
                ("durationMs", Field::F64(0.25)),
                ("n", Field::U64(3)),
            ],
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "warn");
        assert_eq!(value["msg"], "say \"hi\"\n");
        assert_eq!(value["uid"], "u-1");
        assert!(value["name"].is_null());
        assert_eq!(value["allowed"], false);
        assert_eq!(value["rules"], serde_json::json!(["tag", "source"]));
        assert_eq!(value["durationMs"], 0.25);
        assert_eq!(value["n"], 3);
        let ts = value["ts"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
    }

    #[test]
    fn text_lines_quote_what_has_spaces_and_levels_filter() {
        let logger = Logger::new(LogLevel::Warn, LogFormat::Text);
        assert!(!logger.enabled(LogLevel::Info));
        assert!(logger.enabled(LogLevel::Error));
        let line = logger.line(
            LogLevel::Error,
            "admission",
            &[("name", Field::Str("a b")), ("ns", Field::Str("default"))],
        );
        assert!(
            line.ends_with(" ERROR admission name=\"a b\" ns=default"),
            "{line}"
        );
    }
}
