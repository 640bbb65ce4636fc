//! Pass 3a: the rows of each table — generated from an identity section, or seed rows checked
//! value by value against their columns.

use serde_json::Value as Json;

use super::columns::outside;
use super::values::{check_timestamp, json_type_name, normalize};
use crate::scenario::model::*;
use crate::scenario::span::Sp;
use crate::scenario::validate::Cx;
use crate::scenario::validate::identity::Identities;
use crate::scenario::validate::rfc3339;

pub(super) fn identity_rows(fill: FillFrom, identities: &Identities) -> Vec<Row> {
    let row = |pairs: Vec<(&str, Json)>| {
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Row>()
    };
    match fill {
        FillFrom::Tenants => identities
            .tenants
            .iter()
            .map(|t| {
                row(vec![
                    ("id", t.id.into()),
                    ("subdomain", t.subdomain.clone().into()),
                    ("name", t.name.clone().into()),
                    ("plan", t.plan.clone().into()),
                ])
            })
            .collect(),
        FillFrom::Roles => identities
            .roles
            .iter()
            .map(|r| {
                row(vec![
                    ("id", r.id.into()),
                    ("name", r.name.clone().into()),
                    ("permissions", r.mask.into()),
                ])
            })
            .collect(),
        FillFrom::Personas => identities
            .personas
            .iter()
            .map(|p| {
                let tenant = identities
                    .tenants
                    .iter()
                    .find(|t| t.subdomain == p.tenant)
                    .map_or(0, |t| t.id);
                let role = identities
                    .roles
                    .iter()
                    .find(|r| r.name == p.role)
                    .map_or(0, |r| r.id);
                row(vec![
                    ("id", p.id.into()),
                    (TENANT_COLUMN, tenant.into()),
                    ("role_id", role.into()),
                    ("email", p.email.clone().into()),
                    ("name", p.display_name.clone().into()),
                ])
            })
            .collect(),
    }
}

fn auto_name(auto: AutoValue) -> &'static str {
    match auto {
        AutoValue::Now => "now",
        AutoValue::CurrentUser => "current_user",
    }
}

/// A value of type `ty` as written in a seed row, for help texts.
fn example_value(ty: ColumnType) -> String {
    match ty {
        ColumnType::Integer => "1".to_string(),
        ColumnType::Real => "1.5".to_string(),
        ColumnType::Text => "\"text\"".to_string(),
        ColumnType::Boolean => "false".to_string(),
        ColumnType::Timestamp => format!("\"{}\"", rfc3339::EXAMPLE),
    }
}

/// A seed row value with its position, for pass 3.
pub(super) type SpannedRow<'r> = Vec<(&'r str, Json, std::ops::Range<usize>)>;

/// Pass 3a: a seed row's own values.
pub(super) fn check_row<'r>(
    cx: &mut Cx,
    table: &Table,
    raw_row: &'r Sp<indexmap::IndexMap<String, Sp<Json>>>,
    next_id: &mut i64,
) -> (Row, SpannedRow<'r>) {
    let mut row = Row::new();
    let mut spanned = Vec::new();
    for (name, value) in raw_row.iter() {
        let value_json = normalize(value);
        let Some(column) = table.column(name) else {
            let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
            cx.error(
                value.span(),
                format!("row sets unknown column `{name}` of table `{}`", table.name),
                crate::scenario::diagnostic::unknown_name_help(
                    "column",
                    name,
                    names.iter().copied(),
                ),
            );
            continue;
        };
        if value_json.is_null() {
            // TOML has no null: a null here was a `nan` or `inf`, which JSON cannot hold.
            cx.error(
                value.span(),
                format!("`{}.{name}` cannot store nan or inf", table.name),
                format!("write a finite value of type {}", column.ty.as_str()),
            );
        } else if !column.ty.accepts(&value_json) {
            cx.error(
                value.span(),
                format!(
                    "`{}.{name}` is {}, but this row gives it {}",
                    table.name,
                    column.ty.as_str(),
                    json_type_name(&value_json)
                ),
                format!("write a value of type {}", column.ty.as_str()),
            );
        } else if let (Some(max), Some(text)) = (column.max_length, value_json.as_str())
            && text.chars().count() > max as usize
        {
            cx.error(
                value.span(),
                format!(
                    "`{}.{name}` allows {max} characters, this value has {}",
                    table.name,
                    text.chars().count()
                ),
                "shorten the value or raise `max_length`",
            );
        } else if column.ty == ColumnType::Timestamp {
            let what = format!("`{}.{name}`", table.name);
            check_timestamp(cx, value.span(), &value_json, &what);
        } else if let Some(number) = value_json.as_f64()
            && let Some(problem) = outside(number, column.min.as_ref(), column.max.as_ref())
        {
            cx.error(
                value.span(),
                format!("`{}.{name}` in this row {problem}", table.name),
                "seed rows follow the column's limits too: change the value or the limit",
            );
        }
        spanned.push((name.as_str(), value_json.clone(), value.span()));
        row.insert(name.clone(), value_json);
    }
    for column in &table.columns {
        if row.contains_key(&column.name) {
            continue;
        }
        if table.is_generated(column) {
            row.insert(column.name.clone(), Json::from(*next_id));
        } else if let Some(default) = &column.default {
            row.insert(column.name.clone(), default.clone());
        } else if !column.nullable {
            let help = match column.auto {
                // `auto` fills API creates; a seed row is inserted as written.
                Some(auto) => format!(
                    "`auto = \"{}\"` fills the column only for rows created through the API: \
                     give seed rows a value, e.g. `{} = {}`",
                    auto_name(auto),
                    column.name,
                    example_value(column.ty)
                ),
                None => format!(
                    "add `{} = ...` to the row, or give the column a default",
                    column.name
                ),
            };
            cx.error(
                raw_row.span(),
                format!(
                    "row of `{}` has no value for required column `{}`",
                    table.name, column.name
                ),
                help,
            );
        }
    }
    if let Some(id) = table
        .primary_key()
        .first()
        .filter(|_| table.primary_key().len() == 1)
        .and_then(|pk| row.get(&pk.name))
        .and_then(Json::as_i64)
    {
        // A seed row's id of i64::MAX leaves no next id: saturate instead of overflowing.
        *next_id = (*next_id).max(id.saturating_add(1));
    }
    (row, spanned)
}
