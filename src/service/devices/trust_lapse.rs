//! Trust that runs out: trust past its `trust_expires_at` already reads as none (see
//! [`super::device_trust`]); the sweep also records the lapse, so the user's security log
//! and live subscribers hear of it.

use entity::{
    account_event::EventKind,
    device::{self, DeviceStatus},
};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;

use super::edit::without_trust;
use crate::service::{
    ClientInfo, ServiceResult, Services,
    outbox::{EventLog, Subject},
};

/// How many lapsed devices one sweep transaction records; keeps transactions short.
const LAPSE_BATCH: u64 = 500;

impl Services {
    /// Records `DeviceTrustExpired` for every device whose trust has run out, and clears
    /// that trust. Returns how many it recorded.
    pub async fn sweep_lapsed_trust(&self) -> ServiceResult<usize> {
        let mut total = 0;
        loop {
            let now = self.now();
            let txn = self.begin_write().await?;
            let lapsed = device::Entity::find()
                .filter(device::Column::Status.eq(DeviceStatus::Verified))
                .filter(device::Column::TrustExpiresAt.lte(now))
                // In the order of the index walked: see the `retention` module.
                .order_by_asc(device::Column::TrustExpiresAt)
                .limit(LAPSE_BATCH)
                .lock_exclusive()
                .all(&txn)
                .await?;
            let found = lapsed.len();
            let mut log = EventLog::new(None, ClientInfo::default(), now);
            for device in lapsed {
                let expired_at = device.trust_expires_at.unwrap_or(now);
                let detail = json!({ "level": device.trust_level.map(|level| level.to_value()) });
                let device = without_trust(device.into_active_model())
                    .update(&txn)
                    .await?;
                log.record_at(
                    &device.user_id,
                    EventKind::DeviceTrustExpired,
                    Subject {
                        device_id: Some(device.id),
                        detail: Some(detail),
                        ..Subject::default()
                    },
                    expired_at,
                );
            }
            self.commit(log, txn).await?;
            total += found;
            if (found as u64) < LAPSE_BATCH {
                return Ok(total);
            }
        }
    }
}
