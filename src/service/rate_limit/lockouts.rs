//! What a rate-limit refusal leaves in the user's security log: the first refusal of each
//! lockout, once, so someone hammering an account or a stolen token shows up there.

use entity::account_event::EventKind;

use crate::service::{
    Actor, ClientInfo, ServiceError, ServiceResult, Services,
    outbox::{EventLog, Subject},
};

impl Services {
    /// Counts a `startSession` for `user_id` against the per-user sign-in rate.
    pub(in crate::service) async fn admit_sign_in(
        &self,
        user_id: &str,
        client: &ClientInfo,
    ) -> ServiceResult<()> {
        let Err(limited) = self.limits.check_sign_in(user_id).await else {
            return Ok(());
        };
        if limited.starts_lockout {
            // Someone is signing in as this user faster than the limit allows.
            let log = EventLog::new(None, client.clone(), self.now());
            self.record_lockout(
                log,
                user_id,
                EventKind::SignInRateLimited,
                Subject::default(),
            )
            .await?;
        }
        Err(ServiceError::RateLimited(limited))
    }

    /// Counts a request made with `actor`'s session against the per-session rate. The
    /// first refusal of a lockout names the session that was too busy.
    pub async fn check_session_rate(&self, actor: &Actor) -> ServiceResult<()> {
        let Err(limited) = self.limits.check_session(actor.session_id).await else {
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
        Ok(self.commit(log, txn).await?)
    }
}
