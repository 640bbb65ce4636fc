//! Tables: columns, keys, indexes, identity-filled tables and seed rows.
//!
//! Three passes, because foreign keys and seed rows may point at tables declared later:
//! 1. declare every table and check its own columns and indexes ([`columns`]);
//! 2. check foreign keys and tenant scoping against all tables ([`keys`]), then the value limits
//!    that name other tables (`max_remaining`, [`limits`]);
//! 3. build the rows (identity-filled or seed) and check every value ([`rows`]), uniqueness and
//!    that every foreign-key value exists in the referenced table ([`constraints`]).

mod columns;
mod constraints;
mod keys;
mod limits;
mod rows;
mod values;

use columns::{fill_name, validate_table_shape};
use constraints::{
    check_foreign_values, check_id_choice, check_unique_indexes, check_unique_values,
};
use keys::{check_personas_links, link_table};
use limits::link_limits;
use rows::{SpannedRow, check_row, identity_rows};

use super::Cx;
use super::identity::Identities;
use crate::scenario::model::*;
use crate::scenario::raw::RawTable;
use crate::scenario::span::Sp;

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

    for raw_table in raw {
        link_limits(cx, raw_table, &mut tables);
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
