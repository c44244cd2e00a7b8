use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

crate::on_both_databases!(
    requests_without_a_token_may_only_explore_the_schema,
    bad_identity_tokens_are_refused_with_401,
    identity_and_session_tokens_cannot_stand_in_for_each_other,
    malformed_authorization_headers_are_refused,
    non_json_and_malformed_bodies_are_refused_with_a_code,
    get_runs_queries_but_never_mutations,
    health_check_answers,
    database_failures_answer_internal_without_details,
);

const START: &str = "mutation { startSession(input: {}) { token } }";

async fn requests_without_a_token_may_only_explore_the_schema(app: TestApp) {
    let schema = app
        .graphql(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    schema.assert_ok();
    let refused = app.graphql(None, "{ devices { id } }", json!({})).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.error_code(), "UNAUTHENTICATED");
    let refused = app.graphql(None, START, json!({})).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.error_code(), "UNAUTHENTICATED");
}

async fn bad_identity_tokens_are_refused_with_401(app: TestApp) {
    let now = app.now();
    let forged = sessionhub_client::identity::sign(
        b"some-other-secret-that-is-32-bytes-long",
        &json!({ "sub": "alice", "exp": now + 300 }),
    );
    // `alg: none`: header and claims with an empty signature.
    let unsigned = {
        use base64::Engine;
        let encode =
            |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            encode(json!({ "alg": "none", "typ": "JWT" })),
            encode(json!({ "sub": "alice", "exp": now + 300 }))
        )
    };
    let cases = [
        (
            "expired",
            app.identity_token_with(json!({ "sub": "alice", "exp": now - 120 })),
        ),
        (
            "not yet valid",
            app.identity_token_with(json!({ "sub": "alice", "exp": now + 600, "nbf": now + 300 })),
        ),
        (
            "no expiry",
            app.identity_token_with(json!({ "sub": "alice" })),
        ),
        (
            "no subject",
            app.identity_token_with(json!({ "exp": now + 300 })),
        ),
        (
            "empty subject",
            app.identity_token_with(json!({ "sub": "", "exp": now + 300 })),
        ),
        // Found by Schemathesis on PostgreSQL, which cannot store U+0000 and enforces
        // column lengths: these were INTERNAL errors there.
        (
            "NUL in the subject",
            app.identity_token_with(json!({ "sub": "al\u{0}ice", "exp": now + 300 })),
        ),
        (
            "login methods longer than a session records",
            app.identity_token_with(
                json!({ "sub": "alice", "exp": now + 300, "amr": ["x".repeat(101)] }),
            ),
        ),
        (
            "a control character in a login method",
            app.identity_token_with(json!({ "sub": "alice", "exp": now + 300, "amr": ["p\nwd"] })),
        ),
        ("wrong key", forged),
        ("alg none", unsigned),
        ("not a jwt", "hello".to_owned()),
    ];
    for (what, token) in cases {
        let answer = app.graphql(Some(&token), START, json!({})).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(answer.error_code(), "UNAUTHENTICATED", "{what}");
    }
    assert_eq!(app.event_count("SESSION_STARTED").await, 0);
}

async fn identity_and_session_tokens_cannot_stand_in_for_each_other(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let identity = app.identity_token("alice", &["pwd"]);
    let refused = app
        .graphql(Some(&identity), "{ sessions { id } }", json!({}))
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.error_code(), "UNAUTHENTICATED");
    let refused = app.graphql(Some(&alice.token), START, json!({})).await;
    assert_eq!(refused.error_code(), "UNAUTHENTICATED");

    // A token that claims to be a session token but is signed with the identity key.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("sessionhub-session+jwt".into());
    let smuggled = jsonwebtoken::encode(
        &header,
        &json!({ "sub": "alice", "sid": alice.session_id, "iss": "sessionhub",
                 "iat": 0, "exp": app.now() + 300 }),
        &jsonwebtoken::EncodingKey::from_secret(crate::helpers::IDENTITY_SECRET.as_bytes()),
    )
    .unwrap();
    let refused = app
        .graphql(Some(&smuggled), "{ sessions { id } }", json!({}))
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.error_code(), "UNAUTHENTICATED");
}

async fn malformed_authorization_headers_are_refused(app: TestApp) {
    let alice = app.sign_in("alice").await;
    for header in [
        format!("Basic {}", alice.token),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Bearer {}x", alice.token),
    ] {
        let response = app
            .http
            .post(app.url("/graphql"))
            .header("Authorization", &header)
            .json(&json!({ "query": "{ sessions { id } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{header}"
        );
    }
}

async fn non_json_and_malformed_bodies_are_refused_with_a_code(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let cases = [
        (
            "text/plain",
            "{\"query\":\"mutation { signOut { id } }\"}",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "application/x-www-form-urlencoded",
            "query=mutation",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        ("application/json", "{\"query\": ", StatusCode::BAD_REQUEST),
        ("application/json", "[1, 2]", StatusCode::BAD_REQUEST),
    ];
    for (content_type, body, status) in cases {
        let response = app
            .http
            .post(app.url("/graphql"))
            .bearer_auth(&alice.token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{content_type} {body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    }
    let syntax = app
        .graphql(Some(&alice.token), "{ sessions { id ", json!({}))
        .await;
    assert_eq!(syntax.error_code(), "GRAPHQL_VALIDATION_FAILED");
    let unknown = app
        .graphql(Some(&alice.token), "{ passwords }", json!({}))
        .await;
    assert_eq!(unknown.error_code(), "GRAPHQL_VALIDATION_FAILED");
    // The session is untouched by all of it.
    app.assert_session_active(&alice.token).await;
}

async fn get_runs_queries_but_never_mutations(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let query = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", "{ currentSession { id } }")])
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), StatusCode::OK);
    let body: Value = query.json().await.unwrap();
    assert_eq!(
        body["data"]["currentSession"]["id"],
        alice.session_id.as_str()
    );

    let mutation = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { signOut { id } }")])
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(mutation.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = mutation.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    app.assert_session_active(&alice.token).await;
}

async fn health_check_answers(app: TestApp) {
    let response = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // GraphiQL and the account page come from the binary, under a policy that allows
    // nothing from elsewhere.
    for (page, asset) in [
        ("/graphiql", "/graphiql/assets/graphiql.js"),
        ("/account", "/account/app.js"),
    ] {
        let response = app.http.get(app.url(page)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            policy.starts_with("default-src 'none'; script-src 'self';"),
            "{policy}"
        );
        assert!(
            !response.text().await.unwrap().contains("https://"),
            "{page}"
        );
        let script = app.http.get(app.url(asset)).send().await.unwrap();
        assert_eq!(script.status(), StatusCode::OK, "{asset}");
        assert_eq!(
            script.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
    }
    let graphiql = app.http.get(app.url("/graphiql")).send().await.unwrap();
    assert!(graphiql.text().await.unwrap().contains("/graphql/ws"));
    let missing = app.url("/graphiql/assets/nothing.js");
    let missing = app.http.get(missing).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // Metrics are kept and served only when configured, and never on the API's address.
    assert_eq!(app.metrics_address, None);
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn configured_issuer_and_audience_are_required() {
    let app = TestApp::sqlite_with(|config| {
        config.keys.identity_issuer = Some("https://login.example".into());
        config.keys.identity_audience = Some("sessionhub".into());
    })
    .await;
    let exp = app.now() + 300;
    let cases = [
        (json!({ "sub": "alice", "exp": exp }), false),
        (
            json!({ "sub": "alice", "exp": exp, "iss": "https://evil.example", "aud": "sessionhub" }),
            false,
        ),
        (
            json!({ "sub": "alice", "exp": exp, "iss": "https://login.example", "aud": "other" }),
            false,
        ),
        (
            json!({ "sub": "alice", "exp": exp, "iss": "https://login.example", "aud": "sessionhub" }),
            true,
        ),
    ];
    for (claims, accepted) in cases {
        let answer = app
            .graphql(
                Some(&app.identity_token_with(claims.clone())),
                START,
                json!({}),
            )
            .await;
        assert_eq!(
            answer.status == StatusCode::OK,
            accepted,
            "{claims}: {}",
            answer.body
        );
    }
}

async fn database_failures_answer_internal_without_details(app: TestApp) {
    use sea_orm::ConnectionTrait;
    let alice = app.sign_in("alice").await;
    app.db
        .execute_unprepared("DROP TABLE account_events")
        .await
        .unwrap();
    let answer = app
        .graphql(
            Some(&alice.token),
            "mutation($id: ID!) { renameDevice(id: $id, name: \"x\") { name } }",
            json!({ "id": alice.device_id }),
        )
        .await;
    assert_eq!(answer.error_code(), "INTERNAL");
    let text = answer.body.to_string().to_lowercase();
    for leak in ["account_events", "sql", "table", "relation", "insert"] {
        assert!(!text.contains(leak), "the answer leaks `{leak}`: {text}");
    }
    // The rename rolled back with the failed event write.
    let device = app
        .graphql(Some(&alice.token), "{ currentDevice { name } }", json!({}))
        .await;
    assert_eq!(device.data("currentDevice.name"), "Chrome on macOS");
}
