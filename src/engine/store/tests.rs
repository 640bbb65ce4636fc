//! Tests of the store against the default scenario's schema.

use rusqlite::types::ValueRef;
use serde_json::{Map, Value, json};

use super::records::sql_ref_to_json;
use super::schema::sql_literal;
use super::*;
use crate::scenario::load_or_default;
use crate::scenario::model::ColumnType;

/// What the controller fills into `auto = "now"` columns.
const NOW: &str = "2026-05-01T12:00:00Z";

fn store() -> Store {
    Store::open(load_or_default(None).unwrap()).unwrap()
}

fn values(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn names_of(store: &Store, kind: &str) -> Vec<String> {
    let conn = store.conn();
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = ?1 ORDER BY name")
        .unwrap();
    statement
        .query_map([kind], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Store>();
}

#[test]
fn schema_has_every_table_and_index() {
    let store = store();
    let tables = names_of(&store, "table");
    let indexes = names_of(&store, "index");
    for table in &store.scenario.tables {
        assert!(tables.contains(&table.name), "missing table {}", table.name);
        for index in &table.indexes {
            assert!(
                indexes.contains(&index.name),
                "missing index {}",
                index.name
            );
        }
    }
    let expected = store.scenario.tables.len()
        + store
            .scenario
            .tables
            .iter()
            .map(|t| t.indexes.len())
            .sum::<usize>();
    assert_eq!(store.ddl().len(), expected);
    assert!(store.ddl()[0].starts_with("CREATE TABLE \"tenants\""));
}

#[test]
fn ddl_quotes_and_renders_constraints() {
    let store = store();
    let projects = store
        .ddl()
        .iter()
        .find(|s| s.starts_with("CREATE TABLE \"projects\""))
        .unwrap();
    assert!(
        projects.contains("\"id\" INTEGER PRIMARY KEY"),
        "{projects}"
    );
    assert!(
        projects.contains("\"tenant_id\" INTEGER NOT NULL REFERENCES \"tenants\" (\"id\")"),
        "{projects}"
    );
    assert!(projects.contains("DEFAULT 'active'"), "{projects}");
    assert!(
        store.ddl().iter().any(|s| s
            == "CREATE UNIQUE INDEX \"projects_tenant_name\" ON \"projects\" (\"tenant_id\", \"name\")"),
    );
    assert_eq!(sql_literal(&json!("it's")), "'it''s'");
    assert_eq!(sql_literal(&json!(-1.5)), "(-1.5)");
    assert_eq!(sql_literal(&json!(true)), "1");
}

#[test]
fn seed_rows_are_present() {
    let store = store();
    let per_tenant = |tenant| store.rows("projects", Some(tenant)).unwrap().rows.len();
    assert_eq!((per_tenant(1), per_tenant(2), per_tenant(3)), (3, 2, 1));
    let counts = store.table_counts();
    for table in &store.scenario.tables {
        let count = counts.iter().find(|(n, _)| *n == table.name).unwrap().1;
        assert_eq!(count, table.rows.len(), "{}", table.name);
    }
    // The tenants table filtered by tenant shows only that tenant's own row.
    let tenants = store.rows("tenants", Some(2)).unwrap();
    assert_eq!(tenants.rows.len(), 1);
    assert_eq!(tenants.rows[0]["subdomain"], json!("globex"));
    assert_eq!(
        store.rows("roles", Some(2)).unwrap().rows.len(),
        store.scenario.roles.len()
    );
}

#[test]
fn foreign_keys_are_enforced() {
    let store = store();
    let error = store
        .insert(
            "projects",
            99,
            &values(json!({ "name": "Orphan", "owner_id": 1, "created_at": NOW })),
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Constraint {
                kind: ConstraintKind::ForeignKey,
                ..
            }
        ),
        "{error:?}"
    );
    // A user that projects still point at cannot be deleted.
    let error = store.delete("users", 1, 1).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Constraint {
                kind: ConstraintKind::ForeignKey,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn reads_are_tenant_scoped() {
    let store = store();
    assert_eq!(store.get("projects", 1, 1).unwrap().rows.len(), 1);
    let other = store.get("projects", 2, 1).unwrap();
    assert!(other.rows.is_empty());
    assert_eq!(other.params, vec![json!(2), json!(1)]);
    assert!(other.sql.contains("\"tenant_id\" = ?1"), "{}", other.sql);
    let list = store.list("projects", 2, 50).unwrap();
    assert_eq!(list.rows.len(), 2);
    assert!(list.rows.iter().all(|r| r["tenant_id"] == json!(2)));
    assert_eq!(store.list("projects", 1, 2).unwrap().rows.len(), 2);
    assert!(!store.exists_in_tenant("invoices", 1, 2).unwrap().0);
    assert!(store.exists_in_tenant("invoices", 1, 1).unwrap().0);
}

#[test]
fn writes_are_tenant_scoped() {
    let store = store();
    let patch = values(json!({ "status": "archived", "tenant_id": 2 }));
    let missed = store.update("projects", 2, 1, &patch).unwrap();
    assert_eq!((missed.rows.len(), missed.rows_affected), (0, 0));
    let updated = store.update("projects", 1, 1, &patch).unwrap();
    assert_eq!(updated.rows_affected, 1);
    assert_eq!(updated.rows[0]["status"], json!("archived"));
    assert_eq!(
        updated.rows[0]["tenant_id"],
        json!(1),
        "a row never changes tenant"
    );
    assert_eq!(store.delete("projects", 2, 1).unwrap().rows_affected, 0);
    let deleted = store.delete("projects", 1, 1).unwrap();
    assert_eq!(deleted.rows_affected, 1);
    assert!(store.get("projects", 1, 1).unwrap().rows.is_empty());
}

#[test]
fn tenant_list_plan_uses_an_index() {
    let store = store();
    let record = store.list("projects", 1, 50).unwrap();
    let plan = record.plan.join("\n");
    assert!(
        plan.contains("USING INDEX")
            || plan.contains("USING COVERING INDEX")
            || plan.contains("PRIMARY KEY"),
        "{plan}"
    );
    let get = store.get("projects", 1, 1).unwrap();
    assert!(
        get.plan.join("\n").contains("PRIMARY KEY"),
        "{:?}",
        get.plan
    );
}

#[test]
fn insert_sets_tenant_from_the_argument() {
    let store = store();
    let record = store
        .insert(
            "projects",
            2,
            &values(json!({ "name": "Sneaky", "tenant_id": 1, "owner_id": 3, "created_at": NOW })),
        )
        .unwrap();
    assert_eq!(record.rows_affected, 1);
    let row = &record.rows[0];
    assert_eq!(row["tenant_id"], json!(2));
    assert_eq!(row["status"], json!("active"), "column default applies");
    assert_eq!(record.params[0], json!(2));
    let id = row["id"].as_i64().unwrap();
    assert!(store.get("projects", 1, id).unwrap().rows.is_empty());
    assert_eq!(store.get("projects", 2, id).unwrap().rows.len(), 1);
}

#[test]
fn unique_violation_maps_to_unique() {
    let store = store();
    let error = store
        .insert(
            "projects",
            1,
            &values(json!({ "name": "Rocket skates", "owner_id": 1, "created_at": NOW })),
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Constraint {
                kind: ConstraintKind::Unique,
                ..
            }
        ),
        "{error:?}"
    );
    // Names are unique per tenant only.
    store
        .insert(
            "projects",
            2,
            &values(json!({ "name": "Rocket skates", "owner_id": 3, "created_at": NOW })),
        )
        .unwrap();
}

#[test]
fn other_constraints_are_classified() {
    let store = store();
    let error = store
        .insert(
            "projects",
            1,
            &values(json!({ "name": null, "owner_id": 1, "created_at": NOW })),
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Constraint {
                kind: ConstraintKind::NotNull,
                ..
            }
        ),
        "{error:?}"
    );
    let long = "x".repeat(81);
    let error = store
        .insert(
            "projects",
            1,
            &values(json!({ "name": long, "owner_id": 1, "created_at": NOW })),
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Constraint {
                kind: ConstraintKind::Check,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn unknown_names_never_reach_sql() {
    let store = store();
    let error = store
        .insert("projects", 1, &values(json!({ "name\" = 1; --": "x" })))
        .unwrap_err();
    assert!(matches!(error, StoreError::UnknownColumn(_)), "{error:?}");
    let error = store
        .list("projects; DROP TABLE tenants", 1, 1)
        .unwrap_err();
    assert!(matches!(error, StoreError::UnknownTable(_)), "{error:?}");
}

#[test]
fn injection_strings_are_stored_verbatim() {
    let store = store();
    let evil = "x'); DROP TABLE projects; --";
    let record = store
        .insert(
            "projects",
            1,
            &values(json!({ "name": evil, "owner_id": 1, "created_at": NOW })),
        )
        .unwrap();
    assert_eq!(record.rows[0]["name"], json!(evil));
    assert!(!record.sql.contains(evil));
    let id = record.rows[0]["id"].as_i64().unwrap();
    assert_eq!(
        store.get("projects", 1, id).unwrap().rows[0]["name"],
        json!(evil)
    );
    assert!(names_of(&store, "table").contains(&"projects".to_string()));
    assert_eq!(store.rows("projects", None).unwrap().rows.len(), 7);
}

#[test]
fn password_hash_is_never_returned() {
    let store = store();
    for record in [
        store.list("users", 1, 50).unwrap(),
        store.get("users", 1, 1).unwrap(),
        store.rows("users", None).unwrap(),
        store
            .update("users", 1, 2, &values(json!({ "name": "Bob B." })))
            .unwrap(),
    ] {
        assert!(!record.rows.is_empty());
        assert!(!record.sql.contains(SECRET_COLUMN), "{}", record.sql);
        for row in &record.rows {
            assert!(!row.contains_key(SECRET_COLUMN));
            assert!(
                !row.values()
                    .any(|v| v.as_str().is_some_and(|s| s.starts_with("$argon2")))
            );
        }
    }
}

#[test]
fn login_looks_up_and_verifies_passwords() {
    let store = store();
    let alice = store.user_by_email("alice@acme.test").unwrap().unwrap();
    assert_eq!((alice.id, alice.tenant_id), (1, 1));
    assert!(
        alice
            .password_hash
            .starts_with("$argon2id$v=19$m=4096,t=2,p=1$")
    );
    assert!(verify_password(&alice.password_hash, "alice-wonderland"));
    assert!(!verify_password(&alice.password_hash, "alice-wonderland "));
    assert!(!verify_password("not a hash", "alice-wonderland"));
    assert!(!alice.query.rows[0].contains_key(SECRET_COLUMN));
    assert!(store.user_by_email("nobody@acme.test").unwrap().is_none());
    // Deterministic salts: the same scenario and seed give the same hashes.
    let again = Store::open(store.scenario.clone()).unwrap();
    let alice_again = again.user_by_email("alice@acme.test").unwrap().unwrap();
    assert_eq!(alice.password_hash, alice_again.password_hash);
    let bob = store.user_by_email("bob@acme.test").unwrap().unwrap();
    assert_ne!(alice.password_hash, bob.password_hash);
}

#[test]
fn booleans_and_reals_come_back_typed() {
    assert_eq!(
        sql_ref_to_json(ValueRef::Integer(1), Some(ColumnType::Boolean)),
        json!(true)
    );
    assert_eq!(
        sql_ref_to_json(ValueRef::Integer(1), Some(ColumnType::Integer)),
        json!(1)
    );
    assert_eq!(sql_ref_to_json(ValueRef::Real(2.5), None), json!(2.5));
    assert_eq!(sql_ref_to_json(ValueRef::Null, None), Value::Null);
}

#[test]
fn running_totals_follow_inserts_status_changes_and_deletes() {
    let store = store();
    let payments = store.scenario.table("payments").unwrap();
    let rule = payments
        .column("amount_cents")
        .and_then(|c| c.max_remaining.clone())
        .unwrap();
    let used = |store: &Store| {
        store
            .headroom("payments", "amount_cents", &rule, 1, 3)
            .unwrap()
            .0
            .unwrap()
            .used
    };
    // Invoice 3 (125000) starts with nothing paid.
    assert_eq!(used(&store), 0.0);
    let pay = |amount: i64| {
        let values = values(
            json!({ "invoice_id": 3, "amount_cents": amount, "created_by": 1, "created_at": NOW }),
        );
        store.insert("payments", 1, &values).unwrap().rows[0]["id"]
            .as_i64()
            .unwrap()
    };
    let first = pay(100_000);
    let second = pay(20_000);
    assert_eq!(used(&store), 120_000.0, "pending payments count");
    // Failed: no longer counts. Completed: counts again.
    let set = |id: i64, status: &str| {
        let values = values(json!({ "status": status }));
        store.update("payments", 1, id, &values).unwrap();
    };
    set(first, "failed");
    assert_eq!(used(&store), 20_000.0);
    set(first, "completed");
    assert_eq!(used(&store), 120_000.0);
    // Another tenant's payments never count here.
    assert!(
        store
            .headroom("payments", "amount_cents", &rule, 2, 3)
            .unwrap()
            .0
            .is_none()
    );
    store.delete("payments", 1, second).unwrap();
    assert_eq!(
        used(&store),
        100_000.0,
        "a deleted payment frees its amount"
    );
    // The seed payment of invoice 1 (490000, completed) was counted when it was seeded.
    let seeded = store
        .headroom("payments", "amount_cents", &rule, 1, 1)
        .unwrap()
        .0
        .unwrap();
    assert_eq!(seeded.used, 490_000.0);
}
