//! What the plans test plans: other accounts written directly, every kind of request a
//! user, a REST client or an operator makes, and a pass of every background job.

use chrono::Duration;
use entity::{account_cursor, account_event, device, session};
use reqwest::{Method, StatusCode};
use sea_orm::{EntityTrait, IntoActiveModel};
use serde_json::{Value, json};
use sessionhub::clock::Clock;
use uuid::Uuid;

use crate::{
    admin::{ADMIN_KEY, admin},
    compat::rest,
    helpers::{SAFARI_IPHONE, TestApp},
};

/// Accounts other than the test's, each with a device, a live session, an ended one and
/// their two events, written directly.
pub async fn seed_other_accounts(app: &TestApp, prefix: &str, accounts: usize) {
    let now = app.clock.now();
    for chunk in (0..accounts).collect::<Vec<_>>().chunks(200) {
        let mut devices = Vec::new();
        let mut sessions = Vec::new();
        let mut events = Vec::new();
        let mut cursors = Vec::new();
        for &n in chunk {
            let user = format!("{prefix}-{n}");
            let device_id = Uuid::now_v7();
            devices.push(
                device::Model {
                    id: device_id,
                    user_id: user.clone(),
                    name: "Chrome on macOS".into(),
                    token_hash: Some(format!(
                        "{}{}",
                        Uuid::new_v4().simple(),
                        Uuid::new_v4().simple()
                    )),
                    device_type: device::DeviceType::Desktop,
                    browser_name: Some("Chrome".into()),
                    browser_version: None,
                    os_name: Some("macOS".into()),
                    os_version: None,
                    user_agent: None,
                    ip_address: None,
                    country: None,
                    city: None,
                    status: device::DeviceStatus::Unverified,
                    trust_level: None,
                    trusted_at: None,
                    trust_expires_at: None,
                    metadata: None,
                    created_at: now,
                    last_seen_at: now,
                    forgotten_at: None,
                    sign_in_check: None,
                    sign_in_session_id: None,
                    sign_in_checked_at: None,
                    confirm_by: None,
                }
                .into_active_model(),
            );
            for (seq, ended) in [(1, false), (2, true)] {
                let id = Uuid::now_v7();
                sessions.push(
                    session::Model {
                        id,
                        user_id: user.clone(),
                        device_id,
                        login_method: Some("pwd".into()),
                        ip_address: None,
                        country: None,
                        city: None,
                        started_at: now - Duration::hours(1),
                        last_activity_at: now - Duration::minutes(5),
                        // An ended session's expiry has mostly passed too: a planner that
                        // takes the two for independent misjudges the expiry sweep.
                        expires_at: if ended {
                            now - Duration::minutes(1)
                        } else {
                            now + Duration::hours(1)
                        },
                        absolute_expires_at: now + Duration::hours(10),
                        ended_at: ended.then_some(now - Duration::minutes(1)),
                        end_reason: ended.then_some(session::EndReason::Revoked),
                        pending_until: None,
                    }
                    .into_active_model(),
                );
                events.push(
                    account_event::Model {
                        id: Uuid::now_v7(),
                        user_id: user.clone(),
                        seq,
                        kind: account_event::EventKind::SessionStarted,
                        actor_session_id: None,
                        admin_key: None,
                        device_id: Some(device_id),
                        session_id: Some(id),
                        ip_address: None,
                        country: None,
                        city: None,
                        detail: None,
                        occurred_at: now,
                    }
                    .into_active_model(),
                );
            }
            cursors.push(
                account_cursor::Model {
                    user_id: user.clone(),
                    last_seq: 2,
                }
                .into_active_model(),
            );
        }
        account_cursor::Entity::insert_many(cursors)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
        device::Entity::insert_many(devices)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
        session::Entity::insert_many(sessions)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
        account_event::Entity::insert_many(events)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
    }
}

/// Every kind of request a user makes, over GraphQL and each REST API, and an operator
/// over the admin API.
pub async fn run_every_request(app: &TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let laptop = app
        .sign_in_with(
            "alice",
            crate::helpers::CHROME_MAC,
            Some(&laptop.device_token),
        )
        .await;
    let ok = |query: &'static str, variables: Value| {
        let token = laptop.token.clone();
        async move {
            app.graphql(Some(&token), query, variables)
                .await
                .assert_ok();
        }
    };
    ok(
        "{ currentSession { id device { name } } currentDevice { id } }",
        json!({}),
    )
    .await;
    ok(
        "{ devices { id sessions(includeEnded: true) { id } } }",
        json!({}),
    )
    .await;
    ok(
        "{ sessions(includeEnded: true) { id device { id } } }",
        json!({}),
    )
    .await;
    ok(
        "{ newSignIns(includeAnswered: true) { id summary } }",
        json!({}),
    )
    .await;
    ok(
        "{ securityEvents(first: 20) { nodes { kind } } }",
        json!({}),
    )
    .await;
    app.advance(2);
    app.heartbeat(&laptop.token).await;
    ok(
        "mutation($id: ID!) { confirmSignIn(id: $id) { check } }",
        json!({ "id": phone.session_id }),
    )
    .await;
    ok(
        "mutation($id: ID!) { trustDevice(id: $id) { id } }",
        json!({ "id": laptop.device_id }),
    )
    .await;
    ok(
        "mutation($id: ID!) { renameDevice(id: $id, name: \"Mine\") { id } }",
        json!({ "id": laptop.device_id }),
    )
    .await;
    ok(
        "mutation($id: ID!) { untrustDevice(id: $id) { id } }",
        json!({ "id": laptop.device_id }),
    )
    .await;
    ok(
        "mutation($id: ID!) { revokeSession(id: $id) { id } }",
        json!({ "id": phone.session_id }),
    )
    .await;
    let phone = app
        .sign_in_with("alice", SAFARI_IPHONE, Some(&phone.device_token))
        .await;
    ok(
        "mutation($id: ID!) { signOutDevice(id: $id) { revokedCount } }",
        json!({ "id": phone.device_id }),
    )
    .await;
    app.sign_in_with("alice", SAFARI_IPHONE, Some(&phone.device_token))
        .await;
    ok("mutation { revokeAllSessions { revokedCount } }", json!({})).await;
    ok(
        "mutation($id: ID!) { markDeviceHijacked(id: $id) { id } }",
        json!({ "id": phone.device_id }),
    )
    .await;
    ok(
        "mutation($id: ID!) { forgetDevice(id: $id) { deviceId } }",
        json!({ "id": phone.device_id }),
    )
    .await;
    let device = &laptop.device_id;
    for path in [
        "/compat/flashback/devices".to_owned(),
        format!("/compat/flashback/devices/{device}"),
        "/compat/flashback/sessions".to_owned(),
        "/compat/laravel/api/devices".to_owned(),
        format!("/compat/laravel/api/devices/{device}"),
        "/compat/ruuvi/sessions".to_owned(),
    ] {
        rest(app, Method::GET, &path, Some(&laptop.token), None)
            .await
            .expect(StatusCode::OK);
    }
    app.sign_out(&laptop.token).await;
    let bob = app.sign_in("bob").await;
    let bob_again = app.sign_in_with("bob", SAFARI_IPHONE, None).await;
    for (query, variables) in [
        (
            "query($user: String!) { user(id: $user) { devices { id sessions { id } }
               sessions { id } securityEvents(first: 5) { nodes { kind } } } }",
            json!({ "user": "bob" }),
        ),
        (
            "mutation($session: ID!) { revokeUserSession(userId: \"bob\", sessionId: $session) { revokedCount } }",
            json!({ "session": bob_again.session_id }),
        ),
        (
            "mutation($device: ID!) { markUserDeviceHijacked(userId: \"bob\", deviceId: $device) { id } }",
            json!({ "device": bob.device_id }),
        ),
        (
            "mutation { revokeUserSessions(userId: \"bob\") { revokedCount } }",
            json!({}),
        ),
    ] {
        admin(app, Some(ADMIN_KEY), query, variables)
            .await
            .assert_ok();
    }
}

/// A pass of every background job, each with something to do: sessions past their expiry,
/// trust past its expiry, and ended sessions, forgotten devices and log entries past their
/// retention.
pub async fn run_every_job(app: &TestApp) {
    let carol = app.sign_in("carol").await;
    app.graphql(
        Some(&carol.token),
        "mutation($id: ID!, $until: DateTime!) { trustDevice(id: $id, expiresAt: $until) { id } }",
        json!({ "id": carol.device_id, "until": app.clock.now() + Duration::hours(1) }),
    )
    .await
    .assert_ok();
    app.advance(24 * 60);
    assert!(app.services.sweep_expired_sessions().await.unwrap() > 0);
    assert!(app.services.sweep_lapsed_trust().await.unwrap() > 0);
    app.advance(400 * 24 * 60);
    let report = app.services.apply_retention().await.unwrap();
    assert!(
        report.deleted_sessions > 0 && report.deleted_events > 0,
        "{report:?}"
    );
    assert!(report.forgotten_devices > 0, "{report:?}");
    // The devices it forgot go once their own horizon has passed too.
    app.advance(100 * 24 * 60);
    let again = app.services.apply_retention().await.unwrap();
    assert!(again.deleted_devices > 0, "{again:?}");
}
