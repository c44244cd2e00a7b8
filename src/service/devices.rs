//! Devices: listing, trust, renaming, hijack and forget.
//!
//! Every operation first loads the device through [`Services::own_device`], which only
//! finds the caller's own, unforgotten devices: nothing here can touch another user's.

use chrono::{DateTime, Utc};
use entity::{
    account_event::EventKind,
    device::{self, DeviceStatus, TrustLevel},
    session::{self, EndReason},
};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Select, sea_query::Expr,
};
use serde_json::json;
use uuid::Uuid;

use super::{
    Actor, ServiceError, ServiceResult, Services, bad_input,
    events::{EventLog, Subject},
    sessions::end_sessions,
    validate_device_name,
};

/// A device's trust as it stands now: stored trust that has expired reads as none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceTrust {
    pub status: DeviceStatus,
    pub is_trusted: bool,
    pub level: TrustLevel,
    pub trusted_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub fn device_trust(device: &device::Model, now: DateTime<Utc>) -> DeviceTrust {
    let trusted = device.status == DeviceStatus::Verified
        && device.trust_expires_at.is_none_or(|expiry| expiry > now);
    if trusted {
        DeviceTrust {
            status: DeviceStatus::Verified,
            is_trusted: true,
            level: device.trust_level.unwrap_or(TrustLevel::Unknown),
            trusted_at: device.trusted_at,
            expires_at: device.trust_expires_at,
        }
    } else {
        DeviceTrust {
            status: match device.status {
                DeviceStatus::Hijacked => DeviceStatus::Hijacked,
                _ => DeviceStatus::Unverified,
            },
            is_trusted: false,
            level: TrustLevel::Unknown,
            trusted_at: None,
            expires_at: None,
        }
    }
}

#[derive(Debug)]
pub struct ForgottenDevice {
    pub device_id: Uuid,
    pub ended_sessions: usize,
}

const HIJACKED: ServiceError =
    ServiceError::DeviceBlocked("this device was marked as hijacked; its trust cannot change");

impl Services {
    /// The caller's devices, most recently seen first.
    pub async fn devices(&self, actor: &Actor) -> ServiceResult<Vec<device::Model>> {
        Ok(own_devices(actor)
            .order_by_desc(device::Column::LastSeenAt)
            .order_by_desc(device::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// One of the caller's devices; `None` when missing, forgotten or someone else's.
    pub async fn device(&self, actor: &Actor, id: Uuid) -> ServiceResult<Option<device::Model>> {
        Ok(own_devices(actor)
            .filter(device::Column::Id.eq(id))
            .one(&self.db)
            .await?)
    }

    /// Devices by id for the caller, forgotten ones included: a session's history still
    /// names the device it ran on.
    pub async fn devices_by_id(
        &self,
        actor: &Actor,
        ids: &[Uuid],
    ) -> ServiceResult<Vec<device::Model>> {
        Ok(device::Entity::find()
            .filter(device::Column::UserId.eq(actor.user_id.as_str()))
            .filter(device::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?)
    }

    /// Sensitive device actions need a session that signed in recently, or one on a device
    /// the user trusts: a stolen long-lived session should not be able to vouch for devices.
    async fn require_recent_sign_in(&self, actor: &Actor) -> ServiceResult<()> {
        let now = self.now();
        let session = self.current_session(actor).await?;
        if now - session.started_at <= self.rules.reauth_window {
            return Ok(());
        }
        let own_device = self.device(actor, actor.device_id).await?;
        match own_device {
            Some(device) if device_trust(&device, now).is_trusted => Ok(()),
            _ => Err(ServiceError::ReauthRequired),
        }
    }

    /// Reads one of the caller's devices inside `txn`, locked until it commits, so the
    /// checks made on it (hijacked or not) still hold when the change is written.
    async fn lock_own_device(
        &self,
        txn: &DatabaseTransaction,
        actor: &Actor,
        id: Uuid,
    ) -> ServiceResult<device::Model> {
        own_devices(actor)
            .filter(device::Column::Id.eq(id))
            .lock_exclusive()
            .one(txn)
            .await?
            .ok_or(ServiceError::NotFound("device"))
    }

    /// Trusts a device at `level` until `expires_at`, or for the configured trust duration.
    pub async fn trust_device(
        &self,
        actor: &Actor,
        id: Uuid,
        level: TrustLevel,
        expires_at: Option<DateTime<Utc>>,
    ) -> ServiceResult<device::Model> {
        let now = self.now();
        let expires_at = expires_at.unwrap_or(now + self.rules.trust_duration);
        if expires_at <= now {
            return Err(bad_input("expiresAt must be in the future"));
        }
        self.require_recent_sign_in(actor).await?;
        let detail = json!({ "level": level.to_value(), "expiresAt": expires_at });
        self.change_device(
            actor,
            id,
            EventKind::DeviceTrusted,
            Some(detail),
            |device| {
                if device.status == DeviceStatus::Hijacked {
                    return Err(HIJACKED);
                }
                let mut update = device.into_active_model();
                update.status = Set(DeviceStatus::Verified);
                update.trust_level = Set(Some(level));
                update.trusted_at = Set(Some(now));
                update.trust_expires_at = Set(Some(expires_at));
                Ok(update)
            },
        )
        .await
    }

    pub async fn untrust_device(&self, actor: &Actor, id: Uuid) -> ServiceResult<device::Model> {
        self.require_recent_sign_in(actor).await?;
        self.change_device(actor, id, EventKind::DeviceUntrusted, None, |device| {
            if device.status == DeviceStatus::Hijacked {
                return Err(HIJACKED);
            }
            Ok(without_trust(device.into_active_model()))
        })
        .await
    }

    pub async fn rename_device(
        &self,
        actor: &Actor,
        id: Uuid,
        name: &str,
    ) -> ServiceResult<device::Model> {
        let name = validate_device_name(name)?;
        let detail = json!({ "to": name });
        self.change_device(
            actor,
            id,
            EventKind::DeviceRenamed,
            Some(detail),
            |device| {
                let mut update = device.into_active_model();
                update.name = Set(name);
                Ok(update)
            },
        )
        .await
    }

    /// Applies `change` to one of the caller's devices and records `kind`, in one transaction.
    async fn change_device(
        &self,
        actor: &Actor,
        id: Uuid,
        kind: EventKind,
        detail: Option<serde_json::Value>,
        change: impl FnOnce(device::Model) -> ServiceResult<device::ActiveModel>,
    ) -> ServiceResult<device::Model> {
        let txn = self.begin_write().await?;
        let update = change(self.lock_own_device(&txn, actor, id).await?)?;
        let device = update.update(&txn).await?;
        let mut log = EventLog::by_actor(actor, self.now());
        log.record(
            &actor.user_id,
            kind,
            Subject {
                device_id: Some(device.id),
                detail,
                ..Subject::default()
            },
        );
        log.commit(txn, &self.events).await?;
        Ok(device)
    }

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
        let now = self.now();
        let txn = self.begin_write().await?;
        let device = self.lock_own_device(&txn, actor, id).await?;
        if device.status == DeviceStatus::Hijacked {
            return Ok(device);
        }
        let mut log = EventLog::by_actor(actor, now);
        let mut update = without_trust(device.into_active_model());
        update.status = Set(DeviceStatus::Hijacked);
        let device = update.update(&txn).await?;
        end_sessions(
            &txn,
            &mut log,
            live_sessions_of(device.id, now),
            EndReason::DeviceHijacked,
            Expr::value(now),
        )
        .await?;
        log.record(
            &actor.user_id,
            EventKind::DeviceHijacked,
            Subject {
                device_id: Some(device.id),
                ..Subject::default()
            },
        );
        log.commit(txn, &self.events).await?;
        Ok(device)
    }

    /// Ends a device's sessions and removes it from the user's devices. Its row stays,
    /// without its token, so session history keeps naming it.
    pub async fn forget_device(&self, actor: &Actor, id: Uuid) -> ServiceResult<ForgottenDevice> {
        let now = self.now();
        let txn = self.begin_write().await?;
        let device = self.lock_own_device(&txn, actor, id).await?;
        let mut log = EventLog::by_actor(actor, now);
        let ended = end_sessions(
            &txn,
            &mut log,
            live_sessions_of(device.id, now),
            EndReason::DeviceForgotten,
            Expr::value(now),
        )
        .await?;
        let mut update = device.into_active_model();
        update.forgotten_at = Set(Some(now));
        update.token_hash = Set(None);
        let device = update.update(&txn).await?;
        log.record(
            &actor.user_id,
            EventKind::DeviceForgotten,
            Subject {
                device_id: Some(device.id),
                ..Subject::default()
            },
        );
        log.commit(txn, &self.events).await?;
        Ok(ForgottenDevice {
            device_id: device.id,
            ended_sessions: ended.len(),
        })
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
        let scope = Condition::all().add(session::Column::DeviceId.eq(device_id));
        self.end_sessions_for(actor, scope, EndReason::DeviceSignedOut)
            .await
    }
}

/// The caller's devices, forgotten ones excluded: the only devices the API lets anyone
/// see or change, so another user's look exactly like missing ones.
fn own_devices(actor: &Actor) -> Select<device::Entity> {
    device::Entity::find()
        .filter(device::Column::UserId.eq(actor.user_id.as_str()))
        .filter(device::Column::ForgottenAt.is_null())
}

fn without_trust(mut device: device::ActiveModel) -> device::ActiveModel {
    device.status = Set(DeviceStatus::Unverified);
    device.trust_level = Set(None);
    device.trusted_at = Set(None);
    device.trust_expires_at = Set(None);
    device
}

fn live_sessions_of(device_id: Uuid, now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(session::Column::DeviceId.eq(device_id))
        .add(session::Column::EndedAt.is_null())
        .add(session::Column::ExpiresAt.gt(now))
}
