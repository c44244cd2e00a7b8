//! Events are rows numbered per account; what a subscriber's channel dropped, and what an
//! instance missed while its transport was down, is replayed from the table in order.

use std::{collections::HashSet, sync::Arc, time::Duration};

use futures_util::StreamExt;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use sessionhub::{
    graphql::{FellBehind, ListeningSince},
    service::{MAX_CATCH_UP, Requester},
};
use tokio::sync::Notify;

use crate::{
    helpers::{SAFARI_IPHONE, SignedIn, TestApp},
    subscriptions::{Subscriber, schema_without_socket, wait_for_subscribers},
};

crate::on_both_databases!(
    configured |config| config.max_sessions_per_user = super::MANY as u64;
    concurrent_changes_number_an_accounts_events_without_gaps,
    a_burst_of_revocations_reaches_every_subscriber_in_full,
    a_lagging_subscription_replays_what_its_channel_dropped,
);

/// Sessions an account may hold at once in these tests, so one revoke-all is a burst.
const MANY: usize = 200;

/// `count` events of `kind` about `session_id` committed for `user` as the service would
/// commit them (positions from the account's cursor), but without waking any instance.
pub(crate) async fn commit_unannounced(
    app: &TestApp,
    user: &str,
    kind: &str,
    session_id: &str,
    detail: &str,
    count: u32,
) {
    app.db
        .execute_unprepared(&format!(
            "WITH head AS (
                INSERT INTO account_cursors (user_id, last_seq) VALUES ('{user}', {count})
                ON CONFLICT (user_id) DO UPDATE SET last_seq = account_cursors.last_seq + {count}
                RETURNING last_seq)
             INSERT INTO account_events (id, user_id, seq, kind, session_id, detail, occurred_at)
             SELECT gen_random_uuid(), '{user}', head.last_seq - {count} + i, '{kind}',
                    '{session_id}', {detail}, now()
             FROM head, generate_series(1, {count}) AS i"
        ))
        .await
        .unwrap();
}

/// A device rename of `phone`'s account, committed without waking any instance.
async fn rename_unannounced(app: &TestApp, phone: &SignedIn) {
    commit_unannounced(app, "alice", "DEVICE_RENAMED", &phone.session_id, "NULL", 1).await;
}

/// The next message of `feed` is the `securityEvent` of a device rename.
async fn assert_told_of_a_rename(feed: &mut Subscriber) {
    let logged = feed.next().await;
    assert_eq!(
        logged["payload"]["data"]["securityEvent"]["kind"], "DEVICE_RENAMED",
        "{logged}"
    );
}

/// Wakes every instance for `user`'s latest events, as a commit's notification does.
async fn announce(app: &TestApp, user: &str) {
    app.db
        .execute_unprepared(&format!(
            "SELECT pg_notify('sessionhub_account_events',
                json_build_object('user_id', user_id, 'seq', last_seq)::text)
             FROM account_cursors WHERE user_id = '{user}'"
        ))
        .await
        .unwrap();
}

/// `count` sessionStarted events of alice's session `alice`, committed and announced
/// together.
async fn sessions_started_at_once(app: &TestApp, alice: &SignedIn, count: u32) {
    commit_unannounced(
        app,
        "alice",
        "SESSION_STARTED",
        &alice.session_id,
        "NULL",
        count,
    )
    .await;
    announce(app, "alice").await;
}

/// The first message of `feed` that is not an event, and how many events came before it.
async fn skip_events(feed: &mut Subscriber) -> (Value, usize) {
    let mut delivered = 0;
    loop {
        let message = feed.next().await;
        if message["type"] != "next" {
            return (message, delivered);
        }
        delivered += 1;
    }
}

/// The backends of this test's database that LISTEN: the instance's event relay.
pub(crate) const LISTEN_BACKENDS: &str =
    "FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'";

/// Kills the instance's LISTEN connection, as a network cut would.
pub(crate) async fn cut_the_listen_connection(app: &TestApp) {
    let killed = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!("SELECT count(pg_terminate_backend(pid)) AS n {LISTEN_BACKENDS}"),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(killed, 1, "the instance's LISTEN connection");
}

/// Signs `user` in `count` times; the last sign-in comes first in the returned list.
async fn sign_in_many(app: &TestApp, user: &str, count: usize) -> Vec<SignedIn> {
    let mut signed_in = Vec::with_capacity(count);
    for _ in 0..count {
        signed_in.push(app.sign_in(user).await);
    }
    signed_in.reverse();
    signed_in
}

/// Two transactions writing one account's events at once wait for each other's cursor:
/// the account's positions run 1, 2, 3, … with no gap and no repeat.
async fn concurrent_changes_number_an_accounts_events_without_gaps(app: TestApp) {
    let app = Arc::new(app);
    let sign_ins = (0..16).map(|_| {
        let app = app.clone();
        tokio::spawn(async move { app.sign_in("alice").await })
    });
    for sign_in in sign_ins {
        sign_in.await.unwrap();
    }
    let positions: Vec<i64> = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT seq FROM account_events WHERE user_id = 'alice' ORDER BY seq",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<i64>("", "seq").unwrap())
        .collect();
    assert!(positions.len() >= 16, "{positions:?}");
    assert_eq!(positions, (1..=positions.len() as i64).collect::<Vec<_>>());
    let head = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT last_seq FROM account_cursors WHERE user_id = 'alice'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "last_seq")
        .unwrap();
    assert_eq!(head, positions.len() as i64);
}

/// One revoke-all ends far more sessions than an account channel holds: the subscriber
/// falls behind, replays the rest from the table, and gets every revocation, each once.
async fn a_burst_of_revocations_reaches_every_subscriber_in_full(app: TestApp) {
    let sessions = sign_in_many(&app, "alice", MANY).await;
    let watcher = &sessions[0];
    let mut feed = Subscriber::authenticated(&app, &watcher.token).await;
    feed.subscribe(
        "revoked",
        "subscription { sessionRevoked { session { id } } }",
    )
    .await;
    feed.subscribe(
        "log",
        "subscription { securityEvent { kind session { id } } }",
    )
    .await;
    wait_for_subscribers(&app, 3).await;

    app.graphql(
        Some(&watcher.token),
        "mutation { revokeAllSessions { revokedCount } }",
        json!({}),
    )
    .await
    .assert_ok();

    let others: HashSet<String> = sessions[1..]
        .iter()
        .map(|signed_in| signed_in.session_id.clone())
        .collect();
    let (mut revoked, mut logged) = (HashSet::new(), HashSet::new());
    while revoked.len() + logged.len() < 2 * others.len() {
        let message = feed.next().await;
        assert_eq!(message["type"], "next", "{message}");
        let data = &message["payload"]["data"];
        let (seen, id) = match message["id"].as_str() {
            Some("revoked") => (&mut revoked, &data["sessionRevoked"]["session"]["id"]),
            _ => {
                assert_eq!(data["securityEvent"]["kind"], "SESSION_ENDED", "{message}");
                (&mut logged, &data["securityEvent"]["session"]["id"])
            }
        };
        assert!(
            seen.insert(id.as_str().unwrap().to_owned()),
            "{id} arrived twice"
        );
    }
    assert_eq!(revoked, others);
    assert_eq!(logged, others);
    // Nothing more is owed, and the connection is still open: it answers a ping.
    feed.send(json!({ "type": "ping" })).await;
    assert_eq!(feed.next().await["type"], "pong");
}

/// A subscription nobody reads while a burst commits: its channel drops most of it, and
/// reading it afterwards still yields every event, in order. Driven without a websocket,
/// so nothing reads the stream while the burst arrives.
async fn a_lagging_subscription_replays_what_its_channel_dropped(app: TestApp) {
    let sessions = sign_in_many(&app, "alice", MANY).await;
    let watcher = &sessions[0];
    let (schema, requester) = schema_without_socket(&app, watcher);
    let alarm = Arc::new(Notify::new());
    // Listening starts as a transport accepts the subscription, before any event.
    let Requester::Session(actor) = &requester else {
        panic!("a session's requester")
    };
    let feed = app.services.listen_to_account(actor).await.unwrap();
    let request = async_graphql::Request::new("subscription { sessionRevoked { session { id } } }")
        .data(requester)
        .data(ListeningSince::new(feed))
        .data(FellBehind(alarm.clone()));
    let mut stream = schema.execute_stream(request);
    // The first poll runs the resolver; nothing has happened yet.
    let first = tokio::time::timeout(Duration::from_millis(100), stream.next()).await;
    assert!(first.is_err(), "no event yet: {first:?}");

    // A second listener of the account, read to the end, shows the burst was delivered.
    let mut delivered = app.services.events().subscribe("alice").await.unwrap();
    app.graphql(
        Some(&watcher.token),
        "mutation { revokeAllSessions { revokedCount } }",
        json!({}),
    )
    .await
    .assert_ok();
    tokio::time::timeout(Duration::from_secs(5), async {
        for _ in 1..MANY {
            delivered.recv().await.unwrap();
        }
    })
    .await
    .expect("the burst is delivered");

    let mut revoked = Vec::new();
    for _ in 1..MANY {
        let answer = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("every revocation is replayed")
            .expect("an answer");
        assert!(answer.errors.is_empty(), "{:?}", answer.errors);
        let data = answer.data.into_json().unwrap();
        revoked.push(
            data["sessionRevoked"]["session"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let expected: HashSet<&str> = sessions[1..]
        .iter()
        .map(|s| s.session_id.as_str())
        .collect();
    assert_eq!(
        revoked.iter().map(String::as_str).collect::<HashSet<_>>(),
        expected
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(10), alarm.notified())
            .await
            .is_err(),
        "a replay is not falling behind"
    );
}

/// Events committed while an instance's LISTEN connection was down are replayed once it is
/// back, every kind of them: the subscriptions get theirs, and the session's own end
/// reaches `signedOut`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_listen_connection_replays_what_it_missed() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let mut feed = Subscriber::authenticated(&app, &phone.token).await;
    feed.subscribe("bye", "subscription { signedOut { reason } }")
        .await;
    feed.subscribe("log", "subscription { securityEvent { kind } }")
        .await;
    // The connection's watch and the log's feed; `bye` was read before the log.
    wait_for_subscribers(&app, 2).await;

    // Committed while this instance was deaf: no notification reaches it.
    rename_unannounced(&app, &phone).await;
    cut_the_listen_connection(&app).await;
    assert_told_of_a_rename(&mut feed).await;

    app.db
        .execute_unprepared(&format!(
            "UPDATE sessions SET ended_at = now(), end_reason = 'REVOKED' WHERE id = '{}'",
            phone.session_id
        ))
        .await
        .unwrap();
    commit_unannounced(
        &app,
        "alice",
        "SESSION_ENDED",
        &phone.session_id,
        r#"'{"reason": "REVOKED"}'"#,
        1,
    )
    .await;
    cut_the_listen_connection(&app).await;
    let mut rest = Vec::new();
    loop {
        let message = feed.next().await;
        let closed = message.get("close").is_some();
        rest.push(message);
        if closed {
            break;
        }
    }
    let signed_out = rest
        .iter()
        .find(|message| message["id"] == "bye" && message["type"] == "next")
        .unwrap_or_else(|| panic!("signedOut in {rest:?}"));
    assert_eq!(
        signed_out["payload"]["data"]["signedOut"]["reason"],
        "REVOKED"
    );
    assert_eq!(rest.last().unwrap(), &json!({ "close": 4403 }));
}

/// A burst of one account's events is that account's alone: a subscriber of another
/// account stays connected and goes on receiving its own events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_burst_leaves_a_subscriber_connected() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let x = app.sign_in("xavier").await;
    let mut feed = Subscriber::authenticated(&app, &x.token).await;
    feed.subscribe("started", "subscription { sessionStarted { id } }")
        .await;
    let y = app.sign_in("alice").await;
    let mut busy = Subscriber::authenticated(&app, &y.token).await;
    busy.subscribe("started", "subscription { sessionStarted { id } }")
        .await;
    wait_for_subscribers(&app, 4).await;

    sessions_started_at_once(&app, &y, 2 * MAX_CATCH_UP as u32).await;
    let (closed, _) = skip_events(&mut busy).await;
    assert_eq!(
        closed,
        json!({ "close": 1013 }),
        "the busy account's own subscriber is too far behind"
    );
    let again = app.sign_in("xavier").await;
    let told = feed.next().await;
    assert_eq!(told["type"], "next", "{told}");
    assert_eq!(
        told["payload"]["data"]["sessionStarted"]["id"],
        again.session_id
    );
}

/// A subscriber further behind than a replay may reach is closed with 1013 (reconnect and
/// refetch) instead of missing events silently or seeing a normal `complete`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_too_far_behind_is_closed_with_1013() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let alice = app.sign_in("alice").await;
    let mut feed = Subscriber::authenticated(&app, &alice.token).await;
    feed.subscribe("started", "subscription { sessionStarted { id } }")
        .await;
    wait_for_subscribers(&app, 2).await;

    let burst = 2 * MAX_CATCH_UP as usize;
    sessions_started_at_once(&app, &alice, burst as u32).await;

    let (closed, delivered) = skip_events(&mut feed).await;
    assert_eq!(closed, json!({ "close": 1013 }), "after {delivered} events");
    assert!(delivered < burst);
}

/// Redis may lose a wake-up (a failed publish, a crash between commit and publish): every
/// instance reads its accounts' heads again every few seconds, so an event committed
/// without any wake-up still arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_redis_an_event_whose_wake_up_was_lost_still_arrives() {
    let Some(app) = TestApp::postgres_on_redis_with(|_| {}).await else {
        return;
    };
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let mut feed = Subscriber::authenticated(&app, &phone.token).await;
    feed.subscribe("log", "subscription { securityEvent { kind } }")
        .await;
    wait_for_subscribers(&app, 2).await;

    rename_unannounced(&app, &phone).await;
    assert_told_of_a_rename(&mut feed).await;
}
