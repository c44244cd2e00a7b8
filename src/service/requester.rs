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
    /// The caller's own account, the only one its reads may return rows of.
    pub fn account(&self) -> Account<'_> {
        Account(&self.user_id)
    }

    /// The actor, unless its session waits for confirmation.
    pub fn confirmed(&self) -> ServiceResult<&Self> {
        if self.pending {
            return Err(ServiceError::SignInPending);
        }
        Ok(self)
    }
}

/// Whose rows a read returns: a session's own account ([`Actor::account`]), or the one
/// an administrator reads ([`Viewer::account`]). Made only from those two, so a read cannot
/// be pointed at an account by a bare string.
#[derive(Debug, Clone, Copy)]
pub struct Account<'a>(&'a str);

impl<'a> Account<'a> {
    pub fn user_id(self) -> &'a str {
        self.0
    }
}

/// Who is looking at an account's rows, which decides which of them are its own (the
/// `current` session and device).
#[derive(Debug, Clone)]
pub enum Viewer {
    /// The user, through one of their sessions: that session and its device are current.
    Session(Arc<Actor>),
    /// An administrator reading the account (`Services::administrator_view`): nothing in
    /// it is theirs.
    Administrator { user_id: Arc<str> },
}

impl Viewer {
    /// The account being looked at.
    pub fn account(&self) -> Account<'_> {
        match self {
            Viewer::Session(actor) => actor.account(),
            Viewer::Administrator { user_id } => Account(user_id),
        }
    }

    /// Whether session `id` is the one looking.
    pub fn is_current_session(&self, id: Uuid) -> bool {
        matches!(self, Viewer::Session(actor) if actor.session_id == id)
    }

    /// Whether device `id` is the one looking.
    pub fn is_current_device(&self, id: Uuid) -> bool {
        matches!(self, Viewer::Session(actor) if actor.device_id == id)
    }
}

impl From<&Arc<Actor>> for Viewer {
    fn from(actor: &Arc<Actor>) -> Self {
        Viewer::Session(actor.clone())
    }
}

impl From<&Viewer> for Viewer {
    fn from(viewer: &Viewer) -> Self {
        viewer.clone()
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
