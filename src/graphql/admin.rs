//! The admin API: a schema of its own, for operators, served apart from the user's (which
//! it leaves untouched). An administrator names the account; what it reads is what the
//! user would see, through the same types and service reads, with nothing current.

use std::sync::Arc;

use async_graphql::{
    Context, EmptySubscription, ID, Object, Result, SDLExportOptions, Schema, SchemaBuilder,
};

use super::{
    ApiResult, ContextExt, cost,
    model::{Device, RevokeSessionsPayload, Session},
    parse_id,
    security_log::{self, SecurityLogPage},
};
use crate::{
    config::ApiConfig,
    service::{Actor, Administrator, Services, max_listed_ended_sessions},
};

pub type AdminSchema = Schema<AdminQuery, AdminMutation, EmptySubscription>;

fn admin_schema_builder() -> SchemaBuilder<AdminQuery, AdminMutation, EmptySubscription> {
    Schema::build(AdminQuery, AdminMutation, EmptySubscription)
}

/// The admin schema, with the user API's limits on query shape and cost.
pub fn build_admin_schema(
    services: Services,
    api: &ApiConfig,
    caps: cost::ListCaps,
) -> AdminSchema {
    admin_schema_builder()
        .data(services)
        .extension(cost::ListPricing(caps))
        .limit_depth(api.max_query_depth)
        .limit_complexity(api.max_query_complexity)
        .limit_directives(api.max_directives)
        .limit_recursive_depth(api.max_recursion)
        .finish()
}

/// The admin schema as SDL, sorted, as `docs/admin-schema.graphql` holds it.
pub fn admin_schema_sdl() -> String {
    admin_schema_builder().finish().sdl_with_options(
        SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items(),
    )
}

/// The administrator the request's operator key proves; the HTTP layer admits no other.
fn administrator<'c>(ctx: &Context<'c>) -> Result<&'c Administrator> {
    ctx.data::<Administrator>()
}

pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// One user's account, as the user would see it.
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id: the `sub` of their identity tokens.")] id: String,
    ) -> Result<AdminUser> {
        administrator(ctx)?;
        let view = ctx.services().administrator_view(&id).api()?;
        Ok(AdminUser { view })
    }
}

/// A user's account: devices, sessions and security log. Nothing in it is current.
pub struct AdminUser {
    view: Arc<Actor>,
}

#[Object]
impl AdminUser {
    /// The user's id.
    async fn id(&self) -> &str {
        &self.view.user_id
    }

    /// The user's devices, most recently seen first, forgotten ones excluded.
    #[graphql(complexity = "cost::devices(child_complexity)")]
    async fn devices(&self, ctx: &Context<'_>) -> Result<Vec<Device>> {
        let devices = ctx.services().devices(&self.view).await.api()?;
        Ok(devices
            .into_iter()
            .map(|row| Device::new(row, &self.view))
            .collect())
    }

    /// The user's sessions, most recent activity first; active ones only unless
    #[doc = concat!("includeEnded, and then only the ", max_listed_ended_sessions!(), " most recently active ended ones.")]
    #[graphql(complexity = "cost::sessions(include_ended, child_complexity)?")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "Some(false)",
            desc = "Also list sessions that have ended."
        )]
        include_ended: Option<bool>,
    ) -> Result<Vec<Session>> {
        let sessions = ctx
            .services()
            .sessions(&self.view, include_ended.unwrap_or(false))
            .await
            .api()?;
        Ok(Session::list(sessions, &self.view))
    }

    /// The user's security log, newest first, as `securityEvents` shows it to them.
    #[graphql(complexity = "cost::page(first, child_complexity)")]
    async fn security_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many events to return: 1 to 100; 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `cursor` of the last event of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<SecurityLogPage> {
        security_log::page(ctx, &self.view, first, after).await
    }
}

pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Ends every active session of the user (ADMIN_REVOKED), e.g. after a password change
    /// or when the account is locked; each is told `signedOut` at once.
    async fn revoke_user_sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] user_id: String,
    ) -> Result<RevokeSessionsPayload> {
        let admin = administrator(ctx)?;
        let services = ctx.services();
        let ended = services
            .admin_end_sessions(admin, &user_id, None)
            .await
            .api()?;
        let view = services.administrator_view(&user_id).api()?;
        Ok(RevokeSessionsPayload::new(ended, &view))
    }

    /// Ends one of the user's sessions (ADMIN_REVOKED); ending one that already ended
    /// ends nothing (revokedCount 0).
    async fn revoke_user_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] user_id: String,
        #[graphql(desc = "The session's id.")] session_id: ID,
    ) -> Result<RevokeSessionsPayload> {
        let session_id = parse_id(&session_id)?;
        let admin = administrator(ctx)?;
        let services = ctx.services();
        let ended = services
            .admin_end_sessions(admin, &user_id, Some(session_id))
            .await
            .api()?;
        let view = services.administrator_view(&user_id).api()?;
        Ok(RevokeSessionsPayload::new(ended, &view))
    }

    /// Flags one of the user's devices as compromised: its sessions end and it can never
    /// start a session again.
    async fn mark_user_device_hijacked(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] user_id: String,
        #[graphql(desc = "The device's id.")] device_id: ID,
    ) -> Result<Device> {
        let device_id = parse_id(&device_id)?;
        let admin = administrator(ctx)?;
        let services = ctx.services();
        let device = services
            .admin_mark_device_hijacked(admin, &user_id, device_id)
            .await
            .api()?;
        let view = services.administrator_view(&user_id).api()?;
        Ok(Device::new(device, &view))
    }
}
