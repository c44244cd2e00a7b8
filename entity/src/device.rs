use sea_orm::entity::prelude::*;

/// A browser or app installation a user signs in from, recognised by its device token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "devices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: String,
    pub name: String,
    /// SHA-256 of the device token; `None` once the device is forgotten, so the token is dead.
    #[sea_orm(unique)]
    pub token_hash: Option<String>,
    pub device_type: DeviceType,
    pub browser_name: Option<String>,
    pub browser_version: Option<String>,
    pub os_name: Option<String>,
    pub os_version: Option<String>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub status: DeviceStatus,
    pub trust_level: Option<TrustLevel>,
    pub trusted_at: Option<DateTimeUtc>,
    pub trust_expires_at: Option<DateTimeUtc>,
    pub metadata: Option<Json>,
    pub created_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    /// Set when the user forgets the device. The row stays so session history keeps its device.
    pub forgotten_at: Option<DateTimeUtc>,
    /// "Was this you?" for a device the account had never used: `None` for the account's
    /// first device and for devices from before the check existed.
    pub sign_in_check: Option<SignInCheck>,
    /// The latest sign-in on the device that the check is about.
    pub sign_in_session_id: Option<Uuid>,
    /// When the check was answered.
    pub sign_in_checked_at: Option<DateTimeUtc>,
    /// Under the confirmation policy, when the device's sessions end unless it is confirmed.
    pub confirm_by: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::session::Entity")]
    Session,
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

#[derive(Copy, Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum DeviceType {
    #[sea_orm(string_value = "DESKTOP")]
    Desktop,
    #[sea_orm(string_value = "MOBILE")]
    Mobile,
    #[sea_orm(string_value = "TABLET")]
    Tablet,
    #[sea_orm(string_value = "UNKNOWN")]
    Unknown,
}

/// The stored status. `Verified` is read as unverified once `trust_expires_at` passes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum DeviceStatus {
    #[sea_orm(string_value = "UNVERIFIED")]
    Unverified,
    #[sea_orm(string_value = "VERIFIED")]
    Verified,
    #[sea_orm(string_value = "HIJACKED")]
    Hijacked,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum TrustLevel {
    #[sea_orm(string_value = "HIGH")]
    High,
    #[sea_orm(string_value = "MEDIUM")]
    Medium,
    #[sea_orm(string_value = "LOW")]
    Low,
    #[sea_orm(string_value = "UNKNOWN")]
    Unknown,
}

/// How the account answered "was this you?" for a sign-in on a new device.
#[derive(Copy, Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum SignInCheck {
    #[sea_orm(string_value = "UNCONFIRMED")]
    Unconfirmed,
    #[sea_orm(string_value = "CONFIRMED")]
    Confirmed,
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
}
