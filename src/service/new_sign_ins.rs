//! "Was this you?": a sign-in on a device the account has never used is put to the
//! account's other sessions, which confirm it (recognised) or reject it (its sessions end
//! and its device is flagged hijacked).
//!
//! The check belongs to the device: every sign-in on it is asked about until it is
//! answered, so signing in again with the same device token cannot get around it. The
//! account's first device is not asked about: there is nothing to ask.
//!
//! Under the confirmation policy (`Rules::confirm_new_devices_within`) the sessions of a
//! device being asked about are pending: they may only read themselves until the device
//! is confirmed, and end at its deadline (`NOT_CONFIRMED`) if it is not. A sign-in is
//! pending only when a session that may answer it is active (on another recognised device,
//! not pending itself); otherwise the user would lock themselves out. The session cap makes
//! room among pending sessions first (`make_room`), so new sign-ins never push that session
//! out.

use chrono::{DateTime, Utc};
use entity::{
    account_event::EventKind,
    device::{self, SignInCheck},
    session,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::{
    Actor, ServiceError, ServiceResult, Services,
    devices::{flag_hijacked, lock_own_device},
    outbox::{EventLog, Subject},
    sessions::is_live,
    user_agent,
};

/// Most sign-ins one `newSignIns` list shows.
pub const MAX_LISTED_NEW_SIGN_INS: u64 = 50;

/// A sign-in on a new device and the device as it stands.
#[derive(Debug)]
pub struct NewSignIn {
    pub session: session::Model,
    pub device: device::Model,
}

/// What the server itself observed of the sign-in of `session` on `device`, never a name a
/// client chose: "Safari on iPhone · 203.0.113.9 · Berlin, DE". Whoever signs in names
/// their device as they like ("Alice's MacBook Pro"); a prompt that shows this first
/// cannot be dressed up as one of the user's own devices.
pub fn observed_summary(session: &session::Model, device: &device::Model) -> String {
    let mut parts = vec![derived_name(device)];
    parts.extend(session.ip_address.clone());
    let location: Vec<&str> = [&session.city, &session.country]
        .into_iter()
        .filter_map(|part| part.as_deref())
        .collect();
    if !location.is_empty() {
        parts.push(location.join(", "));
    }
    parts.join(" · ")
}

/// The device's name when a client chose it (at sign-in or by renaming), rather than the
/// server deriving it from the user agent: to show as the device's claim, apart from what
/// the server observed.
pub fn chosen_device_name(device: &device::Model) -> Option<&str> {
    (device.name != derived_name(device)).then_some(device.name.as_str())
}

/// The name the server gives `device` from its user agent ("Safari on iPhone").
fn derived_name(device: &device::Model) -> String {
    user_agent::parse(device.user_agent.as_deref()).display_name
}

/// An answer being given: its transaction, its events, and the sign-in it answers.
struct Answering {
    txn: DatabaseTransaction,
    log: EventLog,
    sign_in: NewSignIn,
    now: DateTime<Utc>,
}

/// A sign-in the account is to be asked about, decided before its device is written so
/// that the device's own write records the question.
pub(super) struct Question {
    /// The session the sign-in will open.
    pub session_id: Uuid,
    /// Under the confirmation policy, when the device's sessions end unless confirmed.
    pub confirm_by: Option<DateTime<Utc>>,
}

impl Question {
    /// Writes the question into the device's update: unanswered, about this sign-in.
    pub fn mark(&self, device: &mut device::ActiveModel) {
        device.sign_in_check = Set(Some(SignInCheck::Unconfirmed));
        device.sign_in_session_id = Set(Some(self.session_id));
        device.sign_in_checked_at = Set(None);
        device.confirm_by = Set(self.confirm_by);
    }
}

impl Services {
    /// Whether the sign-in that will open session `session_id` on `known` (`None`: a
    /// device the account never used) is to be put to the account, and whether it must
    /// wait for the answer.
    pub(super) async fn question_for(
        &self,
        txn: &DatabaseTransaction,
        user_id: &str,
        known: Option<&device::Model>,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> ServiceResult<Option<Question>> {
        let asked = match known {
            Some(device) => device.sign_in_check == Some(SignInCheck::Unconfirmed),
            None => has_devices(txn, user_id).await?,
        };
        if !asked {
            return Ok(None);
        }
        let device_id = known.map(|device| device.id);
        let confirm_by = match self.rules.confirm_new_devices_within {
            Some(window) if has_confirmer(txn, user_id, device_id, now).await? => Some(
                known
                    .and_then(|device| device.confirm_by)
                    .filter(|deadline| *deadline > now)
                    .unwrap_or(now + window),
            ),
            _ => None,
        };
        Ok(Some(Question {
            session_id,
            confirm_by,
        }))
    }

    /// Tells the account's other sessions of `session`'s sign-in on `device`, which its
    /// write marked as asked about: `NewSignIn`.
    pub(super) fn ask(&self, log: &mut EventLog, device: &device::Model, session: &session::Model) {
        log.record(
            &session.user_id,
            EventKind::NewSignIn,
            Subject {
                device_id: Some(device.id),
                session_id: Some(session.id),
                detail: Some(json!({
                    "loginMethod": session.login_method,
                    "confirmBy": device.confirm_by,
                })),
                ..Subject::default()
            },
        );
    }

    /// The caller's sign-ins on new devices, most recent first: those not answered yet,
    /// or with `include_answered` the confirmed and rejected ones too. One per device,
    /// its latest sign-in; at most [`MAX_LISTED_NEW_SIGN_INS`].
    pub async fn new_sign_ins(
        &self,
        actor: &Actor,
        include_answered: bool,
    ) -> ServiceResult<Vec<NewSignIn>> {
        let mut checks = vec![SignInCheck::Unconfirmed];
        if include_answered {
            checks.extend([SignInCheck::Confirmed, SignInCheck::Rejected]);
        }
        let devices = device::Entity::find()
            .filter(device::Column::UserId.eq(actor.user_id.as_str()))
            .filter(device::Column::ForgottenAt.is_null())
            .filter(device::Column::SignInCheck.is_in(checks))
            // Session ids are UUIDv7: in the order the sign-ins happened.
            .order_by_desc(device::Column::SignInSessionId)
            .limit(MAX_LISTED_NEW_SIGN_INS)
            .all(&self.db)
            .await?;
        let ids: Vec<Uuid> = devices
            .iter()
            .filter_map(|device| device.sign_in_session_id)
            .collect();
        let mut sessions = self.sessions_by_id(&actor.user_id, &ids).await?;
        Ok(devices
            .into_iter()
            .filter_map(|device| {
                let at = sessions
                    .iter()
                    .position(|session| Some(session.id) == device.sign_in_session_id)?;
                Some(NewSignIn {
                    session: sessions.swap_remove(at),
                    device,
                })
            })
            .collect())
    }

    /// Marks the sign-in of session `id` as recognised: its device is no longer asked
    /// about, and its pending sessions become ordinary ones. Confirming twice changes
    /// nothing.
    pub async fn confirm_sign_in(&self, actor: &Actor, id: Uuid) -> ServiceResult<NewSignIn> {
        let Answering {
            txn,
            mut log,
            sign_in: NewSignIn { session, device },
            now,
        } = self.begin_answer(actor, id).await?;
        match device.sign_in_check {
            Some(SignInCheck::Confirmed) => return Ok(NewSignIn { session, device }),
            Some(SignInCheck::Rejected) => {
                return Err(ServiceError::DeviceBlocked(
                    "this sign-in was rejected and its device flagged as hijacked",
                ));
            }
            _ => {}
        }
        let update = answered(&mut log, device, &session, Answer::Yes, now);
        let device = update.update(&txn).await?;
        self.release_pending_sessions(&txn, device.id, now).await?;
        let session = reread(&txn, session).await?;
        self.commit(log, txn).await?;
        Ok(NewSignIn { session, device })
    }

    /// Says the sign-in of session `id` was not the user: every session of its device
    /// ends and the device is flagged hijacked, so its token can never sign in again.
    /// Rejecting twice changes nothing; a confirmed sign-in can still be rejected.
    pub async fn reject_sign_in(&self, actor: &Actor, id: Uuid) -> ServiceResult<NewSignIn> {
        let Answering {
            txn,
            mut log,
            sign_in: NewSignIn { session, device },
            now,
        } = self.begin_answer(actor, id).await?;
        if device.sign_in_check == Some(SignInCheck::Rejected) {
            return Ok(NewSignIn { session, device });
        }
        let update = answered(&mut log, device, &session, Answer::No, now);
        let device = flag_hijacked(&txn, &mut log, update, now).await?;
        let session = reread(&txn, session).await?;
        self.commit(log, txn).await?;
        Ok(NewSignIn { session, device })
    }

    /// Opens the transaction that answers the sign-in of session `id`, after the checks
    /// both answers share: a recent sign-in, from another device, one the account
    /// recognises itself. The sign-in's device stays locked until the answer commits.
    async fn begin_answer(&self, actor: &Actor, id: Uuid) -> ServiceResult<Answering> {
        self.require_recent_sign_in(actor).await?;
        let now = self.now();
        let txn = self.begin_write().await?;
        let session = session::Entity::find_by_id(id)
            .filter(session::Column::UserId.eq(actor.user_id.as_str()))
            .one(&txn)
            .await?
            .ok_or(ServiceError::NotFound("sign-in"))?;
        // A forgotten device has no sign-in left to answer; any other failure is itself.
        let device = lock_own_device(&txn, actor.account(), session.device_id)
            .await
            .map_err(|error| match error {
                ServiceError::NotFound(_) => ServiceError::NotFound("sign-in"),
                other => other,
            })?;
        if device.sign_in_check.is_none() {
            return Err(ServiceError::NotFound("sign-in"));
        }
        if device.id == actor.device_id {
            return Err(ServiceError::Forbidden(
                "a sign-in is confirmed or rejected from another device, not from the one that signed in",
            ));
        }
        let own_device = lock_own_device(&txn, actor.account(), actor.device_id).await?;
        if own_device
            .sign_in_check
            .is_some_and(|check| check != SignInCheck::Confirmed)
        {
            return Err(ServiceError::Forbidden(
                "this device's own sign-in is not confirmed yet; answer from a device the account recognises",
            ));
        }
        Ok(Answering {
            txn,
            log: EventLog::by_actor(actor, now),
            sign_in: NewSignIn { session, device },
            now,
        })
    }

    /// The device's pending sessions become ordinary: no deadline, and the idle expiry a
    /// heartbeat now would give them.
    async fn release_pending_sessions(
        &self,
        txn: &DatabaseTransaction,
        device_id: Uuid,
        now: DateTime<Utc>,
    ) -> ServiceResult<()> {
        let pending = session::Entity::find()
            .filter(session::Column::DeviceId.eq(device_id))
            .filter(session::Column::PendingUntil.is_not_null())
            .filter(is_live(now))
            .all(txn)
            .await?;
        for session in pending {
            let idle_expiry = session.last_activity_at
                + self.rules.idle_timeout
                + self.rules.heartbeat_write_window;
            let expires_at = idle_expiry.min(session.absolute_expires_at);
            let mut update = session.into_active_model();
            update.pending_until = Set(None);
            update.expires_at = Set(expires_at);
            update.update(txn).await?;
        }
        Ok(())
    }
}

/// "Was this you?" answered.
#[derive(Clone, Copy)]
enum Answer {
    Yes,
    No,
}

/// `device` with its check answered at `now`, nothing waiting any more; the answer is
/// recorded as `SignInConfirmed` or `SignInRejected`, about `session`.
fn answered(
    log: &mut EventLog,
    device: device::Model,
    session: &session::Model,
    answer: Answer,
    now: DateTime<Utc>,
) -> device::ActiveModel {
    let (check, kind) = match answer {
        Answer::Yes => (SignInCheck::Confirmed, EventKind::SignInConfirmed),
        Answer::No => (SignInCheck::Rejected, EventKind::SignInRejected),
    };
    log.record(
        &device.user_id,
        kind,
        Subject {
            device_id: Some(device.id),
            session_id: Some(session.id),
            ..Subject::default()
        },
    );
    let mut update = device.into_active_model();
    update.sign_in_check = Set(Some(check));
    update.sign_in_checked_at = Set(Some(now));
    update.confirm_by = Set(None);
    update
}

/// `session` as `txn` now has it.
async fn reread(
    txn: &DatabaseTransaction,
    session: session::Model,
) -> ServiceResult<session::Model> {
    Ok(session::Entity::find_by_id(session.id)
        .one(txn)
        .await?
        .unwrap_or(session))
}

/// Whether the account has used a device before, forgotten or not.
async fn has_devices(txn: &DatabaseTransaction, user_id: &str) -> ServiceResult<bool> {
    let any: Option<Uuid> = device::Entity::find()
        .select_only()
        .column(device::Column::Id)
        .filter(device::Column::UserId.eq(user_id))
        .into_tuple()
        .one(txn)
        .await?;
    Ok(any.is_some())
}

/// Whether a session that could confirm a sign-in on `device` (`None`: a new device) is
/// active: one on another device the account recognises (never asked about, or
/// confirmed), not pending itself. Only such a session may answer (`begin_answer`); its
/// need for a recent sign-in is met by signing in again on its device, which is not asked.
async fn has_confirmer(
    txn: &DatabaseTransaction,
    user_id: &str,
    device: Option<Uuid>,
    now: DateTime<Utc>,
) -> ServiceResult<bool> {
    let recognised = device::Entity::find()
        .select_only()
        .column(device::Column::Id)
        .filter(device::Column::UserId.eq(user_id))
        .filter(device::Column::ForgottenAt.is_null())
        .filter(
            Condition::any()
                .add(device::Column::SignInCheck.is_null())
                .add(device::Column::SignInCheck.eq(SignInCheck::Confirmed)),
        )
        .into_query();
    let mut scope = Condition::all()
        .add(session::Column::UserId.eq(user_id))
        .add(session::Column::PendingUntil.is_null())
        .add(session::Column::DeviceId.in_subquery(recognised))
        .add(is_live(now));
    if let Some(device) = device {
        scope = scope.add(session::Column::DeviceId.ne(device));
    }
    let confirmer: Option<Uuid> = session::Entity::find()
        .select_only()
        .column(session::Column::Id)
        .filter(scope)
        .into_tuple()
        .one(txn)
        .await?;
    Ok(confirmer.is_some())
}
