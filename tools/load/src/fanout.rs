//! `revoke-fanout`: N sessions of one account each hold a websocket subscribed to
//! `signedOut`, spread over the instances; one more session revokes all the others
//! through the first instance. Measured: how long after the revoke's answer the last
//! `signedOut` arrives.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;
use sessionhub_client::live::LiveSocket;

use crate::{live, server::Target};

/// How long a socket may wait for its `signedOut` before it counts as never told.
const TELL_WITHIN: Duration = Duration::from_secs(10);

/// What one revoke-all across `subscribers` sockets came to.
pub struct Fanout {
    pub subscribers: usize,
    pub instances: usize,
    pub told: usize,
    pub answered_after: Duration,
    pub last_told_after_answer: Duration,
}

pub async fn revoke_fanout(targets: &[&Target], subscribers: usize) -> anyhow::Result<Fanout> {
    let revoking = targets[0];
    let user = format!("fanout-{}-{}", std::process::id(), revoking.authority());
    // A second factor, as a user with one signs in: a new device may then end the others
    // at once, past the new-device cool-down.
    let tokens = live::sign_in(revoking, &user, &["pwd", "mfa"], subscribers + 1).await?;
    let (revoker, subscribing) = tokens.split_last().expect("at least one session");
    let subscription = "subscription { signedOut { reason } }";
    let sockets = live::subscribe_all(targets, subscribing, &[subscription]).await?;

    let sent = Instant::now();
    revoking
        .graphql(
            Some(revoker),
            &json!({ "query": "mutation { revokeAllSessions { revokedCount } }" }),
            "load",
        )
        .await
        .map_err(anyhow::Error::msg)?;
    let answered = Instant::now();
    let arrivals = join_all(sockets.into_iter().map(told_at)).await;
    let told: Vec<Instant> = arrivals.into_iter().flatten().collect();
    let last = told.iter().max().copied().unwrap_or(answered);
    Ok(Fanout {
        subscribers,
        instances: targets.len(),
        told: told.len(),
        answered_after: answered - sent,
        last_told_after_answer: last.saturating_duration_since(answered),
    })
}

/// When `socket` heard `signedOut`, if it did within [`TELL_WITHIN`].
async fn told_at(mut socket: LiveSocket) -> Option<Instant> {
    loop {
        let message = tokio::time::timeout(TELL_WITHIN, socket.next())
            .await
            .ok()?
            .ok()?;
        if message["payload"]["data"]["signedOut"].is_object() {
            return Some(Instant::now());
        }
        if message.get("close").is_some() {
            return None;
        }
    }
}
