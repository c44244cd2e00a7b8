//! Push rounds across instances: what a user on one device sees of a change made on
//! another, one round at a time, each change made through the first instance and heard on
//! a socket of the last.
//!
//! - `sign-out-push`: a session subscribed to `signedOut` is revoked; measured from
//!   sending `revokeSession` to `signedOut` arriving. Each round also checks that the
//!   socket then closes with 4403 and that every instance refuses the token.
//! - `push-after-subscribe`: a socket subscribes to `sessionStarted` (and waits until the
//!   server has read it), then the account signs in again; measured until the event
//!   arrives, and counted as lost when it does not within [`LOST_AFTER`].

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};
use sessionhub_client::live::LiveSocket;

use crate::{live, server::Target};

/// An event that has not arrived this long after its change is lost.
const LOST_AFTER: Duration = Duration::from_secs(5);

/// The delays of a scenario's rounds, and how many of them never arrived.
pub struct Rounds {
    pub instances: usize,
    /// Arrival delays, shortest first.
    pub delays: Vec<Duration>,
    pub lost: usize,
}

impl Rounds {
    fn new(instances: usize, mut delays: Vec<Duration>, lost: usize) -> Self {
        delays.sort();
        Self {
            instances,
            delays,
            lost,
        }
    }

    /// The delay `fraction` of the way from the shortest to the longest.
    pub fn percentile(&self, fraction: f64) -> Duration {
        let Some(last) = self.delays.len().checked_sub(1) else {
            return Duration::ZERO;
        };
        self.delays[(last as f64 * fraction).round() as usize]
    }
}

/// `rounds` revokes through the first of `targets`, each heard on the last.
pub async fn sign_out_push(targets: &[&Target], rounds: usize) -> anyhow::Result<Rounds> {
    let (changing, hearing) = ends(targets);
    let mut delays = Vec::with_capacity(rounds);
    let mut lost = 0;
    for round in 0..rounds {
        let user = format!("sign-out-push-{}-{round}", std::process::id());
        let revoker = live::sign_in(changing, &user, &["pwd", "mfa"], 1)
            .await?
            .remove(0);
        let victim = live::sign_in(hearing, &user, &["pwd"], 1).await?.remove(0);
        let victim_id = session_id(hearing, &victim).await?;
        let mut socket = LiveSocket::authenticated(&hearing.base, &victim).await?;
        socket
            .subscribe("1", "subscription { signedOut { reason } }")
            .await?;
        socket.read_up_to_here().await?;

        let sent = Instant::now();
        changing
            .graphql(
                Some(&revoker),
                &json!({ "query": "mutation($id: ID!) { revokeSession(id: $id) { id } }",
                         "variables": { "id": victim_id } }),
                "load",
            )
            .await
            .map_err(anyhow::Error::msg)?;
        let Some(told) = within(LOST_AFTER, &mut socket).await? else {
            lost += 1;
            continue;
        };
        delays.push(sent.elapsed());
        ensure!(
            told["payload"]["data"]["signedOut"]["reason"] == "REVOKED",
            "told {told}"
        );
        let closed = loop {
            match within(LOST_AFTER, &mut socket).await? {
                Some(message) if message.get("close").is_some() => break message,
                Some(_) => {}
                None => bail!("the signed-out socket stayed open"),
            }
        };
        ensure!(closed == json!({ "close": 4403 }), "closed with {closed}");
        for target in targets {
            let refused = target
                .graphql(
                    Some(&victim),
                    &json!({ "query": "{ currentSession { id } }" }),
                    "load",
                )
                .await;
            ensure!(
                refused
                    .as_ref()
                    .is_err_and(|error| error.contains("SESSION_ENDED")),
                "{} still took the revoked session: {refused:?}",
                target.base
            );
        }
    }
    Ok(Rounds::new(targets.len(), delays, lost))
}

/// `rounds` sign-ins through the first of `targets`, each heard by a subscription made
/// just before on the last.
pub async fn push_after_subscribe(targets: &[&Target], rounds: usize) -> anyhow::Result<Rounds> {
    let (changing, hearing) = ends(targets);
    let user = format!("push-after-subscribe-{}", std::process::id());
    let watcher = live::sign_in(hearing, &user, &["pwd"], 1).await?.remove(0);
    let identity = changing.identity(&user, &["pwd"]);
    let mut socket = LiveSocket::authenticated(&hearing.base, &watcher).await?;
    let mut delays = Vec::with_capacity(rounds);
    let mut lost = 0;
    for round in 0..rounds {
        let id = format!("round-{round}");
        socket
            .subscribe(&id, "subscription { sessionStarted { id } }")
            .await?;
        socket.read_up_to_here().await?;
        let sent = Instant::now();
        let started = changing
            .graphql(
                Some(&identity),
                &json!({ "query": "mutation { startSession(input: {}) { session { id } } }" }),
                "load",
            )
            .await
            .map_err(anyhow::Error::msg)?;
        match within(LOST_AFTER, &mut socket).await? {
            Some(told) => {
                delays.push(sent.elapsed());
                ensure!(
                    told["id"] == id.as_str()
                        && told["payload"]["data"]["sessionStarted"]["id"]
                            == started["data"]["startSession"]["session"]["id"],
                    "told {told} for {started}"
                );
            }
            None => lost += 1,
        }
        socket.send(json!({ "id": id, "type": "complete" })).await?;
    }
    Ok(Rounds::new(targets.len(), delays, lost))
}

/// The instance changes are made through, and the one they are heard on.
fn ends<'a>(targets: &[&'a Target]) -> (&'a Target, &'a Target) {
    let first = targets.first().expect("at least one instance");
    (first, targets.last().unwrap_or(first))
}

/// The id of the session `token` proves.
async fn session_id(target: &Target, token: &str) -> anyhow::Result<String> {
    let answer = target
        .graphql(
            Some(token),
            &json!({ "query": "{ currentSession { id } }" }),
            "load",
        )
        .await
        .map_err(anyhow::Error::msg)?;
    answer["data"]["currentSession"]["id"]
        .as_str()
        .map(str::to_owned)
        .context("currentSession gave no id")
}

/// The socket's next message, if one arrives within `patience`.
async fn within(patience: Duration, socket: &mut LiveSocket) -> anyhow::Result<Option<Value>> {
    match tokio::time::timeout(patience, socket.next()).await {
        Ok(message) => Ok(Some(message?)),
        Err(_) => Ok(None),
    }
}
