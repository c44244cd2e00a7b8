//! The examples the compat tests replay are the seeds' own: where the seeds are beside
//! the repository (as in CI), every Flashback and laravel-devices example in
//! `tests/fixtures/seeds/` must still be one of its seed's JSON bodies. Ruuvi's seed
//! gives schemas only, so its bodies are checked against those schemas' required fields,
//! and `ruuvi-openapi.json` must be its fragments merged, nothing else.

use serde_json::Value;

use super::seed_examples;

fn seed_text(seed: &str) -> Option<String> {
    let path = format!("{}/../shared/seeds/{seed}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).ok()
}

/// Every JSON object in `text` that starts a line.
fn json_bodies(text: &str) -> Vec<Value> {
    let mut bodies = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('{') {
            let start = offset + (line.len() - line.trim_start().len());
            let mut stream =
                serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
            if let Some(Ok(body)) = stream.next() {
                bodies.push(body);
            }
        }
        offset += line.len();
    }
    bodies
}

#[test]
fn the_replayed_examples_are_the_seeds_own() {
    for api in ["flashback", "laravel"] {
        for example in seed_examples(api) {
            let Some(text) = seed_text(&example.seed) else {
                eprintln!("skipped: no seed {} beside the repository", example.seed);
                continue;
            };
            assert!(
                json_bodies(&text).contains(&example.example),
                "{api} {}: the example is not in {}",
                example.request,
                example.seed
            );
        }
    }
}

#[test]
fn ruuvis_bodies_have_every_field_its_schemas_require() {
    for example in seed_examples("ruuvi") {
        let Some(text) = seed_text(&example.seed) else {
            eprintln!("skipped: no seed {} beside the repository", example.seed);
            continue;
        };
        let documents = json_bodies(&text);
        let schemas = &documents[0]["components"]["schemas"];
        let body = &example.example;
        let (schema, fields) = if body["result"] == "error" {
            ("Error", body)
        } else {
            ("Success", body)
        };
        for required in schemas[schema]["required"].as_array().unwrap() {
            assert!(
                fields.get(required.as_str().unwrap()).is_some(),
                "{}: no `{required}`",
                example.request
            );
        }
        for session in body["data"]["sessions"].as_array().into_iter().flatten() {
            for required in schemas["Session"]["required"].as_array().unwrap() {
                assert!(session.get(required.as_str().unwrap()).is_some());
            }
        }
    }
}

#[test]
fn ruuvis_document_is_its_seeds_fragments_merged() {
    let path = format!(
        "{}/tests/fixtures/seeds/ruuvi-openapi.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let merged: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let Some(text) = seed_text("004_b452b2b86564c478.txt") else {
        eprintln!("skipped: no Ruuvi seed beside the repository");
        return;
    };
    let fragments = json_bodies(&text);
    let mut operations = 0;
    for fragment in &fragments {
        for (path, methods) in fragment["paths"].as_object().unwrap() {
            for (method, operation) in methods.as_object().unwrap() {
                assert_eq!(&merged["paths"][path][method], operation, "{method} {path}");
                operations += 1;
            }
            for (name, schema) in fragment["components"]["schemas"].as_object().unwrap() {
                assert_eq!(&merged["components"]["schemas"][name], schema, "{name}");
            }
        }
    }
    let merged_operations: usize = merged["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|methods| methods.as_object().unwrap().len())
        .sum();
    assert_eq!((operations, merged_operations), (3, 3));
}
