//! End to end: the real `archsim` binary in a pseudo-terminal, driven through the four tabs and
//! quit with `q`; the terminal must be handed back (alternate screen left, cursor shown).

mod common;

use common::pty::Terminal;

const ROWS: u16 = 30;
const COLUMNS: u16 = 100;

#[test]
fn the_binary_runs_the_four_tabs_in_a_terminal_and_restores_it_on_quit() {
    let mut screen = Terminal::spawn(&[], COLUMNS, ROWS);
    screen.wait_for("Sample requests");
    assert!(screen.parser.screen().alternate_screen());
    screen.press(b"\r");
    screen.wait_for("Stage 1/");
    screen.press(b"2");
    screen.wait_for("Tables 1/10");
    screen.press(b"3");
    screen.wait_for("Events · payments");
    screen.press(b"4");
    screen.wait_for("· level ≥ info (l)");
    screen.press(b"1");
    screen.wait_for("Sample requests");
    screen.press(b"q");

    assert!(screen.wait_exit(), "a successful exit on q");
    let raw = String::from_utf8_lossy(&screen.raw);
    let entered = raw
        .rfind("\x1b[?1049h")
        .expect("entered the alternate screen");
    let left = raw.rfind("\x1b[?1049l").expect("left the alternate screen");
    assert!(
        left > entered,
        "the alternate screen was left after it was entered"
    );
    // Every frame is one synchronized update (no blank flash on resize): as many ends as
    // begins, and the last update ended.
    let begins = raw.matches("\x1b[?2026h").count();
    let ends = raw.matches("\x1b[?2026l").count();
    assert!(
        begins >= 5 && begins == ends,
        "{begins} begins, {ends} ends"
    );
    assert!(raw.rfind("\x1b[?2026l") > raw.rfind("\x1b[?2026h"));
    let shown = raw.rfind("\x1b[?25h").expect("showed the cursor");
    assert!(shown > entered, "the cursor was shown again");
    assert!(!screen.parser.screen().alternate_screen());
    assert!(!screen.parser.screen().hide_cursor());
}
