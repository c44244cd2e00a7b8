use sea_orm::entity::prelude::*;

/// One account event to deliver to one webhook endpoint, and how its delivery went.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub endpoint: String,
    /// The account event delivered; also the `webhook-id`, stable across retries.
    pub event_id: Uuid,
    pub user_id: String,
    pub attempts: i32,
    /// When the next attempt is due; `None` once delivered or given up.
    pub next_attempt_at: Option<DateTimeUtc>,
    pub last_attempt_at: Option<DateTimeUtc>,
    /// The HTTP status of the last attempt, when the endpoint answered.
    pub last_status: Option<i32>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTimeUtc>,
    pub gave_up_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
