//! Sessions kept in memory: a token checked again reads nothing, a heartbeat inside the
//! write window writes nothing, and neither ever lets an ended session through or ends a
//! live one early, on one instance or two, whatever the event transport does.

use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::json;

use crate::{
    helpers::{SAFARI_IPHONE, SignedIn, TestApp},
    replay::{LISTEN_BACKENDS, commit_unannounced, cut_the_listen_connection},
};

crate::on_both_databases!(
    configured |config| config.heartbeat_write_window = Some(super::WINDOW);
    a_session_checked_again_runs_no_statement_until_it_ends,
    a_heartbeat_inside_the_window_writes_nothing_and_reads_exactly,
    a_heartbeat_kept_in_memory_never_lets_the_session_end_early,
    the_devices_page_read_again_runs_no_statement_until_the_account_changes,
);

crate::on_both_transports!(
    a_session_revoked_on_one_instance_is_refused_by_another_that_had_it_in_memory
);

/// The write window of these tests: five minutes, with the 30-minute idle timeout.
const WINDOW: Duration = Duration::from_secs(300);

/// How long another instance may go on accepting a session revoked elsewhere: the
/// transport's delivery time, well under a second here.
const DELIVERY: Duration = Duration::from_secs(1);

async fn typename(app: &TestApp, token: &str) {
    app.graphql(Some(token), "{ __typename }", json!({}))
        .await
        .assert_ok();
}

/// The time `session` was last active and expires, as written in the database.
async fn written_activity(app: &TestApp, session: &SignedIn) -> (String, String) {
    let id: uuid::Uuid = session.session_id.parse().unwrap();
    let row = entity::session::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("the session's row");
    (
        row.last_activity_at.to_rfc3339(),
        row.expires_at.to_rfc3339(),
    )
}

/// Asserts that `app` refuses `token` when checking it alone: `{ __typename }` reads
/// nothing else that could refuse it.
async fn assert_refused(app: &TestApp, token: &str) {
    let answer = app.graphql(Some(token), "{ __typename }", json!({})).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    assert_eq!(answer.error_code(), "SESSION_ENDED");
}

/// Polls `app` until it refuses `token`, for at most `within`.
async fn refused_within(app: &TestApp, token: &str, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        let answer = app.graphql(Some(token), "{ __typename }", json!({})).await;
        if answer.status == StatusCode::UNAUTHORIZED {
            assert_eq!(answer.error_code(), "SESSION_ENDED");
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn a_session_checked_again_runs_no_statement_until_it_ends(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    typename(&app, &phone.token).await;
    let before = app.statements.get();
    for _ in 0..5 {
        typename(&app, &phone.token).await;
    }
    assert_eq!(app.statements.get(), before, "statements for cached checks");

    app.revoke(&laptop.token, &phone.session_id).await;
    assert_refused(&app, &phone.token).await;
    // Expiry needs no event: it is computed from what is kept and the clock.
    typename(&app, &laptop.token).await;
    app.advance(31);
    assert_refused(&app, &laptop.token).await;
}

async fn a_heartbeat_inside_the_window_writes_nothing_and_reads_exactly(app: TestApp) {
    let alice = app.sign_in("alice").await;
    app.advance(1);
    // Written: the sign-in's expiry does not cover a heartbeat; now it covers the window.
    app.heartbeat(&alice.token).await;
    let written = written_activity(&app, &alice).await;

    app.advance(3);
    let before = app.statements.get();
    let beat = app
        .graphql(
            Some(&alice.token),
            "mutation { heartbeat { lastActivityAt expiresAt } }",
            json!({}),
        )
        .await;
    beat.assert_ok();
    assert_eq!(app.statements.get(), before, "statements for a heartbeat");
    assert_eq!(
        beat.data("heartbeat.lastActivityAt"),
        "2026-11-23T12:04:00Z"
    );
    assert_eq!(beat.data("heartbeat.expiresAt"), "2026-11-23T12:36:00Z");
    assert_eq!(written_activity(&app, &alice).await, written);
    let listed = app
        .graphql(
            Some(&alice.token),
            "{ sessions { lastActivityAt } currentSession { lastActivityAt } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed.data("sessions.0.lastActivityAt"),
        "2026-11-23T12:04:00Z"
    );
    assert_eq!(
        listed.data("currentSession.lastActivityAt"),
        "2026-11-23T12:04:00Z"
    );

    // Past the window since the last write: written again.
    app.advance(3);
    assert_eq!(
        app.heartbeat_expires_at(&alice.token).await,
        "2026-11-23T12:42:00Z"
    );
    assert_ne!(written_activity(&app, &alice).await, written);
}

async fn a_heartbeat_kept_in_memory_never_lets_the_session_end_early(app: TestApp) {
    let alice = app.sign_in("alice").await;
    app.advance(1);
    app.heartbeat(&alice.token).await; // written at 12:01, expiring at 12:36
    app.advance(3);
    app.heartbeat(&alice.token).await; // 12:04, in memory: idle until 12:34

    // 12:35: past the idle timeout of the heartbeat in memory, within the written expiry.
    app.advance(31);
    assert_eq!(app.services.sweep_expired_sessions().await.unwrap(), 0);
    app.assert_session_active(&alice.token).await;
    // An instance that never saw the heartbeat in memory, as after a crash: the session
    // looks less recently active, by less than one window, and is still active.
    let fresh = app.second_instance().await;
    let seen = fresh
        .graphql(
            Some(&alice.token),
            "{ currentSession { status lastActivityAt } }",
            json!({}),
        )
        .await;
    assert_eq!(seen.data("currentSession.status"), "ACTIVE");
    assert_eq!(
        seen.data("currentSession.lastActivityAt"),
        "2026-11-23T12:01:00Z"
    );

    app.advance(1);
    app.assert_session_ended(&alice.token).await;
    fresh.assert_session_ended(&alice.token).await;
    assert_eq!(app.services.sweep_expired_sessions().await.unwrap(), 1);
}

async fn a_session_revoked_on_one_instance_is_refused_by_another_that_had_it_in_memory(a: TestApp) {
    let b = a.second_instance().await;
    let laptop = a.sign_in("alice").await;
    let phone = b.sign_in_with("alice", SAFARI_IPHONE, None).await;
    // B checks the phone from memory, once the sign-ins' own wake-ups have come back to
    // it (until then one may make it read the session again, whenever it arrives).
    answered_from_memory(&b, &phone.token).await;

    a.revoke(&laptop.token, &phone.session_id).await;
    assert!(
        refused_within(&b, &phone.token, DELIVERY).await,
        "B still accepts the revoked session after {DELIVERY:?}"
    );
}

/// Checks `token` until the instance answers it from memory after a pause. By then the
/// sign-in's own notification has come back through PostgreSQL, and can no longer make
/// the instance read the session again.
async fn answered_from_memory(app: &TestApp, token: &str) {
    for _ in 0..50 {
        typename(app, token).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = app.statements.get();
        typename(app, token).await;
        if app.statements.get() == before {
            return;
        }
    }
    panic!("the session check never came from memory");
}

/// Ends alice's `session` in the database with its event, as another instance would,
/// but without waking any instance: a lost wake-up.
async fn end_unannounced(app: &TestApp, session: &SignedIn) {
    app.db
        .execute_unprepared(&format!(
            "UPDATE sessions SET ended_at = now(), end_reason = 'REVOKED' WHERE id = '{}'",
            session.session_id
        ))
        .await
        .unwrap();
    commit_unannounced(
        app,
        "alice",
        "SESSION_ENDED",
        &session.session_id,
        r#"'{"reason": "REVOKED"}'"#,
        1,
    )
    .await;
}

/// The process id of the instance's LISTEN connection, once there is one.
async fn listening_backend(app: &TestApp) -> Option<i32> {
    app.db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!("SELECT pid {LISTEN_BACKENDS}"),
        ))
        .await
        .unwrap()
        .map(|row| row.try_get::<i32>("", "pid").unwrap())
}

/// Waits until the instance listens again on a connection other than `dropped`, and
/// counts itself connected.
async fn wait_for_a_new_listen_connection(app: &TestApp, dropped: i32) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while listening_backend(app)
        .await
        .is_none_or(|pid| pid == dropped)
        || !app.services.events().is_connected()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never listened again"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What an instance knew of sessions before its LISTEN connection dropped is not trusted
/// afterwards: notifications may have been missed meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_listen_connection_empties_what_the_instance_knew_of_sessions() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let alice = app.sign_in("alice").await;
    answered_from_memory(&app, &alice.token).await;
    end_unannounced(&app, &alice).await;
    // NOTIFY loses nothing while connected, so kept state is trusted until the drop.
    typename(&app, &alice.token).await;

    let dropped = listening_backend(&app).await.expect("a LISTEN connection");
    cut_the_listen_connection(&app).await;
    wait_for_a_new_listen_connection(&app, dropped).await;
    assert_refused(&app, &alice.token).await;
}

/// Over Redis a wake-up is lost when its instance dies between commit and publish; what
/// an instance keeps is trusted no longer than the periodic resync that would find it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_redis_a_session_ended_without_a_wake_up_is_refused_after_the_resync_interval() {
    let Some(app) = TestApp::postgres_on_redis_with(|_| {}).await else {
        return;
    };
    let alice = app.sign_in("alice").await;
    typename(&app, &alice.token).await;
    end_unannounced(&app, &alice).await;
    assert!(
        refused_within(&app, &alice.token, Duration::from_secs(3)).await,
        "the session ended without a wake-up is still accepted"
    );
}

const DEVICES_PAGE: &str = "{ devices { id lastSeenAt sessions { id lastActivityAt } } }";

async fn the_devices_page_read_again_runs_no_statement_until_the_account_changes(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let first = app
        .graphql(Some(&laptop.token), DEVICES_PAGE, json!({}))
        .await;
    let before = app.statements.get();
    let page = app
        .graphql(Some(&laptop.token), DEVICES_PAGE, json!({}))
        .await;
    assert_eq!(
        app.statements.get(),
        before,
        "statements for a page read again"
    );
    assert_eq!(page.data("devices").as_array().unwrap().len(), 1);
    // From memory, the same page: the device with its one session.
    assert_eq!(page.data("devices"), first.data("devices"));
    assert_eq!(
        page.data("devices")[0]["sessions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let page = app
        .graphql(Some(&laptop.token), DEVICES_PAGE, json!({}))
        .await;
    assert_eq!(page.data("devices").as_array().unwrap().len(), 2);
    app.revoke(&laptop.token, &phone.session_id).await;
    let page = app
        .graphql(Some(&laptop.token), DEVICES_PAGE, json!({}))
        .await;
    let sessions: usize = page
        .data("devices")
        .as_array()
        .unwrap()
        .iter()
        .map(|device| device["sessions"].as_array().unwrap().len())
        .sum();
    assert_eq!(sessions, 1, "{}", page.body);
}
