//! Why a store operation failed, and which constraint a write broke (mapped from SQLite's
//! extended error codes).

use std::fmt;

use rusqlite::{ErrorCode, ffi};
use serde::Serialize;

/// Which constraint a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    /// A `UNIQUE` column or index, or the primary key, already has the value.
    Unique,
    /// A `REFERENCES` target row does not exist, or a referenced row would be deleted.
    ForeignKey,
    /// A `NOT NULL` column got NULL.
    NotNull,
    /// A `CHECK` failed (a boolean that is not 0/1, a text longer than `max_length`).
    Check,
    /// Any other constraint.
    Other,
}

impl fmt::Display for ConstraintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unique => "unique",
            Self::ForeignKey => "foreign key",
            Self::NotNull => "not null",
            Self::Check => "check",
            Self::Other => "other",
        })
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The scenario has no table of this name.
    #[error("no table `{0}` in the schema")]
    UnknownTable(String),
    /// A value was given for a column the table does not have; nothing reached SQL.
    #[error("no column `{0}` in the table")]
    UnknownColumn(String),
    /// The table has no single-column primary key, so rows cannot be addressed by id.
    #[error("table `{0}` has no single-column primary key to address rows by id")]
    NoRowId(String),
    /// A write broke a constraint of the schema.
    #[error("{kind} constraint failed: {message}")]
    Constraint {
        /// Which kind of constraint.
        kind: ConstraintKind,
        /// SQLite's message, e.g. `UNIQUE constraint failed: projects.tenant_id, projects.name`.
        message: String,
    },
    /// A worker's effect updates a row that is not there (in the message's tenant).
    #[error("{0}")]
    NoSuchRow(String),
    /// A persona's password could not be hashed.
    #[error("could not hash a password: {0}")]
    PasswordHash(String),
    /// Any other SQLite error.
    #[error("SQL error: {0}")]
    Sql(#[source] rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        let rusqlite::Error::SqliteFailure(failure, message) = &error else {
            return Self::Sql(error);
        };
        if failure.code != ErrorCode::ConstraintViolation {
            return Self::Sql(error);
        }
        let kind = match failure.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE
            | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            | ffi::SQLITE_CONSTRAINT_ROWID => ConstraintKind::Unique,
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ConstraintKind::ForeignKey,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ConstraintKind::NotNull,
            ffi::SQLITE_CONSTRAINT_CHECK => ConstraintKind::Check,
            _ => ConstraintKind::Other,
        };
        Self::Constraint {
            kind,
            message: message.clone().unwrap_or_else(|| failure.to_string()),
        }
    }
}
