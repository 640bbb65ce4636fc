//! Property test: random edits of a valid scenario never panic the loader, an invalid result
//! always comes with positioned, explained diagnostics, and a result that validates also runs:
//! the engine starts on it and a few virtual seconds of its traffic pass without a panic.
//!
//! The edits are the mistakes authors make: a deleted or duplicated line, two values swapped, a
//! value of the wrong type, a file cut off mid-way. Whatever comes out must be either a model or
//! at least one diagnostic whose span lies inside the text, with a message and a help.

use std::sync::Arc;
use std::time::Duration;

use archsim::engine::{Clock, Engine, Options};
use archsim::scenario::{DEFAULT_SCENARIO, load_str};
use proptest::prelude::*;

const MINIMAL: &str = include_str!("fixtures/valid/minimal.toml");

/// Values of every TOML type, including ones that are out of range or malformed for most keys.
const REPLACEMENTS: &[&str] = &[
    "\"text\"",
    "\"\"",
    "42",
    "0",
    "-1",
    "4294967296",
    "3.5",
    "nan",
    "-inf",
    "true",
    "[]",
    "[1, \"x\"]",
    "{}",
    "{ a = 1 }",
    "1979-05-27T07:32:00Z",
    // Past every documented bound: `check` must refuse them, never the engine panic on them.
    "1e300",
    "1e12",
    "inf",
    "9223372036854775807",
];

/// One random edit; indexes are taken modulo whatever they index.
#[derive(Debug, Clone)]
enum Edit {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapValues(usize, usize),
    WrongType(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapValues(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::WrongType(a, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// Byte ranges of the values in `key = value` pairs, in tables and inline tables alike.
fn value_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    text.match_indices(" = ")
        .map(|(at, sep)| {
            let start = at + sep.len();
            start..value_end(text, start)
        })
        .filter(|range| !range.is_empty())
        .collect()
}

/// The end of the value starting at `start`: the first `,`, `}`, `]`, `#` or line end outside
/// brackets and quotes (so a multi-line array is one value).
fn value_end(text: &str, start: usize) -> usize {
    let mut depth = 0usize;
    let mut quoted = false;
    for (offset, c) in text[start..].char_indices() {
        match c {
            '"' => quoted = !quoted,
            _ if quoted => {}
            '[' | '{' => depth += 1,
            ']' | '}' if depth > 0 => depth -= 1,
            ',' | '}' | ']' | '\n' | '#' if depth == 0 => return start + offset,
            _ => {}
        }
    }
    text.len()
}

fn apply(text: &str, edit: &Edit) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.is_empty() {
        return String::new();
    }
    match *edit {
        Edit::DeleteLine(i) => {
            let i = i % lines.len();
            lines
                .iter()
                .enumerate()
                .filter(|(n, _)| *n != i)
                .map(|(_, l)| *l)
                .collect()
        }
        Edit::DuplicateLine(i) => {
            let i = i % lines.len();
            let mut out: Vec<&str> = lines.clone();
            out.insert(i, lines[i]);
            out.concat()
        }
        Edit::SwapValues(a, b) => {
            let ranges = value_ranges(text);
            if ranges.len() < 2 {
                return text.to_string();
            }
            let (a, b) = (&ranges[a % ranges.len()], &ranges[b % ranges.len()]);
            let (first, second) = if a.start <= b.start { (a, b) } else { (b, a) };
            if first.end > second.start {
                return text.to_string();
            }
            [
                &text[..first.start],
                &text[second.clone()],
                &text[first.end..second.start],
                &text[first.clone()],
                &text[second.end..],
            ]
            .concat()
        }
        Edit::WrongType(at, with) => {
            let ranges = value_ranges(text);
            let Some(range) = ranges.get(at % ranges.len().max(1)) else {
                return text.to_string();
            };
            let replacement = REPLACEMENTS[with % REPLACEMENTS.len()];
            [&text[..range.start], replacement, &text[range.end..]].concat()
        }
        Edit::Truncate(at) => {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text[..at].to_string()
        }
    }
}

/// The loader's contract on any text: a model, or diagnostics that can be shown to an author.
fn check_contract(text: &str) -> Result<(), TestCaseError> {
    let Err(diagnostics) = load_str("fuzzed.toml", text) else {
        return Ok(());
    };
    prop_assert!(!diagnostics.is_empty(), "failed without a diagnostic");
    let line_count = text.matches('\n').count() + 1;
    for item in diagnostics.items() {
        prop_assert!(
            item.span.start <= item.span.end && item.span.end <= text.len(),
            "span {:?} outside a text of {} bytes: {}",
            item.span,
            text.len(),
            item.message
        );
        prop_assert!(
            !item.message.trim().is_empty(),
            "empty message at {:?}",
            item.span
        );
        prop_assert!(
            !item.help.trim().is_empty(),
            "empty help for {:?}",
            item.message
        );
    }
    for at in diagnostics.located() {
        prop_assert!(at.line >= 1 && at.column >= 1, "{at:?}");
        prop_assert!(
            at.line <= line_count,
            "line {} of {line_count}: {at:?}",
            at.line
        );
    }
    let rendered = diagnostics.render();
    prop_assert!(rendered.starts_with("fuzzed.toml:"), "{rendered}");
    Ok(())
}

/// A mutant that validates must run: the engine starts, and three virtual seconds of its
/// traffic and scheduled faults pass (a panic stops the engine, and `advance` says so).
fn check_runs(text: &str) -> Result<(), TestCaseError> {
    let Ok(scenario) = load_str("fuzzed.toml", text) else {
        return Ok(());
    };
    let engine = match Engine::spawn_with(Arc::new(scenario), Options::new(Clock::Virtual)) {
        Ok(engine) => engine,
        // Refusing to start is an answer (e.g. seed rows the database refuses), not a crash.
        Err(_) => return Ok(()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let advanced = runtime.block_on(engine.advance(Duration::from_secs(3)));
    prop_assert!(advanced.is_ok(), "the engine stopped: {advanced:?}");
    Ok(())
}

#[test]
fn the_base_scenarios_load() {
    if let Err(diagnostics) = load_str("minimal.toml", MINIMAL) {
        panic!("{diagnostics}");
    }
    if let Err(diagnostics) = load_str("saas.toml", DEFAULT_SCENARIO) {
        panic!("{diagnostics}");
    }
    check_runs(DEFAULT_SCENARIO).expect("the default scenario runs");
}

#[test]
fn edits_are_applied() {
    let text = "a = 1\nb = \"x, y\"\nc = [1, 2]\n";
    assert_eq!(
        value_ranges(text)
            .iter()
            .map(|r| &text[r.clone()])
            .collect::<Vec<_>>(),
        ["1", "\"x, y\"", "[1, 2]"]
    );
    assert_eq!(
        apply(text, &Edit::SwapValues(0, 2)),
        "a = [1, 2]\nb = \"x, y\"\nc = 1\n"
    );
    assert_eq!(
        apply(text, &Edit::WrongType(1, 2)),
        "a = 1\nb = 42\nc = [1, 2]\n"
    );
    assert_eq!(apply(text, &Edit::DeleteLine(1)), "a = 1\nc = [1, 2]\n");
    assert_eq!(
        apply(text, &Edit::DuplicateLine(0)),
        "a = 1\na = 1\nb = \"x, y\"\nc = [1, 2]\n"
    );
    assert_eq!(apply(text, &Edit::Truncate(3)), "a =");
    assert_eq!(apply("", &Edit::DeleteLine(0)), "");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn edited_minimal_scenarios_load_or_explain(edits in prop::collection::vec(edit(), 1..4)) {
        let text = edits.iter().fold(MINIMAL.to_string(), |text, e| apply(&text, e));
        check_contract(&text)?;
    }

    #[test]
    fn edited_default_scenarios_load_or_explain(edits in prop::collection::vec(edit(), 1..4)) {
        let text = edits.iter().fold(DEFAULT_SCENARIO.to_string(), |text, e| apply(&text, e));
        check_contract(&text)?;
    }
}

proptest! {
    // Each case starts an engine and runs it: fewer cases, the same mutations.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn edited_default_scenarios_that_validate_also_run(
        edits in prop::collection::vec(edit(), 1..3)
    ) {
        let text = edits.iter().fold(DEFAULT_SCENARIO.to_string(), |text, e| apply(&text, e));
        check_runs(&text)?;
    }
}
