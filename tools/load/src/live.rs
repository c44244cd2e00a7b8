//! What the websocket scenarios share: sessions signed in through the API, and sockets
//! subscribed with them.

use futures_util::future::try_join_all;
use serde_json::json;
use sessionhub_client::live::LiveSocket;

use crate::server::Target;

const START_SESSION: &str = "mutation { startSession(input: {}) { token } }";
/// How many sign-ins or socket handshakes are in flight at once.
const AT_ONCE: usize = 100;

/// `count` new sessions of `user` signed in with methods `amr`, by their tokens.
pub async fn sign_in(
    target: &Target,
    user: &str,
    amr: &[&str],
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let identity = target.identity(user, amr);
    let mut tokens = Vec::with_capacity(count);
    while tokens.len() < count {
        let batch = AT_ONCE.min(count - tokens.len());
        let signed_in = try_join_all((0..batch).map(|_| async {
            let answer = target
                .graphql(Some(&identity), &json!({ "query": START_SESSION }), "load")
                .await
                .map_err(anyhow::Error::msg)?;
            match answer["data"]["startSession"]["token"].as_str() {
                Some(token) => Ok(token.to_owned()),
                None => anyhow::bail!("startSession gave no token: {answer}"),
            }
        }))
        .await?;
        tokens.extend(signed_in);
    }
    Ok(tokens)
}

/// A socket for each of `tokens`, spread over `targets` in turn, each subscribed to every
/// one of `subscriptions` (GraphQL documents).
pub async fn subscribe_all(
    targets: &[&Target],
    tokens: &[String],
    subscriptions: &[&str],
) -> anyhow::Result<Vec<LiveSocket>> {
    let mut sockets = Vec::with_capacity(tokens.len());
    for (batch, chunk) in tokens.chunks(AT_ONCE).enumerate() {
        let opened = try_join_all(chunk.iter().enumerate().map(|(index, token)| {
            let target = targets[(batch * AT_ONCE + index) % targets.len()];
            subscribed(target, token, subscriptions)
        }))
        .await?;
        sockets.extend(opened);
    }
    Ok(sockets)
}

/// A socket of `token`'s session subscribed to `subscriptions`, once the server has read
/// them (it answered a ping sent after them).
async fn subscribed(
    target: &Target,
    token: &str,
    subscriptions: &[&str],
) -> anyhow::Result<LiveSocket> {
    let mut socket = LiveSocket::authenticated(&target.base, token).await?;
    for (id, query) in subscriptions.iter().enumerate() {
        socket.subscribe(&id.to_string(), query).await?;
    }
    socket.read_up_to_here().await?;
    Ok(socket)
}
