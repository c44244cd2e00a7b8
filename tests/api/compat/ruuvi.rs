//! Ruuvi Cloud's session API: the seed's schemas, integer ids, and deleting sessions.

use reqwest::{Method, StatusCode};

use super::{replay, rest};
use crate::helpers::{SAFARI_IPHONE, TestApp};

const PREFIX: &str = "/compat/ruuvi";

crate::on_both_databases!(
    configured crate::compat::serve_all;
    the_seeds_examples_replay,
    sessions_are_listed_most_recent_access_first_with_stable_integer_ids,
    bad_session_ids_are_refused_in_ruuvis_words,
);

async fn sessions(app: &TestApp, token: &str) -> Vec<serde_json::Value> {
    let listed = rest(
        app,
        Method::GET,
        &format!("{PREFIX}/sessions"),
        Some(token),
        None,
    )
    .await
    .expect(StatusCode::OK);
    listed.body["data"]["sessions"].as_array().unwrap().clone()
}

async fn the_seeds_examples_replay(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let listed = sessions(&app, &laptop.token).await;
    let phone_id = listed.iter().find(|s| s["current"] == false).unwrap()["id"].to_string();
    replay(&app, "ruuvi", PREFIX, &laptop.token, |path| {
        path.replace("{session}", &phone_id)
            .replace("{missing}", "12345")
    })
    .await;
    app.assert_session_ended(&phone.token).await;
    // DELETE /sessions ended the caller too, as Ruuvi's seed says it does.
    app.assert_session_ended(&laptop.token).await;
}

async fn sessions_are_listed_most_recent_access_first_with_stable_integer_ids(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    app.advance(1);
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let first = sessions(&app, &laptop.token).await;
    assert_eq!(first[0]["current"], false, "the phone signed in last");
    app.advance(1);
    app.heartbeat(&laptop.token).await;
    let second = sessions(&app, &laptop.token).await;
    assert_eq!(second[0]["current"], true, "the laptop was used last");
    assert_eq!(second[0]["lastAccessed"], app.now());
    assert!(second[0]["createdAt"].as_i64().unwrap() < app.now());
    // The same session keeps its id from one listing to the next, and from each side.
    assert_eq!(first[1]["id"], second[0]["id"]);
    let from_phone = sessions(&app, &phone.token).await;
    let mut ids: Vec<_> = from_phone
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    let mut ours: Vec<_> = second.iter().map(|s| s["id"].as_i64().unwrap()).collect();
    ours.sort_unstable();
    assert_eq!(ids, ours);
    assert!(ids.iter().all(|id| *id >= 0 && *id < 1 << 53));
}

async fn bad_session_ids_are_refused_in_ruuvis_words(app: TestApp) {
    let laptop = app.sign_in("alice").await;
    // Not an integer, past an int64, or no session of the caller's: none names a session.
    for id in ["abc", "9223372036854775808", "1"] {
        let missing = rest(
            &app,
            Method::DELETE,
            &format!("{PREFIX}/sessions/{id}"),
            Some(&laptop.token),
            None,
        )
        .await
        .expect(StatusCode::NOT_FOUND);
        assert_eq!(missing.body["code"], "ER_SESSION_NOT_FOUND", "{id}");
        assert_eq!(missing.body["sub_code"], "NOT_FOUND");
        assert_eq!(missing.body["error"], "Session not found");
    }
    app.assert_session_active(&laptop.token).await;
}
