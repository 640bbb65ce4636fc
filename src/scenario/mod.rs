//! Scenario files: the TOML format, loading with positioned diagnostics, and the validated model.
//!
//! ```text
//!  text ─▶ TOML parse ─▶ structural check ─▶ serde ─▶ RawScenario ─▶ validate ─▶ Scenario
//!            (syntax)   (keys, types, enums)            (raw/)       (cross-refs)  (model/)
//! ```
//!
//! Each step collects every problem it can find before giving up, and every problem carries its
//! byte range, so `archsim check` can print `FILE:LINE:COL: error: MESSAGE` with a `help:` line.

pub mod diagnostic;
pub mod model;
pub mod placeholders;
pub mod raw;
pub mod span;
mod structure;
mod syntax;
mod validate;

use std::path::Path;
use std::sync::Arc;

pub use diagnostic::{Diagnostic, Diagnostics, Located};
pub use model::*;
pub use validate::validate;

/// The default scenario, embedded in the binary.
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/saas.toml");

/// The file name used for the embedded default scenario in messages.
pub const DEFAULT_SCENARIO_NAME: &str = "scenarios/saas.toml";

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: cannot read the file: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid scenario.
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// The JSON Schema of scenario files, as a JSON value.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(raw::RawScenario);
    schema.to_value()
}

/// The JSON Schema as pretty-printed text (the content of `assets/scenario.schema.json`).
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// Parses and validates scenario `text`; `file` names it in diagnostics.
pub fn load_str(file: &str, text: &str) -> Result<Scenario, Diagnostics> {
    let invalid = |items: Vec<Diagnostic>| Diagnostics::new(file, text, items);
    let (document, syntax_errors) = toml::de::DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        return Err(invalid(syntax::diagnostics(text, &syntax_errors)));
    }
    let mut structural = Vec::new();
    structure::check_document(&document, &json_schema(), &mut structural);
    if !structural.is_empty() {
        return Err(invalid(structural));
    }
    let raw: raw::RawScenario =
        serde::Deserialize::deserialize(toml::de::Deserializer::from(document))
            .map_err(|e| invalid(vec![serde_diagnostic(&e)]))?;
    validate(raw, text).map_err(invalid)
}

/// Reads and loads the scenario file at `path`.
pub fn load_file(path: &Path) -> Result<Scenario, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    load_str(&path.display().to_string(), &text).map_err(LoadError::Invalid)
}

/// Loads `path`, or the embedded default scenario when `path` is `None`.
pub fn load_or_default(path: Option<&Path>) -> Result<Arc<Scenario>, LoadError> {
    match path {
        Some(path) => load_file(path).map(Arc::new),
        None => load_str(DEFAULT_SCENARIO_NAME, DEFAULT_SCENARIO)
            .map(Arc::new)
            .map_err(LoadError::Invalid),
    }
}

fn serde_diagnostic(error: &toml::de::Error) -> Diagnostic {
    Diagnostic::new(
        error.span().unwrap_or(0..0),
        error.message().trim().to_string(),
        "compare with scenarios/README.md, the format reference",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scenario_is_valid() {
        match load_str(DEFAULT_SCENARIO_NAME, DEFAULT_SCENARIO) {
            Ok(scenario) => assert_eq!(scenario.meta.name, "saas"),
            Err(diagnostics) => panic!("default scenario is invalid:\n{diagnostics}"),
        }
    }
}
