//! Telling a session, ahead of time, that it is about to end by time: its idle expiry
//! (a heartbeat can still put it off), its absolute lifetime or its confirmation deadline
//! (nothing can).
//!
//! A session's watcher sleeps on the service clock until the configured lead before the
//! expiry written in its row, reads the row again, and warns only if the expiry has not
//! moved since: a heartbeat in between moves it, and the watcher goes back to sleep. It
//! warns once per expiry and wakes about twice per idle period, so idle sockets cost no
//! reads.

use chrono::{DateTime, Utc};
use entity::session::EndReason;
use futures_util::{Stream, stream};
use uuid::Uuid;

use super::{SessionEnd, expiry_reason};
use crate::service::{Actor, Services};

/// How long to wait before reading a session again after a failed read.
const RETRY_AFTER_FAILURE: chrono::Duration = chrono::Duration::seconds(5);

/// A session ends soon unless something is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryWarning {
    pub session_id: Uuid,
    pub expires_at: DateTime<Utc>,
    /// Why it would end: `IdleTimeout` (a heartbeat puts it off), `LifetimeExceeded` or
    /// `NotConfirmed` (only signing in again, or a confirmation, helps).
    pub reason: EndReason,
}

/// Where a watcher stands: the expiry it last warned of.
struct Watch {
    services: Services,
    user_id: String,
    session_id: Uuid,
    warned_of: Option<DateTime<Utc>>,
}

impl Services {
    /// A warning each time `actor`'s session comes within the configured lead of an
    /// expiry it has not been warned of; ends when the session has ended.
    pub fn expiry_warnings(&self, actor: &Actor) -> impl Stream<Item = ExpiryWarning> + use<> {
        let watch = Watch {
            services: self.clone(),
            user_id: actor.user_id.clone(),
            session_id: actor.session_id,
            warned_of: None,
        };
        stream::unfold(watch, |mut watch| async move {
            let warning = watch.next_warning().await?;
            watch.warned_of = Some(warning.expires_at);
            Some((warning, watch))
        })
    }
}

impl Watch {
    /// Sleeps until a warning is due and returns it; `None` once the session has ended.
    async fn next_warning(&self) -> Option<ExpiryWarning> {
        let lead = self.services.rules.expiry_warning;
        loop {
            let now = self.services.now();
            let session = match self
                .services
                .own_session(&self.user_id, self.session_id)
                .await
            {
                Ok(session) => session?,
                Err(error) => {
                    error.log();
                    self.services
                        .clock
                        .sleep_until(now + RETRY_AFTER_FAILURE)
                        .await;
                    continue;
                }
            };
            if SessionEnd::of(&session, now).is_some() {
                return None;
            }
            let expires_at = session.expires_at;
            let warned = self.warned_of == Some(expires_at);
            if !warned && now >= expires_at - lead {
                return Some(ExpiryWarning {
                    session_id: session.id,
                    expires_at,
                    reason: expiry_reason(&session),
                });
            }
            // Warned already: look again when it would have expired, in case a heartbeat
            // moved it meanwhile and a new warning will be due.
            let wake = if warned {
                expires_at
            } else {
                expires_at - lead
            };
            self.services.clock.sleep_until(wake).await;
        }
    }
}
