use futures_util::StreamExt;
use serde_json::{Value, json};
use sessionhub_client::live::{self, LiveSocket};

use crate::helpers::{SAFARI_IPHONE, SignedIn, TestApp};

crate::on_both_databases!(
    subscribers_see_their_own_accounts_sessions_start_and_end,
    revoked_session_is_told_it_was_signed_out,
    connection_with_a_bad_token_is_refused,
    every_way_a_session_ends_reaches_signed_out,
    protocol_violations_close_with_their_codes,
    connections_per_session_are_capped,
    legacy_protocol_clients_are_served,
    shutdown_closes_connections_with_1001,
);

crate::on_both_transports!(revoke_on_one_instance_signs_out_a_subscriber_on_another);

async fn revoke_on_one_instance_signs_out_a_subscriber_on_another(a: TestApp) {
    let b = a.second_instance().await;
    let laptop = a.sign_in("alice").await;
    let phone = b.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let mut phone_feed = Subscriber::authenticated(&b, &phone.token).await;
    phone_feed
        .subscribe("bye", "subscription { signedOut { reason } }")
        .await;
    // Once this one listens on B, `bye` (read before it) is registered too.
    phone_feed
        .subscribe("started", "subscription { sessionStarted { id } }")
        .await;
    wait_for_subscribers(&b, 2).await;

    a.revoke(&laptop.token, &phone.session_id).await;
    let signed_out = phone_feed.next().await;
    assert_eq!(
        signed_out["payload"]["data"]["signedOut"]["reason"],
        "REVOKED"
    );
    assert_eq!(phone_feed.next().await["type"], "complete");
    assert_eq!(phone_feed.next().await, json!({ "close": 4403 }));
    b.assert_session_ended(&phone.token).await;
    a.assert_session_ended(&phone.token).await;
}

/// A subscription socket as a test drives it: the shared client's, failing the test on
/// any socket error.
pub struct Subscriber {
    socket: LiveSocket,
}

impl Subscriber {
    /// Opens a socket speaking `protocol`, without initialising it.
    async fn open(app: &TestApp, protocol: &'static str) -> Self {
        let socket = LiveSocket::open(&app.url(""), protocol).await.unwrap();
        Self { socket }
    }

    pub async fn connect(app: &TestApp, init_payload: Value) -> Self {
        let mut subscriber = Self::open(app, live::TRANSPORT_WS).await;
        subscriber.socket.init(init_payload).await.unwrap();
        subscriber
    }

    pub async fn authenticated(app: &TestApp, token: &str) -> Self {
        let socket = LiveSocket::authenticated(&app.url(""), token)
            .await
            .unwrap();
        Self { socket }
    }

    pub async fn send(&mut self, message: Value) {
        self.socket.send(message).await.unwrap();
    }

    /// Starts the closing handshake, as a client leaving a page does.
    pub async fn close(&mut self, code: u16) {
        self.socket.close(code).await.unwrap();
    }

    pub async fn subscribe(&mut self, id: &str, query: &str) {
        self.socket.subscribe(id, query).await.unwrap();
    }

    /// Returns once the server has read every message sent so far: it answers a ping in
    /// order. For `signedOut`, which opens no feed to count ([`wait_for_subscribers`]).
    pub async fn read_up_to_here(&mut self) {
        self.socket.read_up_to_here().await.unwrap();
    }

    /// The next protocol message; a close frame comes back as `{"close": code}`. Gives up
    /// after ten seconds, so a missing message fails the test instead of hanging it.
    pub async fn next(&mut self) -> Value {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.socket.next())
            .await
            .expect("no message within 10 s")
            .unwrap()
    }
}

/// Waits until `count` subscriptions listen, so no event is published before they do.
pub async fn wait_for_subscribers(app: &TestApp, count: usize) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.services.events().subscriber_count() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscriptions never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// The connection was closed as `graphql-transport-ws` says for a refused init: 4403.
fn assert_refused(first_message: Value) {
    assert_eq!(first_message, json!({ "close": 4403 }));
}

async fn subscribers_see_their_own_accounts_sessions_start_and_end(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let bob = app.sign_in("bob").await;
    let mut alice_feed = Subscriber::authenticated(&app, &laptop.token).await;
    alice_feed
        .subscribe(
            "started",
            "subscription { sessionStarted { id device { name } } }",
        )
        .await;
    alice_feed
        .subscribe(
            "ended",
            "subscription { sessionRevoked { reason at session { id status } } }",
        )
        .await;
    let mut bob_feed = Subscriber::authenticated(&app, &bob.token).await;
    bob_feed
        .subscribe(
            "ended",
            "subscription { sessionRevoked { reason session { id } } }",
        )
        .await;
    wait_for_subscribers(&app, 3).await;

    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let started = alice_feed.next().await;
    assert_eq!(started["id"], "started");
    assert_eq!(
        started["payload"]["data"]["sessionStarted"]["id"],
        phone.session_id.as_str()
    );
    assert_eq!(
        started["payload"]["data"]["sessionStarted"]["device"]["name"],
        "Safari on iPhone"
    );

    app.revoke(&laptop.token, &phone.session_id).await;
    let ended = alice_feed.next().await;
    assert_eq!(ended["id"], "ended");
    let event = &ended["payload"]["data"]["sessionRevoked"];
    assert_eq!(event["reason"], "REVOKED");
    assert_eq!(event["at"], "2026-11-23T12:00:00Z");
    assert_eq!(
        event["session"],
        json!({ "id": phone.session_id, "status": "REVOKED" })
    );

    // Bob saw none of Alice's events: the first thing he hears of is his own other session.
    let bob_phone = app.sign_in_with("bob", SAFARI_IPHONE, None).await;
    app.revoke(&bob.token, &bob_phone.session_id).await;
    let bobs = bob_feed.next().await;
    assert_eq!(
        bobs["payload"]["data"]["sessionRevoked"]["session"]["id"],
        bob_phone.session_id.as_str()
    );
}

async fn revoked_session_is_told_it_was_signed_out(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let mut phone_feed = Subscriber::authenticated(&app, &phone.token).await;
    phone_feed
        .subscribe("bye", "subscription { signedOut { sessionId reason at } }")
        .await;
    phone_feed.read_up_to_here().await;

    app.revoke(&laptop.token, &phone.session_id).await;
    let signed_out = phone_feed.next().await;
    assert_eq!(
        signed_out["payload"]["data"]["signedOut"],
        json!({ "sessionId": phone.session_id, "reason": "REVOKED", "at": "2026-11-23T12:00:00Z" })
    );
    assert_eq!(
        phone_feed.next().await,
        json!({ "id": "bye", "type": "complete" })
    );

    // The ended session cannot open a new connection.
    let mut again = Subscriber::connect(&app, json!({ "token": phone.token })).await;
    assert_refused(again.next().await);
}

async fn connection_with_a_bad_token_is_refused(app: TestApp) {
    let identity = app.identity_token("alice", &["pwd"]);
    for payload in [
        json!({}),
        json!({ "token": "garbage" }),
        json!({ "token": identity }),
    ] {
        let mut subscriber = Subscriber::connect(&app, payload.clone()).await;
        assert_refused(subscriber.next().await);
    }
}

/// Subscribes `victim` to `signedOut` (and, to prove nothing else arrives, to
/// `sessionStarted`), ends it with `end`, and checks the push and the close.
async fn assert_signed_out_with<F, Fut>(app: &TestApp, reason: &str, end: F)
where
    F: FnOnce(SignedIn, SignedIn) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let actor = app.sign_in("alice").await;
    let victim = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let mut feed = Subscriber::authenticated(app, &victim.token).await;
    let listening = app.services.events().subscriber_count();
    // The server reads messages in order: once `started` listens, `bye` is registered.
    feed.subscribe("bye", "subscription { signedOut { sessionId reason } }")
        .await;
    feed.subscribe("started", "subscription { sessionStarted { id } }")
        .await;
    wait_for_subscribers(app, listening + 1).await;

    end(actor, victim.clone()).await;
    let pushed = feed.next().await;
    assert_eq!(
        pushed,
        json!({ "id": "bye", "type": "next", "payload": { "data": { "signedOut": {
            "sessionId": victim.session_id, "reason": reason } } } }),
        "{reason}"
    );
    assert_eq!(
        feed.next().await,
        json!({ "id": "bye", "type": "complete" }),
        "{reason}"
    );
    assert_eq!(feed.next().await, json!({ "close": 4403 }), "{reason}");
}

async fn every_way_a_session_ends_reaches_signed_out(app: TestApp) {
    let app = &app;
    let by_id = |query: &'static str, id: fn(&SignedIn) -> &String| {
        move |actor: SignedIn, victim: SignedIn| async move {
            app.graphql(Some(&actor.token), query, json!({ "id": id(&victim) }))
                .await
                .assert_ok();
        }
    };
    assert_signed_out_with(
        app,
        "REVOKED",
        by_id(
            "mutation($id: ID!) { revokeSession(id: $id) { id } }",
            |v| &v.session_id,
        ),
    )
    .await;
    assert_signed_out_with(
        app,
        "DEVICE_SIGNED_OUT",
        by_id(
            "mutation($id: ID) { signOutDevice(id: $id) { revokedCount } }",
            |v| &v.device_id,
        ),
    )
    .await;
    assert_signed_out_with(
        app,
        "DEVICE_HIJACKED",
        by_id(
            "mutation($id: ID!) { markDeviceHijacked(id: $id) { id } }",
            |v| &v.device_id,
        ),
    )
    .await;
    assert_signed_out_with(
        app,
        "DEVICE_FORGOTTEN",
        by_id(
            "mutation($id: ID!) { forgetDevice(id: $id) { deviceId } }",
            |v| &v.device_id,
        ),
    )
    .await;
    assert_signed_out_with(app, "SIGNED_OUT", |_, victim| async move {
        app.sign_out(&victim.token).await;
    })
    .await;
    assert_signed_out_with(app, "IDLE_TIMEOUT", |actor, _| async move {
        app.advance(20);
        app.heartbeat(&actor.token).await;
        app.advance(11);
        assert!(app.services.sweep_expired_sessions().await.unwrap() >= 1);
    })
    .await;
    assert_signed_out_with(app, "LIFETIME_EXCEEDED", |_, victim| async move {
        for _ in 0..28 {
            app.advance(25);
            app.heartbeat(&victim.token).await;
        }
        app.advance(21);
        assert!(app.services.sweep_expired_sessions().await.unwrap() >= 1);
    })
    .await;
}

async fn protocol_violations_close_with_their_codes(app: TestApp) {
    let alice = app.sign_in("alice").await;
    // No connection_init within the (test's 300 ms) initialisation timeout.
    let mut silent = Subscriber::open(&app, live::TRANSPORT_WS).await;
    assert_eq!(silent.next().await, json!({ "close": 4408 }));
    // Subscribing before the server acknowledged the connection.
    let mut eager = Subscriber::open(&app, live::TRANSPORT_WS).await;
    eager
        .subscribe("1", "subscription { signedOut { reason } }")
        .await;
    assert_eq!(eager.next().await, json!({ "close": 4401 }));
    // Not a protocol message.
    let mut garbled = Subscriber::authenticated(&app, &alice.token).await;
    garbled.send(json!({ "type": "subscribe" })).await;
    assert_eq!(garbled.next().await, json!({ "close": 4400 }));
    // The same subscription id twice.
    let mut twice = Subscriber::authenticated(&app, &alice.token).await;
    twice
        .subscribe("1", "subscription { signedOut { reason } }")
        .await;
    twice
        .subscribe("1", "subscription { signedOut { reason } }")
        .await;
    assert_eq!(twice.next().await, json!({ "close": 4409 }));
    // A second connection_init.
    let mut again = Subscriber::authenticated(&app, &alice.token).await;
    again
        .send(json!({ "type": "connection_init", "payload": { "token": alice.token } }))
        .await;
    assert_eq!(again.next().await, json!({ "close": 4429 }));
    // A message over the size limit (64 KiB in tests) ends the connection.
    let mut huge = Subscriber::authenticated(&app, &alice.token).await;
    huge.subscribe(
        "1",
        &format!(
            "subscription {{ signedOut {{ reason }} }} # {}",
            "x".repeat(70_000)
        ),
    )
    .await;
    assert!(huge.next().await.get("close").is_some());
    // A query that does not validate is an `error` for that id; the connection stays.
    let mut wrong = Subscriber::authenticated(&app, &alice.token).await;
    wrong.subscribe("7", "subscription { passwords }").await;
    let error = wrong.next().await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["id"], "7");
    assert_eq!(
        error["payload"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    wrong
        .send(json!({ "type": "ping", "payload": { "n": 1 } }))
        .await;
    assert_eq!(
        wrong.next().await,
        json!({ "type": "pong", "payload": { "n": 1 } })
    );
}

async fn connections_per_session_are_capped(app: TestApp) {
    let alice = app.sign_in("alice").await;
    // Tests allow three connections per session.
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(Subscriber::authenticated(&app, &alice.token).await);
    }
    let mut fourth = Subscriber::connect(&app, json!({ "token": alice.token })).await;
    assert_eq!(fourth.next().await, json!({ "close": 1008 }));
    // Closing one frees its place.
    drop(open.pop());
    connect_once_a_place_is_free(&app, &alice.token).await;
}

/// Connects with `token` as soon as its session has a free place, refused (1008) until
/// then; fails if none frees up within ten seconds.
pub async fn connect_once_a_place_is_free(app: &TestApp, token: &str) -> Subscriber {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut retry = Subscriber::connect(app, json!({ "token": token })).await;
        match retry.next().await {
            ack if ack["type"] == "connection_ack" => return retry,
            refused => {
                assert_eq!(refused, json!({ "close": 1008 }));
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the place was never freed"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
}

async fn legacy_protocol_clients_are_served(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let mut legacy = Subscriber::open(&app, live::LEGACY_WS).await;
    legacy
        .send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", laptop.token) } }))
        .await;
    assert_eq!(legacy.next().await["type"], "connection_ack");
    legacy
        .send(json!({ "id": "1", "type": "start", "payload": { "query": "subscription { sessionRevoked { reason } }" } }))
        .await;
    wait_for_subscribers(&app, 2).await;
    app.revoke(&laptop.token, &phone.session_id).await;
    assert_eq!(
        legacy.next().await,
        json!({ "id": "1", "type": "data", "payload": { "data": { "sessionRevoked": { "reason": "REVOKED" } } } })
    );
    legacy.send(json!({ "id": "1", "type": "stop" })).await;
    assert_eq!(
        legacy.next().await,
        json!({ "id": "1", "type": "complete" })
    );

    let mut refused = Subscriber::open(&app, live::LEGACY_WS).await;
    refused
        .send(json!({ "type": "connection_init", "payload": { "token": phone.token } }))
        .await;
    assert_eq!(refused.next().await["type"], "connection_error");
    assert_eq!(refused.next().await, json!({ "close": 4403 }));
}

async fn shutdown_closes_connections_with_1001(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let mut feed = Subscriber::authenticated(&app, &alice.token).await;
    feed.subscribe("1", "subscription { sessionStarted { id } }")
        .await;
    app.stop();
    assert_eq!(feed.next().await, json!({ "close": 1001 }));
}

/// A notification lost while the LISTEN connection was down must not leave an ended
/// session subscribed: on reconnect every connection re-checks its session.
/// The feed a transport opens when it reads `subscribe` is the one the subscription
/// listens on: an event committed before the resolver first runs still arrives. Driven
/// without a websocket, so the event certainly comes before that first run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_hears_events_from_when_its_transport_accepted_it() {
    use std::time::Duration;

    use sessionhub::graphql::ListeningSince;

    let app = TestApp::sqlite().await;
    let alice = app.sign_in("alice").await;
    let (schema, requester) = schema_without_socket(&app, &alice);
    let accepted = app.services.events().subscribe("alice").await.unwrap();
    let request = async_graphql::Request::new("subscription { sessionStarted { id } }")
        .data(requester)
        .data(ListeningSince::new(accepted));
    let mut stream = schema.execute_stream(request);

    let later = app.sign_in("alice").await;
    let first = tokio::time::timeout(Duration::from_secs(2), stream.next())
        .await
        .expect("the event committed before the first poll arrives")
        .expect("an answer");
    assert_eq!(
        first.data.into_json().unwrap(),
        json!({ "sessionStarted": { "id": later.session_id } })
    );
}

/// The served schema and `alice`'s session as its requester, to drive subscriptions
/// without a websocket.
pub fn schema_without_socket(
    app: &TestApp,
    alice: &SignedIn,
) -> (
    sessionhub::graphql::AppSchema,
    sessionhub::service::Requester,
) {
    use sessionhub::{
        graphql::{DocumentCache, ListCaps, build_schema},
        service::{Actor, Requester},
    };
    let config = crate::helpers::test_config(String::new());
    let caps = ListCaps {
        sessions_per_user: config.max_sessions_per_user,
    };
    let schema = build_schema(
        app.services.clone(),
        &config.api,
        caps,
        DocumentCache::new(),
    );
    let actor = Actor {
        user_id: "alice".into(),
        session_id: alice.session_id.parse().unwrap(),
        device_id: alice.device_id.parse().unwrap(),
        client: Default::default(),
        pending: false,
    };
    (schema, Requester::Session(std::sync::Arc::new(actor)))
}
