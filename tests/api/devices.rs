use serde_json::{Value, json};

use crate::helpers::{CHROME_MAC, SAFARI_IPHONE, TestApp, via_trusted_proxy};

crate::on_both_databases!(
    devices_are_listed_most_recently_seen_first,
    trust_uses_the_default_duration_and_level,
    trust_with_level_and_expiry_then_expires_on_its_own,
    untrust_clears_trust,
    trust_expiry_in_the_past_is_refused,
    hijacked_device_loses_its_sessions_and_can_never_sign_in,
    forget_device_ends_its_sessions_and_removes_it,
    sign_out_device_ends_every_session_of_a_device,
    rename_device_validates_the_name,
    another_users_devices_and_sessions_do_not_exist,
    malformed_ids_are_bad_user_input,
    location_comes_only_from_trusted_proxies,
);

const DEVICE_TRUST: &str = "status isTrusted trustLevel trustedAt trustExpiresAt";

async fn device_query(app: &TestApp, token: &str, id: &str, fields: &str) -> Value {
    let answer = app
        .graphql(
            Some(token),
            &format!("query($id: ID!) {{ device(id: $id) {{ {fields} }} }}"),
            json!({ "id": id }),
        )
        .await;
    answer.assert_ok();
    answer.data("device").clone()
}

async fn devices_are_listed_most_recently_seen_first(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    app.advance(1);
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let list = app
        .graphql(
            Some(&laptop.token),
            "{ devices { id name type isCurrent } }",
            json!({}),
        )
        .await;
    list.assert_ok();
    assert_eq!(list.data("devices.0.id"), phone.device_id.as_str());
    assert_eq!(list.data("devices.0.name"), "Safari on iPhone");
    assert_eq!(list.data("devices.0.type"), "MOBILE");
    assert_eq!(list.data("devices.0.isCurrent"), false);
    assert_eq!(list.data("devices.1.id"), laptop.device_id.as_str());
    assert_eq!(list.data("devices.1.isCurrent"), true);
}

async fn trust_uses_the_default_duration_and_level(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let trusted = app
        .graphql(
            Some(&alice.token),
            &format!("mutation($id: ID!) {{ trustDevice(id: $id) {{ {DEVICE_TRUST} }} }}"),
            json!({ "id": alice.device_id }),
        )
        .await;
    trusted.assert_ok();
    assert_eq!(
        trusted.data("trustDevice"),
        &json!({
            "status": "VERIFIED", "isTrusted": true, "trustLevel": "HIGH",
            "trustedAt": "2026-11-23T12:00:00Z", "trustExpiresAt": "2026-12-23T12:00:00Z",
        })
    );
    assert_eq!(app.event_count("DEVICE_TRUSTED").await, 1);
}

async fn trust_with_level_and_expiry_then_expires_on_its_own(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let trusted = app
        .graphql(
            Some(&alice.token),
            &format!(
                "mutation($id: ID!, $at: DateTime) {{ trustDevice(id: $id, level: MEDIUM, expiresAt: $at) {{ {DEVICE_TRUST} }} }}"
            ),
            json!({ "id": alice.device_id, "at": "2026-11-23T14:00:00+01:00" }),
        )
        .await;
    trusted.assert_ok();
    assert_eq!(trusted.data("trustDevice.trustLevel"), "MEDIUM");
    assert_eq!(
        trusted.data("trustDevice.trustExpiresAt"),
        "2026-11-23T13:00:00Z"
    );
    // Trust lasts at most SESSIONHUB_MAX_TRUST_DURATION (a year) ahead.
    for too_far in ["2027-11-23T12:00:01Z", "9999-12-31T00:00:00Z"] {
        let refused = app
            .graphql(
                Some(&alice.token),
                "mutation($id: ID!, $at: DateTime) { trustDevice(id: $id, expiresAt: $at) { id } }",
                json!({ "id": alice.device_id, "at": too_far }),
            )
            .await;
        assert_eq!(refused.error_code(), "BAD_USER_INPUT", "{too_far}");
    }

    // The session is kept alive; the trust is not.
    for _ in 0..3 {
        app.advance(25);
        app.heartbeat(&alice.token).await;
    }
    let device = device_query(&app, &alice.token, &alice.device_id, DEVICE_TRUST).await;
    assert_eq!(
        device,
        json!({ "status": "UNVERIFIED", "isTrusted": false, "trustLevel": "UNKNOWN",
                "trustedAt": null, "trustExpiresAt": null })
    );
}

async fn untrust_clears_trust(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let id = json!({ "id": alice.device_id });
    app.graphql(
        Some(&alice.token),
        "mutation($id: ID!) { trustDevice(id: $id, level: LOW) { id } }",
        id.clone(),
    )
    .await
    .assert_ok();
    let untrusted = app
        .graphql(
            Some(&alice.token),
            &format!("mutation($id: ID!) {{ untrustDevice(id: $id) {{ {DEVICE_TRUST} }} }}"),
            id,
        )
        .await;
    untrusted.assert_ok();
    assert_eq!(untrusted.data("untrustDevice.isTrusted"), false);
    assert_eq!(untrusted.data("untrustDevice.status"), "UNVERIFIED");
    assert_eq!(untrusted.data("untrustDevice.trustExpiresAt"), &Value::Null);
    assert_eq!(app.event_count("DEVICE_UNTRUSTED").await, 1);
}

async fn trust_expiry_in_the_past_is_refused(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let answer = app
        .graphql(
            Some(&alice.token),
            "mutation($id: ID!) { trustDevice(id: $id, expiresAt: \"2026-11-23T11:59:59Z\") { id } }",
            json!({ "id": alice.device_id }),
        )
        .await;
    assert_eq!(answer.error_code(), "BAD_USER_INPUT");
    let not_a_date = app
        .graphql(
            Some(&alice.token),
            "mutation($id: ID!) { trustDevice(id: $id, expiresAt: \"next tuesday\") { id } }",
            json!({ "id": alice.device_id }),
        )
        .await;
    assert!(not_a_date.body["errors"][0]["extensions"]["code"].is_string());
    assert_eq!(app.event_count("DEVICE_TRUSTED").await, 0);
}

async fn hijacked_device_loses_its_sessions_and_can_never_sign_in(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    let stolen = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let stolen_again = app
        .sign_in_with("alice", SAFARI_IPHONE, Some(&stolen.device_token))
        .await;
    let hijack = "mutation($id: ID!) { markDeviceHijacked(id: $id) { status isTrusted sessions(includeEnded: true) { status endReason } } }";
    let answer = app
        .graphql(
            Some(&laptop.token),
            hijack,
            json!({ "id": stolen.device_id }),
        )
        .await;
    answer.assert_ok();
    assert_eq!(answer.data("markDeviceHijacked.status"), "HIJACKED");
    let sessions = answer
        .data("markDeviceHijacked.sessions")
        .as_array()
        .unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|s| s["endReason"] == "DEVICE_HIJACKED"));
    for token in [&stolen.token, &stolen_again.token] {
        app.assert_session_ended(token).await;
    }

    let retry = app
        .graphql(
            Some(&app.identity_token("alice", &["pwd"])),
            "mutation($t: String) { startSession(input: { deviceToken: $t }) { token } }",
            json!({ "t": stolen.device_token }),
        )
        .await;
    assert_eq!(retry.error_code(), "DEVICE_BLOCKED");
    let trust = app
        .graphql(
            Some(&laptop.token),
            "mutation($id: ID!) { trustDevice(id: $id) { id } }",
            json!({ "id": stolen.device_id }),
        )
        .await;
    assert_eq!(trust.error_code(), "DEVICE_BLOCKED");
    // Flagging twice records it once.
    app.graphql(
        Some(&laptop.token),
        hijack,
        json!({ "id": stolen.device_id }),
    )
    .await
    .assert_ok();
    assert_eq!(app.event_count("DEVICE_HIJACKED").await, 1);
    assert_eq!(app.event_count("SESSION_ENDED").await, 2);
}

async fn forget_device_ends_its_sessions_and_removes_it(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    let old_phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let answer = app
        .graphql(
            Some(&laptop.token),
            "mutation($id: ID!) { forgetDevice(id: $id) { deviceId endedSessions } }",
            json!({ "id": old_phone.device_id }),
        )
        .await;
    answer.assert_ok();
    assert_eq!(
        answer.data("forgetDevice.deviceId"),
        old_phone.device_id.as_str()
    );
    assert_eq!(answer.data("forgetDevice.endedSessions"), 1);

    app.assert_session_ended(&old_phone.token).await;
    assert_eq!(
        device_query(&app, &laptop.token, &old_phone.device_id, "id").await,
        Value::Null
    );
    let lists = app
        .graphql(
            Some(&laptop.token),
            "{ devices { id } sessions(includeEnded: true) { id endReason device { name } } }",
            json!({}),
        )
        .await;
    lists.assert_ok();
    assert_eq!(lists.data("devices").as_array().unwrap().len(), 1);
    // The history still names the device the ended session ran on.
    let ended = lists
        .data("sessions")
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == old_phone.session_id.as_str())
        .unwrap();
    assert_eq!(ended["endReason"], "DEVICE_FORGOTTEN");
    assert_eq!(ended["device"]["name"], "Safari on iPhone");

    // Its token is dead: signing in with it makes a new device.
    let back = app
        .sign_in_with("alice", SAFARI_IPHONE, Some(&old_phone.device_token))
        .await;
    assert_ne!(back.device_id, old_phone.device_id);
    let again = app
        .graphql(
            Some(&laptop.token),
            "mutation($id: ID!) { forgetDevice(id: $id) { deviceId } }",
            json!({ "id": old_phone.device_id }),
        )
        .await;
    assert_eq!(again.error_code(), "NOT_FOUND");
    assert_eq!(app.event_count("DEVICE_FORGOTTEN").await, 1);
}

async fn sign_out_device_ends_every_session_of_a_device(app: TestApp) {
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let phone_again = app
        .sign_in_with("alice", SAFARI_IPHONE, Some(&phone.device_token))
        .await;
    let answer = app
        .graphql(
            Some(&laptop.token),
            "mutation($id: ID) { signOutDevice(id: $id) { revokedCount sessions { endReason } } }",
            json!({ "id": phone.device_id }),
        )
        .await;
    answer.assert_ok();
    assert_eq!(answer.data("signOutDevice.revokedCount"), 2);
    assert_eq!(
        answer.data("signOutDevice.sessions.0.endReason"),
        "DEVICE_SIGNED_OUT"
    );
    for token in [&phone.token, &phone_again.token] {
        app.assert_session_ended(token).await;
    }
    // Without an id: the current device.
    let own = app
        .graphql(
            Some(&laptop.token),
            "mutation { signOutDevice { revokedCount } }",
            json!({}),
        )
        .await;
    assert_eq!(own.data("signOutDevice.revokedCount"), 1);
    app.assert_session_ended(&laptop.token).await;
}

async fn rename_device_validates_the_name(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let rename =
        "mutation($id: ID!, $name: String!) { renameDevice(id: $id, name: $name) { name } }";
    let renamed = app
        .graphql(
            Some(&alice.token),
            rename,
            json!({ "id": alice.device_id, "name": "  Work laptop  " }),
        )
        .await;
    renamed.assert_ok();
    assert_eq!(renamed.data("renameDevice.name"), "Work laptop");
    for bad in ["", "   ", &"n".repeat(101)] {
        let answer = app
            .graphql(
                Some(&alice.token),
                rename,
                json!({ "id": alice.device_id, "name": bad }),
            )
            .await;
        assert_eq!(answer.error_code(), "BAD_USER_INPUT");
    }
    // A hundred characters, even multi-byte ones, fit.
    let answer = app
        .graphql(
            Some(&alice.token),
            rename,
            json!({ "id": alice.device_id, "name": "é".repeat(100) }),
        )
        .await;
    answer.assert_ok();
    assert_eq!(app.event_count("DEVICE_RENAMED").await, 2);
}

async fn another_users_devices_and_sessions_do_not_exist(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let bob = app.sign_in("bob").await;
    let lookups = app
        .graphql(
            Some(&bob.token),
            "query($d: ID!, $s: ID!) { device(id: $d) { id } session(id: $s) { id } devices { id } sessions { id } }",
            json!({ "d": alice.device_id, "s": alice.session_id }),
        )
        .await;
    lookups.assert_ok();
    assert_eq!(lookups.data("device"), &Value::Null);
    assert_eq!(lookups.data("session"), &Value::Null);
    assert_eq!(lookups.data("devices.0.id"), bob.device_id.as_str());
    assert_eq!(lookups.data("devices").as_array().unwrap().len(), 1);
    assert_eq!(lookups.data("sessions").as_array().unwrap().len(), 1);

    let device_mutations = [
        "mutation($id: ID!) { trustDevice(id: $id) { id } }",
        "mutation($id: ID!) { untrustDevice(id: $id) { id } }",
        "mutation($id: ID!) { markDeviceHijacked(id: $id) { id } }",
        "mutation($id: ID!) { renameDevice(id: $id, name: \"mine now\") { id } }",
        "mutation($id: ID!) { forgetDevice(id: $id) { deviceId } }",
        "mutation($id: ID!) { signOutDevice(id: $id) { revokedCount } }",
    ];
    for mutation in device_mutations {
        let answer = app
            .graphql(Some(&bob.token), mutation, json!({ "id": alice.device_id }))
            .await;
        assert_eq!(answer.error_code(), "NOT_FOUND", "{mutation}");
    }
    let revoke = app
        .graphql(
            Some(&bob.token),
            "mutation($id: ID!) { revokeSession(id: $id) { id } }",
            json!({ "id": alice.session_id }),
        )
        .await;
    assert_eq!(revoke.error_code(), "NOT_FOUND");
    let missing = app
        .graphql(
            Some(&bob.token),
            "mutation($id: ID!) { revokeSession(id: $id) { id } }",
            json!({ "id": uuid::Uuid::new_v4().to_string() }),
        )
        .await;
    assert_eq!(missing.error_code(), "NOT_FOUND");
    assert_eq!(
        missing.body["errors"][0]["message"],
        revoke.body["errors"][0]["message"]
    );

    // Alice is untouched.
    let mine = device_query(&app, &alice.token, &alice.device_id, "name status").await;
    assert_eq!(
        mine,
        json!({ "name": "Chrome on macOS", "status": "UNVERIFIED" })
    );
    app.assert_session_active(&alice.token).await;
}

async fn malformed_ids_are_bad_user_input(app: TestApp) {
    let alice = app.sign_in("alice").await;
    for query in [
        "{ device(id: \"42\") { id } }",
        "{ session(id: \"not-a-uuid\") { id } }",
        "mutation { revokeSession(id: \"x\") { id } }",
        "mutation { trustDevice(id: \"\") { id } }",
    ] {
        let answer = app.graphql(Some(&alice.token), query, json!({})).await;
        assert_eq!(answer.error_code(), "BAD_USER_INPUT", "{query}");
    }
}

async fn location_comes_only_from_trusted_proxies(app: TestApp) {
    let identity = app.identity_token("alice", &["pwd"]);
    let start = json!({ "query": "mutation { startSession(input: {}) { token device { ipAddress location { country city } } } }" });
    // Our own request comes from 127.0.0.1, which is not a trusted proxy in tests.
    let direct: Value = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&identity)
        .header("X-Forwarded-For", "203.0.113.9")
        .header("CF-IPCountry", "DE")
        .json(&start)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        direct["data"]["startSession"]["device"]["ipAddress"],
        "127.0.0.1"
    );
    assert_eq!(
        direct["data"]["startSession"]["device"]["location"],
        Value::Null
    );

    // Through the trusted proxy at 127.0.0.2.
    let via_proxy = via_trusted_proxy();
    let proxied: Value = via_proxy
        .post(app.url("/graphql"))
        .bearer_auth(&identity)
        .header("X-Forwarded-For", "198.51.100.1, 203.0.113.9")
        .header("CF-IPCountry", "de")
        .header("CF-IPCity", "Berlin")
        .json(&start)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device = &proxied["data"]["startSession"]["device"];
    assert_eq!(device["ipAddress"], "203.0.113.9");
    assert_eq!(
        device["location"],
        json!({ "country": "DE", "city": "Berlin" })
    );
}

#[tokio::test]
async fn location_falls_back_to_the_geoip_database() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/geoip-test.mmdb"
    );
    let app = TestApp::sqlite_with(|config| {
        config.client_info.geoip_database = Some(fixture.into());
    })
    .await;
    let identity = app.identity_token("alice", &["pwd"]);
    let start = json!({ "query": "mutation { startSession(input: {}) { device { ipAddress location { country city } } } }" });
    let via_proxy = via_trusted_proxy();
    let located = |forwarded_for: &'static str, country_header: Option<&'static str>| {
        let mut request = via_proxy
            .post(app.url("/graphql"))
            .bearer_auth(&identity)
            .header("X-Forwarded-For", forwarded_for)
            .json(&start);
        if let Some(country) = country_header {
            request = request.header("CF-IPCountry", country);
        }
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            body["data"]["startSession"]["device"]["location"].clone()
        }
    };
    assert_eq!(
        located("203.0.113.9", None).await,
        json!({ "country": "FI", "city": "Helsinki" })
    );
    assert_eq!(
        located("2001:db8::7", None).await,
        json!({ "country": "JP", "city": null })
    );
    assert_eq!(located("198.51.100.1", None).await, Value::Null);
    // The trusted proxy's header wins over the database.
    assert_eq!(
        located("203.0.113.9", Some("SE")).await,
        json!({ "country": "SE", "city": null })
    );
}

#[tokio::test]
async fn sensitive_device_actions_need_a_recent_sign_in_or_a_trusted_device() {
    let app = TestApp::sqlite().await;
    let laptop = app.sign_in_with("alice", CHROME_MAC, None).await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    app.advance(9);
    app.heartbeat(&laptop.token).await;
    app.heartbeat(&phone.token).await;
    app.advance(2);
    // Eleven minutes after signing in, on an untrusted device.
    for mutation in [
        "mutation($id: ID!) { trustDevice(id: $id) { id } }",
        "mutation($id: ID!) { untrustDevice(id: $id) { id } }",
        "mutation($id: ID!) { markDeviceHijacked(id: $id) { id } }",
    ] {
        let refused = app
            .graphql(
                Some(&laptop.token),
                mutation,
                json!({ "id": phone.device_id }),
            )
            .await;
        assert_eq!(refused.error_code(), "REAUTH_REQUIRED", "{mutation}");
    }
    // Revoking stays allowed, and so does flagging one's own device.
    app.revoke(&laptop.token, &phone.session_id).await;
    assert_eq!(app.event_count("DEVICE_TRUSTED").await, 0);

    // A fresh sign-in on the laptop may trust it; once trusted, the old session may act too.
    let fresh = app
        .sign_in_with("alice", CHROME_MAC, Some(&laptop.device_token))
        .await;
    app.graphql(
        Some(&fresh.token),
        "mutation($id: ID!) { trustDevice(id: $id) { isTrusted } }",
        json!({ "id": laptop.device_id }),
    )
    .await
    .assert_ok();
    app.graphql(
        Some(&laptop.token),
        "mutation($id: ID!) { markDeviceHijacked(id: $id) { status } }",
        json!({ "id": phone.device_id }),
    )
    .await
    .assert_ok();
    let own = app
        .graphql(
            Some(&laptop.token),
            "mutation($id: ID!) { untrustDevice(id: $id) { isTrusted } }",
            json!({ "id": laptop.device_id }),
        )
        .await;
    own.assert_ok();
}
