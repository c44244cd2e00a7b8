//! Flashback's API: the seed's examples, and each call doing what its GraphQL twin does.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{replay, rest};
use crate::{
    helpers::{SAFARI_IPHONE, TestApp},
    subscriptions::{Subscriber, wait_for_subscribers},
};

const PREFIX: &str = "/compat/flashback";

crate::on_both_databases!(
    configured crate::compat::serve_all;
    the_seeds_examples_replay,
    a_revoke_here_ends_the_session_logs_it_and_pushes_it,
    trust_untrust_and_remove_a_device,
    a_heartbeat_keeps_the_calling_session_alive,
    revoke_all_keeps_the_caller_unless_asked,
);

mod with_the_confirmation_policy {
    use super::*;

    crate::on_both_databases!(
        configured |config| {
            crate::compat::serve_all(config);
            config.confirm_new_devices_within = Some(std::time::Duration::from_secs(15 * 60));
        };
        a_pending_sign_in_may_only_keep_itself_alive_and_sign_out,
    );
}

async fn get(app: &TestApp, path: &str, token: &str) -> super::Rest {
    rest(
        app,
        Method::GET,
        &format!("{PREFIX}{path}"),
        Some(token),
        None,
    )
    .await
}

async fn post(
    app: &TestApp,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> super::Rest {
    rest(
        app,
        Method::POST,
        &format!("{PREFIX}{path}"),
        Some(token),
        body,
    )
    .await
}

async fn the_seeds_examples_replay(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    replay(&app, "flashback", PREFIX, &laptop.token, str::to_owned).await;
}

async fn a_revoke_here_ends_the_session_logs_it_and_pushes_it(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let mut phone_feed = Subscriber::authenticated(&app, &phone.token).await;
    phone_feed
        .subscribe("bye", "subscription { signedOut { reason } }")
        .await;
    wait_for_subscribers(&app, 1).await;

    let listed = get(&app, "/sessions", &laptop.token)
        .await
        .expect(StatusCode::OK);
    let sessions = listed.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    // Most recent activity first: the phone signed in last.
    assert_eq!(sessions[0]["id"], phone.session_id.as_str());
    assert_eq!(sessions[1]["isCurrent"], true);
    assert_eq!(sessions[0]["deviceName"], "Safari on iPhone");

    let revoked = post(
        &app,
        &format!("/sessions/{}/revoke", phone.session_id),
        &laptop.token,
        None,
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        revoked.body,
        json!({ "success": true, "message": "Session revoked" })
    );
    let pushed = phone_feed.next().await;
    assert_eq!(pushed["payload"]["data"]["signedOut"]["reason"], "REVOKED");
    assert_eq!(app.event_count("SESSION_ENDED").await, 1);
    let refused = get(&app, "/devices", &phone.token)
        .await
        .expect(StatusCode::UNAUTHORIZED);
    assert_eq!(refused.body["code"], "SESSION_ENDED");
    app.assert_session_ended(&phone.token).await;

    let unknown = post(&app, "/sessions/not-a-session/revoke", &laptop.token, None)
        .await
        .expect(StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.body,
        json!({ "success": false, "error": "Session not found", "code": "NOT_FOUND" })
    );
}

async fn trust_untrust_and_remove_a_device(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let until = "2027-01-01T00:00:00Z";

    let trusted = post(
        &app,
        "/devices/trust",
        &laptop.token,
        Some(
            json!({ "deviceId": phone.device_id, "trustLevel": "MEDIUM", "trustExpiresAt": until }),
        ),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(trusted.body["data"]["isTrusted"], true);
    assert_eq!(trusted.body["data"]["trustLevel"], "MEDIUM");
    assert_eq!(trusted.body["data"]["trustExpiresAt"], until);
    let shown = get(
        &app,
        &format!("/devices/{}", phone.device_id),
        &laptop.token,
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(shown.body["data"]["trustLevel"], "MEDIUM");
    assert_eq!(shown.body["data"]["deviceType"], "MOBILE");

    for bad in [
        json!({ "deviceId": phone.device_id, "trustLevel": "TOTAL" }),
        json!({ "trustLevel": "HIGH" }),
        json!({ "deviceId": phone.device_id, "trustLevel": "HIGH", "trustExpiresAt": "2001-01-01T00:00:00Z" }),
        // Past the longest trust (a year): never for ever, nor past the years databases compare.
        json!({ "deviceId": phone.device_id, "trustLevel": "HIGH", "trustExpiresAt": "2027-11-24T12:00:00Z" }),
        json!({ "deviceId": phone.device_id, "trustLevel": "HIGH", "trustExpiresAt": "+262142-01-01T00:00:00Z" }),
        // Long reasons are cut short, on a character boundary whichever byte it falls on.
        json!({ "deviceId": phone.device_id, "trustLevel": "é".repeat(400) }),
        json!({ "deviceId": phone.device_id, "trustLevel": format!("x{}", "é".repeat(400)) }),
    ] {
        let refused = post(&app, "/devices/trust", &laptop.token, Some(bad))
            .await
            .expect(StatusCode::BAD_REQUEST);
        assert_eq!(refused.body["code"], "BAD_USER_INPUT");
        let error = refused.body["error"].as_str().unwrap();
        assert!(
            !error.contains(".rs") && error.chars().count() < 300,
            "{error}"
        );
    }

    let untrusted = post(
        &app,
        &format!("/devices/{}/untrust", phone.device_id),
        &laptop.token,
        None,
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(untrusted.body["data"]["isTrusted"], false);
    assert_eq!(
        untrusted.body["data"]["trustExpiresAt"],
        serde_json::Value::Null
    );

    let removed = rest(
        &app,
        Method::DELETE,
        &format!("{PREFIX}/devices/{}", phone.device_id),
        Some(&laptop.token),
        None,
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(removed.body["data"]["endedSessions"], 1);
    app.assert_session_ended(&phone.token).await;
    let gone = get(
        &app,
        &format!("/devices/{}", phone.device_id),
        &laptop.token,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    assert_eq!(gone.body["error"], "Device not found");
    assert_eq!(
        app.event_count("DEVICE_TRUSTED").await + app.event_count("DEVICE_UNTRUSTED").await,
        2
    );
    assert_eq!(app.event_count("DEVICE_FORGOTTEN").await, 1);
}

async fn a_heartbeat_keeps_the_calling_session_alive(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    app.advance(20);
    let before = app.now();
    let kept = post(
        &app,
        &format!("/devices/{}/heartbeat", laptop.device_id),
        &laptop.token,
        None,
    )
    .await
    .expect(StatusCode::OK);
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(kept.body["data"]["expiresAt"].as_str().unwrap())
            .unwrap()
            .timestamp();
    assert!(expires_at >= before + 30 * 60, "{}", kept.body);
    assert_eq!(kept.body["data"]["isCurrent"], true);
    // The session id names it too; another device's id does not.
    post(
        &app,
        &format!("/devices/{}/heartbeat", laptop.session_id),
        &laptop.token,
        None,
    )
    .await
    .expect(StatusCode::OK);
    post(
        &app,
        &format!("/devices/{}/heartbeat", phone.device_id),
        &laptop.token,
        None,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    app.advance(20);
    app.assert_session_active(&laptop.token).await;
    app.assert_session_ended(&phone.token).await;
}

async fn revoke_all_keeps_the_caller_unless_asked(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let tablet = app
        .sign_in_with("alice", SAFARI_IPHONE, Some(&phone.device_token))
        .await;
    let others = post(&app, "/sessions/revoke-all", &laptop.token, None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(others.body["data"]["endedSessions"], 2);
    app.assert_session_ended(&tablet.token).await;
    app.assert_session_active(&laptop.token).await;
    let all = post(
        &app,
        "/sessions/revoke-all",
        &laptop.token,
        Some(json!({ "includeCurrent": true })),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(all.body["data"]["endedSessions"], 1);
    app.assert_session_ended(&laptop.token).await;
}

async fn a_pending_sign_in_may_only_keep_itself_alive_and_sign_out(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let refused = get(&app, "/devices", &phone.token)
        .await
        .expect(StatusCode::FORBIDDEN);
    assert_eq!(refused.body["code"], "SIGN_IN_PENDING");
    let laptop_number = ruuvi_number(&laptop.session_id);
    for (method, path, code) in [
        (
            Method::DELETE,
            "/compat/ruuvi/sessions".to_owned(),
            "sub_code",
        ),
        (
            Method::DELETE,
            format!("/compat/ruuvi/sessions/{laptop_number}"),
            "sub_code",
        ),
        (
            Method::POST,
            format!("/compat/flashback/sessions/{}/revoke", laptop.session_id),
            "code",
        ),
    ] {
        let refused = rest(&app, method, &path, Some(&phone.token), None)
            .await
            .expect(StatusCode::FORBIDDEN);
        assert_eq!(refused.body[code], "SIGN_IN_PENDING", "{path}");
    }
    post(
        &app,
        &format!("/devices/{}/heartbeat", phone.device_id),
        &phone.token,
        None,
    )
    .await
    .expect(StatusCode::OK);
    app.assert_session_active(&phone.token).await;

    // Signing out is each API's own way, as GraphQL's `signOut` is.
    let own = format!("/compat/flashback/sessions/{}/revoke", phone.session_id);
    rest(&app, Method::POST, &own, Some(&phone.token), None)
        .await
        .expect(StatusCode::OK);
    app.assert_session_ended(&phone.token).await;
    let again = app
        .sign_in_with("alice", SAFARI_IPHONE, Some(&phone.device_token))
        .await;
    let own = format!("/compat/ruuvi/sessions/{}", ruuvi_number(&again.session_id));
    rest(&app, Method::DELETE, &own, Some(&again.token), None)
        .await
        .expect(StatusCode::OK);
    app.assert_session_ended(&again.token).await;
    let last = app
        .sign_in_with("alice", SAFARI_IPHONE, Some(&phone.device_token))
        .await;
    let signout = "/compat/laravel/api/devices/signout";
    rest(&app, Method::POST, signout, Some(&last.token), None)
        .await
        .expect(StatusCode::OK);
    app.assert_session_ended(&last.token).await;
    app.assert_session_active(&laptop.token).await;
}

/// The number Ruuvi's API gives the session `id`: its UUID's low 53 bits.
fn ruuvi_number(id: &str) -> u64 {
    (uuid::Uuid::parse_str(id).unwrap().as_u128() & ((1 << 53) - 1)) as u64
}
