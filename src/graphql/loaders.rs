//! Batch loading, so a list of sessions asks for their devices in one query instead of one
//! each. Loaders are made per request (per connection for subscriptions) for the account
//! its token proves, so nothing is shared across users; they keep no cache, so a
//! connection's later events read fresh rows. What is kept in memory is the service's
//! (`service::caches`): a device's active sessions come from the account's list there
//! while it is current, before any batch is made. An administrator's request reads whichever
//! accounts it names, each through loaders of its own.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex},
};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{device, session};
use uuid::Uuid;

use super::ApiResult;
use crate::service::{Requester, Services};

/// One of the account's devices, forgotten ones included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceId(pub Uuid);

/// One of the account's sessions, ended ones included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionId(pub Uuid);

/// The sessions of one of the account's devices, as `Device.sessions` lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceSessionsKey {
    pub device_id: Uuid,
    pub include_ended: bool,
}

/// The batch loaders of one request.
pub enum Loaders {
    /// A user's request: the one account its token proves, and no other.
    Account(Arc<AccountLoader>),
    /// An administrator's request: one loader per account it reads, made on first use.
    Administrator(Box<LoadersByAccount>),
}

/// An administrator's loaders, by the account they read.
pub struct LoadersByAccount {
    services: Services,
    accounts: Mutex<HashMap<String, Arc<AccountLoader>>>,
}

impl Loaders {
    /// Loaders for `requester`'s account; `None` for an anonymous request, which can read
    /// no rows at all.
    pub fn for_requester(services: &Services, requester: &Requester) -> Option<Self> {
        let user_id = requester.user_id()?;
        Some(Self::Account(Arc::new(AccountLoader::new(
            services, user_id,
        ))))
    }

    /// Loaders for an administrator's request, which may read any account.
    pub fn for_administrator(services: &Services) -> Self {
        Self::Administrator(Box::new(LoadersByAccount {
            services: services.clone(),
            accounts: Mutex::new(HashMap::new()),
        }))
    }

    /// The loader of `user_id`'s rows. A user's request has only its own account's:
    /// asking for another's is refused, never answered.
    pub fn of(&self, user_id: &str) -> Option<Arc<AccountLoader>> {
        match self {
            Self::Account(loader) => (loader.user_id() == user_id).then(|| loader.clone()),
            Self::Administrator(by_account) => Some(
                by_account
                    .accounts
                    .lock()
                    .expect("loaders poisoned")
                    .entry(user_id.to_owned())
                    .or_insert_with(|| Arc::new(AccountLoader::new(&by_account.services, user_id)))
                    .clone(),
            ),
        }
    }
}

/// The batch loader of one account: each kind of key is one query per batch, scoped to
/// that account.
pub struct AccountLoader(DataLoader<AccountRows>);

impl AccountLoader {
    fn new(services: &Services, user_id: &str) -> Self {
        let rows = AccountRows {
            services: services.clone(),
            user_id: user_id.to_owned(),
        };
        Self(DataLoader::new(rows, tokio::spawn))
    }

    fn user_id(&self) -> &str {
        &self.0.loader().user_id
    }

    /// What `key` names, batched with the other keys of its kind asked for meanwhile.
    pub async fn load<K>(
        &self,
        key: K,
    ) -> async_graphql::Result<Option<<AccountRows as Loader<K>>::Value>>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        AccountRows: Loader<K, Error = async_graphql::Error>,
    {
        self.0.load_one(key).await
    }

    /// A device's sessions: its active ones straight from the service's memory while the
    /// account's list there is current, else batched with the other devices' like any
    /// key. Asked before batching because a batch costs a spawned task and a 1 ms wait
    /// (docs/performance.md); what is current is the service's to say.
    pub async fn device_sessions(
        &self,
        key: DeviceSessionsKey,
    ) -> async_graphql::Result<Vec<session::Model>> {
        let rows = self.0.loader();
        if !key.include_ended
            && let Some(sessions) = rows
                .services
                .remembered_live_sessions_of_device(&rows.user_id, key.device_id)
        {
            return Ok(sessions);
        }
        Ok(self.load(key).await?.unwrap_or_default())
    }
}

/// The rows of one account.
pub struct AccountRows {
    services: Services,
    user_id: String,
}

/// Rows keyed by their id.
fn by_id<K: Hash + Eq, M>(rows: Vec<M>, key: impl Fn(&M) -> K) -> HashMap<K, M> {
    rows.into_iter().map(|row| (key(&row), row)).collect()
}

impl Loader<DeviceId> for AccountRows {
    type Value = device::Model;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[DeviceId]) -> Result<HashMap<DeviceId, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = ids.iter().map(|DeviceId(id)| *id).collect();
        let devices = self
            .services
            .devices_by_id(&self.user_id, &ids)
            .await
            .api()?;
        Ok(by_id(devices, |device| DeviceId(device.id)))
    }
}

impl Loader<SessionId> for AccountRows {
    type Value = session::Model;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        ids: &[SessionId],
    ) -> Result<HashMap<SessionId, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = ids.iter().map(|SessionId(id)| *id).collect();
        let sessions = self
            .services
            .sessions_by_id(&self.user_id, &ids)
            .await
            .api()?;
        Ok(by_id(sessions, |session| SessionId(session.id)))
    }
}

impl Loader<DeviceSessionsKey> for AccountRows {
    type Value = Vec<session::Model>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[DeviceSessionsKey],
    ) -> Result<HashMap<DeviceSessionsKey, Self::Value>, Self::Error> {
        let mut found = HashMap::new();
        for include_ended in [false, true] {
            let device_ids: Vec<Uuid> = keys
                .iter()
                .filter(|key| key.include_ended == include_ended)
                .map(|key| key.device_id)
                .collect();
            if device_ids.is_empty() {
                continue;
            }
            let sessions = self
                .services
                .sessions_of_devices(&self.user_id, &device_ids, include_ended)
                .await
                .api()?;
            for device_id in device_ids {
                found.insert(
                    DeviceSessionsKey {
                        device_id,
                        include_ended,
                    },
                    Vec::new(),
                );
            }
            // Sessions arrive ordered by activity; pushing keeps that order per device.
            for session in sessions {
                let key = DeviceSessionsKey {
                    device_id: session.device_id,
                    include_ended,
                };
                found.entry(key).or_insert_with(Vec::new).push(session);
            }
        }
        Ok(found)
    }
}
