//! The mutation root: signing in, ending sessions, and changing devices.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Json, MergedObject, Object, Result};
use entity::device;
use futures_util::{FutureExt, future::BoxFuture};
use uuid::Uuid;

use super::{
    ApiResult, ContextExt,
    model::{
        Device, ForgetDevicePayload, RevokeSessionsPayload, Session, StartSessionPayload,
        TrustLevel,
    },
    new_sign_ins::NewSignInMutation,
    parse_id,
    scalars::DateTime,
};
use crate::service::{
    Actor, Requester, ServiceError, ServiceResult, Services, StartSession,
    validate::{max_device_name_chars, max_metadata_kib, max_user_agent_bytes},
};

#[derive(MergedObject, Default)]
pub struct Mutation(SessionMutation, DeviceMutation, NewSignInMutation);

/// How to sign in.
#[derive(InputObject, Default)]
pub struct StartSessionInput {
    /// The device token returned by an earlier startSession on this device; omitted on a
    /// new device.
    pub device_token: Option<String>,
    /// A human-readable name; defaults to one derived from the user agent, e.g.
    #[doc = concat!("\"Chrome on Windows\". At most ", max_device_name_chars!(), " characters.")]
    pub device_name: Option<String>,
    #[doc = concat!("Defaults to the request's User-Agent header. At most ", max_user_agent_bytes!(), " bytes.")]
    pub user_agent: Option<String>,
    #[doc = concat!("A JSON object (at most ", max_metadata_kib!(), " KiB) to keep with the device, e.g. app version.")]
    pub metadata: Option<Json<serde_json::Value>>,
}

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Signs in on a device: authorised by an identity token (Authorization: Bearer), not a
    /// session token.
    async fn start_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The device and how to describe it.")] input: StartSessionInput,
    ) -> Result<StartSessionPayload> {
        let Requester::Identity(identity, client) = ctx.requester() else {
            return Err(ServiceError::Unauthenticated(
                "startSession needs an identity token from your login in the Authorization header"
                    .into(),
            ))
            .api();
        };
        let started = ctx
            .services()
            .start_session(
                identity,
                client,
                StartSession {
                    device_token: input.device_token,
                    device_name: input.device_name,
                    user_agent: input.user_agent,
                    metadata: input.metadata.map(|Json(value)| value),
                },
            )
            .await
            .api()?;
        // The payload is seen by the new session: it is the one the client uses from now on.
        let viewer = Arc::new(Actor {
            user_id: identity.user_id.clone(),
            session_id: started.session.id,
            device_id: started.device.id,
            client: client.clone(),
            pending: started.session.pending_until.is_some(),
        });
        Ok(StartSessionPayload {
            token: started.token,
            device_token: started.device_token,
            session: Session::new(started.session, &viewer),
            device: Device::new(started.device, &viewer),
        })
    }

    /// Records activity on the current session and extends its expiry (bounded by the
    /// absolute lifetime).
    async fn heartbeat(&self, ctx: &Context<'_>) -> Result<Session> {
        let actor = ctx.actor_allowing_pending()?;
        let session = ctx.services().heartbeat(actor).await.api()?;
        Ok(Session::new(session, actor))
    }

    /// Ends one of the caller's sessions. Ending one that already ended returns it unchanged.
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session's id.")] id: ID,
    ) -> Result<Session> {
        let id = parse_id(&id)?;
        let actor = ctx.actor()?;
        let session = ctx.services().revoke_session(actor, id).await.api()?;
        Ok(Session::new(session, actor))
    }

    /// Ends the caller's other active sessions; the current one too when includeCurrent is true.
    async fn revoke_all_sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "Some(false)",
            desc = "Also end the session making this request."
        )]
        include_current: Option<bool>,
    ) -> Result<RevokeSessionsPayload> {
        let actor = ctx.actor()?;
        let ended = ctx
            .services()
            .revoke_all_sessions(actor, include_current.unwrap_or(false))
            .await
            .api()?;
        Ok(RevokeSessionsPayload::new(ended, actor))
    }

    /// Ends the current session.
    async fn sign_out(&self, ctx: &Context<'_>) -> Result<Session> {
        let actor = ctx.actor_allowing_pending()?;
        let session = ctx.services().sign_out(actor).await.api()?;
        Ok(Session::new(session, actor))
    }
}

#[derive(Default)]
pub struct DeviceMutation;

/// One of the caller's devices, `id`, changed by `change`, as the caller sees it afterwards.
async fn change_device(
    ctx: &Context<'_>,
    id: &ID,
    change: impl for<'s> FnOnce(
        &'s Services,
        &'s Actor,
        Uuid,
    ) -> BoxFuture<'s, ServiceResult<device::Model>>,
) -> Result<Device> {
    let id = parse_id(id)?;
    let actor = ctx.actor()?;
    let device = change(ctx.services(), actor, id).await.api()?;
    Ok(Device::new(device, actor))
}

#[Object]
impl DeviceMutation {
    /// Marks a device trusted. expiresAt omitted: the configured default trust duration.
    async fn trust_device(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The device's id.")] id: ID,
        #[graphql(
            default_with = "Some(TrustLevel::High)",
            desc = "How much to trust it."
        )]
        level: Option<TrustLevel>,
        #[graphql(
            desc = "When the trust ends: in the future, and at most the configured maximum (a year by default) ahead."
        )]
        expires_at: Option<DateTime>,
    ) -> Result<Device> {
        let level = level.unwrap_or(TrustLevel::High).into();
        let expires_at = expires_at.map(|DateTime(at)| at);
        change_device(ctx, &id, move |services, actor, id| {
            services.trust_device(actor, id, level, expires_at).boxed()
        })
        .await
    }

    /// Removes a device's trust.
    async fn untrust_device(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The device's id.")] id: ID,
    ) -> Result<Device> {
        change_device(ctx, &id, |services, actor, id| {
            services.untrust_device(actor, id).boxed()
        })
        .await
    }

    /// Flags a device as compromised: its sessions end and it can never start a session again.
    async fn mark_device_hijacked(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The device's id.")] id: ID,
    ) -> Result<Device> {
        change_device(ctx, &id, |services, actor, id| {
            services.mark_device_hijacked(actor, id).boxed()
        })
        .await
    }

    /// Gives a device a name the user chooses.
    async fn rename_device(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The device's id.")] id: ID,
        #[graphql(desc = "The new name: 1 to 100 characters.")] name: String,
    ) -> Result<Device> {
        change_device(ctx, &id, move |services, actor, id| {
            async move { services.rename_device(actor, id, &name).await }.boxed()
        })
        .await
    }

    /// Ends the device's sessions and deletes the device. Its token stops working; signing
    /// in from it again creates a new device.
    async fn forget_device(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The device's id.")] id: ID,
    ) -> Result<ForgetDevicePayload> {
        let id = parse_id(&id)?;
        let actor = ctx.actor()?;
        let forgotten = ctx.services().forget_device(actor, id).await.api()?;
        Ok(ForgetDevicePayload {
            device_id: ID(forgotten.device_id.to_string()),
            ended_sessions: i32::try_from(forgotten.ended_sessions).unwrap_or(i32::MAX),
        })
    }

    /// Ends every active session of a device; the current device when id is omitted.
    async fn sign_out_device(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The device's id; omitted for the current device.")] id: Option<ID>,
    ) -> Result<RevokeSessionsPayload> {
        let id = id.as_ref().map(parse_id).transpose()?;
        let actor = ctx.actor()?;
        let ended = ctx.services().sign_out_device(actor, id).await.api()?;
        Ok(RevokeSessionsPayload::new(ended, actor))
    }
}
