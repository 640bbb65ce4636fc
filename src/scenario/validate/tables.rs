//! Tables: columns, keys, indexes, identity-filled tables and seed rows.
//!
//! Three passes, because foreign keys and seed rows may point at tables declared later:
//! 1. declare every table and check its own columns and indexes;
//! 2. check foreign keys and tenant scoping against all tables;
//! 3. build the rows (identity-filled or seed) and check every value, uniqueness and that every
//!    foreign-key value exists in the referenced table.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::identity::Identities;
use super::rfc3339::{self, is_rfc3339};
use super::{Cx, IDENTIFIER_HELP, is_identifier};
use crate::scenario::model::*;
use crate::scenario::raw::{RawColumn, RawTable};
use crate::scenario::span::Sp;

/// The columns an identity-filled table must have, with their types.
fn fill_columns(fill: FillFrom) -> &'static [(&'static str, ColumnType)] {
    match fill {
        FillFrom::Tenants => &[
            ("id", ColumnType::Integer),
            ("subdomain", ColumnType::Text),
            ("name", ColumnType::Text),
            ("plan", ColumnType::Text),
        ],
        FillFrom::Roles => &[
            ("id", ColumnType::Integer),
            ("name", ColumnType::Text),
            ("permissions", ColumnType::Integer),
        ],
        FillFrom::Personas => &[
            ("id", ColumnType::Integer),
            (TENANT_COLUMN, ColumnType::Integer),
            ("role_id", ColumnType::Integer),
            ("email", ColumnType::Text),
            ("name", ColumnType::Text),
            ("password_hash", ColumnType::Text),
        ],
    }
}

fn fill_name(fill: FillFrom) -> &'static str {
    match fill {
        FillFrom::Tenants => "tenants",
        FillFrom::Roles => "roles",
        FillFrom::Personas => "personas",
    }
}

/// Turns TOML-specific JSON shapes (date-times) into plain JSON values.
fn normalize(value: &Json) -> Json {
    match value {
        Json::Object(map) if map.len() == 1 => match map.values().next() {
            Some(Json::String(text)) if map.contains_key("$__toml_private_datetime") => {
                Json::String(text.clone())
            }
            _ => value.clone(),
        },
        _ => value.clone(),
    }
}

fn json_type_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_f64() => "a float",
        Json::Number(_) => "an integer",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "a table",
    }
}

/// Reports a `timestamp` value (`what` names it) that is not RFC 3339.
fn check_timestamp(cx: &mut Cx, span: std::ops::Range<usize>, value: &Json, what: &str) {
    if let Some(text) = value.as_str()
        && !is_rfc3339(text)
    {
        cx.error(
            span,
            format!("{what} is `{text}`, which is not an RFC 3339 timestamp"),
            format!(
                "write a date, `T`, a time and `Z` or an offset, e.g. \"{}\" or \
                 \"2026-01-12T10:00:00+01:00\"",
                rfc3339::EXAMPLE
            ),
        );
    }
}

fn validate_column(cx: &mut Cx, table: &str, raw: &RawColumn) -> Column {
    if !is_identifier(&raw.name) {
        cx.error(
            raw.name.span(),
            format!("column name `{}` is not an SQL identifier", raw.name),
            IDENTIFIER_HELP,
        );
    }
    if let Some(max) = &raw.max_length {
        if !matches!(*raw.ty, ColumnType::Text) {
            cx.error(
                max.span(),
                format!(
                    "`max_length` applies to text columns, but `{table}.{}` is {}",
                    raw.name,
                    raw.ty.as_str()
                ),
                "remove `max_length` or make the column `type = \"text\"`",
            );
        } else if **max == 0 {
            cx.error(
                max.span(),
                "`max_length` must be at least 1",
                "remove it for unlimited text",
            );
        }
    }
    if let Some(default) = &raw.default {
        let value = normalize(default);
        if !raw.ty.accepts(&value) {
            cx.error(
                default.span(),
                format!(
                    "default of `{table}.{}` is {}, but the column is {}",
                    raw.name,
                    json_type_name(&value),
                    raw.ty.as_str()
                ),
                format!("give a default of type {}", raw.ty.as_str()),
            );
        } else if *raw.ty == ColumnType::Timestamp {
            check_timestamp(
                cx,
                default.span(),
                &value,
                &format!("default of `{table}.{}`", raw.name),
            );
        }
    }
    if let Some(auto) = &raw.auto {
        let fits = match **auto {
            AutoValue::Now => matches!(*raw.ty, ColumnType::Timestamp | ColumnType::Text),
            AutoValue::CurrentUser => matches!(*raw.ty, ColumnType::Integer),
        };
        if !fits {
            cx.error(
                auto.span(),
                format!(
                    "`auto` value does not fit the {} column `{table}.{}`",
                    raw.ty.as_str(),
                    raw.name
                ),
                "`auto = \"now\"` fits a timestamp or text column, `auto = \"current_user\"` an \
                 integer one: change `type` or `auto`",
            );
        }
    }
    Column {
        name: raw.name.get().clone(),
        ty: *raw.ty,
        primary_key: raw.primary_key,
        unique: raw.unique,
        nullable: raw.nullable,
        references: None,
        max_length: raw.max_length.as_ref().map(|m| **m),
        default: raw.default.as_ref().map(|d| normalize(d)),
        auto: raw.auto.as_ref().map(|a| **a),
        explain: raw.explain.clone(),
    }
}

/// Pass 1: one table's own columns and indexes.
fn validate_table_shape(cx: &mut Cx, raw: &RawTable) -> Table {
    if !is_identifier(&raw.name) {
        cx.error(
            raw.name.span(),
            format!("table name `{}` is not an SQL identifier", raw.name),
            IDENTIFIER_HELP,
        );
    }
    let mut columns: Vec<Column> = Vec::new();
    for raw_column in &raw.columns {
        if let Some(first) = raw.columns.iter().find(|c| c.name == raw_column.name)
            && !std::ptr::eq(first, raw_column)
        {
            let line = cx.line_of(first.name.span().start);
            cx.error(
                raw_column.name.span(),
                format!(
                    "duplicate column `{}` in table `{}`",
                    raw_column.name, raw.name
                ),
                format!("the first one is on line {line}; rename or remove one"),
            );
            continue;
        }
        columns.push(validate_column(cx, &raw.name, raw_column));
    }
    if raw.columns.is_empty() {
        cx.error(
            raw.name.span(),
            format!("table `{}` has no columns", raw.name),
            "add `[[tables.columns]]` entries",
        );
    } else if !columns.iter().any(|c| c.primary_key) {
        cx.error(
            raw.name.span(),
            format!("table `{}` has no primary key", raw.name),
            "mark a column `primary_key = true` (usually `id`, an integer)",
        );
    }
    let mut indexes = Vec::new();
    for raw_index in &raw.indexes {
        if !is_identifier(&raw_index.name) {
            cx.error(
                raw_index.name.span(),
                format!("index name `{}` is not an SQL identifier", raw_index.name),
                format!("{IDENTIFIER_HELP}, e.g. `projects_tenant_name`"),
            );
        }
        cx.declare("index", &raw_index.name);
        if raw_index.columns.is_empty() {
            cx.error(
                raw_index.name.span(),
                format!("index `{}` has no columns", raw_index.name),
                "list the indexed columns in `columns`",
            );
        }
        let mut seen = BTreeSet::new();
        for column in &raw_index.columns {
            if !columns.iter().any(|c| c.name == **column) {
                let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                cx.error(
                    column.span(),
                    format!(
                        "index `{}` refers to unknown column `{column}` of table `{}`",
                        raw_index.name, raw.name
                    ),
                    crate::scenario::diagnostic::unknown_name_help(
                        "column",
                        column,
                        names.iter().copied(),
                    ),
                );
            } else if !seen.insert(column.get().clone()) {
                cx.error(
                    column.span(),
                    format!(
                        "column `{column}` appears twice in index `{}`",
                        raw_index.name
                    ),
                    "list each column once",
                );
            }
        }
        indexes.push(Index {
            name: raw_index.name.get().clone(),
            columns: raw_index.columns.iter().map(|c| c.get().clone()).collect(),
            unique: raw_index.unique,
            explain: raw_index.explain.clone(),
        });
    }
    if let Some(fill) = &raw.fill {
        for (name, ty) in fill_columns(**fill) {
            match columns.iter().find(|c| c.name == *name) {
                None => cx.error(
                    fill.span(),
                    format!(
                        "table `{}` is filled from {} but has no `{name}` column",
                        raw.name,
                        fill_name(**fill)
                    ),
                    format!("add a column `{name}` of type {}", ty.as_str()),
                ),
                Some(column) if column.ty != *ty => cx.error(
                    fill.span(),
                    format!(
                        "column `{}.{name}` must be {} to be filled from {}",
                        raw.name,
                        ty.as_str(),
                        fill_name(**fill)
                    ),
                    format!("make it `type = \"{}\"`", ty.as_str()),
                ),
                Some(_) => {}
            }
        }
        check_unfilled_columns(cx, raw, **fill);
        if let Some(row) = raw.rows.first() {
            cx.error(
                row.span(),
                format!(
                    "table `{}` is filled from {} and cannot have its own rows",
                    raw.name,
                    fill_name(**fill)
                ),
                format!(
                    "declare these in `[[{}]]` instead, or remove `fill`",
                    fill_name(**fill)
                ),
            );
        }
    }
    Table {
        name: raw.name.get().clone(),
        explain: raw.explain.clone(),
        tenant_scoped: *raw.tenant_scoped,
        fill: raw.fill.as_ref().map(|f| **f),
        columns,
        indexes,
        rows: Vec::new(),
    }
}

/// Extra columns of an identity-filled table: the identity rows give them no value, so each needs
/// to be nullable or have a default (or be the database-assigned key).
fn check_unfilled_columns(cx: &mut Cx, raw: &RawTable, fill: FillFrom) {
    let filled = fill_columns(fill);
    let single_key = raw.columns.iter().filter(|c| c.primary_key).count() == 1;
    for column in &raw.columns {
        let generated = column.primary_key && single_key && *column.ty == ColumnType::Integer;
        if filled.iter().any(|(name, _)| *name == *column.name)
            || column.nullable
            || column.default.is_some()
            || generated
        {
            continue;
        }
        let names: Vec<String> = filled.iter().map(|(name, _)| format!("`{name}`")).collect();
        cx.error(
            column.name.span(),
            format!(
                "column `{}.{}` gets no value from {}: it needs `nullable = true` or a `default`",
                raw.name,
                column.name,
                fill_name(fill)
            ),
            format!(
                "rows filled from {} set only {}; add `nullable = true` or `default = ...` to \
                 the column, or remove it",
                fill_name(fill),
                names.join(", ")
            ),
        );
    }
}

/// Pass 2: foreign keys and tenant scoping.
fn link_table(
    cx: &mut Cx,
    raw: &RawTable,
    tables: &[Table],
    tenants_table: Option<&str>,
) -> Vec<Option<ForeignKey>> {
    let mut links = Vec::new();
    for raw_column in &raw.columns {
        let Some(reference) = &raw_column.references else {
            links.push(None);
            continue;
        };
        let Some((table_name, column_name)) = reference.split_once('.') else {
            cx.error(
                reference.span(),
                format!("`references = \"{reference}\"` does not name a column"),
                "write it as \"table.column\", e.g. \"tenants.id\"",
            );
            links.push(None);
            continue;
        };
        let Some(target) = tables.iter().find(|t| t.name == table_name) else {
            let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
            cx.error(
                reference.span(),
                format!(
                    "foreign key `{}.{}` refers to unknown table `{table_name}`",
                    raw.name, raw_column.name
                ),
                crate::scenario::diagnostic::unknown_name_help(
                    "table",
                    table_name,
                    names.iter().copied(),
                ),
            );
            links.push(None);
            continue;
        };
        let Some(target_column) = target.column(column_name) else {
            let names: Vec<&str> = target.columns.iter().map(|c| c.name.as_str()).collect();
            cx.error(
                reference.span(),
                format!("foreign key `{}.{}` refers to unknown column `{column_name}` of table `{table_name}`", raw.name, raw_column.name),
                crate::scenario::diagnostic::unknown_name_help("column", column_name, names.iter().copied()),
            );
            links.push(None);
            continue;
        };
        if target_column.ty != *raw_column.ty {
            cx.error(
                reference.span(),
                format!(
                    "foreign key `{}.{}` is {} but `{reference}` is {}",
                    raw.name,
                    raw_column.name,
                    raw_column.ty.as_str(),
                    target_column.ty.as_str()
                ),
                format!(
                    "make `{}` of type {}",
                    raw_column.name,
                    target_column.ty.as_str()
                ),
            );
        }
        let target_is_key = target_column.unique
            || (target_column.primary_key && target.primary_key().len() == 1)
            || target
                .indexes
                .iter()
                .any(|i| i.unique && i.columns.len() == 1 && i.columns[0] == column_name);
        if !target_is_key {
            cx.error(
                reference.span(),
                format!(
                    "foreign key `{}.{}` points at `{reference}`, which is not unique",
                    raw.name, raw_column.name
                ),
                "a foreign key must reference a primary key or a unique column",
            );
        }
        links.push(Some(ForeignKey {
            table: table_name.to_string(),
            column: column_name.to_string(),
        }));
    }
    if *raw.tenant_scoped {
        let tenant_link = raw
            .columns
            .iter()
            .zip(&links)
            .find(|(c, _)| c.name.get() == TENANT_COLUMN)
            .map(|(_, link)| link);
        match (tenant_link, tenants_table) {
            (_, None) => cx.error(
                raw.tenant_scoped.span(),
                format!("table `{}` is tenant-scoped, but no table is filled from tenants", raw.name),
                "add a table with `fill = \"tenants\"` for `tenant_id` to reference",
            ),
            (None, Some(tenants)) => cx.error(
                raw.tenant_scoped.span(),
                format!("tenant-scoped table `{}` has no `{TENANT_COLUMN}` column", raw.name),
                format!("add `{{ name = \"{TENANT_COLUMN}\", type = \"integer\", references = \"{tenants}.id\" }}`"),
            ),
            (Some(link), Some(tenants)) => {
                let points_at_tenants = link.as_ref().is_some_and(|fk| fk.table == tenants && fk.column == "id");
                if !points_at_tenants {
                    cx.error(
                        raw.tenant_scoped.span(),
                        format!("`{}.{TENANT_COLUMN}` must reference `{tenants}.id`", raw.name),
                        format!("add `references = \"{tenants}.id\"` to the `{TENANT_COLUMN}` column"),
                    );
                }
            }
        }
    }
    links
}

/// The personas-filled table's `tenant_id` and `role_id` hold ids of the tenants- and
/// roles-filled tables, so they must be foreign keys to them. (`tenant_id` of a tenant-scoped
/// table is already checked by the tenant-scoping rule.)
fn check_personas_links(
    cx: &mut Cx,
    raw: &RawTable,
    links: &[Option<ForeignKey>],
    targets: &[(&str, Option<&str>, FillFrom)],
) {
    for &(name, target, source) in targets {
        if name == TENANT_COLUMN && *raw.tenant_scoped {
            continue;
        }
        let Some((column, link)) = raw.columns.iter().zip(links).find(|(c, _)| *c.name == name)
        else {
            continue; // a missing column is reported with `fill`
        };
        let Some(target) = target else {
            if let Some(fill) = &raw.fill {
                cx.error(
                    fill.span(),
                    format!(
                        "table `{}` is filled from personas, but no table is filled from {}",
                        raw.name,
                        fill_name(source)
                    ),
                    format!(
                        "add a table with `fill = \"{}\"` for `{name}` to reference",
                        fill_name(source)
                    ),
                );
            }
            continue;
        };
        if link
            .as_ref()
            .is_some_and(|fk| fk.table == target && fk.column == "id")
            || (column.references.is_some() && link.is_none())
        {
            continue; // right, or a broken reference already reported
        }
        let (span, help) = match &column.references {
            Some(reference) => (
                reference.span(),
                format!("change it to `references = \"{target}.id\"`"),
            ),
            None => (
                column.name.span(),
                format!("add `references = \"{target}.id\"` to the `{name}` column"),
            ),
        };
        cx.error(
            span,
            format!(
                "`{}.{name}` must reference `{target}.id`: it holds the id of the persona's {}",
                raw.name,
                if name == TENANT_COLUMN {
                    "tenant"
                } else {
                    "role"
                }
            ),
            help,
        );
    }
}

fn identity_rows(fill: FillFrom, identities: &Identities) -> Vec<Row> {
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
type SpannedRow<'r> = Vec<(&'r str, Json, std::ops::Range<usize>)>;

/// Pass 3a: a seed row's own values.
fn check_row<'r>(
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
        *next_id = (*next_id).max(id + 1);
    }
    (row, spanned)
}

pub(crate) fn validate_tables(
    cx: &mut Cx,
    raw: &[RawTable],
    identities: &Identities,
) -> Vec<Table> {
    // Pass 1.
    let mut tables: Vec<Table> = Vec::new();
    for raw_table in raw {
        let table = validate_table_shape(cx, raw_table);
        if cx.declare("table", &raw_table.name) {
            tables.push(table);
        }
    }
    for fill in [FillFrom::Tenants, FillFrom::Roles, FillFrom::Personas] {
        let filled: Vec<&RawTable> = raw
            .iter()
            .filter(|t| t.fill.as_ref().is_some_and(|f| **f == fill))
            .collect();
        if let [first, second, ..] = filled.as_slice()
            && let Some(span) = second.fill.as_ref().map(Sp::span)
        {
            cx.error(
                span,
                format!(
                    "tables `{}` and `{}` are both filled from {}",
                    first.name,
                    second.name,
                    fill_name(fill)
                ),
                "fill only one table from each identity section",
            );
        }
    }
    let filled_by = |fill: FillFrom| {
        tables
            .iter()
            .find(|t| t.fill == Some(fill))
            .map(|t| t.name.clone())
    };
    let tenants_table = filled_by(FillFrom::Tenants);
    let roles_table = filled_by(FillFrom::Roles);

    // Pass 2.
    for raw_table in raw {
        let links = link_table(cx, raw_table, &tables, tenants_table.as_deref());
        if raw_table
            .fill
            .as_ref()
            .is_some_and(|f| **f == FillFrom::Personas)
        {
            let targets = [
                (TENANT_COLUMN, tenants_table.as_deref(), FillFrom::Tenants),
                ("role_id", roles_table.as_deref(), FillFrom::Roles),
            ];
            check_personas_links(cx, raw_table, &links, &targets);
        }
        if let Some(table) = tables.iter_mut().find(|t| t.name == *raw_table.name) {
            for (column, link) in table.columns.iter_mut().zip(links) {
                column.references = link;
            }
        }
    }

    // Pass 3: rows, then uniqueness and foreign-key values.
    let mut spanned_rows: Vec<(String, Vec<SpannedRow>)> = Vec::new();
    for raw_table in raw {
        let Some(index) = tables.iter().position(|t| t.name == *raw_table.name) else {
            continue;
        };
        if let Some(fill) = tables[index].fill {
            tables[index].rows = identity_rows(fill, identities);
            continue;
        }
        let mut next_id = 1;
        let mut rows = Vec::new();
        let mut spans = Vec::new();
        for raw_row in &raw_table.rows {
            let (row, spanned) = check_row(cx, &tables[index], raw_row, &mut next_id);
            rows.push(row);
            spans.push(spanned);
        }
        tables[index].rows = rows;
        check_id_choice(cx, &tables[index], &raw_table.rows);
        check_unique_indexes(cx, &tables[index], &raw_table.rows);
        spanned_rows.push((raw_table.name.get().clone(), spans));
    }
    for (table_name, spans) in &spanned_rows {
        let Some(table) = tables.iter().find(|t| t.name == *table_name) else {
            continue;
        };
        check_unique_values(cx, table, spans);
        check_foreign_values(cx, table, spans, &tables);
    }
    tables
}

/// A database-assigned key is given in every seed row or in none: a generated id (one more than
/// the largest before it) could collide with an id written in a later row.
fn check_id_choice(
    cx: &mut Cx,
    table: &Table,
    raw_rows: &[Sp<indexmap::IndexMap<String, Sp<Json>>>],
) {
    let [key] = table.primary_key()[..] else {
        return;
    };
    let Some(first) = raw_rows.first().filter(|_| table.is_generated(key)) else {
        return;
    };
    let first_gives = first.contains_key(&key.name);
    let Some(odd) = raw_rows
        .iter()
        .find(|r| r.contains_key(&key.name) != first_gives)
    else {
        return;
    };
    let line = cx.line_of(first.span().start);
    let (span, message) = match odd.get().get(&key.name) {
        Some(value) => (
            value.span(),
            format!(
                "this row of `{}` gives `{}`, but the row on line {line} leaves it out",
                table.name, key.name
            ),
        ),
        None => (
            odd.span(),
            format!(
                "this row of `{}` leaves out `{}`, but the row on line {line} gives it",
                table.name, key.name
            ),
        ),
    };
    cx.error(
        span,
        message,
        format!(
            "give every row an `{0}`, or none (they are then numbered 1, 2, 3, … in order): a \
             generated `{0}` could collide with one written in another row",
            key.name
        ),
    );
}

fn check_unique_values(cx: &mut Cx, table: &Table, spans: &[SpannedRow]) {
    let unique_columns = table
        .columns
        .iter()
        .filter(|c| c.unique || (c.primary_key && table.primary_key().len() == 1));
    for column in unique_columns {
        let mut seen: Vec<(&Json, usize)> = Vec::new();
        for row in spans {
            for (name, value, span) in row {
                if *name != column.name || value.is_null() {
                    continue;
                }
                if let Some((_, line)) = seen.iter().find(|(v, _)| *v == value) {
                    cx.error(
                        span.clone(),
                        format!(
                            "`{}.{}` must be unique, but {value} is already used",
                            table.name, column.name
                        ),
                        format!("the first row with it is on line {line}"),
                    );
                } else {
                    seen.push((value, cx.line_of(span.start)));
                }
            }
        }
    }
}

/// Unique indexes and a composite primary key: no two seed rows may share the whole combination.
/// (Single unique columns are checked by `check_unique_values`, which points at the value.)
fn check_unique_indexes(
    cx: &mut Cx,
    table: &Table,
    raw_rows: &[Sp<indexmap::IndexMap<String, Sp<Json>>>],
) {
    let primary_key: Vec<String> = table.primary_key().iter().map(|c| c.name.clone()).collect();
    let composite_key =
        (primary_key.len() > 1).then(|| ("the primary key".to_string(), primary_key));
    let single_key = |name: &str| {
        table
            .column(name)
            .is_some_and(|c| c.unique || (c.primary_key && table.primary_key().len() == 1))
    };
    let unique_indexes = table
        .indexes
        .iter()
        .filter(|i| i.unique && !matches!(i.columns.as_slice(), [only] if single_key(only)))
        .map(|i| (format!("unique index `{}`", i.name), i.columns.clone()));
    for (what, columns) in composite_key.into_iter().chain(unique_indexes) {
        let mut seen: Vec<(Vec<&Json>, usize)> = Vec::new();
        for (row, raw_row) in table.rows.iter().zip(raw_rows) {
            // As in SQL, a combination with a NULL in it never collides.
            let Some(key) = columns
                .iter()
                .map(|c| row.get(c).filter(|v| !v.is_null()))
                .collect::<Option<Vec<&Json>>>()
            else {
                continue;
            };
            // Point at the last value of the combination the row spells out, else at the row.
            let span = columns
                .iter()
                .rev()
                .find_map(|c| raw_row.get().get(c))
                .map_or(raw_row.span(), Sp::span);
            if let Some((_, line)) = seen.iter().find(|(k, _)| *k == key) {
                let names = columns
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let values = key
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                cx.error(
                    span,
                    format!(
                        "{what} of `{}`: ({names}) = ({values}) is already used",
                        table.name
                    ),
                    format!("the first row with it is on line {line}"),
                );
            } else {
                seen.push((key, cx.line_of(raw_row.span().start)));
            }
        }
    }
}

fn check_foreign_values(cx: &mut Cx, table: &Table, spans: &[SpannedRow], tables: &[Table]) {
    for row in spans {
        for (name, value, span) in row {
            let Some(fk) = table.column(name).and_then(|c| c.references.as_ref()) else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            let Some(target) = tables.iter().find(|t| t.name == fk.table) else {
                continue;
            };
            if !target.rows.iter().any(|r| r.get(&fk.column) == Some(value)) {
                cx.error(
                    span.clone(),
                    format!(
                        "`{}.{name}` = {value} has no matching row in `{fk}`",
                        table.name
                    ),
                    format!("use the {} of an existing `{}` row", fk.column, fk.table),
                );
            }
        }
    }
}
