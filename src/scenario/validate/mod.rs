//! Semantic validation: raw file types in, immutable [`Scenario`] out.
//!
//! Each section has a small `validate_*` function in its own module. They all report into one
//! [`Cx`], which collects every diagnostic (nothing stops at the first error) and remembers where
//! each name was first defined so duplicates can point back at it. Sections are validated in
//! dependency order (identity → tables → stages → broker → API → traffic), each seeing the names
//! declared before it.

mod broker;
mod conditions;
mod dist;
mod effects;
mod identity;
mod requests;
mod rfc3339;
mod routes;
mod stages;
mod tables;
mod tours;

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use super::diagnostic::{Diagnostic, unknown_name_help};
use super::model::*;
use super::raw::RawScenario;
use super::span::{SourceMap, Sp};

/// The validation context: collected diagnostics and the names declared so far.
pub(crate) struct Cx<'a> {
    source: SourceMap<'a>,
    diagnostics: Vec<Diagnostic>,
    /// Names by namespace ("table", "topic", …), with the span of their first definition.
    declared: BTreeMap<&'static str, Vec<(String, Range<usize>)>>,
}

impl<'a> Cx<'a> {
    fn new(source: &'a str) -> Self {
        Self {
            source: SourceMap::new(source),
            diagnostics: Vec::new(),
            declared: BTreeMap::new(),
        }
    }

    /// The scenario file's text.
    pub(crate) fn source_text(&self) -> &'a str {
        self.source.text()
    }

    /// Reports an error at `span`.
    pub(crate) fn error(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.diagnostics.push(Diagnostic::new(span, message, help));
    }

    /// Declares `name` in namespace `what`; reports a duplicate and returns false if it exists.
    pub(crate) fn declare(&mut self, what: &'static str, name: &Sp<String>) -> bool {
        let names = self.declared.entry(what).or_default();
        if let Some((_, first)) = names.iter().find(|(n, _)| n == name.get()) {
            let line = self.source.line_col(first.start).line;
            self.diagnostics.push(Diagnostic::new(
                name.span(),
                format!("duplicate {what} `{name}`"),
                format!("the first one is defined on line {line}; give each {what} a unique name"),
            ));
            return false;
        }
        names.push((name.get().clone(), name.span()));
        true
    }

    /// The names declared in namespace `what`, in order.
    pub(crate) fn declared_names(&self, what: &str) -> Vec<String> {
        self.declared
            .get(what)
            .map(|names| names.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default()
    }

    /// Whether `name` was declared in namespace `what`.
    pub(crate) fn is_declared(&self, what: &str, name: &str) -> bool {
        self.declared
            .get(what)
            .is_some_and(|names| names.iter().any(|(n, _)| n == name))
    }

    /// Checks that `name` was declared in `what`; reports an unknown name with a hint otherwise.
    pub(crate) fn expect_declared(
        &mut self,
        what: &'static str,
        name: &Sp<String>,
        used_by: &str,
    ) -> bool {
        if self.is_declared(what, name) {
            return true;
        }
        let candidates = self.declared_names(what);
        let help = unknown_name_help(what, name, candidates.iter().map(String::as_str));
        self.diagnostics.push(Diagnostic::new(
            name.span(),
            format!("{used_by} refers to unknown {what} `{name}`"),
            help,
        ));
        false
    }

    /// The line of a byte offset, for messages that point elsewhere in the file.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.source.line_col(offset).line
    }
}

/// Seconds (as written in files) to a `Duration`, clamping negatives to zero.
pub(crate) fn secs(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.max(0.0)).unwrap_or(Duration::MAX)
}

/// Milliseconds to a `Duration`, clamping negatives to zero.
pub(crate) fn millis(value: f64) -> Duration {
    secs(value / 1000.0)
}

/// How to write a name that [`is_identifier`] accepts.
pub(crate) const IDENTIFIER_HELP: &str =
    "use letters, digits and `_`, starting with a letter or `_`";

/// Whether `name` is a plain identifier: a letter or `_`, then letters, digits or `_`.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Validates a whole raw scenario; `source` is the file text the spans point into.
pub fn validate(raw: RawScenario, source: &str) -> Result<Scenario, Vec<Diagnostic>> {
    let mut cx = Cx::new(source);
    let meta = identity::validate_meta(&mut cx, &raw.scenario);
    let auth = identity::validate_auth(&mut cx, &raw.auth);
    let tenants = identity::validate_tenants(&mut cx, &raw.tenants);
    let permissions = identity::validate_permissions(&mut cx, &raw.permissions);
    let roles = identity::validate_roles(&mut cx, &raw.roles, &permissions);
    let personas = identity::validate_personas(&mut cx, &raw.personas);
    let identities = identity::Identities {
        tenants: &tenants,
        roles: &roles,
        personas: &personas,
    };
    let tables = tables::validate_tables(&mut cx, &raw.tables, &identities);
    let stages = stages::validate_stages(&mut cx, &raw.stages);
    let topics = broker::validate_topics(&mut cx, &raw.topics);
    let mut workers = broker::validate_workers(&mut cx, &raw.workers, &topics);
    let edge = routes::validate_edge(&mut cx, &raw.edge);
    let load_balancer = routes::validate_load_balancer(&mut cx, &raw.load_balancer);
    let rate_limit = routes::validate_rate_limit(&mut cx, &raw.rate_limit, &tenants);
    let cache = routes::validate_cache(&mut cx, &raw.cache);
    let database = routes::validate_database(&mut cx, &raw.database);
    let routes = routes::validate_routes(&mut cx, &raw.routes, &permissions, &tables);
    effects::validate_effects(&mut cx, &raw.workers, &mut workers, &tables, &routes);
    stages::check_stages_for_routes(&mut cx, &raw.stages, &raw.routes);
    let requests = requests::validate_requests(&mut cx, &raw.requests, &personas, &routes);
    let traffic = requests::validate_traffic(&mut cx, &raw.traffic, &requests);
    let faults = requests::validate_faults(&mut cx, &raw.faults, &workers, &topics);
    let tours = tours::validate_tours(&mut cx, &raw.tours, &tables, &workers, &topics);

    if !cx.diagnostics.is_empty() {
        return Err(cx.diagnostics);
    }
    let mut scenario = Scenario {
        meta,
        auth,
        edge,
        load_balancer,
        rate_limit,
        cache,
        database,
        tenants,
        permissions,
        roles,
        personas,
        tables,
        stages,
        routes,
        topics,
        workers,
        requests,
        traffic,
        faults,
        tours,
    };
    stages::render_explains(&mut scenario);
    Ok(scenario)
}
