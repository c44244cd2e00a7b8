//! The webhook outbox: which account events operators' endpoints receive, written as
//! deliveries in the event's own transaction, claimed by each endpoint's sender, retried
//! with exponential backoff up to a bounded number of attempts, and kept as the delivery
//! log. Sending them over HTTP, signed, is the `webhooks` adapter's.

use chrono::{DateTime, Duration, Utc};
use entity::{
    account_event::{self, EventKind},
    webhook_delivery,
};
use sea_orm::{
    ActiveEnum, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ServiceResult, Services};
use crate::events::store;

/// Where account events go, and how hard to try.
#[derive(Debug, Clone, Default)]
pub struct WebhookPolicy {
    /// The endpoints; none: no webhooks.
    pub endpoints: Vec<WebhookEndpoint>,
    /// Attempts per delivery before it is given up.
    pub max_attempts: u32,
}

/// The wait after the first failed attempt; each further failure doubles it.
const FIRST_RETRY: Duration = Duration::seconds(30);
/// The longest wait between two attempts.
const LONGEST_RETRY: Duration = Duration::hours(6);
/// Deliveries one statement inserts: 12 parameters each.
const INSERT_CHUNK: usize = 1_000;
/// How long the last error is kept, in characters.
const MAX_ERROR_CHARS: usize = 200;

/// The name a delivered event has in its payload's `type`; `None` for kinds not
/// delivered (device added or renamed, rate-limit lockouts).
pub fn webhook_type(kind: EventKind) -> Option<&'static str> {
    Some(match kind {
        EventKind::SessionStarted => "session.started",
        EventKind::SessionEnded => "session.ended",
        EventKind::DeviceTrusted => "device.trusted",
        EventKind::DeviceUntrusted => "device.untrusted",
        EventKind::DeviceHijacked => "device.hijacked",
        EventKind::DeviceForgotten => "device.forgotten",
        EventKind::DeviceTrustExpired => "device.trust_expired",
        EventKind::NewSignIn => "sign_in.new",
        EventKind::SignInConfirmed => "sign_in.confirmed",
        EventKind::SignInRejected => "sign_in.rejected",
        EventKind::DeviceAdded
        | EventKind::DeviceRenamed
        | EventKind::SignInRateLimited
        | EventKind::SessionRateLimited => return None,
    })
}

/// The JSON body an endpoint receives for `event`, in the Standard Webhooks shape
/// (`type`, `timestamp`, `data`). Built from the stored row alone, so every attempt sends
/// the same bytes.
pub fn webhook_payload(event: &account_event::Model) -> Value {
    let location = (event.country.is_some() || event.city.is_some())
        .then(|| json!({ "country": event.country, "city": event.city }));
    json!({
        "type": webhook_type(event.kind),
        "timestamp": event.occurred_at,
        "data": {
            "eventId": event.id,
            "userId": event.user_id,
            "position": event.seq,
            "kind": event.kind.to_value(),
            "sessionId": event.session_id,
            "deviceId": event.device_id,
            "endReason": event.end_reason().map(|reason| reason.to_value()),
            "actor": {
                "sessionId": event.actor_session_id,
                "administrator": event.admin_key.is_some(),
            },
            "ipAddress": event.ip_address,
            "location": location,
            "detail": event.detail,
            "occurredAt": event.occurred_at,
        },
    })
}

/// Adds a delivery to every endpoint for each of `rows` that webhooks carry, inside the
/// events' own transaction.
pub(super) async fn enqueue(
    txn: &DatabaseTransaction,
    rows: &[account_event::Model],
    policy: &WebhookPolicy,
) -> Result<(), DbErr> {
    let deliveries: Vec<webhook_delivery::ActiveModel> = rows
        .iter()
        .filter(|event| webhook_type(event.kind).is_some())
        .flat_map(|event| {
            policy
                .endpoints
                .iter()
                .map(move |endpoint| webhook_delivery::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    endpoint: Set(endpoint.name.clone()),
                    event_id: Set(event.id),
                    user_id: Set(event.user_id.clone()),
                    attempts: Set(0),
                    next_attempt_at: Set(Some(event.occurred_at)),
                    last_attempt_at: Set(None),
                    last_status: Set(None),
                    last_error: Set(None),
                    delivered_at: Set(None),
                    gave_up_at: Set(None),
                    created_at: Set(event.occurred_at),
                })
        })
        .collect();
    // In chunks, so a large change to many endpoints stays within the databases' limit on
    // a statement's parameters (PostgreSQL's is 65,535).
    let mut deliveries = deliveries.into_iter().peekable();
    while deliveries.peek().is_some() {
        let chunk: Vec<_> = deliveries.by_ref().take(INSERT_CHUNK).collect();
        webhook_delivery::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// A configured endpoint: where to send, and what to call it.
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    /// Where deliveries are sent, credentials and all.
    pub url: String,
    /// The URL without credentials (user, password, query values): what the delivery
    /// rows, the log and the admin API call the endpoint, so none of them holds a secret.
    pub name: String,
}

/// A delivery claimed for an attempt, with its event (`None` once retention deleted it).
#[derive(Debug)]
pub struct DueDelivery {
    pub delivery: webhook_delivery::Model,
    pub event: Option<account_event::Model>,
}

/// How an attempt went.
#[derive(Debug)]
pub enum Attempt {
    /// The endpoint answered 2xx.
    Delivered { status: u16 },
    /// It answered otherwise, or not at all.
    Failed { status: Option<u16>, error: String },
}

/// Which deliveries of the delivery log to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    GaveUp,
}

impl Services {
    /// The configured webhook endpoints.
    pub fn webhook_endpoints(&self) -> &[WebhookEndpoint] {
        &self.webhooks.endpoints
    }

    /// Renames `endpoint`'s deliveries written under its full URL (before endpoints were
    /// named without credentials) to its name, so they are sent and no row keeps a secret.
    pub async fn name_webhook_deliveries(&self, endpoint: &WebhookEndpoint) -> ServiceResult<()> {
        if endpoint.url != endpoint.name {
            webhook_delivery::Entity::update_many()
                .col_expr(
                    webhook_delivery::Column::Endpoint,
                    Expr::value(endpoint.name.as_str()),
                )
                .filter(webhook_delivery::Column::Endpoint.eq(endpoint.url.as_str()))
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }

    /// Claims up to `limit` of the due deliveries of the endpoint named `endpoint` for one
    /// attempt each. A claimed delivery is not due again for `lease`: long enough for the
    /// whole claim to be attempted, so that only if this instance dies meanwhile does
    /// another retry it then. Two instances never claim the same
    /// delivery: the claim is conditional on it still being due.
    pub async fn claim_webhook_deliveries(
        &self,
        endpoint: &str,
        limit: u64,
        lease: Duration,
    ) -> ServiceResult<Vec<DueDelivery>> {
        let now = self.now();
        let txn = self.begin_write().await?;
        let due: Vec<Uuid> = webhook_delivery::Entity::find()
            .select_only()
            .column(webhook_delivery::Column::Id)
            .filter(webhook_delivery::Column::Endpoint.eq(endpoint))
            .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
            .order_by_asc(webhook_delivery::Column::NextAttemptAt)
            .limit(limit)
            .into_tuple()
            .all(&txn)
            .await?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let claimed = webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::NextAttemptAt,
                Expr::value(now + lease),
            )
            .col_expr(webhook_delivery::Column::LastAttemptAt, Expr::value(now))
            .col_expr(
                webhook_delivery::Column::Attempts,
                Expr::col(webhook_delivery::Column::Attempts).add(1),
            )
            .filter(webhook_delivery::Column::Id.is_in(due))
            .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
            .exec_with_returning(&txn)
            .await?;
        txn.commit().await?;
        let events = store::by_ids(&self.db, claimed.iter().map(|d| d.event_id)).await?;
        Ok(claimed
            .into_iter()
            .map(|delivery| DueDelivery {
                event: events.iter().find(|e| e.id == delivery.event_id).cloned(),
                delivery,
            })
            .collect())
    }

    /// Records how an attempt at `delivery` (as claimed) went: delivered; or failed, and
    /// then retried after a wait that doubles with each attempt (30 s, 1 min, 2 min, … at
    /// most 6 h), or given up after the configured number of attempts. A failure is
    /// recorded only while the claim holds (no other claim since, which would have counted
    /// an attempt of its own), so an attempt is never counted twice; a success is recorded
    /// unless one already was, since it is true whoever claimed last. Returns whether it
    /// was recorded.
    pub async fn record_webhook_attempt(
        &self,
        delivery: &webhook_delivery::Model,
        attempt: Attempt,
    ) -> ServiceResult<bool> {
        let now = self.now();
        let mut update = webhook_delivery::Entity::update_many()
            .filter(webhook_delivery::Column::Id.eq(delivery.id))
            .filter(webhook_delivery::Column::DeliveredAt.is_null());
        match attempt {
            Attempt::Delivered { status } => {
                update = update
                    .col_expr(webhook_delivery::Column::DeliveredAt, Expr::value(now))
                    .col_expr(
                        webhook_delivery::Column::GaveUpAt,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    )
                    .col_expr(
                        webhook_delivery::Column::NextAttemptAt,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    )
                    .col_expr(
                        webhook_delivery::Column::LastStatus,
                        Expr::value(i32::from(status)),
                    )
                    .col_expr(
                        webhook_delivery::Column::LastError,
                        Expr::value(Option::<String>::None),
                    );
            }
            Attempt::Failed { status, error } => {
                let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
                let gave_up = delivery.attempts >= self.webhooks.max_attempts as i32;
                let next = (!gave_up).then(|| now + retry_wait(delivery.attempts));
                update = update
                    .filter(webhook_delivery::Column::Attempts.eq(delivery.attempts))
                    .filter(webhook_delivery::Column::GaveUpAt.is_null())
                    .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
                    .col_expr(
                        webhook_delivery::Column::GaveUpAt,
                        Expr::value(gave_up.then_some(now)),
                    )
                    .col_expr(
                        webhook_delivery::Column::LastStatus,
                        Expr::value(status.map(i32::from)),
                    )
                    .col_expr(webhook_delivery::Column::LastError, Expr::value(error));
            }
        }
        Ok(update.exec(&self.db).await?.rows_affected > 0)
    }

    /// The delivery log, newest first: up to `limit` deliveries in `state`, of one user's
    /// events when `user_id` is given.
    pub async fn webhook_deliveries(
        &self,
        state: DeliveryState,
        user_id: Option<&str>,
        limit: u64,
    ) -> ServiceResult<Vec<webhook_delivery::Model>> {
        let mut query = webhook_delivery::Entity::find();
        query = match state {
            DeliveryState::Pending => {
                query.filter(webhook_delivery::Column::NextAttemptAt.is_not_null())
            }
            DeliveryState::Delivered => {
                query.filter(webhook_delivery::Column::DeliveredAt.is_not_null())
            }
            DeliveryState::GaveUp => query.filter(webhook_delivery::Column::GaveUpAt.is_not_null()),
        };
        if let Some(user_id) = user_id {
            query = query.filter(webhook_delivery::Column::UserId.eq(user_id));
        }
        Ok(query
            .order_by_desc(webhook_delivery::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }
}

/// The wait before the attempt after `attempts` failed ones.
fn retry_wait(attempts: i32) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 20) as u32;
    (FIRST_RETRY * 2_i32.pow(doublings)).min(LONGEST_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_six_hours() {
        let waits: Vec<i64> = (1..=12).map(|n| retry_wait(n).num_seconds()).collect();
        assert_eq!(
            waits,
            [
                30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600
            ]
        );
    }
}
