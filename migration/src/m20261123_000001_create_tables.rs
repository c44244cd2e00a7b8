use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Devices::Table)
                    .col(pk_uuid(Devices::Id))
                    .col(string_len(Devices::UserId, 255))
                    .col(string_len(Devices::Name, 100))
                    .col(string_len_null(Devices::TokenHash, 64).unique_key())
                    .col(string_len(Devices::DeviceType, 16))
                    .col(string_len_null(Devices::BrowserName, 64))
                    .col(string_len_null(Devices::BrowserVersion, 64))
                    .col(string_len_null(Devices::OsName, 64))
                    .col(string_len_null(Devices::OsVersion, 64))
                    .col(text_null(Devices::UserAgent))
                    .col(string_len_null(Devices::IpAddress, 45))
                    .col(string_len_null(Devices::Country, 2))
                    .col(string_len_null(Devices::City, 100))
                    .col(string_len(Devices::Status, 16))
                    .col(string_len_null(Devices::TrustLevel, 16))
                    .col(timestamp_with_time_zone_null(Devices::TrustedAt))
                    .col(timestamp_with_time_zone_null(Devices::TrustExpiresAt))
                    .col(json_null(Devices::Metadata))
                    .col(timestamp_with_time_zone(Devices::CreatedAt))
                    .col(timestamp_with_time_zone(Devices::LastSeenAt))
                    .col(timestamp_with_time_zone_null(Devices::ForgottenAt))
                    .to_owned(),
            )
            .await?;
        // The devices page lists one user's devices, most recently seen first.
        manager
            .create_index(
                Index::create()
                    .name("idx_devices_user_last_seen")
                    .table(Devices::Table)
                    .col(Devices::UserId)
                    .col(Devices::LastSeenAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_uuid(Sessions::Id))
                    .col(string_len(Sessions::UserId, 255))
                    .col(uuid(Sessions::DeviceId))
                    .col(string_len_null(Sessions::LoginMethod, 100))
                    .col(string_len_null(Sessions::IpAddress, 45))
                    .col(string_len_null(Sessions::Country, 2))
                    .col(string_len_null(Sessions::City, 100))
                    .col(timestamp_with_time_zone(Sessions::StartedAt))
                    .col(timestamp_with_time_zone(Sessions::LastActivityAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone(Sessions::AbsoluteExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::EndedAt))
                    .col(string_len_null(Sessions::EndReason, 24))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_device")
                            .from(Sessions::Table, Sessions::DeviceId)
                            .to(Devices::Table, Devices::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // Session lists: one user's sessions by recent activity.
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user_activity")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .col(Sessions::LastActivityAt)
                    .to_owned(),
            )
            .await?;
        // A device's sessions (device details, sign a device out, hijack, forget).
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_device")
                    .table(Sessions::Table)
                    .col(Sessions::DeviceId)
                    .to_owned(),
            )
            .await?;
        // The expiry sweep looks for sessions not yet ended whose expiry has passed.
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_open_expiry")
                    .table(Sessions::Table)
                    .col(Sessions::EndedAt)
                    .col(Sessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AccountEvents::Table)
                    .col(pk_uuid(AccountEvents::Id))
                    .col(string_len(AccountEvents::UserId, 255))
                    .col(string_len(AccountEvents::Kind, 24))
                    .col(uuid_null(AccountEvents::ActorSessionId))
                    .col(uuid_null(AccountEvents::DeviceId))
                    .col(uuid_null(AccountEvents::SessionId))
                    .col(string_len_null(AccountEvents::IpAddress, 45))
                    .col(string_len_null(AccountEvents::Country, 2))
                    .col(string_len_null(AccountEvents::City, 100))
                    .col(json_null(AccountEvents::Detail))
                    .col(timestamp_with_time_zone(AccountEvents::OccurredAt))
                    .to_owned(),
            )
            .await?;
        // The security log reads one user's events, newest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_account_events_user_time")
                    .table(AccountEvents::Table)
                    .col(AccountEvents::UserId)
                    .col(AccountEvents::OccurredAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccountEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Devices::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Devices {
    Table,
    Id,
    UserId,
    Name,
    TokenHash,
    DeviceType,
    BrowserName,
    BrowserVersion,
    OsName,
    OsVersion,
    UserAgent,
    IpAddress,
    Country,
    City,
    Status,
    TrustLevel,
    TrustedAt,
    TrustExpiresAt,
    Metadata,
    CreatedAt,
    LastSeenAt,
    ForgottenAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    DeviceId,
    LoginMethod,
    IpAddress,
    Country,
    City,
    StartedAt,
    LastActivityAt,
    ExpiresAt,
    AbsoluteExpiresAt,
    EndedAt,
    EndReason,
}

#[derive(DeriveIden)]
enum AccountEvents {
    Table,
    Id,
    UserId,
    Kind,
    ActorSessionId,
    DeviceId,
    SessionId,
    IpAddress,
    Country,
    City,
    Detail,
    OccurredAt,
}
