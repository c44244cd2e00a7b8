use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::helpers::{SAFARI_IPHONE, TestApp};

crate::on_both_databases!(
    subscribers_see_their_own_accounts_sessions_start_and_end,
    revoked_session_is_told_it_was_signed_out,
    connection_with_a_bad_token_is_refused,
);

/// A `graphql-transport-ws` client connection.
struct Subscriber {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Subscriber {
    async fn connect(app: &TestApp, init_payload: Value) -> Self {
        let mut request = app
            .url("/graphql/ws")
            .replace("http://", "ws://")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let mut subscriber = Self { socket };
        subscriber
            .send(json!({ "type": "connection_init", "payload": init_payload }))
            .await;
        subscriber
    }

    async fn authenticated(app: &TestApp, token: &str) -> Self {
        let mut subscriber =
            Self::connect(app, json!({ "Authorization": format!("Bearer {token}") })).await;
        assert_eq!(subscriber.next().await["type"], "connection_ack");
        subscriber
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    async fn subscribe(&mut self, id: &str, query: &str) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query } }))
            .await;
    }

    /// The next protocol message; a close frame comes back as `{"close": code}`.
    async fn next(&mut self) -> Value {
        loop {
            match self.socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    if message["type"] != "ping" && message["type"] != "pong" {
                        return message;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return json!({ "close": frame.map(|f| u16::from(f.code)) });
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return json!({ "close": null }),
            }
        }
    }
}

/// Waits until `count` subscriptions listen, so no event is published before they do.
async fn wait_for_subscribers(app: &TestApp, count: usize) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.services.events().subscriber_count() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscriptions never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// The connection was closed instead of acknowledged. (Which close code is the
/// live-pushes issue's to settle: async-graphql 7 sends 1002 where the protocol says 4403.)
fn assert_refused(first_message: Value) {
    assert!(
        first_message.get("close").is_some(),
        "expected the socket to close, got {first_message}"
    );
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

    app.graphql(
        Some(&laptop.token),
        "mutation($id: ID!) { revokeSession(id: $id) { id } }",
        json!({ "id": phone.session_id }),
    )
    .await
    .assert_ok();
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
    app.graphql(
        Some(&bob.token),
        "mutation($id: ID!) { revokeSession(id: $id) { id } }",
        json!({ "id": bob_phone.session_id }),
    )
    .await
    .assert_ok();
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
    wait_for_subscribers(&app, 1).await;

    app.graphql(
        Some(&laptop.token),
        "mutation($id: ID!) { revokeSession(id: $id) { id } }",
        json!({ "id": phone.session_id }),
    )
    .await
    .assert_ok();
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
