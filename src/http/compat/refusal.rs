//! What the compatibility APIs share: admitting the caller, and refusing in each API's
//! own words. A refusal carries Sessionhub's machine-readable code in every dialect
//! (`code`, or Ruuvi's `sub_code`), its HTTP status, and the headers the status calls for.

use std::{collections::BTreeMap, marker::PhantomData, sync::Arc};

use axum::{
    extract::{FromRequestParts, Path},
    http::{StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::{
    IntoResponses, ToSchema,
    openapi::{RefOr, ResponseBuilder, content::ContentBuilder, schema::Ref},
};
use uuid::Uuid;

use crate::{
    http::{
        AppState,
        edge::{Edge, client_of},
        errors::{refusal_headers, status_of},
        observe::Answered,
        refusals::EdgeRefusal,
    },
    service::{Actor, Requester, ServiceError},
};

/// How one compatibility API words a refusal.
pub(super) trait Dialect: Send + Sync + 'static {
    /// A refusal's body, as sent and as its OpenAPI document describes it.
    type Error: Serialize + ToSchema;

    /// The body of a refusal: its status, Sessionhub's code, a message for people, and
    /// for a rate limit or an outage how many seconds to wait.
    fn body(refusal: &Refusal) -> Self::Error;

    /// The status an error is sent with; the APIs differ only in bad input.
    fn status(error: &ServiceError) -> StatusCode {
        status_of(error)
    }
}

/// A refusal as a dialect words it.
pub(super) struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
    /// For a 404, what was not found (`session`, `device`, `route`).
    pub missing: Option<&'static str>,
}

/// Why a compatibility request was refused, sent in dialect `D`.
pub(super) enum Refused<D> {
    Service(ServiceError, PhantomData<D>),
    /// Refused by the edge itself: a fault of ours already logged (`Internal`), a method
    /// the path does not take, a body over `SESSIONHUB_MAX_BODY_BYTES`.
    Edge(EdgeRefusal),
}

impl<D> From<ServiceError> for Refused<D> {
    fn from(error: ServiceError) -> Self {
        Refused::Service(error, PhantomData)
    }
}

impl<D: Dialect> Refused<D> {
    /// The refusal as the dialect words it: its status, code, message and waits.
    fn refusal(&self) -> Refusal {
        match self {
            Refused::Service(error, _) => {
                error.log();
                Refusal {
                    status: D::status(error),
                    code: error.code(),
                    message: capitalised(&error.to_string()),
                    retry_after: error.retry_after_seconds(),
                    missing: match error {
                        ServiceError::NotFound(what) => Some(*what),
                        _ => None,
                    },
                }
            }
            Refused::Edge(refused) => Refusal {
                status: refused.status(),
                code: refused.code(),
                message: capitalised(&refused.message()),
                retry_after: None,
                missing: None,
            },
        }
    }
}

impl<D: Dialect> IntoResponse for Refused<D> {
    fn into_response(self) -> Response {
        let refusal = self.refusal();
        let (status, code, retry_after) = (refusal.status, refusal.code, refusal.retry_after);
        let body = D::body(&refusal);
        let mut response = (status, axum::Json(body)).into_response();
        refusal_headers(&mut response, retry_after);
        response.extensions_mut().insert(Answered::Refused(code));
        response
    }
}

/// A path's id segment. One that is not UTF-8 once percent-decoded names nothing, and is
/// refused in the API's own shape as any unknown path is, not in axum's plain text.
pub(super) struct PathId<D>(pub String, pub PhantomData<D>);

impl<D: Dialect> FromRequestParts<AppState> for PathId<D> {
    type Rejection = Refused<D>;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(PathId(id, PhantomData)),
            Err(_) => Err(ServiceError::NotFound("route").into()),
        }
    }
}

/// A UUID from a path or body; one that does not parse names no `what` of the caller's.
pub(super) fn uuid_of(text: &str, what: &'static str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(text).map_err(|_| ServiceError::NotFound(what))
}

/// What an unknown path under an API's prefix answers: a 404 in the API's own shape.
pub(super) async fn unrouted<D: Dialect>() -> Refused<D> {
    ServiceError::NotFound("route").into()
}

/// What a routed path answers a method it does not take: a 405 in the API's own shape
/// (axum adds the `Allow` header).
pub(super) async fn method_not_allowed<D: Dialect>() -> Refused<D> {
    Refused::Edge(EdgeRefusal::MethodNotAllowed)
}

/// "device not found" as the seeds word it: "Device not found".
fn capitalised(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The session a compatibility request is made with, admitted at the edge as a GraphQL
/// request is: a bearer session token of an active session only (an identity token only
/// starts sessions, which these APIs do not).
pub(super) struct Caller<D> {
    actor: Arc<Actor>,
    dialect: PhantomData<D>,
}

impl<D> Caller<D> {
    /// The calling session, unless it waits for its new device to be confirmed: as in
    /// GraphQL, such a session may only read itself, keep itself alive and sign out.
    pub fn confirmed(&self) -> Result<&Actor, ServiceError> {
        self.actor.confirmed()
    }

    /// The calling session even while it waits for confirmation.
    pub fn allowing_pending(&self) -> &Actor {
        &self.actor
    }

    /// The calling session to end the session `is_own` says: any while confirmed, and
    /// only itself (signing out) while it waits for confirmation.
    pub fn ending(&self, is_own: impl FnOnce(Uuid) -> bool) -> Result<&Actor, ServiceError> {
        if is_own(self.actor.session_id) {
            Ok(&self.actor)
        } else {
            self.confirmed()
        }
    }
}

impl<D: Dialect> FromRequestParts<AppState> for Caller<D> {
    type Rejection = Refused<D>;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let client = client_of(parts).map_err(Refused::Edge)?;
        let Requester::Session(actor) = Edge::new(state, &client).admit(&parts.headers).await?
        else {
            return Err(ServiceError::Unauthenticated(
                "this API needs `Authorization: Bearer <session token>`".into(),
            )
            .into());
        };
        Ok(Caller {
            actor,
            dialect: PhantomData,
        })
    }
}

/// The refusals every operation may answer: status, name in `components.responses`, and
/// what it means.
const COMMON_REFUSALS: [(StatusCode, &str, &str); 5] = [
    (
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "No bearer session token, or its session has ended",
    ),
    (
        StatusCode::FORBIDDEN,
        "Forbidden",
        "The session may not do this: it waits for its new device to be confirmed, or the change needs a recent sign-in",
    ),
    (
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Over the rate limit; `Retry-After` says when to retry",
    ),
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "A fault of the server",
    ),
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        "The database is unreachable; `Retry-After` says when to retry",
    ),
];

/// The refusals every operation of dialect `D` may answer, as references to its
/// document's `components.responses`; an operation lists its own (404, 409, …) beside
/// them.
pub(super) struct Refusals<D>(PhantomData<D>);

impl<D: Dialect> IntoResponses for Refusals<D> {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        COMMON_REFUSALS
            .iter()
            .map(|(status, name, _)| {
                (
                    status.as_str().to_owned(),
                    RefOr::Ref(Ref::from_response_name(*name)),
                )
            })
            .collect()
    }
}

/// What [`Refusals`] refer to, each with dialect `D`'s error body.
pub(super) fn refusal_components<D: Dialect>()
-> impl Iterator<Item = (String, RefOr<utoipa::openapi::Response>)> {
    let schema = D::Error::name();
    COMMON_REFUSALS.iter().map(move |(_, name, description)| {
        let response = ResponseBuilder::new()
            .description(*description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(schema.clone())))
                    .build(),
            )
            .build();
        ((*name).to_owned(), RefOr::T(response))
    })
}
