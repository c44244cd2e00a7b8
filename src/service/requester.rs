//! Who is calling: a bearer token turned, once per request, into the requester it proves.

use std::sync::Arc;

use uuid::Uuid;

use super::{ServiceError, ServiceResult, Services};
use crate::tokens::{Identity, TokenError, TokenKeys};

/// What the request says about the client: its address, location and user agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip_address: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub user_agent: Option<String>,
}

/// A request made with a valid session token of a session that is still active.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub session_id: Uuid,
    pub device_id: Uuid,
    pub client: ClientInfo,
    /// The session waits for its new device to be confirmed from another session (the
    /// confirmation policy): until then it may only read itself, keep itself alive and
    /// sign out.
    pub pending: bool,
}

impl Actor {
    /// The actor, unless its session waits for confirmation.
    pub fn confirmed(&self) -> ServiceResult<&Self> {
        if self.pending {
            return Err(ServiceError::SignInPending);
        }
        Ok(self)
    }
}

/// Who is calling, resolved once per request from its bearer token.
#[derive(Debug, Clone)]
pub enum Requester {
    /// No token: only the schema can be explored.
    Anonymous,
    /// An identity token from the product's login: may only start a session.
    Identity(Identity, ClientInfo),
    /// A session token of an active session.
    Session(Arc<Actor>),
}

impl Requester {
    /// The user the token proves, whose records (and only whose) the request may read.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Requester::Anonymous => None,
            Requester::Identity(identity, _) => Some(&identity.user_id),
            Requester::Session(actor) => Some(&actor.user_id),
        }
    }
}

impl Services {
    /// Turns a bearer token into the requester it proves. A session token is accepted only
    /// while its session is active: ended or expired sessions are refused at once.
    pub async fn authenticate(&self, token: &str, client: ClientInfo) -> ServiceResult<Requester> {
        let now = self.now();
        let unauthenticated =
            |e: TokenError| ServiceError::Unauthenticated(format!("invalid bearer token: {e}"));
        if !TokenKeys::is_session_token(token).map_err(unauthenticated)? {
            let identity = self
                .tokens
                .verify_identity(token, now)
                .map_err(unauthenticated)?;
            return Ok(Requester::Identity(identity, client));
        }
        let (user_id, session_id) = match self.tokens.verify_session(token, now) {
            Ok(claims) => claims,
            // Our own token's expiry is its session's absolute lifetime: the session ended.
            Err(TokenError::Expired) => return Err(ServiceError::SessionEnded),
            Err(error) => return Err(unauthenticated(error)),
        };
        let session = self
            .active_session(&user_id, session_id)
            .await?
            .ok_or(ServiceError::SessionEnded)?;
        Ok(Requester::Session(Arc::new(Actor {
            user_id,
            session_id,
            device_id: session.device_id,
            client,
            pending: session.pending,
        })))
    }
}
