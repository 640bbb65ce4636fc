//! archsim: an interactive system-design simulator.
//!
//! A small but real multi-tenant SaaS backend runs inside the process; the terminal UI and the
//! headless commands are windows onto it. This crate is the library behind the `archsim` binary:
//!
//! - [`scenario`]: the TOML scenario format, loading with positioned diagnostics, the model;
//! - [`topology`]: the request-stage graph (petgraph) and its layering for drawing;
//! - [`flow`]: the message-flow graph (API, outbox, topics, pools, dead letters) and its layers;
//! - [`engine`]: the running system behind one front door, [`engine::EngineHandle`];
//! - [`theory`]: queueing formulas the measurements are held against;
//! - [`export`]: diagrams of the stage graph and the schema as Mermaid or Graphviz text;
//! - [`cli`]: the headless commands;
//! - [`tui`]: the terminal UI (`archsim` / `archsim tui`);
//! - [`units`]: durations and counts formatted for people, one rule everywhere.

pub mod bench;
pub mod cli;
pub mod engine;
pub mod export;
pub mod flow;
pub mod scenario;
pub mod theory;
pub mod topology;
pub mod tui;
pub mod units;
