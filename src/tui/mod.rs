//! The terminal UI: four views onto one running engine.
//!
//! ```text
//!            ┌──────────── UI thread ─────────────┐      ┌──── engine thread ────┐
//!  keys ───▶ │ keymap → Action → AppState::update │ ───▶ │ Engine + Simulation   │
//!            │ draw(&AppState) (pure)             │ ◀─── │ traces, rows,         │
//!            └────────────────────────────────────┘      │ snapshots, events     │
//!                                                        └───────────────────────┘
//! ```
//!
//! - [`app`]: the loop (inbox, frame pacing) and [`run`], the entry point of `archsim tui`;
//! - [`state`]: everything on screen, changed only by actions and engine updates;
//! - [`keymap`]: key tables per view, which also feed the `?` overlay;
//! - [`views`]: drawing, a pure function of the state; [`widgets`]: the pieces;
//! - [`engine_link`]: the engine thread and the commands/updates between it and the UI;
//! - [`headless`]: the same app driven from code on a virtual-time engine (tests);
//! - [`terminal`]: raw mode and the alternate screen, restored on every exit path;
//! - [`log_capture`]: the `tracing` layer behind the Logs view; [`theme`]: colours by meaning;
//! - [`reload`]: the scenario file watched, so a save restarts the engine on the new model.
//!
//! Nothing here is needed by the engine: `src/engine` does not know this module exists.

pub mod action;
pub mod app;
pub mod engine_link;
pub mod headless;
pub mod keymap;
pub mod log_capture;
pub mod reload;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod views;
pub mod widgets;

pub use app::{TuiError, run};
pub use theme::ThemeName;
