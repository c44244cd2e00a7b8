//! The laravel-devices API: the seed's examples, its statuses, and its 429.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{replay, rest};
use crate::helpers::{SAFARI_IPHONE, TestApp};

const PREFIX: &str = "/compat/laravel";

crate::on_both_databases!(
    configured crate::compat::serve_all;
    the_seeds_examples_replay,
    device_and_session_statuses_follow_what_happened,
    verifying_needs_a_recent_sign_in,
);

mod at_a_low_rate {
    use super::*;

    crate::on_both_databases!(
        configured |config| {
            crate::compat::serve_all(config);
            config.rate_limits.requests_per_minute_per_session = std::num::NonZeroU32::new(2).unwrap();
        };
        over_the_rate_laravel_says_too_many_attempts,
    );
}

async fn call(app: &TestApp, method: Method, path: &str, token: &str) -> super::Rest {
    rest(app, method, &format!("{PREFIX}{path}"), Some(token), None).await
}

async fn the_seeds_examples_replay(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let missing = uuid::Uuid::now_v7().to_string();
    replay(&app, "laravel", PREFIX, &laptop.token, |path| {
        path.replace("{device}", &laptop.device_id)
            .replace("{other}", &phone.device_id)
            .replace("{missing}", &missing)
    })
    .await;
    // The last example signed the laptop out: every session of the device ended.
    app.assert_session_ended(&laptop.token).await;
    app.assert_session_ended(&phone.token).await;
}

async fn device_and_session_statuses_follow_what_happened(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let listed = call(&app, Method::GET, "/api/devices", &laptop.token)
        .await
        .expect(StatusCode::OK);
    let devices = listed.body["data"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    let iphone = devices
        .iter()
        .find(|d| d["uuid"] == phone.device_id.as_str())
        .unwrap();
    assert_eq!(iphone["is_current"], false);
    assert_eq!(iphone["status"], "unverified");
    assert_eq!(iphone["device"]["type"], "mobile");
    assert_eq!(iphone["platform"]["name"], "iOS");
    assert_eq!(iphone["browser"]["engine"], "WebKit");
    assert_eq!(iphone["source"], SAFARI_IPHONE);

    call(
        &app,
        Method::PATCH,
        &format!("/api/devices/{}/verify", laptop.device_id),
        &laptop.token,
    )
    .await
    .expect(StatusCode::OK);
    let laptop_shown = call(
        &app,
        Method::GET,
        &format!("/api/devices/{}", laptop.device_id),
        &laptop.token,
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(laptop_shown.body["data"]["status"], "verified");
    assert!(laptop_shown.body["data"]["verified_at"].is_string());
    assert_eq!(laptop_shown.body["data"]["sessions"][0]["status"], "active");
    assert_eq!(
        laptop_shown.body["data"]["sessions"][0]["uuid"],
        laptop.session_id.as_str()
    );

    call(
        &app,
        Method::PATCH,
        &format!("/api/devices/{}/hijack", phone.device_id),
        &laptop.token,
    )
    .await
    .expect(StatusCode::OK);
    app.assert_session_ended(&phone.token).await;
    let hijacked = call(
        &app,
        Method::GET,
        &format!("/api/devices/{}", phone.device_id),
        &laptop.token,
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(hijacked.body["data"]["status"], "hijacked");
    assert_eq!(hijacked.body["data"]["sessions"][0]["status"], "blocked");
    // A hijacked device cannot be verified: 409, with the code.
    let refused = call(
        &app,
        Method::PATCH,
        &format!("/api/devices/{}/verify", phone.device_id),
        &laptop.token,
    )
    .await
    .expect(StatusCode::CONFLICT);
    assert_eq!(refused.body["code"], "DEVICE_BLOCKED");
    assert_eq!(app.event_count("DEVICE_HIJACKED").await, 1);
}

async fn verifying_needs_a_recent_sign_in(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    app.advance(11);
    let refused = call(
        &app,
        Method::PATCH,
        &format!("/api/devices/{}/verify", laptop.device_id),
        &laptop.token,
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    assert_eq!(
        refused.body,
        json!({ "message": "This action is unauthorized.", "code": "REAUTH_REQUIRED" })
    );
}

async fn over_the_rate_laravel_says_too_many_attempts(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    for _ in 0..2 {
        call(&app, Method::GET, "/api/devices", &laptop.token)
            .await
            .expect(StatusCode::OK);
    }
    let limited = call(&app, Method::GET, "/api/devices", &laptop.token)
        .await
        .expect(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["message"], "Too Many Attempts.");
    assert_eq!(limited.body["code"], "RATE_LIMITED");
    let wait = limited.body["retry_after"].as_u64().unwrap();
    assert!(wait >= 1);
    assert_eq!(limited.headers["retry-after"], wait.to_string().as_str());
}
