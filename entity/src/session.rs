use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One sign-in on one device. Rows are never deleted: an ended session keeps
/// `ended_at` and `end_reason`, so the table doubles as the user's session history.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: String,
    pub device_id: Uuid,
    pub login_method: Option<String>,
    pub ip_address: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub started_at: DateTimeUtc,
    pub last_activity_at: DateTimeUtc,
    /// Idle expiry: moved forward by heartbeats, never past `absolute_expires_at`.
    pub expires_at: DateTimeUtc,
    /// `started_at` plus the lifetime configured when the session started.
    pub absolute_expires_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    pub end_reason: Option<EndReason>,
    /// Set while the session's device waits for confirmation under the confirmation
    /// policy: until then the session may only read itself, and at this moment it ends
    /// (`NOT_CONFIRMED`). Never later than `absolute_expires_at`.
    pub pending_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::device::Entity",
        from = "Column::DeviceId",
        to = "super::device::Column::Id"
    )]
    Device,
}

impl Related<super::device::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Device.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EndReason {
    #[sea_orm(string_value = "SIGNED_OUT")]
    SignedOut,
    #[sea_orm(string_value = "REVOKED")]
    Revoked,
    #[sea_orm(string_value = "DEVICE_SIGNED_OUT")]
    DeviceSignedOut,
    #[sea_orm(string_value = "DEVICE_HIJACKED")]
    DeviceHijacked,
    #[sea_orm(string_value = "DEVICE_FORGOTTEN")]
    DeviceForgotten,
    #[sea_orm(string_value = "IDLE_TIMEOUT")]
    IdleTimeout,
    #[sea_orm(string_value = "LIFETIME_EXCEEDED")]
    LifetimeExceeded,
    #[sea_orm(string_value = "TOO_MANY_SESSIONS")]
    TooManySessions,
    #[sea_orm(string_value = "NOT_CONFIRMED")]
    NotConfirmed,
    #[sea_orm(string_value = "ADMIN_REVOKED")]
    AdminRevoked,
}
