//! Why the engine could not do what was asked.

use super::store::StoreError;

/// Why the engine could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The database could not be created.
    #[error("cannot create the database: {0}")]
    Store(#[from] StoreError),
    /// The engine's thread or runtime could not be started.
    #[error("cannot start the engine: {0}")]
    Start(String),
    /// No persona of that name.
    #[error("no persona `{name}`; the scenario has: {known}")]
    UnknownPersona {
        /// The name asked for.
        name: String,
        /// The personas there are.
        known: String,
    },
    /// No named request of that id.
    #[error("no request `{0}` in the scenario")]
    UnknownRequest(String),
    /// The request could not be built (bad method, header or body).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The command is understood but cannot be done now (no such pool, topic full, …); the
    /// text says why in words a learner reads.
    #[error("{0}")]
    Refused(String),
    /// The engine has stopped; no command runs any more.
    #[error("the engine has stopped")]
    Stopped,
    /// The engine answered with a reply of another kind than the command asks for (a bug).
    #[error("the engine answered `{0}` with an unexpected reply")]
    UnexpectedReply(&'static str),
}
