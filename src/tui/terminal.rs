//! Owning the terminal: raw mode and the alternate screen on the way in, and the way out on
//! every exit path — a normal return, an error (the guard's `Drop`) and a panic (the hook).

use std::io::{self, IsTerminal, Stdout, Write};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

/// The terminal the UI draws on.
pub type Tty = Terminal<CrosstermBackend<Stdout>>;

/// Why the terminal could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// Standard input or output is not a terminal (a pipe, a CI job).
    #[error(
        "needs an interactive terminal (standard input and output must be a TTY); for headless output try `archsim run` or `archsim trace`"
    )]
    NotATerminal,
    /// Setting the terminal up failed.
    #[error("cannot set up the terminal: {0}")]
    Io(#[from] io::Error),
}

/// Puts the terminal back as it was. Safe to call more than once.
pub fn restore() {
    let _ = disable_raw_mode();
    let mut stdout = io::stdout();
    let _ = execute!(stdout, LeaveAlternateScreen, Show);
    let _ = stdout.flush();
}

/// Restores the terminal before the previous panic hook prints the panic, so the message is
/// readable and the shell usable.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

/// While alive, the terminal is in raw mode on the alternate screen; dropping it restores it.
pub struct TerminalGuard {
    /// The terminal to draw on.
    pub terminal: Tty,
}

impl TerminalGuard {
    /// Takes over the terminal (fails cleanly when there is none).
    pub fn enter() -> Result<Self, TerminalError> {
        if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
            return Err(TerminalError::NotATerminal);
        }
        enable_raw_mode()?;
        let entered = execute!(io::stdout(), EnterAlternateScreen, Hide)
            .map_err(TerminalError::from)
            .and_then(|()| Ok(Terminal::new(CrosstermBackend::new(io::stdout()))?));
        match entered {
            Ok(terminal) => Ok(Self { terminal }),
            Err(error) => {
                restore();
                Err(error)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Draws one frame inside a synchronized update (DEC private mode 2026): a terminal that
/// supports it shows the frame all at once, so a resize — which clears the screen before the
/// redraw — never flashes an empty screen; terminals without it ignore the two sequences.
pub fn draw_synchronized(
    terminal: &mut Tty,
    render: impl FnOnce(&mut ratatui::Frame),
) -> io::Result<()> {
    use ratatui::crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
    execute!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    let drawn = terminal.draw(render).map(|_| ());
    // End the update even when drawing failed, so the terminal is never left holding frames.
    let ended = execute!(terminal.backend_mut(), EndSynchronizedUpdate);
    drawn.and(ended)
}
