//! `revoke-fanout`: N sessions of one account each hold a websocket subscribed to
//! `signedOut`; one more session revokes all the others. Measured: how long after the
//! revoke's answer the last `signedOut` arrives.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt, future::join_all};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use crate::server::Target;

const START_SESSION: &str = "mutation { startSession(input: {}) { token } }";

/// What one revoke-all across `subscribers` sockets came to.
pub struct Fanout {
    pub subscribers: usize,
    pub told: usize,
    pub answered_after: Duration,
    pub last_told_after_answer: Duration,
}

pub async fn revoke_fanout(target: &Target, subscribers: usize) -> anyhow::Result<Fanout> {
    let user = format!("fanout-{}", std::process::id());
    let identity = target.identity(&user);
    let sign_in = async || -> anyhow::Result<String> {
        let answer = target
            .graphql(Some(&identity), &json!({ "query": START_SESSION }), "load")
            .await
            .map_err(anyhow::Error::msg)?;
        Ok(answer["data"]["startSession"]["token"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    };
    let mut tokens = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        tokens.push(sign_in().await?);
    }
    let revoker = sign_in().await?;
    let sockets = join_all(tokens.iter().map(|token| subscribed(target, token))).await;
    let sockets: Vec<_> = sockets.into_iter().collect::<anyhow::Result<_>>()?;

    let sent = Instant::now();
    target
        .graphql(
            Some(&revoker),
            &json!({ "query": "mutation { revokeAllSessions { revokedCount } }" }),
            "load",
        )
        .await
        .map_err(anyhow::Error::msg)?;
    let answered = Instant::now();
    let arrivals = join_all(sockets.into_iter().map(|mut socket| async move {
        let deadline = Duration::from_secs(10);
        loop {
            match tokio::time::timeout(deadline, socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let message: Value = serde_json::from_str(&text).unwrap_or_default();
                    if message["payload"]["data"]["signedOut"].is_object() {
                        return Some(Instant::now());
                    }
                }
                Ok(Some(Ok(_))) => {}
                _ => return None,
            }
        }
    }))
    .await;
    let told: Vec<Instant> = arrivals.into_iter().flatten().collect();
    let last = told.iter().max().copied().unwrap_or(answered);
    Ok(Fanout {
        subscribers,
        told: told.len(),
        answered_after: answered - sent,
        last_told_after_answer: last.saturating_duration_since(answered),
    })
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A socket of `token`'s session subscribed to `signedOut`, once the server has read the
/// subscription (it answered a ping sent after it).
async fn subscribed(target: &Target, token: &str) -> anyhow::Result<Socket> {
    let mut request =
        format!("{}/graphql/ws", target.base.replace("http://", "ws://")).into_client_request()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let send = |message: Value| Message::Text(message.to_string().into());
    socket
        .send(send(
            json!({ "type": "connection_init", "payload": { "token": token } }),
        ))
        .await?;
    socket
        .send(send(json!({ "id": "bye", "type": "subscribe", "payload": { "query": "subscription { signedOut { reason } }" } })))
        .await?;
    socket.send(send(json!({ "type": "ping" }))).await?;
    while let Some(frame) = socket.next().await {
        if let Message::Text(text) = frame? {
            let message: Value = serde_json::from_str(&text)?;
            match message["type"].as_str() {
                Some("pong") => return Ok(socket),
                Some("connection_ack") | Some("ping") => {}
                _ => anyhow::bail!("unexpected {message}"),
            }
        }
    }
    anyhow::bail!("the server closed the socket before it was subscribed")
}
