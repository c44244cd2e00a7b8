//! The ways a session ends: revoked, revoked all, signed out, pushed out by the cap, or
//! found expired by the sweep. Each goes through [`end_sessions`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    account_event::EventKind,
    session::{self, EndReason},
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, SimpleExpr},
};
use uuid::Uuid;

use super::{SessionEnd, is_live};
use crate::service::{
    Actor, ClientInfo, ServiceError, ServiceResult, Services,
    cooldown::Ending,
    outbox::{EventLog, Subject},
};

/// How many expired sessions one sweep transaction ends; keeps transactions short.
const SWEEP_BATCH: u64 = 500;

/// The one place sessions end. Only rows still open are touched, so racing ends of the
/// same session record it once; each ended session gets its `SessionEnded` event.
pub(in crate::service) async fn end_sessions<C: ConnectionTrait>(
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

impl Services {
    /// Ends one of the caller's sessions; ending the caller's own counts as signing out.
    /// Ending a session that already ended changes nothing, records nothing, and returns
    /// it as it is.
    pub async fn revoke_session(&self, actor: &Actor, id: Uuid) -> ServiceResult<session::Model> {
        self.check_cooldown(actor, Ending::Session(id)).await?;
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
        self.commit(log, txn).await?;
        Ok(ended.into_iter().next().unwrap_or(target))
    }

    /// Ends the caller's other active sessions, and the current one too when asked.
    pub async fn revoke_all_sessions(
        &self,
        actor: &Actor,
        include_current: bool,
    ) -> ServiceResult<Vec<session::Model>> {
        self.check_cooldown(actor, Ending::OtherSessions).await?;
        let now = self.now();
        let txn = self.begin_write().await?;
        let mut log = EventLog::by_actor(actor, now);
        let mut ended = end_sessions(
            &txn,
            &mut log,
            Condition::all()
                .add(session::Column::UserId.eq(actor.user_id.as_str()))
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
        self.commit(log, txn).await?;
        Ok(ended)
    }

    /// Ends the caller's own session.
    pub async fn sign_out(&self, actor: &Actor) -> ServiceResult<session::Model> {
        self.revoke_session(actor, actor.session_id).await
    }

    /// Ends, for `reason`, the live sessions of the caller matching `scope`, in a
    /// transaction of its own.
    pub(in crate::service) async fn end_sessions_for(
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
        self.commit(log, txn).await?;
        Ok(ended)
    }

    /// Makes room for one more session of `user_id` under the per-user cap: ends the
    /// sessions beyond it, those waiting for confirmation first and then the least recently
    /// active. Pending sign-ins go first so that signing in again and again on new devices
    /// can never push out the sessions that could answer them ("was this you?").
    pub(in crate::service) async fn make_room(
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
        let excess = (active + 1).saturating_sub(self.rules.max_sessions_per_user);
        if excess == 0 {
            return Ok(());
        }
        let evicted: Vec<Uuid> = session::Entity::find()
            .select_only()
            .column(session::Column::Id)
            .filter(mine)
            // NULLs sort first on SQLite and last on PostgreSQL: order by the test instead.
            .order_by_asc(Expr::col(session::Column::PendingUntil).is_null())
            .order_by_asc(session::Column::LastActivityAt)
            .order_by_asc(session::Column::Id)
            .limit(excess)
            .into_tuple()
            .all(txn)
            .await?;
        let scope = Condition::all().add(session::Column::Id.is_in(evicted));
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

    /// Records as ended every session whose expiry has passed, with the reason it expired
    /// and the moment it did. Returns how many it ended.
    pub async fn sweep_expired_sessions(&self) -> ServiceResult<usize> {
        let mut total = 0;
        loop {
            let now = self.now();
            let expired = session::Entity::find()
                .filter(session::Column::EndedAt.is_null())
                .filter(session::Column::ExpiresAt.lte(now))
                // In the order of the index walked, so the planner reads a page of it and
                // stops (see the `retention` module).
                .order_by_asc(session::Column::ExpiresAt)
                .limit(SWEEP_BATCH)
                .all(&self.db)
                .await?;
            if expired.is_empty() {
                return Ok(total);
            }
            // `SessionEnd::of` states the rule (past its lifetime, its confirmation deadline,
            // or idle); rows are grouped by the reason it gives, so the sweep records what
            // on-read checks report.
            let mut by_reason: HashMap<EndReason, Vec<Uuid>> = HashMap::new();
            for row in &expired {
                if let Some(end) = SessionEnd::of(row, now) {
                    by_reason.entry(end.reason).or_default().push(row.id);
                }
            }
            let txn = self.begin_write().await?;
            let mut log = EventLog::new(None, ClientInfo::default(), now);
            for (reason, ids) in by_reason {
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
            self.commit(log, txn).await?;
            if (expired.len() as u64) < SWEEP_BATCH {
                return Ok(total);
            }
        }
    }
}
