//! The real `archsim` binary in a pseudo-terminal: what a user's terminal would show (parsed
//! with vt100), the raw bytes the app wrote, keys to type, and its exit.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};

/// How long a screen may take to show something before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running `archsim` in a pseudo-terminal of a fixed size.
pub struct Terminal {
    /// The screen as the terminal shows it.
    pub parser: vt100::Parser,
    /// Every byte the app wrote, in order.
    pub raw: Vec<u8>,
    bytes: mpsc::Receiver<Vec<u8>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
}

impl Terminal {
    /// Starts `archsim args…` in a `columns` × `rows` terminal (`TERM=xterm-256color`).
    pub fn spawn(args: &[&std::ffi::OsStr], columns: u16, rows: u16) -> Self {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols: columns,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pseudo-terminal");
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_archsim"));
        command.args(args);
        command.env("TERM", "xterm-256color");
        let child = pair.slave.spawn_command(command).expect("archsim starts");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = pair.master.take_writer().expect("writer");
        let (sender, bytes) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 || sender.send(buffer[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let size = |n: u16| std::num::NonZero::new(n).expect("a positive size");
        Self {
            parser: vt100::Parser::new(size(rows), size(columns), 0),
            raw: Vec::new(),
            bytes,
            writer,
            child,
        }
    }

    /// Takes in what the app wrote so far.
    pub fn pump(&mut self) {
        while let Ok(chunk) = self.bytes.try_recv() {
            self.parser.process(&chunk);
            self.raw.extend_from_slice(&chunk);
        }
    }

    /// The screen's text now.
    pub fn contents(&mut self) -> String {
        self.pump();
        self.parser.screen().contents()
    }

    /// Types `keys`.
    pub fn press(&mut self, keys: &[u8]) {
        self.writer.write_all(keys).expect("type");
        self.writer.flush().expect("flush");
    }

    /// Waits until the screen shows `text`; panics with the screen after [`PATIENCE`].
    pub fn wait_for(&mut self, text: &str) {
        self.wait_until(text, |contents| contents.contains(text), "never appeared");
    }

    /// Waits until the screen no longer shows `text`.
    pub fn wait_gone(&mut self, text: &str) {
        self.wait_until(text, |contents| !contents.contains(text), "never went");
    }

    fn wait_until(&mut self, text: &str, done: impl Fn(&str) -> bool, failure: &str) {
        let started = Instant::now();
        loop {
            let contents = self.contents();
            if done(&contents) {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "`{text}` {failure}; the screen was:\n{contents}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (at most 20 s) for the app to exit, then takes in its last output; whether it
    /// exited successfully.
    pub fn wait_exit(&mut self) -> bool {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                panic!("archsim did not quit");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(200));
        self.pump();
        status.success()
    }
}
