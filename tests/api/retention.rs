//! Retention and lapsing trust: what time ends is recorded, and storage stays bounded
//! however long an account lives.

use serde_json::json;
use sessionhub::service::RetentionReport;

use crate::{
    helpers::{CHROME_MAC, SAFARI_IPHONE, TestApp},
    subscriptions::{Subscriber, wait_for_subscribers},
};

crate::on_both_databases!(
    lapsed_trust_is_recorded_and_pushed_once,
    an_account_signing_in_daily_for_a_year_and_more_keeps_bounded_storage,
);

async fn lapsed_trust_is_recorded_and_pushed_once(app: TestApp) {
    let alice = app.sign_in("alice").await;
    app.graphql(
        Some(&alice.token),
        "mutation($id: ID!) { trustDevice(id: $id, level: MEDIUM, expiresAt: \"2026-11-23T12:10:00Z\") { id } }",
        json!({ "id": alice.device_id }),
    )
    .await
    .assert_ok();
    let mut feed = Subscriber::authenticated(&app, &alice.token).await;
    feed.subscribe(
        "log",
        "subscription { securityEvent { kind occurredAt detail device { id status isTrusted } } }",
    )
    .await;
    wait_for_subscribers(&app, 1).await;
    assert_eq!(app.services.sweep_lapsed_trust().await.unwrap(), 0);

    app.advance(11);
    assert_eq!(app.services.sweep_lapsed_trust().await.unwrap(), 1);
    assert_eq!(app.services.sweep_lapsed_trust().await.unwrap(), 0);
    let pushed = feed.next().await;
    assert_eq!(
        pushed["payload"]["data"]["securityEvent"],
        json!({
            "kind": "DEVICE_TRUST_EXPIRED", "occurredAt": "2026-11-23T12:10:00Z",
            "detail": { "level": "MEDIUM" },
            "device": { "id": alice.device_id, "status": "UNVERIFIED", "isTrusted": false },
        })
    );
    assert_eq!(app.event_count("DEVICE_TRUST_EXPIRED").await, 1);
}

/// Days the storage test lives through: past every horizon (the longest, the security
/// log's, is 365 days), and no longer, as each day is two or three requests.
const DAYS: i64 = 400;

/// Over a year of one account signing in every day on its phone and, once a week, on a
/// browser it never used before (a private window), signing out each time.
async fn an_account_signing_in_daily_for_a_year_and_more_keeps_bounded_storage(app: TestApp) {
    let mut phone_token: Option<String> = None;
    let mut reports = Vec::new();
    for day in 0..DAYS {
        let signed_in = app
            .sign_in_with("alice", SAFARI_IPHONE, phone_token.as_deref())
            .await;
        phone_token = Some(signed_in.device_token.clone());
        app.sign_out(&signed_in.token).await;
        if day % 7 == 0 {
            let private = app.sign_in_with("alice", CHROME_MAC, None).await;
            app.sign_out(&private.token).await;
        }
        app.advance(24 * 60);
        if day % 30 == 29 {
            reports.push(app.services.apply_retention().await.unwrap());
        }
    }
    reports.push(app.services.apply_retention().await.unwrap());
    let total = |count: fn(&RetentionReport) -> usize| reports.iter().map(count).sum::<usize>();
    let forgotten = total(|report| report.forgotten_devices);

    // Every weekly browser but the last 180 days' was forgotten, by the server.
    assert!(forgotten as i64 >= (DAYS - 180) / 7, "forgot {forgotten}");
    let by_server = app
        .count("account_events WHERE kind = 'DEVICE_FORGOTTEN' AND actor_session_id IS NULL")
        .await;
    assert!(by_server > 0);
    // What is left is what the horizons keep: 90 days of ended sessions (8 a week), the
    // devices seen in 180 days plus those forgotten in the last 90 (a device is forgotten
    // at the first run, every 30 days here, after its 180 days), a year of events.
    let sessions = app.count("sessions").await;
    assert!(sessions <= 90 * 8 / 7 + 2, "{sessions} sessions kept");
    let devices = app.count("devices").await;
    assert!(
        devices <= 1 + (180 + 30 + 90) / 7 + 1,
        "{devices} devices kept"
    );
    // A year of two a day on the phone and five a week for the private windows (added,
    // asked about, started, ended, forgotten): under three a day.
    let events = app.count("account_events").await;
    assert!(events <= 365 * 3, "{events} events kept");
    assert!(total(|report| report.deleted_sessions) > 0);
    assert!(total(|report| report.deleted_devices) > 0);
    assert!(total(|report| report.deleted_events) > 0);

    // The log says how far back it goes, and holds nothing older.
    let phone = app
        .sign_in_with("alice", SAFARI_IPHONE, phone_token.as_deref())
        .await;
    let log = app
        .graphql(
            Some(&phone.token),
            "{ securityEvents(first: 1) { keptSince } }",
            json!({}),
        )
        .await;
    log.assert_ok();
    let kept_since = log
        .data("securityEvents.keptSince")
        .as_str()
        .unwrap()
        .to_owned();
    let kept_since = chrono::DateTime::parse_from_rfc3339(&kept_since).unwrap();
    assert_eq!(
        kept_since.timestamp(),
        app.now() - 365 * 24 * 3600,
        "a year before now"
    );
    let older = app
        .count(&format!(
            "account_events WHERE occurred_at < '{}'",
            (kept_since - chrono::Duration::days(1)).format("%Y-%m-%d %H:%M:%S")
        ))
        .await;
    assert_eq!(older, 0);
}
