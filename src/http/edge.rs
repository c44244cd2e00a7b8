//! The edge: how a caller is admitted, over every transport, in one order. A new rule
//! (a proof of possession, say) is added to one step here, and every entrance runs it.
//!
//! 1. **The client**: its address (through the trusted proxies of `config::edge`),
//!    counted against that address's rate. [`Edge::client`]
//! 2. **Who it is**: its bearer token, from the `Authorization` header or a websocket's
//!    `connection_init`, resolved to a [`Requester`]; a session token only while its
//!    session is active. An operation over an open websocket is made by its connection's
//!    session, whose end is checked again. [`Edge::requester`]
//! 3. **The session's rate**, when the requester is a session. [`Edge::session`]
//! 4. **The pending sign-in rule**, by each operation: a session waiting for its new
//!    device to be confirmed may only read itself, keep itself alive and sign out
//!    (`Actor::confirmed`, asked by the resolvers and the REST handlers alike).
//!
//! | Entrance | Steps |
//! |---|---|
//! | `GET`/`POST /graphql` (a batch is one request) | 1, 2, 3: [`Edge::admit`] |
//! | REST APIs (`compat::refusal::Caller`, a session only) | 1, 2, 3: [`Edge::admit`] |
//! | websocket upgrade | 1 |
//! | websocket `connection_init` (a session only) | 2 |
//! | each websocket operation | 1, 2 (its session's end), 3: [`Edge::admit_operation`] |
//! | `POST /admin/graphql` | 1, then an operator key and its rate: [`Edge::admit_operator`] |
//!
//! Request shape (media types, body size, batch size, a document) is checked before the
//! edge, by each transport: it costs no database read, and its refusals are the
//! transport's own.

use std::{net::SocketAddr, sync::Arc};

use async_graphql::Data;
use axum::{
    extract::{ConnectInfo, FromRequestParts, Request},
    http::{HeaderMap, header, request::Parts},
};

use super::{AppState, ClientLookup, refusals::EdgeRefusal};
use crate::{
    graphql::Loaders,
    service::{Actor, Administrator, ClientInfo, Requester, ServiceError, SessionEnd},
    telemetry::logging::client_address,
};

/// Where a caller says who it is.
pub(super) enum Credential<'a> {
    /// An HTTP request's `Authorization: Bearer <token>`; without one, it is anonymous.
    Header(&'a HeaderMap),
    /// A token sent another way: a websocket's `connection_init` payload.
    Token(&'a str),
}

/// Why an operation over an open websocket was not admitted.
pub(super) enum OperationRefused {
    /// A check refused it, as it would refuse the same request over HTTP.
    Refused(ServiceError),
    /// The connection's session has ended: the connection signs out.
    SessionEnded(SessionEnd),
}

impl From<ServiceError> for OperationRefused {
    fn from(error: ServiceError) -> Self {
        Self::Refused(error)
    }
}

/// One caller at the edge: the server it asks and the client it came from.
pub(super) struct Edge<'a> {
    state: &'a AppState,
    client: &'a ClientInfo,
}

impl<'a> Edge<'a> {
    pub(super) fn new(state: &'a AppState, client: &'a ClientInfo) -> Self {
        Self { state, client }
    }

    /// Step 1: counts the caller against its client address's rate. An address is not an
    /// account, so its lockouts go to the operator's log, not a user's.
    pub(super) async fn client(&self) -> Result<(), ServiceError> {
        let address = self.client.ip_address.as_deref().unwrap_or_default();
        let checked = self
            .state
            .services
            .rate_limits()
            .check_client(address)
            .await;
        if let Err(limited) = &checked
            && limited.starts_lockout
        {
            tracing::warn!(
                address = client_address(Some(address), self.state.log_client_ips),
                "client address over its request rate; refusing for now"
            );
        }
        checked.map_err(ServiceError::RateLimited)
    }

    /// Step 2: who the credential proves; a session token only while its session is
    /// active.
    pub(super) async fn requester(
        &self,
        credential: Credential<'_>,
    ) -> Result<Requester, ServiceError> {
        let token = match credential {
            Credential::Token(token) => token,
            Credential::Header(headers) => match bearer_token(headers) {
                None => return Ok(Requester::Anonymous),
                Some(Err(())) => {
                    return Err(ServiceError::Unauthenticated(
                        "the Authorization header must be `Bearer <token>`".into(),
                    ));
                }
                Some(Ok(token)) => token,
            },
        };
        self.state
            .services
            .authenticate(token, self.client.clone())
            .await
    }

    /// Step 3: counts a session's request against its rate.
    pub(super) async fn session(&self, actor: &Actor) -> Result<(), ServiceError> {
        self.state.services.check_session_rate(actor).await
    }

    /// Steps 1 to 3 for a request over HTTP: who is asking, once it may.
    pub(super) async fn admit(&self, headers: &HeaderMap) -> Result<Requester, ServiceError> {
        self.client().await?;
        let requester = self.requester(Credential::Header(headers)).await?;
        if let Requester::Session(actor) = &requester {
            self.session(actor).await?;
        }
        Ok(requester)
    }

    /// Steps 1 to 3 for an operation over a websocket its session opened: the session is
    /// checked again for its end, unless the operation `outlives` it (`signedOut`: telling
    /// of the end is what it is for, and the connection closes right after).
    pub(super) async fn admit_operation(
        &self,
        actor: &Arc<Actor>,
        outlives: bool,
    ) -> Result<(), OperationRefused> {
        self.client().await?;
        if !outlives && let Some(end) = self.state.services.current_session_end(actor).await? {
            return Err(OperationRefused::SessionEnded(end));
        }
        self.session(actor).await?;
        Ok(())
    }

    /// The admin API's admission: step 1, then an operator key (never a user's token)
    /// in place of steps 2 and 3, under that key's own rate.
    pub(super) async fn admit_operator(
        &self,
        headers: &HeaderMap,
    ) -> Result<Administrator, ServiceError> {
        self.client().await?;
        let Some(Ok(key)) = bearer_token(headers) else {
            return Err(ServiceError::Unauthenticated(
                "the admin API needs `Authorization: Bearer <operator key>`".into(),
            ));
        };
        let services = &self.state.services;
        let admin = services.authenticate_admin(key)?;
        services
            .rate_limits()
            .check_admin(&admin.key_id)
            .await
            .map_err(ServiceError::RateLimited)?;
        Ok(admin)
    }
}

/// The token of an `Authorization` value `Bearer <token>` (scheme in any case); `None`
/// for another scheme or an empty token.
pub(super) fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The bearer token of a request: `None` without an `Authorization` header, `Err` for one
/// that is not `Bearer <token>`.
fn bearer_token(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    Some(value.to_str().ok().and_then(bearer).ok_or(()))
}

/// Puts what an admitted requester's operations need into their data: who is asking, and
/// fresh loaders for them.
pub(super) fn attach_requester(data: &mut Data, state: &AppState, requester: Requester) {
    if let Some(loaders) = Loaders::for_requester(&state.services, &requester) {
        data.insert(loaders);
    }
    data.insert(requester);
}

/// Before the steps, for every routed request (`http::at_the_edge`): who the client is
/// (its address through the trusted proxies, where it is, its user agent), worked out
/// once and left in the request for its handler and the request log.
pub(super) fn identify_client(clients: &ClientLookup, request: &mut Request) {
    if let Some(ConnectInfo(peer)) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
    {
        let client = clients.client_info(peer, request.headers());
        request.extensions_mut().insert(client);
    }
}

/// The client [`identify_client`] found, for a handler.
pub(super) struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = EdgeRefusal;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        client_of(parts).map(Client)
    }
}

/// The client of a request, taken from it (one extractor per handler asks), or INTERNAL
/// if it was routed without [`identify_client`].
pub(super) fn client_of(parts: &mut Parts) -> Result<ClientInfo, EdgeRefusal> {
    parts.extensions.remove::<ClientInfo>().ok_or_else(|| {
        tracing::error!("a request was routed without its client identified");
        EdgeRefusal::Internal
    })
}
