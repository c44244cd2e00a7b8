//! Signing in: an identity from the product's login becomes a session on a device.

use chrono::{DateTime, Utc};
use entity::{account_event::EventKind, device, session};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseTransaction};
use uuid::Uuid;

use super::{
    ClientInfo, ServiceResult, Services,
    devices::{Sighting, SignInDevice, known_device, sign_in_device},
    outbox::{EventLog, Subject},
    validate,
};
use crate::{events::store, tokens::Identity};

/// What the caller of `startSession` asked for.
#[derive(Debug, Default)]
pub struct StartSession {
    pub device_token: Option<String>,
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

/// A new session, its token, and the device it runs on with that device's token.
#[derive(Debug)]
pub struct StartedSession {
    pub token: String,
    pub device_token: String,
    pub session: session::Model,
    pub device: device::Model,
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
        self.admit_sign_in(&identity.user_id, client).await?;
        let sighting = validated(request, client)?;
        let now = self.now();
        let txn = self.begin_write().await?;
        let mut log = EventLog::new(None, client.clone(), now);
        let user_id = &identity.user_id;
        // One sign-in of an account at a time: the cap and the question below are decided
        // on what the account has, which a concurrent sign-in would otherwise change.
        store::lock_account(&txn, user_id).await?;
        // Room is made before the question is decided, so that whether a session that could
        // answer it exists is known after eviction, not before.
        self.make_room(&txn, &mut log, user_id, now).await?;
        let known = known_device(&txn, user_id, &sighting).await?;
        let session_id = Uuid::now_v7();
        let question = self
            .question_for(&txn, user_id, known.as_ref(), session_id, now)
            .await?;
        let SignInDevice {
            device,
            token: device_token,
        } = sign_in_device(&txn, &mut log, user_id, known, sighting, question.as_ref()).await?;
        let opening = Opening {
            id: session_id,
            pending_until: question.as_ref().and_then(|question| question.confirm_by),
        };
        let session = self
            .open_session(&txn, &mut log, identity, &device, client, opening)
            .await?;
        if question.is_some() {
            self.ask(&mut log, &device, &session);
        }
        self.commit(log, txn).await?;
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

    /// A new active session on `device`, recorded as `SessionStarted`.
    async fn open_session(
        &self,
        txn: &DatabaseTransaction,
        log: &mut EventLog,
        identity: &Identity,
        device: &device::Model,
        client: &ClientInfo,
        Opening { id, pending_until }: Opening,
    ) -> ServiceResult<session::Model> {
        let now = log.now();
        let absolute_expires_at = now + self.rules.session_lifetime;
        let pending_until = pending_until.map(|deadline| deadline.min(absolute_expires_at));
        let idle_expiry = std::cmp::min(now + self.rules.idle_timeout, absolute_expires_at);
        let session =
            session::ActiveModel {
                id: Set(id),
                user_id: Set(identity.user_id.clone()),
                device_id: Set(device.id),
                login_method: Set((!identity.amr.is_empty()).then(|| identity.amr.join("+"))),
                ip_address: Set(client.ip_address.clone()),
                country: Set(client.country.clone()),
                city: Set(client.city.clone()),
                started_at: Set(now),
                last_activity_at: Set(now),
                expires_at: Set(
                    pending_until.map_or(idle_expiry, |deadline| deadline.min(idle_expiry))
                ),
                absolute_expires_at: Set(absolute_expires_at),
                ended_at: Set(None),
                end_reason: Set(None),
                pending_until: Set(pending_until),
            }
            .insert(txn)
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
        Ok(session)
    }
}

/// The session a sign-in opens: its id, made before its device is written, and the
/// deadline it waits until when its device must be confirmed first.
struct Opening {
    id: Uuid,
    pending_until: Option<DateTime<Utc>>,
}

/// The request's device description, checked; the user agent defaults to the request's.
fn validated(request: StartSession, client: &ClientInfo) -> ServiceResult<Sighting<'_>> {
    Ok(Sighting {
        name: request
            .device_name
            .as_deref()
            .map(validate::device_name)
            .transpose()?,
        metadata: validate::metadata(request.metadata)?,
        user_agent: validate::user_agent(request.user_agent, client.user_agent.as_deref())?,
        token: validate::device_token(request.device_token)?,
        client,
    })
}
