//! "Was this you?": a device the account has never used is checked by the account's other
//! sessions. The device keeps how that check stands (`sign_in_check`, `sign_in_checked_at`)
//! and, under the confirmation policy, the moment its sessions end unless confirmed
//! (`confirm_by`); each session on such a device keeps that deadline too
//! (`pending_until`), so checking a session token needs no device read.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for column in [
            string_len_null(Devices::SignInCheck, 16),
            uuid_null(Devices::SignInSessionId),
            timestamp_with_time_zone_null(Devices::SignInCheckedAt),
            timestamp_with_time_zone_null(Devices::ConfirmBy),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Devices::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(timestamp_with_time_zone_null(Sessions::PendingUntil))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::PendingUntil)
                    .to_owned(),
            )
            .await?;
        for column in [
            Devices::ConfirmBy,
            Devices::SignInCheckedAt,
            Devices::SignInSessionId,
            Devices::SignInCheck,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Devices::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Devices {
    Table,
    SignInCheck,
    SignInSessionId,
    SignInCheckedAt,
    ConfirmBy,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    PendingUntil,
}
