//! Devices: reading them, what their trust is now, and the changes a user makes to them.
//!
//! Every operation on an existing device loads it through [`own_devices`], which only finds
//! the caller's own, unforgotten devices: nothing here can touch another user's.

mod edit;
mod registration;
mod retire;
mod trust_lapse;

use chrono::{DateTime, Utc};
use entity::{
    device::{self, DeviceStatus, TrustLevel},
    session,
};
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};
use uuid::Uuid;

pub(super) use registration::{Sighting, SignInDevice, known_device, sign_in_device};
pub use retire::ForgottenDevice;
pub(super) use retire::{flag_hijacked, forget};

use super::{Account, Actor, ServiceError, ServiceResult, Services, sessions::is_live};

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

impl Services {
    /// The account's devices, most recently seen first.
    pub async fn devices(&self, account: Account<'_>) -> ServiceResult<Vec<device::Model>> {
        let lists = &self.caches.devices;
        if let Some(devices) = lists.current(&self.events, account.user_id()) {
            return Ok(devices);
        }
        let stamp = self.events.change_stamp(account.user_id());
        let devices = own_devices(account)
            .order_by_desc(device::Column::LastSeenAt)
            .order_by_desc(device::Column::Id)
            .all(&self.db)
            .await?;
        lists.keep(stamp, account.user_id(), &devices);
        Ok(devices)
    }

    /// One of the caller's devices; `None` when missing, forgotten or someone else's.
    pub async fn device(&self, actor: &Actor, id: Uuid) -> ServiceResult<Option<device::Model>> {
        Ok(own_devices(actor.account())
            .filter(device::Column::Id.eq(id))
            .one(&self.db)
            .await?)
    }

    /// Devices of `user_id` (the requester's own account) by id, forgotten ones included:
    /// a session's history still names the device it ran on.
    pub async fn devices_by_id(
        &self,
        user_id: &str,
        ids: &[Uuid],
    ) -> ServiceResult<Vec<device::Model>> {
        if let Some(listed) = self.caches.devices.current(&self.events, user_id) {
            let found: Vec<_> = listed
                .into_iter()
                .filter(|device| ids.contains(&device.id))
                .collect();
            // Forgotten devices are not listed; a session's history may still name one.
            if found.len() == ids.len() {
                return Ok(found);
            }
        }
        Ok(device::Entity::find()
            .filter(device::Column::UserId.eq(user_id))
            .filter(device::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?)
    }

    /// Sensitive device actions need a session that signed in recently, or one on a device
    /// the user trusts: a stolen long-lived session should not be able to vouch for devices.
    pub(super) async fn require_recent_sign_in(&self, actor: &Actor) -> ServiceResult<()> {
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
}

/// The caller's devices, forgotten ones excluded: the only devices the API lets anyone
/// see or change, so another user's look exactly like missing ones.
fn own_devices(account: Account<'_>) -> Select<device::Entity> {
    device::Entity::find()
        .filter(device::Column::UserId.eq(account.user_id()))
        .filter(device::Column::ForgottenAt.is_null())
}

/// Reads one of the account's devices inside `txn`, locked until it commits, so the checks
/// made on it (hijacked or not) still hold when the change is written.
pub(super) async fn lock_own_device(
    txn: &DatabaseTransaction,
    account: Account<'_>,
    id: Uuid,
) -> ServiceResult<device::Model> {
    own_devices(account)
        .filter(device::Column::Id.eq(id))
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or(ServiceError::NotFound("device"))
}

/// The active sessions of one device at `now`.
fn live_sessions_of(device_id: Uuid, now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(session::Column::DeviceId.eq(device_id))
        .add(is_live(now))
}
