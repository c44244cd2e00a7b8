//! Changes an administrator makes through the admin API are the user's account events too,
//! marked with the operator key that made them.

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
                    .add_column(string_len_null(AccountEvents::AdminKey, 16))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AccountEvents::Table)
                    .drop_column(AccountEvents::AdminKey)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum AccountEvents {
    Table,
    AdminKey,
}
