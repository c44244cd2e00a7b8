//! The user's security log: their account events as a cursor-paginated list, newest
//! first. The live feed is the `securityEvent` subscription.

use async_graphql::{
    Context, Object, Result, SimpleObject,
    connection::{Connection, Edge, EmptyFields},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{TimeZone, Utc};
use entity::account_event;

use super::{ApiResult, ContextExt, model::SecurityEvent, scalars::DateTime};
use crate::service::{LogPosition, ServiceError, Viewer};

/// Longest page of `securityEvents`.
pub const MAX_PAGE: i32 = 100;
/// Page size when `first` is omitted.
pub const DEFAULT_PAGE: i32 = 20;

fn encode_cursor(row: &account_event::Model) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", row.occurred_at.timestamp_micros(), row.id))
}

fn decode_cursor(cursor: &str) -> Option<LogPosition> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (micros, id) = text.split_once(':')?;
    Some(LogPosition {
        occurred_at: Utc.timestamp_micros(micros.parse().ok()?).single()?,
        id: id.parse().ok()?,
    })
}

/// What a page of the security log says of the log as a whole.
#[derive(SimpleObject)]
pub struct SecurityLogInfo {
    /// How far back the log goes: every entry since this moment is kept, older ones are
    /// deleted by the retention horizon (SESSIONHUB_KEEP_SECURITY_LOG).
    pub kept_since: DateTime,
}

#[derive(Default)]
pub struct SecurityLogQuery;

#[Object]
impl SecurityLogQuery {
    /// The caller's security log, newest first: sign-ins, sign-outs and every change to
    /// their devices, with who did it and from where.
    #[graphql(complexity = "super::cost::page(first, child_complexity)")]
    async fn security_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many events to return: 1 to 100; 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `cursor` of the last event of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<SecurityLogPage> {
        page(ctx, &ctx.actor()?.into(), first, after).await
    }
}

/// A page of the security log, with what it says of the log as a whole.
pub type SecurityLogPage = Connection<String, SecurityEvent, SecurityLogInfo, EmptyFields>;

/// A page of `viewer`'s security log, newest first: `first` entries (1 to [`MAX_PAGE`])
/// after the cursor `after`.
pub(super) async fn page(
    ctx: &Context<'_>,
    viewer: &Viewer,
    first: Option<i32>,
    after: Option<String>,
) -> Result<SecurityLogPage> {
    let first = first.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&first) {
        return Err(ServiceError::BadUserInput(format!(
            "first must be between 1 and {MAX_PAGE}"
        )))
        .api();
    }
    let after = match after.as_deref() {
        Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| {
            ServiceError::BadUserInput("after is not a cursor from securityEvents".into())
        })?),
        None => None,
    };
    let limit = first as usize;
    let mut rows = ctx
        .services()
        .account_events(viewer.account(), limit as u64 + 1, after)
        .await
        .api()?;
    let has_next_page = rows.len() > limit;
    rows.truncate(limit);
    let mut page = Connection::with_additional_fields(
        after.is_some(),
        has_next_page,
        SecurityLogInfo {
            kept_since: DateTime(ctx.services().security_log_kept_since()),
        },
    );
    page.edges.extend(
        rows.into_iter()
            .map(|row| Edge::new(encode_cursor(&row), SecurityEvent::new(row, viewer))),
    );
    Ok(page)
}

#[cfg(test)]
mod tests {
    use entity::account_event::EventKind;

    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let row = account_event::Model {
            id: uuid::Uuid::now_v7(),
            user_id: "u".into(),
            seq: 1,
            kind: EventKind::SessionStarted,
            actor_session_id: None,
            admin_key: None,
            device_id: None,
            session_id: None,
            ip_address: None,
            country: None,
            city: None,
            detail: None,
            occurred_at: Utc.timestamp_micros(1_795_400_000_123_456).unwrap(),
        };
        let position = decode_cursor(&encode_cursor(&row)).unwrap();
        assert_eq!(
            position,
            LogPosition {
                occurred_at: row.occurred_at,
                id: row.id
            }
        );
        for garbage in ["", "bm9wZQ", "!!", &URL_SAFE_NO_PAD.encode("12:not-a-uuid")] {
            assert_eq!(decode_cursor(garbage), None, "{garbage}");
        }
    }
}
