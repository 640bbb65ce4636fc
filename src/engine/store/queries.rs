//! Tenant-scoped reads: a page of rows, one row by id, an existence check, and the whole-table
//! reads and counts of the ERD view.

use rusqlite::params_from_iter;
use rusqlite::types::Value as SqlValue;

use super::records::sql_to_json;
use super::sql::{keyed_filter, order_by, quote, select_list, single_key};
use super::{QueryRecord, Store, StoreError};
use crate::scenario::model::{FillFrom, TENANT_COLUMN};

impl Store {
    /// Up to `limit` rows of `table` in the tenant, in primary-key order.
    ///
    /// `SELECT … FROM t WHERE tenant_id = ?1 ORDER BY id LIMIT ?2`; tables that are not
    /// tenant-scoped are read without the tenant filter.
    pub fn list(
        &self,
        table: &str,
        tenant_id: i64,
        limit: usize,
    ) -> Result<QueryRecord, StoreError> {
        let table = self.table(table)?;
        let limit = SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX));
        let (filter, params) = if table.tenant_scoped {
            (
                format!("WHERE {} = ?1 ", quote(TENANT_COLUMN)),
                vec![SqlValue::Integer(tenant_id), limit],
            )
        } else {
            (String::new(), vec![limit])
        };
        let sql = format!(
            "SELECT {} FROM {} {filter}ORDER BY {} LIMIT ?{}",
            select_list(table),
            quote(&table.name),
            order_by(table),
            params.len(),
        );
        self.run(table, &sql, params)
    }

    /// The row of `table` with primary key `id` in the tenant: 0 or 1 rows.
    ///
    /// Another tenant's row is simply not found, exactly like a row that does not exist.
    pub fn get(&self, table: &str, tenant_id: i64, id: i64) -> Result<QueryRecord, StoreError> {
        let table = self.table(table)?;
        let (filter, params) = keyed_filter(table, tenant_id, id, 1)?;
        let sql = format!(
            "SELECT {} FROM {} WHERE {filter}",
            select_list(table),
            quote(&table.name),
        );
        self.run(table, &sql, params)
    }

    /// Whether `table` has a row with primary key `id` in the tenant.
    ///
    /// A foreign key only proves that the target row exists somewhere; the controller asks this
    /// to make sure it exists in the caller's tenant. For tables that are not tenant-scoped this
    /// is a plain existence check.
    ///
    /// Returns the statement that ran too (its SQL and parameters; no rows or plan), so the
    /// database stage can show the check in the trace.
    pub fn exists_in_tenant(
        &self,
        table: &str,
        id: i64,
        tenant_id: i64,
    ) -> Result<(bool, QueryRecord), StoreError> {
        let table = self.table(table)?;
        let (filter, params) = keyed_filter(table, tenant_id, id, 1)?;
        let sql = format!("SELECT 1 FROM {} WHERE {filter}", quote(&table.name));
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&sql)?;
        let exists = statement.exists(params_from_iter(params.iter()))?;
        let record = QueryRecord {
            params: params.iter().map(sql_to_json).collect(),
            sql,
            ..QueryRecord::default()
        };
        Ok((exists, record))
    }

    /// Every row of `table` in primary-key order, or only the rows of one tenant (for the ERD
    /// view).
    ///
    /// The tenant filter applies to tenant-scoped tables and to the tenants table itself (its row
    /// `id = tenant`), which makes isolation visible; other shared tables (roles) are read whole.
    pub fn rows(&self, table: &str, tenant_id: Option<i64>) -> Result<QueryRecord, StoreError> {
        let table = self.table(table)?;
        let filter_column = match tenant_id {
            Some(_) if table.tenant_scoped => Some(TENANT_COLUMN.to_string()),
            Some(_) if table.fill == Some(FillFrom::Tenants) => {
                Some(single_key(table)?.to_string())
            }
            _ => None,
        };
        let (filter, params) = match (filter_column, tenant_id) {
            (Some(column), Some(tenant)) => (
                format!(" WHERE {} = ?1", quote(&column)),
                vec![SqlValue::Integer(tenant)],
            ),
            _ => (String::new(), Vec::new()),
        };
        let sql = format!(
            "SELECT {} FROM {}{filter} ORDER BY {}",
            select_list(table),
            quote(&table.name),
            order_by(table),
        );
        self.run(table, &sql, params)
    }

    /// The number of rows in each table, in scenario order.
    ///
    /// A table whose count cannot be read (which would mean a broken database) counts as 0.
    #[cfg(test)]
    pub fn table_counts(&self) -> Vec<(String, usize)> {
        let conn = self.conn();
        self.scenario
            .tables
            .iter()
            .map(|table| {
                let sql = format!("SELECT COUNT(*) FROM {}", quote(&table.name));
                let count = conn
                    .prepare_cached(&sql)
                    .and_then(|mut s| s.query_row([], |row| row.get::<_, i64>(0)))
                    .map_or(0, |n| usize::try_from(n).unwrap_or(0));
                (table.name.clone(), count)
            })
            .collect()
    }
}
