use serde_json::json;

use crate::helpers::{CHROME_MAC, SAFARI_IPHONE, TestApp};

crate::on_both_databases!(
    start_session_creates_a_device_and_a_session,
    device_token_signs_in_on_the_same_device,
    another_users_or_unknown_device_token_starts_a_new_device,
    sessions_are_listed_most_recent_activity_first_with_current_flag,
    heartbeat_extends_expiry_but_never_past_the_lifetime,
    idle_session_is_refused_at_once_and_the_sweep_records_why,
    session_past_its_lifetime_is_recorded_as_lifetime_exceeded,
    revoke_session_ends_it_and_its_token_is_refused,
    revoking_an_ended_session_changes_nothing,
    concurrent_revokes_end_a_session_exactly_once,
    revoke_all_keeps_or_includes_the_current_session,
    sign_out_ends_the_current_session,
    session_history_is_bounded_per_list,
    bad_start_session_input_is_refused_and_writes_nothing,
    absurd_user_agent_versions_still_sign_in,
);

const SESSION_FIELDS: &str = "id status isCurrent loginMethod ipAddress startedAt lastActivityAt expiresAt endedAt endReason";

async fn start_session_creates_a_device_and_a_session(app: TestApp) {
    let identity = app.identity_token("alice", &["pwd", "otp"]);
    let answer = app
        .graphql(
            Some(&identity),
            &format!(
                "mutation($input: StartSessionInput!) {{ startSession(input: $input) {{
                    token deviceToken
                    session {{ {SESSION_FIELDS} device {{ id }} }}
                    device {{ id name type userAgent browser {{ name version }} os {{ name version }}
                              status isTrusted trustLevel isCurrent metadata ipAddress createdAt lastSeenAt }}
                }} }}"
            ),
            // The text `\u0000` (a backslash and five characters) is fine: only NUL is not.
            json!({ "input": { "userAgent": CHROME_MAC, "metadata": { "app": "web", "build": 7, "note": "\\u0000" } } }),
        )
        .await;
    answer.assert_ok();
    let session = answer.data("startSession.session");
    assert_eq!(session["status"], "ACTIVE");
    assert_eq!(session["isCurrent"], true);
    assert_eq!(session["loginMethod"], "pwd+otp");
    assert_eq!(session["ipAddress"], "127.0.0.1");
    assert_eq!(session["startedAt"], "2026-11-23T12:00:00Z");
    assert_eq!(session["expiresAt"], "2026-11-23T12:30:00Z");
    assert_eq!(session["endedAt"], serde_json::Value::Null);
    let device = answer.data("startSession.device");
    assert_eq!(session["device"]["id"], device["id"]);
    assert_eq!(device["name"], "Chrome on macOS");
    assert_eq!(device["type"], "DESKTOP");
    assert_eq!(device["userAgent"], CHROME_MAC);
    assert_eq!(
        device["browser"],
        json!({ "name": "Chrome", "version": "131.0.0.0" })
    );
    assert_eq!(device["os"]["name"], "macOS");
    assert_eq!(device["status"], "UNVERIFIED");
    assert_eq!(device["isTrusted"], false);
    assert_eq!(device["trustLevel"], "UNKNOWN");
    assert_eq!(device["isCurrent"], true);
    assert_eq!(
        device["metadata"],
        json!({ "app": "web", "build": 7, "note": "\\u0000" })
    );
    // At least 128 bits of randomness, base64url: 22 characters or more.
    assert!(
        answer
            .data("startSession.deviceToken")
            .as_str()
            .unwrap()
            .len()
            >= 22
    );

    let token = answer.data("startSession.token").as_str().unwrap();
    let current = app
        .graphql(
            Some(token),
            "{ currentSession { id } currentDevice { name } }",
            json!({}),
        )
        .await;
    current.assert_ok();
    assert_eq!(current.data("currentSession.id"), &session["id"]);
    assert_eq!(current.data("currentDevice.name"), "Chrome on macOS");
    assert_eq!(app.event_count("SESSION_STARTED").await, 1);
    assert_eq!(app.event_count("DEVICE_ADDED").await, 1);
}

async fn device_token_signs_in_on_the_same_device(app: TestApp) {
    let first = app.sign_in_with("alice", CHROME_MAC, None).await;
    app.advance(5);
    let second = app
        .sign_in_with("alice", SAFARI_IPHONE, Some(&first.device_token))
        .await;
    assert_eq!(second.device_id, first.device_id);
    assert_eq!(second.device_token, first.device_token);
    assert_ne!(second.session_id, first.session_id);
    let devices = app
        .graphql(
            Some(&second.token),
            "{ devices { id userAgent lastSeenAt sessions { id } } }",
            json!({}),
        )
        .await;
    devices.assert_ok();
    let list = devices.data("devices").as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["userAgent"], SAFARI_IPHONE);
    assert_eq!(list[0]["lastSeenAt"], "2026-11-23T12:05:00Z");
    assert_eq!(list[0]["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(app.event_count("DEVICE_ADDED").await, 1);
}

async fn another_users_or_unknown_device_token_starts_a_new_device(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let bob = app
        .sign_in_with("bob", CHROME_MAC, Some(&alice.device_token))
        .await;
    assert_ne!(bob.device_id, alice.device_id);
    assert_ne!(bob.device_token, alice.device_token);
    let stranger = app
        .sign_in_with("alice", CHROME_MAC, Some("not-a-token-we-issued"))
        .await;
    assert_ne!(stranger.device_id, alice.device_id);
    // Alice's device still answers to her own token.
    let again = app
        .sign_in_with("alice", CHROME_MAC, Some(&alice.device_token))
        .await;
    assert_eq!(again.device_id, alice.device_id);
}

async fn sessions_are_listed_most_recent_activity_first_with_current_flag(app: TestApp) {
    let older = app.sign_in("alice").await;
    app.advance(1);
    let newer = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let list = |token: String| {
        let app = &app;
        async move {
            let answer = app
                .graphql(Some(&token), "{ sessions { id isCurrent } }", json!({}))
                .await;
            answer.assert_ok();
            answer.data("sessions").as_array().unwrap().clone()
        }
    };
    let sessions = list(older.token.clone()).await;
    assert_eq!(sessions[0]["id"], newer.session_id.as_str());
    assert_eq!(sessions[0]["isCurrent"], false);
    assert_eq!(sessions[1]["id"], older.session_id.as_str());
    assert_eq!(sessions[1]["isCurrent"], true);

    app.advance(1);
    app.heartbeat(&older.token).await;
    let sessions = list(newer.token.clone()).await;
    assert_eq!(sessions[0]["id"], older.session_id.as_str());
    assert_eq!(sessions[1]["isCurrent"], true);
}

async fn heartbeat_extends_expiry_but_never_past_the_lifetime(app: TestApp) {
    let alice = app.sign_in("alice").await;
    app.advance(20);
    let beat = app
        .graphql(
            Some(&alice.token),
            "mutation { heartbeat { lastActivityAt expiresAt device { lastSeenAt } } }",
            json!({}),
        )
        .await;
    beat.assert_ok();
    assert_eq!(
        beat.data("heartbeat.lastActivityAt"),
        "2026-11-23T12:20:00Z"
    );
    // A written heartbeat covers the next write window (a tenth of the 30-minute idle
    // timeout, at most a minute) beyond the idle timeout.
    assert_eq!(beat.data("heartbeat.expiresAt"), "2026-11-23T12:51:00Z");
    assert_eq!(
        beat.data("heartbeat.device.lastSeenAt"),
        "2026-11-23T12:20:00Z"
    );

    // Keep beating every 25 minutes; from 23:30 on the 12-hour lifetime caps the expiry.
    let mut expiries = Vec::new();
    for _ in 0..27 {
        app.advance(25);
        expiries.push(app.heartbeat_expires_at(&alice.token).await);
    }
    // The 26th beat came at 23:10, the 27th at 23:35.
    assert_eq!(expiries[25], "2026-11-23T23:41:00Z");
    assert_eq!(expiries[26], "2026-11-24T00:00:00Z");
    app.advance(25);
    let ended = app
        .graphql(
            Some(&alice.token),
            "mutation { heartbeat { id } }",
            json!({}),
        )
        .await;
    assert_eq!(ended.error_code(), "SESSION_ENDED");
}

async fn idle_session_is_refused_at_once_and_the_sweep_records_why(app: TestApp) {
    let idle = app.sign_in("alice").await;
    app.advance(25);
    let busy = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    app.advance(6);
    // 31 minutes without a heartbeat: refused before any sweep ran.
    app.assert_session_ended(&idle.token).await;
    let history = app
        .graphql(
            Some(&busy.token),
            "query($id: ID!) { session(id: $id) { status endReason } sessions { id } }",
            json!({ "id": idle.session_id }),
        )
        .await;
    history.assert_ok();
    assert_eq!(history.data("session.status"), "EXPIRED");
    assert_eq!(history.data("session.endReason"), &serde_json::Value::Null);
    assert_eq!(history.data("sessions").as_array().unwrap().len(), 1);

    assert_eq!(app.services.sweep_expired_sessions().await.unwrap(), 1);
    assert_eq!(app.services.sweep_expired_sessions().await.unwrap(), 0);
    let swept = app
        .graphql(
            Some(&busy.token),
            "query($id: ID!) { session(id: $id) { status endReason endedAt } }",
            json!({ "id": idle.session_id }),
        )
        .await;
    assert_eq!(swept.data("session.status"), "EXPIRED");
    assert_eq!(swept.data("session.endReason"), "IDLE_TIMEOUT");
    assert_eq!(swept.data("session.endedAt"), "2026-11-23T12:30:00Z");
    assert_eq!(app.event_count("SESSION_ENDED").await, 1);
}

async fn session_past_its_lifetime_is_recorded_as_lifetime_exceeded(app: TestApp) {
    let alice = app.sign_in("alice").await;
    for _ in 0..28 {
        app.advance(25);
        app.heartbeat(&alice.token).await;
    }
    // 11h40 in; the expiry is capped at 12h00. Wait it out.
    app.advance(21);
    app.assert_session_ended(&alice.token).await;
    assert_eq!(app.services.sweep_expired_sessions().await.unwrap(), 1);
    let witness = app.sign_in("alice").await;
    let ended = app
        .graphql(
            Some(&witness.token),
            "query($id: ID!) { session(id: $id) { endReason endedAt } }",
            json!({ "id": alice.session_id }),
        )
        .await;
    assert_eq!(ended.data("session.endReason"), "LIFETIME_EXCEEDED");
    assert_eq!(ended.data("session.endedAt"), "2026-11-24T00:00:00Z");
}

async fn revoke_session_ends_it_and_its_token_is_refused(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let revoked = app
        .graphql(
            Some(&laptop.token),
            &format!("mutation($id: ID!) {{ revokeSession(id: $id) {{ {SESSION_FIELDS} }} }}"),
            json!({ "id": phone.session_id }),
        )
        .await;
    revoked.assert_ok();
    assert_eq!(revoked.data("revokeSession.status"), "REVOKED");
    assert_eq!(revoked.data("revokeSession.endReason"), "REVOKED");
    assert_eq!(
        revoked.data("revokeSession.endedAt"),
        "2026-11-23T12:00:00Z"
    );

    app.assert_session_ended(&phone.token).await;
    app.assert_session_active(&laptop.token).await;

    let history = app
        .graphql(
            Some(&laptop.token),
            "{ active: sessions { id } all: sessions(includeEnded: true) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(history.data("active").as_array().unwrap().len(), 1);
    assert_eq!(history.data("all").as_array().unwrap().len(), 2);
}

async fn revoking_an_ended_session_changes_nothing(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let revoke = "mutation($id: ID!) { revokeSession(id: $id) { endedAt endReason } }";
    let first = app
        .graphql(
            Some(&laptop.token),
            revoke,
            json!({ "id": phone.session_id }),
        )
        .await;
    app.advance(3);
    let second = app
        .graphql(
            Some(&laptop.token),
            revoke,
            json!({ "id": phone.session_id }),
        )
        .await;
    second.assert_ok();
    assert_eq!(first.data("revokeSession"), second.data("revokeSession"));
    assert_eq!(app.event_count("SESSION_ENDED").await, 1);
}

async fn concurrent_revokes_end_a_session_exactly_once(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let revoke = "mutation($id: ID!) { revokeSession(id: $id) { status } }";
    let variables = json!({ "id": phone.session_id });
    let answers = futures_util::future::join_all(
        (0..8).map(|_| app.graphql(Some(&laptop.token), revoke, variables.clone())),
    )
    .await;
    for answer in &answers {
        answer.assert_ok();
        assert_eq!(answer.data("revokeSession.status"), "REVOKED");
    }
    assert_eq!(app.event_count("SESSION_ENDED").await, 1);
}

async fn revoke_all_keeps_or_includes_the_current_session(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let tablet = app.sign_in("alice").await;
    let bob = app.sign_in("bob").await;

    let others = app
        .graphql(
            Some(&laptop.token),
            "mutation { revokeAllSessions { revokedCount sessions { id endReason } } }",
            json!({}),
        )
        .await;
    others.assert_ok();
    assert_eq!(others.data("revokeAllSessions.revokedCount"), 2);
    for token in [&phone.token, &tablet.token] {
        app.assert_session_ended(token).await;
    }
    app.graphql(Some(&bob.token), "{ sessions { id } }", json!({}))
        .await
        .assert_ok();

    let everything = app
        .graphql(
            Some(&laptop.token),
            "mutation { revokeAllSessions(includeCurrent: true) { revokedCount sessions { id endReason isCurrent } } }",
            json!({}),
        )
        .await;
    everything.assert_ok();
    assert_eq!(everything.data("revokeAllSessions.revokedCount"), 1);
    assert_eq!(
        everything.data("revokeAllSessions.sessions.0.endReason"),
        "SIGNED_OUT"
    );
    assert_eq!(
        everything.data("revokeAllSessions.sessions.0.isCurrent"),
        true
    );
    app.assert_session_ended(&laptop.token).await;
    app.graphql(Some(&bob.token), "{ sessions { id } }", json!({}))
        .await
        .assert_ok();
}

async fn sign_out_ends_the_current_session(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let answer = app
        .graphql(
            Some(&alice.token),
            "mutation { signOut { status endReason } }",
            json!({}),
        )
        .await;
    answer.assert_ok();
    assert_eq!(answer.data("signOut.endReason"), "SIGNED_OUT");
    app.assert_session_ended(&alice.token).await;
}

async fn bad_start_session_input_is_refused_and_writes_nothing(app: TestApp) {
    let identity = app.identity_token("alice", &["pwd"]);
    let start = "mutation($input: StartSessionInput!) { startSession(input: $input) { token } }";
    let long_name = "x".repeat(101);
    let long_agent = "y".repeat(1025);
    for input in [
        json!({ "metadata": [1, 2, 3] }),
        json!({ "metadata": "a string" }),
        json!({ "metadata": { "blob": "z".repeat(5000) } }),
        json!({ "deviceName": long_name }),
        json!({ "deviceName": "   " }),
        json!({ "deviceName": "tab\tname" }),
        json!({ "userAgent": long_agent }),
        // PostgreSQL cannot store U+0000: these were INTERNAL errors there.
        json!({ "userAgent": "Mozilla\u{0}/5.0" }),
        json!({ "metadata": { "note": "nul\u{0}here" } }),
        json!({ "metadata": { "nul\u{0}key": 1 } }),
        json!({ "metadata": { "deep": [{ "nul": "\u{0}" }] } }),
        json!({ "deviceToken": "t".repeat(200) }),
    ] {
        let answer = app
            .graphql(Some(&identity), start, json!({ "input": input }))
            .await;
        assert_eq!(answer.error_code(), "BAD_USER_INPUT", "{input}");
        assert!(answer.body["data"].is_null(), "{input}");
    }
    assert_eq!(app.event_count("SESSION_STARTED").await, 0);
    assert_eq!(app.event_count("DEVICE_ADDED").await, 0);
}

async fn signing_in_past_the_cap_ends_the_least_recently_active_session(app: TestApp) {
    // The app allows three active sessions per user.
    let first = app.sign_in("alice").await;
    app.advance(1);
    let second = app.sign_in("alice").await;
    app.advance(1);
    let third = app.sign_in("alice").await;
    app.advance(1);
    app.heartbeat(&first.token).await;
    let bob = app.sign_in("bob").await;
    let fourth = app.sign_in("alice").await;

    app.assert_session_ended(&second.token).await;
    let history = app
        .graphql(
            Some(&fourth.token),
            "query($id: ID!) { session(id: $id) { endReason } sessions { id } }",
            json!({ "id": second.session_id }),
        )
        .await;
    history.assert_ok();
    assert_eq!(history.data("session.endReason"), "TOO_MANY_SESSIONS");
    assert_eq!(history.data("sessions").as_array().unwrap().len(), 3);
    for token in [&first.token, &third.token, &bob.token] {
        app.assert_session_active(token).await;
    }
    assert_eq!(app.event_count("SESSION_ENDED").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cap_on_sqlite() {
    let app = TestApp::sqlite_with(|config| config.max_sessions_per_user = 3).await;
    signing_in_past_the_cap_ends_the_least_recently_active_session(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cap_on_postgres() {
    if let Some(app) = TestApp::postgres_with(|config| config.max_sessions_per_user = 3).await {
        signing_in_past_the_cap_ends_the_least_recently_active_session(app).await;
    }
}

/// However long the history, `includeEnded` lists every active session plus the 50 most
/// recently active ended ones, per user and per device.
async fn session_history_is_bounded_per_list(app: TestApp) {
    // An old ended session on a device of its own...
    let tablet = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    app.revoke(&tablet.token, &tablet.session_id).await;
    // ...then 75 sign-ins on one laptop: the cap of 20 ends the 55 oldest of them.
    let first = app.sign_in("alice").await;
    let mut latest = first.clone();
    for _ in 1..75 {
        latest = app
            .sign_in_with("alice", CHROME_MAC, Some(&first.device_token))
            .await;
    }
    let answer = app
        .graphql(
            Some(&latest.token),
            "query($tablet: ID!, $laptop: ID!) {
                sessions(includeEnded: true) { id status }
                tablet: device(id: $tablet) { sessions(includeEnded: true) { id } }
                laptop: device(id: $laptop) { sessions(includeEnded: true) { id } }
            }",
            json!({ "tablet": tablet.device_id, "laptop": first.device_id }),
        )
        .await;
    answer.assert_ok();
    let listed = answer.data("sessions").as_array().unwrap();
    assert_eq!(listed.len(), 70);
    let active = listed.iter().filter(|s| s["status"] == "ACTIVE").count();
    assert_eq!(active, 20);
    assert_eq!(listed[0]["id"], latest.session_id.as_str());
    assert!(listed.iter().all(|s| s["id"] != tablet.session_id.as_str()));
    // Each device is its own list: the tablet's one ended session is still shown there.
    assert_eq!(
        answer.data("tablet.sessions"),
        &json!([{ "id": tablet.session_id }])
    );
    assert_eq!(answer.data("laptop.sessions").as_array().unwrap().len(), 70);
}

/// A user agent is what the browser sent, not something a person typed: one with a
/// 200-digit version still signs in, and the version nobody could read is dropped rather
/// than overflowing its column (an INTERNAL error on PostgreSQL before).
async fn absurd_user_agent_versions_still_sign_in(app: TestApp) {
    let digits = "1".repeat(200);
    let user_agent = format!(
        "Mozilla/5.0 (Linux; Android {digits}; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{digits} Mobile Safari/537.36"
    );
    let alice = app.sign_in_with("alice", &user_agent, None).await;
    let device = app
        .graphql(
            Some(&alice.token),
            "{ currentDevice { name browser { name version } os { name version } } }",
            json!({}),
        )
        .await;
    device.assert_ok();
    assert_eq!(
        device.data("currentDevice"),
        &json!({
            "name": "Chrome on Android",
            "browser": { "name": "Chrome", "version": null },
            "os": { "name": "Android", "version": null },
        })
    );
}
