//! Batch loading, so a list of sessions asks for their devices in one query instead of one
//! each. Loaders are made per request for its actor, so nothing is shared across users.

use std::{collections::HashMap, hash::Hash};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{device, session};
use uuid::Uuid;

use super::ApiResult;
use crate::service::{Actor, Services};

/// One of the actor's devices, forgotten ones included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceId(pub Uuid);

/// One of the actor's sessions, ended ones included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionId(pub Uuid);

/// The sessions of one of the actor's devices, as `Device.sessions` lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceSessionsKey {
    pub device_id: Uuid,
    pub include_ended: bool,
}

/// The batch loader of one request: each kind of key is one query per batch, scoped to the
/// request's actor.
pub struct Loaders(DataLoader<ActorRows>);

impl Loaders {
    pub fn new(services: &Services, actor: &Actor) -> Self {
        let rows = ActorRows {
            services: services.clone(),
            actor: actor.clone(),
        };
        Self(DataLoader::new(rows, tokio::spawn))
    }

    /// What `key` names, batched with the other keys of its kind asked for meanwhile.
    pub async fn load<K>(
        &self,
        key: K,
    ) -> async_graphql::Result<Option<<ActorRows as Loader<K>>::Value>>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        ActorRows: Loader<K, Error = async_graphql::Error>,
    {
        self.0.load_one(key).await
    }
}

pub struct ActorRows {
    services: Services,
    actor: Actor,
}

/// Rows keyed by their id.
fn by_id<K: Hash + Eq, M>(rows: Vec<M>, key: impl Fn(&M) -> K) -> HashMap<K, M> {
    rows.into_iter().map(|row| (key(&row), row)).collect()
}

impl Loader<DeviceId> for ActorRows {
    type Value = device::Model;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[DeviceId]) -> Result<HashMap<DeviceId, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = ids.iter().map(|DeviceId(id)| *id).collect();
        let devices = self.services.devices_by_id(&self.actor, &ids).await.api()?;
        Ok(by_id(devices, |device| DeviceId(device.id)))
    }
}

impl Loader<SessionId> for ActorRows {
    type Value = session::Model;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        ids: &[SessionId],
    ) -> Result<HashMap<SessionId, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = ids.iter().map(|SessionId(id)| *id).collect();
        let sessions = self
            .services
            .sessions_by_id(&self.actor, &ids)
            .await
            .api()?;
        Ok(by_id(sessions, |session| SessionId(session.id)))
    }
}

impl Loader<DeviceSessionsKey> for ActorRows {
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
                .sessions_of_devices(&self.actor, &device_ids, include_ended)
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
