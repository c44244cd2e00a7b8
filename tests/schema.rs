//! The checked-in `schema.graphql` is what the code serves, and it stays a compatible
//! superset of the public contract every client relies on.

use std::{collections::HashMap, path::Path};

use async_graphql::parser::{
    parse_schema,
    types::{BaseType, InputValueDefinition, Type, TypeDefinition, TypeKind, TypeSystemDefinition},
};

const REGENERATE: &str = "run `cargo run -- print-schema > schema.graphql` and commit it";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn repo_file(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

#[test]
fn checked_in_schema_matches_the_code() {
    let checked_in = read(&repo_file("schema.graphql"));
    assert!(
        checked_in == sessionhub::graphql::schema_sdl(),
        "schema.graphql is out of date: {REGENERATE}"
    );
}

#[test]
fn checked_in_admin_schema_matches_the_code() {
    let checked_in = read(&repo_file("docs/admin-schema.graphql"));
    assert!(
        checked_in == sessionhub::graphql::admin_schema_sdl(),
        "docs/admin-schema.graphql is out of date: run `cargo run -- print-schema --admin > docs/admin-schema.graphql` and commit it"
    );
}

#[test]
fn checked_in_openapi_documents_match_the_code() {
    let defaults = sessionhub::config::Config::default();
    for api in sessionhub::config::CompatApi::ALL {
        let name = api.name();
        let path = format!("docs/openapi/{name}.json");
        let checked_in = read(&repo_file(&path));
        assert!(
            checked_in == sessionhub::http::openapi_json(api, defaults.compat.prefix(api)),
            "{path} is out of date: run `cargo run -- print-openapi {name} > {path}` and commit it"
        );
    }
}

#[test]
fn schema_is_a_compatible_superset_of_the_contract() {
    let contract = read(&repo_file("tests/contract/schema-contract.graphql"));
    let problems = compatibility_problems(&contract, &read(&repo_file("schema.graphql")));
    assert!(
        problems.is_empty(),
        "schema.graphql breaks the contract:\n{}",
        problems.join("\n")
    );
}

/// Our copy of the contract keeps the test self-contained; where the shared original is
/// beside the repository (as in CI), the copy must not have drifted from it.
#[test]
fn contract_copy_matches_the_shared_contract() {
    let shared = repo_file("../shared/contract/schema-contract.graphql");
    if !shared.exists() {
        eprintln!("skipped: no shared contract at {}", shared.display());
        return;
    }
    assert_eq!(
        read(&shared),
        read(&repo_file("tests/contract/schema-contract.graphql")),
        "tests/contract/schema-contract.graphql differs from the shared contract: copy it again"
    );
}

fn types_by_name(sdl: &str) -> HashMap<String, TypeDefinition> {
    let document = parse_schema(sdl).expect("the SDL parses");
    document
        .definitions
        .into_iter()
        .filter_map(|definition| match definition {
            TypeSystemDefinition::Type(ty) => Some((ty.node.name.node.to_string(), ty.node)),
            _ => None,
        })
        .collect()
}

/// An output may be the contract's type or stricter (non-null where it was nullable).
fn output_compatible(contract: &Type, ours: &Type) -> bool {
    if ours.nullable && !contract.nullable {
        return false;
    }
    base_compatible(&contract.base, &ours.base, output_compatible)
}

/// An input may be the contract's type or looser (nullable where it was non-null).
fn input_compatible(contract: &Type, ours: &Type) -> bool {
    if !ours.nullable && contract.nullable {
        return false;
    }
    base_compatible(&contract.base, &ours.base, input_compatible)
}

fn base_compatible(contract: &BaseType, ours: &BaseType, inner: fn(&Type, &Type) -> bool) -> bool {
    match (contract, ours) {
        (BaseType::Named(a), BaseType::Named(b)) => a == b,
        (BaseType::List(a), BaseType::List(b)) => inner(a, b),
        _ => false,
    }
}

fn check_inputs(
    place: &str,
    contract: &[&InputValueDefinition],
    ours: &[&InputValueDefinition],
    problems: &mut Vec<String>,
) {
    for wanted in contract {
        let name = &wanted.name.node;
        match ours.iter().find(|ours| &ours.name.node == name) {
            None => problems.push(format!("{place}: missing input `{name}`")),
            Some(found) if !input_compatible(&wanted.ty.node, &found.ty.node) => {
                problems.push(format!(
                    "{place}: input `{name}` is {} where the contract has {}",
                    found.ty.node, wanted.ty.node
                ))
            }
            Some(_) => {}
        }
    }
    for extra in ours {
        let required = !extra.ty.node.nullable && extra.default_value.is_none();
        if required && !contract.iter().any(|c| c.name.node == extra.name.node) {
            problems.push(format!(
                "{place}: new required input `{}` breaks existing clients",
                extra.name.node
            ));
        }
    }
}

/// Everything the contract names that our schema lacks or types incompatibly.
fn compatibility_problems(contract_sdl: &str, ours_sdl: &str) -> Vec<String> {
    let ours = types_by_name(ours_sdl);
    let mut problems = Vec::new();
    let mut contract: Vec<_> = types_by_name(contract_sdl).into_iter().collect();
    contract.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, wanted) in contract {
        let Some(found) = ours.get(&name) else {
            problems.push(format!("missing type `{name}`"));
            continue;
        };
        match (&wanted.kind, &found.kind) {
            (TypeKind::Scalar, TypeKind::Scalar) => {}
            (TypeKind::Object(wanted), TypeKind::Object(found)) => {
                for field in &wanted.fields {
                    let field_name = &field.node.name.node;
                    let Some(ours_field) = found
                        .fields
                        .iter()
                        .find(|f| &f.node.name.node == field_name)
                    else {
                        problems.push(format!("`{name}.{field_name}` is missing"));
                        continue;
                    };
                    if !output_compatible(&field.node.ty.node, &ours_field.node.ty.node) {
                        problems.push(format!(
                            "`{name}.{field_name}` is {} where the contract has {}",
                            ours_field.node.ty.node, field.node.ty.node
                        ));
                    }
                    let wanted_args: Vec<_> =
                        field.node.arguments.iter().map(|a| &a.node).collect();
                    let ours_args: Vec<_> =
                        ours_field.node.arguments.iter().map(|a| &a.node).collect();
                    check_inputs(
                        &format!("`{name}.{field_name}`"),
                        &wanted_args,
                        &ours_args,
                        &mut problems,
                    );
                }
            }
            (TypeKind::Enum(wanted), TypeKind::Enum(found)) => {
                for value in &wanted.values {
                    let value = &value.node.value.node;
                    if !found.values.iter().any(|v| &v.node.value.node == value) {
                        problems.push(format!("enum `{name}` lacks `{value}`"));
                    }
                }
            }
            (TypeKind::InputObject(wanted), TypeKind::InputObject(found)) => {
                let wanted_fields: Vec<_> = wanted.fields.iter().map(|f| &f.node).collect();
                let ours_fields: Vec<_> = found.fields.iter().map(|f| &f.node).collect();
                check_inputs(
                    &format!("input `{name}`"),
                    &wanted_fields,
                    &ours_fields,
                    &mut problems,
                );
            }
            _ => problems.push(format!(
                "`{name}` is a different kind of type than in the contract"
            )),
        }
    }
    problems
}

/// The checker itself must catch each way a schema can break the contract.
#[test]
fn compatibility_checker_catches_each_kind_of_break() {
    let contract = r#"
        enum Color { RED GREEN }
        input Filter { name: String, limit: Int! }
        type Item { id: ID!, tags: [String!]!, note: String }
        type Query { items(filter: Filter, first: Int = 10): [Item!]! }
    "#;
    let compatible = r#"
        enum Color { RED GREEN BLUE }
        input Filter { name: String, limit: Int, extra: Boolean }
        type Item { id: ID!, tags: [String!]!, note: String!, added: Int }
        type Query { items(filter: Filter, first: Int = 10, after: String): [Item!]! }
        type Extra { x: Int }
    "#;
    assert_eq!(
        compatibility_problems(contract, compatible),
        Vec::<String>::new()
    );

    let breaks = [
        (
            "enum Color { RED } input Filter { name: String, limit: Int! } type Item { id: ID!, tags: [String!]!, note: String } type Query { items(filter: Filter, first: Int = 10): [Item!]! }",
            "lacks `GREEN`",
        ),
        (
            "enum Color { RED GREEN } input Filter { name: String, limit: Int! } type Item { id: ID, tags: [String!]!, note: String } type Query { items(filter: Filter, first: Int = 10): [Item!]! }",
            "`Item.id` is ID",
        ),
        (
            "enum Color { RED GREEN } input Filter { name: String, limit: Int! } type Item { id: ID!, tags: [String]!, note: String } type Query { items(filter: Filter, first: Int = 10): [Item!]! }",
            "`Item.tags`",
        ),
        (
            "enum Color { RED GREEN } input Filter { name: String, limit: Int! } type Item { id: ID!, tags: [String!]! } type Query { items(filter: Filter, first: Int = 10): [Item!]! }",
            "`Item.note` is missing",
        ),
        (
            "enum Color { RED GREEN } input Filter { name: String!, limit: Int! } type Item { id: ID!, tags: [String!]!, note: String } type Query { items(filter: Filter, first: Int = 10): [Item!]! }",
            "input `name` is String!",
        ),
        (
            "enum Color { RED GREEN } input Filter { name: String, limit: Int!, must: Int! } type Item { id: ID!, tags: [String!]!, note: String } type Query { items(filter: Filter, first: Int = 10): [Item!]! }",
            "new required input `must`",
        ),
        (
            "enum Color { RED GREEN } input Filter { name: String, limit: Int! } type Item { id: ID!, tags: [String!]!, note: String } type Query { items(filter: Filter, first: Int! = 10): [Item!]! }",
            "input `first` is Int!",
        ),
        (
            "enum Color { RED GREEN } input Filter { name: String, limit: Int! } type Item { id: ID!, tags: [String!]!, note: String } type Query { items(filter: Filter, first: Int = 10, page: Int!): [Item!]! }",
            "new required input `page`",
        ),
        (
            "enum Color { RED GREEN } input Filter { name: String, limit: Int! } type Item { id: ID!, tags: [String!]!, note: String } type Query { items(filter: Filter): [Item!]! }",
            "missing input `first`",
        ),
        (
            "enum Color { RED GREEN } input Filter { name: String, limit: Int! } scalar Item type Query { items(filter: Filter, first: Int = 10): [Item!]! }",
            "different kind",
        ),
        (
            "enum Color { RED GREEN } input Filter { name: String, limit: Int! } type Item { id: ID!, tags: [String!]!, note: String }",
            "missing type `Query`",
        ),
    ];
    for (ours, expected) in breaks {
        let problems = compatibility_problems(contract, ours);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "expected a problem containing {expected:?}, got {problems:?}"
        );
    }
}
