//! The stage graph: ids, kinds, successors, and the shape rules that make it a pipeline.
//!
//! The graph must be a DAG with exactly one entry (a stage nothing points at) and exactly one
//! `response` stage, so every stage is reachable from the entry and leads to the response. Each
//! kind appears at most once, and edges follow the pipeline's phases:
//!
//! ```text
//!  edge ──▶ gateway ──▶ middleware ──▶ controller ──▶ data ──▶ response
//!  dns cdn waf          request_id sanitize              cache database
//!  load_balancer        validate rate_limit auth         broker_publish
//!                       tenant rbac
//! ```
//!
//! Routes add requirements: a cached route needs a `cache` stage, a publishing route a
//! `broker_publish` stage, a guarded route `auth` and `rbac` stages.

use petgraph::Direction;
use petgraph::algo::toposort;
use petgraph::graphmap::DiGraphMap;

use std::ops::Range;

use super::Cx;
use super::dist::validate_distribution;
use crate::scenario::model::*;
use crate::scenario::placeholders;
use crate::scenario::raw::{RawRoute, RawStage};
use crate::scenario::span::Sp;

/// The explain text, trimmed, after reporting each placeholder nobody can fill (at its own
/// position when the file spells it plainly). Known ones are filled in once the whole
/// scenario is known (`render_explains`).
fn checked_explain(cx: &mut Cx, explain: &Sp<String>) -> String {
    for (_, name) in placeholders::find(explain) {
        if placeholders::is_known(name) {
            continue;
        }
        let span = explain.span();
        let written = cx
            .source_text()
            .get(span.clone())
            .and_then(|raw| raw.find(&format!("{{{{{name}")))
            .map_or(span.clone(), |at| {
                let start = span.start + at;
                start..start + name.len() + 4
            });
        let names: Vec<&str> = placeholders::NAMES.iter().map(|(n, _)| *n).collect();
        let nearest = names
            .iter()
            .min_by_key(|known| strsim::levenshtein(known, name))
            .copied()
            .unwrap_or_default();
        cx.error(
            written,
            format!("unknown placeholder `{{{{{name}}}}}` in an explain text"),
            format!(
                "did you mean `{{{{{nearest}}}}}`? Placeholders: {}",
                names.join(", ")
            ),
        );
    }
    explain.trim().to_string()
}

/// Fills the configured values into every stage's explain text.
pub(crate) fn render_explains(scenario: &mut Scenario) {
    let rendered: Vec<String> = scenario
        .stages
        .iter()
        .map(|stage| placeholders::render(&stage.explain, scenario))
        .collect();
    for (stage, text) in scenario.stages.iter_mut().zip(rendered) {
        stage.explain = text;
    }
}

pub(crate) fn validate_stages(cx: &mut Cx, raw: &[RawStage]) -> Vec<Stage> {
    let mut stages = Vec::new();
    for stage in raw {
        cx.declare("stage", &stage.id);
        let latency = stage.latency.as_ref().and_then(|l| {
            validate_distribution(cx, l, &format!("latency of stage `{}`", stage.id))
        });
        stages.push(Stage {
            id: stage.id.get().clone(),
            kind: *stage.kind,
            title: stage.title.clone(),
            explain: checked_explain(cx, &stage.explain),
            latency,
            next: stage.next.iter().map(|n| n.get().clone()).collect(),
            on_hit: stage.on_hit.as_ref().map(|h| h.get().clone()),
        });
    }
    if raw.is_empty() {
        return stages;
    }
    let has_response = raw.iter().any(|s| *s.kind == StageKind::Response);
    let mut edges_ok = true;
    for stage in raw {
        let who = format!("stage `{}`", stage.id);
        for next in stage.next.iter().chain(stage.on_hit.iter()) {
            edges_ok &= cx.expect_declared("stage", next, &who);
            if next.get() == stage.id.get() {
                cx.error(
                    next.span(),
                    format!("stage `{}` points at itself", stage.id),
                    "a stage must lead to a later stage",
                );
                edges_ok = false;
            }
        }
        match (*stage.kind, &stage.on_hit) {
            (StageKind::Cdn | StageKind::Cache, None) => cx.error(
                stage.kind.span(),
                format!(
                    "{who} is a {} stage but has no `on_hit`",
                    stage.kind.as_str()
                ),
                "say where a hit goes, usually `on_hit = \"response\"`",
            ),
            (StageKind::Cdn | StageKind::Cache, Some(_)) | (_, None) => {}
            (kind, Some(hit)) => cx.error(
                hit.span(),
                format!(
                    "`on_hit` only applies to cdn and cache stages, not {}",
                    kind.as_str()
                ),
                "remove `on_hit`, or list the stage in `next`",
            ),
        }
        match (*stage.kind, stage.next.is_empty()) {
            (StageKind::Response, false) => cx.error(
                stage.next[0].span(),
                format!(
                    "the response stage `{}` must be last but has `next`",
                    stage.id
                ),
                "remove `next` from the response stage",
            ),
            (StageKind::Response, true) | (_, false) => {}
            // Without a response stage, the last stage is most likely the response with the
            // wrong kind: reported once below, at that stage.
            (_, true) if !has_response => {}
            (_, true) => cx.error(
                stage.id.span(),
                format!("{who} has no `next` stage"),
                "every stage except the response leads somewhere: add `next = [\"...\"]`",
            ),
        }
    }
    let responses: Vec<&RawStage> = raw
        .iter()
        .filter(|s| *s.kind == StageKind::Response)
        .collect();
    // Without a response stage, the stage that leads nowhere is blamed for it; its kind is the
    // same mistake, so it is not reported again as a duplicate.
    let blamed = match responses.is_empty() {
        true => report_missing_response(cx, raw),
        false => None,
    };
    check_kinds_once(cx, raw, blamed);
    if edges_ok && check_graph_shape(cx, raw) && responses.len() == 1 {
        check_phases(cx, raw);
    }
    stages
}

/// Reports that there is no response stage; returns the id of the stage it blames, if any.
fn report_missing_response<'r>(cx: &mut Cx, raw: &'r [RawStage]) -> Option<&'r str> {
    match raw.iter().find(|s| s.next.is_empty()) {
        Some(last) => {
            cx.error(
            last.kind.span(),
            format!(
                "the stage graph has no `response` stage, and `{}` leads nowhere",
                last.id
            ),
            format!(
                "if `{}` ends the pipeline, set its `kind = \"response\"`; else add `next` to it",
                last.id
            ),
            );
            Some(last.id.as_str())
        }
        None => {
            if let Some(first) = raw.first() {
                cx.error(
                    first.id.span(),
                    "the stage graph has no `response` stage",
                    "add a stage with `kind = \"response\"` that the others lead to",
                );
            }
            None
        }
    }
}

/// The engine runs each kind of stage at most once per request. (A stage whose id is a duplicate
/// is already reported as such.)
fn check_kinds_once(cx: &mut Cx, raw: &[RawStage], blamed: Option<&str>) {
    for (at, stage) in raw.iter().enumerate() {
        if raw[..at].iter().any(|s| s.id.get() == stage.id.get())
            || blamed == Some(stage.id.as_str())
        {
            continue;
        }
        let Some(first) = raw[..at].iter().find(|s| *s.kind == *stage.kind) else {
            continue;
        };
        let kind = stage.kind.as_str();
        let line = cx.line_of(first.kind.span().start);
        cx.error(
            stage.kind.span(),
            format!("a second `{kind}` stage `{}`", stage.id),
            format!(
                "the first is `{}` on line {line}; each kind runs once per request: keep one \
                 `kind = \"{kind}\"` stage",
                first.id
            ),
        );
    }
}

/// The phase of the pipeline a stage kind belongs to, in running order, with its name.
fn phase(kind: StageKind) -> (u8, &'static str) {
    use StageKind as K;
    match kind {
        K::Dns | K::Cdn | K::Waf | K::LoadBalancer => (0, "edge"),
        K::Gateway => (1, "gateway"),
        K::RequestId | K::Sanitize | K::Validate | K::RateLimit | K::Auth | K::Tenant | K::Rbac => {
            (2, "middleware")
        }
        K::Controller => (3, "controller"),
        K::Cache | K::Database | K::BrokerPublish => (4, "data"),
        K::Response => (5, "response"),
    }
}

/// Explains the phase rule; shared by every phase error.
const PHASE_HELP: &str = "stages run in phases: edge (dns, cdn, waf, load_balancer) → gateway → \
    middleware (request_id, sanitize, validate, rate_limit, auth, tenant, rbac) → controller → \
    data (cache, database, broker_publish) → response. The engine runs the edge stages before \
    routing and the data stages inside the controller's handler, so `next` and `on_hit` may stay \
    in a phase or move forward, never back";

/// Every `next` and `on_hit` edge stays in its phase or moves to a later one.
fn check_phases(cx: &mut Cx, raw: &[RawStage]) {
    for stage in raw {
        let (from, from_name) = phase(*stage.kind);
        for next in stage.next.iter().chain(stage.on_hit.iter()) {
            let Some(target) = raw.iter().find(|s| s.id.get() == next.get()) else {
                continue;
            };
            let (to, to_name) = phase(*target.kind);
            if to < from {
                cx.error(
                    next.span(),
                    format!(
                        "stage `{}` ({}, {from_name} phase) leads back to `{}` ({}, {to_name} \
                         phase)",
                        stage.id,
                        stage.kind.as_str(),
                        target.id,
                        target.kind.as_str()
                    ),
                    PHASE_HELP,
                );
            }
        }
    }
}

/// Entry and cycles, on a graph whose edges all name existing stages; true when both are right.
///
/// Reachability needs no check of its own: in a DAG every stage can be traced back along its
/// predecessors to a stage without one, so with a single entry every stage is reached from it.
fn check_graph_shape(cx: &mut Cx, raw: &[RawStage]) -> bool {
    let mut graph: DiGraphMap<&str, ()> = DiGraphMap::new();
    for stage in raw {
        graph.add_node(stage.id.as_str());
        for next in stage.next.iter().chain(stage.on_hit.iter()) {
            graph.add_edge(stage.id.as_str(), next.as_str(), ());
        }
    }
    let entries: Vec<&RawStage> = raw
        .iter()
        .filter(|s| {
            graph
                .neighbors_directed(s.id.as_str(), Direction::Incoming)
                .next()
                .is_none()
        })
        .collect();
    if let [first, second, ..] = entries.as_slice() {
        cx.error(
            second.id.span(),
            format!(
                "stages `{}` and `{}` both have no predecessor",
                first.id, second.id
            ),
            "a request enters at one stage: link the other from an earlier stage's `next`",
        );
    }
    if let Err(cycle) = toposort(&graph, None) {
        let at = cycle.node_id();
        if let Some(stage) = raw.iter().find(|s| s.id.as_str() == at) {
            cx.error(
                stage.id.span(),
                format!("the stage graph has a cycle through `{at}`"),
                "stages must form a DAG: a request never returns to a stage it passed",
            );
        }
        return false;
    }
    entries.len() == 1
}

/// A stage kind some routes need, and the first route that needs it.
struct Need<'r> {
    kind: StageKind,
    route: &'r RawRoute,
    /// The route's value that makes it need the stage.
    span: Range<usize>,
    /// What the route does that needs the stage ("is cached").
    why: String,
    /// Where the stage goes.
    place: &'static str,
    /// How many routes need it.
    routes: usize,
}

/// Routes run through the stage graph: there must be one, with the stages their settings need.
pub(crate) fn check_stages_for_routes(cx: &mut Cx, stages: &[RawStage], routes: &[RawRoute]) {
    let Some(first) = routes.first() else {
        return;
    };
    if stages.is_empty() {
        cx.error(
            first.path.span(),
            format!(
                "route {} {} has no stages to run through: the scenario has no `[[stages]]`",
                first.method.as_str(),
                first.path
            ),
            "every request travels the stage graph to its response: add `[[stages]]` ending in \
             one with `kind = \"response\"`, e.g. gateway → controller → response",
        );
        return;
    }
    for need in needs(routes) {
        if stages.iter().any(|s| *s.kind == need.kind) {
            continue;
        }
        let kind = need.kind.as_str();
        let others = match need.routes - 1 {
            0 => String::new(),
            1 => "; 1 other route needs it too".to_string(),
            n => format!("; {n} other routes need it too"),
        };
        cx.error(
            need.span,
            format!(
                "route {} {} {}, but there is no `{kind}` stage",
                need.route.method.as_str(),
                need.route.path,
                need.why
            ),
            format!(
                "add a stage with `kind = \"{kind}\"` {}{others}",
                need.place
            ),
        );
    }
}

/// The stages the routes need, each with the first route that needs it.
fn needs(routes: &[RawRoute]) -> Vec<Need<'_>> {
    type Rule = (
        StageKind,
        &'static str,
        fn(&RawRoute) -> Option<(Range<usize>, String)>,
    );
    let rules: [Rule; 4] = [
        (
            StageKind::Cache,
            "between the controller and the database, with `on_hit` leading to the response",
            |r| {
                let ttl = r
                    .cache_ttl_s
                    .as_ref()
                    .filter(|_| *r.method == Method::Get)?;
                Some((ttl.span(), "is cached (`cache_ttl_s`)".to_string()))
            },
        ),
        (
            StageKind::BrokerPublish,
            "after the database, leading to the response",
            |r| {
                (!r.publishes.is_empty())
                    .then(|| (r.publishes.span(), "publishes events".to_string()))
            },
        ),
        (
            StageKind::Auth,
            "after the gateway, before the controller (or make the route `public = true`)",
            |r| {
                let span = r.permission.as_ref().map_or(r.path.span(), Sp::span);
                (!*r.public).then(|| (span, "needs a token (it is not public)".to_string()))
            },
        ),
        (
            StageKind::Rbac,
            "after `auth`, before the controller",
            |r| {
                let span = r.permission.as_ref().map_or(r.path.span(), Sp::span);
                let why = match &r.permission {
                    Some(p) => format!("requires permission `{p}`"),
                    None => "needs a permission check".to_string(),
                };
                (!*r.public).then_some((span, why))
            },
        ),
    ];
    let mut out = Vec::new();
    for (kind, place, rule) in rules {
        let mut matching = routes.iter().filter_map(|r| rule(r).map(|m| (r, m)));
        if let Some((route, (span, why))) = matching.next() {
            out.push(Need {
                kind,
                route,
                span,
                why,
                place,
                routes: 1 + matching.count(),
            });
        }
    }
    out
}
