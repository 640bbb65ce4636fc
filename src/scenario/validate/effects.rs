//! Worker effects (`effect`, `on_attempt`, `on_give_up`): the table and columns exist, every
//! `$` value is known and fits its column, an insert sets every required column, and `$row.…`
//! names a column of every table whose rows can reach the pool's topic.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde_json::Value as Json;

use super::Cx;
use crate::scenario::diagnostic::unknown_name_help;
use crate::scenario::model::*;
use crate::scenario::raw::{RawEffect, RawWorkerPool};
use crate::scenario::span::Sp;

/// The tables whose rows reach each topic: a route's table for the events it publishes, and,
/// through a pool's follow-ups, whatever reached the pool's own topic (a follow-up carries the
/// row of the message that caused it).
pub(crate) fn source_tables(
    routes: &[Route],
    workers: &[WorkerPool],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut sources: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for route in routes {
        if let Some(table) = &route.table {
            for publish in &route.publishes {
                sources
                    .entry(publish.topic.clone())
                    .or_default()
                    .insert(table.clone());
            }
        }
    }
    // Follow-ups form a DAG (checked elsewhere), so this settles within `workers.len()` rounds;
    // the bound keeps a bad file from looping here.
    for _ in 0..=workers.len() {
        let mut changed = false;
        for pool in workers {
            let from = sources.get(&pool.topic).cloned().unwrap_or_default();
            for publish in &pool.publishes {
                let into = sources.entry(publish.topic.clone()).or_default();
                for table in &from {
                    changed |= into.insert(table.clone());
                }
            }
        }
        if !changed {
            break;
        }
    }
    sources
}

/// Which slot an effect sits in: what it may refer to differs.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Success,
    Attempt,
    GiveUp,
}

impl Slot {
    fn key(self) -> &'static str {
        match self {
            Slot::Success => "effect",
            Slot::Attempt => "on_attempt",
            Slot::GiveUp => "on_give_up",
        }
    }
}

/// Checks every pool's effects and stores them in `workers` (same order as `raw`).
pub(crate) fn validate_effects(
    cx: &mut Cx,
    raw: &[RawWorkerPool],
    workers: &mut [WorkerPool],
    tables: &[Table],
    routes: &[Route],
) {
    let sources = source_tables(routes, workers);
    for (raw_pool, pool) in raw.iter().zip(workers.iter_mut()) {
        let from: Vec<&Table> = sources
            .get(&pool.topic)
            .into_iter()
            .flatten()
            .filter_map(|name| tables.iter().find(|t| &t.name == name))
            .collect();
        let check = EffectCheck {
            pool: &pool.name,
            topic: &pool.topic,
            tables,
            from: &from,
        };
        pool.effects = PoolEffects {
            on_success: raw_pool
                .effect
                .as_ref()
                .and_then(|e| check.effect(cx, e, Slot::Success)),
            on_attempt: raw_pool
                .on_attempt
                .as_ref()
                .and_then(|e| check.effect(cx, e, Slot::Attempt)),
            on_give_up: raw_pool
                .on_give_up
                .as_ref()
                .and_then(|e| check.effect(cx, e, Slot::GiveUp)),
        };
    }
}

struct EffectCheck<'a> {
    pool: &'a str,
    topic: &'a str,
    tables: &'a [Table],
    /// The tables whose rows reach the pool's topic.
    from: &'a [&'a Table],
}

impl EffectCheck<'_> {
    fn effect(&self, cx: &mut Cx, raw: &Sp<RawEffect>, slot: Slot) -> Option<Effect> {
        let who = format!("`{}` of worker pool `{}`", slot.key(), self.pool);
        let (name, insert) = match (&raw.insert, &raw.update) {
            (Some(table), None) => (table, true),
            (None, Some(table)) => (table, false),
            (Some(_), Some(update)) => {
                cx.error(
                    update.span(),
                    format!("{who} both inserts and updates"),
                    "one effect is one write: keep `insert = \"…\"` or `update = \"…\"`",
                );
                return None;
            }
            (None, None) => {
                cx.error(
                    raw.span(),
                    format!("{who} writes no table"),
                    "add `insert = \"table\"` (a new row per message) or `update = \"table\"` \
                     with `row = \"$row.id\"`",
                );
                return None;
            }
        };
        let Some(table) = self.tables.iter().find(|t| t.name == **name) else {
            cx.error(
                name.span(),
                format!("{who} writes unknown table `{}`", name.get()),
                unknown_name_help("table", name, self.tables.iter().map(|t| t.name.as_str())),
            );
            return None;
        };
        if table.tenant_scoped && !self.from.iter().all(|t| t.tenant_scoped) {
            cx.error(
                name.span(),
                format!(
                    "{who} writes tenant-scoped table `{}`, but messages on topic `{}` can come \
                     from a table without tenants",
                    table.name, self.topic
                ),
                "an effect's row belongs to the tenant of the message's row: write a shared \
                 table, or publish to this topic only from tenant-scoped routes",
            );
        }
        let write = match (insert, &raw.row) {
            (true, None) => EffectWrite::Insert,
            (true, Some(row)) => {
                cx.error(
                    row.span(),
                    format!("{who} inserts, so `row` means nothing"),
                    "remove `row`: an insert makes a new row (use `update` to change one)",
                );
                EffectWrite::Insert
            }
            (false, Some(row)) => {
                let expr = self.expr(cx, &Json::String(row.get().clone()), row.span(), slot);
                match &expr {
                    Some(expr) if self.type_of(expr) == Some(ColumnType::Integer) => {
                        EffectWrite::Update { row: expr.clone() }
                    }
                    Some(_) => {
                        cx.error(
                            row.span(),
                            format!("{who}: `row` must give an integer id"),
                            "name the id of the row to update, e.g. \"$row.id\"",
                        );
                        return None;
                    }
                    None => return None,
                }
            }
            (false, None) => {
                cx.error(
                    name.span(),
                    format!("{who} updates `{}` but does not say which row", table.name),
                    "add `row = \"$row.id\"` (the id of the row the message is about)",
                );
                return None;
            }
        };
        let mut values = Vec::new();
        for (column_name, value) in &raw.set {
            let Some(column) = table.column(column_name) else {
                cx.error(
                    value.span(),
                    format!("{who} sets unknown column `{}.{column_name}`", table.name),
                    unknown_name_help(
                        "column",
                        column_name,
                        table.columns.iter().map(|c| c.name.as_str()),
                    ),
                );
                continue;
            };
            if column.name == TENANT_COLUMN || table.is_generated(column) || column.primary_key {
                let help = if column.name == TENANT_COLUMN {
                    "leave it out: the engine writes the row in the tenant of the message's row"
                } else {
                    "leave it out: the row's id is generated (an update names its row with `row`)"
                };
                cx.error(
                    value.span(),
                    format!("{who} sets `{}.{}`", table.name, column.name),
                    help,
                );
                continue;
            }
            let Some(expr) = self.expr(cx, value.get(), value.span(), slot) else {
                continue;
            };
            self.check_fits(cx, &expr, column, &table.name, value.span());
            values.push((column.name.clone(), expr));
        }
        if insert {
            let missing: Vec<&str> = table
                .columns
                .iter()
                .filter(|c| c.name != TENANT_COLUMN && c.required_on_create(table))
                .filter(|c| !raw.set.contains_key(&c.name))
                .map(|c| c.name.as_str())
                .collect();
            if !missing.is_empty() {
                cx.error(
                    raw.span(),
                    format!(
                        "{who} inserts into `{}` without required column{} {}",
                        table.name,
                        if missing.len() == 1 { "" } else { "s" },
                        missing
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "add them to `set`, or give the columns a default",
                );
            }
        }
        Some(Effect {
            table: table.name.clone(),
            write,
            values,
        })
    }

    /// A literal, or a `$` variable this slot may use.
    fn expr(&self, cx: &mut Cx, value: &Json, span: Range<usize>, slot: Slot) -> Option<Expr> {
        let Some(text) = value.as_str() else {
            return Some(Expr::Literal(value.clone()));
        };
        if let Some(literal) = text.strip_prefix("$$") {
            return Some(Expr::Literal(Json::String(format!("${literal}"))));
        }
        if !text.starts_with('$') {
            return Some(Expr::Literal(value.clone()));
        }
        let Some(var) = Var::parse(text) else {
            let names: Vec<String> = Var::PLAIN.iter().map(Var::source).collect();
            cx.error(
                span,
                format!("`{text}` is not something a worker knows"),
                format!(
                    "use one of {}, or $row.<column>; write `$$` for a literal `$`",
                    names.join(", ")
                ),
            );
            return None;
        };
        match (&var, slot) {
            (Var::Outcome, Slot::Success | Slot::GiveUp) => {
                cx.error(
                    span,
                    format!(
                        "`$outcome` is only known in `on_attempt`, not in `{}`",
                        slot.key()
                    ),
                    "in `effect` the message succeeded, in `on_give_up` it failed: write the \
                     value itself",
                );
                return None;
            }
            (Var::Error, Slot::Success) => {
                cx.error(
                    span,
                    "`$error` is empty in `effect`: it runs only when the message succeeded",
                    "use `$error` in `on_attempt` or `on_give_up`",
                );
                return None;
            }
            (Var::Row(column), _) => {
                if self.from.is_empty() {
                    cx.error(
                        span,
                        format!(
                            "`{text}`: no route publishes to topic `{}`, so its messages carry \
                             no row",
                            self.topic
                        ),
                        "publish to the topic from a route (`publishes = [...]`), or use the \
                         plain variables only",
                    );
                    return None;
                }
                if let Some(missing) = self.from.iter().find(|t| t.column(column).is_none()) {
                    cx.error(
                        span,
                        format!(
                            "`{text}`: table `{}` (whose rows reach topic `{}`) has no column \
                             `{column}`",
                            missing.name, self.topic
                        ),
                        unknown_name_help(
                            "column",
                            column,
                            missing.columns.iter().map(|c| c.name.as_str()),
                        ),
                    );
                    return None;
                }
            }
            _ => {}
        }
        Some(Expr::Var(var))
    }

    /// The column type a value has (None: a null literal, or a row column whose tables disagree).
    fn type_of(&self, expr: &Expr) -> Option<ColumnType> {
        match expr {
            Expr::Literal(Json::Bool(_)) => Some(ColumnType::Boolean),
            Expr::Literal(Json::Number(n)) if n.is_f64() => Some(ColumnType::Real),
            Expr::Literal(Json::Number(_)) => Some(ColumnType::Integer),
            Expr::Literal(Json::String(_)) => Some(ColumnType::Text),
            Expr::Literal(_) => None,
            Expr::Var(var) => match var {
                Var::Now => Some(ColumnType::Timestamp),
                Var::Message | Var::Attempt => Some(ColumnType::Integer),
                Var::LatencyMs => Some(ColumnType::Real),
                Var::Row(column) => {
                    let types: BTreeSet<&str> = self
                        .from
                        .iter()
                        .filter_map(|t| t.column(column))
                        .map(|c| c.ty.as_str())
                        .collect();
                    match types.into_iter().collect::<Vec<_>>().as_slice() {
                        [one] => self
                            .from
                            .iter()
                            .find_map(|t| t.column(column))
                            .map(|c| c.ty)
                            .filter(|ty| ty.as_str() == *one),
                        _ => None,
                    }
                }
                _ => Some(ColumnType::Text),
            },
        }
    }

    fn check_fits(
        &self,
        cx: &mut Cx,
        expr: &Expr,
        column: &Column,
        table: &str,
        span: Range<usize>,
    ) {
        let what = format!("`{table}.{}`", column.name);
        if let Expr::Literal(value) = expr {
            if !column.ty.accepts(value) {
                cx.error(
                    span,
                    format!(
                        "{what} is {}, but the effect gives it {value}",
                        column.ty.as_str()
                    ),
                    format!("write a value of type {}", column.ty.as_str()),
                );
            } else if let (Some(max), Some(text)) = (column.max_length, value.as_str())
                && text.chars().count() > max as usize
            {
                cx.error(
                    span,
                    format!("{what} allows {max} characters, this value has more"),
                    "shorten the value or raise `max_length`",
                );
            }
            return;
        }
        let Some(ty) = self.type_of(expr) else {
            return;
        };
        let numeric = |t: ColumnType| matches!(t, ColumnType::Integer | ColumnType::Real);
        let fits = ty == column.ty
            || (numeric(ty) && numeric(column.ty))
            || (ty == ColumnType::Timestamp && column.ty == ColumnType::Text);
        if !fits {
            let source = match expr {
                Expr::Var(var) => var.source(),
                Expr::Literal(value) => value.to_string(),
            };
            cx.error(
                span.clone(),
                format!(
                    "{what} is {}, but `{source}` is {}",
                    column.ty.as_str(),
                    ty.as_str()
                ),
                "set a column of the matching type, or a literal",
            );
        }
        if matches!(expr, Expr::Var(Var::Error)) && !column.nullable {
            cx.error(
                span,
                format!("`$error` is empty when the attempt succeeded, but {what} is not nullable"),
                "mark the column `nullable = true`",
            );
        }
    }
}
