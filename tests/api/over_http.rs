//! GraphQL over HTTP: the answer's media type follows `Accept`, and with
//! `application/graphql-response+json` the status says whether the request ran.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

crate::on_both_databases!(
    request_errors_are_4xx_without_data_for_graphql_response_json,
    answers_that_ran_are_200_for_graphql_response_json,
    json_stays_the_default_and_leaves_data_out_of_request_errors,
    a_client_that_accepts_neither_type_gets_406,
    a_request_without_a_query_is_400,
);

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// Posts `query` with `Accept: accept` and the token; the status, content type and body.
async fn post(
    app: &TestApp,
    accept: Option<&str>,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> (StatusCode, String, Value) {
    let mut request = app
        .http
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, content_type, response.json().await.unwrap())
}

async fn request_errors_are_4xx_without_data_for_graphql_response_json(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let token = Some(alice.token.as_str());
    let cases = [
        ("does not parse", "{ sessions { id ", json!({})),
        ("does not validate", "{ passwords }", json!({})),
        (
            "a variable does not coerce",
            "query ($id: ID!) { device(id: $id) { id } }",
            json!({ "id": { "not": "an id" } }),
        ),
    ];
    for (case, query, variables) in cases {
        let (status, content_type, body) =
            post(&app, Some(GRAPHQL_RESPONSE), token, query, variables).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
        assert_eq!(
            content_type,
            format!("{GRAPHQL_RESPONSE}; charset=utf-8"),
            "{case}"
        );
        assert!(body.get("data").is_none(), "{case}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{case}: {body}"
        );
    }
    // A refusal before execution is sent in the negotiated type too.
    let (status, content_type, body) = post(
        &app,
        Some(GRAPHQL_RESPONSE),
        Some("not-a-token"),
        "{ sessions { id } }",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(content_type.starts_with(GRAPHQL_RESPONSE));
    assert!(body.get("data").is_none(), "{body}");
}

async fn answers_that_ran_are_200_for_graphql_response_json(app: TestApp) {
    let alice = app.sign_in("alice").await;
    let (status, content_type, body) = post(
        &app,
        Some(GRAPHQL_RESPONSE),
        Some(&alice.token),
        "{ sessions { id isCurrent } }",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(content_type.starts_with(GRAPHQL_RESPONSE));
    assert_eq!(body["data"]["sessions"][0]["isCurrent"], true);
    // A field that fails ran: its answer has `data` (null here) and is a 200, where
    // `application/json` answers the same error 401.
    let (status, _, body) = post(
        &app,
        Some(GRAPHQL_RESPONSE),
        None,
        "{ sessions { id } }",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("data").is_some(), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let (status, _, _) = post(&app, None, None, "{ sessions { id } }", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn json_stays_the_default_and_leaves_data_out_of_request_errors(app: TestApp) {
    let alice = app.sign_in("alice").await;
    for accept in [None, Some("*/*"), Some("application/json")] {
        let (status, content_type, body) =
            post(&app, accept, Some(&alice.token), "{ passwords }", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{accept:?}: {body}");
        assert_eq!(
            content_type, "application/json; charset=utf-8",
            "{accept:?}"
        );
        assert!(body.get("data").is_none(), "{accept:?}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );
    }
}

async fn a_client_that_accepts_neither_type_gets_406(app: TestApp) {
    let (status, _, body) = post(&app, Some("text/html"), None, "{ __typename }", json!({})).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_ACCEPTABLE");
}

async fn a_request_without_a_query_is_400(app: TestApp) {
    for accept in ["application/json", GRAPHQL_RESPONSE] {
        let response = app
            .http
            .post(app.url("/graphql"))
            .header("Accept", accept)
            .json(&json!({ "qeury": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{accept}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    }
    let response = app.http.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
