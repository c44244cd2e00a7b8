//! What a connection holds once `connection_init` admitted it: whose it is, what its
//! subscriptions share, the subscriptions themselves, and which of them are still to be
//! observed at their first answer.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use async_graphql::Data;
use futures_util::stream::BoxStream;
use tokio::sync::{Notify, watch};
use tokio_stream::StreamMap;

use crate::{
    graphql::{FellBehind, SignOutNotice},
    http::{
        AppState, edge::attach_requester, observe::WebsocketOperation,
        websocket::operation::Outcome,
    },
    service::{Actor, ClientInfo, Requester, SessionEnd},
};

/// The live subscriptions of a connection, each a stream of what the connection must do.
pub(super) type Subscriptions = StreamMap<String, BoxStream<'static, Outcome>>;

/// A connection past `connection_init`: whose it is, and its subscriptions.
pub(super) struct Live {
    pub(super) actor: Arc<Actor>,
    /// What every subscription of the connection shares: requester, loaders, sign-out notice.
    pub(super) data: Arc<Data>,
    pub(super) subscriptions: Subscriptions,
    /// Ids of the subscriptions to `signedOut`, the only ones that outlive the session.
    pub(super) signed_out_ids: HashSet<String>,
    pub(super) notify_sign_out: watch::Sender<Option<SessionEnd>>,
    /// Operations refused since the last one admitted.
    pub(super) refused_in_a_row: u32,
    /// Operations not yet answered, observed at their first answer (`observe`).
    pub(super) unanswered: HashMap<String, WebsocketOperation>,
}

impl Live {
    /// The connection of `actor`'s session, just admitted; with the notice its
    /// subscriptions give when one of them fell behind.
    pub(super) fn new(state: &AppState, actor: Arc<Actor>) -> (Self, Arc<Notify>) {
        let (notify_sign_out, sign_out_notice) = watch::channel(None);
        let mut data = Data::default();
        attach_requester(&mut data, state, Requester::Session(actor.clone()));
        data.insert(SignOutNotice(sign_out_notice));
        let fell_behind = Arc::new(Notify::new());
        data.insert(FellBehind(fell_behind.clone()));
        let live = Live {
            actor,
            data: Arc::new(data),
            subscriptions: Subscriptions::new(),
            signed_out_ids: HashSet::new(),
            notify_sign_out,
            refused_in_a_row: 0,
            unanswered: HashMap::new(),
        };
        (live, fell_behind)
    }

    /// Observes operation `id`'s first answer, `code`; later answers are not requests.
    pub(super) fn answered(&mut self, state: &AppState, client: &ClientInfo, id: &str, code: &str) {
        if let Some(operation) = self.unanswered.remove(id) {
            operation.answered(state, client, code);
        }
    }

    /// The connection ends: operations that never answered are observed as they stand.
    pub(super) fn end(&mut self, state: &AppState, client: &ClientInfo) {
        for (_, operation) in self.unanswered.drain() {
            operation.answered(state, client, "OK");
        }
    }
}
