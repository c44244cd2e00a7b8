//! Indexes for the server's own housekeeping, which looks across all accounts by time:
//! trust that has run out, devices not seen for long, forgotten devices whose history
//! has gone, and security-log entries past the retention horizon. Ended sessions past it
//! are found through `idx_sessions_ended` (`m20261207_000001`).
//!
//! The trust and forgotten indexes are partial, holding only the rows their sweeps look
//! for, so signing in on a new device (neither trusted nor forgotten) does not write them.
//! Both databases read `CREATE INDEX … WHERE` the same way.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index, table, column, the rows it holds) for each index this migration adds.
const INDEXES: [(&str, &str, &str, Option<&str>); 4] = [
    (
        "idx_devices_trust_expiry",
        "devices",
        "trust_expires_at",
        Some("trust_expires_at IS NOT NULL"),
    ),
    ("idx_devices_last_seen", "devices", "last_seen_at", None),
    (
        "idx_devices_forgotten",
        "devices",
        "forgotten_at",
        Some("forgotten_at IS NOT NULL"),
    ),
    (
        "idx_account_events_time",
        "account_events",
        "occurred_at",
        None,
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, table, column, rows) in INDEXES {
            let only = rows
                .map(|rows| format!(" WHERE {rows}"))
                .unwrap_or_default();
            db.execute_unprepared(&format!("CREATE INDEX {name} ON {table} ({column}){only}"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
