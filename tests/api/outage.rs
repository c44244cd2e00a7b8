//! While the database cannot be reached, requests fail fast with a code instead of
//! hanging, nothing ended is accepted, and service resumes when it is back.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use reqwest::StatusCode;
use serde_json::json;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::Mutex,
    task::JoinHandle,
};

use crate::helpers::TestApp;

/// A TCP proxy in front of PostgreSQL that the test can cut and restore, as an outage
/// would: cut, it drops every connection and every new one at once. Its listener stays
/// bound throughout, so the database comes back at the same address whatever else runs.
struct Outage {
    address: SocketAddr,
    cut: Arc<AtomicBool>,
    relays: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accepting: JoinHandle<()>,
}

impl Outage {
    async fn in_front_of(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let relays: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accepting = tokio::spawn({
            let (upstream, cut, relays) = (upstream.to_owned(), cut.clone(), relays.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        continue;
                    }
                    let upstream = upstream.clone();
                    let relay = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    relays.lock().await.push(relay);
                }
            }
        });
        Self {
            address,
            cut,
            relays,
            accepting,
        }
    }

    /// The database goes away: open connections break, new ones are dropped.
    async fn begin(&self) {
        self.cut.store(true, Ordering::SeqCst);
        // Aborting only asks a relay to stop: each is awaited until its connection is gone.
        let relays: Vec<_> = self.relays.lock().await.drain(..).collect();
        for relay in &relays {
            relay.abort();
        }
        for relay in relays {
            let _ = relay.await;
        }
    }

    /// The database is back, at the same address.
    async fn end(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_fail_fast_while_the_database_is_unreachable() {
    let Ok(server_url) = std::env::var(crate::helpers::POSTGRES_URL_VAR) else {
        crate::helpers::skipped(crate::helpers::POSTGRES_URL_VAR, "PostgreSQL");
        return;
    };
    let upstream = server_url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("the PostgreSQL URL names host:port")
        .to_owned();
    let outage = Outage::in_front_of(&upstream).await;
    let proxied = outage.address.to_string();
    let app = TestApp::postgres_with(|config| {
        config.database.database_url = config.database.database_url.replace(&upstream, &proxied);
    })
    .await
    .expect("PostgreSQL is configured");
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in("alice").await;

    outage.begin().await;
    let started = std::time::Instant::now();
    let refused = app
        .graphql(Some(&laptop.token), "{ currentSession { id } }", json!({}))
        .await;
    let waited = started.elapsed();
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.body
    );
    assert_eq!(refused.error_code(), "UNAVAILABLE");
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    assert!(
        !refused.body.to_string().contains("sqlx"),
        "{}",
        refused.body
    );

    outage.end().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = app
            .graphql(Some(&laptop.token), "{ currentSession { id } }", json!({}))
            .await;
        if answer.status == StatusCode::OK {
            break;
        }
        assert_eq!(answer.error_code(), "UNAVAILABLE");
        assert!(std::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Ready again once LISTEN is back too.
    loop {
        let readiness = app.http.get(app.url("/readyz")).send().await.unwrap();
        if readiness.status() == StatusCode::OK {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A revoke right after is honoured.
    app.revoke(&laptop.token, &phone.session_id).await;
    app.assert_session_ended(&phone.token).await;
}

#[tokio::test]
async fn an_instance_whose_database_answers_is_ready() {
    let app = TestApp::sqlite().await;
    let readiness = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(readiness.status(), StatusCode::OK);
    let readiness: serde_json::Value = readiness.json().await.unwrap();
    assert_eq!(readiness, json!({ "status": "ready" }));
}

/// While Redis is unreachable, an instance says so on `/readyz`, still serves (rate limits
/// fall back to its own buckets), and still refuses an ended session, since validity is
/// checked in the database. Once Redis is back, what was committed meanwhile reaches the
/// subscribers of every instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_unreachable_revocation_holds_and_events_follow_later() {
    use crate::subscriptions::Subscriber;

    let redis = Outage::in_front_of("127.0.0.1:6379").await;
    let Some(a) = TestApp::postgres_on_redis_with(|config| {
        config.redis.redis_url = Some(format!("redis://{}", redis.address));
    })
    .await
    else {
        return;
    };
    let b = a.second_instance().await;
    let laptop = a.sign_in("alice").await;
    let phone = b.sign_in("alice").await;
    let mut phone_feed = Subscriber::authenticated(&b, &phone.token).await;
    phone_feed
        .subscribe("bye", "subscription { signedOut { reason } }")
        .await;
    phone_feed.read_up_to_here().await;

    redis.begin().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let readiness = b.http.get(b.url("/readyz")).send().await.unwrap();
        if readiness.status() == StatusCode::SERVICE_UNAVAILABLE {
            let body: serde_json::Value = readiness.json().await.unwrap();
            assert_eq!(
                body["reasons"],
                json!(["the event transport is disconnected"]),
                "{body}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "/readyz never said");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    a.revoke(&laptop.token, &phone.session_id).await;
    b.assert_session_ended(&phone.token).await;

    redis.end().await;
    let signed_out = phone_feed.next().await;
    assert_eq!(
        signed_out["payload"]["data"]["signedOut"]["reason"], "REVOKED",
        "{signed_out}"
    );
}

/// A database whose schema is behind the running version (restored from an old backup,
/// say) is not ready: the queries of this version would fail on it.
#[tokio::test]
async fn an_instance_whose_schema_is_behind_is_not_ready() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::sqlite().await;
    app.db
        .execute_unprepared(
            "DELETE FROM seaql_migrations WHERE version = (SELECT MAX(version) FROM seaql_migrations)",
        )
        .await
        .unwrap();
    let readiness = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(readiness.status(), StatusCode::SERVICE_UNAVAILABLE);
    let readiness: serde_json::Value = readiness.json().await.unwrap();
    assert_eq!(
        readiness["reasons"],
        json!(["the database schema is behind this version: migrations are pending"])
    );
}
