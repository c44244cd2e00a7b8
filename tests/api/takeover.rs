//! Someone who has the user's password (an identity token for them) but none of their
//! devices: what their sign-ins on new devices can and cannot do to the user's own.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    compat::rest,
    helpers::{CHROME_MAC, SAFARI_IPHONE, SignedIn, TestApp, via_trusted_proxy},
    new_sign_ins::answer,
};

const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// A small cap, so that an attacker fills it with a few sign-ins.
const CAP: u64 = 4;

mod with_the_confirmation_policy {
    use super::*;

    crate::on_both_databases!(
        configured |config| {
            config.confirm_new_devices_within = Some(std::time::Duration::from_secs(15 * 60));
            config.max_sessions_per_user = crate::takeover::CAP;
        };
        filling_the_cap_never_displaces_the_session_that_could_confirm,
        concurrent_sign_ins_never_displace_the_session_that_could_confirm,
        a_sign_in_only_an_unrecognised_device_could_answer_is_not_held,
    );
}

crate::on_both_databases!(the_prompt_tells_what_the_server_saw_from_what_the_device_claims);

mod with_the_cooldown {
    use super::*;

    crate::on_both_databases!(
        configured crate::compat::serve_all;
        a_new_device_cannot_end_older_sessions_or_devices,
        the_cooldown_lifts_with_confirmation_time_or_a_second_factor,
    );
}

/// What `token`'s session says of itself: `pendingUntil`.
async fn pending_until(app: &TestApp, token: &str) -> Value {
    let own = app
        .graphql(
            Some(token),
            "{ currentSession { pendingUntil } }",
            json!({}),
        )
        .await;
    own.assert_ok();
    own.data("currentSession.pendingUntil").clone()
}

/// The user's laptop still signed in, every attacker session held for confirmation and
/// unable to touch it, and never more live sessions than the cap.
async fn assert_held_and_contained(app: &TestApp, laptop: &SignedIn, attacker: &[SignedIn]) {
    app.assert_session_active(&laptop.token).await;
    let mut live = 0;
    for session in attacker {
        let own = app
            .graphql(
                Some(&session.token),
                "{ currentSession { pendingUntil } }",
                json!({}),
            )
            .await;
        if own.body["errors"][0]["extensions"]["code"] == "SESSION_ENDED" {
            continue;
        }
        live += 1;
        assert!(
            !own.data("currentSession.pendingUntil").is_null(),
            "an attacker's sign-in was not held: {}",
            own.body
        );
        let hijack = app
            .graphql(
                Some(&session.token),
                "mutation($id: ID!) { markDeviceHijacked(id: $id) { id } }",
                json!({ "id": laptop.device_id }),
            )
            .await;
        assert_eq!(hijack.error_code(), "SIGN_IN_PENDING", "{}", hijack.body);
    }
    assert!(
        live < CAP as usize,
        "{live} attacker sessions live beside the laptop"
    );
    assert_eq!(
        app.count("sessions WHERE ended_at IS NULL").await,
        live as i64 + 1
    );
    // The laptop can still answer: it rejects the latest sign-in.
    let last = attacker.last().unwrap();
    let laptop = app
        .sign_in_with("alice", CHROME_MAC, Some(&laptop.device_token))
        .await;
    answer(app, &laptop.token, "rejectSignIn", &last.session_id)
        .await
        .assert_ok();
}

async fn filling_the_cap_never_displaces_the_session_that_could_confirm(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    // The laptop goes idle; the attacker signs in on new devices, one after another, well
    // past the cap.
    app.advance(1);
    let mut attacker = Vec::new();
    for _ in 0..3 * CAP {
        attacker.push(app.sign_in_with("alice", FIREFOX_LINUX, None).await);
    }
    assert_held_and_contained(&app, &laptop, &attacker).await;
}

async fn concurrent_sign_ins_never_displace_the_session_that_could_confirm(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    app.advance(1);
    let attacker = futures_util::future::join_all(
        (0..3 * CAP).map(|_| app.sign_in_with("alice", FIREFOX_LINUX, None)),
    )
    .await;
    assert_held_and_contained(&app, &laptop, &attacker).await;
}

async fn a_sign_in_only_an_unrecognised_device_could_answer_is_not_held(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    app.sign_out(&laptop.token).await;
    // Nobody could confirm the phone, so it was not held; but it is not a recognised
    // device, so it cannot answer for the tablet either: holding the tablet would lock
    // the user out.
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    assert_eq!(pending_until(&app, &phone.token).await, Value::Null);
    let tablet = app.sign_in_with("alice", FIREFOX_LINUX, None).await;
    assert_eq!(pending_until(&app, &tablet.token).await, Value::Null);
    let refused = answer(&app, &phone.token, "confirmSignIn", &tablet.session_id).await;
    assert_eq!(refused.error_code(), "FORBIDDEN");
    // The laptop, recognised, could answer again once signed in: then a new device waits.
    let laptop = app
        .sign_in_with("alice", CHROME_MAC, Some(&laptop.device_token))
        .await;
    let watch = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    assert_eq!(
        pending_until(&app, &watch.token).await,
        "2026-11-23T12:15:00Z"
    );
    app.assert_session_active(&laptop.token).await;
}

/// Asserts `answer` is SESSION_TOO_NEW, allowed from `allowed_at`.
fn assert_too_new(answer: &crate::helpers::Answer, allowed_at: &str) {
    assert_eq!(answer.error_code(), "SESSION_TOO_NEW", "{}", answer.body);
    assert_eq!(
        answer.body["errors"][0]["extensions"]["allowedAt"], allowed_at,
        "{}",
        answer.body
    );
}

async fn a_new_device_cannot_end_older_sessions_or_devices(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    app.advance(1);
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let allowed_at = "2026-11-24T12:01:00Z";
    for (mutation, id) in [
        ("revokeSession(id: $id) { id }", &laptop.session_id),
        ("markDeviceHijacked(id: $id) { id }", &laptop.device_id),
        ("forgetDevice(id: $id) { deviceId }", &laptop.device_id),
        ("signOutDevice(id: $id) { revokedCount }", &laptop.device_id),
    ] {
        let refused = app
            .graphql(
                Some(&phone.token),
                &format!("mutation($id: ID!) {{ {mutation} }}"),
                json!({ "id": id }),
            )
            .await;
        assert_too_new(&refused, allowed_at);
    }
    let all = app
        .graphql(
            Some(&phone.token),
            "mutation { revokeAllSessions { revokedCount } }",
            json!({}),
        )
        .await;
    assert_too_new(&all, allowed_at);

    // The REST APIs make the same service calls, and refuse in their own words.
    for (method, path, code) in [
        (
            Method::POST,
            format!("/compat/flashback/sessions/{}/revoke", laptop.session_id),
            "code",
        ),
        (
            Method::PATCH,
            format!("/compat/laravel/api/devices/{}/hijack", laptop.device_id),
            "code",
        ),
        (Method::DELETE, "/compat/ruuvi/sessions".into(), "sub_code"),
    ] {
        let refused = rest(&app, method, &path, Some(&phone.token), None)
            .await
            .expect(reqwest::StatusCode::FORBIDDEN);
        assert_eq!(refused.body[code], "SESSION_TOO_NEW", "{path}");
    }
    app.assert_session_active(&laptop.token).await;
    assert_eq!(app.event_count("SESSION_ENDED").await, 0);
    assert_eq!(app.event_count("DEVICE_HIJACKED").await, 0);

    // What came after it, and its own device, are the phone's to end.
    app.advance(1);
    let tablet = app.sign_in_with("alice", FIREFOX_LINUX, None).await;
    app.revoke(&phone.token, &tablet.session_id).await;
    app.graphql(
        Some(&phone.token),
        "mutation { signOutDevice { revokedCount } }",
        json!({}),
    )
    .await
    .assert_ok();
    // The laptop, older, may end the phone's sessions at once.
    let phone = app
        .sign_in_with("alice", SAFARI_IPHONE, Some(&phone.device_token))
        .await;
    app.revoke(&laptop.token, &phone.session_id).await;
}

async fn the_cooldown_lifts_with_confirmation_time_or_a_second_factor(app: TestApp) {
    let revoke = |token: String, id: String| {
        let app = &app;
        async move {
            app.graphql(
                Some(&token),
                "mutation($id: ID!) { revokeSession(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await
        }
    };
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    app.advance(1);
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    assert_too_new(
        &revoke(phone.token.clone(), laptop.session_id.clone()).await,
        "2026-11-24T12:01:00Z",
    );

    // Multi-factor: a sign-in whose amr says `mfa` is trusted at once.
    app.advance(1);
    let tablet = app
        .sign_in_by("alice", FIREFOX_LINUX, None, &["pwd", "otp", "mfa"])
        .await;
    revoke(tablet.token.clone(), laptop.session_id.clone())
        .await
        .assert_ok();

    // Confirmed from the laptop, the phone may end the laptop's sessions.
    let laptop = app
        .sign_in_with("alice", CHROME_MAC, Some(&laptop.device_token))
        .await;
    answer(&app, &laptop.token, "confirmSignIn", &phone.session_id)
        .await
        .assert_ok();
    revoke(phone.token.clone(), laptop.session_id.clone())
        .await
        .assert_ok();

    // Unanswered, a device's cool-down ends a day after it was first seen, however often
    // it signs in meanwhile.
    app.advance(1);
    let desktop = app.sign_in_with("alice", FIREFOX_LINUX, None).await;
    app.advance(23 * 60);
    let laptop = app
        .sign_in_with("alice", CHROME_MAC, Some(&laptop.device_token))
        .await;
    let desktop = app
        .sign_in_with("alice", FIREFOX_LINUX, Some(&desktop.device_token))
        .await;
    assert_too_new(
        &revoke(desktop.token.clone(), laptop.session_id.clone()).await,
        "2026-11-24T12:03:00Z",
    );
    app.advance(60);
    let laptop = app
        .sign_in_with("alice", CHROME_MAC, Some(&laptop.device_token))
        .await;
    let desktop = app
        .sign_in_with("alice", FIREFOX_LINUX, Some(&desktop.device_token))
        .await;
    revoke(desktop.token, laptop.session_id).await.assert_ok();
}

async fn the_prompt_tells_what_the_server_saw_from_what_the_device_claims(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    // The attacker names their device as the user's own, with the user's browser.
    let identity = app.identity_token("alice", &["pwd"]);
    let disguised = via_trusted_proxy()
        .post(app.url("/graphql"))
        .bearer_auth(&identity)
        .header("X-Forwarded-For", "203.0.113.66")
        .header("CF-IPCountry", "NL")
        .json(&json!({
            "query": "mutation($ua: String) { startSession(input: { userAgent: $ua, deviceName: \"Alice's MacBook Pro\" }) { session { id } } }",
            "variables": { "ua": CHROME_MAC },
        }))
        .send()
        .await
        .unwrap();
    assert!(disguised.status().is_success());
    app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let listed = app
        .graphql(
            Some(&laptop.token),
            "{ newSignIns { summary chosenDeviceName device { name } } }",
            json!({}),
        )
        .await;
    listed.assert_ok();
    assert_eq!(
        listed.data("newSignIns"),
        &json!([
            { "summary": "Safari on iPhone · 127.0.0.1", "chosenDeviceName": null,
              "device": { "name": "Safari on iPhone" } },
            { "summary": "Chrome on macOS · 203.0.113.66 · NL", "chosenDeviceName": "Alice's MacBook Pro",
              "device": { "name": "Alice's MacBook Pro" } },
        ])
    );
}
