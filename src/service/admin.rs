//! What an operator may do through the admin API, with a key of their own (never a user's
//! token): read any account, end its sessions, flag its devices hijacked. Each change is
//! the user's account event too, marked as an administrator's, so it shows in their
//! security log and is pushed to their sessions like any other.

use entity::{
    device::{self, DeviceStatus},
    session::{self, EndReason},
};
use sea_orm::{ColumnTrait, Condition, IntoActiveModel, sea_query::Expr};
use uuid::Uuid;

use super::{
    ServiceError, ServiceResult, Services, Viewer, bad_input,
    devices::{flag_hijacked, lock_own_device},
    outbox::EventLog,
    sessions::{end_sessions, is_live},
};
use crate::tokens::is_valid_user_id;

/// An operator, proven by one of the configured admin keys. Its changes are recorded in
/// the user's security log as the administrator's, without the operator's address: that
/// is not the user's, and it belongs in the operator's own request log.
#[derive(Debug, Clone)]
pub struct Administrator {
    /// Which key: the first 8 hex digits of its SHA-256.
    pub key_id: String,
}

impl Services {
    /// The administrator `key` proves; UNAUTHENTICATED for anything but a configured key.
    pub fn authenticate_admin(&self, key: &str) -> ServiceResult<Administrator> {
        let key_id = self.tokens.verify_admin_key(key).ok_or_else(|| {
            ServiceError::Unauthenticated("the admin API needs one of the operator keys".into())
        })?;
        Ok(Administrator { key_id })
    }

    /// How an administrator sees `user_id`'s account, to hand to the same reads the
    /// user's API makes: nothing in it is the administrator's own.
    pub fn administrator_view(&self, user_id: &str) -> ServiceResult<Viewer> {
        if !is_valid_user_id(user_id) {
            return Err(bad_input(
                "a user id is 1 to 255 bytes without control characters",
            ));
        }
        Ok(Viewer::Administrator {
            user_id: user_id.into(),
        })
    }

    /// Ends `user_id`'s active sessions, or only `session_id` of them (ADMIN_REVOKED), e.g.
    /// after a password change or an account lock. Returns the sessions it ended.
    pub async fn admin_end_sessions(
        &self,
        admin: &Administrator,
        user_id: &str,
        session_id: Option<Uuid>,
    ) -> ServiceResult<Vec<session::Model>> {
        let view = self.administrator_view(user_id)?;
        let now = self.now();
        let mut scope = Condition::all()
            .add(session::Column::UserId.eq(view.account().user_id()))
            .add(is_live(now));
        if let Some(id) = session_id {
            scope = scope.add(session::Column::Id.eq(id));
        }
        let txn = self.begin_write().await?;
        let mut log = EventLog::by_admin(&admin.key_id, now);
        let ended = end_sessions(
            &txn,
            &mut log,
            scope,
            EndReason::AdminRevoked,
            Expr::value(now),
        )
        .await?;
        self.commit(log, txn).await?;
        Ok(ended)
    }

    /// Flags one of `user_id`'s devices hijacked, as the user could: its sessions end and
    /// its token can never sign in again. Flagging it twice changes nothing.
    pub async fn admin_mark_device_hijacked(
        &self,
        admin: &Administrator,
        user_id: &str,
        device_id: Uuid,
    ) -> ServiceResult<device::Model> {
        let view = self.administrator_view(user_id)?;
        let now = self.now();
        let txn = self.begin_write().await?;
        let device = lock_own_device(&txn, view.account(), device_id).await?;
        if device.status == DeviceStatus::Hijacked {
            return Ok(device);
        }
        let mut log = EventLog::by_admin(&admin.key_id, now);
        let device = flag_hijacked(&txn, &mut log, device.into_active_model(), now).await?;
        self.commit(log, txn).await?;
        Ok(device)
    }
}
