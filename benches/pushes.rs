//! Measures live pushes against running servers (see `benches/pushes.sh`, which starts two
//! instances on one PostgreSQL database and runs this):
//!
//! 1. **Sign-out delay across instances**: a session subscribed to `signedOut` on instance B
//!    is revoked through instance A; the time from sending `revokeSession` to receiving
//!    `signedOut` is measured over `PUSH_ROUNDS` revokes (default 100). Each round also
//!    checks the socket is then closed with 4403 and both instances refuse the token.
//! 2. **Subscribe, then trigger**: one session on B subscribes to `sessionStarted` (and
//!    waits for the server to have read it: a ping answered after it), then the account
//!    signs in on A; over `PUSH_SUBSCRIBE_ROUNDS` rounds (default 100), how many events
//!    never arrived (within 5 s) and how long the others took.
//! 3. **Memory of idle subscribers**: `PUSH_IDLE` connections (default 1000), each its own
//!    session with `signedOut` and `sessionRevoked` subscriptions, held open on B; B's
//!    resident memory (from /proc) is read before and after.
//!
//! Environment: `PUSH_A`, `PUSH_B` (base URLs), `PUSH_B_PID`, and
//! `SESSIONHUB_IDENTITY_SECRET` (the servers' HS256 identity secret, to mint identities).

use std::{
    env,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Target {
    a: String,
    b: String,
    b_pid: String,
    secret: String,
    http: reqwest::Client,
}

fn setting(name: &str, default: Option<&str>) -> String {
    env::var(name)
        .ok()
        .or(default.map(str::to_owned))
        .unwrap_or_else(|| panic!("set {name}; see benches/pushes.sh"))
}

impl Target {
    fn identity(&self, user: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &json!({ "sub": user, "exp": now + 300, "amr": ["pwd"] }),
            &jsonwebtoken::EncodingKey::from_secret(self.secret.as_bytes()),
        )
        .unwrap()
    }

    async fn graphql(
        &self,
        base: &str,
        token: &str,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{base}/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Starts a session for `user` on `base`; returns its token and id.
    async fn sign_in(&self, base: &str, user: &str) -> (String, String) {
        let (_, body) = self
            .graphql(
                base,
                &self.identity(user),
                "mutation { startSession(input: {}) { token session { id } } }",
                json!({}),
            )
            .await;
        let started = &body["data"]["startSession"];
        (
            started["token"]
                .as_str()
                .expect("a session token")
                .to_owned(),
            started["session"]["id"].as_str().unwrap().to_owned(),
        )
    }

    /// A `graphql-transport-ws` connection to B with `subscriptions` running, ready: the
    /// server answered a ping sent after them, so it has read them.
    async fn subscriber(&self, token: &str, subscriptions: &[&str]) -> Socket {
        let mut request = format!("{}/graphql/ws", self.b.replace("http://", "ws://"))
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        send(
            &mut socket,
            json!({ "type": "connection_init", "payload": { "token": token } }),
        )
        .await;
        assert_eq!(receive(&mut socket).await["type"], "connection_ack");
        for (id, query) in subscriptions.iter().enumerate() {
            send(
                &mut socket,
                json!({ "id": id.to_string(), "type": "subscribe", "payload": { "query": query } }),
            )
            .await;
        }
        send(&mut socket, json!({ "type": "ping" })).await;
        assert_eq!(receive(&mut socket).await["type"], "pong");
        socket
    }

    fn resident_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.b_pid)).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next protocol message, skipping keep-alives; a close comes back as `{"close": code}`.
async fn receive(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s");
        match frame {
            Some(Ok(Message::Text(text))) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                if message["type"] != "ping" {
                    return message;
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return json!({ "close": frame.map(|f| u16::from(f.code)) });
            }
            Some(Ok(_)) => {}
            _ => return json!({ "close": null }),
        }
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}

async fn sign_out_delay(target: &Target, rounds: usize) {
    let mut delays = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let user = format!("delay-{round}-{}", std::process::id());
        let (actor, _) = target.sign_in(&target.a, &user).await;
        let (victim, victim_id) = target.sign_in(&target.b, &user).await;
        let mut socket = target
            .subscriber(&victim, &["subscription { signedOut { reason } }"])
            .await;

        let started = Instant::now();
        let (status, _) = target
            .graphql(
                &target.a,
                &actor,
                "mutation($id: ID!) { revokeSession(id: $id) { id } }",
                json!({ "id": victim_id }),
            )
            .await;
        assert_eq!(status, 200);
        let pushed = receive(&mut socket).await;
        delays.push(started.elapsed());
        assert_eq!(
            pushed["payload"]["data"]["signedOut"]["reason"], "REVOKED",
            "{pushed}"
        );
        assert_eq!(receive(&mut socket).await["type"], "complete");
        assert_eq!(receive(&mut socket).await, json!({ "close": 4403 }));
        for base in [&target.a, &target.b] {
            let (status, body) = target
                .graphql(base, &victim, "{ currentSession { id } }", json!({}))
                .await;
            assert_eq!(status, 401, "{body}");
            assert_eq!(body["errors"][0]["extensions"]["code"], "SESSION_ENDED");
        }
    }
    delays.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "signedOut across instances, {rounds} revokes: median {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, worst {:.1} ms, best {:.1} ms",
        ms(percentile(&delays, 0.5)),
        ms(percentile(&delays, 0.9)),
        ms(percentile(&delays, 0.99)),
        ms(*delays.last().unwrap()),
        ms(delays[0]),
    );
}

async fn subscribe_then_trigger(target: &Target, rounds: usize) {
    let user = format!("rounds-{}", std::process::id());
    let (watcher, _) = target.sign_in(&target.b, &user).await;
    let mut socket = target.subscriber(&watcher, &[]).await;
    let (mut delays, mut lost) = (Vec::with_capacity(rounds), 0);
    for round in 0..rounds {
        let id = format!("round-{round}");
        send(
            &mut socket,
            json!({ "id": id, "type": "subscribe", "payload": { "query": "subscription { sessionStarted { id } }" } }),
        )
        .await;
        send(&mut socket, json!({ "type": "ping" })).await;
        assert_eq!(receive(&mut socket).await["type"], "pong");
        let started = Instant::now();
        let (_, session_id) = target.sign_in(&target.a, &user).await;
        match tokio::time::timeout(Duration::from_secs(5), receive(&mut socket)).await {
            Ok(told) => {
                assert_eq!(told["id"], id.as_str(), "{told}");
                assert_eq!(told["payload"]["data"]["sessionStarted"]["id"], session_id);
                delays.push(started.elapsed());
            }
            Err(_) => lost += 1,
        }
        send(&mut socket, json!({ "id": id, "type": "complete" })).await;
    }
    delays.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "subscribe on B, then sign in on A, {rounds} rounds: {lost} events lost; delivered in median {:.1} ms, p99 {:.1} ms, worst {:.1} ms",
        ms(percentile(&delays, 0.5)),
        ms(percentile(&delays, 0.99)),
        ms(*delays.last().unwrap()),
    );
}

async fn idle_memory(target: &Target, connections: usize) {
    let mut sessions = Vec::with_capacity(connections);
    for index in 0..connections {
        let (token, _) = target
            .sign_in(&target.b, &format!("idle-{index}-{}", std::process::id()))
            .await;
        sessions.push(token);
    }
    let before = target.resident_kib();
    let mut sockets = Vec::with_capacity(connections);
    for token in &sessions {
        sockets.push(
            target
                .subscriber(
                    token,
                    &[
                        "subscription { signedOut { reason } }",
                        "subscription { sessionRevoked { reason session { id } } }",
                    ],
                )
                .await,
        );
    }
    // Let allocations settle before reading.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = target.resident_kib();
    println!(
        "{connections} idle subscribed connections on B: resident {:.1} MiB before, {:.1} MiB after, {:.1} KiB per connection",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / connections as f64,
    );
    drop(sockets);
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; this target takes no arguments of its own.
    let target = Target {
        a: setting("PUSH_A", Some("http://127.0.0.1:8081")),
        b: setting("PUSH_B", Some("http://127.0.0.1:8082")),
        b_pid: setting("PUSH_B_PID", None),
        secret: setting("SESSIONHUB_IDENTITY_SECRET", None),
        http: reqwest::Client::new(),
    };
    let rounds = setting("PUSH_ROUNDS", Some("100")).parse().unwrap();
    let subscribe_rounds = setting("PUSH_SUBSCRIBE_ROUNDS", Some("100"))
        .parse()
        .unwrap();
    let idle = setting("PUSH_IDLE", Some("1000")).parse().unwrap();
    sign_out_delay(&target, rounds).await;
    subscribe_then_trigger(&target, subscribe_rounds).await;
    idle_memory(&target, idle).await;
}
