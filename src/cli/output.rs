//! Standard output for the headless commands. A reader that goes away early
//! (`archsim tour --check scenarios/*.toml | head`) ends the command quietly, as it ends any Unix
//! filter, instead of panicking inside `println!`. Rust ignores `SIGPIPE`, so the closed pipe
//! arrives as an `EPIPE` error on the next write; restoring the signal's default instead would
//! also reach `serve` and the TUI, which must survive a closed socket or pty.

use std::fmt;
use std::io::{ErrorKind, Write};

use super::{EXIT_OK, EXIT_USAGE};

/// Writes `text` to standard output; see the module comment for what a closed pipe does.
pub(crate) fn write(text: fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(text).and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::BrokenPipe => std::process::exit(EXIT_OK.into()),
        Err(error) => {
            // Standard error may be the pipe that closed too; nothing is left to tell then.
            let _ = writeln!(
                std::io::stderr(),
                "archsim: cannot write the output: {error}"
            );
            std::process::exit(EXIT_USAGE.into())
        }
    }
}

/// `print!` through [`write`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write(format_args!($($arg)*))
    };
}

/// `println!` through [`write`].
macro_rules! outln {
    () => {
        $crate::cli::output::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}
