//! Fuzz target `scenario_loader`: no scenario text can crash `archsim check`, and no scenario
//! that `check` accepts can crash the engine that runs it.
//!
//! Defends the loader (`archsim::scenario::load_str`: TOML syntax, structural check, serde,
//! validation) and what follows a successful load: the engine starts on the model in virtual
//! time, with its traffic and scheduled faults, and a few virtual seconds pass.
//!
//! An input is read in one of two ways:
//!
//! - **text**: UTF-8 bytes are the scenario file itself (seeded with `scenarios/*.toml`, guided
//!   by `fuzz/scenario.dict`); inputs that are not UTF-8 are skipped, as `check` reads text;
//! - **edits** (first byte `0xFF`, which never starts UTF-8): the rest drives a list of edits of
//!   the shipped default scenario (a value replaced by an out-of-range or wrong-typed one, two
//!   values swapped, a line deleted or duplicated, the file cut short). Random bytes rarely form
//!   valid TOML; edits of a valid file reach validation and the engine far more often.
//!
//! Oracles: no panic anywhere (the loader, `Diagnostics`' `Display`/`render`, the engine's
//! thread: libFuzzer aborts on any panic); a refusal carries at least one diagnostic whose span
//! lies inside the text, with a message and a help, rendered as `fuzz.toml:LINE:COL: …`; an
//! engine that started keeps answering after it advanced (a panic inside it would stop it).

#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use archsim::engine::{Clock, Engine, Options};
use archsim::scenario::{DEFAULT_SCENARIO, load_str};
use libfuzzer_sys::fuzz_target;

/// Marks an input as edits of the default scenario rather than scenario text.
const EDITS: u8 = 0xFF;

/// Values of every TOML type, including ones out of range or malformed for most keys.
const REPLACEMENTS: &[&str] = &[
    "\"text\"",
    "\"\"",
    "42",
    "0",
    "-1",
    "4294967296",
    "18446744073709551615",
    "9223372036854775807",
    "-9223372036854775808",
    "3.5",
    "0.5",
    "1e-300",
    "nan",
    "inf",
    "-inf",
    "1e12",
    "1e300",
    "true",
    "[]",
    "[1, \"x\"]",
    "{}",
    "{ a = 1 }",
    "1979-05-27T07:32:00Z",
    "\"{{rate_limit.burst}}\"",
    "\"{{\"",
    "\"acme\"",
    "\"alice\"",
    "\"GET\"",
    "\"/api/v1/projects/{id}\"",
];

/// One edit of the default scenario; indexes are taken modulo what they index.
#[derive(Debug, Arbitrary)]
enum Edit {
    Replace(u16, u8),
    Number(u16, i64),
    Float(u16, f64),
    Swap(u16, u16),
    DeleteLine(u16),
    DuplicateLine(u16),
    Truncate(u16),
}

/// Byte ranges of the values of `key = value` pairs (a multi-line array is one value).
fn value_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    text.match_indices(" = ")
        .map(|(at, sep)| {
            let start = at + sep.len();
            start..value_end(text, start)
        })
        .filter(|range| !range.is_empty())
        .collect()
}

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

fn replace(text: &str, at: u16, with: &str) -> String {
    let ranges = value_ranges(text);
    match ranges.get(usize::from(at) % ranges.len().max(1)) {
        Some(range) => [&text[..range.start], with, &text[range.end..]].concat(),
        None => text.to_string(),
    }
}

fn apply(text: &str, edit: &Edit) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.is_empty() {
        return String::new();
    }
    match *edit {
        Edit::Replace(at, with) => replace(
            text,
            at,
            REPLACEMENTS[usize::from(with) % REPLACEMENTS.len()],
        ),
        Edit::Number(at, n) => replace(text, at, &n.to_string()),
        Edit::Float(at, x) => replace(text, at, &format!("{x:?}")),
        Edit::Swap(a, b) => {
            let ranges = value_ranges(text);
            if ranges.len() < 2 {
                return text.to_string();
            }
            let a = &ranges[usize::from(a) % ranges.len()];
            let b = &ranges[usize::from(b) % ranges.len()];
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
        Edit::DeleteLine(i) => {
            let i = usize::from(i) % lines.len();
            lines
                .iter()
                .enumerate()
                .filter(|(n, _)| *n != i)
                .map(|(_, l)| *l)
                .collect()
        }
        Edit::DuplicateLine(i) => {
            let i = usize::from(i) % lines.len();
            let mut out = lines.clone();
            out.insert(i, lines[i]);
            out.concat()
        }
        Edit::Truncate(at) => {
            let mut at = usize::from(at) * 16 % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text[..at].to_string()
        }
    }
}

/// The scenario text an input stands for, if any.
fn scenario_text(data: &[u8]) -> Option<String> {
    match data.split_first() {
        Some((&EDITS, rest)) => {
            let mut input = Unstructured::new(rest);
            let edits: Vec<Edit> = input.arbitrary().ok()?;
            let edits = &edits[..edits.len().min(8)];
            Some(
                edits
                    .iter()
                    .fold(DEFAULT_SCENARIO.to_string(), |text, e| apply(&text, e)),
            )
        }
        _ => std::str::from_utf8(data).ok().map(str::to_string),
    }
}

/// One runtime for every input: the engine runs on its own thread, this only awaits replies.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a tokio runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(text) = scenario_text(data) else {
        return;
    };
    // `ARCHSIM_FUZZ_PRINT=1 …/scenario_loader FILE…` prints the scenario an input stands for
    // (an edits input is otherwise opaque bytes), to turn it into a regression test.
    if std::env::var_os("ARCHSIM_FUZZ_PRINT").is_some() {
        println!("{text}");
    }
    match load_str("fuzz.toml", &text) {
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty(), "refused without a diagnostic");
            for item in diagnostics.items() {
                assert!(
                    item.span.start <= item.span.end && item.span.end <= text.len(),
                    "span {:?} outside a text of {} bytes: {}",
                    item.span,
                    text.len(),
                    item.message
                );
                assert!(!item.message.trim().is_empty(), "empty message");
                assert!(!item.help.trim().is_empty(), "no help for {}", item.message);
            }
            let line_count = text.matches('\n').count() + 1;
            for at in diagnostics.located() {
                assert!(
                    at.line >= 1 && at.column >= 1 && at.line <= line_count,
                    "{at:?}"
                );
            }
            let rendered = diagnostics.render();
            assert!(rendered.starts_with("fuzz.toml:"), "{rendered}");
            let shown = diagnostics.to_string();
            assert!(!shown.is_empty());
        }
        Ok(scenario) => {
            // Refusing to start (e.g. seed rows the database refuses) is an answer, not a crash.
            let Ok(engine) = Engine::spawn_with(Arc::new(scenario), Options::new(Clock::Virtual))
            else {
                return;
            };
            let advanced = runtime().block_on(engine.advance(Duration::from_secs(2)));
            assert!(advanced.is_ok(), "the engine stopped: {advanced:?}");
        }
    }
});
