//! The query root: the caller's devices, sessions and security log.

use async_graphql::{Context, ID, MergedObject, Object, Result};

use super::{
    ApiResult, ContextExt,
    model::{Device, Session},
    new_sign_ins::NewSignInQuery,
    parse_id,
    security_log::SecurityLogQuery,
};
use crate::service::max_listed_ended_sessions;

#[derive(MergedObject, Default)]
pub struct Query(DeviceQuery, SessionQuery, SecurityLogQuery, NewSignInQuery);

#[derive(Default)]
pub struct DeviceQuery;

#[Object]
impl DeviceQuery {
    /// The caller's devices, most recently seen first.
    #[graphql(complexity = "super::cost::devices(child_complexity)")]
    async fn devices(&self, ctx: &Context<'_>) -> Result<Vec<Device>> {
        let actor = ctx.actor()?;
        let devices = ctx.services().devices(actor.account()).await.api()?;
        Ok(devices
            .into_iter()
            .map(|row| Device::new(row, actor))
            .collect())
    }

    /// One of the caller's devices; null when it does not exist or belongs to someone else.
    async fn device(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The device's id.")] id: ID,
    ) -> Result<Option<Device>> {
        let id = parse_id(&id)?;
        let actor = ctx.actor()?;
        let device = ctx.services().device(actor, id).await.api()?;
        Ok(device.map(|row| Device::new(row, actor)))
    }

    /// The device of the session making the request.
    async fn current_device(&self, ctx: &Context<'_>) -> Result<Device> {
        let actor = ctx.actor_allowing_pending()?;
        let device = ctx.services().device(actor, actor.device_id).await.api()?;
        device
            .map(|row| Device::new(row, actor))
            .ok_or_else(|| super::internal_error("the current session's device is missing"))
    }
}

#[derive(Default)]
pub struct SessionQuery;

#[Object]
impl SessionQuery {
    /// The caller's sessions, most recent activity first; active ones only unless
    #[doc = concat!("includeEnded, and then only the ", max_listed_ended_sessions!(), " most recently active ended ones (the security log")]
    /// goes further back).
    #[graphql(complexity = "super::cost::sessions(include_ended, child_complexity)?")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "Some(false)",
            desc = "Also list sessions that have ended."
        )]
        include_ended: Option<bool>,
    ) -> Result<Vec<Session>> {
        let include_ended = include_ended.unwrap_or(false);
        let actor = ctx.actor()?;
        let sessions = ctx
            .services()
            .sessions(actor.account(), include_ended)
            .await
            .api()?;
        Ok(Session::list(sessions, actor))
    }

    /// One of the caller's sessions, ended or not; null when it does not exist or belongs
    /// to someone else.
    async fn session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session's id.")] id: ID,
    ) -> Result<Option<Session>> {
        let id = parse_id(&id)?;
        let actor = ctx.actor()?;
        let session = ctx.services().session(actor, id).await.api()?;
        Ok(session.map(|row| Session::new(row, actor)))
    }

    /// The session making the request.
    async fn current_session(&self, ctx: &Context<'_>) -> Result<Session> {
        let actor = ctx.actor_allowing_pending()?;
        let session = ctx.services().current_session(actor).await.api()?;
        Ok(Session::new(session, actor))
    }
}
