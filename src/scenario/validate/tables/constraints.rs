//! Pass 3b: constraints across seed rows — a consistent choice of database-assigned ids, unique
//! columns and indexes, and foreign-key values that exist in the referenced table.

use std::collections::{HashMap, HashSet};

use serde_json::Value as Json;

use super::rows::SpannedRow;
use crate::scenario::model::*;
use crate::scenario::span::Sp;
use crate::scenario::validate::Cx;

/// A database-assigned key is given in every seed row or in none: a generated id (one more than
/// the largest before it) could collide with an id written in a later row.
pub(super) fn check_id_choice(
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

pub(super) fn check_unique_values(cx: &mut Cx, table: &Table, spans: &[SpannedRow]) {
    let unique_columns = table
        .columns
        .iter()
        .filter(|c| c.unique || (c.primary_key && table.primary_key().len() == 1));
    for column in unique_columns {
        // Keyed by the value's JSON text (`Value` is not `Hash`): linear in the rows, so a
        // seed of 300k rows checks in well under a second.
        let mut seen: HashMap<String, usize> = HashMap::new();
        for row in spans {
            for (name, value, span) in row {
                if *name != column.name || value.is_null() {
                    continue;
                }
                let key = value.to_string();
                if let Some(line) = seen.get(&key) {
                    cx.error(
                        span.clone(),
                        format!(
                            "`{}.{}` must be unique, but {value} is already used",
                            table.name, column.name
                        ),
                        format!("the first row with it is on line {line}"),
                    );
                } else {
                    seen.insert(key, cx.line_of(span.start));
                }
            }
        }
    }
}

/// Unique indexes and a composite primary key: no two seed rows may share the whole combination.
/// (Single unique columns are checked by `check_unique_values`, which points at the value.)
pub(super) fn check_unique_indexes(
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
        let mut seen: HashMap<Vec<String>, usize> = HashMap::new();
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
            let text: Vec<String> = key.iter().map(|v| v.to_string()).collect();
            if let Some(line) = seen.get(&text) {
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
                seen.insert(text, cx.line_of(raw_row.span().start));
            }
        }
    }
}

pub(super) fn check_foreign_values(
    cx: &mut Cx,
    table: &Table,
    spans: &[SpannedRow],
    tables: &[Table],
) {
    // The values of each referenced column, gathered once: linear, not rows × target rows.
    let mut targets: HashMap<(String, String), HashSet<String>> = HashMap::new();
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
            let values = targets
                .entry((fk.table.clone(), fk.column.clone()))
                .or_insert_with(|| {
                    target
                        .rows
                        .iter()
                        .filter_map(|r| r.get(&fk.column).map(Json::to_string))
                        .collect()
                });
            if !values.contains(&value.to_string()) {
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
