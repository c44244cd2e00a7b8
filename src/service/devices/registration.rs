//! Devices as a sign-in meets them: recognised by their device token, or registered anew
//! with a fresh one. The whole life of a device token is here: made, hashed, matched, and
//! voided when the device is forgotten.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use entity::{
    account_event::EventKind,
    device::{self, DeviceStatus},
};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QuerySelect,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::service::{
    ClientInfo, ServiceError, ServiceResult,
    new_sign_ins::Question,
    outbox::{EventLog, Subject},
    user_agent,
};

/// What a sign-in says about the device it comes from. Validated already.
pub(in crate::service) struct Sighting<'a> {
    /// The device token the client presented, if any.
    pub token: Option<String>,
    /// A name the user chose; a new device is otherwise named after its user agent.
    pub name: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub user_agent: Option<String>,
    pub client: &'a ClientInfo,
}

/// The device a sign-in is on, and the token that names it from now on.
pub(in crate::service) struct SignInDevice {
    pub device: device::Model,
    pub token: String,
}

/// The device `seen.token` names when it is `user_id`'s, locked until `txn` ends; `None`
/// for no token, an unknown one or another user's. A hijacked device's token is refused.
pub(in crate::service) async fn known_device(
    txn: &DatabaseTransaction,
    user_id: &str,
    seen: &Sighting<'_>,
) -> ServiceResult<Option<device::Model>> {
    let known = match &seen.token {
        Some(token) => {
            device::Entity::find()
                .filter(device::Column::TokenHash.eq(hash(token)))
                .lock_exclusive()
                .one(txn)
                .await?
        }
        None => None,
    };
    if known
        .as_ref()
        .is_some_and(|device| device.status == DeviceStatus::Hijacked)
    {
        return Err(ServiceError::DeviceBlocked(
            "this device was marked as hijacked and can no longer sign in",
        ));
    }
    // Another user's token must never attach to their device: treat it as unknown.
    Ok(known.filter(|device| device.user_id == user_id))
}

/// The sign-in's device: `known` refreshed with what this sign-in says, or else a new one
/// with a new token; put to the account when `question` says so, in the same write.
pub(in crate::service) async fn sign_in_device(
    txn: &DatabaseTransaction,
    log: &mut EventLog,
    user_id: &str,
    known: Option<device::Model>,
    seen: Sighting<'_>,
    question: Option<&Question>,
) -> ServiceResult<SignInDevice> {
    let now = log.now();
    let Some(existing) = known else {
        return register(txn, log, user_id, seen, question, now).await;
    };
    let mut update = existing.into_active_model();
    if let Some(name) = seen.name.clone() {
        update.name = Set(name);
    }
    if seen.metadata.is_some() {
        update.metadata = Set(seen.metadata.clone());
    }
    if let Some(question) = question {
        question.mark(&mut update);
    }
    describe(&mut update, &seen, now);
    let token = seen.token.expect("a known device was found by its token");
    let device = update.update(txn).await?;
    Ok(SignInDevice { device, token })
}

/// A new, unverified device with a fresh token; recorded as `DeviceAdded`.
async fn register(
    txn: &DatabaseTransaction,
    log: &mut EventLog,
    user_id: &str,
    seen: Sighting<'_>,
    question: Option<&Question>,
    now: DateTime<Utc>,
) -> ServiceResult<SignInDevice> {
    let token = new_token();
    let mut device = device::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id.to_owned()),
        token_hash: Set(Some(hash(&token))),
        status: Set(DeviceStatus::Unverified),
        trust_level: Set(None),
        trusted_at: Set(None),
        trust_expires_at: Set(None),
        metadata: Set(seen.metadata.clone()),
        created_at: Set(now),
        forgotten_at: Set(None),
        sign_in_check: Set(None),
        sign_in_session_id: Set(None),
        sign_in_checked_at: Set(None),
        confirm_by: Set(None),
        ..Default::default()
    };
    if let Some(question) = question {
        question.mark(&mut device);
    }
    let default_name = describe(&mut device, &seen, now);
    device.name = Set(seen.name.unwrap_or(default_name));
    let device = device.insert(txn).await?;
    log.record(
        user_id,
        EventKind::DeviceAdded,
        Subject {
            device_id: Some(device.id),
            ..Subject::default()
        },
    );
    Ok(SignInDevice { device, token })
}

/// Writes what the user agent and the client's address say about the device, seen `now`.
/// Returns the name the user agent suggests ("Chrome on macOS").
fn describe(device: &mut device::ActiveModel, seen: &Sighting<'_>, now: DateTime<Utc>) -> String {
    let parsed = user_agent::parse(seen.user_agent.as_deref());
    device.device_type = Set(parsed.device_type);
    device.browser_name = Set(parsed.browser_name);
    device.browser_version = Set(parsed.browser_version);
    device.os_name = Set(parsed.os_name);
    device.os_version = Set(parsed.os_version);
    device.user_agent = Set(seen.user_agent.clone());
    device.ip_address = Set(seen.client.ip_address.clone());
    device.country = Set(seen.client.country.clone());
    device.city = Set(seen.client.city.clone());
    device.last_seen_at = Set(now);
    parsed.display_name
}

/// Voids the device's token: signing in with it again registers a new device.
pub(super) fn void_token(device: &mut device::ActiveModel) {
    device.token_hash = Set(None);
}

/// Only the hash is stored: a database leak gives no one a device token.
fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A fresh device token: 256 bits from the operating system's CSPRNG.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
