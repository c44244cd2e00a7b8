//! A GraphQL request over HTTP, as a single-page app sends one.

use reqwest::{StatusCode, header::HeaderMap};
use serde_json::Value;

/// What the server answered: its status, headers and JSON body (`null` when it is not
/// JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The first error's `extensions.code`, if any.
    pub fn error_code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }

    /// Whether the answer is a 200 without errors.
    pub fn is_ok(&self) -> bool {
        self.status == StatusCode::OK && self.body.get("errors").is_none()
    }
}

/// Posts `body` (a request or a batch) to `{base}/graphql` with `token`, if any, as a
/// bearer token, and with `user_agent`, if any.
pub async fn post(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    user_agent: Option<&str>,
    body: &Value,
) -> reqwest::Result<Answer> {
    let mut request = http.post(format!("{base}/graphql")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(user_agent) = user_agent {
        request = request.header(reqwest::header::USER_AGENT, user_agent);
    }
    let response = request.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await?;
    Ok(Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    })
}
