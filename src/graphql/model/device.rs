use async_graphql::{Context, ID, Json, Object, Result, SimpleObject};
use entity::device;
use uuid::Uuid;

use super::{DeviceStatus, DeviceType, Location, Session, TrustLevel};
use crate::{
    graphql::{ContextExt, loaders::DeviceId, loaders::DeviceSessionsKey, scalars::DateTime},
    service::{self, Viewer, max_listed_ended_sessions},
};

/// A browser or operating system, parsed from the user agent.
#[derive(SimpleObject, Clone, Debug)]
pub struct Software {
    /// Its name, e.g. "Chrome" or "macOS".
    pub name: String,
    /// Its version as the user agent gave it, e.g. "131.0.0.0".
    pub version: Option<String>,
}

impl Software {
    fn from_parts(name: &Option<String>, version: &Option<String>) -> Option<Self> {
        name.as_ref().map(|name| Software {
            name: name.clone(),
            version: version.clone(),
        })
    }
}

/// A browser or app installation the user signs in from, as seen by `viewer`: the session
/// whose request (or subscription) it is, which decides `isCurrent` and what it may load.
pub struct Device {
    row: device::Model,
    viewer: Viewer,
}

impl Device {
    pub fn new(row: device::Model, viewer: impl Into<Viewer>) -> Self {
        Self {
            row,
            viewer: viewer.into(),
        }
    }

    /// One of `viewer`'s devices by id, forgotten ones included, batched with the other
    /// devices the request asks for.
    pub async fn load(ctx: &Context<'_>, viewer: &Viewer, id: Uuid) -> Result<Option<Self>> {
        let row = Self::load_row(ctx, viewer, id).await?;
        Ok(row.map(|row| Self::new(row, viewer)))
    }

    /// The row of one of `viewer`'s devices, through the request's loaders.
    pub async fn load_row(
        ctx: &Context<'_>,
        viewer: &Viewer,
        id: Uuid,
    ) -> Result<Option<device::Model>> {
        ctx.loaders(viewer.account().user_id())?
            .load(DeviceId(id))
            .await
    }

    fn trust(&self, ctx: &Context<'_>) -> service::DeviceTrust {
        service::device_trust(&self.row, ctx.services().now())
    }
}

#[Object]
impl Device {
    /// Unique identifier (UUID).
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// A name the user recognises: given by the user, or derived from the user agent
    /// ("Chrome on macOS").
    async fn name(&self) -> &str {
        &self.row.name
    }

    /// Desktop, mobile or tablet, from the user agent.
    #[graphql(name = "type")]
    async fn device_type(&self) -> DeviceType {
        self.row.device_type.into()
    }

    /// The browser, from the user agent.
    async fn browser(&self) -> Option<Software> {
        Software::from_parts(&self.row.browser_name, &self.row.browser_version)
    }

    /// The operating system, from the user agent.
    async fn os(&self) -> Option<Software> {
        Software::from_parts(&self.row.os_name, &self.row.os_version)
    }

    /// The raw user agent the device last presented.
    async fn user_agent(&self) -> Option<&str> {
        self.row.user_agent.as_deref()
    }

    /// The address the device was last seen from.
    async fn ip_address(&self) -> Option<&str> {
        self.row.ip_address.as_deref()
    }

    /// Where the device was last seen, when a trusted proxy said.
    async fn location(&self) -> Option<Location> {
        Location::from_parts(&self.row.country, &self.row.city)
    }

    /// Trust status as it stands now: expired trust reads as UNVERIFIED.
    async fn status(&self, ctx: &Context<'_>) -> DeviceStatus {
        self.trust(ctx).status.into()
    }

    /// True while the device is trusted and its trust has not expired.
    async fn is_trusted(&self, ctx: &Context<'_>) -> bool {
        self.trust(ctx).is_trusted
    }

    /// How much the device is trusted; UNKNOWN when it is not trusted.
    async fn trust_level(&self, ctx: &Context<'_>) -> TrustLevel {
        self.trust(ctx).level.into()
    }

    /// When the device was trusted; null when it is not trusted.
    async fn trusted_at(&self, ctx: &Context<'_>) -> Option<DateTime> {
        self.trust(ctx).trusted_at.map(DateTime)
    }

    /// When the trust ends; null when the device is not trusted.
    async fn trust_expires_at(&self, ctx: &Context<'_>) -> Option<DateTime> {
        self.trust(ctx).expires_at.map(DateTime)
    }

    /// True for the device of the session making the request.
    async fn is_current(&self) -> bool {
        self.viewer.is_current_device(self.row.id)
    }

    /// When the device first signed in.
    async fn created_at(&self) -> DateTime {
        DateTime(self.row.created_at)
    }

    /// When the device last signed in or sent a heartbeat.
    async fn last_seen_at(&self) -> DateTime {
        DateTime(self.row.last_seen_at)
    }

    /// Free-form JSON object the client attached at sign-in.
    async fn metadata(&self) -> Option<Json<serde_json::Value>> {
        self.row.metadata.clone().map(Json)
    }

    /// The device's sessions, most recent activity first. Ended sessions only when
    #[doc = concat!("includeEnded is true, and then only its ", max_listed_ended_sessions!(), " most recently active ended ones.")]
    #[graphql(complexity = "crate::graphql::cost::sessions(include_ended, child_complexity)?")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "Some(false)",
            desc = "Also list sessions that have ended."
        )]
        include_ended: Option<bool>,
    ) -> Result<Vec<Session>> {
        let key = DeviceSessionsKey {
            device_id: self.row.id,
            include_ended: include_ended.unwrap_or(false),
        };
        let sessions = ctx
            .loaders(self.viewer.account().user_id())?
            .device_sessions(key)
            .await?;
        Ok(Session::list(sessions, &self.viewer))
    }
}
