//! Heartbeats: activity that keeps a session alive and marks its device as seen.
//!
//! Most heartbeats write nothing. A written heartbeat sets the idle expiry to now + idle
//! timeout + the write window (never past the absolute lifetime), so the expiry in the
//! database already covers every heartbeat of the next window: those are kept in this
//! instance's memory only. No instance and no sweep can end a session early because a
//! heartbeat was not written, and after a crash a session looks at most one window less
//! recently active, never more. The price: a session expires up to one window after the
//! idle timeout, instead of exactly at it.

use entity::{device, session};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, UpdateMany,
    sea_query::{Expr, ExprTrait, Func, SimpleExpr},
};

use chrono::{DateTime, Utc};

use super::{SessionState, expiry_cap, is_live, session_state};
use crate::service::{Actor, ClientInfo, ServiceError, ServiceResult, Services};

impl Services {
    /// Records activity now: in memory when the written expiry already covers it (see the
    /// module), otherwise in the database.
    pub async fn heartbeat(&self, actor: &Actor) -> ServiceResult<session::Model> {
        let now = self.now();
        if let Some(entry) =
            self.caches
                .sessions
                .current(&self.events, &actor.user_id, actor.session_id)
            && session_state(&entry.session, now) == SessionState::Active
            && now - entry.persisted_activity_at < self.rules.heartbeat_write_window
            && (self.idle_expiry(now) <= entry.session.expires_at
                || entry.session.expires_at >= expiry_cap(&entry.session))
            && seen_from_same_place(&entry.session, &actor.client)
        {
            return Ok(self.caches.sessions.record_activity(&entry, now));
        }
        // Taken before the write, so an event committed meanwhile outdates what is kept.
        let stamp = self.events.change_stamp(&actor.user_id);
        let session = self.write_heartbeat(actor, now).await?;
        self.caches.forget_lists(&actor.user_id);
        if let Some(stamp) = stamp {
            self.caches.sessions.keep(stamp, session.clone());
        }
        Ok(session)
    }

    /// Where the idle timeout alone puts the expiry of a session active at `now`.
    fn idle_expiry(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + self.rules.idle_timeout
    }

    /// Writes activity at `now`: the idle expiry moves to now + idle timeout + write
    /// window, never past the absolute lifetime (nor a pending session's confirmation
    /// deadline), and the device is seen now from this address.
    async fn write_heartbeat(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> ServiceResult<session::Model> {
        let txn = self.begin_write().await?;
        let extend = session::Entity::update_many()
            .col_expr(session::Column::LastActivityAt, Expr::value(now))
            .col_expr(
                session::Column::ExpiresAt,
                least(
                    Expr::value(self.idle_expiry(now) + self.rules.heartbeat_write_window),
                    Func::coalesce([
                        Expr::col(session::Column::PendingUntil),
                        Expr::col(session::Column::AbsoluteExpiresAt),
                    ])
                    .into(),
                ),
            )
            .filter(session::Column::Id.eq(actor.session_id))
            .filter(is_live(now));
        let extended = seen_from(
            extend,
            [
                session::Column::IpAddress,
                session::Column::Country,
                session::Column::City,
            ],
            &actor.client,
        )
        .exec_with_returning(&txn)
        .await?;
        let Some(session) = extended.into_iter().next() else {
            return Err(ServiceError::SessionEnded);
        };
        let seen = device::Entity::update_many()
            .col_expr(device::Column::LastSeenAt, Expr::value(now))
            .filter(device::Column::Id.eq(session.device_id));
        seen_from(
            seen,
            [
                device::Column::IpAddress,
                device::Column::Country,
                device::Column::City,
            ],
            &actor.client,
        )
        .exec(&txn)
        .await?;
        txn.commit().await?;
        Ok(session)
    }
}

/// Whether `client` is where `session` was last written to be seen from: a move is
/// always written, so the device page shows it at once.
fn seen_from_same_place(session: &session::Model, client: &ClientInfo) -> bool {
    session.ip_address == client.ip_address
        && session.country == client.country
        && session.city == client.city
}

/// Sets the `[address, country, city]` columns of `update` to where `client` is.
fn seen_from<E: EntityTrait>(
    update: UpdateMany<E>,
    [address, country, city]: [E::Column; 3],
    client: &ClientInfo,
) -> UpdateMany<E> {
    update
        .col_expr(address, Expr::value(client.ip_address.clone()))
        .col_expr(country, Expr::value(client.country.clone()))
        .col_expr(city, Expr::value(client.city.clone()))
}

/// The smaller of two values, as a CASE both databases understand: PostgreSQL spells
/// it `LEAST` and SQLite `MIN`.
fn least(a: SimpleExpr, b: SimpleExpr) -> SimpleExpr {
    Expr::case(a.clone().lt(b.clone()), a).finally(b).into()
}
