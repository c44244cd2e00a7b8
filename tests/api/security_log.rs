use serde_json::{Value, json};

use crate::helpers::{SAFARI_IPHONE, TestApp};

crate::on_both_databases!(
    the_security_log_lists_what_happened_newest_first_with_who_and_where,
    the_security_log_pages_without_gaps_or_repeats,
);

const LOG: &str =
    "query($first: Int, $after: String) { securityEvents(first: $first, after: $after) {
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { kind endReason ipAddress occurredAt
        actorSession { id } device { name } session { id } } } } }";

async fn log(app: &TestApp, token: &str, first: Option<i32>, after: Option<&str>) -> Value {
    let answer = app
        .graphql(Some(token), LOG, json!({ "first": first, "after": after }))
        .await;
    answer.assert_ok();
    answer.data("securityEvents").clone()
}

fn kinds(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_security_log_lists_what_happened_newest_first_with_who_and_where(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    app.advance(1);
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    app.advance(1);
    app.graphql(
        Some(&laptop.token),
        "mutation($id: ID!) { renameDevice(id: $id, name: \"Old phone\") { id } }",
        json!({ "id": phone.device_id }),
    )
    .await
    .assert_ok();
    app.advance(1);
    app.revoke(&laptop.token, &phone.session_id).await;
    let bob = app.sign_in("bob").await;

    let page = log(&app, &laptop.token, None, None).await;
    assert_eq!(
        kinds(&page),
        [
            "SESSION_ENDED",
            "DEVICE_RENAMED",
            "NEW_SIGN_IN",
            "SESSION_STARTED",
            "DEVICE_ADDED",
            "SESSION_STARTED",
            "DEVICE_ADDED"
        ]
    );
    let revoked = &page["edges"][0]["node"];
    assert_eq!(revoked["endReason"], "REVOKED");
    assert_eq!(revoked["actorSession"]["id"], laptop.session_id.as_str());
    assert_eq!(revoked["session"]["id"], phone.session_id.as_str());
    assert_eq!(revoked["device"]["name"], "Old phone");
    assert_eq!(revoked["ipAddress"], "127.0.0.1");
    assert_eq!(revoked["occurredAt"], "2026-11-23T12:03:00Z");
    // A sign-in is made by no session.
    assert_eq!(page["edges"][3]["node"]["actorSession"], Value::Null);
    assert_eq!(page["pageInfo"]["hasNextPage"], false);

    // Bob sees only his own.
    assert_eq!(
        kinds(&log(&app, &bob.token, None, None).await),
        ["SESSION_STARTED", "DEVICE_ADDED"]
    );

    for (first, after) in [(Some(0), None), (Some(101), None), (None, Some("garbage"))] {
        let refused = app
            .graphql(
                Some(&laptop.token),
                LOG,
                json!({ "first": first, "after": after }),
            )
            .await;
        assert_eq!(
            refused.error_code(),
            "BAD_USER_INPUT",
            "{first:?} {after:?}"
        );
    }
}

async fn the_security_log_pages_without_gaps_or_repeats(app: TestApp) {
    let alice = app.sign_in("alice").await;
    // Several events in the same instant: order must still be total.
    for name in ["one", "two", "three", "four", "five"] {
        app.graphql(
            Some(&alice.token),
            "mutation($id: ID!, $name: String!) { renameDevice(id: $id, name: $name) { id } }",
            json!({ "id": alice.device_id, "name": name }),
        )
        .await
        .assert_ok();
    }
    let everything = log(&app, &alice.token, Some(100), None).await;
    let all: Vec<Value> = everything["edges"].as_array().unwrap().clone();
    assert_eq!(all.len(), 7);

    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = log(&app, &alice.token, Some(2), after.as_deref()).await;
        paged.extend(page["edges"].as_array().unwrap().iter().cloned());
        assert_eq!(page["pageInfo"]["hasPreviousPage"], after.is_some());
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(page["pageInfo"]["endCursor"].as_str().unwrap().to_owned());
    }
    assert_eq!(paged, all);
}

#[tokio::test]
async fn new_security_events_are_pushed_live() {
    let app = TestApp::sqlite().await;
    let laptop = app.sign_in("alice").await;
    let mut feed = crate::subscriptions::Subscriber::authenticated(&app, &laptop.token).await;
    feed.subscribe(
        "log",
        "subscription { securityEvent { kind device { name } actorSession { id } } }",
    )
    .await;
    crate::subscriptions::wait_for_subscribers(&app, 2).await;
    app.graphql(
        Some(&laptop.token),
        "mutation($id: ID!) { trustDevice(id: $id) { id } }",
        json!({ "id": laptop.device_id }),
    )
    .await
    .assert_ok();
    let pushed = feed.next().await;
    assert_eq!(
        pushed["payload"]["data"]["securityEvent"],
        json!({ "kind": "DEVICE_TRUSTED", "device": { "name": "Chrome on macOS" },
                "actorSession": { "id": laptop.session_id } })
    );
}
