//! TOML syntax errors, made readable.
//!
//! The parser recovers from a syntax error and keeps going, which finds several independent
//! mistakes in one pass. But after an unclosed `[` or `{` every later line looks wrong to it, and
//! one missing `]` becomes hundreds of errors. So this module keeps the first error of each line,
//! at most [`MAX_ERRORS`] of them plus one line counting the rest, and when a bracket is never
//! closed it says so at the first error after it: the parser's own message there ("invalid
//! float, expected `inf`" for a key it took as an array element) rarely names the real cause.

use std::ops::Range;

use super::diagnostic::Diagnostic;
use super::span::SourceMap;

/// Most syntax errors reported before a summary of the rest.
const MAX_ERRORS: usize = 3;

const GENERIC_HELP: &str =
    "fix the syntax at this point; strings need quotes, tables need `[name]` headers";

/// Diagnostics for the parser's syntax `errors` in `text`, in file order.
pub(crate) fn diagnostics(text: &str, errors: &[toml::de::Error]) -> Vec<Diagnostic> {
    let mut all: Vec<Diagnostic> = errors
        .iter()
        .map(|error| {
            let message = error.message().trim().trim_end_matches('.');
            let span = error.span().unwrap_or(0..0);
            match text
                .get(span.clone())
                .filter(|_| message == "duplicate key")
            {
                // Usually a line copied twice, or a `[[...]]` header lost between two entries.
                Some(key) => Diagnostic::new(
                    span,
                    format!("TOML syntax: duplicate key `{key}` in this table"),
                    "remove one of them; if a new entry starts here, it lacks its `[[...]]` header",
                ),
                None => Diagnostic::new(span, format!("TOML syntax: {message}"), GENERIC_HELP),
            }
        })
        .collect();
    all.sort_by_key(|d| (d.span.start, d.span.end));
    let map = SourceMap::new(text);
    let mut previous_line = 0;
    all.retain(|d| {
        let line = map.line_col(d.span.start).line;
        std::mem::replace(&mut previous_line, line) != line
    });
    if let Some(open) = unclosed_brackets(text).first()
        && let Some(first_after) = all.iter_mut().find(|d| d.span.start > open.start)
    {
        let bracket = &text[open.clone()];
        let (close, what) = if bracket == "[" {
            ("]", "array")
        } else {
            ("}", "inline table")
        };
        first_after.help = format!(
            "the `{bracket}` on line {} is never closed: add `{close}` where that {what} ends",
            map.line_col(open.start).line
        );
    }
    if all.len() > MAX_ERRORS + 1 {
        let rest = all.len() - MAX_ERRORS;
        let at = all[MAX_ERRORS].span.clone();
        all.truncate(MAX_ERRORS);
        all.push(Diagnostic::new(
            at,
            format!("{rest} more lines with TOML syntax errors from here on, probably caused by the errors above"),
            "fix the first error and check again: a missing `]`, `}`, `\"` or header makes what follows look wrong",
        ));
    }
    all
}

/// Byte ranges of the `[` and `{` that have no matching closing bracket, in file order.
/// Strings and comments are skipped; table headers (`[name]`, `[[name]]`) balance on their line.
fn unclosed_brackets(text: &str) -> Vec<Range<usize>> {
    let mut open: Vec<(usize, u8)> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => i = text[i..].find('\n').map_or(bytes.len(), |n| i + n),
            quote @ (b'"' | b'\'') => i = string_end(text, i, quote),
            b @ (b'[' | b'{') => open.push((i, b)),
            b @ (b']' | b'}') => {
                let opener = if b == b']' { b'[' } else { b'{' };
                if open.last().is_some_and(|(_, o)| *o == opener) {
                    open.pop();
                }
            }
            _ => {}
        }
        i += 1;
    }
    open.into_iter().map(|(at, _)| at..at + 1).collect()
}

/// The index of the last byte of the string starting at `start` (a `quote`), or of the line end
/// for a string left open. Handles `"""`/`'''` multi-line strings and `\` escapes in `"` strings.
fn string_end(text: &str, start: usize, quote: u8) -> usize {
    let bytes = text.as_bytes();
    let triple = [quote; 3];
    if bytes[start..].starts_with(&triple) {
        let delimiter = if quote == b'"' { "\"\"\"" } else { "'''" };
        return text[start + 3..]
            .find(delimiter)
            .map_or(bytes.len(), |n| start + 3 + n + 2);
    }
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 1,
            b'\n' => return i - 1,
            b if b == quote => return i,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_brackets_left_open_outside_strings_and_comments() {
        let text = "[t]\na = [1, 2\nb = \"[\" # [\nc = { x = '{' }\n[[u]]\n";
        assert_eq!(unclosed_brackets(text), vec![8..9]);
        assert!(unclosed_brackets("a = \"\"\"\n[\n\"\"\"\nb = [\n  1,\n]\n").is_empty());
    }

    #[test]
    fn one_missing_bracket_is_reported_where_it_matters() {
        let text = "a = [\n  1,\n\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\n";
        let (_, errors) = toml::de::DeTable::parse_recoverable(text);
        let found = diagnostics(text, &errors);
        assert!(found.len() <= MAX_ERRORS + 1, "{found:#?}");
        assert!(
            found[0].help.contains("the `[` on line 1 is never closed"),
            "{found:#?}"
        );
    }
}
