//! Positioned, human-readable errors about a scenario file.
//!
//! Every problem found while loading a scenario becomes a [`Diagnostic`]: a byte range in the file,
//! a message saying what is wrong and a `help` saying how to fix it. [`Diagnostics`] collects all of
//! them (loading never stops at the first) and renders them in file order as
//!
//! ```text
//! scenarios/shop.toml:12:8: error: unknown key `lattency` in a stage
//!   help: did you mean `latency`?
//!    12 | lattency = { dist = "constant", ms = 2 }
//!       |        ^^^^^^^^
//! ```

use std::fmt;
use std::ops::Range;

use super::span::SourceMap;

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Byte range of the offending text.
    pub span: Range<usize>,
    /// What is wrong, in one sentence.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl Diagnostic {
    /// A diagnostic at `span`.
    pub fn new(span: Range<usize>, message: impl Into<String>, help: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
            help: help.into(),
        }
    }
}

/// All problems found in one scenario file, with the file's name and text for rendering.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    file: String,
    source: String,
    items: Vec<Diagnostic>,
}

/// A diagnostic resolved to a line and column, ready to print or compare in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl Diagnostics {
    /// Wraps diagnostics of `file` (whose text is `source`), sorted into file order.
    pub fn new(
        file: impl Into<String>,
        source: impl Into<String>,
        mut items: Vec<Diagnostic>,
    ) -> Self {
        items.sort_by_key(|d| (d.span.start, d.span.end));
        items.dedup();
        Self {
            file: file.into(),
            source: source.into(),
            items,
        }
    }

    /// The file name used in rendered messages.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The diagnostics, in file order.
    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// Number of diagnostics.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The diagnostics with line and column resolved.
    pub fn located(&self) -> Vec<Located> {
        let map = SourceMap::new(&self.source);
        self.items
            .iter()
            .map(|d| {
                let at = map.line_col(d.span.start);
                Located {
                    line: at.line,
                    column: at.column,
                    message: d.message.clone(),
                    help: d.help.clone(),
                }
            })
            .collect()
    }

    /// Renders every diagnostic as `FILE:LINE:COL: error: MESSAGE`, a `help:` line and the source
    /// line with the offending text underlined.
    pub fn render(&self) -> String {
        let map = SourceMap::new(&self.source);
        let mut out = String::new();
        for d in &self.items {
            let start = map.line_col(d.span.start);
            out.push_str(&format!(
                "{}:{}:{}: error: {}\n  help: {}\n",
                self.file, start.line, start.column, d.message, d.help
            ));
            if let Some(line) = map.line_text(start.line) {
                let end = map.line_col(d.span.end.max(d.span.start + 1));
                let line_chars = line.chars().count();
                let last = if end.line == start.line {
                    end.column
                } else {
                    line_chars + 1
                };
                let width = last.saturating_sub(start.column).max(1);
                let gutter = start.line.to_string().len().max(3);
                out.push_str(&format!("  {:>gutter$} | {}\n", start.line, line));
                out.push_str(&format!(
                    "  {:>gutter$} | {}{}\n",
                    "",
                    " ".repeat(start.column - 1),
                    "^".repeat(width)
                ));
            }
        }
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Diagnostics {}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
///
/// A typo is at most two edits away (one for short words), or the start of a longer name
/// (`primary` for `primary_key`). Similarity scores alone are not enough: names often share a long
/// prefix (`projects.create` is "close" to `projects.read`), and suggesting a different permission
/// or topic misleads more than listing the valid names does.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let max_edits = if word.chars().count() <= 4 { 1 } else { 2 };
    candidates
        .into_iter()
        .filter_map(|c| {
            let edits = strsim::damerau_levenshtein(word, c);
            let abbreviation = word.chars().count() >= 3 && c.starts_with(word);
            (edits <= max_edits || abbreviation).then_some((edits, c))
        })
        .min_by_key(|(edits, _)| *edits)
        .map(|(_, c)| c)
}

/// A `help` text for an unknown name: "did you mean `x`?" when one is close, else the list of
/// valid names.
pub fn unknown_name_help<'a>(
    what: &str,
    word: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> String {
    if let Some(best) = did_you_mean(word, candidates.clone()) {
        return format!("did you mean `{best}`?");
    }
    let all: Vec<String> = candidates.into_iter().map(|c| format!("`{c}`")).collect();
    if all.is_empty() {
        format!("declare the {what} first")
    } else if all.len() <= 12 {
        format!("expected one of {}", all.join(", "))
    } else {
        format!("expected one of {}, …", all[..12].join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_column_help_and_caret() {
        let source = "a = 1\nlattency = 2\n";
        let d = Diagnostics::new(
            "x.toml",
            source,
            vec![Diagnostic::new(
                6..14,
                "unknown key `lattency`",
                "did you mean `latency`?",
            )],
        );
        let text = d.render();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("x.toml:2:1: error: unknown key `lattency`")
        );
        assert_eq!(lines.next(), Some("  help: did you mean `latency`?"));
        assert_eq!(lines.next(), Some("    2 | lattency = 2"));
        assert_eq!(lines.next(), Some("      | ^^^^^^^^"));
    }

    #[test]
    fn sorts_in_file_order() {
        let d = Diagnostics::new(
            "x",
            "abcdef",
            vec![
                Diagnostic::new(4..5, "second", "h"),
                Diagnostic::new(0..1, "first", "h"),
            ],
        );
        let messages: Vec<_> = d.items().iter().map(|i| i.message.as_str()).collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("lattency", ["latency", "next"]),
            Some("latency")
        );
        assert_eq!(did_you_mean("cahce", ["cdn", "cache"]), Some("cache"));
        assert_eq!(
            did_you_mean("primary", ["primary_key", "unique"]),
            Some("primary_key")
        );
        assert_eq!(did_you_mean("zzz", ["latency", "next"]), None);
        // A shared prefix does not make a different name a typo.
        assert_eq!(
            did_you_mean("projects.create", ["projects.read", "projects.write"]),
            None
        );
        assert_eq!(did_you_mean("events.dead", ["events", "events.dlq"]), None);
    }
}
