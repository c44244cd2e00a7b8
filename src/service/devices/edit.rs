//! Changes a user makes to a device that leave its sessions running: trust, untrust, rename.

use chrono::{DateTime, Utc};
use entity::{
    account_event::EventKind,
    device::{self, DeviceStatus, TrustLevel},
};
use sea_orm::{ActiveEnum, ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
use serde_json::json;
use uuid::Uuid;

use super::lock_own_device;
use crate::service::{
    Actor, ServiceError, ServiceResult, Services,
    outbox::{EventLog, Subject},
    validate,
};

const HIJACKED: ServiceError =
    ServiceError::DeviceBlocked("this device was marked as hijacked; its trust cannot change");

impl Services {
    /// Trusts a device at `level` until `expires_at`, or for the configured trust duration.
    pub async fn trust_device(
        &self,
        actor: &Actor,
        id: Uuid,
        level: TrustLevel,
        expires_at: Option<DateTime<Utc>>,
    ) -> ServiceResult<device::Model> {
        let now = self.now();
        let expires_at = validate::trust_expiry(
            expires_at.unwrap_or(now + self.rules.trust_duration),
            now,
            self.rules.max_trust_duration,
        )?;
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

    /// Removes a device's trust.
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

    /// Gives a device a name the user chooses.
    pub async fn rename_device(
        &self,
        actor: &Actor,
        id: Uuid,
        name: &str,
    ) -> ServiceResult<device::Model> {
        let name = validate::device_name(name)?;
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
        let update = change(lock_own_device(&txn, actor.account(), id).await?)?;
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
        self.commit(log, txn).await?;
        Ok(device)
    }
}

/// The device as never trusted: unverified, no level, no dates.
pub(super) fn without_trust(mut device: device::ActiveModel) -> device::ActiveModel {
    device.status = Set(DeviceStatus::Unverified);
    device.trust_level = Set(None);
    device.trusted_at = Set(None);
    device.trust_expires_at = Set(None);
    device
}
