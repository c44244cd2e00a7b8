//! Webhooks: account events reach an operator's endpoint as signed JSON, at least once,
//! retried with backoff by whichever instance is running, and given up after a bound.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use sessionhub::service::Attempt;

use crate::helpers::{SAFARI_IPHONE, TestApp};

/// 32 bytes, as Standard Webhooks writes a secret.
const SECRET: &str = "whsec_c2Vzc2lvbmh1Yi13ZWJob29rLXRlc3Qtc2VjcmV0ISE=";

crate::on_both_databases!(
    events_reach_the_endpoint_signed_as_standard_webhooks_say,
    a_failing_endpoint_is_retried_and_a_restart_loses_nothing,
    a_delivery_is_given_up_after_its_attempts,
    two_instances_deliver_each_event_once_however_slow_the_endpoint,
    only_the_latest_claim_records_a_failed_attempt,
    an_endpoints_credentials_are_used_but_never_stored_or_shown,
);

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Whether the signature is the HMAC-SHA256 of `id.timestamp.body` under the secret,
    /// computed here as any Standard Webhooks verifier would.
    fn is_signed(&self) -> bool {
        let key = STANDARD
            .decode(SECRET.trim_start_matches("whsec_"))
            .unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("{}.{}.", self.id, self.timestamp).as_bytes());
        mac.update(&self.body);
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        self.signature == expected
    }
}

/// A webhook endpoint that records what it gets and fails the first `failures` requests;
/// while held, it records each request and answers none until released.
#[derive(Clone)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    failures_left: Arc<AtomicUsize>,
    address: SocketAddr,
    answering: tokio::sync::watch::Sender<bool>,
}

impl Receiver {
    async fn start(failures: usize) -> Self {
        Self::started(failures, true).await
    }

    /// A receiver that holds every request until [`Receiver::release`].
    async fn held() -> Self {
        Self::started(0, false).await
    }

    fn release(&self) {
        self.answering.send_replace(true);
    }

    async fn started(failures: usize, answering: bool) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            received: Arc::default(),
            failures_left: Arc::new(AtomicUsize::new(failures)),
            address: listener.local_addr().unwrap(),
            answering: tokio::sync::watch::Sender::new(answering),
        };
        let app = Router::new()
            .route("/hook", post(record))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.address)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `count` requests have come in; gives up after ten seconds.
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {count} webhook requests arrived",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn record(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers[name].to_str().unwrap().to_owned();
    receiver.received.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: body.to_vec(),
    });
    let mut answering = receiver.answering.subscribe();
    answering.wait_for(|answering| *answering).await.unwrap();
    let failing = receiver
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    if failing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::NO_CONTENT
    }
}

/// An instance on `app`'s database and clock that delivers to `endpoints`.
async fn delivering(app: &TestApp, endpoints: Vec<String>, max_attempts: u32) -> TestApp {
    app.second_instance_with(|config| {
        config.webhooks.webhook_urls = endpoints;
        config.webhooks.webhook_secret = Some(SECRET.into());
        config.webhooks.webhook_max_attempts = max_attempts;
        config.webhooks.webhook_poll_interval = Duration::from_millis(20);
        config.webhooks.webhook_timeout = Duration::from_secs(2);
    })
    .await
}

/// Waits until `rows` (a WHERE clause on the delivery log) holds `count` deliveries.
async fn wait_for_deliveries(app: &TestApp, rows: &str, count: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let query = format!("webhook_deliveries WHERE {rows}");
    while app.count(&query).await != count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the delivery log never had {count} rows where {rows}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn events_reach_the_endpoint_signed_as_standard_webhooks_say(app: TestApp) {
    let receiver = Receiver::start(0).await;
    // Nothing listens on port 1: that endpoint's failures must not hold the other up.
    let dead = "http://127.0.0.1:1/hook".to_owned();
    let hooked = delivering(&app, vec![receiver.url(), dead.clone()], 12).await;
    let laptop = hooked.sign_in("alice").await;
    let phone = hooked.sign_in_with("alice", SAFARI_IPHONE, None).await;
    hooked.revoke(&laptop.token, &phone.session_id).await;

    let mut received = receiver.wait_for(4).await;
    // Attempts run a few at a time, so they may arrive in any order; `position` orders
    // an account's events.
    received.sort_by_key(|request| request.json()["data"]["position"].as_i64());
    let types: Vec<Value> = received.iter().map(|r| r.json()["type"].clone()).collect();
    assert_eq!(
        types,
        [
            "session.started",
            "session.started",
            "sign_in.new",
            "session.ended"
        ],
        "device.added is not delivered"
    );
    for request in &received {
        assert!(request.is_signed(), "a bad signature: {request:?}");
        assert_eq!(request.json()["data"]["eventId"], request.id.as_str());
        assert_eq!(request.timestamp, hooked.now().to_string());
    }
    let ended = received[3].json();
    assert_eq!(
        ended["data"],
        json!({
            "eventId": received[3].id, "userId": "alice", "position": 6, "kind": "SESSION_ENDED",
            "sessionId": phone.session_id, "deviceId": phone.device_id, "endReason": "REVOKED",
            "actor": { "sessionId": laptop.session_id, "administrator": false },
            "ipAddress": "127.0.0.1", "location": null, "detail": { "reason": "REVOKED" },
            "occurredAt": "2026-11-23T12:00:00Z",
        })
    );
    assert_eq!(ended["timestamp"], "2026-11-23T12:00:00Z");
    wait_for_deliveries(&hooked, "delivered_at IS NOT NULL", 4).await;
    // The dead endpoint's four wait for their retry, each with why it failed.
    wait_for_deliveries(
        &hooked,
        &format!("endpoint = '{dead}' AND attempts = 1 AND last_error LIKE 'cannot reach%'"),
        4,
    )
    .await;
}

async fn a_failing_endpoint_is_retried_and_a_restart_loses_nothing(app: TestApp) {
    let receiver = Receiver::start(2).await;
    let first = delivering(&app, vec![receiver.url()], 12).await;
    first.sign_in("alice").await;
    receiver.wait_for(1).await;
    wait_for_deliveries(&first, "attempts = 1 AND last_status = 503", 1).await;
    // The instance stops while the delivery waits for its retry (30 s after the failure).
    first.stop_and_wait().await;
    let second = delivering(&app, vec![receiver.url()], 12).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.received().len(), 1, "retried before its time");
    second.advance(1);
    receiver.wait_for(2).await;
    wait_for_deliveries(&second, "attempts = 2 AND last_status = 503", 1).await;
    second.advance(1);
    let received = receiver.wait_for(3).await;
    wait_for_deliveries(&second, "attempts = 3 AND delivered_at IS NOT NULL", 1).await;
    // The same event each time, under the same id, so the endpoint can drop repeats.
    assert!(
        received
            .iter()
            .all(|r| r.id == received[0].id && r.body == received[0].body)
    );
    assert_eq!(receiver.received().len(), 3);
}

async fn a_delivery_is_given_up_after_its_attempts(app: TestApp) {
    let receiver = Receiver::start(usize::MAX).await;
    let hooked = delivering(&app, vec![receiver.url()], 2).await;
    hooked.sign_in("alice").await;
    receiver.wait_for(1).await;
    // Its failure recorded (not only its claim), so the retry is due from then on.
    wait_for_deliveries(&hooked, "attempts = 1 AND last_status = 503", 1).await;
    hooked.advance(1);
    receiver.wait_for(2).await;
    wait_for_deliveries(
        &hooked,
        "attempts = 2 AND gave_up_at IS NOT NULL AND next_attempt_at IS NULL",
        1,
    )
    .await;
    hooked.advance(60);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.received().len(), 2, "attempted after giving up");
}

async fn two_instances_deliver_each_event_once_however_slow_the_endpoint(app: TestApp) {
    let receiver = Receiver::held().await;
    // Attempts may take 10 s; each instance looks for due deliveries every 20 ms.
    let sender = |poll: Duration| {
        let url = receiver.url();
        move |config: &mut sessionhub::config::Config| {
            config.webhooks.webhook_urls = vec![url];
            config.webhooks.webhook_secret = Some(SECRET.into());
            config.webhooks.webhook_poll_interval = poll;
            config.webhooks.webhook_timeout = Duration::from_secs(10);
        }
    };
    // Eight first sign-ins, through an instance that queues and does not send: eight
    // `session.started` deliveries, all due before either sender looks.
    let queueing = app
        .second_instance_with(sender(Duration::from_secs(24 * 3600)))
        .await;
    for user in 0..8 {
        queueing.sign_in(&format!("user{user}")).await;
    }
    let first = app
        .second_instance_with(sender(Duration::from_millis(20)))
        .await;
    let second = app
        .second_instance_with(sender(Duration::from_millis(20)))
        .await;
    // One instance claimed them all; its first attempts wait at the endpoint.
    receiver.wait_for(4).await;
    // They take three attempt timeouts: longer than one attempt, not than the claim.
    app.clock.advance(chrono::Duration::seconds(30));
    // The other instance looks for due deliveries a few times meanwhile (the busy one
    // runs no statement while its attempts wait).
    let polled = first.statements.get() + second.statements.get() + 6;
    while first.statements.get() + second.statements.get() < polled {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    receiver.release();
    wait_for_deliveries(&app, "delivered_at IS NOT NULL AND attempts = 1", 8).await;
    let mut ids: Vec<String> = receiver.received().into_iter().map(|r| r.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8);
    assert_eq!(receiver.received().len(), 8, "an event was sent twice");
}

async fn only_the_latest_claim_records_a_failed_attempt(app: TestApp) {
    let url = "http://127.0.0.1:1/hook".to_owned();
    let hooked = app
        .second_instance_with(|config| {
            config.webhooks.webhook_urls = vec![url.clone()];
            config.webhooks.webhook_secret = Some(SECRET.into());
            // This test claims by hand.
            config.webhooks.webhook_poll_interval = Duration::from_secs(24 * 3600);
        })
        .await;
    hooked.sign_in("alice").await;
    let lease = chrono::Duration::seconds(30);
    let claim = |services: &sessionhub::service::Services| {
        let (services, url) = (services.clone(), url.clone());
        async move {
            let mut claimed = services
                .claim_webhook_deliveries(&url, 10, lease)
                .await
                .unwrap();
            assert_eq!(claimed.len(), 1);
            claimed.remove(0).delivery
        }
    };
    let failed = || Attempt::Failed {
        status: Some(503),
        error: "the endpoint answered 503".into(),
    };
    let stale = claim(&hooked.services).await;
    // The claim's lease runs out before its attempt ends; another claim takes over.
    hooked.advance(1);
    let current = claim(&hooked.services).await;
    assert_eq!((stale.attempts, current.attempts), (1, 2));
    let services = &hooked.services;
    assert!(
        !services
            .record_webhook_attempt(&stale, failed())
            .await
            .unwrap()
    );
    wait_for_deliveries(&app, "attempts = 2 AND last_status IS NULL", 1).await;
    assert!(
        services
            .record_webhook_attempt(&current, failed())
            .await
            .unwrap()
    );
    wait_for_deliveries(&app, "attempts = 2 AND last_status = 503", 1).await;
    // A success is true whoever claimed last, and is recorded once.
    let delivered = || Attempt::Delivered { status: 204 };
    assert!(
        services
            .record_webhook_attempt(&stale, delivered())
            .await
            .unwrap()
    );
    assert!(
        !services
            .record_webhook_attempt(&current, failed())
            .await
            .unwrap()
    );
    wait_for_deliveries(&app, "attempts = 2 AND delivered_at IS NOT NULL", 1).await;
}

async fn an_endpoints_credentials_are_used_but_never_stored_or_shown(app: TestApp) {
    let receiver = Receiver::start(0).await;
    let secret_url =
        receiver.url().replace("http://", "http://hooks:pa55word@") + "?token=s3cret&team=blue";
    let named = receiver.url().replace("http://", "http://***:***@") + "?token=***&team=***";
    let endpoint = |poll: Duration| {
        let url = secret_url.clone();
        move |config: &mut sessionhub::config::Config| {
            config.webhooks.webhook_urls = vec![url];
            config.webhooks.webhook_secret = Some(SECRET.into());
            config.webhooks.webhook_poll_interval = poll;
            config.keys.admin_keys = vec![crate::admin::ADMIN_KEY.into()];
        }
    };
    // One delivery written as an older version did, under the full URL: it is still
    // sent, and renamed.
    let queueing = app
        .second_instance_with(endpoint(Duration::from_secs(24 * 3600)))
        .await;
    queueing.sign_in("alice").await;
    sea_orm::ConnectionTrait::execute_unprepared(
        &app.db,
        &format!("UPDATE webhook_deliveries SET endpoint = '{secret_url}'"),
    )
    .await
    .unwrap();
    let sending = app
        .second_instance_with(endpoint(Duration::from_millis(20)))
        .await;
    sending.sign_in("bob").await;
    receiver.wait_for(2).await;
    wait_for_deliveries(&app, "delivered_at IS NOT NULL", 2).await;
    wait_for_deliveries(&app, &format!("endpoint = '{named}'"), 2).await;
    let listed = sending
        .http
        .post(sending.url("/admin/graphql"))
        .bearer_auth(crate::admin::ADMIN_KEY)
        .json(&json!({ "query": "{ webhookDeliveries(state: DELIVERED) { endpoint } }" }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listed.contains("***:***@"), "{listed}");
    assert!(
        !listed.contains("pa55word") && !listed.contains("s3cret"),
        "{listed}"
    );
}
