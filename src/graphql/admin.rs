//! The admin API: a schema of its own, for operators, served apart from the user's (which
//! it leaves untouched). An administrator names the account; what it reads is what the
//! user would see, through the same types and service reads, with nothing current.

use async_graphql::{
    Context, EmptySubscription, Enum, ID, Object, Result, SDLExportOptions, Schema, SchemaBuilder,
    SimpleObject,
};
use entity::webhook_delivery;
use uuid::Uuid;

use super::{
    ApiResult, ContextExt, cost,
    model::{Device, RevokeSessionsPayload, Session},
    parse_id,
    scalars::DateTime,
    security_log::{self, DEFAULT_PAGE, MAX_PAGE, SecurityLogPage},
};
use crate::{
    config::ApiConfig,
    service::{Administrator, ServiceError, Services, Viewer, max_listed_ended_sessions},
};

pub type AdminSchema = Schema<AdminQuery, AdminMutation, EmptySubscription>;

fn admin_schema_builder() -> SchemaBuilder<AdminQuery, AdminMutation, EmptySubscription> {
    Schema::build(AdminQuery, AdminMutation, EmptySubscription)
}

/// The admin schema, with the user API's limits on query shape and cost and its
/// production switches: an operator's tools know the schema from
/// `docs/admin-schema.graphql`.
pub fn build_admin_schema(
    services: Services,
    api: &ApiConfig,
    caps: cost::ListCaps,
) -> AdminSchema {
    super::limited(admin_schema_builder().data(services), api, caps).finish()
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

/// Which deliveries of the webhook delivery log to list.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "crate::service::DeliveryState")]
pub enum WebhookDeliveryState {
    /// Not delivered yet: due, being attempted, or waiting to be retried.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed; no more will be made.
    GaveUp,
}

/// One account event's delivery to one webhook endpoint.
#[derive(SimpleObject)]
pub struct WebhookDelivery {
    /// Unique identifier (UUID).
    pub id: ID,
    /// The endpoint's URL.
    pub endpoint: String,
    /// The account event delivered: the `webhook-id` header, the same on every attempt.
    pub event_id: ID,
    /// Whose event it is.
    pub user_id: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// When the next attempt is due; null once delivered or given up.
    pub next_attempt_at: Option<DateTime>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<DateTime>,
    /// The HTTP status the endpoint last answered, if it answered.
    pub last_status: Option<i32>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime>,
    /// When it was given up.
    pub gave_up_at: Option<DateTime>,
    /// When the event happened and the delivery was queued.
    pub created_at: DateTime,
}

impl From<webhook_delivery::Model> for WebhookDelivery {
    fn from(row: webhook_delivery::Model) -> Self {
        Self {
            id: ID(row.id.to_string()),
            endpoint: row.endpoint,
            event_id: ID(row.event_id.to_string()),
            user_id: row.user_id,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at.map(DateTime),
            last_attempt_at: row.last_attempt_at.map(DateTime),
            last_status: row.last_status,
            last_error: row.last_error,
            delivered_at: row.delivered_at.map(DateTime),
            gave_up_at: row.gave_up_at.map(DateTime),
            created_at: DateTime(row.created_at),
        }
    }
}

#[Object]
impl AdminQuery {
    /// The webhook delivery log, newest first: deliveries in one state, of every user or
    /// of one.
    #[graphql(complexity = "cost::page(first, child_complexity)")]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "Some(WebhookDeliveryState::Pending)",
            desc = "Which to list."
        )]
        state: Option<WebhookDeliveryState>,
        #[graphql(desc = "Only this user's events.")] user_id: Option<String>,
        #[graphql(desc = "How many to return: 1 to 100; 20 when omitted.")] first: Option<i32>,
    ) -> Result<Vec<WebhookDelivery>> {
        administrator(ctx)?;
        let first = first.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&first) {
            return Err(ServiceError::BadUserInput(format!(
                "first must be between 1 and {MAX_PAGE}"
            )))
            .api();
        }
        let deliveries = ctx
            .services()
            .webhook_deliveries(
                state.unwrap_or(WebhookDeliveryState::Pending).into(),
                user_id.as_deref(),
                first as u64,
            )
            .await
            .api()?;
        Ok(deliveries.into_iter().map(Into::into).collect())
    }

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
    view: Viewer,
}

#[Object]
impl AdminUser {
    /// The user's id.
    async fn id(&self) -> &str {
        self.view.account().user_id()
    }

    /// The user's devices, most recently seen first, forgotten ones excluded.
    #[graphql(complexity = "cost::devices(child_complexity)")]
    async fn devices(&self, ctx: &Context<'_>) -> Result<Vec<Device>> {
        let devices = ctx.services().devices(self.view.account()).await.api()?;
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
            .sessions(self.view.account(), include_ended.unwrap_or(false))
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

/// Ends `user_id`'s active sessions, or only `session_id`, as the administrator sees it.
async fn end_sessions(
    ctx: &Context<'_>,
    user_id: &str,
    session_id: Option<Uuid>,
) -> Result<RevokeSessionsPayload> {
    let admin = administrator(ctx)?;
    let services = ctx.services();
    let ended = services
        .admin_end_sessions(admin, user_id, session_id)
        .await
        .api()?;
    let view = services.administrator_view(user_id).api()?;
    Ok(RevokeSessionsPayload::new(ended, &view))
}

#[Object]
impl AdminMutation {
    /// Ends every active session of the user (ADMIN_REVOKED), e.g. after a password change
    /// or when the account is locked; each is told `signedOut` at once.
    async fn revoke_user_sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] user_id: String,
    ) -> Result<RevokeSessionsPayload> {
        end_sessions(ctx, &user_id, None).await
    }

    /// Ends one of the user's sessions (ADMIN_REVOKED); ending one that already ended
    /// ends nothing (revokedCount 0).
    async fn revoke_user_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] user_id: String,
        #[graphql(desc = "The session's id.")] session_id: ID,
    ) -> Result<RevokeSessionsPayload> {
        end_sessions(ctx, &user_id, Some(parse_id(&session_id)?)).await
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
