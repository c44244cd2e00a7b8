//! Reading sessions: one, the caller's own, and lists bounded however long the history.

use chrono::{DateTime, Utc};
use entity::session;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter,
    sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement, WindowStatement},
};
use uuid::Uuid;

use super::{SessionEnd, SessionState, is_live, session_state};
use crate::{
    service::{Account, Actor, ServiceError, ServiceResult, Services},
    telemetry::metrics,
};

/// Expands to [`MAX_LISTED_ENDED_SESSIONS`], for doc comments (see `service::validate`).
macro_rules! max_listed_ended_sessions {
    () => {
        50
    };
}
pub(crate) use max_listed_ended_sessions;

/// Most ended sessions one list shows; the security log keeps the whole history.
pub const MAX_LISTED_ENDED_SESSIONS: u64 = max_listed_ended_sessions!();

/// What a token check learns of an active session.
pub(in crate::service) struct LiveSession {
    pub device_id: Uuid,
    /// Its device waits for confirmation: the session may only read itself.
    pub pending: bool,
}

impl LiveSession {
    fn of(session: &session::Model) -> Self {
        Self {
            device_id: session.device_id,
            pending: session.pending_until.is_some(),
        }
    }
}

impl Services {
    /// A session of `user_id`, ended or not; `None` when it is missing or someone else's.
    pub(in crate::service) async fn own_session(
        &self,
        user_id: &str,
        session_id: Uuid,
    ) -> ServiceResult<Option<session::Model>> {
        let mut session = session::Entity::find_by_id(session_id)
            .filter(session::Column::UserId.eq(user_id))
            .one(&self.db)
            .await?;
        if let Some(session) = &mut session {
            self.caches
                .sessions
                .with_recent_activity(std::slice::from_mut(session));
        }
        Ok(session)
    }

    /// `user_id`'s session `session_id` if it is active: from memory while nothing has
    /// changed in the account since it was read, otherwise from the database.
    pub(in crate::service) async fn active_session(
        &self,
        user_id: &str,
        session_id: Uuid,
    ) -> ServiceResult<Option<LiveSession>> {
        let now = self.now();
        let is_active =
            |session: &session::Model| session_state(session, now) == SessionState::Active;
        if let Some(entry) = self
            .caches
            .sessions
            .current(&self.events, user_id, session_id)
            && is_active(&entry.session)
        {
            metrics::session_cache(true);
            return Ok(Some(LiveSession::of(&entry.session)));
        }
        metrics::session_cache(false);
        // Taken before the read, so an event committed meanwhile outdates what is kept.
        let stamp = self.events.change_stamp(user_id);
        let Some(session) = self.own_session(user_id, session_id).await? else {
            return Ok(None);
        };
        if !is_active(&session) {
            return Ok(None);
        }
        let live = LiveSession::of(&session);
        if let Some(stamp) = stamp {
            self.caches.sessions.keep(stamp, session);
        }
        Ok(Some(live))
    }

    /// Active sessions of every account: the operators' gauge. Counted on the index of open
    /// sessions by expiry, so a scrape reads the index, not the table.
    pub async fn count_active_sessions(&self) -> ServiceResult<u64> {
        Ok(session::Entity::find()
            .filter(is_live(self.now()))
            .count(&self.db)
            .await?)
    }

    /// One of the caller's sessions, ended or not.
    pub async fn session(&self, actor: &Actor, id: Uuid) -> ServiceResult<Option<session::Model>> {
        self.own_session(&actor.user_id, id).await
    }

    /// Sessions of `user_id` (the requester's own account) by id, ended or not.
    pub async fn sessions_by_id(
        &self,
        user_id: &str,
        ids: &[Uuid],
    ) -> ServiceResult<Vec<session::Model>> {
        let mut sessions = session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?;
        self.caches.sessions.with_recent_activity(&mut sessions);
        Ok(sessions)
    }

    /// The caller's own session, as it is now.
    pub async fn current_session(&self, actor: &Actor) -> ServiceResult<session::Model> {
        self.own_session(&actor.user_id, actor.session_id)
            .await?
            .ok_or(ServiceError::SessionEnded)
    }

    /// Whether the caller's session has ended, read from the database.
    pub async fn current_session_end(&self, actor: &Actor) -> ServiceResult<Option<SessionEnd>> {
        let session = self.current_session(actor).await?;
        Ok(SessionEnd::of(&session, self.now()))
    }

    /// The account's sessions, most recent activity first; active ones only unless
    /// `include_ended`, and then at most [`MAX_LISTED_ENDED_SESSIONS`] ended ones.
    pub async fn sessions(
        &self,
        account: Account<'_>,
        include_ended: bool,
    ) -> ServiceResult<Vec<session::Model>> {
        if !include_ended {
            return self.live_sessions(account.user_id(), None).await;
        }
        let sessions = self
            .sessions_where(
                Condition::all().add(session::Column::UserId.eq(account.user_id())),
                session::Column::UserId,
                include_ended,
            )
            .await?;
        Ok(self.most_recent_first(sessions))
    }

    /// Sessions of any of `device_ids`, in `user_id`'s account (the requester's own); with
    /// `include_ended`, at most [`MAX_LISTED_ENDED_SESSIONS`] ended ones per device.
    pub async fn sessions_of_devices(
        &self,
        user_id: &str,
        device_ids: &[Uuid],
        include_ended: bool,
    ) -> ServiceResult<Vec<session::Model>> {
        if !include_ended {
            return self.live_sessions(user_id, Some(device_ids)).await;
        }
        let sessions = self
            .sessions_where(
                Condition::all()
                    .add(session::Column::UserId.eq(user_id))
                    .add(session::Column::DeviceId.is_in(device_ids.iter().copied())),
                session::Column::DeviceId,
                include_ended,
            )
            .await?;
        Ok(self.most_recent_first(sessions))
    }

    /// `user_id`'s active sessions, of `device_ids` only if given, most recent activity
    /// first: from the account's list in memory while it is current (see
    /// `service::caches`), otherwise read and kept.
    async fn live_sessions(
        &self,
        user_id: &str,
        device_ids: Option<&[Uuid]>,
    ) -> ServiceResult<Vec<session::Model>> {
        let lists = &self.caches.live_sessions;
        let remembered =
            lists.current_where(&self.events, user_id, listed_now(self.now(), device_ids));
        let sessions = match remembered {
            Some(sessions) => sessions,
            None => {
                let stamp = self.events.change_stamp(user_id);
                let scope = Condition::all().add(session::Column::UserId.eq(user_id));
                let mut sessions = self
                    .sessions_where(scope, session::Column::UserId, false)
                    .await?;
                lists.keep(stamp, user_id, &sessions);
                sessions.retain(listed_now(self.now(), device_ids));
                sessions
            }
        };
        Ok(self.most_recent_first(sessions))
    }

    /// The active sessions of `device_id` in `user_id`'s account, most recent activity
    /// first, if the account's list in memory is current; `None` when only a read can
    /// tell. For the devices page, whose devices then need no batched read at all.
    pub fn remembered_live_sessions_of_device(
        &self,
        user_id: &str,
        device_id: Uuid,
    ) -> Option<Vec<session::Model>> {
        let device_ids = [device_id];
        let wanted = listed_now(self.now(), Some(&device_ids));
        let sessions = self
            .caches
            .live_sessions
            .current_where(&self.events, user_id, wanted)?;
        Some(self.most_recent_first(sessions))
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
            .all(&self.db)
            .await?)
    }

    /// `sessions` with the activity this instance saw and has not written yet, most recent
    /// first: heartbeats kept in memory may change the order the rows alone would give.
    fn most_recent_first(&self, mut sessions: Vec<session::Model>) -> Vec<session::Model> {
        self.caches.sessions.with_recent_activity(&mut sessions);
        sessions.sort_by_key(|session| std::cmp::Reverse((session.last_activity_at, session.id)));
        sessions
    }
}

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

/// Whether a session is listed among the live ones at `now`: active, and of `device_ids`
/// only if given.
fn listed_now(
    now: DateTime<Utc>,
    device_ids: Option<&[Uuid]>,
) -> impl Fn(&session::Model) -> bool + '_ {
    move |session| {
        session_state(session, now) == SessionState::Active
            && device_ids.is_none_or(|ids| ids.contains(&session.device_id))
    }
}
