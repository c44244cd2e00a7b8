//! What the HTTP edge does with what clients and proxies send: response headers, whose
//! forwarding header counts, how addresses are bucketed for rate limits, and the GraphQL
//! rules async-graphql leaves to us. SQLite only: none of it touches the database's rules.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sessionhub::config::ProxyHeader;

use crate::{
    helpers::{TestApp, via_trusted_proxy},
    subscriptions::Subscriber,
};

#[tokio::test]
async fn answers_are_never_cached_or_sniffed() {
    let app = TestApp::sqlite_with(crate::compat::serve_all).await;
    let started = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(app.identity_token("alice", &["pwd"]))
        .json(&json!({ "query": "mutation { startSession(input: {}) { token } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(started.headers()["cache-control"], "no-store");
    assert_eq!(started.headers()["x-content-type-options"], "nosniff");
    let token = started.json::<Value>().await.unwrap()["data"]["startSession"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        "/compat/ruuvi/sessions",
        "/compat/flashback/devices",
        "/healthz",
    ] {
        let answer = app
            .http
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        assert_eq!(answer.headers()["cache-control"], "no-store", "{path}");
        assert_eq!(
            answer.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
    }
    // GraphiQL's page and assets hold no tokens and keep their own caching.
    for path in ["/graphiql", "/graphiql/assets/graphiql.js"] {
        let asset = app.http.get(app.url(path)).send().await.unwrap();
        assert_ne!(asset.headers()["cache-control"], "no-store", "{path}");
        assert_eq!(
            asset.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
    }
}

/// The address `startSession` recorded for a request through the proxy with `headers`.
async fn recorded_address(app: &TestApp, headers: &[(&str, &str)]) -> Value {
    let mut request = via_trusted_proxy()
        .post(app.url("/graphql"))
        .bearer_auth(app.identity_token("alice", &["pwd"]))
        .json(&json!({ "query": "mutation { startSession(input: {}) { device { ipAddress } } }" }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer: Value = request.send().await.unwrap().json().await.unwrap();
    answer["data"]["startSession"]["device"]["ipAddress"].clone()
}

#[tokio::test]
async fn a_clients_forwarding_header_never_beats_the_proxys() {
    // The proxy writes RFC 7239 `Forwarded`; the client made up `X-Forwarded-For`.
    let app = TestApp::sqlite_with(|config| {
        config.client_info.proxy_header = ProxyHeader::Forwarded;
    })
    .await;
    let forged = [
        ("X-Forwarded-For", "6.6.6.6"),
        ("Forwarded", "for=203.0.113.9"),
    ];
    assert_eq!(recorded_address(&app, &forged).await, "203.0.113.9");
    // And the other way round, with the default: the proxy appends to X-Forwarded-For.
    let app = TestApp::sqlite().await;
    let forged = [
        ("Forwarded", "for=6.6.6.6"),
        ("X-Forwarded-For", "203.0.113.9"),
    ];
    assert_eq!(recorded_address(&app, &forged).await, "203.0.113.9");
}

#[tokio::test]
async fn an_ipv6_network_shares_one_client_rate() {
    let app = TestApp::sqlite_with(|config| {
        config.rate_limits.requests_per_minute_per_ip = std::num::NonZeroU32::new(3).unwrap();
    })
    .await;
    let proxy = via_trusted_proxy();
    let from = |client: String| {
        proxy
            .post(app.url("/graphql"))
            .header("X-Forwarded-For", client)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
    };
    // Each request from a fresh address of the same /64, as a client rotating its
    // interface identifier would send them.
    for host in 1..=3 {
        let answer = from(format!("2001:db8:1:2::{host:x}")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
    let refused = from("2001:db8:1:2:ffff::1".into()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another /64 has a rate of its own.
    let elsewhere = from("2001:db8:1:3::1".into()).await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_subscription_selects_exactly_one_root_field() {
    let app = TestApp::sqlite().await;
    let alice = app.sign_in("alice").await;
    let mut feed = Subscriber::authenticated(&app, &alice.token).await;
    for (id, query) in [
        (
            "two",
            "subscription { signedOut { reason } sessionStarted { id } }",
        ),
        (
            "fragment",
            "subscription { ...Both } fragment Both on Subscription { signedOut { reason } sessionRevoked { id } }",
        ),
        (
            "typename",
            "subscription { signedOut { reason } __typename }",
        ),
    ] {
        feed.subscribe(id, query).await;
        let refused = feed.next().await;
        assert_eq!(refused["type"], "error", "{id}: {refused}");
        assert_eq!(
            refused["payload"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{id}: {refused}"
        );
    }
    // One root field is fine, and the connection is still open for it.
    feed.subscribe("one", "subscription { signedOut { reason } }")
        .await;
    app.sign_out(&alice.token).await;
    let told = feed.next().await;
    assert_eq!(told["id"], "one", "{told}");
}
