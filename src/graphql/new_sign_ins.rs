//! "Was this you?": the sign-ins on new devices the account is asked about, and the two
//! answers. The live feed is the `newSignIn` subscription.

use async_graphql::{Context, ID, Object, Result};

use futures_util::{FutureExt, future::BoxFuture};
use uuid::Uuid;

use super::{ApiResult, ContextExt, model::NewSignIn, parse_id};
use crate::service::{self, Actor, ServiceResult, Services};

#[derive(Default)]
pub struct NewSignInQuery;

#[Object]
impl NewSignInQuery {
    /// Sign-ins on devices the account had never used, most recent first, one per device
    /// (its latest): those still waiting for an answer, or with includeAnswered also the
    /// confirmed and rejected ones. At most 50.
    #[graphql(complexity = "super::cost::new_sign_ins(child_complexity)")]
    async fn new_sign_ins(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "Some(false)",
            desc = "Also list sign-ins already confirmed or rejected."
        )]
        include_answered: Option<bool>,
    ) -> Result<Vec<NewSignIn>> {
        let actor = ctx.actor()?;
        let found = ctx
            .services()
            .new_sign_ins(actor, include_answered.unwrap_or(false))
            .await
            .api()?;
        Ok(found
            .into_iter()
            .map(|sign_in| NewSignIn::new(sign_in, actor))
            .collect())
    }
}

#[derive(Default)]
pub struct NewSignInMutation;

/// The sign-in `id` answered by `answer`, as the caller sees it afterwards.
async fn answer(
    ctx: &Context<'_>,
    id: &ID,
    answer: impl for<'s> FnOnce(
        &'s Services,
        &'s Actor,
        Uuid,
    ) -> BoxFuture<'s, ServiceResult<service::NewSignIn>>,
) -> Result<NewSignIn> {
    let id = parse_id(id)?;
    let actor = ctx.actor()?;
    let answered = answer(ctx.services(), actor, id).await.api()?;
    Ok(NewSignIn::new(answered, actor))
}

#[Object]
impl NewSignInMutation {
    /// "Yes, it was me": the sign-in's device is recognised from now on, and its sessions,
    /// if they were waiting for this, may do everything. Needs a session on another
    /// device that the account recognises, and a recent sign-in or a trusted device.
    async fn confirm_sign_in(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The sign-in's id (its session's).")] id: ID,
    ) -> Result<NewSignIn> {
        answer(ctx, &id, |services, actor, id| {
            services.confirm_sign_in(actor, id).boxed()
        })
        .await
    }

    /// "No, it was not me": every session of the sign-in's device ends and the device is
    /// flagged hijacked, so it can never sign in again. The same rules as confirmSignIn.
    async fn reject_sign_in(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The sign-in's id (its session's).")] id: ID,
    ) -> Result<NewSignIn> {
        answer(ctx, &id, |services, actor, id| {
            services.reject_sign_in(actor, id).boxed()
        })
        .await
    }
}
