//! Who uses the system: tenants, permission bits, roles and personas, with their database ids.

use serde::Serialize;

/// A tenant.
#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    /// Database id (position in the file + 1).
    pub id: i64,
    /// Subdomain label.
    pub subdomain: String,
    /// Display name.
    pub name: String,
    /// Billing plan.
    pub plan: String,
}

/// A permission bit.
#[derive(Debug, Clone, Serialize)]
pub struct Permission {
    /// Name.
    pub name: String,
    /// Bit position (0–63).
    pub bit: u32,
    /// What it allows.
    pub explain: String,
}

impl Permission {
    /// The permission as a one-bit mask.
    pub fn mask(&self) -> u64 {
        1u64 << self.bit
    }
}

/// A role.
#[derive(Debug, Clone, Serialize)]
pub struct Role {
    /// Database id (position + 1).
    pub id: i64,
    /// Name.
    pub name: String,
    /// Permission bitmask.
    pub mask: u64,
    /// Who gets it.
    pub explain: String,
}

/// A user account.
#[derive(Debug, Clone, Serialize)]
pub struct Persona {
    /// Database id of the user row (position + 1).
    pub id: i64,
    /// Short name (`--as`).
    pub name: String,
    /// Tenant subdomain.
    pub tenant: String,
    /// Role name.
    pub role: String,
    /// Login email.
    pub email: String,
    /// Login password (hashed when stored).
    #[serde(skip)]
    pub password: String,
    /// Display name.
    pub display_name: String,
    /// Purpose in the scenario.
    pub explain: String,
}
