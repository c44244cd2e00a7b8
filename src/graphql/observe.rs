//! What operators see of each GraphQL request over HTTP: one log line at info (operation
//! name, outcome code, duration, client) and its metrics. (async-graphql runs no request
//! hook for operations over a websocket; the connection counts those.)

use std::{
    any::TypeId,
    sync::{Arc, Mutex},
    time::Instant,
};

use async_graphql::{
    Request, Response, ServerResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
        NextPrepareRequest, NextRequest,
    },
    parser::types::{DocumentOperations, ExecutableDocument},
};

use super::error_code;
use crate::telemetry::{logging::LoggedClient, metrics};

/// Registered first, so that what it times includes parsing and validation.
pub(super) struct Observe;

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Observed::default())
    }
}

/// What one request's log line says beyond its outcome, as it becomes known.
#[derive(Default)]
struct Observed(Mutex<Seen>);

#[derive(Default)]
struct Seen {
    operation: Option<String>,
    client: Option<String>,
}

impl Observed {
    fn name(&self, name: Option<&str>) {
        if let (Some(name), Ok(mut seen)) = (name, self.0.lock()) {
            seen.operation = Some(name.to_owned());
        }
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Observed {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // The name the client gave: all there is when the document fails to parse.
        self.name(request.operation_name.as_deref());
        // The request's data is not the hooks' context yet: read the client from it here.
        let client = request
            .data
            .get(&TypeId::of::<LoggedClient>())
            .and_then(|client| client.downcast_ref::<LoggedClient>())
            .and_then(|client| client.0.clone());
        if let Ok(mut seen) = self.0.lock() {
            seen.client = client;
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        // The document's one named operation: its name when validation then fails.
        if let DocumentOperations::Multiple(operations) = &document.operations
            && let [name] = operations.keys().collect::<Vec<_>>()[..]
            && let Ok(mut seen) = self.0.lock()
            && seen.operation.is_none()
        {
            seen.operation = Some(name.to_string());
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        // The operation chosen, named in the document when the client named none.
        self.name(operation_name);
        next.run(ctx, operation_name).await
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let elapsed = started.elapsed();
        let code = response.errors.first().map_or("OK", error_code);
        let Seen { operation, client } = self
            .0
            .lock()
            .map(|mut seen| std::mem::take(&mut *seen))
            .unwrap_or_default();
        metrics::operation(operation.as_deref(), code, elapsed);
        tracing::info!(
            operation = operation.as_deref().unwrap_or("(anonymous)"),
            code,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            client,
            "graphql request"
        );
        response
    }
}
