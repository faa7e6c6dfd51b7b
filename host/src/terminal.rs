//! Text for people on a terminal: ANSI styles only when stdout is a terminal
//! and `NO_COLOR` is not set (no-color.org), and control characters from
//! messages and manifests escaped so that none can start a line or move the
//! cursor. Shared by `scan`'s text report, `run -o text` and
//! `check-settings -o text`.

use std::io::IsTerminal as _;

/// Whether stdout is a terminal.
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Colours on a terminal, unless `NO_COLOR` is set to something.
pub fn use_color() -> bool {
    stdout_is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// ANSI styles, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Whether to write ANSI codes at all.
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_owned()
        }
    }
    /// Rejections and errors.
    pub fn red(self, text: &str) -> String {
        self.paint("1;31", text)
    }
    /// Warnings.
    pub fn yellow(self, text: &str) -> String {
        self.paint("1;33", text)
    }
    /// Admissions, patches and fixes.
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }
    /// What a line is about.
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
    /// Secondary details (rule ids, lines).
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// Control characters written as Rust escapes (`\n`, `\u{1b}`).
pub fn clean(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(clean("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(clean("plain"), "plain");
    }

    #[test]
    fn no_codes_without_colour() {
        assert_eq!(Style { color: false }.red("x"), "x");
        assert_eq!(Style { color: true }.red("x"), "\u{1b}[1;31mx\u{1b}[0m");
    }
}
