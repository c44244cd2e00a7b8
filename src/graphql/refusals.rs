//! What the GraphQL layer refuses about a document before any resolver runs, each case
//! with its machine-readable code in one place: the shape limits (`limits`), the limits
//! async-graphql enforces itself, and documents or arguments that are wrong.

/// A document (or its variables) refused before execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocumentRefusal {
    /// The document does not parse or validate against the schema.
    ValidationFailed,
    /// An argument or variable has the wrong type or value.
    BadUserInput,
    /// `__schema`/`__type` while introspection is off.
    IntrospectionDisabled,
    /// More aliases than the configured limit.
    TooManyAliases,
    /// One field repeated in a selection set more than the configured limit.
    TooManyFieldRepeats,
    /// Nested deeper than the configured limit.
    TooDeep,
    /// Over the configured complexity.
    TooComplex,
    /// More directives on one field than async-graphql allows.
    TooManyDirectives,
    /// Recursion deeper than async-graphql allows.
    RecursionLimitExceeded,
}

impl DocumentRefusal {
    /// The `extensions.code` it is sent with.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::ValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::IntrospectionDisabled => "INTROSPECTION_DISABLED",
            Self::TooManyAliases => "TOO_MANY_ALIASES",
            Self::TooManyFieldRepeats => "TOO_MANY_FIELD_REPEATS",
            Self::TooDeep => "QUERY_TOO_DEEP",
            Self::TooComplex => "QUERY_TOO_COMPLEX",
            Self::TooManyDirectives => "TOO_MANY_DIRECTIVES",
            Self::RecursionLimitExceeded => "RECURSION_LIMIT_EXCEEDED",
        }
    }
}
