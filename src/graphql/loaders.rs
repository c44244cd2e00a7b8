//! Batch loading, so a list of sessions asks for their devices in one query instead of one
//! each. Loaders are made per request for its actor, so nothing is shared across users.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{device, session};
use uuid::Uuid;

use super::ApiResult;
use crate::service::{Actor, Services};

/// The loaders of one request.
pub struct Loaders {
    pub devices: DataLoader<DeviceLoader>,
    pub sessions: DataLoader<SessionLoader>,
    pub device_sessions: DataLoader<DeviceSessionsLoader>,
}

impl Loaders {
    pub fn new(services: &Services, actor: &Actor) -> Self {
        Self {
            devices: DataLoader::new(
                DeviceLoader {
                    services: services.clone(),
                    actor: actor.clone(),
                },
                tokio::spawn,
            ),
            sessions: DataLoader::new(
                SessionLoader {
                    services: services.clone(),
                    actor: actor.clone(),
                },
                tokio::spawn,
            ),
            device_sessions: DataLoader::new(
                DeviceSessionsLoader {
                    services: services.clone(),
                    actor: actor.clone(),
                },
                tokio::spawn,
            ),
        }
    }
}

pub struct DeviceLoader {
    services: Services,
    actor: Actor,
}

impl Loader<Uuid> for DeviceLoader {
    type Value = device::Model;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let devices = self.services.devices_by_id(&self.actor, ids).await.api()?;
        Ok(devices.into_iter().map(|d| (d.id, d)).collect())
    }
}

pub struct SessionLoader {
    services: Services,
    actor: Actor,
}

impl Loader<Uuid> for SessionLoader {
    type Value = session::Model;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let sessions = self.services.sessions_by_id(&self.actor, ids).await.api()?;
        Ok(sessions.into_iter().map(|s| (s.id, s)).collect())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceSessionsKey {
    pub device_id: Uuid,
    pub include_ended: bool,
}

pub struct DeviceSessionsLoader {
    services: Services,
    actor: Actor,
}

impl Loader<DeviceSessionsKey> for DeviceSessionsLoader {
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
