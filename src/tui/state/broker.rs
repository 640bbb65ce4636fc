//! State of the Broker queue view: the selected topic, the event stream and the payment being
//! followed.

use std::collections::VecDeque;
use std::time::Duration;

use crate::engine::{
    BrokerEvent, Command, Event, MessageId, Snapshot, StageDetail, Trace, WorkerState,
};
use crate::scenario::{FaultAction, Scenario, StageKind};

use super::super::action::Action;
use super::super::engine_link::{Origin, Outgoing};

/// Events kept for the stream.
pub const EVENTS_KEPT: usize = 500;

/// How long a killed worker stays dead and a slowed database stays slow.
pub const FAULT_FOR: Duration = Duration::from_secs(30);

/// A fault command from a broker key, lasting `duration` if given.
fn fault(action: FaultAction, duration: Option<Duration>) -> Outgoing {
    Outgoing::control(Command::Fault {
        action,
        duration_ms: duration.map(|d| d.as_millis() as u64),
    })
}

/// Extra milliseconds per query of the `d` fault.
pub const SLOW_DB_MS: f64 = 50.0;

/// A payment fired from this view, and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Followed {
    /// HTTP status of the request.
    pub status: u16,
    /// Messages it published: (topic, id, event).
    pub messages: Vec<(String, MessageId, String)>,
}

/// The Broker view's state.
#[derive(Debug, Clone, Default)]
pub struct BrokerState {
    /// Selected topic (scenario order).
    pub selected: usize,
    /// The event stream, oldest first.
    pub events: VecDeque<Event>,
    /// A payment request on its way.
    pub payment_pending: bool,
    /// The last payment fired and the messages to follow.
    pub followed: Option<Followed>,
    /// Why the last payment could not be sent.
    pub error: Option<String>,
    /// The flow graph toggled (`g`): hidden on wide screens, shown instead of the topic panel
    /// on narrow ones.
    pub flow_toggled: bool,
}

impl BrokerState {
    /// Applies an action; returns the engine commands it needs. Rate keys are handled by the
    /// app state (they share the pause). `snapshot` (the latest, if any) says which dead-letter
    /// topics hold messages.
    pub fn update(
        &mut self,
        action: Action,
        scenario: &Scenario,
        snapshot: Option<&Snapshot>,
    ) -> Vec<Outgoing> {
        let topics = scenario.topics.len();
        let topic = scenario.topics.get(self.selected).map(|t| t.name.clone());
        let pool = topic.as_ref().and_then(|topic| {
            scenario
                .workers
                .iter()
                .find(|w| &w.topic == topic)
                .map(|w| w.name.clone())
        });
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(topics.saturating_sub(1)),
            Action::First => self.selected = 0,
            Action::Last => self.selected = topics.saturating_sub(1),
            Action::ToggleFlow => self.flow_toggled = !self.flow_toggled,
            Action::AddWorker => {
                return pool
                    .map(|pool| Outgoing::control(Command::AddWorker { pool }))
                    .into_iter()
                    .collect();
            }
            Action::RemoveWorker => {
                return pool
                    .map(|pool| Outgoing::control(Command::RetireWorker { pool }))
                    .into_iter()
                    .collect();
            }
            Action::KillWorker => {
                return pool
                    .map(|pool| fault(FaultAction::KillWorkers { pool, count: 1 }, Some(FAULT_FOR)))
                    .into_iter()
                    .collect();
            }
            Action::SlowDatabase => {
                return vec![fault(
                    FaultAction::SlowDatabase {
                        extra_ms: SLOW_DB_MS,
                    },
                    Some(FAULT_FOR),
                )];
            }
            Action::FlushCache => {
                return vec![fault(FaultAction::FlushCache, None)];
            }
            Action::PoisonMessage => {
                // Into the selected topic, and only if a pool reads it: a poison message in a
                // dead-letter topic would just sit there (the feedback says so).
                let consumed = |name: &str| scenario.workers.iter().any(|w| w.topic == name);
                return topic
                    .filter(|t| consumed(t))
                    .map(|topic| fault(FaultAction::PoisonMessage { topic }, None))
                    .into_iter()
                    .collect();
            }
            Action::Redrive => {
                return self
                    .redrive_target(snapshot)
                    .map(|topic| Outgoing::control(Command::Redrive { topic, limit: None }))
                    .into_iter()
                    .collect();
            }
            Action::Enter => {
                // The scenario says which request leads to the selected topic.
                let feeding = topic.as_deref().and_then(|t| scenario.request_feeding(t));
                if let Some(request) = feeding {
                    self.payment_pending = true;
                    self.error = None;
                    return vec![Outgoing {
                        origin: Origin::Broker,
                        command: Command::SendNamed {
                            id: request.id.clone(),
                        },
                    }];
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// The dead-letter topic a redrive key sends back: the selected topic if it is one and holds
    /// dead letters, else the first (scenario order) that holds any.
    pub fn redrive_target(&self, snapshot: Option<&Snapshot>) -> Option<String> {
        let topics = &snapshot?.topics;
        let holds = |index: usize| {
            topics
                .get(index)
                .and_then(|view| view.topic.dead_letters.as_ref())
                .is_some_and(|dead| dead.depth > 0)
        };
        let index = if holds(self.selected) {
            self.selected
        } else {
            (0..topics.len()).find(|&i| holds(i))?
        };
        topics.get(index).map(|view| view.topic.name.clone())
    }

    /// Why a pool key does nothing on the selected topic, if it does not.
    pub fn pool_missing(&self, action: Action, scenario: &Scenario) -> Option<String> {
        let topic = scenario.topics.get(self.selected)?;
        let needs_pool = matches!(
            action,
            Action::AddWorker | Action::RemoveWorker | Action::KillWorker
        );
        let has_pool = scenario.workers.iter().any(|w| w.topic == topic.name);
        (needs_pool && !has_pool).then(|| {
            format!(
                "no worker pool consumes {}: select a topic with workers (j/k)",
                topic.name
            )
        })
    }

    /// Appends events, keeping the newest [`EVENTS_KEPT`]. Routine worker transitions (idle ⇄
    /// busy, several per message) are left out: the worker grid shows them.
    pub fn push_events(&mut self, events: impl IntoIterator<Item = Event>) {
        for event in events.into_iter().filter(worth_listing) {
            if self.events.len() == EVENTS_KEPT {
                self.events.pop_front();
            }
            self.events.push_back(event);
        }
    }

    /// Takes the trace of a fired payment and remembers its messages to follow.
    pub fn receive_payment(&mut self, result: Result<Vec<Trace>, String>) {
        self.payment_pending = false;
        match result {
            Ok(traces) => {
                if let Some(trace) = traces.last() {
                    self.followed = Some(Followed {
                        status: trace.status,
                        messages: published_messages(trace),
                    });
                }
            }
            Err(error) => self.error = Some(error),
        }
    }

    /// Whether `event` concerns a followed message.
    pub fn is_followed(&self, event: &Event) -> bool {
        let Some(followed) = &self.followed else {
            return false;
        };
        let Event::Broker { event, .. } = event else {
            return false;
        };
        let (topic, id) = match event {
            BrokerEvent::Published { topic, id, .. }
            | BrokerEvent::Acked { topic, id, .. }
            | BrokerEvent::Retried { topic, id, .. }
            | BrokerEvent::DeadLettered { topic, id, .. }
            | BrokerEvent::Parked { topic, id, .. }
            | BrokerEvent::LeaseExpired { topic, id, .. } => (topic, id),
            BrokerEvent::Redriven {
                topic,
                id,
                to,
                new_id,
                ..
            } => {
                return followed
                    .messages
                    .iter()
                    .any(|(t, i, _)| (t == topic && i == id) || (t == to && i == new_id));
            }
            BrokerEvent::Rejected { .. } => return false,
        };
        followed
            .messages
            .iter()
            .any(|(t, i, _)| t == topic && i == id)
    }
}

/// Whether the event stream lists `event`.
pub fn worth_listing(event: &Event) -> bool {
    match event {
        Event::Worker { change, .. } => matches!(change.state, WorkerState::Crashed),
        _ => true,
    }
}

/// The messages a request's publish stage put on the broker: (topic, id, event).
pub fn published_messages(trace: &Trace) -> Vec<(String, MessageId, String)> {
    match trace.stage(StageKind::BrokerPublish).map(|s| &s.detail) {
        Some(StageDetail::BrokerPublish(publish)) => publish
            .published
            .iter()
            .map(|m| (m.topic.clone(), m.id, m.event.clone()))
            .collect(),
        _ => Vec::new(),
    }
}
