//! `archsim token`: print a signed access token for a persona (for curl against `serve`).

use std::path::PathBuf;

use super::{EXIT_OK, EXIT_USAGE, report_load_error};
use crate::engine::auth::TokenService;
use crate::engine::clock::EngineClock;
use crate::scenario::{self, TokenKind};

/// Prints a token for `persona`, valid for `ttl` seconds (default: the scenario's), issued now.
pub fn run(file: Option<PathBuf>, persona: &str, ttl: Option<u64>) -> u8 {
    let scenario = match scenario::load_or_default(file.as_deref()) {
        Ok(scenario) => scenario,
        Err(error) => return report_load_error(&error),
    };
    let Some(persona) = scenario.persona(persona) else {
        let known: Vec<&str> = scenario.personas.iter().map(|p| p.name.as_str()).collect();
        eprintln!(
            "archsim token: no persona `{persona}`; the scenario has: {}",
            known.join(", ")
        );
        return EXIT_USAGE;
    };
    let tokens = TokenService::new(&scenario.auth);
    let ttl = ttl.unwrap_or_else(|| tokens.default_ttl_s());
    // Live time: the token must be valid for a server running now on the wall clock.
    let now = EngineClock::live().unix_secs();
    let claims = tokens.claims_for(&scenario, persona, now, ttl);
    match tokens.mint(TokenKind::Valid, claims) {
        Some(token) => {
            println!("{token}");
            EXIT_OK
        }
        None => EXIT_USAGE,
    }
}
