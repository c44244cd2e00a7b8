//! Parsed documents, cached by query text. A client sends the same few queries over and
//! over, and parsing one (pest, then building the document) cost more CPU than resolving
//! the whole devices page from memory (docs/performance.md). A hit is a clone of the
//! document that passed the parse-time checks of the extensions after this one
//! ([`super::limits::ShapeLimits`]); what fails them is never cached, so it fails again.

use std::sync::Arc;

use async_graphql::{
    ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{DocumentOperations, ExecutableDocument},
};
use moka::sync::Cache;

/// Query text the cache holds at most, summed over its documents. A parsed document takes
/// roughly twenty times its text, so this bounds the cache to a few MiB however many
/// distinct queries clients send.
const MAX_CACHED_TEXT_BYTES: u64 = 256 * 1024;

/// The cache, shared by every request of a schema.
#[derive(Clone)]
pub struct DocumentCache(Cache<String, Arc<ExecutableDocument>>);

impl Default for DocumentCache {
    fn default() -> Self {
        Self::new()
    }
}

impl DocumentCache {
    pub fn new() -> Self {
        Self(
            Cache::builder()
                .max_capacity(MAX_CACHED_TEXT_BYTES)
                .weigher(|query: &String, _| u32::try_from(query.len()).unwrap_or(u32::MAX))
                .build(),
        )
    }

    /// The name of the operation a request with `query` and `operation_name` ran, taken
    /// from its parsed document (while cached): what its log line and metrics call it. A
    /// name the client gave counts only when the document has such an operation, so the
    /// client cannot write free text into either. `None` for an anonymous operation, a
    /// name the document lacks, or several operations and no name.
    pub fn operation_name(&self, query: &str, operation_name: Option<&str>) -> Option<String> {
        let DocumentOperations::Multiple(operations) = &self.0.get(query)?.operations else {
            return None;
        };
        let name = match operation_name {
            Some(wanted) => operations.keys().find(|name| name.as_str() == wanted),
            None if operations.len() == 1 => operations.keys().next(),
            None => None,
        };
        name.map(ToString::to_string)
    }

    /// How many documents are cached, once pending insertions have been applied.
    #[cfg(test)]
    fn len(&self) -> u64 {
        self.0.run_pending_tasks();
        self.0.entry_count()
    }
}

impl ExtensionFactory for DocumentCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for DocumentCache {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if let Some(document) = self.0.get(query) {
            return Ok((*document).clone());
        }
        // Parsing does not depend on the variables: one document serves them all.
        let document = next.run(ctx, query, variables).await?;
        self.0.insert(query.to_owned(), Arc::new(document.clone()));
        Ok(document)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::*;
    use crate::graphql::limits::ShapeLimits;

    struct Query;

    #[Object]
    impl Query {
        async fn answer(&self, plus: i32) -> i32 {
            42 + plus
        }
    }

    fn schema(cache: &DocumentCache) -> Schema<Query, EmptyMutation, EmptySubscription> {
        Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(cache.clone())
            .extension(ShapeLimits {
                max_aliases: 1,
                max_field_repeats: 10,
                introspection: true,
            })
            .finish()
    }

    #[tokio::test]
    async fn a_query_is_parsed_once_and_answered_alike_with_other_variables() {
        let cache = DocumentCache::new();
        let schema = schema(&cache);
        let query = "query ($plus: Int!) { answer(plus: $plus) }";
        let ask = |plus: i32| {
            async_graphql::Request::new(query)
                .variables(Variables::from_json(serde_json::json!({ "plus": plus })))
        };
        let first = schema.execute(ask(0)).await.into_result().unwrap();
        let second = schema.execute(ask(1)).await.into_result().unwrap();
        assert_eq!(first.data.to_string(), "{answer: 42}");
        assert_eq!(second.data.to_string(), "{answer: 43}");
        assert_eq!(cache.len(), 1);
    }

    #[tokio::test]
    async fn a_document_the_limits_refuse_is_not_cached_and_refused_again() {
        let cache = DocumentCache::new();
        let schema = schema(&cache);
        let two_aliases = "{ a: answer(plus: 1) b: answer(plus: 2) }";
        for _ in 0..2 {
            let response = schema.execute(two_aliases).await;
            assert_eq!(response.errors.len(), 1, "{:?}", response.errors);
        }
        assert_eq!(cache.len(), 0);
    }
}
