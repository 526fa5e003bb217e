//! The two migration folders must describe the same database.

use std::collections::BTreeSet;
use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use crate::helpers::*;

fn migration_names(backend: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let entry = entry.unwrap();
            for file in ["up.sql", "down.sql"] {
                assert!(
                    entry.path().join(file).is_file(),
                    "{} lacks {file}",
                    entry.path().display()
                );
            }
            entry.file_name().to_string_lossy().into_owned()
        })
        .collect()
}

#[test]
fn both_migration_folders_hold_the_same_migrations() {
    let sqlite = migration_names("sqlite");
    let postgres = migration_names("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must have the same folders"
    );
}

#[derive(QueryableByName, Debug)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Bool)]
    nullable: bool,
}

/// (table, column, type family, nullable): what the application can tell apart.
type Column = (String, String, &'static str, bool);

fn family(data_type: &str) -> &'static str {
    let t = data_type.to_ascii_lowercase();
    if t.contains("int") || t.contains("serial") {
        "integer"
    } else if t.contains("bool") {
        "boolean"
    } else if t.contains("timestamp") {
        "timestamp"
    } else if t.contains("text") || t.contains("char") {
        "text"
    } else {
        "other"
    }
}

fn columns(rows: Vec<ColumnRow>) -> BTreeSet<Column> {
    rows.into_iter()
        .map(|r| {
            (
                r.table_name,
                r.column_name,
                family(&r.data_type),
                r.nullable,
            )
        })
        .collect()
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_pg_tests),
    ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
)]
async fn both_backends_migrate_to_the_same_tables_and_columns() {
    let sqlite_app = spawn_app(Backend::Sqlite).await;
    let postgres_app = spawn_app(Backend::Postgres).await;
    let sqlite = sqlite_app
        .db(|conn| {
            Ok(diesel::sql_query(
                "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
                 (p.\"notnull\" = 0) AS nullable \
                 FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
                 AND m.name <> '__diesel_schema_migrations'",
            )
            .load::<ColumnRow>(conn)?)
        })
        .await;
    let postgres = postgres_app
        .db(|conn| {
            Ok(diesel::sql_query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                 data_type::text AS data_type, (is_nullable = 'YES') AS nullable \
                 FROM information_schema.columns WHERE table_schema = 'public' \
                 AND table_name <> '__diesel_schema_migrations'",
            )
            .load::<ColumnRow>(conn)?)
        })
        .await;
    let sqlite = columns(sqlite);
    let postgres = columns(postgres);
    assert!(sqlite.iter().any(|c| c.0 == "users"), "the schema was read");
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "only in SQLite: {only_sqlite:#?}\nonly in PostgreSQL: {only_postgres:#?}"
    );
}
