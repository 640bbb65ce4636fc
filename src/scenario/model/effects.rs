//! What a worker does to the database: an insert or an update of a scenario table, with values
//! taken from the message it processes (see `[[workers]] effect`, `on_attempt`, `on_give_up`).

use serde::Serialize;
use serde_json::Value;

/// One write a worker makes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    /// The table written.
    pub table: String,
    /// Insert a row, or update the row an expression names.
    pub write: EffectWrite,
    /// The columns set, in file order.
    pub values: Vec<(String, Expr)>,
}

/// Whether an effect inserts or updates.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EffectWrite {
    /// A new row per effect.
    Insert,
    /// The row whose primary key the expression gives (always within the message's tenant).
    Update {
        /// The row's id, e.g. `$row.id`.
        row: Expr,
    },
}

/// A value in an effect: a literal, or something known when the worker runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Expr {
    /// Written as is.
    Literal(Value),
    /// Filled in from the message and the attempt.
    Var(Var),
}

/// What an effect can refer to with `$name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Var {
    /// `$now`: the engine time, RFC 3339.
    Now,
    /// `$event`: the message's event type.
    Event,
    /// `$topic`: the topic it came from.
    Topic,
    /// `$message`: the message id.
    Message,
    /// `$key`: the message's idempotency key.
    Key,
    /// `$attempt`: the delivery number, from 1.
    Attempt,
    /// `$outcome`: `delivered` or `failed` (in `on_attempt`).
    Outcome,
    /// `$error`: why the attempt failed, or null (in `on_attempt` and `on_give_up`).
    Error,
    /// `$latency_ms`: how long the attempt took, in ms.
    LatencyMs,
    /// `$tenant`: the tenant's subdomain.
    Tenant,
    /// `$row.<column>`: a column of the row the message is about.
    Row(String),
}

impl Var {
    /// The variable as written in a scenario, e.g. `$row.id`.
    pub fn source(&self) -> String {
        match self {
            Var::Row(column) => format!("$row.{column}"),
            other => format!("${}", other.name()),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Var::Now => "now",
            Var::Event => "event",
            Var::Topic => "topic",
            Var::Message => "message",
            Var::Key => "key",
            Var::Attempt => "attempt",
            Var::Outcome => "outcome",
            Var::Error => "error",
            Var::LatencyMs => "latency_ms",
            Var::Tenant => "tenant",
            Var::Row(_) => "row",
        }
    }

    /// Every plain variable (`$row.<column>` aside), for help texts.
    pub const PLAIN: [Var; 10] = [
        Var::Now,
        Var::Event,
        Var::Topic,
        Var::Message,
        Var::Key,
        Var::Attempt,
        Var::Outcome,
        Var::Error,
        Var::LatencyMs,
        Var::Tenant,
    ];

    /// Parses `$name` or `$row.column` (without checking the column).
    pub fn parse(text: &str) -> Option<Var> {
        let name = text.strip_prefix('$')?;
        if let Some(column) = name.strip_prefix("row.") {
            return Some(Var::Row(column.to_string()));
        }
        Var::PLAIN.into_iter().find(|v| v.name() == name)
    }
}

/// The three moments a worker pool may write rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PoolEffects {
    /// Once per idempotency key, when a message succeeds — in the same transaction as the
    /// consumer's inbox record and its follow-up events.
    pub on_success: Option<Effect>,
    /// On every attempt, successful or not (e.g. a webhook delivery log).
    pub on_attempt: Option<Effect>,
    /// Once per idempotency key, when the pool gives a message up (out of attempts).
    pub on_give_up: Option<Effect>,
}

impl PoolEffects {
    /// Whether the pool writes anything.
    pub fn any(&self) -> bool {
        self.on_success.is_some() || self.on_attempt.is_some() || self.on_give_up.is_some()
    }
}
