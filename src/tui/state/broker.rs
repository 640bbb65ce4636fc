//! State of the Broker queue view: the selected topic, the event stream (its filters, its
//! freeze and scroll) and the payment being followed, whose lines stay pinned.
//!
//! ```text
//!  engine events ─▶ push_events ─┬─▶ events (ring, newest EVENTS_KEPT) ─┐
//!                                │        frozen copy while paused ◀───┤ f / PgUp
//!                                └─▶ pinned (followed message's lines)  │
//!  panel() = (frozen or live) filtered by topic (t) and kind (e) ───────┘
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use crate::engine::{
    BrokerEvent, Command, Event, Level, MessageId, Snapshot, StageDetail, Trace, WorkerState,
};
use crate::scenario::{FaultAction, Scenario, StageKind};

use super::super::action::Action;
use super::super::engine_link::{Origin, Outgoing};

/// Events kept for the stream.
pub const EVENTS_KEPT: usize = 500;

/// Lines of the followed payment kept pinned: its request's messages rarely need more than a
/// dozen (published, leased, retried, acked per attempt), so this only bounds a pathological case.
pub const PINNED_KEPT: usize = 40;

/// Which topics the event panel lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TopicFilter {
    /// The topic selected with j/k (and its pool's workers): the panel follows the selection.
    #[default]
    Selected,
    /// Every topic.
    All,
}

impl TopicFilter {
    /// The other filter (`t` toggles).
    pub fn next(self) -> Self {
        match self {
            TopicFilter::Selected => TopicFilter::All,
            TopicFilter::All => TopicFilter::Selected,
        }
    }
}

/// Which kinds of event the panel lists. The kinds overlap on purpose: a lease that expired is
/// both a problem and a worker's story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KindFilter {
    /// Everything.
    #[default]
    All,
    /// What went wrong and what was done about it: refusals, failed attempts, dead letters,
    /// parks, expired leases, redrives, crashed workers, faults, warnings.
    Problems,
    /// A message's normal life: published, leased, acked (duplicates skipped included).
    Lifecycle,
    /// The workers and the controls: crashes, expired leases, faults, pools resized and other
    /// controls applied.
    Workers,
}

impl KindFilter {
    /// The next filter in the cycle (`e`): all → problems → lifecycle → workers → all.
    pub fn next(self) -> Self {
        match self {
            KindFilter::All => KindFilter::Problems,
            KindFilter::Problems => KindFilter::Lifecycle,
            KindFilter::Lifecycle => KindFilter::Workers,
            KindFilter::Workers => KindFilter::All,
        }
    }

    /// Its name in the panel title.
    pub fn label(self) -> &'static str {
        match self {
            KindFilter::All => "all kinds",
            KindFilter::Problems => "problems",
            KindFilter::Lifecycle => "lifecycle",
            KindFilter::Workers => "workers",
        }
    }

    /// What it lists, for the notice when it is chosen.
    pub fn explain(self) -> &'static str {
        match self {
            KindFilter::All => "every event",
            KindFilter::Problems => {
                "problems only: refusals, failed attempts, dead letters, parks, lost leases, \
                 redrives, crashes, faults"
            }
            KindFilter::Lifecycle => "lifecycle only: published, leased, acked",
            KindFilter::Workers => {
                "workers and controls: crashes, lost leases, faults, pools resized"
            }
        }
    }

    /// Whether the filter lets `event` through.
    pub fn admits(self, event: &Event) -> bool {
        match self {
            KindFilter::All => true,
            KindFilter::Problems => is_problem(event),
            KindFilter::Lifecycle => match event {
                Event::Broker { event, .. } => matches!(
                    event,
                    BrokerEvent::Published { .. } | BrokerEvent::Acked { .. }
                ),
                Event::Worker { change, .. } => matches!(change.state, WorkerState::Busy { .. }),
                _ => false,
            },
            KindFilter::Workers => match event {
                Event::Worker { .. } | Event::Fault { .. } => true,
                Event::Broker { event, .. } => matches!(event, BrokerEvent::LeaseExpired { .. }),
                // The engine's own narration is of controls applied (a worker added, a redrive).
                Event::Log { level, .. } => matches!(level, Level::Info),
            },
        }
    }
}

/// Whether `event` is something going wrong (or being repaired).
fn is_problem(event: &Event) -> bool {
    match event {
        Event::Broker { event, .. } => !matches!(
            event,
            BrokerEvent::Published { .. } | BrokerEvent::Acked { .. }
        ),
        Event::Worker { change, .. } => matches!(
            change.state,
            WorkerState::Crashed | WorkerState::BackingOff { .. }
        ),
        Event::Fault { .. } => true,
        Event::Log { level, .. } => matches!(level, Level::Warn | Level::Error),
    }
}

/// The stream as the panel shows it: the events that pass the filters (oldest first), how many
/// the filters hide, and, while frozen, how many of the events that arrived since would show.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel<'a> {
    /// Events that pass the filters, oldest first.
    pub shown: Vec<&'a Event>,
    /// Events kept but hidden by the filters.
    pub hidden: usize,
    /// While frozen: events arrived since that pass the filters (of those still kept).
    pub new: Option<usize>,
    /// While frozen, more events arrived than the ring keeps: `new` is a lower bound.
    pub more_new: bool,
}

/// The stream as it was when the panel was frozen.
#[derive(Debug, Clone, Default)]
struct Frozen {
    events: Vec<Event>,
    /// Events received before the freeze (the value of `received` then).
    at: u64,
}

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
    /// The request, as `METHOD path as persona`.
    pub request: String,
    /// HTTP status of the request.
    pub status: u16,
    /// Messages it published: (topic, id, event). A redrive of one adds its new id.
    pub messages: Vec<(String, MessageId, String)>,
    /// The pools that read those messages' topics: (pool, topic), to recognise a lease.
    pub readers: Vec<(String, String)>,
}

/// The Broker view's state.
#[derive(Debug, Clone, Default)]
pub struct BrokerState {
    /// Selected topic (scenario order).
    pub selected: usize,
    /// Per topic (scenario order): whether the transient forecast is the exact model of what
    /// runs (see `engine::forecast_model_is_exact`). It depends on the scenario alone, so it is
    /// worked out once, not on every frame.
    pub exact_forecast: Vec<bool>,
    /// The event stream, oldest first.
    pub events: VecDeque<Event>,
    /// A payment request on its way.
    pub payment_pending: bool,
    /// The last payment fired and the messages to follow.
    pub followed: Option<Followed>,
    /// Why the last payment could not be sent.
    pub error: Option<String>,
    /// Which topics the event panel lists (`t`).
    pub topic_filter: TopicFilter,
    /// Which kinds of event it lists (`e`).
    pub kind_filter: KindFilter,
    /// Lines scrolled up from the newest shown (only while frozen).
    pub scroll: usize,
    /// The followed payment's lines, oldest first: kept apart from the ring so that newer
    /// traffic never pushes them out, and shown above the stream whatever the filters.
    pub pinned: Vec<Event>,
    /// The stream as it was when frozen (`f`, PgUp); `None` while it follows new events.
    frozen: Option<Frozen>,
    /// Events received so far (those worth listing), to count the new ones while frozen.
    received: u64,
    /// Lines a PgUp/PgDn scrolls (0: [`EVENTS_PAGE`]).
    page: usize,
    /// The flow graph toggled (`g`): hidden on wide screens, shown instead of the topic panel
    /// on narrow ones.
    pub flow_toggled: bool,
}

impl BrokerState {
    /// The state at start for `scenario`.
    pub fn new(scenario: &Scenario) -> Self {
        Self {
            exact_forecast: scenario
                .topics
                .iter()
                .map(|t| crate::engine::forecast_model_is_exact(scenario, &t.name))
                .collect(),
            ..Self::default()
        }
    }

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
            Action::CycleTopicFilter => {
                self.topic_filter = self.topic_filter.next();
                self.scroll = 0;
            }
            Action::CycleKindFilter => {
                self.kind_filter = self.kind_filter.next();
                self.scroll = 0;
            }
            Action::ToggleFollow => self.toggle_freeze(),
            Action::PageUp => self.scroll_up(self.page(), scenario),
            Action::PageDown => self.scroll = self.scroll.saturating_sub(self.page()),
            // Esc with no help open: unpin the followed payment.
            Action::CloseOverlay => self.unpin(),
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

    /// Appends events, keeping the newest [`EVENTS_KEPT`]; a frozen panel keeps its copy.
    /// Routine worker transitions (idle ⇄ busy, several per message) are left out — the worker
    /// grid shows them — except the lease of a followed message, which is pinned.
    pub fn push_events(&mut self, events: impl IntoIterator<Item = Event>) {
        for event in events {
            self.follow_redrive(&event);
            if self.is_followed(&event) || self.is_followed_lease(&event) {
                self.pin(event.clone());
            }
            if !worth_listing(&event) {
                continue;
            }
            if self.events.len() == EVENTS_KEPT {
                self.events.pop_front();
            }
            self.events.push_back(event);
            self.received += 1;
        }
    }

    /// Takes the trace of a fired payment and remembers its messages to follow; their events
    /// already received (the reply can come after them) are pinned at once.
    pub fn receive_payment(&mut self, result: Result<Vec<Trace>, String>, scenario: &Scenario) {
        self.payment_pending = false;
        match result {
            Ok(traces) => {
                if let Some(trace) = traces.last() {
                    let messages = published_messages(trace);
                    let readers = scenario
                        .workers
                        .iter()
                        .filter(|w| messages.iter().any(|(topic, ..)| *topic == w.topic))
                        .map(|w| (w.name.clone(), w.topic.clone()))
                        .collect();
                    let request = &trace.request;
                    self.followed = Some(Followed {
                        request: match &request.persona {
                            Some(persona) => {
                                format!("{} {} as {persona}", request.method, request.path)
                            }
                            None => format!("{} {}", request.method, request.path),
                        },
                        status: trace.status,
                        messages,
                        readers,
                    });
                    self.pinned.clear();
                    let earlier: Vec<Event> = self
                        .events
                        .iter()
                        .filter(|e| self.is_followed(e))
                        .cloned()
                        .collect();
                    for event in earlier {
                        self.pin(event);
                    }
                }
            }
            Err(error) => self.error = Some(error),
        }
    }

    fn pin(&mut self, event: Event) {
        if self.pinned.len() == PINNED_KEPT {
            self.pinned.remove(0);
        }
        self.pinned.push(event);
    }

    /// Stops following the payment: its lines leave the top of the panel (Esc).
    pub fn unpin(&mut self) {
        self.followed = None;
        self.pinned.clear();
    }

    /// A redriven followed message lives on under a new id: follow that too.
    fn follow_redrive(&mut self, event: &Event) {
        if let Event::Broker {
            event: BrokerEvent::Redriven { to, new_id, .. },
            ..
        } = event
            && self.is_followed(event)
            && let Some(followed) = self.followed.as_mut()
            && !followed
                .messages
                .iter()
                .any(|(t, i, _)| t == to && i == new_id)
        {
            let name = followed
                .messages
                .iter()
                .find(|(t, ..)| t == to)
                .map(|(_, _, name)| name.clone())
                .unwrap_or_default();
            followed.messages.push((to.clone(), *new_id, name));
        }
    }

    /// Whether `event` is a worker taking a followed message (its lease).
    fn is_followed_lease(&self, event: &Event) -> bool {
        let (Some(followed), Event::Worker { change, .. }) = (&self.followed, event) else {
            return false;
        };
        let WorkerState::Busy { message, .. } = change.state else {
            return false;
        };
        followed.readers.iter().any(|(pool, topic)| {
            *pool == change.pool
                && followed
                    .messages
                    .iter()
                    .any(|(t, id, _)| t == topic && *id == message)
        })
    }

    /// Sets the lines a PgUp/PgDn scrolls: half the terminal's rows, a rough page of the panel
    /// whatever the layout (the view clamps the scroll to what it holds).
    pub fn set_page(&mut self, rows: u16) {
        self.page = usize::from(rows / 2).saturating_sub(4).max(EVENTS_PAGE);
    }

    fn page(&self) -> usize {
        self.page.max(EVENTS_PAGE)
    }

    /// Whether the panel is frozen.
    pub fn is_frozen(&self) -> bool {
        self.frozen.is_some()
    }

    /// Freezes the panel on what it shows now, or lets it follow new events again.
    pub fn toggle_freeze(&mut self) {
        self.scroll = 0;
        self.frozen = match self.frozen {
            Some(_) => None,
            None => Some(Frozen {
                events: self.events.iter().cloned().collect(),
                at: self.received,
            }),
        };
    }

    /// Scrolls the panel `lines` back in time, freezing it first: a stream that keeps moving
    /// cannot be read backwards.
    pub fn scroll_up(&mut self, lines: usize, scenario: &Scenario) {
        if self.frozen.is_none() {
            self.toggle_freeze();
        }
        // Never further back than the oldest line shown, so PgDn answers at once.
        let shown = self.panel(scenario).shown.len();
        self.scroll = (self.scroll + lines).min(shown);
    }

    /// Whether the panel's filters let `event` through.
    pub fn passes(&self, event: &Event, scenario: &Scenario) -> bool {
        self.kind_filter.admits(event) && self.in_topic(event, scenario)
    }

    fn in_topic(&self, event: &Event, scenario: &Scenario) -> bool {
        let Some(selected) = scenario.topics.get(self.selected) else {
            return true;
        };
        if self.topic_filter == TopicFilter::All {
            return true;
        }
        match event {
            Event::Broker { event, .. } => event_topic(event) == selected.name,
            Event::Worker { change, .. } => scenario
                .workers
                .iter()
                .any(|w| w.topic == selected.name && w.name == change.pool),
            // Faults and the engine's narration concern the whole system.
            Event::Log { .. } | Event::Fault { .. } => true,
        }
    }

    /// The stream as the panel shows it: frozen or live, through the filters.
    pub fn panel<'a>(&'a self, scenario: &Scenario) -> Panel<'a> {
        let source: Vec<&Event> = match &self.frozen {
            Some(frozen) => frozen.events.iter().collect(),
            None => self.events.iter().collect(),
        };
        let total = source.len();
        let shown: Vec<&Event> = source
            .into_iter()
            .filter(|e| self.passes(e, scenario))
            .collect();
        let arrived = self
            .frozen
            .as_ref()
            .map(|frozen| usize::try_from(self.received - frozen.at).unwrap_or(usize::MAX));
        let new = arrived.map(|arrived| {
            self.events
                .iter()
                .rev()
                .take(arrived)
                .filter(|e| self.passes(e, scenario))
                .count()
        });
        Panel {
            hidden: total - shown.len(),
            shown,
            new,
            more_new: arrived.is_some_and(|arrived| arrived > self.events.len()),
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

/// The least a PgUp/PgDn scrolls the event panel (it holds 2 lines at 80×24, 60 at 250×70).
pub const EVENTS_PAGE: usize = 5;

/// The topic a broker event is about.
pub fn event_topic(event: &BrokerEvent) -> &str {
    match event {
        BrokerEvent::Published { topic, .. }
        | BrokerEvent::Rejected { topic, .. }
        | BrokerEvent::Acked { topic, .. }
        | BrokerEvent::Retried { topic, .. }
        | BrokerEvent::DeadLettered { topic, .. }
        | BrokerEvent::Parked { topic, .. }
        | BrokerEvent::Redriven { topic, .. }
        | BrokerEvent::LeaseExpired { topic, .. } => topic,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::detail::{PublishDetail, PublishedEvent};
    use crate::engine::{Outcome, StageRecord, TracedRequest, WorkerChange};
    use crate::scenario::{DEFAULT_SCENARIO, PublishMode, load_str};

    fn scenario() -> Scenario {
        load_str("saas.toml", DEFAULT_SCENARIO).expect("the default scenario is valid")
    }

    fn broker(at_ms: u64, event: BrokerEvent) -> Event {
        Event::Broker { at_ms, event }
    }

    fn published(topic: &str, id: MessageId) -> Event {
        broker(
            id,
            BrokerEvent::Published {
                topic: topic.into(),
                id,
                event: "payment.requested".into(),
            },
        )
    }

    fn acked(topic: &str, id: MessageId) -> Event {
        broker(
            id,
            BrokerEvent::Acked {
                topic: topic.into(),
                group: "g".into(),
                id,
                attempt: 1,
                duplicate: false,
            },
        )
    }

    fn retried(topic: &str, id: MessageId) -> Event {
        broker(
            id,
            BrokerEvent::Retried {
                topic: topic.into(),
                group: "g".into(),
                id,
                attempt: 1,
                delay_ms: 100,
                error: "timeout".into(),
            },
        )
    }

    fn busy(pool: &str, message: MessageId) -> Event {
        Event::Worker {
            at_ms: message,
            change: WorkerChange {
                pool: pool.into(),
                worker: 0,
                state: WorkerState::Busy {
                    message,
                    attempt: 1,
                },
            },
        }
    }

    /// The reply to a payment that published `payments #id`.
    fn payment_trace(id: MessageId) -> Trace {
        Trace {
            request: TracedRequest {
                method: "POST".into(),
                path: "/api/invoices/1/pay".into(),
                host: "acme.archsim.test".into(),
                persona: Some("alice".into()),
                request_id: None,
            },
            status: 201,
            stages: vec![StageRecord {
                stage: "publish".into(),
                kind: StageKind::BrokerPublish,
                outcome: Outcome::Pass,
                detail: StageDetail::BrokerPublish(PublishDetail {
                    mode: PublishMode::Outbox,
                    published: vec![PublishedEvent {
                        id,
                        outbox_id: None,
                        topic: "payments".into(),
                        event: "payment.requested".into(),
                        payload: serde_json::Value::Null,
                    }],
                    deferred: Vec::new(),
                    refused: None,
                }),
                error: None,
                modelled_ms: 0.0,
                measured_us: 0,
            }],
            response: serde_json::Value::Null,
            total_modelled_ms: 0.0,
        }
    }

    fn texts(panel: &Panel) -> Vec<u64> {
        panel.shown.iter().map(|e| e.at_ms()).collect()
    }

    #[test]
    fn the_topic_filter_toggles_between_the_selected_topic_and_all() {
        let scenario = scenario();
        let mut state = BrokerState::default();
        state.push_events([published("payments", 1), published("webhooks", 2)]);
        assert_eq!(texts(&state.panel(&scenario)), vec![1]);
        assert_eq!(state.panel(&scenario).hidden, 1);
        state.update(Action::CycleTopicFilter, &scenario, None);
        assert_eq!(state.topic_filter, TopicFilter::All);
        assert_eq!(texts(&state.panel(&scenario)), vec![1, 2]);
        state.update(Action::CycleTopicFilter, &scenario, None);
        assert_eq!(state.topic_filter, TopicFilter::Selected);
        // Selected follows j/k.
        state.update(Action::Down, &scenario, None);
        assert_eq!(texts(&state.panel(&scenario)), vec![2]);
    }

    #[test]
    fn the_kind_filter_cycles_all_problems_lifecycle_workers() {
        let scenario = scenario();
        let mut state = BrokerState::default();
        let crash = Event::Worker {
            at_ms: 4,
            change: WorkerChange {
                pool: "payment-processor".into(),
                worker: 1,
                state: WorkerState::Crashed,
            },
        };
        state.push_events([
            published("payments", 1),
            retried("payments", 2),
            acked("payments", 3),
            crash,
        ]);
        let mut seen = Vec::new();
        for _ in 0..4 {
            let panel = state.panel(&scenario);
            seen.push((state.kind_filter, texts(&panel), panel.hidden));
            state.update(Action::CycleKindFilter, &scenario, None);
        }
        assert_eq!(state.kind_filter, KindFilter::All, "the cycle comes back");
        assert_eq!(
            seen,
            vec![
                (KindFilter::All, vec![1, 2, 3, 4], 0),
                (KindFilter::Problems, vec![2, 4], 2),
                (KindFilter::Lifecycle, vec![1, 3], 2),
                (KindFilter::Workers, vec![4], 3),
            ]
        );
    }

    #[test]
    fn a_frozen_panel_holds_its_view_while_events_keep_arriving() {
        let scenario = scenario();
        let mut state = BrokerState::default();
        state.push_events((1..=3).map(|id| published("payments", id)));
        state.update(Action::ToggleFollow, &scenario, None);
        assert!(state.is_frozen());
        // More than the ring holds arrive: the frozen view is unchanged, the ring stays bounded.
        state.push_events((4..=(EVENTS_KEPT as u64 + 10)).map(|id| published("payments", id)));
        let panel = state.panel(&scenario);
        assert_eq!(texts(&panel), vec![1, 2, 3]);
        assert_eq!(panel.new, Some(EVENTS_KEPT), "new events still kept");
        assert!(panel.more_new, "and some were dropped: at least that many");
        assert_eq!(state.events.len(), EVENTS_KEPT);
        // Only those that pass the filters count as new.
        state.push_events([published("webhooks", 9_000)]);
        assert_eq!(state.panel(&scenario).new, Some(EVENTS_KEPT - 1));
        // Resuming shows the newest.
        state.update(Action::ToggleFollow, &scenario, None);
        let panel = state.panel(&scenario);
        assert_eq!(panel.new, None);
        assert_eq!(
            panel.shown.last().map(|e| e.at_ms()),
            Some(EVENTS_KEPT as u64 + 10)
        );
    }

    #[test]
    fn page_up_freezes_and_scrolls_page_down_comes_back() {
        let scenario = scenario();
        let mut state = BrokerState::default();
        state.push_events((1..=20).map(|id| published("payments", id)));
        state.update(Action::PageUp, &scenario, None);
        assert!(state.is_frozen(), "scrolling back freezes the stream");
        assert_eq!(state.scroll, EVENTS_PAGE);
        state.update(Action::PageUp, &scenario, None);
        state.update(Action::PageUp, &scenario, None);
        state.update(Action::PageUp, &scenario, None);
        state.update(Action::PageUp, &scenario, None);
        assert_eq!(state.scroll, 20, "never past the oldest kept");
        state.update(Action::PageDown, &scenario, None);
        assert_eq!(state.scroll, 20 - EVENTS_PAGE);
        state.update(Action::ToggleFollow, &scenario, None);
        assert_eq!(state.scroll, 0);
        assert!(!state.is_frozen());
    }

    #[test]
    fn the_followed_payments_lines_are_pinned_through_1000_newer_events() {
        let scenario = scenario();
        let mut state = BrokerState::default();
        // The message can be published before the reply comes back: it is pinned all the same.
        state.push_events([published("payments", 7)]);
        state.receive_payment(Ok(vec![payment_trace(7)]), &scenario);
        let followed = state.followed.clone().expect("followed");
        assert_eq!(followed.request, "POST /api/invoices/1/pay as alice");
        assert_eq!(
            followed.readers,
            vec![("payment-processor".to_string(), "payments".to_string())]
        );
        // Its lease (a routine worker transition, not listed in the stream) is pinned too.
        state.push_events([busy("payment-processor", 7), busy("payment-processor", 8)]);
        state.push_events([retried("payments", 7), acked("payments", 7)]);
        state.push_events((100..1100).map(|id| acked("payments", id)));
        assert!(!state.events.iter().any(|e| state.is_followed(e)));
        assert_eq!(
            state.pinned.iter().map(Event::at_ms).collect::<Vec<_>>(),
            vec![7, 7, 7, 7],
            "published, leased, retried, acked"
        );
        // Filters do not touch the pinned lines.
        state.update(Action::CycleKindFilter, &scenario, None);
        state.update(Action::CycleTopicFilter, &scenario, None);
        assert_eq!(state.pinned.len(), 4);
        // Esc unpins.
        state.update(Action::CloseOverlay, &scenario, None);
        assert!(state.followed.is_none());
        assert!(state.pinned.is_empty());
        state.push_events([acked("payments", 7)]);
        assert!(state.pinned.is_empty(), "nothing is followed any more");
    }

    #[test]
    fn pinned_lines_are_bounded_and_a_redrive_is_followed() {
        let scenario = scenario();
        let mut state = BrokerState::default();
        state.receive_payment(Ok(vec![payment_trace(7)]), &scenario);
        state.push_events((0..PINNED_KEPT + 5).map(|_| retried("payments", 7)));
        assert_eq!(state.pinned.len(), PINNED_KEPT);
        let followed = state.followed.as_mut().expect("followed");
        followed
            .messages
            .push(("payments.dlq".into(), 3, String::new()));
        state.push_events([broker(
            9,
            BrokerEvent::Redriven {
                topic: "payments.dlq".into(),
                id: 3,
                to: "payments".into(),
                new_id: 42,
            },
        )]);
        state.push_events([acked("payments", 42)]);
        assert!(state.pinned.last().is_some_and(|e| state.is_followed(e)));
        assert_eq!(state.pinned.last().map(Event::at_ms), Some(42));
    }
}
