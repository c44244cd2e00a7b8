//! The seed REST APIs served beside GraphQL: off unless enabled, each replaying its
//! seed's examples, and each call the same service call GraphQL makes, so a REST revoke
//! ends the session, writes the security log and pushes to subscribers like any other.

mod flashback;
mod laravel;
mod ruuvi;
mod seeds;

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use sessionhub::config::{CompatApi, Config};

use crate::helpers::TestApp;

crate::on_both_databases!(compat_apis_are_not_served_unless_enabled);

mod served {
    use super::*;

    crate::on_both_databases!(
        configured crate::compat::serve_all;
        identity_tokens_and_no_tokens_are_refused_in_each_apis_words,
        each_api_serves_its_openapi_document,
        oversized_bodies_and_undecodable_paths_are_refused_in_each_apis_words,
    );
}

mod in_production {
    use super::*;

    crate::on_both_databases!(
        configured |config| {
            crate::compat::serve_all(config);
            config.api.production = true;
        };
        production_serves_the_apis_but_not_their_documents,
    );
}

mod at_custom_prefixes {
    use super::*;

    crate::on_both_databases!(
        configured |config| {
            crate::compat::serve_all(config);
            config.compat.ruuvi_prefix = "/ruuvi/v1".into();
        };
        an_api_is_served_at_its_configured_prefix,
    );
}

/// Serves every compatibility API at its default prefix.
pub fn serve_all(config: &mut Config) {
    config.compat.compat_apis = CompatApi::ALL.to_vec();
}

/// A REST answer: status, headers and JSON body (`null` when there is none).
#[derive(Debug)]
pub struct Rest {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Rest {
    /// Asserts the status, showing the body when it differs.
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }
}

/// Sends `method path` (the prefix included) with an optional bearer token and JSON body.
pub async fn rest(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Rest {
    let mut request = app.http.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send the request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    Rest {
        status,
        headers,
        body,
    }
}

async fn compat_apis_are_not_served_unless_enabled(app: TestApp) {
    let alice = app.sign_in("alice").await;
    for path in [
        "/compat/flashback/devices",
        "/compat/laravel/api/devices",
        "/compat/ruuvi/sessions",
        "/compat/ruuvi/openapi.json",
    ] {
        let answer = rest(&app, Method::GET, path, Some(&alice.token), None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
}

async fn identity_tokens_and_no_tokens_are_refused_in_each_apis_words(app: TestApp) {
    let identity = app.identity_token("alice", &["pwd"]);
    for token in [None, Some(identity.as_str()), Some("not-a-token")] {
        let flashback = rest(&app, Method::GET, "/compat/flashback/devices", token, None)
            .await
            .expect(StatusCode::UNAUTHORIZED);
        assert_eq!(flashback.body["success"], false);
        assert_eq!(flashback.body["code"], "UNAUTHENTICATED");
        assert!(flashback.body["error"].is_string());
        assert_eq!(flashback.headers["www-authenticate"], "Bearer");

        let laravel = rest(
            &app,
            Method::GET,
            "/compat/laravel/api/devices",
            token,
            None,
        )
        .await
        .expect(StatusCode::UNAUTHORIZED);
        assert_eq!(
            laravel.body,
            json!({ "message": "Unauthenticated.", "code": "UNAUTHENTICATED" })
        );

        let ruuvi = rest(&app, Method::GET, "/compat/ruuvi/sessions", token, None)
            .await
            .expect(StatusCode::UNAUTHORIZED);
        assert_eq!(ruuvi.body["result"], "error");
        assert_eq!(ruuvi.body["code"], "ER_UNAUTHORIZED");
        assert_eq!(ruuvi.body["sub_code"], "UNAUTHENTICATED");
    }
}

async fn each_api_serves_its_openapi_document(app: TestApp) {
    for api in CompatApi::ALL {
        let prefix = format!("/compat/{}", api.name());
        let served = rest(
            &app,
            Method::GET,
            &format!("{prefix}/openapi.json"),
            None,
            None,
        )
        .await
        .expect(StatusCode::OK);
        let expected: Value =
            serde_json::from_str(&sessionhub::http::openapi_json(api, &prefix)).unwrap();
        assert_eq!(served.body, expected, "{}", api.name());
        assert_eq!(served.body["servers"][0]["url"], prefix.as_str());
        // An unknown path under the prefix is a 404 in the API's own shape.
        let unknown = rest(&app, Method::GET, &format!("{prefix}/nowhere"), None, None)
            .await
            .expect(StatusCode::NOT_FOUND);
        assert!(unknown.body.is_object(), "{}", unknown.body);
    }
}

async fn an_api_is_served_at_its_configured_prefix(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let moved = rest(
        &app,
        Method::GET,
        "/ruuvi/v1/sessions",
        Some(&alice.token),
        None,
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(moved.body["data"]["sessions"][0]["current"], true);
    let document = rest(&app, Method::GET, "/ruuvi/v1/openapi.json", None, None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(document.body["servers"][0]["url"], "/ruuvi/v1");
    rest(
        &app,
        Method::GET,
        "/compat/ruuvi/sessions",
        Some(&alice.token),
        None,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
}

/// Asserts `ours` has the shape of the seed's `example`: every key of it, with the same
/// JSON type (a string may be null: the seeds mark those fields optional), the first
/// element's shape for every element of a list, and the fields clients compare
/// (`message`, `success`, `result`) equal.
pub fn assert_shape(example: &Value, ours: &Value, at: &str) {
    match example {
        Value::Object(fields) => {
            let Some(ours) = ours.as_object() else {
                panic!("{at}: expected an object, got {ours}");
            };
            for (key, expected) in fields {
                let at = format!("{at}.{key}");
                let Some(value) = ours.get(key) else {
                    panic!("{at}: missing from {}", Value::Object(ours.clone()));
                };
                if ["message", "success", "result"].contains(&key.as_str()) {
                    assert_eq!(value, expected, "{at}");
                }
                assert_shape(expected, value, &at);
            }
        }
        Value::Array(elements) => {
            let Some(ours) = ours.as_array() else {
                panic!("{at}: expected a list, got {ours}");
            };
            if let Some(first) = elements.first() {
                assert!(!ours.is_empty(), "{at}: expected elements");
                for (index, value) in ours.iter().enumerate() {
                    assert_shape(first, value, &format!("{at}[{index}]"));
                }
            }
        }
        Value::String(_) => assert!(
            ours.is_string() || ours.is_null(),
            "{at}: expected a string, got {ours}"
        ),
        Value::Bool(_) => assert!(ours.is_boolean(), "{at}: expected a boolean, got {ours}"),
        Value::Number(number) if number.is_i64() => {
            assert!(ours.is_i64(), "{at}: expected an integer, got {ours}")
        }
        Value::Number(_) => assert!(ours.is_number(), "{at}: expected a number, got {ours}"),
        Value::Null => {}
    }
}

/// One of a seed's examples: the request, with `{placeholders}` for ids, and its answer.
#[derive(serde::Deserialize)]
pub struct SeedExample {
    pub seed: String,
    pub request: String,
    pub status: u16,
    pub example: Value,
}

/// The seed examples of `api` (`tests/fixtures/seeds/<api>.json`).
pub fn seed_examples(api: &str) -> Vec<SeedExample> {
    let path = format!(
        "{}/tests/fixtures/seeds/{api}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Sends each of `api`'s seed examples under `prefix`, with ids filled in by `fill`, as
/// `token` (or with no token where the example is a 401), and checks each answer.
pub async fn replay(
    app: &TestApp,
    api: &str,
    prefix: &str,
    token: &str,
    fill: impl Fn(&str) -> String,
) {
    for example in seed_examples(api) {
        let (method, path) = example.request.split_once(' ').unwrap();
        let path = format!("{prefix}{}", fill(path));
        let token = (example.status != 401).then_some(token);
        let answer = rest(app, method.parse().unwrap(), &path, token, None).await;
        assert_eq!(
            answer.status.as_u16(),
            example.status,
            "{}: {}",
            example.request,
            answer.body
        );
        assert_shape(&example.example, &answer.body, &example.request);
    }
}

async fn oversized_bodies_and_undecodable_paths_are_refused_in_each_apis_words(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let huge = json!({ "deviceId": alice.device_id, "trustLevel": "x".repeat(300 * 1024) });
    for path in [
        "/compat/flashback/devices/trust",
        "/compat/flashback/sessions/revoke-all",
    ] {
        let refused = rest(
            &app,
            Method::POST,
            path,
            Some(&alice.token),
            Some(huge.clone()),
        )
        .await
        .expect(StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(refused.body["code"], "PAYLOAD_TOO_LARGE", "{path}");
        assert_eq!(refused.body["success"], false);
    }
    // `%FF` decodes to a byte that is no UTF-8: it names nothing, in each API's shape.
    for (method, path, code) in [
        (Method::GET, "/compat/flashback/devices/%FF", "code"),
        (
            Method::PATCH,
            "/compat/laravel/api/devices/%FF/hijack",
            "code",
        ),
        (Method::DELETE, "/compat/ruuvi/sessions/%FF", "sub_code"),
    ] {
        let refused = rest(&app, method, path, Some(&alice.token), None)
            .await
            .expect(StatusCode::NOT_FOUND);
        assert_eq!(refused.body[code], "NOT_FOUND", "{path}");
    }
    app.assert_session_active(&alice.token).await;
}

async fn production_serves_the_apis_but_not_their_documents(app: TestApp) {
    let alice = app.sign_in("alice").await;
    for api in CompatApi::ALL {
        let prefix = format!("/compat/{}", api.name());
        let document = format!("{prefix}/openapi.json");
        rest(&app, Method::GET, &document, None, None)
            .await
            .expect(StatusCode::NOT_FOUND);
    }
    rest(
        &app,
        Method::GET,
        "/compat/ruuvi/sessions",
        Some(&alice.token),
        None,
    )
    .await
    .expect(StatusCode::OK);
}
