//! End to end: the real `archsim` binary in a pseudo-terminal, driven through the four tabs and
//! quit with `q`; the terminal must be handed back (alternate screen left, cursor shown).

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const ROWS: u16 = 30;
const COLUMNS: u16 = 100;

fn nonzero(n: u16) -> std::num::NonZero<u16> {
    std::num::NonZero::new(n).expect("a positive size")
}

struct Screen {
    parser: vt100::Parser,
    raw: Vec<u8>,
    bytes: mpsc::Receiver<Vec<u8>>,
}

impl Screen {
    fn pump(&mut self) {
        while let Ok(chunk) = self.bytes.try_recv() {
            self.parser.process(&chunk);
            self.raw.extend_from_slice(&chunk);
        }
    }

    /// Waits until the screen shows `text`; panics with the screen after `limit`.
    fn wait_for(&mut self, text: &str, limit: Duration) {
        let started = Instant::now();
        loop {
            self.pump();
            if self.parser.screen().contents().contains(text) {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "`{text}` never appeared; the screen was:\n{}",
                self.parser.screen().contents()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn the_binary_runs_the_four_tabs_in_a_terminal_and_restores_it_on_quit() {
    let pty = native_pty_system();
    let pair = pty
        .openpty(PtySize {
            rows: ROWS,
            cols: COLUMNS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pseudo-terminal");
    let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_archsim"));
    command.env("TERM", "xterm-256color");
    let mut child = pair.slave.spawn_command(command).expect("archsim starts");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("reader");
    let mut writer = pair.master.take_writer().expect("writer");
    let (sender, bytes) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buffer) {
            if n == 0 || sender.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut screen = Screen {
        parser: vt100::Parser::new(nonzero(ROWS), nonzero(COLUMNS), 0),
        raw: Vec::new(),
        bytes,
    };
    let mut press = |keys: &[u8]| {
        writer.write_all(keys).expect("type");
        writer.flush().expect("flush");
    };
    let patience = Duration::from_secs(60);
    screen.wait_for("Sample requests", patience);
    assert!(screen.parser.screen().alternate_screen());
    press(b"\r");
    screen.wait_for("Stage 1/", patience);
    press(b"2");
    screen.wait_for("Tables 1/10", patience);
    press(b"3");
    screen.wait_for("Events · payments", patience);
    press(b"4");
    screen.wait_for("· level ≥ info (l)", patience);
    press(b"1");
    screen.wait_for("Sample requests", patience);
    press(b"q");

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("archsim did not quit on q");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(200));
    screen.pump();
    assert!(status.success(), "exit status {status:?}");
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
