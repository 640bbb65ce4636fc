//! The load generators' token wallet: each simulated client keeps the token it was issued and
//! sends it again until half its lifetime is gone, then asks for a fresh one — as an OAuth
//! client refreshes ahead of expiry. Minting a new JWT for every generated arrival is neither
//! what clients do nor cheap (it was a tenth of a virtual run). Requests a person sends (a named
//! request, a step in the TUI) still get a token minted as they are sent.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::scenario::TokenKind;

/// A token in the wallet.
#[derive(Debug, Clone)]
struct Held {
    token: String,
    /// When the client asks for a new one, engine Unix seconds.
    renew_at: u64,
}

/// Tokens held by the generated clients, by persona and kind.
#[derive(Debug, Default)]
pub(crate) struct Wallet {
    held: Mutex<HashMap<(String, TokenKind), Held>>,
}

impl Wallet {
    /// The token `persona` holds of `kind` at `now` (engine Unix seconds), or a new one from
    /// `mint` (which issues a token valid `ttl_s` from `now`) when none is held or the one held
    /// is past half its life. `None` when `mint` issues none (a request sent without a token).
    pub(crate) fn token<E>(
        &self,
        persona: &str,
        kind: TokenKind,
        now: u64,
        ttl_s: u64,
        mint: impl FnOnce() -> Result<Option<String>, E>,
    ) -> Result<Option<String>, E> {
        let key = (persona.to_string(), kind);
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(current) = held.get(&key)
            && now < current.renew_at
        {
            return Ok(Some(current.token.clone()));
        }
        let Some(token) = mint()? else {
            return Ok(None);
        };
        held.insert(
            key,
            Held {
                token: token.clone(),
                renew_at: now.saturating_add(ttl_s / 2),
            },
        );
        Ok(Some(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(counter: &mut u32) -> Result<Option<String>, ()> {
        *counter += 1;
        Ok(Some(format!("token-{counter}")))
    }

    #[test]
    fn a_token_is_reused_until_half_its_life_then_renewed() {
        let wallet = Wallet::default();
        let mut minted = 0;
        let first = wallet.token("alice", TokenKind::Valid, 1000, 900, || issue(&mut minted));
        assert_eq!(first, Ok(Some("token-1".into())));
        let again = wallet.token("alice", TokenKind::Valid, 1449, 900, || issue(&mut minted));
        assert_eq!(again, Ok(Some("token-1".into())), "still in its first half");
        let renewed = wallet.token("alice", TokenKind::Valid, 1450, 900, || issue(&mut minted));
        assert_eq!(renewed, Ok(Some("token-2".into())), "half its life is gone");
        assert_eq!(minted, 2);
    }

    #[test]
    fn personas_and_kinds_hold_their_own_tokens() {
        let wallet = Wallet::default();
        let mut minted = 0;
        let _ = wallet.token("alice", TokenKind::Valid, 0, 900, || issue(&mut minted));
        let bob = wallet.token("bob", TokenKind::Valid, 0, 900, || issue(&mut minted));
        let expired = wallet.token("alice", TokenKind::Expired, 0, 900, || issue(&mut minted));
        assert_eq!(bob, Ok(Some("token-2".into())));
        assert_eq!(expired, Ok(Some("token-3".into())));
    }

    #[test]
    fn no_token_is_held_when_none_is_minted() {
        let wallet = Wallet::default();
        let none: Result<Option<String>, ()> =
            wallet.token("alice", TokenKind::Missing, 0, 900, || Ok(None));
        assert_eq!(none, Ok(None));
    }
}
