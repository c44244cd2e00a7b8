//! `/metrics` counts what an instance does. A binary of its own: the Prometheus recorder
//! is one per process, so no other test's requests or sockets move these figures.

// The API tests' harness; this binary uses only part of it.
#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::{num::NonZeroU32, time::Duration};

use helpers::TestApp;
use serde_json::json;
use sessionhub::config::{CompatApi, Config};
use sessionhub_client::live::LiveSocket;

/// Per-session requests a minute on these instances: low enough to reach in a test.
const SESSION_RATE: u32 = 20;

fn with_metrics(config: &mut Config) {
    config.operations.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    config.rate_limits.requests_per_minute_per_session = NonZeroU32::new(SESSION_RATE).unwrap();
    config.compat.compat_apis = vec![CompatApi::Ruuvi];
}

#[tokio::test]
async fn metrics_count_what_an_instance_does() {
    // One after the other: both instances record into the one recorder of the process.
    counts(TestApp::sqlite_with(with_metrics).await, "Sqlite").await;
    if let Some(app) = TestApp::postgres_with(with_metrics).await {
        counts(app, "Postgres").await;
    }
    client_chosen_text_cannot_grow_the_metrics().await;
    background_jobs_report_their_passes().await;
}

/// Each pass of a background job counts its duration and the rows it handled, so an
/// operator sees what housekeeping costs as the tables grow.
async fn background_jobs_report_their_passes() {
    let app = TestApp::sqlite_with(|config| {
        with_metrics(config);
        config.sweep_interval = Duration::from_millis(50);
        config.retention.retention_interval = Duration::from_millis(50);
    })
    .await;
    let alice = app.sign_in("alice").await;
    // Past the idle timeout: the sweep records the session as ended.
    app.advance(24 * 60);
    let swept = eventually_within(&app, Duration::from_secs(60), |metrics| {
        sample(metrics, r#"sessionhub_job_rows_total{job="sweep"}"#) >= 1.0
            && sample(
                metrics,
                r#"sessionhub_job_duration_seconds_count{job="retention"}"#,
            ) >= 1.0
            && sample(
                metrics,
                r#"sessionhub_job_duration_seconds_count{job="trust_lapse"}"#,
            ) >= 1.0
    })
    .await;
    assert!(swept, "{}", scrape(&app).await);
    let ended = app
        .graphql(Some(&alice.token), "{ __typename }", json!({}))
        .await;
    assert_eq!(ended.error_code(), "SESSION_ENDED");
}

/// Clients choose operation names and HTTP methods: a flood of long or made-up ones adds a
/// few short series at most, not series as long and as many as the requests.
async fn client_chosen_text_cannot_grow_the_metrics() {
    let app = TestApp::sqlite_with(|config| {
        with_metrics(config);
        config.rate_limits.requests_per_minute_per_session = NonZeroU32::new(100_000).unwrap();
    })
    .await;
    let alice = app.sign_in("alice").await;
    let before = scrape(&app).await;
    let long = "L".repeat(20_000);
    for index in 0..20 {
        // A long name of an operation in the document: cut to a short label.
        let named = format!("Flood{index}{long}");
        app.graphql(
            Some(&alice.token),
            &format!("query {named} {{ __typename }}"),
            json!({}),
        )
        .await
        .assert_ok();
        // A name the document has no operation for: counted as no name at all.
        let request =
            json!({ "query": "{ __typename }", "operationName": format!("{index}{long}") });
        app.post_json(&alice.token, &request).await;
        // Methods HTTP does not define, to a routed path and an unrouted one.
        for path in ["/compat/ruuvi/sessions", "/compat/ruuvi/nowhere"] {
            let method = reqwest::Method::from_bytes(format!("FLOOD{index}").as_bytes()).unwrap();
            app.http
                .request(method, app.url(path))
                .bearer_auth(&alice.token)
                .send()
                .await
                .unwrap();
        }
    }
    let after = scrape(&app).await;
    let longest = after.lines().map(str::len).max().unwrap();
    assert!(longest < 400, "a series of {longest} bytes");
    let grown = after.len().saturating_sub(before.len());
    assert!(grown < 128 * 1024, "the scrape grew by {grown} bytes");
    assert!(!after.contains("FLOOD"), "a made-up method became a label");
    assert!(
        after.contains("operation=\"OTHER /compat/ruuvi/sessions\""),
        "{after}"
    );
}

/// The scraped metrics as text.
async fn scrape(app: &TestApp) -> String {
    let address = app.metrics_address.expect("metrics are configured");
    let response = app
        .http
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    response.text().await.unwrap()
}

/// The value of one series, e.g. `sessionhub_sessions_active`, or 0 when it is not there.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

async fn counts(app: TestApp, backend: &str) {
    let before = scrape(&app).await;
    let alice = app.sign_in("alice").await;
    let bob = app.sign_in("bob").await;
    let probe = format!("Probe{backend}");
    for _ in 0..3 {
        app.graphql(
            Some(&alice.token),
            &format!("query {probe} {{ devices {{ id }} }}"),
            json!({}),
        )
        .await
        .assert_ok();
    }
    let broken = format!("Broken{backend}");
    app.graphql(
        Some(&alice.token),
        &format!("query {broken} {{ nope }}"),
        json!({}),
    )
    .await;
    app.graphql(Some("not-a-token"), "{ devices { id } }", json!({}))
        .await;
    // Bob spends his session's rate: the requests past it are refused.
    for _ in 0..SESSION_RATE + 2 {
        app.graphql(Some(&bob.token), "{ __typename }", json!({}))
            .await;
    }
    // A compatibility API's requests count by API, route and outcome.
    for token in [Some(&alice.token), Some(&alice.token), None] {
        let mut request = app.http.get(app.url("/compat/ruuvi/sessions"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap();
    }
    // The count of active sessions is taken at most once a minute: the first scrape's
    // stands until then.
    assert_eq!(
        sample(&scrape(&app).await, "sessionhub_sessions_active"),
        sample(&before, "sessionhub_sessions_active")
    );
    app.advance(1);
    let after = scrape(&app).await;
    let delta = |series: &str| sample(&after, series) - sample(&before, series);
    let compat = |code: &str| {
        format!(
            "sessionhub_requests_total{{surface=\"ruuvi\",operation=\"GET /compat/ruuvi/sessions\",code=\"{code}\"}}"
        )
    };
    assert_eq!(delta(&compat("OK")), 2.0, "{after}");
    assert_eq!(delta(&compat("UNAUTHENTICATED")), 1.0);

    let operations = |name: &str, code: &str| {
        format!(
            "sessionhub_requests_total{{surface=\"graphql\",operation=\"{name}\",code=\"{code}\"}}"
        )
    };
    assert_eq!(sample(&after, &operations(&probe, "OK")), 3.0, "{after}");
    assert_eq!(
        sample(&after, &operations(&broken, "GRAPHQL_VALIDATION_FAILED")),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            &format!(
                "sessionhub_request_duration_seconds_count{{surface=\"graphql\",operation=\"{probe}\"}}"
            )
        ),
        3.0
    );
    assert_eq!(
        delta(
            "sessionhub_requests_total{surface=\"graphql\",operation=\"(not run)\",code=\"UNAUTHENTICATED\"}"
        ),
        1.0
    );
    assert_eq!(
        delta("sessionhub_rate_limited_total{limit=\"session\"}"),
        2.0
    );
    assert_eq!(
        delta("sessionhub_events_published_total{kind=\"SESSION_STARTED\"}"),
        2.0
    );
    assert!(delta("sessionhub_session_cache_lookups_total{result=\"hit\"}") >= 2.0);
    assert!(sample(&after, "sessionhub_database_statements_total") > 0.0);
    assert_eq!(sample(&after, "sessionhub_sessions_active"), 2.0);

    // A subscribed socket shows in both gauges while it is open, and leaves them after.
    let mut socket = LiveSocket::authenticated(&app.url(""), &alice.token)
        .await
        .unwrap();
    socket
        .subscribe("1", "subscription { signedOut { reason } }")
        .await
        .unwrap();
    let open = eventually(&app, |metrics| {
        sample(metrics, "sessionhub_websocket_connections") == 1.0
            && sample(metrics, "sessionhub_websocket_subscriptions") == 1.0
    })
    .await;
    assert!(open, "the socket never showed in the gauges");
    socket.close(1000).await.unwrap();
    let closed = eventually(&app, |metrics| {
        sample(metrics, "sessionhub_websocket_connections") == 0.0
            && sample(metrics, "sessionhub_websocket_subscriptions") == 0.0
    })
    .await;
    assert!(closed, "the closed socket stayed in the gauges");
    // The upgrade and the operation sent over the socket count as requests do over HTTP.
    let websocket = |operation: &str| {
        format!(
            "sessionhub_requests_total{{surface=\"websocket\",operation=\"{operation}\",code=\"OK\"}}"
        )
    };
    // (The other database's run of this test shares the process's metrics.)
    let counted = eventually(&app, |metrics| {
        let delta = |series: &str| sample(metrics, series) - sample(&after, series);
        delta(&websocket("(connect)")) >= 1.0 && delta(&websocket("(anonymous)")) >= 1.0
    })
    .await;
    assert!(counted, "{}", scrape(&app).await);
}

/// Whether the metrics come to satisfy `holds` within two seconds.
async fn eventually(app: &TestApp, holds: impl Fn(&str) -> bool) -> bool {
    eventually_within(app, Duration::from_secs(2), holds).await
}

/// Whether the metrics come to satisfy `holds` within `patience`.
async fn eventually_within(
    app: &TestApp,
    patience: Duration,
    holds: impl Fn(&str) -> bool,
) -> bool {
    let given_up = tokio::time::Instant::now() + patience;
    while tokio::time::Instant::now() < given_up {
        if holds(&scrape(app).await) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
