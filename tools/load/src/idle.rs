//! `idle-sockets`: N sessions each hold a websocket with the first K subscriptions of an
//! account page (`signedOut`, `sessionRevoked`, `sessionStarted`), then do nothing.
//! Measured: how much the server's resident memory grew per socket.

use std::time::Duration;

use anyhow::Context;

use crate::{live, server::Target};

/// Sessions per account: the sockets spread over several accounts, as real ones do.
const SESSIONS_PER_ACCOUNT: usize = 100;
/// Pause before the memory is read, so that handshakes in flight have settled.
const SETTLE: Duration = Duration::from_secs(1);
/// What an account page subscribes to, most needed first.
pub const ACCOUNT_PAGE: [(&str, &str); 3] = [
    ("signedOut", "subscription { signedOut { reason } }"),
    (
        "sessionRevoked",
        "subscription { sessionRevoked { session { id } reason } }",
    ),
    (
        "sessionStarted",
        "subscription { sessionStarted { id device { name } } }",
    ),
];

/// What `sockets` idle subscribed sockets cost the server.
pub struct IdleSockets {
    pub sockets: usize,
    /// The fields of [`ACCOUNT_PAGE`] each socket subscribed to.
    pub subscriptions: Vec<&'static str>,
    pub resident_before_mib: f64,
    pub resident_after_mib: f64,
}

impl IdleSockets {
    pub fn kib_per_socket(&self) -> f64 {
        (self.resident_after_mib - self.resident_before_mib) * 1024.0 / self.sockets as f64
    }
}

pub async fn idle_sockets(
    target: &Target,
    sockets: usize,
    subscriptions: usize,
) -> anyhow::Result<IdleSockets> {
    let page = &ACCOUNT_PAGE[..subscriptions.clamp(1, ACCOUNT_PAGE.len())];
    let documents: Vec<&str> = page.iter().map(|(_, document)| *document).collect();
    let mut tokens = Vec::with_capacity(sockets);
    for account in 0..sockets.div_ceil(SESSIONS_PER_ACCOUNT) {
        let user = format!("idle-{}-{account}", std::process::id());
        let count = SESSIONS_PER_ACCOUNT.min(sockets - tokens.len());
        tokens.extend(live::sign_in(target, &user, &["pwd"], count).await?);
    }
    tokio::time::sleep(SETTLE).await;
    let resident = || {
        target
            .resident_mib()
            .context("idle-sockets needs the server's process (--start, or --pid)")
    };
    let resident_before_mib = resident()?;
    let held = live::subscribe_all(&[target], &tokens, &documents).await?;
    tokio::time::sleep(SETTLE).await;
    let resident_after_mib = resident()?;
    drop(held);
    Ok(IdleSockets {
        sockets,
        subscriptions: page.iter().map(|(field, _)| *field).collect(),
        resident_before_mib,
        resident_after_mib,
    })
}
