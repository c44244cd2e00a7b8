//! Upgrading a database that has events from before positions existed numbers each
//! account's events in the order they happened, and starts its cursor after them.

use migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use migration::{Migrator, MigratorTrait};

/// Events of two accounts written by the first schema, out of time order on purpose.
async fn old_events(db: &DatabaseConnection) {
    Migrator::up(db, Some(1)).await.unwrap();
    let rows = [
        ("alice", "2026-11-30T10:00:02Z"),
        ("bob", "2026-11-30T10:00:00Z"),
        ("alice", "2026-11-30T10:00:00Z"),
        ("alice", "2026-11-30T10:00:01Z"),
    ];
    for (user, at) in rows {
        db.execute_unprepared(&format!(
            "INSERT INTO account_events (id, user_id, kind, occurred_at) \
             VALUES ('{}', '{user}', 'DEVICE_RENAMED', '{at}')",
            uuid::Uuid::now_v7()
        ))
        .await
        .unwrap();
    }
}

async fn numbered(db: &DatabaseConnection, sql: &str) -> Vec<(String, i64)> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.try_get_by_index(0).unwrap(),
                row.try_get_by_index(1).unwrap(),
            )
        })
        .collect()
}

async fn assert_upgraded(db: &DatabaseConnection) {
    Migrator::up(db, None).await.unwrap();
    let events = numbered(
        db,
        "SELECT user_id, seq FROM account_events ORDER BY user_id, occurred_at",
    )
    .await;
    let expected = [("alice", 1), ("alice", 2), ("alice", 3), ("bob", 1)];
    assert_eq!(
        events,
        expected.map(|(user, seq)| (user.to_owned(), seq)).to_vec()
    );
    let cursors = numbered(
        db,
        "SELECT user_id, last_seq FROM account_cursors ORDER BY user_id",
    )
    .await;
    assert_eq!(cursors, vec![("alice".into(), 3), ("bob".into(), 1)]);
}

#[tokio::test]
async fn sqlite_events_are_numbered_in_the_order_they_happened() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    old_events(&db).await;
    assert_upgraded(&db).await;
}

#[tokio::test]
async fn postgres_events_are_numbered_in_the_order_they_happened() {
    let Ok(admin_url) = std::env::var("SESSIONHUB_TEST_POSTGRES_URL") else {
        eprintln!("skipped: set SESSIONHUB_TEST_POSTGRES_URL to run this test on PostgreSQL");
        return;
    };
    let name = format!("sessionhub_migration_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let db = Database::connect(format!("{base}/{name}")).await.unwrap();
    old_events(&db).await;
    assert_upgraded(&db).await;
    db.close().await.unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\""))
        .await
        .unwrap();
}
