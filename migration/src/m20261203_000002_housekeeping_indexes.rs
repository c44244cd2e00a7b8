//! Indexes for the server's own housekeeping, which looks across all accounts by time:
//! trust that has run out, devices not seen for long, forgotten devices whose history
//! has gone, and security-log rows past the retention horizon. Ended sessions past it are
//! found through `idx_sessions_open_expiry`, which leads with `ended_at`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index, table, column) for each index this migration adds.
const INDEXES: [(&str, &str, &str); 4] = [
    ("idx_devices_trust_expiry", "devices", "trust_expires_at"),
    ("idx_devices_last_seen", "devices", "last_seen_at"),
    ("idx_devices_forgotten", "devices", "forgotten_at"),
    ("idx_account_events_time", "account_events", "occurred_at"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, column) in INDEXES {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Alias::new(table))
                        .col(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
