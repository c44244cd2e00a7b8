//! Live account events: each subscription is a filter over the committed events of the
//! subscriber's own account. The websocket connection (`http::websocket`) closes itself
//! when its session ends; these streams also stop at that event, so nothing published
//! after it can slip through first.

use std::sync::Arc;

use async_graphql::{
    Context, ID, Request, Result, Subscription as SubscriptionRoot, parser::types::Selection,
};
use entity::account_event::EventKind;
use futures_util::{Stream, StreamExt, future::ready, stream};
use tokio::sync::{Notify, watch};

use super::{
    ContextExt, IntoGraphqlError, internal_error,
    model::{
        NewSignIn, SecurityEvent, Session, SessionExpiringEvent, SessionRevokedEvent,
        SignedOutEvent,
    },
    scalars::DateTime,
    selected_operations,
};
use crate::service::{AccountEvent, AccountFeed, Actor, ServiceError, SessionEnd};

/// Set by the connection when its own session ends; `signedOut` waits for it.
pub struct SignOutNotice(pub watch::Receiver<Option<SessionEnd>>);

/// Raised by a subscription that fell too far behind the account events to replay them
/// ([`crate::service::MAX_CATCH_UP`]). Its stream goes quiet, and the connection closes
/// (1013) so the client reconnects and refetches instead of waiting on a subscription that
/// will never speak again.
pub struct FellBehind(pub Arc<Notify>);

/// The account feed a transport opened the moment it accepted a subscription, so the
/// subscription hears every event committed from then on, however late its resolver runs.
pub struct ListeningSince(std::sync::Mutex<Option<AccountFeed>>);

impl ListeningSince {
    pub fn new(feed: AccountFeed) -> Self {
        Self(std::sync::Mutex::new(Some(feed)))
    }

    fn take(&self) -> Option<AccountFeed> {
        self.0.lock().expect("feed poisoned").take()
    }
}

pub struct Subscription;

/// Whether `request` subscribes to `signedOut`: the one subscription that outlives its
/// session, since telling of the end is what it is for. Every other subscription of a
/// connection stops when the session ends.
pub fn outlives_session(request: &mut Request) -> bool {
    selected_operations(request).is_some_and(|operations| {
        operations
            .flat_map(|operation| operation.selection_set.node.items.iter())
            .any(|selection| {
                matches!(&selection.node, Selection::Field(field) if field.node.name.node == "signedOut")
            })
    })
}

/// The subscriber's account events of `kind` until its own session ends; from then on the
/// stream goes quiet (not complete: the connection tells `signedOut` and closes). A feed
/// that falls behind replays what it missed; one too far behind to replay
/// goes quiet rather than skip events, and raises [`FellBehind`] so its connection closes
/// with 1013.
async fn account_events(
    ctx: &Context<'_>,
    kind: Option<EventKind>,
) -> Result<(Arc<Actor>, impl Stream<Item = Arc<AccountEvent>> + use<>)> {
    let actor = ctx.actor()?.clone();
    let (user_id, own_session) = (actor.user_id.clone(), actor.session_id);
    let fell_behind = ctx
        .data_opt::<FellBehind>()
        .map(|FellBehind(alarm)| alarm.clone());
    // Every transport opens the feed as it accepts the subscription; one that did not
    // would miss what commits before this first poll, so it is refused, not guessed at.
    let feed = ctx
        .data_opt::<ListeningSince>()
        .and_then(ListeningSince::take)
        .ok_or_else(|| internal_error("a subscription arrived without its account feed"))?;
    let events = feed
        .into_stream()
        .take_while(move |received| {
            let behind = received.is_err();
            if let (true, Some(alarm)) = (behind, &fell_behind) {
                // A permit is kept if the connection is not waiting right now.
                alarm.notify_one();
            }
            ready(!behind)
        })
        .filter_map(move |received| {
            ready(match received {
                // The feed is the account's own; the check keeps it so if that ever broke.
                Ok(event) if event.record.user_id == user_id => Some(event),
                _ => None,
            })
        })
        .take_while(move |event| ready(!event.ends_session(own_session)))
        .filter(move |event| ready(kind.is_none_or(|kind| event.kind() == kind)))
        .chain(stream::pending());
    Ok((actor, events))
}

/// The session an event is about, as the subscriber sees it. `None` when it has been
/// deleted since (its device was forgotten): there is nothing left to show.
fn session_of(event: &AccountEvent, viewer: &Arc<Actor>) -> Option<Session> {
    Some(Session::new(event.session.clone()?, viewer))
}

/// A session's end, as `sessionRevoked` tells it.
fn revocation_of(event: &AccountEvent, viewer: &Arc<Actor>) -> Option<SessionRevokedEvent> {
    Some(SessionRevokedEvent {
        session: session_of(event, viewer)?,
        reason: event.end_reason()?.into(),
        at: DateTime(event.occurred_at()),
    })
}

#[SubscriptionRoot]
impl Subscription {
    /// Each new session of the caller's account.
    async fn session_started(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = Session>> {
        let (actor, events) = account_events(ctx, Some(EventKind::SessionStarted)).await?;
        Ok(events.filter_map(move |event| ready(session_of(&event, &actor))))
    }

    /// Each session of the caller's account that ends, whatever the reason.
    async fn session_revoked(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = SessionRevokedEvent>> {
        let (actor, events) = account_events(ctx, Some(EventKind::SessionEnded)).await?;
        Ok(events.filter_map(move |event| ready(revocation_of(&event, &actor))))
    }

    /// Each sign-in on a device the account had never used ("was this you?"), told to
    /// the account's sessions on its other devices; answer it with confirmSignIn or
    /// rejectSignIn.
    async fn new_sign_in(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = NewSignIn>> {
        let (actor, events) = account_events(ctx, Some(EventKind::NewSignIn)).await?;
        Ok(events.filter_map(move |event| {
            let on_other_device = event.record.device_id != Some(actor.device_id);
            ready(
                event
                    .session
                    .clone()
                    .filter(|_| on_other_device)
                    .map(|session| NewSignIn::of_session(session, &actor)),
            )
        }))
    }

    /// Each new entry of the caller's security log, as `securityEvents` will list it.
    async fn security_event(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = SecurityEvent>> {
        let (actor, events) = account_events(ctx, None).await?;
        Ok(events.map(move |event| SecurityEvent::new(event.record.clone(), &actor)))
    }

    /// Fires when the subscribing session itself comes within the configured warning time
    /// of expiring (2 minutes by default), once per expiry: after a heartbeat puts it off,
    /// it fires again before the new one.
    async fn session_expiring(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = SessionExpiringEvent>> {
        let actor = ctx.actor_allowing_pending()?;
        Ok(ctx
            .services()
            .expiry_warnings(actor)
            .map(SessionExpiringEvent::from)
            // Quiet once the session has ended: the connection tells signedOut and closes.
            .chain(stream::pending()))
    }

    /// Fires once when the subscribing session itself ends ("you were signed out"), whatever
    /// ended it; the server then closes the connection (4403).
    async fn signed_out(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = SignedOutEvent>> {
        let session_id = ctx.actor_allowing_pending()?.session_id;
        let Some(SignOutNotice(notice)) = ctx.data_opt::<SignOutNotice>() else {
            return Err(ServiceError::BadUserInput(
                "signedOut is only available over the websocket endpoint".into(),
            )
            .into_graphql());
        };
        let mut notice = notice.clone();
        Ok(stream::once(async move {
            let end = *notice.wait_for(Option::is_some).await.ok()?;
            end.map(|end| SignedOutEvent {
                session_id: ID(session_id.to_string()),
                reason: end.reason.into(),
                at: DateTime(end.at),
            })
        })
        .filter_map(ready))
    }
}
