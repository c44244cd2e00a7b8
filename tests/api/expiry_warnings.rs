//! `sessionExpiring`: a session's own connection is told ahead of its expiry.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{helpers::TestApp, subscriptions::Subscriber};

crate::on_both_databases!(a_session_is_warned_before_it_idles_out_and_again_after_a_heartbeat);

mod with_a_one_hour_lifetime {
    use super::*;

    crate::on_both_databases!(
        configured |config| config.session_lifetime = std::time::Duration::from_secs(3600);
        the_lifetime_is_warned_of_as_what_no_heartbeat_can_put_off,
    );
}

const EXPIRING: &str = "subscription { sessionExpiring { sessionId expiresAt reason canExtend } }";

/// Subscribes `token`'s session to its warnings.
async fn warned(app: &TestApp, token: &str) -> Subscriber {
    let mut subscriber = Subscriber::authenticated(app, token).await;
    subscriber.subscribe("expiring", EXPIRING).await;
    subscriber.read_up_to_here().await;
    subscriber
}

/// Asserts that nothing but the answer to a ping arrives: no warning is due yet. The
/// pause gives a wrongly woken watcher the time to speak first.
async fn assert_quiet(subscriber: &mut Subscriber) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    subscriber.read_up_to_here().await;
}

fn warning(message: &Value) -> &Value {
    assert_eq!(message["id"], "expiring", "{message}");
    &message["payload"]["data"]["sessionExpiring"]
}

async fn a_session_is_warned_before_it_idles_out_and_again_after_a_heartbeat(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let other = app.sign_in("alice").await;
    let mut own = warned(&app, &alice.token).await;
    let mut others = warned(&app, &other.token).await;
    // Expires at 12:30; the warning is due two minutes before.
    app.advance(27);
    app.heartbeat(&other.token).await;
    assert_quiet(&mut own).await;
    app.advance(1);
    assert_eq!(
        warning(&own.next().await),
        &json!({
            "sessionId": alice.session_id, "expiresAt": "2026-11-23T12:30:00Z",
            "reason": "IDLE_TIMEOUT", "canExtend": true,
        })
    );
    // The other session's heartbeat put its own expiry off: nothing for it.
    assert_quiet(&mut others).await;

    // "Stay signed in": the heartbeat moves the expiry to 12:59, so a new warning is due at 12:57.
    app.heartbeat(&alice.token).await;
    app.advance(2);
    assert_quiet(&mut own).await;
    app.advance(27);
    assert_eq!(
        warning(&own.next().await)["expiresAt"],
        "2026-11-23T12:59:00Z"
    );
}

async fn the_lifetime_is_warned_of_as_what_no_heartbeat_can_put_off(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let mut own = warned(&app, &alice.token).await;
    for _ in 0..2 {
        app.advance(20);
        app.heartbeat(&alice.token).await;
    }
    // The second heartbeat, at 12:40, met the lifetime: the session ends at 13:00.
    assert_eq!(
        app.heartbeat_expires_at(&alice.token).await,
        "2026-11-23T13:00:00Z"
    );
    assert_quiet(&mut own).await;
    app.advance(18);
    assert_eq!(
        warning(&own.next().await),
        &json!({
            "sessionId": alice.session_id, "expiresAt": "2026-11-23T13:00:00Z",
            "reason": "LIFETIME_EXCEEDED", "canExtend": false,
        })
    );
}
