//! Which key does what, as tables: one for keys that work everywhere and one per view.
//!
//! The same tables drive input ([`action_for`]) and the `?` overlay ([`help_for`]), so the help
//! can never drift from what the keys do. A binding matches on the key alone; `Shift` only
//! matters through the character it produces (`K` is not `k`).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::{Action, Tab};

/// A key as the tables name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A printable character (already shifted: `K`, `+`, `?`).
    Char(char),
    /// Enter.
    Enter,
    /// Escape.
    Esc,
    /// Backspace.
    Backspace,
    /// Tab.
    Tab,
    /// Shift-Tab.
    BackTab,
    /// ←.
    Left,
    /// →.
    Right,
    /// ↑.
    Up,
    /// ↓.
    Down,
    /// Page Up.
    PageUp,
    /// Page Down.
    PageDown,
    /// Home.
    Home,
    /// End.
    End,
    /// Ctrl-C.
    CtrlC,
}

impl Key {
    /// The key of a terminal key event, if the tables know it (releases and other chords are
    /// ignored).
    pub fn from_event(event: &KeyEvent) -> Option<Key> {
        if event.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        Some(match event.code {
            KeyCode::Char('c') | KeyCode::Char('C') if ctrl => Key::CtrlC,
            _ if ctrl => return None,
            KeyCode::Char(c) => Key::Char(c),
            KeyCode::Enter => Key::Enter,
            KeyCode::Esc => Key::Esc,
            KeyCode::Backspace => Key::Backspace,
            KeyCode::Tab => Key::Tab,
            KeyCode::BackTab => Key::BackTab,
            KeyCode::Left => Key::Left,
            KeyCode::Right => Key::Right,
            KeyCode::Up => Key::Up,
            KeyCode::Down => Key::Down,
            KeyCode::PageUp => Key::PageUp,
            KeyCode::PageDown => Key::PageDown,
            KeyCode::Home => Key::Home,
            KeyCode::End => Key::End,
            _ => return None,
        })
    }
}

/// One row of a keymap table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The keys that trigger it.
    pub keys: &'static [Key],
    /// How the keys are written in the help.
    pub label: &'static str,
    /// What they do.
    pub action: Action,
    /// The help text.
    pub help: &'static str,
}

const fn bind(
    keys: &'static [Key],
    label: &'static str,
    action: Action,
    help: &'static str,
) -> Binding {
    Binding {
        keys,
        label,
        action,
        help,
    }
}

use Key::Char as C;

/// Keys that work in every view.
pub const GLOBAL: &[Binding] = &[
    bind(&[C('q'), Key::CtrlC], "q  Ctrl-C", Action::Quit, "quit"),
    bind(&[C('?')], "?", Action::ToggleHelp, "show / hide this help"),
    bind(&[C('z')], "z", Action::ToggleZoom, "zoom a panel / back"),
    bind(
        &[C('T')],
        "T",
        Action::ToggleTours,
        "guided tours / end one",
    ),
    bind(
        &[C('P')],
        "P",
        Action::TogglePresenter,
        "presenter mode / back",
    ),
    bind(&[C('n')], "n", Action::NextStep, "tour: next step"),
    bind(&[C('p')], "p", Action::PrevStep, "tour: previous step"),
    bind(&[Key::Esc], "Esc", Action::CloseOverlay, "close the help"),
    bind(
        &[C('1')],
        "1",
        Action::GoTo(Tab::Lifecycle),
        "Request lifecycle view",
    ),
    bind(&[C('2')], "2", Action::GoTo(Tab::Erd), "Tenant schema view"),
    bind(
        &[C('3')],
        "3",
        Action::GoTo(Tab::Broker),
        "Broker queue view",
    ),
    bind(&[C('4')], "4", Action::GoTo(Tab::Logs), "Logs view"),
    bind(&[Key::Tab], "Tab", Action::NextTab, "next view"),
    bind(
        &[Key::BackTab],
        "Shift-Tab",
        Action::PrevTab,
        "previous view",
    ),
    bind(
        &[C(' ')],
        "Space",
        Action::TogglePause,
        "pause / resume traffic",
    ),
    bind(&[C('>')], ">", Action::Faster, "engine time ×2 (faster)"),
    bind(&[C('<')], "<", Action::Slower, "engine time ÷2 (slower)"),
];

/// Keys of the Request lifecycle view.
pub const LIFECYCLE: &[Binding] = &[
    bind(
        &[Key::Up, C('k')],
        "↑ k",
        Action::Up,
        "previous sample request",
    ),
    bind(
        &[Key::Down, C('j')],
        "↓ j",
        Action::Down,
        "next sample request",
    ),
    bind(
        &[Key::Enter],
        "Enter",
        Action::Enter,
        "send it through the real engine",
    ),
    bind(&[Key::Left, C('h')], "← h", Action::Left, "previous stage"),
    bind(&[Key::Right, C('l')], "→ l", Action::Right, "next stage"),
    bind(&[Key::Home, C('g')], "Home g", Action::First, "first stage"),
    bind(&[Key::End, C('G')], "End G", Action::Last, "last stage"),
    bind(
        &[Key::PageUp],
        "PgUp",
        Action::PageUp,
        "scroll the details up",
    ),
    bind(
        &[Key::PageDown],
        "PgDn",
        Action::PageDown,
        "scroll the details down",
    ),
    bind(
        &[C('[')],
        "[",
        Action::PrevCopy,
        "previous copy of a repeated request",
    ),
    bind(
        &[C(']')],
        "]",
        Action::NextCopy,
        "next copy of a repeated request",
    ),
];

/// Keys of the Tenant schema view. Their help texts stay within 31 characters, like the
/// broker's: at 80×24 the help shows this table beside the global one.
pub const ERD: &[Binding] = &[
    bind(&[Key::Up, C('k')], "↑ k", Action::Up, "move up"),
    bind(&[Key::Down, C('j')], "↓ j", Action::Down, "move down"),
    bind(
        &[Key::Left, C('h')],
        "← h",
        Action::Left,
        "tables (rows: scroll left)",
    ),
    bind(
        &[Key::Right, C('l')],
        "→ l",
        Action::Right,
        "columns (rows: scroll right)",
    ),
    bind(
        &[Key::Home, C('g')],
        "Home g",
        Action::First,
        "first table/column/row",
    ),
    bind(
        &[Key::End, C('G')],
        "End G",
        Action::Last,
        "last table/column/row",
    ),
    bind(&[Key::PageUp], "PgUp", Action::PageUp, "page up"),
    bind(&[Key::PageDown], "PgDn", Action::PageDown, "page down"),
    bind(
        &[Key::Enter],
        "Enter",
        Action::Enter,
        "open table / follow the key",
    ),
    bind(
        &[Key::Backspace],
        "Backspace",
        Action::Back,
        "back (breadcrumb, rows)",
    ),
    bind(
        &[C('/')],
        "/",
        Action::StartFilter,
        "filter the tables afresh",
    ),
    // Esc is a global key (close the help): with no help open, the app state gives it to this
    // view, so this row only documents it.
    bind(
        &[],
        "Esc",
        Action::CloseOverlay,
        "clear the filter / leave rows",
    ),
    bind(&[C('r')], "r", Action::ToggleRows, "schema ⇄ real rows"),
    bind(
        &[C('t')],
        "t",
        Action::CycleTenant,
        "rows of tenant 1, 2, … or all",
    ),
];

/// Keys of the Broker queue view. Their help texts stay within 31 characters: at 80×24 the
/// help shows this table beside the global one and has no line to spare for wrapping.
pub const BROKER: &[Binding] = &[
    bind(&[Key::Up, C('k')], "↑ k", Action::Up, "previous topic"),
    bind(&[Key::Down, C('j')], "↓ j", Action::Down, "next topic"),
    bind(
        &[C('+'), C('=')],
        "+",
        Action::RateUp,
        "more traffic (rate ×1.5)",
    ),
    bind(&[C('-')], "-", Action::RateDown, "less traffic (rate ÷1.5)"),
    bind(
        &[C('w')],
        "w",
        Action::AddWorker,
        "add a worker to the pool",
    ),
    bind(
        &[C('W')],
        "W",
        Action::RemoveWorker,
        "retire a worker when it is done",
    ),
    bind(
        &[C('K')],
        "K",
        Action::KillWorker,
        "kill a worker (back in 30 s)",
    ),
    bind(
        &[C('d')],
        "d",
        Action::SlowDatabase,
        "slow DB: +50 ms a query, 30 s",
    ),
    bind(&[C('c')], "c", Action::FlushCache, "flush the read cache"),
    bind(
        &[C('x')],
        "x",
        Action::PoisonMessage,
        "poison message into the topic",
    ),
    bind(&[C('R')], "R", Action::Redrive, "redrive the dead letters"),
    bind(
        &[Key::Enter],
        "Enter",
        Action::Enter,
        "fire its request, pin its lines",
    ),
    // The event panel. `t` and `e` cycle like `t` (tenant) in the schema view and `l` (level)
    // in the logs; `f` freezes / follows as it does in the logs, so it is not a second "pause"
    // beside Space (traffic). PgUp/PgDn scroll as in the logs, and scrolling up freezes.
    bind(
        &[C('t')],
        "t",
        Action::CycleTopicFilter,
        "events: this topic ⇄ all topics",
    ),
    bind(
        &[C('e')],
        "e",
        Action::CycleKindFilter,
        "events: cycle kinds (problems…)",
    ),
    bind(
        &[C('f')],
        "f",
        Action::ToggleFollow,
        "freeze / follow the events",
    ),
    bind(
        &[Key::PageUp],
        "PgUp",
        Action::PageUp,
        "scroll events back (freezes)",
    ),
    bind(
        &[Key::PageDown],
        "PgDn",
        Action::PageDown,
        "scroll events forward",
    ),
    // Esc is a global key (close the help): with no help open, the app state gives it to this
    // view, so this row only documents it.
    bind(
        &[],
        "Esc",
        Action::CloseOverlay,
        "unpin the followed payment",
    ),
    bind(
        &[C('g')],
        "g",
        Action::ToggleFlow,
        "flow graph: show / hide",
    ),
];

/// Keys of the Logs view. Their help texts stay within 31 characters, as the Broker's do.
pub const LOGS: &[Binding] = &[
    bind(
        &[Key::Up, C('k')],
        "↑ k",
        Action::Up,
        "scroll up (stops following)",
    ),
    bind(&[Key::Down, C('j')], "↓ j", Action::Down, "scroll down"),
    bind(&[Key::PageUp], "PgUp", Action::PageUp, "page up"),
    bind(&[Key::PageDown], "PgDn", Action::PageDown, "page down"),
    bind(&[Key::Home, C('g')], "Home g", Action::First, "oldest line"),
    bind(
        &[Key::End, C('G')],
        "End G",
        Action::Last,
        "newest line, follow",
    ),
    bind(
        &[C('f')],
        "f",
        Action::ToggleFollow,
        "follow new lines on / off",
    ),
    bind(
        &[C('l')],
        "l",
        Action::CycleLevel,
        "level: debug, info, warn, error",
    ),
    bind(
        &[C('/')],
        "/",
        Action::StartFilter,
        "search the lines (Enter keeps)",
    ),
    // Esc is a global key (close the help): with no help open, the app state gives it to this
    // view, so this row only documents it.
    bind(&[], "Esc", Action::CloseOverlay, "clear the search"),
];

/// Keys while typing the ERD table filter.
pub const FILTER: &[Binding] = &[
    bind(&[], "letters", Action::FilterChar('a'), "type the filter"),
    bind(
        &[Key::Backspace],
        "Backspace",
        Action::FilterBackspace,
        "delete a character",
    ),
    bind(
        &[Key::Enter],
        "Enter",
        Action::FilterDone,
        "keep the filter, stop typing",
    ),
    bind(
        &[Key::Esc],
        "Esc",
        Action::FilterCancel,
        "clear the filter, whole list",
    ),
    bind(&[Key::CtrlC], "Ctrl-C", Action::Quit, "quit"),
];

/// Keys while typing the Logs search: unlike the table filter, Esc clears what was typed.
pub const SEARCH: &[Binding] = &[
    bind(&[], "letters", Action::FilterChar('a'), "type the search"),
    bind(
        &[Key::Backspace],
        "Backspace",
        Action::FilterBackspace,
        "delete a character",
    ),
    bind(
        &[Key::Enter],
        "Enter",
        Action::FilterDone,
        "keep the search, stop typing",
    ),
    bind(&[Key::Esc], "Esc", Action::FilterCancel, "clear the search"),
    bind(&[Key::CtrlC], "Ctrl-C", Action::Quit, "quit"),
];

/// Keys while the tour picker is open.
pub const TOUR_PICKER: &[Binding] = &[
    bind(&[Key::Up, C('k')], "↑ k", Action::Up, "previous tour"),
    bind(&[Key::Down, C('j')], "↓ j", Action::Down, "next tour"),
    bind(&[Key::Enter], "Enter", Action::Enter, "start the tour"),
    bind(
        &[Key::Esc, C('T')],
        "Esc T",
        Action::CloseOverlay,
        "close the list",
    ),
    bind(&[C('q'), Key::CtrlC], "q  Ctrl-C", Action::Quit, "quit"),
];

/// The table of keys while typing in `tab` (its filter or search).
fn typing_bindings(tab: Tab) -> &'static [Binding] {
    match tab {
        Tab::Logs => SEARCH,
        _ => FILTER,
    }
}

/// The view's own table.
pub fn view_bindings(tab: Tab) -> &'static [Binding] {
    match tab {
        Tab::Lifecycle => LIFECYCLE,
        Tab::Erd => ERD,
        Tab::Broker => BROKER,
        Tab::Logs => LOGS,
    }
}

impl Key {
    /// The key as a presenter's key-cast shows it: `j`, `Enter`, `←`, `Space`.
    pub fn label(self) -> String {
        match self {
            Key::Char(' ') => "Space".into(),
            Key::Char(c) => c.to_string(),
            Key::Enter => "Enter".into(),
            Key::Esc => "Esc".into(),
            Key::Backspace => "Bksp".into(),
            Key::Tab => "Tab".into(),
            Key::BackTab => "S-Tab".into(),
            Key::Left => "←".into(),
            Key::Right => "→".into(),
            Key::Up => "↑".into(),
            Key::Down => "↓".into(),
            Key::PageUp => "PgUp".into(),
            Key::PageDown => "PgDn".into(),
            Key::Home => "Home".into(),
            Key::End => "End".into(),
            Key::CtrlC => "C-c".into(),
        }
    }
}

/// What the input is going to right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyContext {
    /// The visible view.
    pub tab: Tab,
    /// The help overlay is open.
    pub help_open: bool,
    /// A filter (ERD tables) or search (Logs) is being typed.
    pub filtering: bool,
    /// The tour picker is open.
    pub picking_tour: bool,
}

fn find(table: &[Binding], key: Key) -> Option<Action> {
    table
        .iter()
        .find(|b| b.keys.contains(&key))
        .map(|b| b.action)
}

/// The action of `key` in `context`, if any.
pub fn action_for(context: KeyContext, key: Key) -> Option<Action> {
    if context.filtering {
        return match key {
            Key::Char(c) if !c.is_control() => Some(Action::FilterChar(c)),
            other => find(typing_bindings(context.tab), other),
        };
    }
    if context.picking_tour {
        return find(TOUR_PICKER, key);
    }
    if context.help_open {
        // Any key closes the overlay; the global keys still work.
        return Some(find(GLOBAL, key).unwrap_or(Action::CloseOverlay));
    }
    find(view_bindings(context.tab), key).or_else(|| find(GLOBAL, key))
}

/// The help of the current context: (section title, bindings), the view's keys first.
pub fn help_for(context: KeyContext) -> Vec<(&'static str, &'static [Binding])> {
    if context.filtering {
        let title = match context.tab {
            Tab::Logs => "Typing a search",
            _ => "Typing a filter",
        };
        return vec![(title, typing_bindings(context.tab))];
    }
    vec![
        (context.tab.title(), view_bindings(context.tab)),
        ("Everywhere", GLOBAL),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(tab: Tab) -> KeyContext {
        KeyContext {
            tab,
            help_open: false,
            filtering: false,
            picking_tour: false,
        }
    }

    #[test]
    fn no_key_is_bound_twice_in_a_view_or_shadows_a_global_key_unintentionally() {
        for tab in Tab::ALL {
            let view = view_bindings(tab);
            let mut seen: Vec<Key> = Vec::new();
            for binding in view {
                for key in binding.keys {
                    assert!(!seen.contains(key), "{key:?} bound twice in {tab:?}");
                    seen.push(*key);
                    assert!(
                        find(GLOBAL, *key).is_none(),
                        "{key:?} of {tab:?} hides a global key"
                    );
                }
            }
        }
    }

    #[test]
    fn global_help_fits_its_column_at_80_columns() {
        for binding in GLOBAL {
            assert!(
                binding.help.chars().count() <= 23,
                "{:?} wraps in the 80×24 help",
                binding.help
            );
        }
    }

    #[test]
    fn broker_logs_and_schema_help_fit_their_column_at_80_columns() {
        for binding in BROKER.iter().chain(LOGS).chain(ERD) {
            assert!(
                binding.help.chars().count() <= 31,
                "{:?} wraps in the 80×24 help",
                binding.help
            );
        }
    }

    #[test]
    fn quit_works_from_every_view_and_from_the_help() {
        for tab in Tab::ALL {
            assert_eq!(action_for(ctx(tab), Key::Char('q')), Some(Action::Quit));
            assert_eq!(action_for(ctx(tab), Key::CtrlC), Some(Action::Quit));
            let help = KeyContext {
                help_open: true,
                ..ctx(tab)
            };
            assert_eq!(action_for(help, Key::Char('q')), Some(Action::Quit));
            assert_eq!(action_for(help, Key::Char('x')), Some(Action::CloseOverlay));
        }
    }

    #[test]
    fn typing_a_filter_takes_letters_but_ctrl_c_still_quits() {
        let typing = KeyContext {
            filtering: true,
            ..ctx(Tab::Erd)
        };
        assert_eq!(
            action_for(typing, Key::Char('q')),
            Some(Action::FilterChar('q'))
        );
        assert_eq!(action_for(typing, Key::CtrlC), Some(Action::Quit));
        assert_eq!(action_for(typing, Key::Enter), Some(Action::FilterDone));
        assert_eq!(action_for(typing, Key::Esc), Some(Action::FilterCancel));
    }

    #[test]
    fn the_logs_search_keeps_on_enter_and_clears_on_esc() {
        let logs = ctx(Tab::Logs);
        assert_eq!(action_for(logs, Key::Char('/')), Some(Action::StartFilter));
        let typing = KeyContext {
            filtering: true,
            ..logs
        };
        assert_eq!(
            action_for(typing, Key::Char('q')),
            Some(Action::FilterChar('q'))
        );
        assert_eq!(action_for(typing, Key::Enter), Some(Action::FilterDone));
        assert_eq!(action_for(typing, Key::Esc), Some(Action::FilterCancel));
        assert_eq!(help_for(typing)[0].0, "Typing a search");
    }

    #[test]
    fn destructive_keys_are_capitals_and_differ_from_navigation() {
        assert_eq!(
            action_for(ctx(Tab::Broker), Key::Char('K')),
            Some(Action::KillWorker)
        );
        assert_eq!(
            action_for(ctx(Tab::Broker), Key::Char('k')),
            Some(Action::Up)
        );
    }

    #[test]
    fn key_events_map_to_keys() {
        let press = |code, modifiers| KeyEvent::new(code, modifiers);
        assert_eq!(
            Key::from_event(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Key::CtrlC)
        );
        assert_eq!(
            Key::from_event(&press(KeyCode::Char('K'), KeyModifiers::SHIFT)),
            Some(Key::Char('K'))
        );
        assert_eq!(
            Key::from_event(&press(KeyCode::Char('x'), KeyModifiers::CONTROL)),
            None
        );
        let mut release = press(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(Key::from_event(&release), None);
    }
}
