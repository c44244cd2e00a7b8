//! Heartbeats: activity that keeps a session alive and marks its device as seen.

use entity::{device, session};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, UpdateMany,
    sea_query::{Expr, ExprTrait, SimpleExpr},
};

use super::is_live;
use crate::service::{Actor, ClientInfo, ServiceError, ServiceResult, Services};

impl Services {
    /// Records activity: the session's idle expiry moves to now + idle timeout, never past
    /// its absolute lifetime, and its device is seen now from this address.
    pub async fn heartbeat(&self, actor: &Actor) -> ServiceResult<session::Model> {
        let now = self.now();
        let txn = self.begin_write().await?;
        let extend = session::Entity::update_many()
            .col_expr(session::Column::LastActivityAt, Expr::value(now))
            .col_expr(
                session::Column::ExpiresAt,
                least(
                    Expr::value(now + self.rules.idle_timeout),
                    Expr::col(session::Column::AbsoluteExpiresAt),
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
