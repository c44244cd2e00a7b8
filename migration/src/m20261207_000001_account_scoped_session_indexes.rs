//! Session indexes that lead with what each statement is scoped by, so that the right plan
//! is the only sensible one with or without statistics.
//!
//! `idx_sessions_open_expiry (ended_at, expires_at)` held every live session of every
//! account under one key, and planners without fresh statistics took it for an account's
//! own live sessions (`user_id = ? AND ended_at IS NULL AND expires_at > ?`): a scan of the
//! whole service's live sessions per sign-in. In its place:
//! - `idx_sessions_user_live (user_id, expires_at)` over live sessions: an account's own;
//! - `idx_sessions_device_live (device_id, expires_at)` over live sessions: a device's own;
//! - `idx_sessions_live_expiry (expires_at)` over live sessions: the expiry sweep's page;
//! - `idx_sessions_ended (ended_at)` over ended sessions: retention's page.
//!
//! The first three are partial (`WHERE ended_at IS NULL`), so they hold only the live
//! sessions, a fraction of a table that keeps history.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index, columns, the rows it holds) for each index this migration adds.
const INDEXES: [(&str, &str, &str); 4] = [
    (
        "idx_sessions_user_live",
        "user_id, expires_at",
        "ended_at IS NULL",
    ),
    (
        "idx_sessions_device_live",
        "device_id, expires_at",
        "ended_at IS NULL",
    ),
    ("idx_sessions_live_expiry", "expires_at", "ended_at IS NULL"),
    ("idx_sessions_ended", "ended_at", "ended_at IS NOT NULL"),
];

/// The index they replace, as the first migration made it.
const REPLACED: &str = "idx_sessions_open_expiry";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, columns, rows) in INDEXES {
            db.execute_unprepared(&format!(
                "CREATE INDEX {name} ON sessions ({columns}) WHERE {rows}"
            ))
            .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name(REPLACED)
                    .table(Alias::new("sessions"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {REPLACED} ON sessions (ended_at, expires_at)"
            ))
            .await?;
        for (name, _, _) in INDEXES {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(Alias::new("sessions"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
