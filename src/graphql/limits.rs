//! Rules on the shape of a query that async-graphql does not enforce itself: how many
//! aliases a document uses, how often one field repeats in a selection set, one root field
//! per subscription (the specification's "Single root field" rule), and (when
//! introspection is off) no `__schema`/`__type`, which async-graphql would silently answer
//! with null. Checked right after parsing, before validation, whose overlapping-fields rule
//! is quadratic in exactly these repetitions.

use std::{collections::HashMap, sync::Arc};

use super::refusals::DocumentRefusal;

use async_graphql::{
    Positioned, ServerError, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};

/// The shape limits, as an async-graphql extension.
#[derive(Debug, Clone, Copy)]
pub struct ShapeLimits {
    pub max_aliases: usize,
    pub max_field_repeats: usize,
    pub introspection: bool,
}

impl ExtensionFactory for ShapeLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ShapeLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        self.check(&document)?;
        Ok(document)
    }
}

/// How many fields `selection_set` selects at its own level, through fragments too. Past a
/// depth no valid document reaches (fragments cannot cycle) it stops counting: a cycle is
/// validation's to report.
fn root_fields(document: &ExecutableDocument, selection_set: &SelectionSet, depth: usize) -> usize {
    const MAX_FRAGMENT_DEPTH: usize = 16;
    if depth > MAX_FRAGMENT_DEPTH {
        return 0;
    }
    selection_set
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(fragment) => {
                root_fields(document, &fragment.node.selection_set.node, depth + 1)
            }
            Selection::FragmentSpread(spread) => document
                .fragments
                .get(&spread.node.fragment_name.node)
                .map_or(0, |fragment| {
                    root_fields(document, &fragment.node.selection_set.node, depth + 1)
                }),
        })
        .sum()
}

fn limit_error(refusal: DocumentRefusal, message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", refusal.code());
    error.extensions = Some(extensions);
    error
}

impl ShapeLimits {
    fn check(&self, document: &ExecutableDocument) -> ServerResult<()> {
        let selection_sets = document
            .operations
            .iter()
            .map(|(_, operation)| &operation.node.selection_set)
            .chain(document.fragments.values().map(|f| &f.node.selection_set));
        let mut aliases = 0;
        for selection_set in selection_sets {
            self.check_selection_set(selection_set, &mut aliases)?;
        }
        for (_, operation) in document.operations.iter() {
            let operation = &operation.node;
            if operation.ty == OperationType::Subscription
                && root_fields(document, &operation.selection_set.node, 0) > 1
            {
                return Err(limit_error(
                    DocumentRefusal::ValidationFailed,
                    "a subscription must select exactly one root field".to_owned(),
                ));
            }
        }
        Ok(())
    }

    fn check_selection_set(
        &self,
        selection_set: &Positioned<SelectionSet>,
        aliases: &mut usize,
    ) -> ServerResult<()> {
        let mut repeats: HashMap<&str, usize> = HashMap::new();
        for selection in &selection_set.node.items {
            let nested = match &selection.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    if !self.introspection && (name == "__schema" || name == "__type") {
                        return Err(limit_error(
                            DocumentRefusal::IntrospectionDisabled,
                            "introspection is disabled on this server".to_owned(),
                        ));
                    }
                    if field.node.alias.is_some() {
                        *aliases += 1;
                        if *aliases > self.max_aliases {
                            return Err(limit_error(
                                DocumentRefusal::TooManyAliases,
                                format!("a query may use at most {} aliases", self.max_aliases),
                            ));
                        }
                    }
                    let seen = repeats.entry(name).or_default();
                    *seen += 1;
                    if *seen > self.max_field_repeats {
                        return Err(limit_error(
                            DocumentRefusal::TooManyFieldRepeats,
                            format!(
                                "`{}` is selected more than {} times in one selection set",
                                field.node.name.node, self.max_field_repeats
                            ),
                        ));
                    }
                    &field.node.selection_set
                }
                Selection::InlineFragment(fragment) => &fragment.node.selection_set,
                Selection::FragmentSpread(_) => continue,
            };
            self.check_selection_set(nested, aliases)?;
        }
        Ok(())
    }
}
