//! Pass 2b: running-total limits (`max_remaining`), which name another table's column and a
//! foreign key of their own table, so they are resolved once every table and foreign key is known.
//!
//! ```text
//!  payments.amount_cents  max_remaining = { of = "invoices.amount_cents", via = "invoice_id",
//!                                           counting = { status = ["pending", "completed"] } }
//!      of      → a numeric column of a declared table
//!      via     → a column of this table whose foreign key points at that table
//!      counting → columns of this table, with values of their type
//! ```

use super::values::{json_type_name, normalize};
use crate::scenario::diagnostic::unknown_name_help;
use crate::scenario::model::*;
use crate::scenario::raw::{RawColumn, RawRemaining, RawTable};
use crate::scenario::validate::Cx;

fn is_numeric(ty: ColumnType) -> bool {
    matches!(ty, ColumnType::Integer | ColumnType::Real)
}

/// Resolves the `max_remaining` limits of `raw`'s columns against `tables` (whose foreign keys
/// are linked) and stores them in its model table.
pub(super) fn link_limits(cx: &mut Cx, raw: &RawTable, tables: &mut [Table]) {
    let Some(index) = tables.iter().position(|t| t.name == *raw.name) else {
        return;
    };
    for raw_column in &raw.columns {
        let Some(remaining) = &raw_column.max_remaining else {
            continue;
        };
        if !is_numeric(*raw_column.ty) {
            continue; // reported with the column
        }
        if let Some(resolved) = resolve(cx, raw, raw_column, remaining, tables, &tables[index])
            && let Some(column) = tables[index]
                .columns
                .iter_mut()
                .find(|c| c.name == *raw_column.name)
        {
            column.max_remaining = Some(resolved);
        }
    }
}

fn resolve(
    cx: &mut Cx,
    raw: &RawTable,
    raw_column: &RawColumn,
    remaining: &RawRemaining,
    tables: &[Table],
    own: &Table,
) -> Option<Remaining> {
    let what = format!("`max_remaining` of `{}.{}`", raw.name, raw_column.name);
    let of = resolve_of(cx, &what, remaining, tables);
    let via = resolve_via(cx, &what, raw, remaining, own, of.as_ref());
    let counting = resolve_counting(cx, &what, remaining, own);
    Some(Remaining {
        of: of?,
        via: via?,
        counting: counting?,
    })
}

/// `of = "table.column"`: a numeric column of a declared table.
fn resolve_of(
    cx: &mut Cx,
    what: &str,
    remaining: &RawRemaining,
    tables: &[Table],
) -> Option<ColumnRef> {
    let of = &remaining.of;
    let Some((table_name, column_name)) = of.split_once('.') else {
        cx.error(
            of.span(),
            format!("{what}: `of = \"{of}\"` does not name a column"),
            "write it as \"table.column\", e.g. \"invoices.amount_cents\"",
        );
        return None;
    };
    let Some(table) = tables.iter().find(|t| t.name == table_name) else {
        cx.error(
            of.span(),
            format!("{what} refers to unknown table `{table_name}`"),
            unknown_name_help("table", table_name, tables.iter().map(|t| t.name.as_str())),
        );
        return None;
    };
    let Some(column) = table.column(column_name) else {
        cx.error(
            of.span(),
            format!("{what} refers to unknown column `{column_name}` of table `{table_name}`"),
            unknown_name_help(
                "column",
                column_name,
                table.columns.iter().map(|c| c.name.as_str()),
            ),
        );
        return None;
    };
    if !is_numeric(column.ty) {
        cx.error(
            of.span(),
            format!(
                "{what}: `{of}` is {}, but a total must be a number",
                column.ty.as_str()
            ),
            "point `of` at an integer or real column, e.g. an amount",
        );
        return None;
    }
    Some(ColumnRef {
        table: table_name.to_string(),
        column: column_name.to_string(),
    })
}

/// `via`: a column of this table whose foreign key points at the `of` table.
fn resolve_via(
    cx: &mut Cx,
    what: &str,
    raw: &RawTable,
    remaining: &RawRemaining,
    own: &Table,
    of: Option<&ColumnRef>,
) -> Option<String> {
    let via = &remaining.via;
    let Some(column) = own.column(via) else {
        cx.error(
            via.span(),
            format!(
                "{what}: `via` names unknown column `{via}` of table `{}`",
                raw.name
            ),
            unknown_name_help("column", via, own.columns.iter().map(|c| c.name.as_str())),
        );
        return None;
    };
    let of = of?;
    let declared = raw
        .columns
        .iter()
        .find(|c| *c.name == **via)
        .is_some_and(|c| c.references.is_some());
    match &column.references {
        Some(fk) if fk.table == of.table => Some(via.get().clone()),
        None if declared => None, // a broken foreign key, reported with the column
        Some(fk) => {
            cx.error(
                via.span(),
                format!(
                    "{what}: `{}.{via}` references `{fk}`, not the `{}` table that `of` names",
                    raw.name, of.table
                ),
                format!(
                    "`via` must be the column that points at the row holding the total: one \
                     with `references = \"{}.id\"`",
                    of.table
                ),
            );
            None
        }
        None => {
            cx.error(
                via.span(),
                format!(
                    "{what}: `{}.{via}` is not a foreign key, so it cannot find the `{}` row",
                    raw.name, of.table
                ),
                format!(
                    "add `references = \"{}.id\"` to `{via}`, or name the column that has it",
                    of.table
                ),
            );
            None
        }
    }
}

/// `counting = { column = [values…] }`: columns of this table, values of their type.
fn resolve_counting(
    cx: &mut Cx,
    what: &str,
    remaining: &RawRemaining,
    own: &Table,
) -> Option<Vec<(String, Vec<serde_json::Value>)>> {
    let mut counting = Vec::new();
    let mut ok = true;
    for (name, values) in &remaining.counting {
        let Some(column) = own.column(name) else {
            cx.error(
                values.span(),
                format!(
                    "{what}: `counting` names unknown column `{name}` of table `{}`",
                    own.name
                ),
                unknown_name_help("column", name, own.columns.iter().map(|c| c.name.as_str())),
            );
            ok = false;
            continue;
        };
        if values.is_empty() {
            cx.error(
                values.span(),
                format!("{what}: `counting.{name}` lists no values, so no row would count"),
                format!(
                    "list the values of `{name}` that use up the total, or remove `{name}` to \
                     count every row"
                ),
            );
            ok = false;
            continue;
        }
        let normalized: Vec<serde_json::Value> = values.iter().map(normalize).collect();
        if let Some(wrong) = normalized.iter().find(|v| !column.ty.accepts(v)) {
            cx.error(
                values.span(),
                format!(
                    "{what}: `counting.{name}` holds {}, but `{}.{name}` is {}",
                    json_type_name(wrong),
                    own.name,
                    column.ty.as_str()
                ),
                format!("list values of type {}", column.ty.as_str()),
            );
            ok = false;
            continue;
        }
        counting.push((name.clone(), normalized));
    }
    ok.then_some(counting)
}
