//! The layering `docs/architecture.md` draws, kept true: each top-level module of the
//! crate may use only the modules below it, so the import graph has no circle and
//! configuration stays a leaf.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// What each module may use, outermost first. `app` wires everything and may use all.
const ALLOWED: &[(&str, &[&str])] = &[
    // Live features are service operations: the transports never reach the event bus.
    (
        "http",
        &["graphql", "service", "shared_redis", "config", "telemetry"],
    ),
    ("graphql", &["service", "config", "telemetry"]),
    ("webhooks", &["service", "config", "telemetry"]),
    (
        "service",
        &["events", "tokens", "clock", "shared_redis", "telemetry"],
    ),
    ("tokens", &["clock", "config"]),
    ("events", &["shared_redis"]),
    ("shared_redis", &[]),
    ("telemetry", &["config"]),
    ("clock", &[]),
    ("config", &[]),
];

/// The crate's top-level modules that `source` names through `crate::`.
fn used_modules(source: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for (start, _) in source.match_indices("crate::") {
        let rest = &source[start + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::X, b::{Y, Z}}`: the names at the group's first level.
            let (mut depth, mut name, mut at_start) = (0, String::new(), true);
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => at_start = true,
                    c if depth == 0 && at_start && (c.is_alphanumeric() || c == '_') => {
                        name.push(c)
                    }
                    _ if !name.is_empty() => {
                        used.insert(std::mem::take(&mut name));
                        at_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            used.insert(name);
        }
    }
    used
}

fn sources(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the source tree") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut breaches = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_str().unwrap().trim_end_matches(".rs");
        let Some(may_use) = allowed.get(module) else {
            continue; // app, lib and main wire the layers together
        };
        let source = std::fs::read_to_string(&file).unwrap();
        for used in used_modules(&source) {
            if used != module
                && allowed.contains_key(used.as_str())
                && !may_use.contains(&used.as_str())
            {
                breaches.push(format!("{} uses crate::{used}", relative.display()));
            }
        }
    }
    assert!(
        breaches.is_empty(),
        "layering broken:\n{}",
        breaches.join("\n")
    );
}

#[test]
fn imports_are_read_at_their_first_level_only() {
    let used = used_modules(
        "use crate::{config::{A, B}, service::{self, x::Y}};\nfn f() { crate::tokens::z(); }",
    );
    let expected: BTreeSet<String> = ["config", "service", "tokens"].map(String::from).into();
    assert_eq!(used, expected);
}

/// How a caller is admitted, which `http/edge.rs` alone decides: the calls that check a
/// token, an operator key or a rate.
const ADMISSION_CALLS: &[&str] = &[
    ".authenticate(",
    ".authenticate_admin(",
    ".check_client(",
    ".check_session_rate(",
    ".check_admin(",
];

#[test]
fn the_http_surface_admits_callers_at_its_edge_only() {
    let elsewhere = found_outside("http/edge.rs", ADMISSION_CALLS);
    assert!(
        elsewhere.is_empty(),
        "admission outside http/edge.rs:\n{}",
        elsewhere.join("\n")
    );
}

/// Statements on the event tables, which `events/store.rs` alone runs: the service decides
/// what to record, the store writes and reads it (tests aside).
const EVENT_TABLE_STATEMENTS: &[&str] = &["account_event::Entity::", "account_cursor::Entity::"];

#[test]
fn the_event_tables_have_one_owner() {
    let elsewhere = found_outside("events/store.rs", EVENT_TABLE_STATEMENTS);
    assert!(
        elsewhere.is_empty(),
        "event-table statements outside events/store.rs:\n{}",
        elsewhere.join("\n")
    );
}

/// Where any of `needles` appears in `src/` outside the file `owner` (a path below
/// `src/`), as `file: needle`. A file's unit tests (after its `#[cfg(test)]`) do not count:
/// they may set things up as they need.
fn found_outside(owner: &str, needles: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        if relative == Path::new(owner) {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        let code = source.split("#[cfg(test)]").next().unwrap_or_default();
        for needle in needles {
            if code.contains(needle) {
                found.push(format!("{}: {needle}", relative.display()));
            }
        }
    }
    found
}
