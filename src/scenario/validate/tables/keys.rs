//! Pass 2: foreign keys between tables, tenant scoping, and the links of the personas-filled
//! table to the tenants and roles tables.

use super::columns::fill_name;
use crate::scenario::model::*;
use crate::scenario::raw::RawTable;
use crate::scenario::validate::Cx;

/// Pass 2: foreign keys and tenant scoping.
pub(super) fn link_table(
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
pub(super) fn check_personas_links(
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
