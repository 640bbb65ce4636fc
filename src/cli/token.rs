//! `archsim token`: print a signed access token for a persona (for curl against `serve`).

use std::path::PathBuf;

use super::{EXIT_OK, EXIT_USAGE, report_load_error};
use crate::engine::{Clock, Command, Engine, Epoch, Options, Reply};
use crate::scenario::{self, TokenKind};

/// Prints a token for `persona`, valid for `ttl` seconds (default: the scenario's), issued now.
pub fn run(file: Option<PathBuf>, persona: &str, ttl: Option<u64>) -> u8 {
    let scenario = match scenario::load_or_default(file.as_deref()) {
        Ok(scenario) => scenario,
        Err(error) => return report_load_error(&error),
    };
    // A quiet engine whose clock starts at the real time: the token must be valid for a server
    // running now on the wall clock.
    let options = Options::quiet(Clock::Virtual).epoch(Epoch::Now);
    let engine = match Engine::spawn_with(scenario, options) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("archsim token: {error}");
            return EXIT_USAGE;
        }
    };
    let command = Command::Token {
        persona: persona.to_string(),
        kind: TokenKind::Valid,
        ttl_s: ttl,
    };
    match engine.execute(command).wait() {
        Ok(Reply::Token(Some(token))) => {
            outln!("{token}");
            EXIT_OK
        }
        Ok(_) => EXIT_USAGE,
        Err(error) => {
            eprintln!("archsim token: {error}");
            EXIT_USAGE
        }
    }
}
