//! "Was this you?": sign-ins on new devices, put to the account's other sessions, and the
//! confirmation policy that holds them until answered.

use serde_json::{Value, json};

use crate::{
    helpers::{CHROME_MAC, SAFARI_IPHONE, SignedIn, TestApp},
    subscriptions::{Subscriber, wait_for_subscribers},
};

const IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

crate::on_both_databases!(
    a_sign_in_on_a_new_device_is_put_to_the_other_sessions,
    confirming_needs_a_recent_sign_in_on_another_recognised_device,
    rejecting_ends_the_devices_sessions_and_flags_it_hijacked,
);

mod with_the_confirmation_policy {
    use super::*;

    crate::on_both_databases!(
        configured |config| config.confirm_new_devices_within = Some(std::time::Duration::from_secs(15 * 60));
        a_pending_sign_in_may_only_read_itself_until_confirmed,
        a_pending_sign_in_ends_at_its_deadline_unless_confirmed,
        a_sign_in_nobody_could_confirm_is_not_held,
    );
}

const SIGN_IN: &str = "id check loginMethod signedInAt answeredAt confirmBy
    device { id name browser { name } os { name } type }
    session { id isCurrent pendingUntil }";

async fn new_sign_ins(app: &TestApp, token: &str, include_answered: bool) -> Value {
    let listed = app
        .graphql(
            Some(token),
            &format!(
                "query($all: Boolean) {{ newSignIns(includeAnswered: $all) {{ {SIGN_IN} }} }}"
            ),
            json!({ "all": include_answered }),
        )
        .await;
    listed.assert_ok();
    listed.data("newSignIns").clone()
}

/// Answers the sign-in of session `id` with `mutation` (`confirmSignIn` or `rejectSignIn`).
pub async fn answer(
    app: &TestApp,
    token: &str,
    mutation: &str,
    id: &str,
) -> crate::helpers::Answer {
    app.graphql(
        Some(token),
        &format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ {SIGN_IN} }} }}"),
        json!({ "id": id }),
    )
    .await
}

async fn a_sign_in_on_a_new_device_is_put_to_the_other_sessions(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    // The account's first device: there is no one to ask.
    assert_eq!(new_sign_ins(&app, &laptop.token, true).await, json!([]));
    let mut feed = Subscriber::authenticated(&app, &laptop.token).await;
    feed.subscribe(
        "asked",
        &format!("subscription {{ newSignIn {{ {SIGN_IN} }} }}"),
    )
    .await;
    wait_for_subscribers(&app, 1).await;

    app.advance(1);
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let pushed = feed.next().await;
    assert_eq!(pushed["id"], "asked");
    let asked = &pushed["payload"]["data"]["newSignIn"];
    assert_eq!(
        asked,
        &json!({
            "id": phone.session_id, "check": "UNCONFIRMED", "loginMethod": "pwd",
            "signedInAt": "2026-11-23T12:01:00Z", "answeredAt": null, "confirmBy": null,
            "device": {
                "id": phone.device_id, "name": "Safari on iPhone", "browser": { "name": "Safari" },
                "os": { "name": "iOS" }, "type": "MOBILE",
            },
            "session": { "id": phone.session_id, "isCurrent": false, "pendingUntil": null },
        })
    );
    assert_eq!(
        new_sign_ins(&app, &laptop.token, false).await,
        json!([asked])
    );

    // Signing in again on a device the account knows asks nothing; on the unanswered
    // phone it asks again, about the latest sign-in.
    app.sign_in_with("alice", CHROME_MAC, Some(&laptop.device_token))
        .await;
    let phone_again = app
        .sign_in_with("alice", SAFARI_IPHONE, Some(&phone.device_token))
        .await;
    let again = feed.next().await;
    assert_eq!(
        again["payload"]["data"]["newSignIn"]["id"],
        phone_again.session_id.as_str()
    );
    let listed = new_sign_ins(&app, &laptop.token, false).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], phone_again.session_id.as_str());
    assert_eq!(app.event_count("NEW_SIGN_IN").await, 2);

    // Another account's sign-ins are not Alice's to see.
    let bob = app.sign_in("bob").await;
    assert_eq!(new_sign_ins(&app, &bob.token, true).await, json!([]));
}

async fn confirming_needs_a_recent_sign_in_on_another_recognised_device(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;

    let from_itself = answer(&app, &phone.token, "confirmSignIn", &phone.session_id).await;
    assert_eq!(
        from_itself.error_code(),
        "FORBIDDEN",
        "{}",
        from_itself.body
    );
    // A second unrecognised device cannot vouch for the first.
    let tablet = app.sign_in_with("alice", IPAD, None).await;
    let from_tablet = answer(&app, &tablet.token, "confirmSignIn", &phone.session_id).await;
    assert_eq!(
        from_tablet.error_code(),
        "FORBIDDEN",
        "{}",
        from_tablet.body
    );
    let not_a_new_sign_in = answer(&app, &phone.token, "confirmSignIn", &laptop.session_id).await;
    assert_eq!(not_a_new_sign_in.error_code(), "NOT_FOUND");

    // The laptop's sign-in is 11 minutes old: past the re-authentication window.
    app.advance(11);
    let stale = answer(&app, &laptop.token, "confirmSignIn", &phone.session_id).await;
    assert_eq!(stale.error_code(), "REAUTH_REQUIRED");
    let laptop = app
        .sign_in_with("alice", CHROME_MAC, Some(&laptop.device_token))
        .await;
    let confirmed = answer(&app, &laptop.token, "confirmSignIn", &phone.session_id).await;
    confirmed.assert_ok();
    assert_eq!(confirmed.data("confirmSignIn.check"), "CONFIRMED");
    assert_eq!(
        confirmed.data("confirmSignIn.answeredAt"),
        "2026-11-23T12:11:00Z"
    );
    // Answering again changes nothing.
    answer(&app, &laptop.token, "confirmSignIn", &phone.session_id)
        .await
        .assert_ok();
    assert_eq!(app.event_count("SIGN_IN_CONFIRMED").await, 1);

    let waiting = new_sign_ins(&app, &laptop.token, false).await;
    assert_eq!(
        waiting.as_array().unwrap().len(),
        1,
        "only the tablet waits"
    );
    assert_eq!(waiting[0]["id"], tablet.session_id.as_str());
    let all = new_sign_ins(&app, &laptop.token, true).await;
    assert_eq!(all[1]["id"], phone.session_id.as_str());
    assert_eq!(all[1]["check"], "CONFIRMED");

    // The security log says who confirmed it. The phone is recognised now: signing in on
    // it again asks nothing, and it may answer for the tablet.
    assert_eq!(
        logged_answer(&app, &laptop, "SIGN_IN_CONFIRMED").await,
        json!({ "actorSession": { "id": laptop.session_id }, "session": { "id": phone.session_id } })
    );
    let phone = app
        .sign_in_with("alice", SAFARI_IPHONE, Some(&phone.device_token))
        .await;
    assert_eq!(
        app.event_count("NEW_SIGN_IN").await,
        2,
        "the phone and the tablet"
    );
    answer(&app, &phone.token, "confirmSignIn", &tablet.session_id)
        .await
        .assert_ok();
}

async fn rejecting_ends_the_devices_sessions_and_flags_it_hijacked(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let phone_again = app
        .sign_in_with("alice", SAFARI_IPHONE, Some(&phone.device_token))
        .await;

    let rejected = answer(&app, &laptop.token, "rejectSignIn", &phone.session_id).await;
    rejected.assert_ok();
    assert_eq!(rejected.data("rejectSignIn.check"), "REJECTED");
    app.assert_session_ended(&phone.token).await;
    app.assert_session_ended(&phone_again.token).await;
    let device = app
        .graphql(
            Some(&laptop.token),
            "query($id: ID!) { device(id: $id) { status sessions(includeEnded: true) { endReason } } }",
            json!({ "id": phone.device_id }),
        )
        .await;
    assert_eq!(
        device.data("device"),
        &json!({ "status": "HIJACKED", "sessions": [
            { "endReason": "DEVICE_HIJACKED" }, { "endReason": "DEVICE_HIJACKED" },
        ] })
    );
    let refused = app
        .graphql(
            Some(&app.identity_token("alice", &["pwd"])),
            "mutation($token: String) { startSession(input: { deviceToken: $token }) { token } }",
            json!({ "token": phone.device_token }),
        )
        .await;
    assert_eq!(refused.error_code(), "DEVICE_BLOCKED");

    // Rejected is final: confirming now is refused, rejecting again changes nothing.
    let late = answer(&app, &laptop.token, "confirmSignIn", &phone.session_id).await;
    assert_eq!(late.error_code(), "DEVICE_BLOCKED");
    answer(&app, &laptop.token, "rejectSignIn", &phone.session_id)
        .await
        .assert_ok();
    assert_eq!(app.event_count("SIGN_IN_REJECTED").await, 1);
    assert_eq!(
        logged_answer(&app, &laptop, "SIGN_IN_REJECTED").await,
        json!({ "actorSession": { "id": laptop.session_id }, "session": { "id": phone.session_id } })
    );
}

/// Who answered, and which sign-in, as the security log's latest `kind` entry says.
async fn logged_answer(app: &TestApp, viewer: &SignedIn, kind: &str) -> Value {
    let log = app
        .graphql(
            Some(&viewer.token),
            "{ securityEvents(first: 100) { nodes { kind actorSession { id } session { id } } } }",
            json!({}),
        )
        .await;
    log.assert_ok();
    let mut entry = log
        .data("securityEvents.nodes")
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {}", log.body))
        .clone();
    entry.as_object_mut().unwrap().remove("kind");
    entry
}

async fn a_pending_sign_in_may_only_read_itself_until_confirmed(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;

    let own = app
        .graphql(
            Some(&phone.token),
            "{ currentSession { status pendingUntil } currentDevice { name } }",
            json!({}),
        )
        .await;
    own.assert_ok();
    assert_eq!(
        own.body["data"],
        json!({
            "currentSession": { "status": "ACTIVE", "pendingUntil": "2026-11-23T12:15:00Z" },
            "currentDevice": { "name": "Safari on iPhone" },
        })
    );
    for held in [
        "{ devices { id } }",
        "{ sessions { id } }",
        "{ securityEvents { nodes { id } } }",
        "mutation { revokeAllSessions { revokedCount } }",
    ] {
        let refused = app.graphql(Some(&phone.token), held, json!({})).await;
        assert_eq!(
            refused.error_code(),
            "SIGN_IN_PENDING",
            "{held}: {}",
            refused.body
        );
    }
    let mut feed = Subscriber::authenticated(&app, &phone.token).await;
    feed.subscribe("held", "subscription { sessionStarted { id } }")
        .await;
    let refused = feed.next().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "SIGN_IN_PENDING"
    );
    // A heartbeat keeps it alive, but never past its deadline.
    app.advance(1);
    assert_eq!(
        app.heartbeat_expires_at(&phone.token).await,
        "2026-11-23T12:15:00Z"
    );

    answer(&app, &laptop.token, "confirmSignIn", &phone.session_id)
        .await
        .assert_ok();
    let released = app
        .graphql(
            Some(&phone.token),
            "{ currentSession { pendingUntil expiresAt } devices { id } }",
            json!({}),
        )
        .await;
    released.assert_ok();
    assert_eq!(released.data("currentSession.pendingUntil"), &Value::Null);
    // The idle expiry of its heartbeat at 12:01: 30 minutes and the one-minute write
    // window.
    assert_eq!(
        released.data("currentSession.expiresAt"),
        "2026-11-23T12:32:00Z"
    );
}

async fn a_pending_sign_in_ends_at_its_deadline_unless_confirmed(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let listed = new_sign_ins(&app, &laptop.token, false).await;
    assert_eq!(listed[0]["confirmBy"], "2026-11-23T12:15:00Z");
    // A second sign-in on the waiting device waits for the same deadline.
    app.advance(5);
    let phone_again = app
        .sign_in_with("alice", SAFARI_IPHONE, Some(&phone.device_token))
        .await;
    app.advance(10);
    app.assert_session_ended(&phone.token).await;
    app.assert_session_ended(&phone_again.token).await;
    app.assert_session_active(&laptop.token).await;
    assert_eq!(app.services.sweep_expired_sessions().await.unwrap(), 2);
    let ended = app
        .graphql(
            Some(&laptop.token),
            "query($id: ID!) { session(id: $id) { status endReason endedAt } }",
            json!({ "id": phone.session_id }),
        )
        .await;
    assert_eq!(
        ended.data("session"),
        &json!({ "status": "EXPIRED", "endReason": "NOT_CONFIRMED", "endedAt": "2026-11-23T12:15:00Z" })
    );
}

async fn a_sign_in_nobody_could_confirm_is_not_held(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    app.assert_session_active(&laptop.token).await;
    app.sign_out(&laptop.token).await;
    // No other session is left to confirm it: the phone is asked about, not held.
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let own = app
        .graphql(
            Some(&phone.token),
            "{ currentSession { pendingUntil } devices { id } }",
            json!({}),
        )
        .await;
    own.assert_ok();
    assert_eq!(own.data("currentSession.pendingUntil"), &Value::Null);
    let laptop = app
        .sign_in_with("alice", CHROME_MAC, Some(&laptop.device_token))
        .await;
    let listed = new_sign_ins(&app, &laptop.token, false).await;
    assert_eq!(listed[0]["id"], phone.session_id.as_str());
    assert_eq!(listed[0]["confirmBy"], Value::Null);
}
