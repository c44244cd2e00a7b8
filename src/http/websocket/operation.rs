//! One operation sent over a connection, as a stream of what the connection must do with
//! it: admitted or refused, its results, its end.

use std::sync::Arc;

use async_graphql::{Data, Request, Response};
use futures_util::{
    StreamExt,
    stream::{self, BoxStream},
};

use crate::{
    http::{
        AppState,
        edge::{Edge, OperationRefused},
    },
    service::{Actor, ClientInfo, ServiceError, SessionEnd},
    telemetry::metrics,
};

/// What one operation of a connection came to. Admission runs inside the operation's own
/// stream, so the connection goes on serving the others (and frees their database
/// connections) while one waits for its checks.
pub(super) enum Outcome {
    /// It passed its checks and runs.
    Admitted,
    /// A check refused it, as over HTTP: a rate limit, or a failed read.
    Refused(ServiceError),
    /// The connection's own session has ended: it signs out.
    SessionEnded(SessionEnd),
    /// Its next result.
    Next(Response),
    /// It has no more results.
    Finished,
}

/// Who sent an operation, and whether it may outlive its session.
pub(super) struct Operation {
    pub state: AppState,
    pub client: ClientInfo,
    pub actor: Arc<Actor>,
    /// A `signedOut` subscription, which must not be refused for its session's end.
    pub outlives: bool,
}

impl Operation {
    /// Admits `request`, then runs it with the connection's shared `data`.
    pub(super) fn run(self, request: Request, data: Arc<Data>) -> BoxStream<'static, Outcome> {
        let run = async move {
            // Boxed: the admission's state is freed once it is done, not kept for as long
            // as the subscription lives.
            if let Err(refused) = Box::pin(self.admit()).await {
                return stream::once(async { refused }).boxed();
            }
            let running = metrics::subscription();
            let responses = self
                .state
                .schema
                .execute_stream_with_session_data(request, data)
                .map(move |response| {
                    // Counted as running for as long as its stream lives.
                    let _ = &running;
                    Outcome::Next(response)
                });
            stream::once(async { Outcome::Admitted })
                .chain(responses)
                .chain(stream::once(async { Outcome::Finished }))
                .boxed()
        };
        stream::once(run).flatten().boxed()
    }

    /// The edge's steps, as over HTTP (`edge::Edge::admit_operation`). The refusal, when
    /// there is one, is the operation's only outcome.
    async fn admit(&self) -> Result<(), Outcome> {
        Edge::new(&self.state, &self.client)
            .admit_operation(&self.actor, self.outlives)
            .await
            .map_err(|refused| match refused {
                OperationRefused::Refused(error) => Outcome::Refused(error),
                OperationRefused::SessionEnded(end) => Outcome::SessionEnded(end),
            })
    }
}
