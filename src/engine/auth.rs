//! Access tokens: HS256 JWTs signed with the scenario's key, and their verification.
//!
//! Verification is strict and explains itself: the header is decoded first and any algorithm but
//! HS256 (notably `none`) is refused before the signature is looked at; then the signature, the
//! issuer and the audience are checked by `jsonwebtoken`, and `exp`/`nbf` against the *engine*
//! clock (not the system clock), so tokens behave the same in virtual time. Every check lands in
//! the trace.
//!
//! A token whose signature, issuer and audience passed once is remembered by its exact text
//! ([`TokenService::verify`]'s memo), as API gateways cache verified tokens: the same bytes under
//! the same key cannot verify differently, so the trace's checks stay true. `exp` and `nbf`
//! depend on the clock and are checked on every request.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scenario::{AuthConfig, Persona, Scenario, TokenKind};

/// The longest token lifetime, in seconds (a year): the bound `check` holds `token_ttl_s` to.
pub const MAX_TOKEN_TTL_S: u64 = 31_536_000;
/// The claims archsim puts in an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Subject: the user id.
    pub sub: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Not before (Unix seconds).
    pub nbf: u64,
    /// Expires at (Unix seconds).
    pub exp: u64,
    /// Tenant subdomain the user belongs to.
    pub tid: String,
    /// Role name.
    pub role: String,
    /// Role permission bitmask.
    pub perm: u64,
    /// Persona (login) name, for logs and traces.
    pub name: String,
}

/// A token that passed every check.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Decoded header.
    pub header: Value,
    /// Verified claims.
    pub claims: Claims,
    /// The checks that ran, for the trace.
    pub checks: Vec<TokenCheck>,
}

/// Why a token was refused.
#[derive(Debug, Clone)]
pub struct AuthFailure {
    /// Machine-readable error code, e.g. `token_expired`.
    pub code: &'static str,
    /// Human explanation.
    pub message: String,
    /// Decoded header, if it could be decoded.
    pub header: Option<Value>,
    /// Decoded (unverified) claims, if they could be decoded.
    pub claims: Option<Value>,
    /// The checks that ran, the last one failed.
    pub checks: Vec<TokenCheck>,
}

/// One check a token went through (the algorithm, the signature, `exp`, …), as the trace shows
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenCheck {
    /// What was checked, e.g. `alg`, `signature`, `exp`.
    pub check: String,
    /// Whether the token passed it.
    pub ok: bool,
    /// What was seen, e.g. `HS256` or `expired 30 s ago`.
    pub detail: String,
}

/// Tokens the memo holds at most; past it the memo starts again empty (a client population
/// this large reuses few tokens anyway).
const MEMO_CAPACITY: usize = 4096;

/// A token's header and claims once its signature, issuer and audience passed.
#[derive(Debug)]
struct Signed {
    header: Value,
    claims: Claims,
    /// The claims as the token carries them (a refusal shows them, extra claims included).
    raw_claims: Option<Value>,
}

/// Signs and verifies tokens with the scenario's key.
#[derive(Clone)]
pub struct TokenService {
    config: AuthConfig,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Tokens whose signature, issuer and audience passed, by their text (see the module docs).
    memo: Arc<Mutex<HashMap<String, Arc<Signed>>>>,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

fn check(name: &str, ok: bool, detail: impl Into<String>) -> TokenCheck {
    TokenCheck {
        check: name.to_string(),
        ok,
        detail: detail.into(),
    }
}

fn decode_part(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl TokenService {
    /// A token service for the scenario's auth settings.
    pub fn new(config: &AuthConfig) -> Self {
        let key = config.signing_key.as_bytes();
        Self {
            config: config.clone(),
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            memo: Arc::default(),
        }
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Signed>>> {
        self.memo
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The claims of a fresh token for `persona`, issued at `now` (Unix seconds), valid `ttl_s`.
    pub fn claims_for(
        &self,
        scenario: &Scenario,
        persona: &Persona,
        now: u64,
        ttl_s: u64,
    ) -> Claims {
        let mask = scenario.role(&persona.role).map_or(0, |r| r.mask);
        Claims {
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            sub: persona.id.to_string(),
            iat: now,
            nbf: now,
            // A lifetime past the longest a scenario may set is cut to it: `exp` after `iat`,
            // always, whatever a command asks for.
            exp: now.saturating_add(ttl_s.min(MAX_TOKEN_TTL_S)),
            tid: persona.tenant.clone(),
            role: persona.role.clone(),
            perm: mask,
            name: persona.name.clone(),
        }
    }

    /// The default token lifetime in seconds.
    pub fn default_ttl_s(&self) -> u64 {
        self.config.token_ttl.as_secs()
    }

    /// Signs `claims` with HS256.
    pub fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .unwrap_or_default()
    }

    /// A token of `kind` for `claims` (which should be fresh), or `None` for [`TokenKind::Missing`].
    /// The bad kinds are real attacks or mistakes, built the way an attacker would build them.
    pub fn mint(&self, kind: TokenKind, mut claims: Claims) -> Option<String> {
        match kind {
            TokenKind::Missing => None,
            TokenKind::Valid => Some(self.sign(&claims)),
            TokenKind::Expired => {
                let lifetime = claims.exp.saturating_sub(claims.iat);
                claims.exp = claims.iat.saturating_sub(3600);
                claims.iat = claims.exp.saturating_sub(lifetime);
                claims.nbf = claims.iat;
                Some(self.sign(&claims))
            }
            TokenKind::BadSignature => {
                let forged = EncodingKey::from_secret(b"not-the-signing-key-of-this-scenario!!");
                jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &forged).ok()
            }
            TokenKind::AlgNone => {
                let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
                let payload =
                    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
                Some(format!("{header}.{payload}."))
            }
            TokenKind::WrongAudience => {
                claims.aud = "some-other-api".to_string();
                Some(self.sign(&claims))
            }
        }
    }

    /// Verifies `token` at engine time `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: u64) -> Result<Verified, Box<AuthFailure>> {
        let known = self.memo().get(token).cloned();
        let signed = match known {
            Some(signed) => signed,
            None => {
                let signed = Arc::new(self.verify_signature(token)?);
                let mut memo = self.memo();
                if memo.len() >= MEMO_CAPACITY {
                    memo.clear();
                }
                memo.insert(token.to_string(), signed.clone());
                signed
            }
        };
        self.check_times(&signed, now)
    }

    /// The checks that do not depend on the clock: the format, the algorithm, the signature,
    /// the issuer and the audience.
    fn verify_signature(&self, token: &str) -> Result<Signed, Box<AuthFailure>> {
        let mut checks = Vec::new();
        let parts: Vec<&str> = token.split('.').collect();
        let fail = |code: &'static str,
                    message: String,
                    header: Option<Value>,
                    claims: Option<Value>,
                    checks: Vec<TokenCheck>| {
            Box::new(AuthFailure {
                code,
                message,
                header,
                claims,
                checks,
            })
        };
        if parts.len() != 3 {
            checks.push(check(
                "format",
                false,
                format!("a JWT has 3 dot-separated parts, this has {}", parts.len()),
            ));
            return Err(fail(
                "invalid_token",
                "the token is not a JWT".into(),
                None,
                None,
                checks,
            ));
        }
        let header = decode_part(parts[0]);
        let unverified_claims = decode_part(parts[1]);
        let Some(header_json) = header.clone() else {
            checks.push(check(
                "format",
                false,
                "the header is not base64url-encoded JSON",
            ));
            return Err(fail(
                "invalid_token",
                "the token header cannot be decoded".into(),
                None,
                unverified_claims,
                checks,
            ));
        };
        let alg = header_json
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or("(missing)")
            .to_string();
        if alg != "HS256" {
            checks.push(check(
                "alg",
                false,
                format!("`{alg}` is not accepted; only HS256"),
            ));
            return Err(fail(
                "unsupported_algorithm",
                format!("token algorithm `{alg}` is not accepted; only HS256"),
                header,
                unverified_claims,
                checks,
            ));
        }
        checks.push(check("alg", true, "HS256"));

        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        // exp and nbf are checked below against the engine clock, not the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims = match jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation) {
            Ok(data) => data.claims,
            Err(error) => {
                let (code, name, message) = match error.kind() {
                    ErrorKind::InvalidSignature => (
                        "invalid_signature",
                        "signature",
                        "the signature does not match the signing key".to_string(),
                    ),
                    ErrorKind::InvalidIssuer => (
                        "invalid_issuer",
                        "iss",
                        format!("the issuer is not `{}`", self.config.issuer),
                    ),
                    ErrorKind::InvalidAudience => (
                        "invalid_audience",
                        "aud",
                        format!("the audience is not `{}`", self.config.audience),
                    ),
                    ErrorKind::MissingRequiredClaim(claim) => (
                        "missing_claim",
                        "claims",
                        format!("the `{claim}` claim is missing"),
                    ),
                    ErrorKind::Json(json) => ("invalid_token", "claims", malformed_claims(json)),
                    ErrorKind::Base64(_) | ErrorKind::Utf8(_) => (
                        "invalid_token",
                        "format",
                        "the token is not base64url-encoded JSON".to_string(),
                    ),
                    _ => (
                        "invalid_token",
                        "decode",
                        "the token cannot be verified".to_string(),
                    ),
                };
                if name != "signature" {
                    checks.push(check("signature", true, "HMAC-SHA256 matches"));
                }
                checks.push(check(name, false, message.clone()));
                return Err(fail(code, message, header, unverified_claims, checks));
            }
        };
        Ok(Signed {
            header: header_json,
            claims,
            raw_claims: unverified_claims,
        })
    }

    /// Every check of a token whose signature passed, with `exp` and `nbf` at `now`.
    fn check_times(&self, signed: &Signed, now: u64) -> Result<Verified, Box<AuthFailure>> {
        let Signed {
            header,
            claims,
            raw_claims,
        } = signed;
        let mut checks = vec![
            check("alg", true, "HS256"),
            check("signature", true, "HMAC-SHA256 matches"),
            check("iss", true, claims.iss.clone()),
            check("aud", true, claims.aud.clone()),
        ];
        let fail = |code: &'static str, message: String, checks: Vec<TokenCheck>| {
            Box::new(AuthFailure {
                code,
                message,
                header: Some(header.clone()),
                claims: raw_claims.clone(),
                checks,
            })
        };
        let leeway = self.config.leeway.as_secs();
        if now > claims.exp + leeway {
            checks.push(check(
                "exp",
                false,
                format!(
                    "expired {} s ago (exp {} < now {now})",
                    now - claims.exp,
                    claims.exp
                ),
            ));
            return Err(fail(
                "token_expired",
                format!("the token expired {} seconds ago", now - claims.exp),
                checks,
            ));
        }
        checks.push(check(
            "exp",
            true,
            format!(
                "valid for {} s more (exp {} ≥ now {now})",
                claims.exp.saturating_sub(now),
                claims.exp
            ),
        ));
        if now.saturating_add(leeway) < claims.nbf {
            checks.push(check(
                "nbf",
                false,
                format!("not valid before {} (now {now})", claims.nbf),
            ));
            return Err(fail(
                "token_not_yet_valid",
                "the token is not valid yet".into(),
                checks,
            ));
        }
        checks.push(check(
            "nbf",
            true,
            format!("nbf {} ≤ now {now}", claims.nbf),
        ));
        Ok(Verified {
            header: header.clone(),
            claims: claims.clone(),
            checks,
        })
    }
}

/// What is wrong with a token whose header or claims do not decode, in words: the claim that
/// is missing, or that a claim has the wrong type — never the decoder's own message, which
/// names Rust types and byte positions.
fn malformed_claims(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if let Some(field) = text
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        return format!("the `{field}` claim is missing");
    }
    match error.classify() {
        serde_json::error::Category::Data => {
            "a claim or header field has the wrong type (exp, nbf and iat are numbers; sub, \
             tid, iss, aud, alg and kid are strings)"
                .to_string()
        }
        _ => "the token's header or claims are not valid JSON".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scenario::load_or_default;

    const NOW: u64 = 1_767_225_600;

    fn service() -> (TokenService, Claims) {
        let scenario = load_or_default(None).expect("default scenario");
        let tokens = TokenService::new(&scenario.auth);
        let alice = scenario.persona("alice").expect("alice").clone();
        let claims = tokens.claims_for(&scenario, &alice, NOW, 900);
        (tokens, claims)
    }

    #[test]
    fn a_fresh_token_verifies_and_carries_the_role_mask() {
        let (tokens, claims) = service();
        let token = tokens
            .mint(TokenKind::Valid, claims.clone())
            .expect("token");
        let verified = tokens.verify(&token, NOW + 10).expect("valid");
        assert_eq!(verified.claims, claims);
        assert_eq!(verified.claims.tid, "acme");
        assert_eq!(verified.claims.perm, 0b111_1111);
    }

    #[test]
    fn every_bad_kind_is_refused_with_its_own_code() {
        let (tokens, claims) = service();
        let code = |kind| {
            let token = tokens.mint(kind, claims.clone()).expect("token");
            tokens.verify(&token, NOW + 10).err().map(|f| f.code)
        };
        assert_eq!(code(TokenKind::Expired), Some("token_expired"));
        assert_eq!(code(TokenKind::BadSignature), Some("invalid_signature"));
        assert_eq!(code(TokenKind::AlgNone), Some("unsupported_algorithm"));
        assert_eq!(code(TokenKind::WrongAudience), Some("invalid_audience"));
        assert!(tokens.mint(TokenKind::Missing, claims).is_none());
    }

    #[test]
    fn expiry_follows_the_engine_clock_with_leeway() {
        let (tokens, claims) = service();
        let token = tokens.sign(&claims);
        assert!(
            tokens.verify(&token, claims.exp + 5).is_ok(),
            "within the 5 s leeway"
        );
        let failure = tokens.verify(&token, claims.exp + 6).expect_err("expired");
        assert_eq!(failure.code, "token_expired");
        assert_eq!(
            failure.claims.and_then(|c| c.get("sub").cloned()),
            Some(json!("1"))
        );
    }

    #[test]
    fn garbage_is_an_invalid_token_not_a_panic() {
        let (tokens, _) = service();
        for token in ["", "a.b", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9.e30.xx"] {
            assert!(tokens.verify(token, NOW).is_err(), "{token}");
        }
    }

    /// A token signed with the right key whose header or claims have the wrong shape.
    fn signed(tokens: &TokenService, header: Value, claims: Value) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"));
        let message = format!("{}.{}", part(&header), part(&claims));
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &tokens.encoding, Algorithm::HS256)
                .expect("signs");
        format!("{message}.{signature}")
    }

    #[test]
    fn a_malformed_but_signed_token_is_refused_in_words_without_decoder_internals() {
        let (tokens, claims) = service();
        let mut claims = serde_json::to_value(&claims).expect("json");
        let header = json!({ "alg": "HS256", "typ": "JWT" });
        let mut without_tid = claims.clone();
        without_tid.as_object_mut().expect("object").remove("tid");
        let mut exp_never = claims.clone();
        exp_never["exp"] = json!("never");
        let cases = [
            (header.clone(), without_tid, "the `tid` claim is missing"),
            (
                header.clone(),
                exp_never,
                "a claim or header field has the wrong type",
            ),
            (
                json!({ "alg": "HS256", "kid": 123 }),
                claims.take(),
                "a claim or header field has the wrong type",
            ),
        ];
        for (header, claims, expected) in cases {
            let token = signed(&tokens, header, claims);
            let failure = tokens.verify(&token, NOW + 10).expect_err("refused");
            assert_eq!(failure.code, "invalid_token");
            assert!(failure.message.starts_with(expected), "{}", failure.message);
            for internal in ["Error(", "line", "column", "Json", "i64", "u64"] {
                assert!(
                    !failure.message.contains(internal),
                    "`{internal}` in {}",
                    failure.message
                );
            }
        }
    }
}
