//! What the integration tests share: a scenario built from a few TOML tables.

use archsim::scenario::{Scenario, load_str};

#[allow(dead_code)] // Only the terminal tests use it.
pub mod pty;

#[allow(dead_code)] // Only the attack suite uses it.
pub mod attack;

/// `body` (topics, workers, traffic, faults…) under the smallest valid scenario header, with
/// `seed`; panics with the positioned diagnostics if the result does not validate.
#[allow(dead_code)] // Each test crate compiles this module and uses what it needs.
pub fn scenario_with(seed: u64, body: &str) -> Scenario {
    let text = scenario_text(seed, body);
    load_str("test.toml", &text).unwrap_or_else(|d| panic!("invalid test scenario:\n{d}"))
}

/// The TOML text [`scenario_with`] loads, for tests that expect it to be refused.
pub fn scenario_text(seed: u64, body: &str) -> String {
    format!(
        r#"
[scenario]
name = "test"
title = "Test scenario"
seed = {seed}

[auth]
issuer = "https://auth.test"
audience = "test"
signing_key = "0123456789abcdef0123456789abcdef"
{body}"#
    )
}

/// The screen as text, one line per row (styles left out; colour is covered by theme tests).
#[allow(dead_code)]
pub fn screen_text(buffer: &ratatui::buffer::Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut skip = 0;
        for x in 0..area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let symbol = buffer[(x, y)].symbol();
            // A wide symbol covers the cells after it: print it once.
            skip = ratatui::text::Span::raw(symbol).width().saturating_sub(1);
            out.push_str(symbol);
        }
        out.push('\n');
    }
    out
}

/// A headless app `seconds` engine seconds into the default scenario, its log lines captured
/// for the Logs view while the returned guard lives.
#[allow(dead_code)]
pub async fn headless_with_logs(
    seconds: u64,
) -> (
    archsim::tui::headless::Headless,
    tracing::subscriber::DefaultGuard,
) {
    use archsim::tui::log_capture::{self, LogBuffer};
    let buffer = LogBuffer::new();
    let guard = tracing::subscriber::set_default(log_capture::subscriber(&buffer));
    let scenario = load_str("saas.toml", archsim::scenario::DEFAULT_SCENARIO)
        .expect("the default scenario is valid");
    let mut app = archsim::tui::headless::Headless::start(
        std::sync::Arc::new(scenario),
        archsim::tui::theme::Theme::new(archsim::tui::ThemeName::Dark),
    )
    .expect("engine starts")
    .with_logs(buffer);
    app.advance(std::time::Duration::from_secs(seconds)).await;
    (app, guard)
}
