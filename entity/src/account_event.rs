use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One entry of a user's security log, written in the same transaction as the change it records.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: String,
    /// The event's position in its account's history: 1, 2, 3, … in commit order.
    pub seq: i64,
    pub kind: EventKind,
    /// The session whose request made the change; `None` for the server's own expiry sweep
    /// and for an administrator.
    pub actor_session_id: Option<Uuid>,
    /// The operator key (its id) of the administrator who made the change, if one did.
    pub admin_key: Option<String>,
    pub device_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub ip_address: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    /// Kind-specific details, e.g. the end reason or the new device name.
    pub detail: Option<Json>,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The session the event is about. Not a foreign key: the log outlives the sessions
    /// of forgotten devices.
    #[sea_orm(
        belongs_to = "super::session::Entity",
        from = "Column::SessionId",
        to = "super::session::Column::Id"
    )]
    Session,
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

#[derive(Copy, Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventKind {
    #[sea_orm(string_value = "SESSION_STARTED")]
    SessionStarted,
    #[sea_orm(string_value = "SESSION_ENDED")]
    SessionEnded,
    #[sea_orm(string_value = "DEVICE_ADDED")]
    DeviceAdded,
    #[sea_orm(string_value = "DEVICE_TRUSTED")]
    DeviceTrusted,
    #[sea_orm(string_value = "DEVICE_UNTRUSTED")]
    DeviceUntrusted,
    #[sea_orm(string_value = "DEVICE_HIJACKED")]
    DeviceHijacked,
    #[sea_orm(string_value = "DEVICE_RENAMED")]
    DeviceRenamed,
    #[sea_orm(string_value = "DEVICE_FORGOTTEN")]
    DeviceForgotten,
    #[sea_orm(string_value = "SIGN_IN_RATE_LIMITED")]
    SignInRateLimited,
    #[sea_orm(string_value = "SESSION_RATE_LIMITED")]
    SessionRateLimited,
    #[sea_orm(string_value = "NEW_SIGN_IN")]
    NewSignIn,
    #[sea_orm(string_value = "SIGN_IN_CONFIRMED")]
    SignInConfirmed,
    #[sea_orm(string_value = "SIGN_IN_REJECTED")]
    SignInRejected,
    #[sea_orm(string_value = "DEVICE_TRUST_EXPIRED")]
    DeviceTrustExpired,
}

impl Model {
    /// Why the session ended, for `SessionEnded`: kept in `detail` as `{"reason": …}`.
    pub fn end_reason(&self) -> Option<super::session::EndReason> {
        serde_json::from_value(self.detail.as_ref()?.get("reason")?.clone()).ok()
    }
}
