//! Live account events: each subscription is a filter over the committed events of the
//! subscriber's own account.

use std::sync::Arc;

use async_graphql::{Context, ID, Result, Subscription as SubscriptionRoot};
use entity::account_event::EventKind;
use futures_util::{Stream, StreamExt, future::ready};
use tokio_stream::wrappers::BroadcastStream;

use super::{
    ContextExt,
    scalars::DateTime,
    types::{Session, SessionRevokedEvent, SignedOutEvent},
};
use crate::service::{AccountEvent, Actor, Services};

#[derive(Default)]
pub struct Subscription;

/// The subscriber's account events of `kind`, until the subscriber falls too far behind
/// to be sure it saw them all: then the stream ends rather than silently skip any.
fn account_events(
    ctx: &Context<'_>,
    kind: EventKind,
) -> Result<(
    Services,
    Arc<Actor>,
    impl Stream<Item = Arc<AccountEvent>> + use<>,
)> {
    let services = ctx.services().clone();
    let actor = ctx.actor()?.clone();
    let user_id = actor.user_id.clone();
    let events = BroadcastStream::new(services.events().subscribe())
        .take_while(|received| ready(received.is_ok()))
        .filter_map(move |received| {
            let wanted = received
                .ok()
                .filter(|event| event.user_id == user_id && event.kind == kind);
            ready(wanted)
        });
    Ok((services, actor, events))
}

#[SubscriptionRoot]
impl Subscription {
    /// Each new session of the caller's account.
    async fn session_started(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = Session>> {
        let (services, actor, events) = account_events(ctx, EventKind::SessionStarted)?;
        Ok(events.filter_map(move |event| {
            let (services, actor) = (services.clone(), actor.clone());
            async move {
                let session = services.session(&actor, event.session_id?).await.ok()??;
                Some(Session::new(session, &actor))
            }
        }))
    }

    /// Each session of the caller's account that ends, whatever the reason.
    async fn session_revoked(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = SessionRevokedEvent>> {
        let (services, actor, events) = account_events(ctx, EventKind::SessionEnded)?;
        Ok(events.filter_map(move |event| {
            let (services, actor) = (services.clone(), actor.clone());
            async move {
                let session = services.session(&actor, event.session_id?).await.ok()??;
                Some(SessionRevokedEvent {
                    session: Session::new(session, &actor),
                    reason: event.end_reason?.into(),
                    at: DateTime(event.occurred_at),
                })
            }
        }))
    }

    /// Fires once when the subscribing session itself ends ("you were signed out"); the
    /// stream then completes.
    async fn signed_out(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = SignedOutEvent>> {
        let (_, actor, events) = account_events(ctx, EventKind::SessionEnded)?;
        let own_session = actor.session_id;
        Ok(events
            .filter_map(move |event| {
                let own = event.session_id == Some(own_session);
                ready(own.then(|| {
                    SignedOutEvent {
                        session_id: ID(own_session.to_string()),
                        reason: event
                            .end_reason
                            .map(Into::into)
                            .unwrap_or(super::types::SessionEndReason::Revoked),
                        at: DateTime(event.occurred_at),
                    }
                }))
            })
            .take(1))
    }
}
