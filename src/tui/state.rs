//! The whole UI state and its two entry points: [`AppState::update`] for user actions and
//! [`AppState::apply`] for engine updates.
//!
//! ```text
//!   key ─▶ keymap ─▶ Action ─▶ update() ─▶ Vec<Outgoing> ─▶ engine thread
//!   engine thread ─▶ EngineUpdate ─▶ apply()
//!   draw(&AppState) reads only
//! ```
//!
//! Each view keeps its own state in a submodule; this one holds what the views share (the
//! scenario, the latest snapshot, the pause) and routes actions to the visible view.

pub mod broker;
pub mod erd;
pub mod lifecycle;
pub mod logs;
pub mod reload;
pub mod tour;

use std::sync::Arc;

use self::broker::{BrokerState, TopicFilter};
use self::erd::{ErdState, RowsView};
use self::lifecycle::LifecycleState;
use self::logs::LogsState;
use super::action::{Action, Tab};
use super::engine_link::{EngineUpdate, Origin, Outgoing};
use super::keymap::{self, Key, KeyContext};
use super::theme::Theme;
use crate::engine::{Clock, Command, Snapshot, probe};
use crate::scenario::{Scenario, TourAction};
use crate::topology::Topology;

/// Lowest and highest traffic-rate multiplier the `+`/`-` keys reach.
pub const RATE_RANGE: (f64, f64) = (0.1, 20.0);

/// Slowest and fastest engine clock the `<`/`>` keys reach (engine seconds per wall second).
pub const TIME_SCALE_RANGE: (f64, f64) = (0.125, 64.0);

/// A time scale as people write it: `2`, `0.5`, `1/8`.
pub fn format_scale(scale: f64) -> String {
    if scale >= 1.0 || scale <= 0.0 {
        format!("{scale}")
    } else {
        format!("1/{}", (1.0 / scale).round())
    }
}

/// Keys the presenter's key-cast keeps.
const KEYCAST_LEN: usize = 6;

/// Everything the screen shows.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The scenario running.
    pub scenario: Arc<Scenario>,
    /// Its stage graph.
    pub topology: Arc<Topology>,
    /// Colours.
    pub theme: Theme,
    /// The engine's clock (live or virtual).
    pub clock: Clock,
    /// The visible view.
    pub tab: Tab,
    /// The key overlay is open.
    pub help: bool,
    /// The view's main panel has the whole screen (`z`): the stage graph and detail, the
    /// selected topic, the table.
    pub zoom: bool,
    /// Presenter mode (`P`, `--present`): zoomed, and the last keys pressed shown in the status
    /// bar so a class can follow what the presenter does.
    pub presenter: bool,
    /// The last keys pressed (presenter mode), oldest first.
    pub keycast: std::collections::VecDeque<String>,
    /// The user asked to quit.
    pub quit: bool,
    /// Generated traffic is paused (rate ×0).
    pub paused: bool,
    /// The traffic-rate multiplier chosen with `+`/`-` (restored on resume).
    pub rate: f64,
    /// Engine seconds per wall second (live runs; `<`/`>`).
    pub time_scale: f64,
    /// The latest engine snapshot.
    pub snapshot: Option<Arc<Snapshot>>,
    /// A one-line message for the status bar (feedback to the last key).
    pub notice: Option<String>,
    /// The engine stopped (with the reason).
    pub engine_stopped: Option<String>,
    /// Terminal size (columns, rows), for paging.
    pub size: (u16, u16),
    /// Request lifecycle view.
    pub lifecycle: LifecycleState,
    /// Tenant schema view.
    pub erd: ErdState,
    /// Broker queue view.
    pub broker: BrokerState,
    /// Logs view.
    pub logs: LogsState,
    /// The guided tour picked or playing.
    pub tour: tour::TourState,
    /// The last save of the scenario file cannot be used (the old scenario runs on).
    pub reload_problem: Option<reload::ReloadProblem>,
}

impl AppState {
    /// The state at start, before any engine update.
    pub fn new(scenario: Arc<Scenario>, theme: Theme, clock: Clock) -> Self {
        Self {
            topology: Arc::new(Topology::new(&scenario)),
            lifecycle: LifecycleState::new(&scenario),
            erd: ErdState::new(scenario.clone()),
            broker: BrokerState::new(&scenario),
            logs: LogsState::default(),
            tour: tour::TourState::default(),
            reload_problem: None,
            scenario,
            theme,
            clock,
            tab: Tab::Lifecycle,
            help: false,
            zoom: false,
            presenter: false,
            keycast: std::collections::VecDeque::new(),
            quit: false,
            paused: false,
            rate: 1.0,
            time_scale: 1.0,
            snapshot: None,
            notice: None,
            engine_stopped: None,
            size: (80, 24),
        }
    }

    /// What keys go to right now.
    pub fn key_context(&self) -> KeyContext {
        KeyContext {
            tab: self.tab,
            help_open: self.help,
            filtering: match self.tab {
                Tab::Erd => self.erd.filtering,
                Tab::Logs => self.logs.searching,
                _ => false,
            },
            picking_tour: self.tour.picking,
        }
    }

    /// Reads a key: looks it up in the keymap and applies its action.
    pub fn handle_key(&mut self, key: Key) -> Vec<Outgoing> {
        if self.presenter {
            if self.keycast.len() == KEYCAST_LEN {
                self.keycast.pop_front();
            }
            self.keycast.push_back(key.label());
        }
        match keymap::action_for(self.key_context(), key) {
            Some(action) => self.update(action),
            None => Vec::new(),
        }
    }

    /// Applies a user action; returns the commands for the engine.
    pub fn update(&mut self, action: Action) -> Vec<Outgoing> {
        self.notice = None;
        match action {
            Action::Quit => {
                self.quit = true;
                Vec::new()
            }
            Action::ToggleHelp => {
                self.help = !self.help;
                Vec::new()
            }
            Action::ToggleTours => self.toggle_tours(),
            Action::Up | Action::Down | Action::Enter | Action::CloseOverlay
                if self.tour.picking =>
            {
                self.pick_tour(action)
            }
            Action::NextStep | Action::PrevStep => {
                let delta = if action == Action::NextStep { 1 } else { -1 };
                if self.tour.playing.is_none() {
                    self.notice = Some("no tour is playing: T lists the tours".into());
                    Vec::new()
                } else if self.tour.advance(&self.scenario, delta) {
                    self.apply_step()
                } else {
                    self.notice = Some(if delta > 0 {
                        "the last step: T ends the tour".into()
                    } else {
                        "the first step".into()
                    });
                    Vec::new()
                }
            }
            Action::TogglePresenter => {
                self.set_presenter(!self.presenter);
                Vec::new()
            }
            Action::ToggleZoom => {
                self.zoom = !self.zoom;
                if self.zoom {
                    self.notice = Some("zoomed: z again to see every panel".into());
                }
                Vec::new()
            }
            // Esc closes what is on top: the help, else the problems of a saved scenario, else
            // the view's own thing (Broker: the pinned payment; Schema: the filter, or the
            // rows; Logs: the search).
            Action::CloseOverlay if !self.help && self.shown_reload_problem().is_some() => {
                if let Some(problem) = &mut self.reload_problem {
                    problem.hidden = true;
                }
                Vec::new()
            }
            Action::CloseOverlay
                if !self.help && matches!(self.tab, Tab::Broker | Tab::Erd | Tab::Logs) =>
            {
                self.update_view(action)
            }
            Action::CloseOverlay => {
                self.help = false;
                Vec::new()
            }
            Action::NextTab => self.go_to(self.tab.next()),
            Action::PrevTab => self.go_to(self.tab.prev()),
            Action::GoTo(tab) => self.go_to(tab),
            Action::TogglePause => {
                self.paused = !self.paused;
                self.notice = Some(if self.paused {
                    "traffic paused: generators at ×0; workers keep draining the queues".into()
                } else {
                    format!("traffic resumed at ×{:.2}", self.rate)
                });
                vec![Outgoing::control(Command::SetRate {
                    multiplier: self.effective_rate(),
                })]
            }
            Action::Faster | Action::Slower => {
                let scale = if action == Action::Faster {
                    self.time_scale * 2.0
                } else {
                    self.time_scale / 2.0
                };
                self.time_scale = scale.clamp(TIME_SCALE_RANGE.0, TIME_SCALE_RANGE.1);
                self.notice = Some(format!(
                    "engine time ×{} of the wall clock: traffic, queues and timeouts all follow",
                    format_scale(self.time_scale)
                ));
                vec![Outgoing::control(Command::SetTimeScale {
                    scale: self.time_scale,
                })]
            }
            Action::RateUp | Action::RateDown => {
                let factor = if action == Action::RateUp {
                    1.5
                } else {
                    1.0 / 1.5
                };
                self.rate = (self.rate * factor).clamp(RATE_RANGE.0, RATE_RANGE.1);
                if self.paused {
                    self.notice = Some(format!(
                        "rate ×{:.2} applies when traffic resumes (Space)",
                        self.rate
                    ));
                    Vec::new()
                } else {
                    self.notice = Some(format!("traffic rate ×{:.2}", self.rate));
                    vec![Outgoing::control(Command::SetRate {
                        multiplier: self.rate,
                    })]
                }
            }
            other => self.update_view(other),
        }
    }

    /// Presenter mode on (zoomed, key-cast) or off (every panel again).
    pub fn set_presenter(&mut self, on: bool) {
        self.presenter = on;
        self.zoom = on;
        self.keycast.clear();
        self.notice = on.then(|| "presenter mode: P again to leave".into());
    }

    /// Starts the tour called `id` at its first step (`--tour`); false if there is none.
    pub fn start_tour(&mut self, id: &str) -> Option<Vec<Outgoing>> {
        let index = self.scenario.tours.iter().position(|t| t.id == id)?;
        self.tour
            .start(&self.scenario, index)
            .then(|| self.apply_step())
    }

    fn toggle_tours(&mut self) -> Vec<Outgoing> {
        if self.tour.playing.take().is_some() {
            self.notice = Some("tour ended".into());
        } else if self.scenario.tours.is_empty() {
            self.notice = Some("this scenario has no tours".into());
        } else {
            self.tour.picking = !self.tour.picking;
            self.help = false;
        }
        Vec::new()
    }

    fn pick_tour(&mut self, action: Action) -> Vec<Outgoing> {
        let last = self.scenario.tours.len().saturating_sub(1);
        match action {
            Action::Up => self.tour.selected = self.tour.selected.saturating_sub(1),
            Action::Down => self.tour.selected = (self.tour.selected + 1).min(last),
            Action::Enter => {
                if self.tour.start(&self.scenario, self.tour.selected) {
                    return self.apply_step();
                }
            }
            _ => self.tour.picking = false,
        }
        Vec::new()
    }

    /// Shows the tour's current step: its view, and there its request and stage, table or
    /// topic — the moves a learner would make with the keys.
    fn apply_step(&mut self) -> Vec<Outgoing> {
        let Some((_, _, step)) = self.tour.current(&self.scenario) else {
            return Vec::new();
        };
        let step = step.clone();
        let first_time = self
            .tour
            .enter(self.snapshot.as_ref().map(|s| s.elapsed_ms));
        self.help = false;
        let tab = match step.view {
            crate::scenario::View::Lifecycle => Tab::Lifecycle,
            crate::scenario::View::Erd => Tab::Erd,
            crate::scenario::View::Broker => Tab::Broker,
        };
        let mut commands = self.go_to(tab);
        if let Some(request) = &step.request {
            commands.extend(self.lifecycle.show(request, step.stage.as_deref()));
        }
        if let Some(table) = &step.table {
            self.erd.show_step(
                table,
                step.column.as_deref(),
                step.follow,
                step.row.map(|r| r.saturating_sub(1) as usize),
            );
            commands.extend(self.erd.rows_request());
        }
        if let Some(topic) = &step.topic
            && let Some(index) = self.scenario.topics.iter().position(|t| &t.name == topic)
        {
            self.broker.selected = index;
        }
        if first_time {
            for action in &step.actions {
                self.mirror(action);
                commands.extend(probe::commands(action).into_iter().map(Outgoing::control));
            }
        }
        commands
    }

    /// Keeps the status bar's rate and time scale true when a tour step sets them.
    fn mirror(&mut self, action: &TourAction) {
        match action {
            TourAction::SetRate { multiplier } => {
                self.rate = *multiplier;
                self.paused = false;
            }
            TourAction::TimeScale { scale } => self.time_scale = *scale,
            _ => {}
        }
    }

    fn effective_rate(&self) -> f64 {
        if self.paused { 0.0 } else { self.rate }
    }

    fn go_to(&mut self, tab: Tab) -> Vec<Outgoing> {
        self.tab = tab;
        self.help = false;
        match tab {
            Tab::Erd => self.erd.rows_request().into_iter().collect(),
            _ => Vec::new(),
        }
    }

    fn update_view(&mut self, action: Action) -> Vec<Outgoing> {
        match self.tab {
            Tab::Lifecycle => self.lifecycle.update(action),
            Tab::Erd => self.erd.update(action),
            Tab::Broker => {
                self.broker.set_page(self.size.1);
                let pinned = self.broker.followed.is_some();
                self.notice = self.broker.pool_missing(action, &self.scenario);
                let commands = self
                    .broker
                    .update(action, &self.scenario, self.snapshot.as_deref());
                if self.notice.is_none() {
                    self.notice = broker_feedback(action, &commands)
                        .or_else(|| self.event_panel_feedback(action, pinned));
                }
                commands
            }
            Tab::Logs => {
                self.logs
                    .update(action, super::views::logs::body_height(self.size.1));
                Vec::new()
            }
        }
    }

    /// Applies an engine update; returns the commands it calls for (rows on screen that are due
    /// to be read again).
    pub fn apply(&mut self, update: EngineUpdate) -> Vec<Outgoing> {
        let mut follow_ups = Vec::new();
        match update {
            EngineUpdate::Snapshot(snapshot) => {
                if self.tab == Tab::Erd {
                    follow_ups.extend(self.erd.refresh_rows(snapshot.elapsed_ms));
                }
                self.tour.observe(&self.scenario, &snapshot);
                self.snapshot = Some(snapshot);
            }
            EngineUpdate::Events(events) => {
                self.logs.push_events(events.iter());
                self.broker.push_events(events);
            }
            EngineUpdate::Logs(lines) => self.logs.push(lines),
            EngineUpdate::Sent { id, origin, result } => match origin {
                Origin::Lifecycle => self.lifecycle.receive(id, result),
                Origin::Broker => self.broker.receive_payment(result, &self.scenario),
                Origin::Schema | Origin::Controls => {}
            },
            EngineUpdate::Rows {
                table,
                tenant,
                result,
            } => self.erd.receive_rows(RowsView {
                table,
                tenant,
                result,
            }),
            EngineUpdate::Notice(message) => self.notice = Some(message),
        }
        follow_ups
    }

    /// Records the terminal size (for paging in the views).
    pub fn resize(&mut self, columns: u16, rows: u16) {
        self.size = (columns, rows);
    }

    /// Requests per second in the last full second, from the snapshot's series.
    pub fn requests_per_second(&self) -> u64 {
        self.snapshot
            .as_ref()
            .and_then(|s| s.series.last())
            .map_or(0, |s| s.requests)
    }

    /// Error responses (status ≥ 400) so far.
    pub fn error_count(&self) -> u64 {
        self.snapshot.as_ref().map_or(0, |s| {
            s.requests
                .by_status
                .iter()
                .filter(|(status, _)| status.parse::<u16>().is_ok_and(|s| s >= 400))
                .map(|(_, n)| n)
                .sum()
        })
    }
}

impl AppState {
    /// What a key of the Broker event panel did, said once in the status line.
    /// `pinned`: a payment was followed before the action.
    fn event_panel_feedback(&self, action: Action, pinned: bool) -> Option<String> {
        let broker = &self.broker;
        Some(match action {
            Action::CycleTopicFilter => match broker.topic_filter {
                TopicFilter::Selected => "events of the selected topic (j/k) only".to_string(),
                TopicFilter::All => "events of every topic".to_string(),
            },
            Action::CycleKindFilter => format!("events: {}", broker.kind_filter.explain()),
            Action::ToggleFollow if broker.is_frozen() => {
                "events frozen (still collected): PgUp/PgDn scroll, f follows again".to_string()
            }
            Action::ToggleFollow => "events follow the stream again".to_string(),
            Action::PageUp | Action::PageDown if broker.is_frozen() => {
                format!(
                    "events frozen, {} line(s) back: f follows again",
                    broker.scroll
                )
            }
            Action::CloseOverlay if pinned => {
                "unpinned: the followed payment's lines are gone".to_string()
            }
            _ => return None,
        })
    }
}

fn broker_feedback(action: Action, commands: &[Outgoing]) -> Option<String> {
    let text = match action {
        Action::Redrive => {
            return Some(match commands.first().map(|o| &o.command) {
                Some(Command::Redrive { topic, .. }) => {
                    format!("redriving the dead letters of {topic} back to their topic…")
                }
                _ => "nothing to redrive: every dead-letter topic is empty".to_string(),
            });
        }
        Action::AddWorker => "adding a worker…",
        Action::RemoveWorker => "retiring a worker after its current message…",
        Action::KillWorker => {
            "killing a worker: its message comes back when the lease expires (restart in 30 s)"
        }
        Action::SlowDatabase => "database +50 ms per query for 30 s",
        Action::FlushCache => "flushing the read cache: the next reads miss",
        Action::PoisonMessage if commands.is_empty() => {
            "x poisons the selected topic, and no worker reads this one (a dead-letter topic): \
             select a topic a worker pool reads"
        }
        Action::PoisonMessage => "publishing a poison message…",
        Action::Enter => "firing a payment: watch its message (highlighted) through the broker",
        _ => return None,
    };
    Some(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{DEFAULT_SCENARIO, load_str};

    fn state() -> AppState {
        let scenario = load_str("saas.toml", DEFAULT_SCENARIO).expect("default scenario");
        AppState::new(
            Arc::new(scenario),
            Theme::new(crate::tui::ThemeName::Dark),
            Clock::Virtual,
        )
    }

    #[test]
    fn time_scale_keys_double_and_halve_within_range() {
        let mut state = state();
        assert_eq!(
            state.update(Action::Faster),
            vec![Outgoing::control(Command::SetTimeScale { scale: 2.0 })]
        );
        for _ in 0..10 {
            state.update(Action::Faster);
        }
        assert_eq!(state.time_scale, TIME_SCALE_RANGE.1);
        for _ in 0..20 {
            state.update(Action::Slower);
        }
        assert_eq!(state.time_scale, TIME_SCALE_RANGE.0);
        assert_eq!(format_scale(state.time_scale), "1/8");
    }

    #[test]
    fn tabs_cycle_by_number_and_tab() {
        let mut s = state();
        s.handle_key(Key::Char('3'));
        assert_eq!(s.tab, Tab::Broker);
        s.handle_key(Key::Tab);
        assert_eq!(s.tab, Tab::Logs);
        s.handle_key(Key::Tab);
        assert_eq!(s.tab, Tab::Lifecycle);
        s.handle_key(Key::BackTab);
        assert_eq!(s.tab, Tab::Logs);
    }

    #[test]
    fn space_pauses_and_restores_the_chosen_rate() {
        let mut s = state();
        s.handle_key(Key::Char('3'));
        assert_eq!(
            s.handle_key(Key::Char('+')),
            vec![Outgoing::control(Command::SetRate { multiplier: 1.5 })]
        );
        assert_eq!(
            s.handle_key(Key::Char(' ')),
            vec![Outgoing::control(Command::SetRate { multiplier: 0.0 })]
        );
        assert!(s.paused);
        assert!(
            s.handle_key(Key::Char('-')).is_empty(),
            "no change while paused"
        );
        assert_eq!(
            s.handle_key(Key::Char(' ')),
            vec![Outgoing::control(Command::SetRate { multiplier: 1.0 })]
        );
    }

    #[test]
    fn enter_in_the_lifecycle_view_sends_the_selected_sample() {
        let mut s = state();
        s.handle_key(Key::Char('j'));
        let commands = s.handle_key(Key::Enter);
        assert_eq!(
            commands,
            vec![Outgoing {
                origin: Origin::Lifecycle,
                command: Command::SendNamed {
                    id: "alice-lists-projects-again".into(),
                },
            }]
        );
        assert!(s.lifecycle.pending.is_some());
    }

    #[test]
    fn following_a_foreign_key_and_going_back() {
        let mut s = state();
        s.handle_key(Key::Char('2'));
        // tenants → roles → users: users has tenant_id and role_id foreign keys.
        s.handle_key(Key::Char('/'));
        for c in "users".chars() {
            s.handle_key(Key::Char(c));
        }
        s.handle_key(Key::Enter);
        assert_eq!(s.erd.current_name(), "users");
        s.handle_key(Key::Enter); // focus the columns
        let fk = s
            .erd
            .current()
            .and_then(|t| t.columns.iter().position(|c| c.references.is_some()))
            .expect("users has a foreign key");
        for _ in 0..fk {
            s.handle_key(Key::Char('j'));
        }
        s.handle_key(Key::Enter);
        assert_ne!(s.erd.current_name(), "users");
        assert_eq!(s.erd.trail.len(), 2);
        s.handle_key(Key::Backspace);
        assert_eq!(s.erd.current_name(), "users");
    }

    #[test]
    fn the_rows_tab_asks_for_rows_once_per_table_and_tenant() {
        let mut s = state();
        s.handle_key(Key::Char('2'));
        let first = s.handle_key(Key::Char('r'));
        assert!(matches!(
            first.as_slice(),
            [Outgoing {
                command: Command::Rows { tenant: None, .. },
                ..
            }]
        ));
        let tenant = s.handle_key(Key::Char('t'));
        assert!(matches!(
            tenant.as_slice(),
            [Outgoing {
                command: Command::Rows {
                    tenant: Some(1),
                    ..
                },
                ..
            }]
        ));
        assert!(s.handle_key(Key::Char('j')).is_empty());
    }

    #[test]
    fn broker_keys_act_on_the_selected_topics_pool() {
        let mut s = state();
        s.handle_key(Key::Char('3'));
        let commands = s.handle_key(Key::Char('w'));
        assert_eq!(
            commands,
            vec![Outgoing::control(Command::AddWorker {
                pool: "payment-processor".into()
            })]
        );
        assert!(matches!(
            s.handle_key(Key::Char('K')).as_slice(),
            [Outgoing {
                command: Command::Fault {
                    action: crate::scenario::FaultAction::KillWorkers { .. },
                    duration_ms: Some(_)
                },
                ..
            }]
        ));
    }

    #[test]
    fn poisoning_a_topic_no_worker_reads_is_refused_with_the_reason() {
        let mut s = state();
        s.handle_key(Key::Char('3'));
        // payments.dlq: a dead-letter topic, read by no pool.
        s.broker.selected = s
            .scenario
            .topics
            .iter()
            .position(|t| t.name == "payments.dlq")
            .expect("a dead-letter topic");
        assert!(
            s.handle_key(Key::Char('x')).is_empty(),
            "nothing is poisoned"
        );
        let notice = s.notice.clone().unwrap_or_default();
        assert!(notice.contains("no worker reads"), "{notice}");
        // On payments itself, the poison message goes to payments.
        s.broker.selected = 0;
        assert!(matches!(
            s.handle_key(Key::Char('x')).as_slice(),
            [Outgoing {
                command: Command::Fault {
                    action: crate::scenario::FaultAction::PoisonMessage { topic },
                    ..
                },
                ..
            }] if topic == "payments"
        ));
    }

    #[test]
    fn esc_closes_the_help_first_then_unpins_the_followed_payment() {
        let mut s = state();
        s.handle_key(Key::Char('3'));
        s.broker.followed = Some(broker::Followed {
            request: "POST /pay".into(),
            status: 201,
            messages: vec![("payments".into(), 7, "payment.requested".into())],
            readers: Vec::new(),
        });
        s.handle_key(Key::Char('?'));
        s.handle_key(Key::Esc);
        assert!(!s.help);
        assert!(s.broker.followed.is_some(), "Esc closed the help only");
        s.handle_key(Key::Esc);
        assert!(s.broker.followed.is_none());
        assert!(s.notice.as_deref().is_some_and(|n| n.contains("unpinned")));
        // Nothing pinned: Esc says nothing.
        s.handle_key(Key::Esc);
        assert_eq!(s.notice, None);
    }

    #[test]
    fn event_panel_keys_are_free_in_the_broker_view_and_say_what_they_did() {
        let mut s = state();
        s.handle_key(Key::Char('3'));
        s.handle_key(Key::Char('e'));
        assert_eq!(s.broker.kind_filter, broker::KindFilter::Problems);
        assert!(
            s.notice
                .as_deref()
                .is_some_and(|n| n.contains("problems only"))
        );
        s.handle_key(Key::Char('t'));
        assert_eq!(s.broker.topic_filter, TopicFilter::All);
        s.handle_key(Key::Char('f'));
        assert!(s.broker.is_frozen());
        s.handle_key(Key::Char('f'));
        assert!(!s.broker.is_frozen());
        s.handle_key(Key::PageUp);
        assert!(s.broker.is_frozen(), "PgUp freezes");
    }

    #[test]
    fn q_quits_and_help_toggles() {
        let mut s = state();
        s.handle_key(Key::Char('?'));
        assert!(s.help);
        s.handle_key(Key::Char('?'));
        assert!(!s.help);
        s.handle_key(Key::Char('q'));
        assert!(s.quit);
    }
}
