//! Sessions: starting one, checking it, keeping it alive and ending it.
//!
//! [`Services::end_sessions`] is the only code that ends a session, whatever the reason,
//! so every end is conditional on the session still being open, is recorded exactly once,
//! and writes its account event in the same transaction.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use entity::{
    account_event::EventKind,
    device::{self, DeviceStatus},
    session::{self, EndReason},
};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{
        Alias, Expr, ExprTrait, Order, Query, SelectStatement, SimpleExpr, WindowStatement,
    },
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    Actor, ClientInfo, MAX_DEVICE_TOKEN_BYTES, MAX_METADATA_BYTES, MAX_USER_AGENT_BYTES,
    ServiceError, ServiceResult, Services, bad_input,
    events::{EventLog, Subject},
    user_agent, validate_device_name,
};
use crate::tokens::Identity;

/// How many expired sessions one sweep transaction ends; keeps transactions short.
const SWEEP_BATCH: u64 = 500;

/// A session's state as the API reports it: derived from the row and the clock, so a
/// session past its expiry reads as expired before any sweep has recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Active,
    Revoked,
    Expired,
}

pub fn session_state(session: &session::Model, now: DateTime<Utc>) -> SessionState {
    match session.end_reason {
        None if session.expires_at > now => SessionState::Active,
        None | Some(EndReason::IdleTimeout | EndReason::LifetimeExceeded) => SessionState::Expired,
        Some(_) => SessionState::Revoked,
    }
}

/// How and when a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionEnd {
    pub reason: EndReason,
    pub at: DateTime<Utc>,
}

/// The end of a session, from its row: recorded, or past its expiry but not yet swept.
fn session_end(session: &session::Model, now: DateTime<Utc>) -> Option<SessionEnd> {
    if let (Some(reason), Some(at)) = (session.end_reason, session.ended_at) {
        return Some(SessionEnd { reason, at });
    }
    (session.expires_at <= now).then(|| SessionEnd {
        reason: if session.expires_at >= session.absolute_expires_at {
            EndReason::LifetimeExceeded
        } else {
            EndReason::IdleTimeout
        },
        at: session.expires_at,
    })
}

/// Condition matching sessions that are still active at `now`.
fn is_live(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(session::Column::EndedAt.is_null())
        .add(session::Column::ExpiresAt.gt(now))
}

/// Most ended sessions one list shows; the security log keeps the whole history.
pub const MAX_LISTED_ENDED_SESSIONS: u64 = 50;

/// Ids of the [`MAX_LISTED_ENDED_SESSIONS`] most recently active ended sessions in `scope`
/// for each value of `list`:
/// `SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY list ORDER BY activity) …)`.
fn recent_ended(scope: Condition, list: session::Column, now: DateTime<Utc>) -> SelectStatement {
    let rank = Alias::new("recency");
    let ranked = Query::select()
        .column(session::Column::Id)
        .expr_window_as(
            Expr::cust("ROW_NUMBER()"),
            WindowStatement::partition_by(list)
                .order_by(session::Column::LastActivityAt, Order::Desc)
                .order_by(session::Column::Id, Order::Desc)
                .take(),
            rank.clone(),
        )
        .from(session::Entity)
        .cond_where(scope)
        .cond_where(is_live(now).not())
        .take();
    Query::select()
        .column(session::Column::Id)
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(Expr::col(rank).lte(MAX_LISTED_ENDED_SESSIONS))
        .take()
}

/// What the caller of `startSession` asked for.
#[derive(Debug, Default)]
pub struct StartSession {
    pub device_token: Option<String>,
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug)]
pub struct StartedSession {
    pub token: String,
    pub device_token: String,
    pub session: session::Model,
    pub device: device::Model,
}

fn hash_device_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A fresh device token: 256 bits from the operating system's CSPRNG.
fn new_device_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn validate_metadata(
    metadata: Option<serde_json::Value>,
) -> ServiceResult<Option<serde_json::Value>> {
    let Some(metadata) = metadata else {
        return Ok(None);
    };
    if !metadata.is_object() {
        return Err(bad_input("metadata must be a JSON object"));
    }
    if metadata.to_string().len() > MAX_METADATA_BYTES {
        return Err(bad_input(format!(
            "metadata must be at most {MAX_METADATA_BYTES} bytes of JSON"
        )));
    }
    if holds_nul(&metadata) {
        return Err(bad_input("metadata must not contain NUL characters"));
    }
    Ok(Some(metadata))
}

/// Whether any string or key in `value` holds U+0000, which PostgreSQL's jsonb cannot store.
fn holds_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, field)| key.contains('\0') || holds_nul(field)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

impl Services {
    /// Signs `identity` in on a device: the one named by `device_token` when it is this
    /// user's, otherwise a new one. A hijacked device's token is refused.
    pub async fn start_session(
        &self,
        identity: &Identity,
        client: &ClientInfo,
        request: StartSession,
    ) -> ServiceResult<StartedSession> {
        if let Err(limited) = self.limits.check_sign_in(&identity.user_id) {
            if limited.starts_lockout {
                // Someone is signing in as this user faster than the limit allows.
                let log = EventLog::new(None, client.clone(), self.now());
                self.record_lockout(
                    log,
                    &identity.user_id,
                    EventKind::SignInRateLimited,
                    Subject::default(),
                )
                .await?;
            }
            return Err(ServiceError::RateLimited(limited));
        }
        let now = self.now();
        let name = request
            .device_name
            .as_deref()
            .map(validate_device_name)
            .transpose()?;
        let metadata = validate_metadata(request.metadata)?;
        let user_agent = match request.user_agent {
            Some(given) if given.len() > MAX_USER_AGENT_BYTES => {
                return Err(bad_input(format!(
                    "the user agent must be at most {MAX_USER_AGENT_BYTES} bytes"
                )));
            }
            // A header cannot carry them either, and PostgreSQL cannot store U+0000.
            Some(given) if given.chars().any(char::is_control) => {
                return Err(bad_input(
                    "the user agent must not contain control characters",
                ));
            }
            Some(given) => Some(given),
            // A header we did not choose is cut to size rather than refused.
            None => client
                .user_agent
                .as_deref()
                .map(|ua| truncate(ua, MAX_USER_AGENT_BYTES)),
        };
        if request
            .device_token
            .as_ref()
            .is_some_and(|token| token.len() > MAX_DEVICE_TOKEN_BYTES)
        {
            return Err(bad_input("the device token is malformed"));
        }
        let parsed = user_agent::parse(user_agent.as_deref());

        let txn = self.begin_write().await?;
        let mut log = EventLog::new(None, client.clone(), now);
        let known_device = match &request.device_token {
            Some(token) => {
                device::Entity::find()
                    .filter(device::Column::TokenHash.eq(hash_device_token(token)))
                    .lock_exclusive()
                    .one(&txn)
                    .await?
            }
            None => None,
        };
        if known_device
            .as_ref()
            .is_some_and(|device| device.status == DeviceStatus::Hijacked)
        {
            return Err(ServiceError::DeviceBlocked(
                "this device was marked as hijacked and can no longer sign in",
            ));
        }
        // Another user's token must never attach to their device: treat it as unknown.
        let known_device = known_device.filter(|device| device.user_id == identity.user_id);

        let (device, device_token) = match (known_device, request.device_token) {
            (Some(existing), Some(token)) => {
                let mut update = existing.into_active_model();
                if let Some(name) = name {
                    update.name = Set(name);
                }
                if metadata.is_some() {
                    update.metadata = Set(metadata);
                }
                update.device_type = Set(parsed.device_type);
                update.browser_name = Set(parsed.browser_name);
                update.browser_version = Set(parsed.browser_version);
                update.os_name = Set(parsed.os_name);
                update.os_version = Set(parsed.os_version);
                update.user_agent = Set(user_agent);
                update.ip_address = Set(client.ip_address.clone());
                update.country = Set(client.country.clone());
                update.city = Set(client.city.clone());
                update.last_seen_at = Set(now);
                (update.update(&txn).await?, token)
            }
            _ => {
                let token = new_device_token();
                let device = device::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    user_id: Set(identity.user_id.clone()),
                    name: Set(name.unwrap_or(parsed.display_name)),
                    token_hash: Set(Some(hash_device_token(&token))),
                    device_type: Set(parsed.device_type),
                    browser_name: Set(parsed.browser_name),
                    browser_version: Set(parsed.browser_version),
                    os_name: Set(parsed.os_name),
                    os_version: Set(parsed.os_version),
                    user_agent: Set(user_agent),
                    ip_address: Set(client.ip_address.clone()),
                    country: Set(client.country.clone()),
                    city: Set(client.city.clone()),
                    status: Set(DeviceStatus::Unverified),
                    trust_level: Set(None),
                    trusted_at: Set(None),
                    trust_expires_at: Set(None),
                    metadata: Set(metadata),
                    created_at: Set(now),
                    last_seen_at: Set(now),
                    forgotten_at: Set(None),
                }
                .insert(&txn)
                .await?;
                log.record(
                    &identity.user_id,
                    EventKind::DeviceAdded,
                    Subject {
                        device_id: Some(device.id),
                        ..Subject::default()
                    },
                );
                (device, token)
            }
        };

        let absolute_expires_at = now + self.rules.session_lifetime;
        let session = session::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(identity.user_id.clone()),
            device_id: Set(device.id),
            login_method: Set((!identity.amr.is_empty()).then(|| identity.amr.join("+"))),
            ip_address: Set(client.ip_address.clone()),
            country: Set(client.country.clone()),
            city: Set(client.city.clone()),
            started_at: Set(now),
            last_activity_at: Set(now),
            expires_at: Set(std::cmp::min(
                now + self.rules.idle_timeout,
                absolute_expires_at,
            )),
            absolute_expires_at: Set(absolute_expires_at),
            ended_at: Set(None),
            end_reason: Set(None),
        }
        .insert(&txn)
        .await?;
        log.record(
            &identity.user_id,
            EventKind::SessionStarted,
            Subject {
                device_id: Some(device.id),
                session_id: Some(session.id),
                ..Subject::default()
            },
        );
        self.make_room(&txn, &mut log, &identity.user_id, now)
            .await?;
        log.commit(txn, &self.events).await?;

        let token = self.tokens.issue_session(
            &identity.user_id,
            session.id,
            now,
            session.absolute_expires_at,
        );
        Ok(StartedSession {
            token,
            device_token,
            session,
            device,
        })
    }

    /// Counts a request made with `actor`'s session against the per-session rate. The
    /// first refusal of a lockout goes in the user's security log, naming the session that
    /// was too busy: a stolen token being hammered shows up there.
    pub async fn check_session_rate(&self, actor: &Actor) -> ServiceResult<()> {
        let Err(limited) = self.limits.check_session(actor.session_id) else {
            return Ok(());
        };
        if limited.starts_lockout {
            let subject = Subject {
                session_id: Some(actor.session_id),
                device_id: Some(actor.device_id),
                ..Subject::default()
            };
            let log = EventLog::by_actor(actor, self.now());
            self.record_lockout(log, &actor.user_id, EventKind::SessionRateLimited, subject)
                .await?;
        }
        Err(ServiceError::RateLimited(limited))
    }

    /// Puts a rate-limit lockout in `user_id`'s security log.
    async fn record_lockout(
        &self,
        mut log: EventLog,
        user_id: &str,
        kind: EventKind,
        subject: Subject,
    ) -> ServiceResult<()> {
        let txn = self.begin_write().await?;
        log.record(user_id, kind, subject);
        Ok(log.commit(txn, &self.events).await?)
    }

    /// Ends the least recently active sessions of `user_id` beyond the per-user cap.
    async fn make_room(
        &self,
        txn: &DatabaseTransaction,
        log: &mut EventLog,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> ServiceResult<()> {
        let mine = Condition::all()
            .add(session::Column::UserId.eq(user_id))
            .add(is_live(now));
        let active = session::Entity::find()
            .filter(mine.clone())
            .count(txn)
            .await?;
        let excess = active.saturating_sub(self.rules.max_sessions_per_user);
        if excess == 0 {
            return Ok(());
        }
        let oldest: Vec<Uuid> = session::Entity::find()
            .select_only()
            .column(session::Column::Id)
            .filter(mine)
            .order_by_asc(session::Column::LastActivityAt)
            .order_by_asc(session::Column::Id)
            .limit(excess)
            .into_tuple()
            .all(txn)
            .await?;
        let scope = Condition::all().add(session::Column::Id.is_in(oldest));
        end_sessions(
            txn,
            log,
            scope,
            EndReason::TooManySessions,
            Expr::value(now),
        )
        .await?;
        Ok(())
    }

    /// A session of `user_id`, ended or not; `None` when it is missing or someone else's.
    pub(super) async fn load_session(
        &self,
        user_id: &str,
        session_id: Uuid,
    ) -> ServiceResult<Option<session::Model>> {
        Ok(session::Entity::find_by_id(session_id)
            .filter(session::Column::UserId.eq(user_id))
            .one(&self.db)
            .await?)
    }

    /// Sessions of the caller by id, ended or not.
    pub async fn sessions_by_id(
        &self,
        actor: &Actor,
        ids: &[Uuid],
    ) -> ServiceResult<Vec<session::Model>> {
        Ok(session::Entity::find()
            .filter(session::Column::UserId.eq(actor.user_id.as_str()))
            .filter(session::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?)
    }

    pub async fn session(&self, actor: &Actor, id: Uuid) -> ServiceResult<Option<session::Model>> {
        self.load_session(&actor.user_id, id).await
    }

    /// Whether the caller's session has ended, read from the database.
    pub async fn session_end(&self, actor: &Actor) -> ServiceResult<Option<SessionEnd>> {
        let session = self.current_session(actor).await?;
        Ok(session_end(&session, self.now()))
    }

    /// The caller's own session, as it is now.
    pub async fn current_session(&self, actor: &Actor) -> ServiceResult<session::Model> {
        self.load_session(&actor.user_id, actor.session_id)
            .await?
            .ok_or(ServiceError::SessionEnded)
    }

    /// The caller's sessions, most recent activity first; active ones only unless
    /// `include_ended`, and then at most [`MAX_LISTED_ENDED_SESSIONS`] ended ones.
    pub async fn sessions(
        &self,
        actor: &Actor,
        include_ended: bool,
    ) -> ServiceResult<Vec<session::Model>> {
        self.sessions_where(
            Condition::all().add(session::Column::UserId.eq(actor.user_id.as_str())),
            session::Column::UserId,
            include_ended,
        )
        .await
    }

    /// Sessions of any of `device_ids`, which the caller must already own; with
    /// `include_ended`, at most [`MAX_LISTED_ENDED_SESSIONS`] ended ones per device.
    pub async fn sessions_of_devices(
        &self,
        actor: &Actor,
        device_ids: &[Uuid],
        include_ended: bool,
    ) -> ServiceResult<Vec<session::Model>> {
        self.sessions_where(
            Condition::all()
                .add(session::Column::UserId.eq(actor.user_id.as_str()))
                .add(session::Column::DeviceId.is_in(device_ids.iter().copied())),
            session::Column::DeviceId,
            include_ended,
        )
        .await
    }

    /// The sessions in `scope`: every active one (the per-user cap bounds them), and with
    /// `include_ended` the most recently active ended ones, up to
    /// [`MAX_LISTED_ENDED_SESSIONS`] per `list` (one list per user, or per device). History
    /// grows without bound; an answer must not.
    async fn sessions_where(
        &self,
        scope: Condition,
        list: session::Column,
        include_ended: bool,
    ) -> ServiceResult<Vec<session::Model>> {
        let now = self.now();
        let wanted = if include_ended {
            Condition::any()
                .add(is_live(now))
                .add(session::Column::Id.in_subquery(recent_ended(scope.clone(), list, now)))
        } else {
            is_live(now)
        };
        Ok(session::Entity::find()
            .filter(scope)
            .filter(wanted)
            .order_by_desc(session::Column::LastActivityAt)
            .order_by_desc(session::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Records activity: the session's idle expiry moves to now + idle timeout, never past
    /// its absolute lifetime, and its device is seen now from this address.
    pub async fn heartbeat(&self, actor: &Actor) -> ServiceResult<session::Model> {
        let now = self.now();
        let txn = self.begin_write().await?;
        let extended = session::Entity::update_many()
            .col_expr(session::Column::LastActivityAt, Expr::value(now))
            .col_expr(
                session::Column::ExpiresAt,
                least(
                    Expr::value(now + self.rules.idle_timeout),
                    Expr::col(session::Column::AbsoluteExpiresAt),
                ),
            )
            .col_expr(
                session::Column::IpAddress,
                Expr::value(actor.client.ip_address.clone()),
            )
            .col_expr(
                session::Column::Country,
                Expr::value(actor.client.country.clone()),
            )
            .col_expr(
                session::Column::City,
                Expr::value(actor.client.city.clone()),
            )
            .filter(session::Column::Id.eq(actor.session_id))
            .filter(is_live(now))
            .exec_with_returning(&txn)
            .await?;
        let Some(session) = extended.into_iter().next() else {
            return Err(ServiceError::SessionEnded);
        };
        device::Entity::update_many()
            .col_expr(device::Column::LastSeenAt, Expr::value(now))
            .col_expr(
                device::Column::IpAddress,
                Expr::value(actor.client.ip_address.clone()),
            )
            .col_expr(
                device::Column::Country,
                Expr::value(actor.client.country.clone()),
            )
            .col_expr(device::Column::City, Expr::value(actor.client.city.clone()))
            .filter(device::Column::Id.eq(session.device_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(session)
    }

    /// Ends one of the caller's sessions; ending the caller's own counts as signing out.
    /// Ending a session that already ended changes nothing, records nothing, and returns
    /// it as it is.
    pub async fn revoke_session(&self, actor: &Actor, id: Uuid) -> ServiceResult<session::Model> {
        let now = self.now();
        let txn = self.begin_write().await?;
        // Locked, so a racing revoke waits and then sees this one's result.
        let Some(target) = session::Entity::find_by_id(id)
            .filter(session::Column::UserId.eq(actor.user_id.as_str()))
            .lock_exclusive()
            .one(&txn)
            .await?
        else {
            return Err(ServiceError::NotFound("session"));
        };
        let reason = if id == actor.session_id {
            EndReason::SignedOut
        } else {
            EndReason::Revoked
        };
        let mut log = EventLog::by_actor(actor, now);
        let scope = Condition::all()
            .add(session::Column::Id.eq(id))
            .add(is_live(now));
        let ended = end_sessions(&txn, &mut log, scope, reason, Expr::value(now)).await?;
        log.commit(txn, &self.events).await?;
        Ok(ended.into_iter().next().unwrap_or(target))
    }

    /// Ends the caller's other active sessions, and the current one too when asked.
    pub async fn revoke_all_sessions(
        &self,
        actor: &Actor,
        include_current: bool,
    ) -> ServiceResult<Vec<session::Model>> {
        let now = self.now();
        let txn = self.begin_write().await?;
        let mut log = EventLog::by_actor(actor, now);
        let mine = session::Column::UserId.eq(actor.user_id.as_str());
        let mut ended = end_sessions(
            &txn,
            &mut log,
            Condition::all()
                .add(mine.clone())
                .add(session::Column::Id.ne(actor.session_id))
                .add(is_live(now)),
            EndReason::Revoked,
            Expr::value(now),
        )
        .await?;
        if include_current {
            let current = end_sessions(
                &txn,
                &mut log,
                Condition::all()
                    .add(session::Column::Id.eq(actor.session_id))
                    .add(is_live(now)),
                EndReason::SignedOut,
                Expr::value(now),
            )
            .await?;
            ended.extend(current);
        }
        log.commit(txn, &self.events).await?;
        Ok(ended)
    }

    /// Ends the caller's own session.
    pub async fn sign_out(&self, actor: &Actor) -> ServiceResult<session::Model> {
        self.revoke_session(actor, actor.session_id).await
    }

    /// Ends, for `reason`, the live sessions of the caller matching `scope`, in a
    /// transaction of its own.
    pub(super) async fn end_sessions_for(
        &self,
        actor: &Actor,
        scope: Condition,
        reason: EndReason,
    ) -> ServiceResult<Vec<session::Model>> {
        let now = self.now();
        let txn = self.begin_write().await?;
        let mut log = EventLog::by_actor(actor, now);
        let ended = end_sessions(
            &txn,
            &mut log,
            Condition::all()
                .add(session::Column::UserId.eq(actor.user_id.as_str()))
                .add(scope)
                .add(is_live(now)),
            reason,
            Expr::value(now),
        )
        .await?;
        log.commit(txn, &self.events).await?;
        Ok(ended)
    }

    /// Records as ended every session whose expiry has passed, with the reason it expired
    /// and the moment it did. Returns how many it ended.
    pub async fn sweep_expired_sessions(&self) -> ServiceResult<usize> {
        let mut total = 0;
        loop {
            let now = self.now();
            let expired = session::Entity::find()
                .filter(session::Column::EndedAt.is_null())
                .filter(session::Column::ExpiresAt.lte(now))
                .limit(SWEEP_BATCH)
                .all(&self.db)
                .await?;
            if expired.is_empty() {
                return Ok(total);
            }
            // `session_end` states the rule (past its lifetime or idle); rows are grouped by
            // the reason it gives, so the sweep records what on-read checks report.
            let (mut over_lifetime, mut idle) = (Vec::new(), Vec::new());
            for row in &expired {
                match session_end(row, now).map(|end| end.reason) {
                    Some(EndReason::LifetimeExceeded) => over_lifetime.push(row.id),
                    Some(_) => idle.push(row.id),
                    None => {}
                }
            }
            let txn = self.begin_write().await?;
            let mut log = EventLog::new(None, ClientInfo::default(), now);
            for (reason, ids) in [
                (EndReason::LifetimeExceeded, over_lifetime),
                (EndReason::IdleTimeout, idle),
            ] {
                if ids.is_empty() {
                    continue;
                }
                let ended = end_sessions(
                    &txn,
                    &mut log,
                    Condition::all().add(session::Column::Id.is_in(ids)),
                    reason,
                    Expr::col(session::Column::ExpiresAt),
                )
                .await?;
                total += ended.len();
            }
            log.commit(txn, &self.events).await?;
            if (expired.len() as u64) < SWEEP_BATCH {
                return Ok(total);
            }
        }
    }
}

/// The one place sessions end. Only rows still open are touched, so racing ends of the
/// same session record it once; each ended session gets its `SessionEnded` event.
pub(super) async fn end_sessions<C: ConnectionTrait>(
    txn: &C,
    log: &mut EventLog,
    scope: Condition,
    reason: EndReason,
    ended_at: SimpleExpr,
) -> Result<Vec<session::Model>, DbErr> {
    let ended = session::Entity::update_many()
        .col_expr(session::Column::EndedAt, ended_at)
        .col_expr(session::Column::EndReason, Expr::value(reason))
        .filter(scope)
        .filter(session::Column::EndedAt.is_null())
        .exec_with_returning(txn)
        .await?;
    for session in &ended {
        let subject = Subject {
            device_id: Some(session.device_id),
            session_id: Some(session.id),
            end_reason: Some(reason),
            detail: None,
        };
        let at = session.ended_at.unwrap_or(log.now());
        log.record_at(&session.user_id, EventKind::SessionEnded, subject, at);
    }
    Ok(ended)
}

/// The smaller of two values, as a CASE both databases understand: PostgreSQL spells
/// it `LEAST` and SQLite `MIN`.
fn least(a: SimpleExpr, b: SimpleExpr) -> SimpleExpr {
    Expr::case(a.clone().lt(b.clone()), a).finally(b).into()
}

fn truncate(text: &str, max_bytes: usize) -> String {
    let mut end = max_bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
