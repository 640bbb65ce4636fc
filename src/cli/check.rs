//! `archsim check FILE...`: validate scenario files.

use std::path::PathBuf;

use super::{EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use crate::scenario::{self, LoadError};

/// Checks every file; prints `FILE: ok` or its diagnostics. Exit 2 if any file could not be read,
/// else 1 if any is invalid, else 0.
pub fn run(files: &[PathBuf]) -> u8 {
    let mut unreadable = false;
    let mut invalid = false;
    for file in files {
        match scenario::load_file(file) {
            Ok(scenario) => outln!(
                "{}: ok — {} ({} stages, {} tables, {} routes, {} topics)",
                file.display(),
                scenario.meta.title,
                scenario.stages.len(),
                scenario.tables.len(),
                scenario.routes.len(),
                scenario.topics.len()
            ),
            Err(LoadError::Io { path, source }) => {
                eprintln!("{path}: error: cannot read the file: {source}");
                unreadable = true;
            }
            Err(LoadError::Invalid(diagnostics)) => {
                eprint!("{diagnostics}");
                let n = diagnostics.len();
                eprintln!(
                    "{}: {n} error{}",
                    diagnostics.file(),
                    if n == 1 { "" } else { "s" }
                );
                invalid = true;
            }
        }
    }
    if unreadable {
        EXIT_USAGE
    } else if invalid {
        EXIT_INVALID
    } else {
        EXIT_OK
    }
}
