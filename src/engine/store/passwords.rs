//! Logging in: the user look-up by email (the only read of a password hash), and the Argon2id
//! hashing of persona passwords and their verification.

use std::fmt;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use rusqlite::params_from_iter;
use rusqlite::types::Value as SqlValue;
use serde_json::Map;

use super::records::{explain, sql_to_json};
use super::sql::{quote, quote_list};
use super::{QueryRecord, SECRET_COLUMN, Store, StoreError};
use crate::scenario::model::{FillFrom, TENANT_COLUMN};

/// Argon2id memory cost in KiB (4 MiB).
///
/// Light but real parameters for a demo: OWASP's minimum for Argon2id is 19 MiB, t = 2, but the
/// simulator hashes every persona each time a store opens (scenario load, hot reload, every test),
/// and logs in on the request path. With m = 4 MiB, t = 2, p = 1 one hash (or one verification)
/// took about 4.5–5 ms in a release build on the 2-core dev machine, so the five default personas
/// hash in about 25 ms (a whole `Store::open` of the default scenario: about 30 ms), well under
/// the 100 ms budget. The parameters are written into each PHC string, so verification always uses
/// the ones a hash was made with.
const ARGON2_M_COST_KIB: u32 = 4096;
/// Argon2id passes over memory.
const ARGON2_T_COST: u32 = 2;
/// Argon2id lanes.
const ARGON2_P_COST: u32 = 1;

/// A user account found by email, for login.
#[derive(Clone)]
pub struct UserRecord {
    /// User id (the persona's id).
    pub id: i64,
    /// The tenant the user belongs to.
    pub tenant_id: i64,
    /// The user's role.
    pub role_id: i64,
    /// Login email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Argon2id PHC string; check it with [`verify_password`].
    pub password_hash: String,
    /// The look-up as it ran (its `rows` leave the hash out).
    pub query: QueryRecord,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("role_id", &self.role_id)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("password_hash", &"<argon2id hash>")
            .field("query", &self.query)
            .finish()
    }
}

impl Store {
    /// The user account with this login email (exact match), from the personas-filled table.
    ///
    /// This is the only operation that reads the password hash.
    pub fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let table = self
            .scenario
            .tables
            .iter()
            .find(|t| t.fill == Some(FillFrom::Personas))
            .ok_or_else(|| StoreError::UnknownTable("(users filled from personas)".into()))?;
        let columns = [
            "id",
            TENANT_COLUMN,
            "role_id",
            "email",
            "name",
            SECRET_COLUMN,
        ];
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = ?1",
            quote_list(columns.iter().copied()),
            quote(&table.name),
            quote("email"),
        );
        let params = vec![SqlValue::Text(email.to_string())];
        let conn = self.conn();
        let plan = explain(&conn, &sql, &params)?;
        let mut statement = conn.prepare_cached(&sql)?;
        let found = statement
            .query_map(params_from_iter(params.iter()), |row| {
                Ok(UserRecord {
                    id: row.get(0)?,
                    tenant_id: row.get(1)?,
                    role_id: row.get(2)?,
                    email: row.get(3)?,
                    name: row.get(4)?,
                    password_hash: row.get(5)?,
                    query: QueryRecord::default(),
                })
            })?
            .next()
            .transpose()?;
        Ok(found.map(|mut user| {
            let mut shown = Map::new();
            shown.insert("id".into(), user.id.into());
            shown.insert(TENANT_COLUMN.into(), user.tenant_id.into());
            shown.insert("role_id".into(), user.role_id.into());
            shown.insert("email".into(), user.email.clone().into());
            shown.insert("name".into(), user.name.clone().into());
            user.query = QueryRecord {
                sql,
                params: params.iter().map(sql_to_json).collect(),
                rows: vec![shown],
                rows_affected: 0,
                plan,
            };
            user
        }))
    }
}

/// Checks `password` against an Argon2id PHC string; `false` for a wrong password or a malformed
/// hash. The cost parameters come from the PHC string itself.
pub fn verify_password(hash: &str, password: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A hash of no one's password, with the same parameters as the personas' hashes: a login for
/// an unknown email is checked against it, so it costs as much time as a wrong password and the
/// answer's timing does not tell real emails from unknown ones.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password("archsim: no such user", b"archsim-no-user!").unwrap_or_default()
    })
}

/// Hashes `password` with Argon2id and the demo parameters into a PHC string.
pub(super) fn hash_password(password: &str, salt: &[u8]) -> Result<String, StoreError> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .map_err(|e| StoreError::PasswordHash(e.to_string()))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_with_salt(password.as_bytes(), salt)
        .map(|hash| hash.to_string())
        .map_err(|e| StoreError::PasswordHash(e.to_string()))
}

/// The salt of a persona's hash: the scenario seed and the persona id, 16 bytes.
///
/// Deterministic on purpose: the same scenario and seed must produce the same database, byte for
/// byte, so runs and snapshot tests are reproducible (a random salt would make every users row
/// differ between runs). Each persona still gets its own salt, so equal passwords hash
/// differently. A production system would draw a random salt per hash.
pub(super) fn persona_salt(seed: u64, persona_id: i64) -> [u8; 16] {
    let mut salt = [0u8; 16];
    salt[..8].copy_from_slice(&seed.to_le_bytes());
    salt[8..].copy_from_slice(&persona_id.to_le_bytes());
    salt
}
