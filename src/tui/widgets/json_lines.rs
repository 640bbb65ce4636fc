//! A JSON value as readable indented lines (`key: value`, nested objects indented, short arrays
//! inline) — how the detail panes show what a stage really saw.

use ratatui::text::{Line, Span};
use serde_json::Value;

use super::super::theme::Theme;

/// Arrays of scalars up to this many characters are written on one line.
const INLINE_ARRAY: usize = 60;

/// The lines of `value` (an object's keys in `skip` are left out), indented by `indent`.
pub fn lines(value: &Value, skip: &[&str], indent: usize, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
                entry(&mut out, Some(key), value, indent, theme);
            }
        }
        other => entry(&mut out, None, other, indent, theme),
    }
    out
}

/// A scalar as text (strings without quotes).
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Object(_) | Value::Array(_))
}

fn prefix(indent: usize, key: Option<&str>, theme: &Theme) -> Vec<Span<'static>> {
    let mut spans = vec![Span::raw(" ".repeat(indent))];
    if let Some(key) = key {
        spans.push(Span::styled(format!("{key}: "), theme.dim));
    }
    spans
}

fn entry(
    out: &mut Vec<Line<'static>>,
    key: Option<&str>,
    value: &Value,
    indent: usize,
    theme: &Theme,
) {
    match value {
        Value::Object(map) if map.is_empty() => {
            let mut spans = prefix(indent, key, theme);
            spans.push(Span::styled("{}", theme.dim));
            out.push(Line::from(spans));
        }
        Value::Object(map) => {
            if key.is_some() {
                out.push(Line::from(prefix(indent, key, theme)));
            }
            let inner = if key.is_some() { indent + 2 } else { indent };
            for (k, v) in map {
                entry(out, Some(k), v, inner, theme);
            }
        }
        Value::Array(items) if items.iter().all(is_scalar) => {
            let joined = items.iter().map(scalar).collect::<Vec<_>>().join(", ");
            if joined.chars().count() <= INLINE_ARRAY {
                let mut spans = prefix(indent, key, theme);
                spans.push(Span::styled(format!("[{joined}]"), theme.text));
                out.push(Line::from(spans));
            } else {
                out.push(Line::from(prefix(indent, key, theme)));
                for item in items {
                    let mut spans = prefix(indent + 2, None, theme);
                    spans.push(Span::styled(format!("- {}", scalar(item)), theme.text));
                    out.push(Line::from(spans));
                }
            }
        }
        Value::Array(items) => {
            out.push(Line::from(prefix(indent, key, theme)));
            for item in items {
                let mut nested = Vec::new();
                entry(&mut nested, None, item, indent + 4, theme);
                for (i, line) in nested.into_iter().enumerate() {
                    if i == 0 {
                        // Replace the first line's indent with "- ".
                        let mut spans = vec![Span::raw(format!("{}- ", " ".repeat(indent + 2)))];
                        spans.extend(line.spans.into_iter().skip(1));
                        out.push(Line::from(spans));
                    } else {
                        out.push(line);
                    }
                }
            }
        }
        scalar_value => {
            let mut spans = prefix(indent, key, theme);
            spans.push(Span::styled(scalar(scalar_value), theme.text));
            out.push(Line::from(spans));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::ThemeName as Name;
    use serde_json::json;

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn objects_nest_and_short_arrays_stay_inline() {
        let theme = Theme::new(Name::Dark);
        let value =
            json!({"a": 1, "b": {"c": "x"}, "d": [1, 2], "e": [{"f": true, "g": null}], "skip": 0});
        assert_eq!(
            text(&lines(&value, &["skip"], 0, &theme)),
            vec![
                "a: 1",
                "b: ",
                "  c: x",
                "d: [1, 2]",
                "e: ",
                "  - f: true",
                "    g: null"
            ]
        );
    }
}
