//! `archsim bench`: runs the measures of [`crate::bench`] and prints their table.

use super::{EXIT_OK, EXIT_USAGE};
use crate::bench::{self, Effort, MEASURES};

/// Runs the measures in `only` (all when empty) and prints the table; exit 2 for an unknown
/// measure. A missed target is not a failure: the table says so.
pub fn run(quick: bool, only: &[String]) -> u8 {
    if let Some(unknown) = only
        .iter()
        .find(|name| !MEASURES.iter().any(|(known, _)| known == name))
    {
        let known: Vec<&str> = MEASURES.iter().map(|(name, _)| *name).collect();
        eprintln!(
            "archsim bench: unknown measure `{unknown}`; the measures are {}",
            known.join(", ")
        );
        return EXIT_USAGE;
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "archsim bench: this is a debug build; its figures say little (cargo run --release -- bench)"
        );
    }
    let effort = if quick { Effort::Quick } else { Effort::Full };
    let mut rows = Vec::new();
    for (name, what) in MEASURES {
        if only.is_empty() || only.iter().any(|o| o == name) {
            eprintln!("archsim bench: {name}: {what}…");
            rows.extend(bench::run(effort, &[(*name).to_string()]));
        }
    }
    out!("{}", bench::render(&rows));
    EXIT_OK
}
