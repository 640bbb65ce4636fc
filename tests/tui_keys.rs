//! Random key sequences sent to every view never panic, whatever the terminal size — in
//! update or in draw.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use archsim::scenario::{DEFAULT_SCENARIO, load_str};
use archsim::tui::ThemeName;
use archsim::tui::headless::{Headless, render};
use archsim::tui::keymap::{self, Key};
use archsim::tui::state::AppState;
use archsim::tui::theme::Theme;
use proptest::prelude::*;

/// A state with a snapshot, a trace and rows in it, built once on a virtual-time engine.
fn fixture() -> &'static AppState {
    static STATE: OnceLock<AppState> = OnceLock::new();
    STATE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let scenario =
                Arc::new(load_str("saas.toml", DEFAULT_SCENARIO).expect("default scenario"));
            let mut app =
                Headless::start(scenario, Theme::new(ThemeName::Dark)).expect("engine starts");
            app.advance(Duration::from_secs(5)).await;
            app.press_all(&[Key::Char('j'), Key::Char('j'), Key::Enter, Key::Right])
                .await;
            app.press_all(&[Key::Char('2'), Key::Char('r'), Key::Char('1')])
                .await;
            app.state.clone()
        })
    })
}

/// Every key any table names, plus a few nobody binds.
fn keys() -> Vec<Key> {
    let mut keys: Vec<Key> = [
        keymap::GLOBAL,
        keymap::LIFECYCLE,
        keymap::ERD,
        keymap::BROKER,
        keymap::LOGS,
        keymap::FILTER,
        keymap::SEARCH,
    ]
    .iter()
    .flat_map(|table| table.iter().flat_map(|b| b.keys.iter().copied()))
    .filter(|k| *k != Key::Char('q') && *k != Key::CtrlC)
    .collect();
    keys.extend([
        Key::Char('z'),
        Key::Char('é'),
        Key::Char('\u{7f}'),
        Key::Esc,
    ]);
    keys
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_keys_never_panic(
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..80),
        size in prop::sample::select(vec![(1u16, 1u16), (12, 5), (30, 10), (80, 24), (120, 30), (160, 48)]),
    ) {
        let keys = keys();
        let mut state = fixture().clone();
        for pick in picks {
            let key = keys[pick.index(keys.len())];
            let _commands = state.handle_key(key);
            let _ = render(&state, size.0, size.1);
        }
        prop_assert!(!state.quit);
    }
}

#[test]
fn q_quits_from_every_view() {
    for tab in ['1', '2', '3', '4'] {
        let mut state = fixture().clone();
        state.handle_key(Key::Char(tab));
        state.handle_key(Key::Char('q'));
        assert!(state.quit, "q in view {tab}");
    }
}
