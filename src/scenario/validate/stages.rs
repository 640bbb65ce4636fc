//! The stage graph: ids, kinds, successors, and the shape rules that make it a pipeline.
//!
//! The graph must be a DAG with exactly one entry (a stage nothing points at) and exactly one
//! `response` stage; every stage must be reachable from the entry and lead to the response.

use std::collections::BTreeSet;

use petgraph::Direction;
use petgraph::algo::toposort;
use petgraph::graphmap::DiGraphMap;
use petgraph::visit::Dfs;

use super::Cx;
use super::dist::validate_distribution;
use crate::scenario::model::*;
use crate::scenario::raw::RawStage;

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
            explain: stage.explain.trim().to_string(),
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
    match responses.as_slice() {
        [] => match raw.iter().find(|s| s.next.is_empty()) {
            Some(last) => cx.error(
                last.kind.span(),
                format!(
                    "the stage graph has no `response` stage, and `{}` leads nowhere",
                    last.id
                ),
                format!(
                    "if `{}` ends the pipeline, set its `kind = \"response\"`; else add `next` to it",
                    last.id
                ),
            ),
            None => cx.error(
                raw[0].id.span(),
                "the stage graph has no `response` stage",
                "add a stage with `kind = \"response\"` that the others lead to",
            ),
        },
        [_] => {}
        [_, second, ..] => cx.error(
            second.kind.span(),
            format!("a second response stage `{}`", second.id),
            "a request has one response: keep a single `kind = \"response\"` stage",
        ),
    }
    if edges_ok {
        check_graph_shape(cx, raw);
    }
    stages
}

/// Entry, cycles and reachability, on a graph whose edges all name existing stages.
fn check_graph_shape(cx: &mut Cx, raw: &[RawStage]) {
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
        return;
    }
    if let [entry] = entries.as_slice() {
        let mut reached = BTreeSet::new();
        let mut dfs = Dfs::new(&graph, entry.id.as_str());
        while let Some(id) = dfs.next(&graph) {
            reached.insert(id);
        }
        for stage in raw.iter().filter(|s| !reached.contains(s.id.as_str())) {
            cx.error(
                stage.id.span(),
                format!(
                    "stage `{}` is never reached from the entry `{}`",
                    stage.id, entry.id
                ),
                "list it in the `next` of an earlier stage, or remove it",
            );
        }
    }
}
