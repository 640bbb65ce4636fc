//! Who uses the system: `[[tenants]]`, `[[permissions]]`, `[[roles]]` and `[[personas]]`.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::scenario::span::Sp;

/// A tenant: one customer organisation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    /// Subdomain label, also the tenant's short name (`acme` → `acme.archsim.test`).
    pub subdomain: Sp<String>,
    /// Display name.
    pub name: String,
    /// Billing plan.
    #[serde(default = "default_plan")]
    pub plan: String,
}

fn default_plan() -> String {
    "free".to_string()
}

/// A named permission bit.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPermission {
    /// Name used by roles and routes, e.g. `projects.read`.
    pub name: Sp<String>,
    /// Bit position in the role mask (0–63).
    pub bit: Sp<u32>,
    /// What the permission allows.
    #[serde(default)]
    pub explain: String,
}

/// A role: a named set of permissions.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    /// Role name, e.g. `admin`.
    pub name: Sp<String>,
    /// Names of the permissions the role grants.
    #[serde(default)]
    pub permissions: Vec<Sp<String>>,
    /// Who gets this role and why.
    #[serde(default)]
    pub explain: String,
}

/// A persona: a user account of one tenant.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPersona {
    /// Short name used on the command line (`--as alice`).
    pub name: Sp<String>,
    /// Subdomain of the persona's tenant.
    pub tenant: Sp<String>,
    /// Name of the persona's role.
    pub role: Sp<String>,
    /// Login email (unique).
    pub email: Sp<String>,
    /// Login password, at least 8 characters (stored hashed).
    pub password: Sp<String>,
    /// Full display name.
    #[serde(default)]
    pub display_name: String,
    /// What this persona is for in the scenario.
    #[serde(default)]
    pub explain: String,
}
