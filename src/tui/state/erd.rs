//! State of the Tenant schema (ERD) view: the table list with its filter, the selected table's
//! columns and foreign keys with a breadcrumb of followed keys, and the real rows.

use std::sync::Arc;

use crate::engine::{QueryRecord, SECRET_COLUMN};
use crate::scenario::{FillFrom, Scenario, Table};

use super::super::action::Action;
use super::super::engine_link::{Origin, Outgoing};
use super::lifecycle::DrawnLimit;
use crate::engine::Command;

/// Which pane has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErdFocus {
    /// The table list.
    #[default]
    Tables,
    /// The selected table's columns and incoming keys.
    Columns,
}

/// What the right side shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErdMode {
    /// Columns, keys and indexes.
    #[default]
    Schema,
    /// The rows in the embedded database.
    Rows,
}

/// A foreign key pointing at the selected table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingKey {
    /// Referencing table.
    pub table: String,
    /// Referencing column.
    pub column: String,
    /// Referenced column of the selected table.
    pub target: String,
}

/// Rows read from the database.
#[derive(Debug, Clone)]
pub struct RowsView {
    /// Table.
    pub table: String,
    /// Tenant, or `None` for all.
    pub tenant: Option<i64>,
    /// The query and its rows, or the error.
    pub result: Result<QueryRecord, String>,
}

/// Whose rows a rows query returns, decided the way the store decides it (`Store::rows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowScope {
    /// Every tenant's rows (no tenant picked).
    AllTenants,
    /// Only this tenant's rows: a tenant-scoped table, or the tenants table itself.
    Tenant(i64),
    /// The table has no tenant column: every tenant sees all its rows.
    Shared,
}

/// Why the store leaves `column` out of the rows it reads, if it does: it never selects the
/// password hash outside login (see `store::sql::select_list`), so the rows view shows the
/// column as hidden rather than dropping it without a word.
pub fn hidden_reason(column: &str) -> Option<&'static str> {
    (column == SECRET_COLUMN).then_some("secret (Argon2id hash; only login reads it)")
}

/// Where the user was on a table when a followed key took them away: restored by Back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    item: usize,
    focus: ErdFocus,
    row: usize,
    column_offset: usize,
}

/// How often the rows shown are read again while they are on screen (engine ms).
const ROWS_REFRESH_MS: u64 = 1_000;

/// The Tenant schema view's state.
#[derive(Debug, Clone)]
pub struct ErdState {
    scenario: Arc<Scenario>,
    /// Filter text.
    pub filter: String,
    /// The filter is being typed.
    pub filtering: bool,
    /// The pane with the keyboard.
    pub focus: ErdFocus,
    /// Schema or rows.
    pub mode: ErdMode,
    /// Tables visited by following keys; the last is the one shown.
    pub trail: Vec<String>,
    /// Where the user was on each table of the trail but the last (same order).
    places: Vec<Place>,
    /// The trail, its places and the place on its last table when `/` was pressed: Esc while
    /// typing puts them back, since typing moves the selection to the first match.
    before_filter: Option<(Vec<String>, Vec<Place>, Place)>,
    /// Selected column (or incoming key, after the columns).
    pub item: usize,
    /// Tenant whose rows are shown, or `None` for all.
    pub tenant: Option<i64>,
    /// The rows last read.
    pub rows: Option<RowsView>,
    /// Rows asked for and not back yet.
    pub rows_pending: Option<(String, Option<i64>)>,
    /// Engine time (ms) the rows shown were first seen by a snapshot: they are read again a
    /// second later (see [`ErdState::refresh_rows`]).
    rows_seen_at_ms: Option<u64>,
    /// Selected row (rows view); the view scrolls to keep it on screen.
    pub row: usize,
    /// First non-key column shown (rows view): key columns stay frozen on the left.
    pub column_offset: usize,
    /// The furthest `column_offset` that shows anything new at the width last drawn (the view
    /// writes it): → stops once the last column is on screen.
    pub column_offset_max: DrawnLimit,
}

const PAGE: usize = 10;

impl ErdState {
    /// The view of `scenario`, on its first table.
    pub fn new(scenario: Arc<Scenario>) -> Self {
        let first = scenario
            .tables
            .first()
            .map(|t| t.name.clone())
            .unwrap_or_default();
        Self {
            scenario,
            filter: String::new(),
            filtering: false,
            focus: ErdFocus::Tables,
            mode: ErdMode::Schema,
            trail: vec![first],
            places: Vec::new(),
            before_filter: None,
            item: 0,
            tenant: None,
            rows: None,
            rows_pending: None,
            rows_seen_at_ms: None,
            row: 0,
            column_offset: 0,
            column_offset_max: DrawnLimit::default(),
        }
    }

    /// The name of the table shown.
    pub fn current_name(&self) -> &str {
        self.trail.last().map_or("", String::as_str)
    }

    /// The table shown.
    pub fn current(&self) -> Option<&Table> {
        self.scenario.table(self.current_name())
    }

    /// The tables the filter lets through, in scenario order.
    pub fn visible_tables(&self) -> Vec<&Table> {
        let filter = self.filter.to_lowercase();
        self.scenario
            .tables
            .iter()
            .filter(|t| filter.is_empty() || t.name.to_lowercase().contains(&filter))
            .collect()
    }

    /// Foreign keys of other tables (or this one) pointing at `table`.
    pub fn incoming(&self, table: &str) -> Vec<IncomingKey> {
        self.scenario
            .tables
            .iter()
            .flat_map(|t| {
                t.columns.iter().filter_map(move |c| {
                    let fk = c.references.as_ref()?;
                    (fk.table == table).then(|| IncomingKey {
                        table: t.name.clone(),
                        column: c.name.clone(),
                        target: fk.column.clone(),
                    })
                })
            })
            .collect()
    }

    fn item_count(&self) -> usize {
        self.current().map_or(0, |t| t.columns.len()) + self.incoming(self.current_name()).len()
    }

    /// Whose rows the rows view shows for the table shown, as the store filters them.
    pub fn row_scope(&self) -> RowScope {
        let filtered = self
            .current()
            .is_some_and(|t| t.tenant_scoped || t.fill == Some(FillFrom::Tenants));
        match self.tenant {
            None => RowScope::AllTenants,
            Some(id) if filtered => RowScope::Tenant(id),
            Some(_) => RowScope::Shared,
        }
    }

    /// The number of rows read for the table shown (0 until they arrive, or on an error).
    pub fn row_count(&self) -> usize {
        self.shown_rows()
            .and_then(|r| r.result.as_ref().ok())
            .map_or(0, |record| record.rows.len())
    }

    /// The columns the rows view can scroll through: all but the (frozen) primary key.
    pub fn scrolling_columns(&self) -> usize {
        self.current()
            .map_or(0, |t| t.columns.iter().filter(|c| !c.primary_key).count())
    }

    /// A tour step: the schema of `table`, as if picked from the list.
    pub fn show(&mut self, table: &str) {
        self.show_step(table, None, false, None);
    }

    /// What a tour step asks of the schema view: `table` with `column` selected; `follow` its
    /// foreign key to the table it points at (as Enter does); `row` (0-based) opens the rows
    /// of the table finally shown at that row.
    pub fn show_step(
        &mut self,
        table: &str,
        column: Option<&str>,
        follow: bool,
        row: Option<usize>,
    ) {
        self.mode = ErdMode::Schema;
        self.open(table, column, false);
        if follow {
            self.follow();
        }
        if let Some(row) = row {
            self.mode = ErdMode::Rows;
            self.rows = None;
            self.row = row;
        }
    }

    /// Shows `table` (following a key or picking it in the list), selecting `column` if given.
    /// A followed key (`remember`) keeps where the user was, for Back.
    fn open(&mut self, table: &str, column: Option<&str>, remember: bool) {
        let Some(target) = self.scenario.table(table) else {
            return;
        };
        let item = column
            .and_then(|c| target.columns.iter().position(|col| col.name == c))
            .unwrap_or(0);
        if !remember {
            self.trail = vec![table.to_string()];
            self.places.clear();
        } else if self.current_name() != table {
            self.places.push(self.place());
            self.trail.push(table.to_string());
        }
        if !self.visible_tables().iter().any(|t| t.name == table) {
            self.filter.clear();
        }
        self.item = item;
        self.row = 0;
        self.column_offset = 0;
    }

    fn place(&self) -> Place {
        Place {
            item: self.item,
            focus: self.focus,
            row: self.row,
            column_offset: self.column_offset,
        }
    }

    /// Back along the trail: the previous table, with its column, focus and rows position.
    fn back(&mut self) {
        if self.trail.len() < 2 {
            return;
        }
        self.trail.pop();
        let place = self.places.pop().unwrap_or(Place {
            item: 0,
            focus: self.focus,
            row: 0,
            column_offset: 0,
        });
        self.restore(place);
    }

    fn restore(&mut self, place: Place) {
        self.item = place.item;
        self.focus = place.focus;
        self.row = place.row;
        self.column_offset = place.column_offset;
    }

    fn list_position(&self) -> usize {
        self.visible_tables()
            .iter()
            .position(|t| t.name == self.current_name())
            .unwrap_or(0)
    }

    /// Where the table shown is in the (filtered) list, and how many the list holds.
    pub fn list_index(&self) -> (usize, usize) {
        (self.list_position(), self.visible_tables().len())
    }

    fn move_in_list(&mut self, to: impl Fn(usize, usize) -> usize) {
        let names: Vec<String> = self
            .visible_tables()
            .iter()
            .map(|t| t.name.clone())
            .collect();
        if names.is_empty() {
            return;
        }
        let position = to(self.list_position(), names.len() - 1).min(names.len() - 1);
        self.open(&names[position], None, false);
    }

    fn move_item(&mut self, to: impl Fn(usize, usize) -> usize) {
        let last = self.item_count().saturating_sub(1);
        self.item = to(self.item, last).min(last);
    }

    fn move_row(&mut self, to: impl Fn(usize, usize) -> usize) {
        let last = self.row_count().saturating_sub(1);
        self.row = to(self.row, last).min(last);
    }

    fn follow(&mut self) {
        let Some(table) = self.current() else { return };
        let columns = table.columns.len();
        if self.item < columns {
            if let Some(fk) = table.columns[self.item].references.clone() {
                self.open(&fk.table, Some(&fk.column), true);
            }
        } else if let Some(key) = self
            .incoming(self.current_name())
            .get(self.item - columns)
            .cloned()
        {
            self.open(&key.table, Some(&key.column), true);
        }
    }

    /// Applies an action; returns the engine commands it needs.
    pub fn update(&mut self, action: Action) -> Vec<Outgoing> {
        match action {
            Action::StartFilter
            | Action::FilterChar(_)
            | Action::FilterBackspace
            | Action::FilterDone
            | Action::FilterCancel => self.update_filter(action),
            Action::ToggleRows => self.toggle_rows(),
            Action::CycleTenant => self.cycle_tenant(),
            _ => match self.mode {
                ErdMode::Rows => self.update_rows(action),
                ErdMode::Schema => self.update_schema(action),
            },
        }
        self.rows_request().into_iter().collect()
    }

    fn update_filter(&mut self, action: Action) {
        match action {
            // A fresh filter each time: a second `/` must not append to the last one.
            Action::StartFilter => {
                self.before_filter = Some((self.trail.clone(), self.places.clone(), self.place()));
                self.filter.clear();
                self.filtering = true;
                self.focus = ErdFocus::Tables;
            }
            Action::FilterChar(c) => {
                self.filter.push(c);
                self.snap_to_filter();
            }
            Action::FilterBackspace => {
                self.filter.pop();
                self.snap_to_filter();
            }
            Action::FilterDone => {
                self.filtering = false;
                self.before_filter = None;
            }
            Action::FilterCancel => {
                self.clear_filter();
                if let Some((trail, places, place)) = self.before_filter.take() {
                    self.trail = trail;
                    self.places = places;
                    self.restore(place);
                }
            }
            _ => {}
        }
    }

    /// Drops the filter: the whole list again, the table shown stays selected.
    fn clear_filter(&mut self) {
        self.filter.clear();
        self.filtering = false;
    }

    fn toggle_rows(&mut self) {
        self.mode = match self.mode {
            ErdMode::Schema => ErdMode::Rows,
            ErdMode::Rows => ErdMode::Schema,
        };
        // Traffic writes rows all the time: read them afresh each time the tab opens. The
        // selected row stays (clamped when they arrive): `r` twice comes back to it.
        self.rows = None;
    }

    fn cycle_tenant(&mut self) {
        let ids: Vec<i64> = self.scenario.tenants.iter().map(|t| t.id).collect();
        self.tenant = match self.tenant {
            None => ids.first().copied(),
            Some(id) => ids.iter().skip_while(|&&t| t != id).nth(1).copied(),
        };
        self.mode = ErdMode::Rows;
        self.row = 0;
    }

    /// Keys in the rows view: ↑↓ PgUp PgDn Home End move the selected row, ←→ scroll the
    /// columns; Enter, Backspace and Esc go back to the schema (as `r` does).
    fn update_rows(&mut self, action: Action) {
        match action {
            Action::Up => self.move_row(|r, _| r.saturating_sub(1)),
            Action::Down => self.move_row(|r, _| r + 1),
            Action::PageUp => self.move_row(|r, _| r.saturating_sub(PAGE)),
            Action::PageDown => self.move_row(|r, _| r + PAGE),
            Action::First => self.row = 0,
            Action::Last => self.move_row(|_, last| last),
            Action::Left => self.column_offset = self.column_offset.saturating_sub(1),
            Action::Right => {
                let last = self.scrolling_columns().saturating_sub(1);
                let useful = usize::from(self.column_offset_max.get());
                self.column_offset = (self.column_offset + 1).min(last).min(useful);
            }
            Action::Enter | Action::Back | Action::CloseOverlay => self.mode = ErdMode::Schema,
            _ => {}
        }
    }

    fn update_schema(&mut self, action: Action) {
        match (action, self.focus) {
            (Action::Back, _) => self.back(),
            (Action::CloseOverlay, _) => self.clear_filter(),
            (Action::Up, ErdFocus::Tables) => self.move_in_list(|p, _| p.saturating_sub(1)),
            (Action::Down, ErdFocus::Tables) => self.move_in_list(|p, last| (p + 1).min(last)),
            (Action::PageUp, ErdFocus::Tables) => self.move_in_list(|p, _| p.saturating_sub(PAGE)),
            (Action::PageDown, ErdFocus::Tables) => {
                self.move_in_list(|p, last| (p + PAGE).min(last))
            }
            (Action::First, ErdFocus::Tables) => self.move_in_list(|_, _| 0),
            (Action::Last, ErdFocus::Tables) => self.move_in_list(|_, last| last),
            (Action::Right | Action::Enter, ErdFocus::Tables) => self.focus = ErdFocus::Columns,
            (Action::Left, ErdFocus::Columns) => self.focus = ErdFocus::Tables,
            (Action::Up, ErdFocus::Columns) => self.move_item(|i, _| i.saturating_sub(1)),
            (Action::Down, ErdFocus::Columns) => self.move_item(|i, _| i + 1),
            (Action::PageUp, ErdFocus::Columns) => self.move_item(|i, _| i.saturating_sub(PAGE)),
            (Action::PageDown, ErdFocus::Columns) => self.move_item(|i, _| i + PAGE),
            (Action::First, ErdFocus::Columns) => self.item = 0,
            (Action::Last, ErdFocus::Columns) => self.move_item(|_, last| last),
            (Action::Enter, ErdFocus::Columns) => self.follow(),
            _ => {}
        }
    }

    fn snap_to_filter(&mut self) {
        let first = self.visible_tables().first().map(|t| t.name.clone());
        let shown = self
            .visible_tables()
            .iter()
            .any(|t| t.name == self.current_name());
        if let (false, Some(first)) = (shown, first) {
            self.open(&first, None, false);
        }
    }

    /// The rows query the Rows tab needs now, if its rows are not there or on their way.
    pub fn rows_request(&mut self) -> Option<Outgoing> {
        if self.mode != ErdMode::Rows {
            return None;
        }
        let want = (self.current_name().to_string(), self.tenant);
        let have = self
            .rows
            .as_ref()
            .is_some_and(|r| r.table == want.0 && r.tenant == want.1);
        if have || self.rows_pending.as_ref() == Some(&want) {
            return None;
        }
        self.rows_pending = Some(want.clone());
        Some(Outgoing {
            origin: Origin::Schema,
            command: Command::Rows {
                table: want.0,
                tenant: want.1,
            },
        })
    }

    /// Takes rows read from the database.
    pub fn receive_rows(&mut self, rows: RowsView) {
        self.rows_seen_at_ms = None;
        if self
            .rows_pending
            .as_ref()
            .is_some_and(|(t, n)| *t == rows.table && *n == rows.tenant)
        {
            self.rows_pending = None;
        }
        self.rows = Some(rows);
        // Rows can go (a tenant's view, a delete): keep the selection on one that is there.
        self.row = self.row.min(self.row_count().saturating_sub(1));
    }

    /// The rows of the table shown, if they are the ones read.
    pub fn shown_rows(&self) -> Option<&RowsView> {
        self.rows
            .as_ref()
            .filter(|r| r.table == self.current_name() && r.tenant == self.tenant)
    }

    /// Reads the rows shown again once they are a second of engine time old, so rows the workers
    /// change while traffic runs (a payment becoming `completed`, a delivery logged) change on
    /// screen too. The old rows stay shown until the new ones arrive: no flicker.
    pub fn refresh_rows(&mut self, now_ms: u64) -> Option<Outgoing> {
        if self.mode != ErdMode::Rows || self.rows_pending.is_some() {
            return None;
        }
        let want = self.shown_rows().map(|r| (r.table.clone(), r.tenant))?;
        let seen = *self.rows_seen_at_ms.get_or_insert(now_ms);
        if now_ms.saturating_sub(seen) < ROWS_REFRESH_MS {
            return None;
        }
        self.rows_seen_at_ms = None;
        self.rows_pending = Some(want.clone());
        Some(Outgoing {
            origin: Origin::Schema,
            command: Command::Rows {
                table: want.0,
                tenant: want.1,
            },
        })
    }

    /// Forgets the rows read so the next look reads them again (after writes).
    pub fn invalidate_rows(&mut self) -> Option<Outgoing> {
        self.rows = None;
        self.rows_pending = None;
        self.rows_request()
    }
}
