//! The message flow of a scenario, as a petgraph `DiGraph`, with a layering for drawing: where
//! events come from, which topic holds them, which pool reads them, what it publishes next and
//! where failures end up.
//!
//! ```text
//!  API ─▶ outbox relay ─▶ payments ─▶ payment-processor ─▶ webhooks ─▶ webhook-sender
//!                            │                          └─▶ analytics ─▶ analytics-ingest
//!                            └─✗─▶ payments.dlq
//! ```
//!
//! Routes publish either through the transactional outbox (API → outbox relay → topic) or
//! directly (API → topic); traffic generators with `publish` are producers of their own. A
//! topic feeds the pools that consume it, a pool feeds the topics it publishes follow-ups to,
//! and a topic with a dead-letter topic feeds that. Nothing stops a pool from publishing back
//! upstream, so the layering (longest path from the sources) first sets aside a feedback arc
//! set: a cycle gets drawn, just not followed for the layers.

use std::collections::HashSet;

use petgraph::Direction;
use petgraph::algo::{greedy_feedback_arc_set, toposort};
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::scenario::{PublishMode, Scenario};

/// A place messages pass through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowNode {
    /// The HTTP API (its routes that publish).
    Api,
    /// The transactional outbox and the relay that empties it into the broker.
    Outbox,
    /// A traffic generator that publishes straight to a topic (`[[traffic]] publish`).
    Producer {
        /// The generator's name.
        name: String,
    },
    /// A broker topic.
    Topic {
        /// Its name.
        name: String,
        /// Its position in the scenario's topics (and in a snapshot's topics).
        index: usize,
    },
    /// A worker pool (consumer group).
    Pool {
        /// Its name.
        name: String,
        /// The position of the topic it reads in the scenario's topics.
        topic: usize,
    },
}

impl FlowNode {
    /// The name shown for the node.
    pub fn label(&self) -> &str {
        match self {
            FlowNode::Api => "API",
            FlowNode::Outbox => "outbox relay",
            FlowNode::Producer { name }
            | FlowNode::Topic { name, .. }
            | FlowNode::Pool { name, .. } => name,
        }
    }
}

/// How messages move along an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowEdge {
    /// Written in the request's transaction, to the outbox or (direct routes, producers)
    /// published to the topic.
    Publish,
    /// Handed from the outbox to the broker by the relay.
    Relay,
    /// Delivered to a pool's workers.
    Consume,
    /// A follow-up event a pool publishes on success.
    FollowUp,
    /// Out of attempts: moved to the dead-letter topic.
    DeadLetter,
}

/// The flow graph with its layers.
#[derive(Debug, Clone)]
pub struct Flow {
    graph: DiGraph<FlowNode, FlowEdge>,
    layers: Vec<Vec<NodeIndex>>,
}

impl Flow {
    /// Builds the flow of a validated scenario.
    pub fn new(scenario: &Scenario) -> Self {
        let mut graph = DiGraph::new();
        let publishing: Vec<_> = scenario
            .routes
            .iter()
            .filter(|r| !r.publishes.is_empty())
            .collect();
        let api = (!publishing.is_empty()).then(|| graph.add_node(FlowNode::Api));
        let outbox = publishing
            .iter()
            .any(|r| r.publish_mode == PublishMode::Outbox)
            .then(|| graph.add_node(FlowNode::Outbox));
        let producers: Vec<_> = scenario
            .traffic
            .iter()
            .filter_map(|t| {
                let publish = t.publish.as_ref()?;
                let node = graph.add_node(FlowNode::Producer {
                    name: t.name.clone(),
                });
                Some((node, publish.topic.clone()))
            })
            .collect();
        let topics: Vec<NodeIndex> = scenario
            .topics
            .iter()
            .enumerate()
            .map(|(index, t)| {
                graph.add_node(FlowNode::Topic {
                    name: t.name.clone(),
                    index,
                })
            })
            .collect();
        let topic = |name: &str| {
            scenario
                .topics
                .iter()
                .position(|t| t.name == name)
                .map(|i| topics[i])
        };
        // One edge per pair: two routes publishing to the same topic are one arrow.
        let link = |graph: &mut DiGraph<FlowNode, FlowEdge>, a, b, kind| {
            if graph.find_edge(a, b).is_none() {
                graph.add_edge(a, b, kind);
            }
        };
        if let (Some(api), Some(outbox)) = (api, outbox) {
            link(&mut graph, api, outbox, FlowEdge::Publish);
        }
        for route in &publishing {
            for publish in &route.publishes {
                let Some(to) = topic(&publish.topic) else {
                    continue;
                };
                match (route.publish_mode, outbox, api) {
                    (PublishMode::Outbox, Some(outbox), _) => {
                        link(&mut graph, outbox, to, FlowEdge::Relay)
                    }
                    (_, _, Some(api)) => link(&mut graph, api, to, FlowEdge::Publish),
                    _ => {}
                }
            }
        }
        for (node, name) in producers {
            if let Some(to) = topic(&name) {
                link(&mut graph, node, to, FlowEdge::Publish);
            }
        }
        for pool in &scenario.workers {
            let Some(read) = scenario.topics.iter().position(|t| t.name == pool.topic) else {
                continue;
            };
            let node = graph.add_node(FlowNode::Pool {
                name: pool.name.clone(),
                topic: read,
            });
            link(&mut graph, topics[read], node, FlowEdge::Consume);
            for publish in &pool.publishes {
                if let Some(to) = topic(&publish.topic) {
                    link(&mut graph, node, to, FlowEdge::FollowUp);
                }
            }
        }
        for (index, t) in scenario.topics.iter().enumerate() {
            if let Some(to) = t.dead_letter.as_deref().and_then(topic) {
                link(&mut graph, topics[index], to, FlowEdge::DeadLetter);
            }
        }
        let layers = layer(&graph);
        Self { graph, layers }
    }

    /// The underlying petgraph graph.
    pub fn graph(&self) -> &DiGraph<FlowNode, FlowEdge> {
        &self.graph
    }

    /// The node at `node`.
    pub fn node(&self, node: NodeIndex) -> &FlowNode {
        &self.graph[node]
    }

    /// The node labelled `label` (a topic, pool or producer name, `API`, `outbox relay`).
    pub fn find(&self, label: &str) -> Option<NodeIndex> {
        self.graph
            .node_indices()
            .find(|&n| self.graph[n].label() == label)
    }

    /// The node of the topic at `index` in the scenario's topics.
    pub fn topic_node(&self, index: usize) -> Option<NodeIndex> {
        self.graph
            .node_indices()
            .find(|&n| matches!(self.graph[n], FlowNode::Topic { index: i, .. } if i == index))
    }

    /// Layers for drawing, left to right: layer `i` holds the nodes whose longest path from a
    /// source has `i` edges (edges closing a cycle left out). Within a layer, nodes are ordered
    /// by where their predecessors are, so that edges cross as little as a single pass can
    /// manage.
    pub fn layers(&self) -> &[Vec<NodeIndex>] {
        &self.layers
    }

    /// The layer of `node`.
    pub fn layer_of(&self, node: NodeIndex) -> Option<usize> {
        self.layers.iter().position(|l| l.contains(&node))
    }

    /// Edges out of `node` as (target, kind), in the order they were added.
    pub fn outgoing(&self, node: NodeIndex) -> Vec<(NodeIndex, FlowEdge)> {
        let mut out: Vec<_> = self
            .graph
            .edges_directed(node, Direction::Outgoing)
            .map(|e| (e.id(), e.target(), *e.weight()))
            .collect();
        out.sort_by_key(|(id, _, _)| *id);
        out.into_iter().map(|(_, to, kind)| (to, kind)).collect()
    }

    /// Edges into `node` as (source, kind), in the order they were added.
    pub fn incoming(&self, node: NodeIndex) -> Vec<(NodeIndex, FlowEdge)> {
        let mut inc: Vec<_> = self
            .graph
            .edges_directed(node, Direction::Incoming)
            .map(|e| (e.id(), e.source(), *e.weight()))
            .collect();
        inc.sort_by_key(|(id, _, _)| *id);
        inc.into_iter()
            .map(|(_, from, kind)| (from, kind))
            .collect()
    }

    /// Whether `node` is a dead-letter topic of exactly one topic and leads nowhere: such a sink
    /// can be drawn under its source instead of taking a column of its own.
    pub fn is_dead_letter_sink(&self, node: NodeIndex) -> bool {
        let incoming = self.incoming(node);
        incoming.len() == 1
            && incoming[0].1 == FlowEdge::DeadLetter
            && self.outgoing(node).is_empty()
    }

    /// Every edge as (from label, to label, kind), in the order they were added.
    pub fn edges(&self) -> Vec<(&str, &str, FlowEdge)> {
        self.graph
            .edge_references()
            .map(|e| {
                (
                    self.graph[e.source()].label(),
                    self.graph[e.target()].label(),
                    *e.weight(),
                )
            })
            .collect()
    }
}

/// Longest-path layers of `graph`, ignoring a feedback arc set, each layer ordered by the mean
/// position of its predecessors in earlier layers (then by node index, for stable drawings).
fn layer(graph: &DiGraph<FlowNode, FlowEdge>) -> Vec<Vec<NodeIndex>> {
    let back: HashSet<EdgeIndex> = greedy_feedback_arc_set(graph).map(|e| e.id()).collect();
    let mut acyclic = graph.clone();
    acyclic.retain_edges(|_, e| !back.contains(&e));
    // Removing a feedback arc set leaves a DAG; node order is the fallback all the same.
    let order = toposort(&acyclic, None).unwrap_or_else(|_| acyclic.node_indices().collect());
    let mut depth = vec![0usize; graph.node_count()];
    for &node in &order {
        depth[node.index()] = acyclic
            .neighbors_directed(node, Direction::Incoming)
            .map(|p| depth[p.index()] + 1)
            .max()
            .unwrap_or(0);
    }
    let count = depth.iter().max().map_or(0, |d| d + 1);
    let mut layers: Vec<Vec<NodeIndex>> = vec![Vec::new(); count];
    for node in graph.node_indices() {
        layers[depth[node.index()]].push(node);
    }
    // Position of each placed node within its layer, for the barycentre of later layers.
    let mut position = vec![0.0f64; graph.node_count()];
    for layer in &mut layers {
        // Ties go to the node reached by the earliest edge: a pool (consume edges are added
        // before dead-letter edges) above its topic's dead letters.
        let key = |node: &NodeIndex| {
            let preds: Vec<f64> = acyclic
                .neighbors_directed(*node, Direction::Incoming)
                .map(|p| position[p.index()])
                .collect();
            let centre = if preds.is_empty() {
                f64::MAX
            } else {
                preds.iter().sum::<f64>() / preds.len() as f64
            };
            let first_edge = graph
                .edges_directed(*node, Direction::Incoming)
                .map(|e| e.id().index())
                .min()
                .unwrap_or(usize::MAX);
            (centre, first_edge, *node)
        };
        let mut keyed: Vec<_> = layer.iter().map(key).collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        *layer = keyed.into_iter().map(|(_, _, n)| n).collect();
        for (i, node) in layer.iter().enumerate() {
            position[node.index()] = i as f64;
        }
    }
    layers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{DEFAULT_SCENARIO, load_str};

    fn saas() -> Flow {
        let scenario = load_str("saas.toml", DEFAULT_SCENARIO).expect("default scenario is valid");
        Flow::new(&scenario)
    }

    fn layer_names(flow: &Flow) -> Vec<Vec<&str>> {
        flow.layers()
            .iter()
            .map(|l| l.iter().map(|&n| flow.node(n).label()).collect())
            .collect()
    }

    #[test]
    fn the_default_flow_goes_from_the_api_through_the_outbox_to_the_pools() {
        let flow = saas();
        let edges = flow.edges();
        let has = |a: &str, b: &str, kind| edges.contains(&(a, b, kind));
        assert!(has("API", "outbox relay", FlowEdge::Publish));
        assert!(has("outbox relay", "payments", FlowEdge::Relay));
        assert!(has("outbox relay", "analytics", FlowEdge::Relay));
        assert!(has("payments", "payment-processor", FlowEdge::Consume));
        assert!(has("payment-processor", "webhooks", FlowEdge::FollowUp));
        assert!(has("payment-processor", "analytics", FlowEdge::FollowUp));
        assert!(has("payments", "payments.dlq", FlowEdge::DeadLetter));
        // Two routes publishing to analytics would still be one arrow; no direct API → topic.
        assert!(
            !edges
                .iter()
                .any(|(a, b, _)| *a == "API" && *b != "outbox relay")
        );
        assert_eq!(flow.graph().node_count(), 2 + 6 + 3);
        assert_eq!(
            layer_names(&flow),
            vec![
                vec!["API"],
                vec!["outbox relay"],
                vec!["payments"],
                vec!["payment-processor", "payments.dlq"],
                // analytics is also fed straight from the outbox, by an earlier edge
                vec!["analytics", "webhooks"],
                vec![
                    "analytics-ingest",
                    "analytics.dlq",
                    "webhook-sender",
                    "webhooks.dlq"
                ],
            ]
        );
        for (a, b, _) in flow.edges() {
            let (a, b) = (flow.find(a), flow.find(b));
            assert!(
                a.and_then(|a| flow.layer_of(a)) < b.and_then(|b| flow.layer_of(b)),
                "every edge goes right"
            );
        }
        let dlq = flow.find("payments.dlq").expect("payments.dlq");
        assert!(flow.is_dead_letter_sink(dlq));
        let payments = flow.find("payments").expect("payments");
        assert!(!flow.is_dead_letter_sink(payments));
        assert_eq!(flow.topic_node(0), Some(payments));
    }

    /// The minimal fixture with its route made direct and a producer publishing to `audit`.
    fn tiny() -> Scenario {
        let text = include_str!("../tests/fixtures/valid/minimal.toml")
            .replace(
                "publishes = [{ topic = \"events\", event = \"project.created\" }]",
                "publishes = [{ topic = \"events\", event = \"project.created\" }]\npublish = \"direct\"",
            )
            .replace(
                "[[faults]]",
                "[[traffic]]\nname = \"feed\"\nrate_per_s = 2\npublish = { topic = \"audit\", event = \"tick\" }\n\n[[faults]]",
            );
        match load_str("tiny.toml", &text) {
            Ok(scenario) => scenario,
            Err(errors) => panic!("tiny scenario is valid: {errors:?}"),
        }
    }

    #[test]
    fn direct_routes_skip_the_outbox_and_producers_are_sources() {
        let flow = Flow::new(&tiny());
        let edges = flow.edges();
        assert!(
            flow.find("outbox relay").is_none(),
            "no route uses the outbox"
        );
        assert!(edges.contains(&("API", "events", FlowEdge::Publish)));
        assert!(edges.contains(&("feed", "audit", FlowEdge::Publish)));
        assert!(edges.contains(&("notifier", "audit", FlowEdge::FollowUp)));
        // Every node gets a layer, and the sources come first.
        let layers = flow.layers();
        assert_eq!(
            layers.iter().map(Vec::len).sum::<usize>(),
            flow.graph().node_count()
        );
        let first = &layers[0];
        assert!(first.contains(&flow.find("API").expect("API")));
        assert!(first.contains(&flow.find("feed").expect("feed")));
        let events = flow.find("events").and_then(|n| flow.layer_of(n));
        let dlq = flow.find("events.dlq").and_then(|n| flow.layer_of(n));
        assert!(events < dlq);
    }

    #[test]
    fn no_publishing_route_means_no_api_node() {
        let mut scenario = tiny();
        for route in &mut scenario.routes {
            route.publishes.clear();
        }
        let flow = Flow::new(&scenario);
        assert!(flow.find("API").is_none());
        assert!(flow.find("feed").is_some());
    }
}
