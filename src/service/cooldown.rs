//! The new-device cool-down: a session on a device the account has not confirmed yet
//! cannot, for a while, end what was there before its device.
//!
//! Whoever learns a user's password can sign in on a new device; without this, that
//! fresh session could at once revoke the user's sessions, sign out or forget their devices,
//! or flag them hijacked. Telegram and WhatsApp refuse the same: a session younger than a
//! day cannot terminate older ones. The cool-down belongs to the device, not the session,
//! so signing in again on the same new device does not restart it, and it lifts early when
//! the account confirms the device ("was this you?", answered from a recognised device) or
//! when the sign-in itself was multi-factor (the identity token's `amr` has `mfa`,
//! RFC 8176). Devices the account already recognises never cool down.

use chrono::{DateTime, Utc};
use entity::{
    device::{self, SignInCheck},
    session,
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use super::{Actor, ServiceError, ServiceResult, Services, sessions::is_live};

/// The `amr` value (RFC 8176) saying the sign-in used more than one factor.
const MULTI_FACTOR: &str = "mfa";

/// What a change would end, to be checked against the caller's cool-down.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ending {
    /// One session of the account.
    Session(Uuid),
    /// Every other active session of the account.
    OtherSessions,
    /// A device: its sessions, and for hijack and forget the device itself.
    Device(Uuid),
}

/// The caller's device, while it cools down.
struct CoolingDown {
    /// When the device was first seen: what is older than this is out of reach.
    since: DateTime<Utc>,
    /// When the cool-down ends.
    until: DateTime<Utc>,
}

impl Services {
    /// Refuses (`SESSION_TOO_NEW`) when `actor`'s device cools down and `ending` reaches a
    /// session or device the account had before that device.
    pub(super) async fn check_cooldown(&self, actor: &Actor, ending: Ending) -> ServiceResult<()> {
        let Some(cooling) = self.cooling_down(actor).await? else {
            return Ok(());
        };
        let older_devices = device::Entity::find()
            .select_only()
            .column(device::Column::Id)
            .filter(device::Column::UserId.eq(actor.user_id.as_str()))
            .filter(device::Column::CreatedAt.lt(cooling.since))
            .into_query();
        let reaches_older = match ending {
            Ending::Device(id) => {
                id != actor.device_id
                    && device::Entity::find()
                        .filter(device::Column::UserId.eq(actor.user_id.as_str()))
                        .filter(device::Column::Id.eq(id))
                        .filter(device::Column::CreatedAt.lt(cooling.since))
                        .count(&self.db)
                        .await?
                        > 0
            }
            Ending::Session(id) => {
                self.count_live(
                    Condition::all()
                        .add(session::Column::Id.eq(id))
                        .add(session::Column::UserId.eq(actor.user_id.as_str()))
                        .add(session::Column::DeviceId.in_subquery(older_devices)),
                )
                .await?
                    > 0
            }
            Ending::OtherSessions => {
                self.count_live(
                    Condition::all()
                        .add(session::Column::UserId.eq(actor.user_id.as_str()))
                        .add(session::Column::DeviceId.in_subquery(older_devices)),
                )
                .await?
                    > 0
            }
        };
        if reaches_older {
            return Err(ServiceError::SessionTooNew {
                allowed_at: cooling.until,
            });
        }
        Ok(())
    }

    /// The caller's device's cool-down, unless it is over, lifted, or off.
    async fn cooling_down(&self, actor: &Actor) -> ServiceResult<Option<CoolingDown>> {
        if self.rules.new_device_cooldown.is_zero() {
            return Ok(None);
        }
        let Some(device) = self.device(actor, actor.device_id).await? else {
            return Err(ServiceError::SessionEnded);
        };
        let until = device.created_at + self.rules.new_device_cooldown;
        if device.sign_in_check != Some(SignInCheck::Unconfirmed) || self.now() >= until {
            return Ok(None);
        }
        let session = self.current_session(actor).await?;
        let multi_factor = session
            .login_method
            .as_deref()
            .is_some_and(|method| method.split('+').any(|amr| amr == MULTI_FACTOR));
        Ok((!multi_factor).then_some(CoolingDown {
            since: device.created_at,
            until,
        }))
    }

    async fn count_live(&self, scope: Condition) -> ServiceResult<u64> {
        Ok(session::Entity::find()
            .filter(scope)
            .filter(is_live(self.now()))
            .count(&self.db)
            .await?)
    }
}
