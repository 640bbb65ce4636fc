//! Pass 1: one table's own shape — its columns, primary key, indexes, and the columns an
//! identity-filled table must have.

use std::collections::BTreeSet;

use super::values::{check_timestamp, json_type_name, normalize};
use crate::scenario::model::*;
use crate::scenario::raw::{RawColumn, RawTable};
use crate::scenario::span::Sp;
use crate::scenario::validate::{Cx, IDENTIFIER_HELP, is_identifier};

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

pub(super) fn fill_name(fill: FillFrom) -> &'static str {
    match fill {
        FillFrom::Tenants => "tenants",
        FillFrom::Roles => "roles",
        FillFrom::Personas => "personas",
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
    check_limits(cx, table, raw);
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
        server_owned: *raw.server_owned,
        min: raw.min.as_ref().map(|m| **m),
        max: raw.max.as_ref().map(|m| **m),
        // Resolved in pass 2, once every table is known.
        max_remaining: None,
        explain: raw.explain.clone(),
    }
}

/// The value rules of one column (`min`, `max`, `max_remaining`): numeric columns only, whole
/// numbers on integer columns, `min` ≤ `max`, a default inside them, and never on a column that
/// requests may not send.
fn check_limits(cx: &mut Cx, table: &str, raw: &RawColumn) {
    let numeric = matches!(*raw.ty, ColumnType::Integer | ColumnType::Real);
    let rules = [
        ("min", raw.min.as_ref().map(Sp::span)),
        ("max", raw.max.as_ref().map(Sp::span)),
        ("max_remaining", raw.max_remaining.as_ref().map(Sp::span)),
    ];
    for (key, span) in rules {
        let Some(span) = span else { continue };
        if !numeric {
            cx.error(
                span,
                format!(
                    "`{key}` applies to integer and real columns, but `{table}.{}` is {}",
                    raw.name,
                    raw.ty.as_str()
                ),
                if *raw.ty == ColumnType::Text {
                    format!("remove `{key}`; `max_length` limits text")
                } else {
                    format!("remove `{key}` or make the column `type = \"integer\"`")
                },
            );
        } else if *raw.server_owned || raw.auto.is_some() {
            cx.error(
                span,
                format!(
                    "`{key}` on `{table}.{}` never applies: the column is server-owned, so \
                     requests may not send it",
                    raw.name
                ),
                if raw.auto.is_some() {
                    format!("remove `{key}`: the server fills an `auto` column itself")
                } else {
                    format!(
                        "remove `{key}`, or remove `server_owned = true` if clients set the column"
                    )
                },
            );
        }
    }
    if !numeric {
        return;
    }
    for (key, limit) in [("min", &raw.min), ("max", &raw.max)] {
        if let Some(limit) = limit
            && *raw.ty == ColumnType::Integer
            && limit.fract() != 0.0
        {
            cx.error(
                limit.span(),
                format!(
                    "`{key}` of the integer column `{table}.{}` is {}, not a whole number",
                    raw.name,
                    plain_number(**limit)
                ),
                format!("write a whole number, e.g. `{key} = {}`", limit.round()),
            );
        }
    }
    if let (Some(min), Some(max)) = (&raw.min, &raw.max)
        && **max < **min
    {
        cx.error(
            max.span(),
            format!(
                "`max` of `{table}.{}` is {}, below its `min` of {}",
                raw.name,
                plain_number(**max),
                plain_number(**min)
            ),
            "no value could pass: swap them, or fix one",
        );
    }
    if let Some(default) = &raw.default
        && let Some(value) = normalize(default).as_f64()
        && let Some(problem) = outside(value, raw.min.as_deref(), raw.max.as_deref())
    {
        cx.error(
            default.span(),
            format!("default of `{table}.{}` {problem}", raw.name),
            "a create that leaves the column out would store a value requests may not send: \
             change the default or the limit",
        );
    }
}

/// How `value` breaks `min` / `max`, in words (`None` when it is inside them).
pub(super) fn outside(value: f64, min: Option<&f64>, max: Option<&f64>) -> Option<String> {
    match (min, max) {
        (Some(min), _) if value < *min => Some(format!(
            "is {}, below its `min` of {}",
            plain_number(value),
            plain_number(*min)
        )),
        (_, Some(max)) if value > *max => Some(format!(
            "is {}, above its `max` of {}",
            plain_number(value),
            plain_number(*max)
        )),
        _ => None,
    }
}

/// An explicitly server-owned column must get a value on create without the client: a
/// `default`, `nullable`, `auto`, or being the database-assigned key.
fn check_server_owned(cx: &mut Cx, raw: &RawTable) {
    let single_key = raw.columns.iter().filter(|c| c.primary_key).count() == 1;
    for column in raw.columns.iter().filter(|c| *c.server_owned) {
        let generated = column.primary_key && single_key && *column.ty == ColumnType::Integer;
        if column.default.is_some()
            || column.nullable
            || column.auto.is_some()
            || generated
            || *column.name == TENANT_COLUMN
        {
            continue;
        }
        cx.error(
            column.server_owned.span(),
            format!(
                "server-owned column `{}.{}` has no value when a row is created: clients may \
                 not send it and it has no `default`",
                raw.name, column.name
            ),
            match *column.ty {
                ColumnType::Timestamp => {
                    "use `auto = \"now\"` to stamp it when the row is created, or add \
                     `nullable = true`"
                        .to_string()
                }
                ty => format!(
                    "give it a `default` (its first state, e.g. `default = {}`), or add \
                     `nullable = true`",
                    match ty {
                        ColumnType::Text => "\"pending\"",
                        ColumnType::Boolean => "false",
                        _ => "0",
                    }
                ),
            },
        );
    }
}

/// Pass 1: one table's own columns and indexes.
pub(super) fn validate_table_shape(cx: &mut Cx, raw: &RawTable) -> Table {
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
    check_server_owned(cx, raw);
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
