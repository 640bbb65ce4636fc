//! What the user asked for, after the keymap has read a key: the vocabulary between input and
//! [`AppState::update`](super::state::AppState::update).

/// The four views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    /// One request, stage by stage.
    #[default]
    Lifecycle,
    /// The multi-tenant schema and its rows.
    Erd,
    /// Topics, workers and the event stream.
    Broker,
    /// The engine's log lines.
    Logs,
}

impl Tab {
    /// Every tab, in order.
    pub const ALL: [Tab; 4] = [Tab::Lifecycle, Tab::Erd, Tab::Broker, Tab::Logs];

    /// The tab's title.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Lifecycle => "Request lifecycle",
            Tab::Erd => "Tenant schema",
            Tab::Broker => "Broker queue",
            Tab::Logs => "Logs",
        }
    }

    /// A shorter title for narrow screens.
    pub fn short_title(self) -> &'static str {
        match self {
            Tab::Lifecycle => "Lifecycle",
            Tab::Erd => "Schema",
            Tab::Broker => "Broker",
            Tab::Logs => "Logs",
        }
    }

    /// Position (0-based).
    pub fn index(self) -> usize {
        match self {
            Tab::Lifecycle => 0,
            Tab::Erd => 1,
            Tab::Broker => 2,
            Tab::Logs => 3,
        }
    }

    /// The tab after this one (wrapping).
    pub fn next(self) -> Tab {
        Tab::ALL[(self.index() + 1) % Tab::ALL.len()]
    }

    /// The tab before this one (wrapping).
    pub fn prev(self) -> Tab {
        Tab::ALL[(self.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]
    }
}

/// A user intent. Navigation actions (`Up`, `Enter`, …) mean what the current view makes of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the program.
    Quit,
    /// Show or hide the key overlay.
    ToggleHelp,
    /// Give the view's main panel the whole screen, or go back (`z`).
    ToggleZoom,
    /// Open the tour picker, or stop the tour playing (`T`).
    ToggleTours,
    /// Presenter mode on or off (`P`): the main panel zoomed, the keys pressed shown.
    TogglePresenter,
    /// The tour's next step (`n`).
    NextStep,
    /// The tour's previous step (`p`).
    PrevStep,
    /// Close the overlay (Esc); with none open, the view's own Esc (unpin a payment, clear the
    /// schema filter, leave the rows).
    CloseOverlay,
    /// Next tab.
    NextTab,
    /// Previous tab.
    PrevTab,
    /// Go to a tab.
    GoTo(Tab),
    /// Pause or resume the generated traffic.
    TogglePause,
    /// Move up in the focused list.
    Up,
    /// Move down in the focused list.
    Down,
    /// Left: previous stage, focus the left pane, scroll left.
    Left,
    /// Right: next stage, focus the right pane, scroll right.
    Right,
    /// Jump to the first item.
    First,
    /// Jump to the last item.
    Last,
    /// Scroll a page up.
    PageUp,
    /// Scroll a page down.
    PageDown,
    /// Confirm: send the request, open the table, follow the key, fire a payment.
    Enter,
    /// Go back (the ERD breadcrumb).
    Back,
    /// Show the previous copy of a repeated request.
    PrevCopy,
    /// Show the next copy of a repeated request.
    NextCopy,
    /// Start typing a table filter.
    StartFilter,
    /// A character typed into the filter.
    FilterChar(char),
    /// Delete the last filter character.
    FilterBackspace,
    /// Stop typing the filter (it stays applied).
    FilterDone,
    /// Stop typing the filter and drop it: the whole table list again.
    FilterCancel,
    /// Switch between the schema and the rows of the table.
    ToggleRows,
    /// Show the rows of the next tenant (or all tenants).
    CycleTenant,
    /// Show or hide the message-flow graph (Broker view).
    ToggleFlow,
    /// Run the engine clock twice as fast (live only).
    Faster,
    /// Run the engine clock half as fast (live only).
    Slower,
    /// Raise the traffic rate.
    RateUp,
    /// Lower the traffic rate.
    RateDown,
    /// Add a worker to the selected topic's pool.
    AddWorker,
    /// Retire a worker of the selected topic's pool.
    RemoveWorker,
    /// Kill (crash) a worker of the selected topic's pool.
    KillWorker,
    /// Make every database query slower for a while.
    SlowDatabase,
    /// Empty the read cache.
    FlushCache,
    /// Publish a message no handler can process.
    PoisonMessage,
    /// Send a dead-letter topic's messages back to their origin topic (the selected one, or the
    /// first that holds any).
    Redrive,
    /// Show the next log level filter.
    CycleLevel,
    /// Follow the newest lines (logs, broker events), or stop following (freeze).
    ToggleFollow,
    /// Broker events: the selected topic's only, or every topic's.
    CycleTopicFilter,
    /// Broker events: the next kind filter (all, problems, lifecycle, workers).
    CycleKindFilter,
}
