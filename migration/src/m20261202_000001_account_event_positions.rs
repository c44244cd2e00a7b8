//! Each account's events get a position, 1, 2, 3, … in the order their transactions
//! committed, so an instance that missed some can ask for everything after the last one it
//! delivered. `account_cursors` hands the positions out: the row is updated in the
//! event's own transaction, and its lock orders concurrent writers of one account.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AccountEvents::Table)
                    .add_column(big_integer(AccountEvents::Seq).default(0))
                    .to_owned(),
            )
            .await?;
        // Events written before positions existed are numbered in the order they happened.
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE account_events SET seq = ranked.n \
             FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY occurred_at, id) AS n \
                   FROM account_events) AS ranked \
             WHERE account_events.id = ranked.id",
        )
        .await?;
        // Replays read one account's events after a position.
        manager
            .create_index(
                Index::create()
                    .name("idx_account_events_user_seq")
                    .table(AccountEvents::Table)
                    .col(AccountEvents::UserId)
                    .col(AccountEvents::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AccountCursors::Table)
                    .col(string_len(AccountCursors::UserId, 255).primary_key())
                    .col(big_integer(AccountCursors::LastSeq))
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(
            "INSERT INTO account_cursors (user_id, last_seq) \
             SELECT user_id, MAX(seq) FROM account_events GROUP BY user_id",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccountCursors::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_account_events_user_seq")
                    .table(AccountEvents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AccountEvents::Table)
                    .drop_column(AccountEvents::Seq)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum AccountEvents {
    Table,
    UserId,
    Seq,
}

#[derive(DeriveIden)]
enum AccountCursors {
    Table,
    UserId,
    LastSeq,
}
