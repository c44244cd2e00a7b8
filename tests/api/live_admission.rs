//! Operations sent over a websocket are admitted as over HTTP, and a connection holds a
//! bounded number of subscriptions; closing, by either side or by shutdown, is clean.

use std::{num::NonZeroU32, time::Duration};

use serde_json::json;

use crate::{
    helpers::TestApp,
    subscriptions::{Subscriber, connect_once_a_place_is_free, wait_for_subscribers},
};

crate::on_both_databases!(
    an_expired_session_runs_nothing_more_over_its_socket,
    a_client_that_closes_first_gets_a_close_frame_back,
    shutdown_waits_until_every_socket_is_closed,
);

const WHO_AM_I: &str = "{ currentSession { id } }";

/// The same per-session bucket serves both transports: what the websocket spent, HTTP
/// cannot spend again, and a refusal carries its code and when to retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_operations_spend_the_sessions_rate_limit() {
    let app = TestApp::sqlite_with(|config| {
        config.rate_limits.requests_per_minute_per_session = NonZeroU32::new(4).unwrap();
    })
    .await;
    let alice = app.sign_in("alice").await;
    let mut socket = Subscriber::authenticated(&app, &alice.token).await;
    for id in ["1", "2", "3"] {
        socket.subscribe(id, WHO_AM_I).await;
        let answer = socket.next().await;
        assert_eq!(answer["type"], "next", "{answer}");
        assert_eq!(
            answer["payload"]["data"]["currentSession"]["id"],
            alice.session_id
        );
        assert_eq!(socket.next().await["type"], "complete");
    }
    // One left in the bucket, spent over HTTP; then both transports are refused.
    app.assert_session_active(&alice.token).await;
    let refused_http = app.graphql(Some(&alice.token), WHO_AM_I, json!({})).await;
    assert_eq!(refused_http.error_code(), "RATE_LIMITED");
    socket.subscribe("4", WHO_AM_I).await;
    let refused = socket.next().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "4");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    assert!(
        refused["payload"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

/// Many operations sent at once on one connection all run: one waiting for its checks
/// never holds up the others, whose database reads it would otherwise wait behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_operations_on_one_connection_all_run() {
    let app = TestApp::sqlite_with(|config| {
        config.websocket.ws_max_subscriptions_per_connection = 1_000;
    })
    .await;
    let alice = app.sign_in("alice").await;
    let mut socket = Subscriber::authenticated(&app, &alice.token).await;
    for id in 0..300 {
        socket.subscribe(&format!("q{id}"), WHO_AM_I).await;
    }
    let (mut answered, mut completed) = (0, 0);
    while completed < 300 {
        let message = socket.next().await;
        match message["type"].as_str() {
            Some("next") => {
                assert!(message["payload"].get("errors").is_none(), "{message}");
                answered += 1;
            }
            Some("complete") => completed += 1,
            _ => panic!("unexpected {message}"),
        }
    }
    assert_eq!(answered, 300);
}

crate::on_both_transports!(
    configured |config| config.max_sessions_per_user = 1_000;
    a_subscription_hears_everything_committed_after_it_was_read,
);

/// A subscription is live once the server has read its `subscribe`: the client knows it
/// has when the server answers a `ping` sent after it (messages are handled in order).
/// An event committed on another instance right after is always delivered.
async fn a_subscription_hears_everything_committed_after_it_was_read(a: TestApp) {
    let b = a.second_instance().await;
    let watcher = b.sign_in("alice").await;
    let mut socket = Subscriber::authenticated(&b, &watcher.token).await;
    for round in 0..100 {
        let id = format!("round-{round}");
        socket
            .subscribe(&id, "subscription { sessionStarted { id } }")
            .await;
        socket.send(json!({ "type": "ping" })).await;
        loop {
            let message = socket.next().await;
            assert_ne!(message["type"], "next", "nothing happened yet: {message}");
            if message["type"] == "pong" {
                break;
            }
        }
        let started = a.sign_in("alice").await;
        let told = socket.next().await;
        assert_eq!(told["id"], id.as_str(), "round {round}: {told}");
        assert_eq!(
            told["payload"]["data"]["sessionStarted"]["id"], started.session_id,
            "round {round}"
        );
        socket.send(json!({ "id": id, "type": "complete" })).await;
    }
}

/// A client told to wait that keeps sending is closed with 4429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_keeps_hammering_is_closed_with_4429() {
    let app = TestApp::sqlite_with(|config| {
        config.rate_limits.requests_per_minute_per_session = NonZeroU32::new(1).unwrap();
    })
    .await;
    let alice = app.sign_in("alice").await;
    let mut socket = Subscriber::authenticated(&app, &alice.token).await;
    socket.subscribe("first", WHO_AM_I).await;
    assert_eq!(socket.next().await["type"], "next");
    assert_eq!(socket.next().await["type"], "complete");
    let mut refusals = 0;
    let closed = loop {
        socket
            .subscribe(&format!("again-{refusals}"), WHO_AM_I)
            .await;
        let answer = socket.next().await;
        if answer["type"] != "error" {
            break answer;
        }
        assert_eq!(answer["payload"][0]["extensions"]["code"], "RATE_LIMITED");
        refusals += 1;
        assert!(refusals <= 10, "still refusing politely after {refusals}");
    };
    assert_eq!(
        closed,
        json!({ "close": 4429 }),
        "after {refusals} refusals"
    );
    assert_eq!(refusals, 10);
}

/// Past the cap a `subscribe` is refused with a code; the connection stays usable, and a
/// finished subscription frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_per_connection_are_capped() {
    let app = TestApp::sqlite_with(|config| {
        config.websocket.ws_max_subscriptions_per_connection = 3;
    })
    .await;
    let alice = app.sign_in("alice").await;
    let mut socket = Subscriber::authenticated(&app, &alice.token).await;
    for id in ["a", "b", "c"] {
        socket
            .subscribe(id, "subscription { sessionStarted { id } }")
            .await;
    }
    // The connection listens too.
    wait_for_subscribers(&app, 4).await;
    socket
        .subscribe("d", "subscription { sessionStarted { id } }")
        .await;
    let refused = socket.next().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "d");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "TOO_MANY_SUBSCRIPTIONS"
    );
    socket.send(json!({ "id": "a", "type": "complete" })).await;
    socket.subscribe("e", WHO_AM_I).await;
    let answer = socket.next().await;
    assert_eq!(
        answer["payload"]["data"]["currentSession"]["id"],
        alice.session_id
    );
    // The refused one never ran, and the others still deliver.
    app.sign_in("alice").await;
    let mut delivered = Vec::new();
    while delivered.len() < 2 {
        let message = socket.next().await;
        if message["type"] == "next" {
            delivered.push(message["id"].as_str().unwrap().to_owned());
        }
    }
    delivered.sort();
    assert_eq!(delivered, ["b", "c"]);
}

/// An idle session expires by the clock before any sweep records it: the next operation
/// over its socket does not run; the socket signs out instead.
async fn an_expired_session_runs_nothing_more_over_its_socket(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let mut socket = Subscriber::authenticated(&app, &alice.token).await;
    socket
        .subscribe("bye", "subscription { signedOut { reason } }")
        .await;
    // Once this one listens, `bye` (read before it) is registered too.
    socket
        .subscribe("started", "subscription { sessionStarted { id } }")
        .await;
    wait_for_subscribers(&app, 2).await;
    app.advance(31);
    socket.subscribe("late", WHO_AM_I).await;
    let told = socket.next().await;
    assert_eq!(told["id"], "bye", "{told}");
    assert_eq!(
        told["payload"]["data"]["signedOut"]["reason"],
        "IDLE_TIMEOUT"
    );
    assert_eq!(socket.next().await["type"], "complete");
    assert_eq!(socket.next().await, json!({ "close": 4403 }));
}

/// RFC 6455 §5.5.1: the endpoint that receives a Close answers with one, so the client
/// sees a clean close rather than a dropped connection (1006).
async fn a_client_that_closes_first_gets_a_close_frame_back(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let mut socket = Subscriber::authenticated(&app, &alice.token).await;
    socket.close(1000).await;
    assert_eq!(socket.next().await, json!({ "close": 1000 }));
}

/// When `run` returns (and the process would exit) no connection is left half closed:
/// every one has sent its 1001.
async fn shutdown_waits_until_every_socket_is_closed(app: TestApp) {
    let mut sockets = Vec::new();
    for user in 0..100 {
        let session = app.sign_in(&format!("user-{user}")).await;
        let mut socket = Subscriber::authenticated(&app, &session.token).await;
        socket
            .subscribe("1", "subscription { sessionRevoked { reason } }")
            .await;
        sockets.push(socket);
    }
    wait_for_subscribers(&app, 200).await;
    tokio::time::timeout(Duration::from_secs(10), app.stop_and_wait())
        .await
        .expect("shutdown within its grace");
    assert_eq!(app.services.events().subscriber_count(), 0);
    for socket in &mut sockets {
        assert_eq!(socket.next().await, json!({ "close": 1001 }));
    }
}

/// With Redis, the per-session cap on connections counts every instance's: places taken on
/// A are missing on B, and one given back on A is free on B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_redis_connections_per_session_are_capped_across_instances() {
    use serde_json::Value;

    let Some(a) = TestApp::postgres_on_redis_with(|_| {}).await else {
        return;
    };
    let b = a.second_instance().await;
    let alice = a.sign_in("alice").await;
    // Tests allow three connections per session.
    let mut on_a = vec![
        Subscriber::authenticated(&a, &alice.token).await,
        Subscriber::authenticated(&a, &alice.token).await,
    ];
    let _on_b = Subscriber::authenticated(&b, &alice.token).await;
    let fourth = async |app: &TestApp| -> Value {
        let mut socket = Subscriber::connect(app, json!({ "token": alice.token })).await;
        socket.next().await
    };
    assert_eq!(fourth(&b).await, json!({ "close": 1008 }));
    assert_eq!(fourth(&a).await, json!({ "close": 1008 }));

    drop(on_a.pop());
    connect_once_a_place_is_free(&b, &alice.token).await;
}
