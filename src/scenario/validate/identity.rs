//! Scenario metadata, auth settings, tenants, permissions, roles and personas.

use super::{Cx, secs};
use crate::scenario::model::*;
use crate::scenario::raw::{RawAuth, RawMeta, RawPermission, RawPersona, RawRole, RawTenant};

/// The identity sections, for tables filled from them.
pub(crate) struct Identities<'a> {
    pub tenants: &'a [Tenant],
    pub roles: &'a [Role],
    pub personas: &'a [Persona],
}

/// Whether `label` is a valid DNS label: lowercase letters, digits and inner hyphens, 1–63 long.
fn is_dns_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

pub(crate) fn validate_meta(cx: &mut Cx, raw: &RawMeta) -> Meta {
    if raw.name.is_empty()
        || !raw
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        cx.error(
            raw.name.span(),
            format!("scenario name `{}` is not a simple name", raw.name),
            "use letters, digits, `-` and `_` only, e.g. `saas`",
        );
    }
    if !raw.domain.split('.').all(is_dns_label) {
        cx.error(
            raw.domain.span(),
            format!("`{}` is not a valid domain", raw.domain),
            "use dot-separated lowercase labels, e.g. \"archsim.test\"",
        );
    }
    Meta {
        name: raw.name.get().clone(),
        title: raw.title.clone(),
        description: raw.description.trim().to_string(),
        seed: raw.seed,
        domain: raw.domain.get().clone(),
    }
}

pub(crate) fn validate_auth(cx: &mut Cx, raw: &RawAuth) -> AuthConfig {
    if raw.signing_key.len() < 32 {
        cx.error(
            raw.signing_key.span(),
            format!(
                "the signing key is {} bytes long; HS256 needs at least 32",
                raw.signing_key.len()
            ),
            "use a longer random string (a demo value, never a real secret)",
        );
    }
    for (field, value) in [("issuer", &raw.issuer), ("audience", &raw.audience)] {
        if value.trim().is_empty() {
            cx.error(
                value.span(),
                format!("`auth.{field}` is empty"),
                "tokens are checked against it; give it a value",
            );
        }
    }
    if *raw.token_ttl_s == 0 {
        cx.error(
            raw.token_ttl_s.span(),
            "`token_ttl_s` must be at least 1",
            "a token that expires at once is never valid; 900 (15 minutes) is typical",
        );
    }
    AuthConfig {
        issuer: raw.issuer.get().clone(),
        audience: raw.audience.get().clone(),
        signing_key: raw.signing_key.get().clone(),
        token_ttl: secs(*raw.token_ttl_s as f64),
        leeway: secs(raw.leeway_s as f64),
    }
}

pub(crate) fn validate_tenants(cx: &mut Cx, raw: &[RawTenant]) -> Vec<Tenant> {
    let mut tenants = Vec::new();
    for tenant in raw {
        if !is_dns_label(&tenant.subdomain) {
            cx.error(
                tenant.subdomain.span(),
                format!("subdomain `{}` is not a valid DNS label", tenant.subdomain),
                "use lowercase letters, digits and inner hyphens, at most 63 characters",
            );
        }
        cx.declare("tenant", &tenant.subdomain);
        tenants.push(Tenant {
            id: tenants.len() as i64 + 1,
            subdomain: tenant.subdomain.get().clone(),
            name: tenant.name.clone(),
            plan: tenant.plan.clone(),
        });
    }
    tenants
}

pub(crate) fn validate_permissions(cx: &mut Cx, raw: &[RawPermission]) -> Vec<Permission> {
    let mut permissions: Vec<Permission> = Vec::new();
    for permission in raw {
        cx.declare("permission", &permission.name);
        if *permission.bit > 63 {
            cx.error(
                permission.bit.span(),
                format!("bit {} does not fit a 64-bit role mask", permission.bit),
                "use a bit position from 0 to 63",
            );
        } else if let Some(other) = permissions.iter().find(|p| p.bit == *permission.bit) {
            cx.error(
                permission.bit.span(),
                format!(
                    "bit {} is already used by permission `{}`",
                    permission.bit, other.name
                ),
                "give each permission its own bit",
            );
        }
        permissions.push(Permission {
            name: permission.name.get().clone(),
            bit: *permission.bit,
            explain: permission.explain.clone(),
        });
    }
    permissions
}

pub(crate) fn validate_roles(
    cx: &mut Cx,
    raw: &[RawRole],
    permissions: &[Permission],
) -> Vec<Role> {
    let mut roles = Vec::new();
    for role in raw {
        cx.declare("role", &role.name);
        let mut mask = 0u64;
        for name in &role.permissions {
            if cx.expect_declared("permission", name, &format!("role `{}`", role.name))
                && let Some(permission) = permissions.iter().find(|p| p.name == **name)
                && permission.bit < 64
            {
                mask |= permission.mask();
            }
        }
        roles.push(Role {
            id: roles.len() as i64 + 1,
            name: role.name.get().clone(),
            mask,
            explain: role.explain.clone(),
        });
    }
    roles
}

pub(crate) fn validate_personas(cx: &mut Cx, raw: &[RawPersona]) -> Vec<Persona> {
    let mut personas: Vec<Persona> = Vec::new();
    for persona in raw {
        let who = format!("persona `{}`", persona.name);
        cx.declare("persona", &persona.name);
        cx.expect_declared("tenant", &persona.tenant, &who);
        cx.expect_declared("role", &persona.role, &who);
        let email = persona.email.get();
        let well_formed = email
            .split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
        if !well_formed {
            cx.error(
                persona.email.span(),
                format!("`{email}` is not an email address"),
                "write it like \"alice@acme.example\"",
            );
        } else if personas.iter().any(|p| p.email.eq_ignore_ascii_case(email)) {
            cx.error(
                persona.email.span(),
                format!("email `{email}` is used by two personas"),
                "emails are login names and must be unique",
            );
        }
        if persona.password.chars().count() < 8 {
            cx.error(
                persona.password.span(),
                "passwords must be at least 8 characters",
                "use a longer demo password",
            );
        }
        personas.push(Persona {
            id: personas.len() as i64 + 1,
            name: persona.name.get().clone(),
            tenant: persona.tenant.get().clone(),
            role: persona.role.get().clone(),
            email: email.clone(),
            password: persona.password.get().clone(),
            display_name: if persona.display_name.is_empty() {
                persona.name.get().clone()
            } else {
                persona.display_name.clone()
            },
            explain: persona.explain.clone(),
        });
    }
    personas
}
