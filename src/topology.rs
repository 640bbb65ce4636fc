//! The request-stage graph of a scenario, as a petgraph `DiGraph`, with a layering for drawing.
//!
//! ```text
//!  dns ─▶ cdn ─▶ waf ─▶ … ─▶ cache ─▶ database ─▶ … ─▶ response
//!          └──────── hit ─────────┴──────── hit ──────────▲
//! ```
//!
//! Edges are either the normal path (`next`) or a short cut taken on a cache or CDN hit
//! (`on_hit`). Validation guarantees a DAG with one entry and one response stage, so layering by
//! longest path from the entry puts every stage strictly right of all its predecessors.

use std::collections::HashMap;

use petgraph::Direction;
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::scenario::{Scenario, Stage, StageKind};

/// Why an edge is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// The normal path (`next`).
    Next,
    /// The short cut on a cache or CDN hit (`on_hit`).
    Hit,
}

/// The stage graph.
#[derive(Debug, Clone)]
pub struct Topology {
    graph: DiGraph<Stage, EdgeKind>,
    by_id: HashMap<String, NodeIndex>,
    order: Vec<NodeIndex>,
}

impl Topology {
    /// Builds the graph of a validated scenario.
    pub fn new(scenario: &Scenario) -> Self {
        let mut graph = DiGraph::new();
        let mut by_id = HashMap::new();
        for stage in &scenario.stages {
            let node = graph.add_node(stage.clone());
            by_id.insert(stage.id.clone(), node);
        }
        for stage in &scenario.stages {
            let from = by_id[&stage.id];
            for next in &stage.next {
                if let Some(&to) = by_id.get(next) {
                    graph.add_edge(from, to, EdgeKind::Next);
                }
            }
            if let Some(&to) = stage.on_hit.as_ref().and_then(|hit| by_id.get(hit)) {
                graph.add_edge(from, to, EdgeKind::Hit);
            }
        }
        // Validation rejects cycles; should one slip through, fall back to file order.
        let order = toposort(&graph, None).unwrap_or_else(|_| graph.node_indices().collect());
        Self {
            graph,
            by_id,
            order,
        }
    }

    /// The underlying petgraph graph.
    pub fn graph(&self) -> &DiGraph<Stage, EdgeKind> {
        &self.graph
    }

    /// The node of stage `id`.
    pub fn node(&self, id: &str) -> Option<NodeIndex> {
        self.by_id.get(id).copied()
    }

    /// The stage at `node`.
    pub fn stage(&self, node: NodeIndex) -> &Stage {
        &self.graph[node]
    }

    /// Stages in topological order (entry first, response last).
    pub fn order(&self) -> impl Iterator<Item = &Stage> {
        self.order.iter().map(|&n| &self.graph[n])
    }

    /// The entry stage: the one no other stage points at.
    pub fn entry(&self) -> Option<&Stage> {
        self.order.first().map(|&n| &self.graph[n])
    }

    /// The response stage.
    pub fn response(&self) -> Option<&Stage> {
        self.graph
            .node_weights()
            .find(|s| s.kind == StageKind::Response)
    }

    /// Every edge as (from id, to id, kind), in stage order.
    pub fn edges(&self) -> Vec<(&str, &str, EdgeKind)> {
        let mut edges: Vec<_> = self
            .graph
            .edge_indices()
            .filter_map(|e| {
                let (a, b) = self.graph.edge_endpoints(e)?;
                Some((
                    self.graph[a].id.as_str(),
                    self.graph[b].id.as_str(),
                    self.graph[e],
                ))
            })
            .collect();
        let position = |id: &str| self.order.iter().position(|&n| self.graph[n].id == id);
        edges.sort_by_key(|(a, b, _)| (position(a), position(b)));
        edges
    }

    /// Layers for drawing: layer `i` holds the stages whose longest path from the entry has
    /// `i` edges. Within a layer stages keep file order.
    pub fn layers(&self) -> Vec<Vec<&Stage>> {
        let mut depth: HashMap<NodeIndex, usize> = HashMap::new();
        for &node in &self.order {
            let d = self
                .graph
                .neighbors_directed(node, Direction::Incoming)
                .filter_map(|p| depth.get(&p))
                .map(|d| d + 1)
                .max()
                .unwrap_or(0);
            depth.insert(node, d);
        }
        let count = depth.values().max().map_or(0, |d| d + 1);
        let mut layers: Vec<Vec<NodeIndex>> = vec![Vec::new(); count];
        for (&node, &d) in &depth {
            layers[d].push(node);
        }
        layers
            .into_iter()
            .map(|mut layer| {
                layer.sort();
                layer.into_iter().map(|n| &self.graph[n]).collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{DEFAULT_SCENARIO, load_str};

    #[test]
    fn the_default_pipeline_starts_at_dns_and_ends_at_the_response() {
        let scenario = load_str("saas.toml", DEFAULT_SCENARIO).expect("default scenario is valid");
        let topology = Topology::new(&scenario);
        assert_eq!(topology.entry().map(|s| s.kind), Some(StageKind::Dns));
        assert_eq!(
            topology.order().last().map(|s| s.kind),
            Some(StageKind::Response)
        );
        let layers = topology.layers();
        assert_eq!(layers.first().map(|l| l[0].kind), Some(StageKind::Dns));
        assert_eq!(layers.last().map(|l| l[0].kind), Some(StageKind::Response));
        // every edge goes to a strictly later layer
        let layer_of = |id: &str| layers.iter().position(|l| l.iter().any(|s| s.id == id));
        for (a, b, _) in topology.edges() {
            assert!(layer_of(a) < layer_of(b), "{a} -> {b} goes backwards");
        }
    }

    #[test]
    fn hits_are_short_cuts_to_the_response() {
        let scenario = load_str("saas.toml", DEFAULT_SCENARIO).expect("default scenario is valid");
        let topology = Topology::new(&scenario);
        let hits: Vec<_> = topology
            .edges()
            .into_iter()
            .filter(|e| e.2 == EdgeKind::Hit)
            .collect();
        assert!(!hits.is_empty());
        let response = topology
            .response()
            .map(|s| s.id.clone())
            .unwrap_or_default();
        assert!(hits.iter().all(|(_, to, _)| *to == response));
    }
}
