//! The admin API: an operator key, never a user's token, reads any account and ends its
//! sessions; each change shows in the user's security log as an administrator's.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::{Answer, SAFARI_IPHONE, TestApp},
    subscriptions::Subscriber,
};

pub const ADMIN_KEY: &str = "operator-key-for-tests-at-least-32-bytes-long";

crate::on_both_databases!(the_admin_api_is_not_served_without_operator_keys);

mod with_an_operator_key {
    use super::*;

    crate::on_both_databases!(
        configured |config| config.keys.admin_keys = vec![super::ADMIN_KEY.into()];
        only_an_operator_key_opens_the_admin_api,
        an_administrator_reads_an_account_and_ends_its_sessions,
        an_administrator_flags_a_device_hijacked,
    );
}

mod in_production_with_small_limits {
    use super::*;

    crate::on_both_databases!(
        configured |config| {
            config.keys.admin_keys = vec![super::ADMIN_KEY.into()];
            config.api.production = true;
            config.api.max_aliases = 1;
            config.api.max_field_repeats = 2;
            config.api.cors_origins = vec!["https://account.example".into()];
        };
        the_admin_api_follows_production_rules_and_the_query_limits,
        the_admin_api_answers_no_browser_preflight,
    );
}

mod with_a_low_admin_rate {
    use super::*;

    crate::on_both_databases!(
        configured |config| {
            config.keys.admin_keys = vec![super::ADMIN_KEY.into()];
            config.rate_limits.admin_requests_per_minute = std::num::NonZeroU32::new(2).unwrap();
        };
        the_admin_api_has_its_own_rate_limit,
    );
}

/// Sends `query` to the admin API with `key` as the bearer token.
pub async fn admin(app: &TestApp, key: Option<&str>, query: &str, variables: Value) -> Answer {
    let mut request = app
        .http
        .post(app.url("/admin/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    Answer {
        status,
        body: response.json().await.unwrap_or(Value::Null),
    }
}

async fn the_admin_api_is_not_served_without_operator_keys(app: TestApp) {
    let answer = admin(
        &app,
        Some(ADMIN_KEY),
        "{ user(id: \"alice\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

async fn only_an_operator_key_opens_the_admin_api(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let query = "{ user(id: \"alice\") { id } }";
    for key in [
        None,
        Some(alice.token.as_str()),
        Some("operator-key-for-tests-at-least-32-bytes-lonG"),
    ] {
        let refused = admin(&app, key, query, json!({})).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(refused.error_code(), "UNAUTHENTICATED");
    }
    let answer = admin(&app, Some(ADMIN_KEY), query, json!({})).await;
    answer.assert_ok();
    // The operator key is no session token on the user API.
    let user_api = app
        .graphql(Some(ADMIN_KEY), "{ sessions { id } }", json!({}))
        .await;
    assert_eq!(user_api.status, StatusCode::UNAUTHORIZED);
}

async fn an_administrator_reads_an_account_and_ends_its_sessions(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let bob = app.sign_in("bob").await;
    let mut told = Subscriber::authenticated(&app, &phone.token).await;
    told.subscribe("bye", "subscription { signedOut { reason } }")
        .await;
    told.read_up_to_here().await;

    let account = admin(
        &app,
        Some(ADMIN_KEY),
        "{ user(id: \"alice\") { id devices { name isCurrent sessions { id } }
            sessions { id isCurrent } securityEvents(first: 3) { keptSince nodes { kind } } } }",
        json!({}),
    )
    .await;
    account.assert_ok();
    let user = account.data("user");
    assert_eq!(user["devices"][0]["name"], "Safari on iPhone");
    assert_eq!(user["devices"][0]["isCurrent"], false);
    assert_eq!(
        user["devices"][0]["sessions"][0]["id"],
        phone.session_id.as_str()
    );
    assert_eq!(user["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(user["sessions"][0]["isCurrent"], false);
    assert_eq!(user["securityEvents"]["nodes"][0]["kind"], "NEW_SIGN_IN");

    let revoked = admin(
        &app,
        Some(ADMIN_KEY),
        "mutation { revokeUserSessions(userId: \"alice\") { revokedCount sessions { endReason } } }",
        json!({}),
    )
    .await;
    revoked.assert_ok();
    assert_eq!(revoked.data("revokeUserSessions.revokedCount"), 2);
    assert_eq!(
        revoked.data("revokeUserSessions.sessions.0.endReason"),
        "ADMIN_REVOKED"
    );
    assert_eq!(
        told.next().await["payload"]["data"]["signedOut"]["reason"],
        "ADMIN_REVOKED"
    );
    app.assert_session_ended(&laptop.token).await;
    app.assert_session_ended(&phone.token).await;
    app.assert_session_active(&bob.token).await;

    // The user sees who ended them: an administrator, from no session of theirs.
    let again = app.sign_in("alice").await;
    let log = app
        .graphql(
            Some(&again.token),
            "{ securityEvents(first: 10) { nodes { kind endReason byAdministrator actorSession { id } ipAddress location { country } } } }",
            json!({}),
        )
        .await;
    log.assert_ok();
    let ended: Vec<&Value> = log
        .data("securityEvents.nodes")
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["kind"] == "SESSION_ENDED")
        .collect();
    assert_eq!(ended.len(), 2);
    // Nor the operator's address: that is not the user's, and not where the user was.
    for event in ended {
        assert_eq!(
            event,
            &json!({
                "kind": "SESSION_ENDED", "endReason": "ADMIN_REVOKED", "byAdministrator": true,
                "actorSession": null, "ipAddress": null, "location": null,
            })
        );
    }
    assert_eq!(log.data("securityEvents.nodes.0.byAdministrator"), false);

    // One session by id; one already ended ends nothing.
    let one = "mutation($id: ID!) { revokeUserSession(userId: \"alice\", sessionId: $id) { revokedCount } }";
    for (session, count) in [(&again.session_id, 1), (&laptop.session_id, 0)] {
        let answer = admin(&app, Some(ADMIN_KEY), one, json!({ "id": session })).await;
        assert_eq!(answer.data("revokeUserSession.revokedCount"), count);
    }
}

async fn an_administrator_flags_a_device_hijacked(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let bob = app.sign_in("bob").await;
    let flag = "mutation($device: ID!) { markUserDeviceHijacked(userId: \"alice\", deviceId: $device) { status sessions(includeEnded: true) { endReason } } }";
    let flagged = admin(
        &app,
        Some(ADMIN_KEY),
        flag,
        json!({ "device": alice.device_id }),
    )
    .await;
    flagged.assert_ok();
    assert_eq!(
        flagged.data("markUserDeviceHijacked"),
        &json!({ "status": "HIJACKED", "sessions": [{ "endReason": "DEVICE_HIJACKED" }] })
    );
    app.assert_session_ended(&alice.token).await;
    // Bob's device is not Alice's to flag.
    let not_hers = admin(
        &app,
        Some(ADMIN_KEY),
        flag,
        json!({ "device": bob.device_id }),
    )
    .await;
    assert_eq!(not_hers.error_code(), "NOT_FOUND");
    app.assert_session_active(&bob.token).await;
    let bad_user = admin(
        &app,
        Some(ADMIN_KEY),
        "{ user(id: \"\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(bad_user.error_code(), "BAD_USER_INPUT");
}

async fn the_admin_api_has_its_own_rate_limit(app: TestApp) {
    let alice = app.sign_in("alice").await;
    for _ in 0..2 {
        admin(
            &app,
            Some(ADMIN_KEY),
            "{ user(id: \"alice\") { id } }",
            json!({}),
        )
        .await
        .assert_ok();
    }
    let refused = admin(
        &app,
        Some(ADMIN_KEY),
        "{ user(id: \"alice\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.error_code(), "RATE_LIMITED");
    // Users are not held up by it.
    app.assert_session_active(&alice.token).await;
}

async fn the_admin_api_follows_production_rules_and_the_query_limits(app: TestApp) {
    for (query, code) in [
        ("{ __schema { types { name } } }", "INTROSPECTION_DISABLED"),
        (
            "{ a: user(id: \"alice\") { id } b: user(id: \"bob\") { id } }",
            "TOO_MANY_ALIASES",
        ),
        (
            "{ user(id: \"alice\") { id id id } }",
            "TOO_MANY_FIELD_REPEATS",
        ),
    ] {
        let refused = admin(&app, Some(ADMIN_KEY), query, json!({})).await;
        assert_eq!(refused.error_code(), code, "{query}: {}", refused.body);
    }
    // No "did you mean" for a misspelt field.
    let typo = admin(
        &app,
        Some(ADMIN_KEY),
        "{ usr(id: \"alice\") { id } }",
        json!({}),
    )
    .await;
    let message = typo.body["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "{message}");
}

async fn the_admin_api_answers_no_browser_preflight(app: TestApp) {
    let preflight = |path: &str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("Origin", "https://account.example")
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type",
            )
            .send()
    };
    let user_api = preflight("/graphql").await.unwrap();
    assert_eq!(
        user_api.headers()["access-control-allow-origin"],
        "https://account.example"
    );
    let admin_api = preflight("/admin/graphql").await.unwrap();
    assert!(
        admin_api
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "{:?}",
        admin_api.headers()
    );
}
