//! Limits and switches that keep the API from being abused. These run on SQLite only: they
//! are checked before any database work.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// An app with small limits, so each can be crossed by a short query.
async fn strict_app() -> TestApp {
    TestApp::sqlite_with(|config| {
        let api = &mut config.api;
        api.max_query_depth = 4;
        // Above the deep query below (820), under the wide one (1,220).
        api.max_query_complexity = 900;
        api.max_aliases = 2;
        api.max_field_repeats = 2;
        api.max_directives = 1;
        api.max_recursion = 6;
        api.max_batch = 2;
        api.max_body_bytes = 2048;
    })
    .await
}

#[tokio::test]
async fn each_query_limit_has_its_own_code_and_does_no_work() {
    let app = strict_app().await;
    let alice = app.sign_in("alice").await;
    let cases = [
        (
            "{ sessions { device { sessions { device { name } } } } }",
            "QUERY_TOO_DEEP",
        ),
        (
            "{ devices { sessions { id status startedAt } } }",
            "QUERY_TOO_COMPLEX",
        ),
        (
            "mutation { a: signOut { id } b: signOut { id } c: signOut { id } }",
            "TOO_MANY_ALIASES",
        ),
        (
            "mutation { signOut { id id id } }",
            "TOO_MANY_FIELD_REPEATS",
        ),
        (
            "{ sessions @include(if: true) @skip(if: false) { id } }",
            "TOO_MANY_DIRECTIVES",
        ),
        (
            "{ ...A } fragment A on Query { sessions { ...B } } fragment B on Session { device { ...C } } fragment C on Device { sessions { ...D } } fragment D on Session { device { ...E } } fragment E on Device { sessions { ...F } } fragment F on Session { device { name } }",
            "RECURSION_LIMIT_EXCEEDED",
        ),
    ];
    for (query, code) in cases {
        let answer = app.graphql(Some(&alice.token), query, json!({})).await;
        assert_eq!(answer.error_code(), code, "{query}: {}", answer.body);
        assert!(answer.body["data"].is_null(), "{query}");
    }
    // None of the over-limit mutations ran.
    app.assert_session_active(&alice.token).await;
    assert_eq!(app.event_count("SESSION_ENDED").await, 0);
}

#[tokio::test]
async fn nested_lists_cost_what_they_resolve() {
    let app = TestApp::sqlite().await;
    let alice = app.sign_in("alice").await;
    // 70 sessions (20 active, 50 ended), each with a device of up to 70: fits the default 5,000.
    let two_levels = "{ sessions(includeEnded: true) { device {
        sessions(includeEnded: true) { id } } } }";
    app.graphql(Some(&alice.token), two_levels, json!({}))
        .await
        .assert_ok();
    // One more level would be up to 343,000 objects: refused before it runs.
    let three_levels = "{ sessions(includeEnded: true) { device {
        sessions(includeEnded: true) { device { sessions(includeEnded: true) { id } } } } } }";
    let refused = app
        .graphql(Some(&alice.token), three_levels, json!({}))
        .await;
    assert_eq!(refused.error_code(), "QUERY_TOO_COMPLEX");
    // A full page of the security log, with the usual fields, is fine.
    let full_page = "{ securityEvents(first: 100) { edges { cursor node {
        id kind occurredAt ipAddress endReason location { country city }
        session { id } device { id name } actorSession { id } } }
        pageInfo { hasNextPage endCursor } } }";
    app.graphql(Some(&alice.token), full_page, json!({}))
        .await
        .assert_ok();
}

/// A session list is priced at the configured cap, not the default one: raising the cap
/// must not quietly let bigger answers through the same complexity limit.
#[tokio::test]
async fn session_lists_are_priced_at_the_configured_cap() {
    let app = TestApp::sqlite_with(|config| config.max_sessions_per_user = 40).await;
    let alice = app.sign_in("alice").await;
    // 90 sessions (40 active, 50 ended), each with a device of up to 90: over 5,000.
    let two_levels = "{ sessions(includeEnded: true) { device {
        sessions(includeEnded: true) { id } } } }";
    let refused = app.graphql(Some(&alice.token), two_levels, json!({})).await;
    assert_eq!(refused.error_code(), "QUERY_TOO_COMPLEX");
    app.graphql(
        Some(&alice.token),
        "{ sessions { device { sessions { id } } } }",
        json!({}),
    )
    .await
    .assert_ok();
}

/// An error never echoes a whole oversized document back.
#[tokio::test]
async fn a_document_that_does_not_parse_is_not_echoed_back() {
    let app = TestApp::sqlite().await;
    let alice = app.sign_in("alice").await;
    let deep = format!("{}{}", "{ a ".repeat(15_000), "}".repeat(15_000));
    let response = app.post_json(&alice.token, &json!({ "query": deep })).await;
    let body = response.text().await.unwrap();
    assert!(body.len() < 1_000, "a {} byte answer", body.len());
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(
        body["errors"][0]["extensions"]["code"].is_string(),
        "{body}"
    );
}

#[tokio::test]
async fn batch_and_body_limits_answer_with_their_codes() {
    let app = strict_app().await;
    let alice = app.sign_in("alice").await;
    let post = |body: Value| {
        app.http
            .post(app.url("/graphql"))
            .bearer_auth(&alice.token)
            .json(&body)
            .send()
    };
    let one = json!({ "query": "mutation { signOut { id } }" });
    let response = post(json!([one, one, one])).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BATCH_TOO_LARGE");

    let response =
        post(json!({ "query": format!("{{ sessions {{ id }} }} # {}", "x".repeat(4096)) }))
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "PAYLOAD_TOO_LARGE");

    // A batch within the limit runs.
    let query = json!({ "query": "{ currentSession { id } }" });
    let response = post(json!([query, query])).await.unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body[1]["data"]["currentSession"]["id"],
        alice.session_id.as_str()
    );
    app.assert_session_active(&alice.token).await;
}

/// GraphiQL's introspection query (graphql-js `getIntrospectionQuery`) fits the default limits.
#[tokio::test]
async fn the_standard_introspection_query_fits_the_default_limits() {
    let app = TestApp::sqlite().await;
    let query = r#"
      query IntrospectionQuery {
        __schema {
          queryType { name } mutationType { name } subscriptionType { name }
          types { ...FullType }
          directives { name description locations args { ...InputValue } }
        }
      }
      fragment FullType on __Type {
        kind name description
        fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
        inputFields { ...InputValue }
        interfaces { ...TypeRef }
        enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
        possibleTypes { ...TypeRef }
      }
      fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
      fragment TypeRef on __Type {
        kind name
        ofType { kind name ofType { kind name ofType { kind name ofType { kind name
          ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
      }
    "#;
    let answer = app.graphql(None, query, json!({})).await;
    answer.assert_ok();
    assert!(answer.data("__schema.types").as_array().unwrap().len() > 20);
}

#[tokio::test]
async fn production_mode_hides_introspection_graphiql_and_suggestions() {
    let app = TestApp::sqlite_with(|config| config.api.production = true).await;
    let alice = app.sign_in("alice").await;
    let introspection = app
        .graphql(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert!(
        introspection.body["errors"].is_array(),
        "{}",
        introspection.body
    );
    for page in ["/graphiql", "/graphiql/assets/graphiql.js", "/account"] {
        let response = app.http.get(app.url(page)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{page}");
    }
    let typo = app
        .graphql(Some(&alice.token), "{ devics { id } }", json!({}))
        .await;
    let message = typo.body["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "{message}");

    // The same typo outside production mode gets a suggestion: the switch does something.
    let open = TestApp::sqlite().await;
    let token = open.sign_in("alice").await.token;
    let typo = open
        .graphql(Some(&token), "{ devics { id } }", json!({}))
        .await;
    assert!(
        typo.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean")
    );
}

#[tokio::test]
async fn production_mode_refuses_development_keys() {
    let directory = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        directory.path().join("p.db").display()
    );
    let mut config = crate::helpers::test_config(url);
    config.api.production = true;
    config.keys.identity_secret.clear();
    config.keys.session_secret.clear();
    config.keys.dev_keys_file = directory.path().join("dev-keys.json");
    let clock = std::sync::Arc::new(sessionhub::clock::SystemClock);
    let refused = sessionhub::app::Application::build(&config, clock, Default::default()).await;
    let error = refused
        .err()
        .expect("production mode with development keys must not start");
    assert!(error.to_string().contains("development keys"), "{error}");
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = TestApp::sqlite_with(|config| {
        config.api.cors_origins = vec!["https://app.example".into()];
    })
    .await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    // By default nobody else is allowed.
    let default = TestApp::sqlite().await;
    let refused = default
        .http
        .request(reqwest::Method::OPTIONS, default.url("/graphql"))
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

const NEW_SECRET: &str = "a-brand-new-secret-of-at-least-32-bytes!";

#[tokio::test]
async fn session_secrets_roll_without_signing_anyone_out() {
    let old = TestApp::sqlite().await;
    let alice = old.sign_in("alice").await;
    // The new secret signs; the old one still verifies.
    let rolling = old
        .second_instance_with(|config| {
            config.keys.session_secret =
                vec![NEW_SECRET.into(), crate::helpers::SESSION_SECRET.into()];
        })
        .await;
    rolling.assert_session_active(&alice.token).await;
    let bob = rolling.sign_in("bob").await;
    // Once the old secret is dropped, its tokens stop working and the new ones go on.
    let rolled = old
        .second_instance_with(|config| config.keys.session_secret = vec![NEW_SECRET.into()])
        .await;
    let refused = rolled
        .graphql(Some(&alice.token), "{ currentSession { id } }", json!({}))
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.error_code(), "UNAUTHENTICATED");
    rolled.assert_session_active(&bob.token).await;
}

#[tokio::test]
async fn identity_tokens_verify_against_any_configured_secret() {
    let app = TestApp::sqlite_with(|config| {
        config.keys.identity_secret =
            vec![NEW_SECRET.into(), crate::helpers::IDENTITY_SECRET.into()];
    })
    .await;
    let claims = json!({ "sub": "alice", "exp": app.now() + 300 });
    let signed_with = |secret: &str| sessionhub_client::identity::sign(secret.as_bytes(), &claims);
    let start = "mutation { startSession(input: {}) { token } }";
    for secret in [NEW_SECRET, crate::helpers::IDENTITY_SECRET] {
        app.graphql(Some(&signed_with(secret)), start, json!({}))
            .await
            .assert_ok();
    }
    let stranger = app
        .graphql(
            Some(&signed_with("some-third-secret-nobody-configured!!")),
            start,
            json!({}),
        )
        .await;
    assert_eq!(stranger.error_code(), "UNAUTHENTICATED");
}

/// Test-only RSA keys: the identity provider's pair, and a stranger's private key.
fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[tokio::test]
async fn public_key_identity_tokens_refuse_key_confusion_and_foreign_keys() {
    let public_key = fixture("identity-rsa-public.pem");
    let app = TestApp::sqlite_with(|config| {
        config.keys.identity_secret = Vec::new();
        config.keys.identity_public_key_file = vec![public_key.clone()];
        config.keys.identity_algorithm = "RS256".into();
    })
    .await;
    let claims = json!({ "sub": "alice", "exp": app.now() + 300 });
    let rsa_key = |name: &str| {
        let pem = std::fs::read(fixture(name)).unwrap();
        jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap()
    };
    let sign = |header: jsonwebtoken::Header, key: &jsonwebtoken::EncodingKey| {
        jsonwebtoken::encode(&header, &claims, key).unwrap()
    };
    let rs256 = || jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    let start = "mutation { startSession(input: {}) { token } }";

    // The provider's own key works, whatever `kid` says: every configured key is tried.
    let genuine = sign(
        jsonwebtoken::Header {
            kid: Some("no-such-key-id".into()),
            ..rs256()
        },
        &rsa_key("identity-rsa-private.pem"),
    );
    app.graphql(Some(&genuine), start, json!({}))
        .await
        .assert_ok();

    // HS256 keyed with the public key's PEM bytes: the classic RS/HS confusion.
    let confused = sign(
        jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &jsonwebtoken::EncodingKey::from_secret(&std::fs::read(&public_key).unwrap()),
    );
    // A stranger's key, with header fields telling us where to fetch it from.
    let pointed_elsewhere = sign(
        jsonwebtoken::Header {
            kid: Some("stranger".into()),
            jku: Some("http://127.0.0.1:9/jwks.json".into()),
            x5u: Some("http://127.0.0.1:9/cert.pem".into()),
            ..rs256()
        },
        &rsa_key("stranger-rsa-private.pem"),
    );
    for (what, token) in [
        ("HS256 with the public key", confused),
        ("jku/x5u/kid", pointed_elsewhere),
    ] {
        let answer = app.graphql(Some(&token), start, json!({})).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(answer.error_code(), "UNAUTHENTICATED", "{what}");
    }
    assert_eq!(app.event_count("SESSION_STARTED").await, 1);
}

#[tokio::test]
async fn short_hmac_secrets_are_refused_at_start_up() {
    for short in ["identity", "session"] {
        let directory = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            directory.path().join("k.db").display()
        );
        let mut config = crate::helpers::test_config(url);
        let secret = vec!["only-31-bytes-long-is-too-short".to_owned()];
        match short {
            "identity" => config.keys.identity_secret = secret,
            _ => config.keys.session_secret = secret,
        }
        let clock = std::sync::Arc::new(sessionhub::clock::SystemClock);
        let refused = sessionhub::app::Application::build(&config, clock, Default::default()).await;
        let error = refused.err().expect("a short secret must be refused");
        assert!(
            error.to_string().contains("at least 32 bytes"),
            "{short}: {error}"
        );
    }
}

fn quota(per_minute: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(per_minute).unwrap()
}

/// The 429 shape the Laravel seed documents, as a GraphQL error: status, `Retry-After`,
/// `extensions.code` and `extensions.retryAfter`.
async fn assert_rate_limited(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], retry_after);
}

#[tokio::test]
async fn requests_per_client_address_are_limited_websockets_included() {
    let app = TestApp::sqlite_with(|config| {
        config.rate_limits.requests_per_minute_per_ip = quota(4);
    })
    .await;
    let alice = app.sign_in("alice").await; // 1
    let query = json!({ "query": "{ currentSession { id } }" });
    for _ in 0..3 {
        let response = app.post_json(&alice.token, &query).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = app.post_json(&alice.token, &query).await;
    assert_rate_limited(response).await;
    // A websocket upgrade from the same address is refused the same way.
    let upgrade = app
        .http
        .get(app.url("/graphql/ws"))
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Protocol", "graphql-transport-ws")
        .send()
        .await
        .unwrap();
    assert_rate_limited(upgrade).await;
}

#[tokio::test]
async fn requests_per_session_are_limited_and_other_sessions_go_on() {
    let app = TestApp::sqlite_with(|config| {
        config.rate_limits.requests_per_minute_per_session = quota(3);
    })
    .await;
    let busy = app.sign_in("alice").await;
    let calm = app.sign_in("alice").await;
    for _ in 0..3 {
        app.assert_session_active(&busy.token).await;
    }
    let response = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&busy.token)
        .json(&json!({ "query": "{ currentSession { id } }" }))
        .send()
        .await
        .unwrap();
    assert_rate_limited(response).await;
    app.assert_session_active(&calm.token).await;

    // The lockout is in the security log once, however often it is hit, naming the busy
    // session and its device.
    let again = app
        .post_json(
            &busy.token,
            &json!({ "query": "{ currentSession { id } }" }),
        )
        .await;
    assert_rate_limited(again).await;
    assert_eq!(app.event_count("SESSION_RATE_LIMITED").await, 1);
    let log = app
        .graphql(
            Some(&calm.token),
            "{ securityEvents(first: 1) { edges { node {
                kind ipAddress session { id } device { id } actorSession { id }
            } } } }",
            json!({}),
        )
        .await;
    log.assert_ok();
    assert_eq!(
        log.data("securityEvents.edges.0.node"),
        &json!({
            "kind": "SESSION_RATE_LIMITED",
            "ipAddress": "127.0.0.1",
            "session": { "id": busy.session_id },
            "device": { "id": busy.device_id },
            "actorSession": { "id": busy.session_id },
        })
    );
}

#[tokio::test]
async fn sign_ins_per_user_are_limited() {
    let app = TestApp::sqlite_with(|config| {
        config.rate_limits.sign_ins_per_minute_per_user = quota(2);
    })
    .await;
    let alice = app.sign_in("alice").await;
    app.sign_in("alice").await;
    let response = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(app.identity_token("alice", &["pwd"]))
        .json(&json!({ "query": "mutation { startSession(input: {}) { token } }" }))
        .send()
        .await
        .unwrap();
    assert_rate_limited(response).await;
    assert_eq!(app.event_count("SESSION_STARTED").await, 2);
    app.sign_in("bob").await;

    // More refusals within the same lockout are not logged again.
    let again = app
        .post_json(
            &app.identity_token("alice", &["pwd"]),
            &json!({ "query": "mutation { startSession(input: {}) { token } }" }),
        )
        .await;
    assert_rate_limited(again).await;
    assert_eq!(app.event_count("SIGN_IN_RATE_LIMITED").await, 1);
    // Alice sees the lockout, with the address it came from, in her security log.
    let log = app
        .graphql(
            Some(&alice.token),
            "{ securityEvents(first: 1) { edges { node { kind ipAddress } } } }",
            json!({}),
        )
        .await;
    log.assert_ok();
    assert_eq!(
        log.data("securityEvents.edges.0.node"),
        &json!({ "kind": "SIGN_IN_RATE_LIMITED", "ipAddress": "127.0.0.1" })
    );
}

/// With Redis, the instances share one set of buckets: a session's limit is spent across
/// them, not granted once per instance. A refill (the shared clock moved on) serves either.
#[tokio::test]
async fn over_redis_instances_share_one_rate_limit() {
    let Some(a) = TestApp::postgres_on_redis_with(|config| {
        config.rate_limits.requests_per_minute_per_session = quota(4);
    })
    .await
    else {
        return;
    };
    let b = a.second_instance().await;
    let alice = a.sign_in("alice").await;
    let query = json!({ "query": "{ currentSession { id } }" });
    for instance in [&a, &b, &a, &b] {
        let response = instance.post_json(&alice.token, &query).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_rate_limited(b.post_json(&alice.token, &query).await).await;
    assert_rate_limited(a.post_json(&alice.token, &query).await).await;
    // 4 a minute: one request back every 15 s.
    a.advance(1);
    let response = b.post_json(&alice.token, &query).await;
    assert_eq!(response.status(), StatusCode::OK);
}
