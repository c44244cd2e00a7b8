//! Changes that end a device's sessions: flagging it hijacked, forgetting it, signing it out.

use chrono::{DateTime, Utc};
use entity::{
    account_event::EventKind,
    device::{self, DeviceStatus},
    session::{self, EndReason},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction,
    IntoActiveModel, sea_query::Expr,
};
use uuid::Uuid;

use super::{edit::without_trust, live_sessions_of, lock_own_device, registration::void_token};
use crate::service::{
    Actor, ServiceError, ServiceResult, Services,
    cooldown::Ending,
    outbox::{EventLog, Subject},
    sessions::end_sessions,
};

/// Writes `device` as hijacked (and whatever else `device` changes), without trust, ends
/// its sessions and records `DeviceHijacked`, inside `txn`.
pub(in crate::service) async fn flag_hijacked(
    txn: &DatabaseTransaction,
    log: &mut EventLog,
    device: device::ActiveModel,
    now: DateTime<Utc>,
) -> ServiceResult<device::Model> {
    let mut update = without_trust(device);
    update.status = Set(DeviceStatus::Hijacked);
    let device = update.update(txn).await?;
    end_sessions(
        txn,
        log,
        live_sessions_of(device.id, now),
        EndReason::DeviceHijacked,
        Expr::value(now),
    )
    .await?;
    log.record(
        &device.user_id,
        EventKind::DeviceHijacked,
        Subject {
            device_id: Some(device.id),
            ..Subject::default()
        },
    );
    Ok(device)
}

/// Forgets `device` inside `txn`: ends its sessions, removes it from the user's devices
/// and voids its token; recorded as `DeviceForgotten`.
pub(in crate::service) async fn forget(
    txn: &DatabaseTransaction,
    log: &mut EventLog,
    device: device::Model,
    now: DateTime<Utc>,
) -> ServiceResult<ForgottenDevice> {
    let ended = end_sessions(
        txn,
        log,
        live_sessions_of(device.id, now),
        EndReason::DeviceForgotten,
        Expr::value(now),
    )
    .await?;
    let mut update = device.into_active_model();
    update.forgotten_at = Set(Some(now));
    void_token(&mut update);
    let device = update.update(txn).await?;
    log.record(
        &device.user_id,
        EventKind::DeviceForgotten,
        Subject {
            device_id: Some(device.id),
            ..Subject::default()
        },
    );
    Ok(ForgottenDevice {
        device_id: device.id,
        ended_sessions: ended.len(),
    })
}

/// What forgetting a device did.
#[derive(Debug)]
pub struct ForgottenDevice {
    pub device_id: Uuid,
    pub ended_sessions: usize,
}

impl Services {
    /// Flags a device as compromised: its trust goes, its sessions end, and its token can
    /// never start a session again. Flagging it twice changes nothing.
    pub async fn mark_device_hijacked(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> ServiceResult<device::Model> {
        // Flagging the device one is on needs nothing more: it only locks oneself out.
        if id != actor.device_id {
            self.require_recent_sign_in(actor).await?;
        }
        self.check_cooldown(actor, Ending::Device(id)).await?;
        let now = self.now();
        let txn = self.begin_write().await?;
        let device = lock_own_device(&txn, actor.account(), id).await?;
        if device.status == DeviceStatus::Hijacked {
            return Ok(device);
        }
        let mut log = EventLog::by_actor(actor, now);
        let device = flag_hijacked(&txn, &mut log, device.into_active_model(), now).await?;
        self.commit(log, txn).await?;
        Ok(device)
    }

    /// Ends a device's sessions and removes it from the user's devices. Its row stays,
    /// without its token, so session history keeps naming it.
    pub async fn forget_device(&self, actor: &Actor, id: Uuid) -> ServiceResult<ForgottenDevice> {
        self.check_cooldown(actor, Ending::Device(id)).await?;
        let now = self.now();
        let txn = self.begin_write().await?;
        let device = lock_own_device(&txn, actor.account(), id).await?;
        let mut log = EventLog::by_actor(actor, now);
        let forgotten = forget(&txn, &mut log, device, now).await?;
        self.commit(log, txn).await?;
        Ok(forgotten)
    }

    /// Ends every active session of a device: the caller's own device when `id` is `None`.
    pub async fn sign_out_device(
        &self,
        actor: &Actor,
        id: Option<Uuid>,
    ) -> ServiceResult<Vec<session::Model>> {
        let device_id = match id {
            Some(id) => {
                self.device(actor, id)
                    .await?
                    .ok_or(ServiceError::NotFound("device"))?
                    .id
            }
            None => actor.device_id,
        };
        self.check_cooldown(actor, Ending::Device(device_id))
            .await?;
        let scope = Condition::all().add(session::Column::DeviceId.eq(device_id));
        self.end_sessions_for(actor, scope, EndReason::DeviceSignedOut)
            .await
    }
}
