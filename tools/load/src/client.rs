//! The measured requests' client: one HTTP/1.1 connection per worker, requests built from
//! bytes prepared before the run, answers checked without building a JSON tree. It does as
//! little per request as `wrk` does, so the figures are the server's and not this tool's
//! (docs/performance.md compares the two).

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request, StatusCode,
    client::conn::http1::SendRequest,
    header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue, USER_AGENT},
};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, de::IgnoredAny};
use tokio::net::TcpStream;

/// Drives a [`Connection`]'s socket; the worker polls it beside its requests, in its own
/// task, so a request and its answer need no hand-off between tasks.
pub type Driver = hyper::client::conn::http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// One kept-alive connection to the server.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

/// A prepared request (`POST /graphql`, or a compatibility REST call): its method, path,
/// body and headers, ready to send any number of times.
#[derive(Clone)]
pub struct Prepared {
    pub method: Method,
    pub path: &'static str,
    pub body: Bytes,
    pub authorization: Option<HeaderValue>,
    pub user_agent: HeaderValue,
}

impl Connection {
    /// Connects to `authority` (`host:port`).
    pub async fn open(authority: &str) -> anyhow::Result<(Self, Driver)> {
        let stream = TcpStream::connect(authority)
            .await
            .with_context(|| format!("cannot connect to {authority}"))?;
        stream.set_nodelay(true)?;
        let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        let host = HeaderValue::from_str(authority)?;
        Ok((Self { sender, host }, driver))
    }

    /// Sends `request` and returns the answer's body; an answer is an error when it is
    /// not a 200 or its body has `errors` (or is not JSON at all).
    pub async fn send(&mut self, request: &Prepared) -> Result<Bytes, String> {
        let mut builder = Request::builder()
            .method(request.method.clone())
            .uri(request.path)
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, request.user_agent.clone());
        if let Some(authorization) = &request.authorization {
            builder = builder.header(AUTHORIZATION, authorization.clone());
        }
        let request = builder
            .body(Full::new(request.body.clone()))
            .map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let has_errors = serde_json::from_slice::<Reply>(&body)
            .map(|reply| reply.errors.is_some())
            .unwrap_or(true);
        if status != StatusCode::OK || has_errors {
            return Err(format!("{status} {}", String::from_utf8_lossy(&body)));
        }
        Ok(body)
    }
}

/// All the measured loop needs to know of an answer.
#[derive(Deserialize)]
struct Reply {
    errors: Option<IgnoredAny>,
}
