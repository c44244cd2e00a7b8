//! The GraphQL API: a thin translation of the service layer. Resolvers parse arguments,
//! call one service method, and wrap the rows it returns in API types.

mod admin;
mod cost;
mod documents;
mod limits;
mod loaders;
mod model;
mod mutation;
mod new_sign_ins;
mod query;
mod refusals;
mod scalars;
mod security_log;
mod subscription;

use std::sync::Arc;

use async_graphql::{
    Context, ErrorExtensions, ID, Request, SDLExportOptions, Schema, SchemaBuilder, ServerError,
    parser::types::OperationDefinition,
};
use uuid::Uuid;

pub use admin::{AdminSchema, admin_schema_sdl, build_admin_schema};
pub use cost::ListCaps;
pub use documents::DocumentCache;
use loaders::AccountLoader;
pub use loaders::Loaders;
use mutation::Mutation;
use query::Query;
use refusals::DocumentRefusal;
use subscription::Subscription;
pub use subscription::{FellBehind, ListeningSince, SignOutNotice, outlives_session};

use crate::{
    config::ApiConfig,
    service::{Actor, Requester, ServiceError, Services},
};

pub type AppSchema = Schema<Query, Mutation, Subscription>;

fn schema_builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query::default(), Mutation::default(), Subscription)
}

/// The served schema, with the configured limits and switches; `caps` are the list
/// lengths the cost estimate prices lists at, and `documents` the cache of parsed
/// documents it keeps (which the HTTP layer also asks for operation names).
pub fn build_schema(
    services: Services,
    api: &ApiConfig,
    caps: ListCaps,
    documents: DocumentCache,
) -> AppSchema {
    let builder = schema_builder()
        .data(services)
        // First, so that a cached document skips parsing and the checks it passed.
        .extension(documents);
    limited(builder, api, caps).finish()
}

/// `builder` with the configured limits on query shape and cost, and the production
/// switches (introspection, suggestions): the user API and the admin API alike.
fn limited<Q, M, S>(
    builder: SchemaBuilder<Q, M, S>,
    api: &ApiConfig,
    caps: ListCaps,
) -> SchemaBuilder<Q, M, S>
where
    Q: async_graphql::ObjectType + 'static,
    M: async_graphql::ObjectType + 'static,
    S: async_graphql::SubscriptionType + 'static,
{
    let mut builder = builder
        .extension(cost::ListPricing(caps))
        .limit_depth(api.max_query_depth)
        .limit_complexity(api.max_query_complexity)
        .limit_directives(api.max_directives)
        .limit_recursive_depth(api.max_recursion)
        .extension(limits::ShapeLimits {
            max_aliases: api.max_aliases,
            max_field_repeats: api.max_field_repeats,
            introspection: api.introspection_enabled(),
        });
    if !api.introspection_enabled() {
        builder = builder.disable_introspection();
    }
    if !api.suggestions_enabled() {
        builder = builder.disable_suggestions();
    }
    builder
}

/// An error's `extensions.code`, or the code it is sent with when async-graphql raised it
/// without one: a limit's, a document's that is wrong, or an argument's.
pub(crate) fn error_code(error: &ServerError) -> &str {
    if let Some(async_graphql::Value::String(code)) = error
        .extensions
        .as_ref()
        .and_then(|extensions| extensions.get("code"))
    {
        return code;
    }
    // Without a path the error came before execution: the document itself is wrong.
    let refusal = if let Some(limit) = limit_refusal(&error.message) {
        limit
    } else if error.path.is_empty() {
        DocumentRefusal::ValidationFailed
    } else {
        DocumentRefusal::BadUserInput
    };
    refusal.code()
}

/// The code for an error async-graphql raised itself when a query is over a configured
/// limit. Its messages are matched here, in one place; a test per limit pins each one.
fn limit_refusal(message: &str) -> Option<DocumentRefusal> {
    if message == "Query is nested too deep." {
        Some(DocumentRefusal::TooDeep)
    } else if message == "Query is too complex." {
        Some(DocumentRefusal::TooComplex)
    } else if message.starts_with("The number of directives on the field") {
        Some(DocumentRefusal::TooManyDirectives)
    } else if message.starts_with("The recursion depth of the query") {
        Some(DocumentRefusal::RecursionLimitExceeded)
    } else {
        None
    }
}

/// The schema as SDL, sorted so the checked-in `schema.graphql` only changes when the API does.
pub fn schema_sdl() -> String {
    schema_builder().finish().sdl_with_options(
        SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items(),
    )
}

/// Typed access to what every request carries.
pub(crate) trait ContextExt {
    fn services(&self) -> &Services;
    fn requester(&self) -> &Requester;
    /// The calling session, or UNAUTHENTICATED when the request has no session token, or
    /// SIGN_IN_PENDING while the session waits for its new device to be confirmed.
    fn actor(&self) -> async_graphql::Result<&Arc<Actor>>;
    /// The calling session even while it waits for confirmation: only for what such a
    /// session may do, which is read itself, keep itself alive, sign out and hear that it
    /// was signed out.
    fn actor_allowing_pending(&self) -> async_graphql::Result<&Arc<Actor>>;
    /// The request's batch loader of `user_id`'s rows, there for every request with a
    /// token that may read them.
    fn loaders(&self, user_id: &str) -> async_graphql::Result<Arc<AccountLoader>>;
}

impl ContextExt for Context<'_> {
    fn services(&self) -> &Services {
        self.data_unchecked::<Services>()
    }

    fn requester(&self) -> &Requester {
        self.data_opt::<Requester>()
            .unwrap_or(&Requester::Anonymous)
    }

    fn actor(&self) -> async_graphql::Result<&Arc<Actor>> {
        let actor = self.actor_allowing_pending()?;
        actor.confirmed().api()?;
        Ok(actor)
    }

    fn actor_allowing_pending(&self) -> async_graphql::Result<&Arc<Actor>> {
        match self.requester() {
            Requester::Session(actor) => Ok(actor),
            Requester::Identity(..) => Err(ServiceError::Unauthenticated(
                "this operation needs a session token; identity tokens are accepted only by startSession"
                    .into(),
            )
            .into_graphql()),
            Requester::Anonymous => Err(ServiceError::Unauthenticated(
                "this operation needs a session token in the Authorization header".into(),
            )
            .into_graphql()),
        }
    }

    fn loaders(&self, user_id: &str) -> async_graphql::Result<Arc<AccountLoader>> {
        // Only objects of an account load rows, and reaching one takes a token for it.
        self.data_opt::<Loaders>()
            .and_then(|loaders| loaders.of(user_id))
            .ok_or_else(|| internal_error("a request reached account rows it has no loader for"))
    }
}

/// A service error as the GraphQL answer carries it.
pub(crate) trait IntoGraphqlError {
    /// The error with its code (and when to retry, or when a change becomes allowed) in its
    /// extensions, and the `ServiceError` itself as its source: the HTTP layer gives the
    /// answer its status from that (`http::errors::status_of`), not from the code's text.
    fn into_graphql(self) -> async_graphql::Error;
}

impl IntoGraphqlError for ServiceError {
    fn into_graphql(self) -> async_graphql::Error {
        self.log();
        let code = self.code();
        let retry_after = self.retry_after_seconds();
        let allowed_at = self.allowed_at();
        async_graphql::Error::new_with_source(self).extend_with(|_, e| {
            e.set("code", code);
            if let Some(seconds) = retry_after {
                e.set("retryAfter", seconds);
            }
            if let Some(at) = allowed_at {
                e.set(
                    "allowedAt",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                );
            }
        })
    }
}

/// Turns a service result into a resolver result carrying the error's code.
pub(crate) trait ApiResult<T> {
    fn api(self) -> async_graphql::Result<T>;
}

impl<T> ApiResult<T> for Result<T, ServiceError> {
    fn api(self) -> async_graphql::Result<T> {
        self.map_err(IntoGraphqlError::into_graphql)
    }
}

pub(crate) fn internal_error(what: &str) -> async_graphql::Error {
    tracing::error!(what, "internal error");
    async_graphql::Error::new("internal error").extend_with(|_, e| e.set("code", "INTERNAL"))
}

/// The operations a request would run: the one it names, or every one when it names none
/// (more than one then fails validation). `None` when the document does not parse.
pub(crate) fn selected_operations(
    request: &mut Request,
) -> Option<impl Iterator<Item = &OperationDefinition>> {
    let name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    Some(
        document
            .operations
            .iter()
            .filter(move |(op_name, _)| {
                name.is_none() || op_name.map(|n| n.as_str()) == name.as_deref()
            })
            .map(|(_, operation)| &operation.node),
    )
}

/// Parses an `ID` argument, answering BAD_USER_INPUT when it is not a UUID.
pub(crate) fn parse_id(id: &ID) -> async_graphql::Result<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| {
        ServiceError::BadUserInput(format!(
            "`{}` is not a valid id",
            id.as_str().escape_debug()
        ))
        .into_graphql()
    })
}

#[cfg(test)]
mod tests {
    use super::{
        schema_sdl,
        security_log::{DEFAULT_PAGE, MAX_PAGE},
    };
    use crate::service::validate::MAX_DEVICE_NAME_CHARS;

    /// async-graphql takes argument descriptions only as literals, so the limits they state
    /// cannot be generated from the constants as the doc comments' are; this keeps them true.
    #[test]
    fn argument_descriptions_state_the_enforced_limits() {
        let sdl = schema_sdl();
        for stated in [
            format!("The new name: 1 to {MAX_DEVICE_NAME_CHARS} characters."),
            format!("How many events to return: 1 to {MAX_PAGE}; {DEFAULT_PAGE} when omitted."),
        ] {
            assert!(sdl.contains(&stated), "no description says: {stated}");
        }
    }
}
