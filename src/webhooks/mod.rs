//! Sending account events to the operators' webhook endpoints: the outbound adapter of the
//! service's webhook outbox. Each endpoint has a sender task of its own, so a slow or dead
//! endpoint only ever delays its own deliveries, and requests never wait on any of them
//! (they only write the outbox rows).
//!
//! Requests are signed as Standard Webhooks specifies, so its verifier libraries work:
//! `webhook-id` (the account event's id, the same on every retry, for idempotency),
//! `webhook-timestamp` (seconds), and `webhook-signature`: `v1,` and the base64 of the
//! HMAC-SHA256 of `id.timestamp.body` under the secret's bytes.

use std::{sync::Arc, time::Duration};

use anyhow::{Context as _, bail};
use base64::{Engine, engine::general_purpose::STANDARD};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use crate::{
    config::WebhookConfig,
    service::{Attempt, DueDelivery, Services, WebhookEndpoint, webhook_payload},
};

/// Deliveries one claim takes; they are attempted concurrently, a few at a time.
const CLAIM: u64 = 32;
/// Attempts in flight at once for one endpoint.
const IN_FLIGHT: usize = 4;
/// The shortest secret Standard Webhooks allows: 24 bytes.
const MIN_SECRET_BYTES: usize = 24;

/// Signs webhook requests with the configured secret.
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    /// The signer for a secret written as Standard Webhooks does: `whsec_` and base64.
    pub fn from_secret(secret: &str) -> anyhow::Result<Self> {
        let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
        let key = STANDARD
            .decode(encoded)
            .context("the webhook secret is not base64 (after its `whsec_` prefix)")?;
        if key.len() < MIN_SECRET_BYTES {
            bail!("the webhook secret must hold at least {MIN_SECRET_BYTES} bytes");
        }
        Ok(Self { key })
    }

    /// The `webhook-signature` value for `body` sent as message `id` at `timestamp`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// What every endpoint's sender shares.
struct Sending {
    services: Services,
    client: reqwest::Client,
    signer: Signer,
    timeout: Duration,
    poll: Duration,
}

/// The senders the configuration asks for, checked and ready to start.
pub struct WebhookSenders {
    client: reqwest::Client,
    signer: Signer,
    timeout: Duration,
    poll: Duration,
}

/// The configured endpoints, each an http(s) URL, with the names they go by; two that
/// differ only in their credentials would share a name, and are refused.
pub fn endpoints(config: &WebhookConfig) -> anyhow::Result<Vec<WebhookEndpoint>> {
    let mut endpoints: Vec<WebhookEndpoint> = Vec::new();
    for url in &config.webhook_urls {
        let parsed = reqwest::Url::parse(url)
            .ok()
            .filter(|parsed| matches!(parsed.scheme(), "http" | "https"))
            .with_context(|| {
                format!(
                    "the webhook endpoint `{}` is not an http or https URL",
                    without_credentials_text(url)
                )
            })?;
        let name = without_credentials(parsed);
        if endpoints.iter().any(|endpoint| endpoint.name == name) {
            bail!("two webhook endpoints are both `{name}`: name each endpoint once");
        }
        endpoints.push(WebhookEndpoint {
            url: url.clone(),
            name,
        });
    }
    Ok(endpoints)
}

/// `url` without what may be a secret in it: the user and password become `***`, each
/// query value `***`, and the fragment goes.
fn without_credentials(mut url: reqwest::Url) -> String {
    const HIDDEN: &str = "***";
    if !url.username().is_empty() {
        let _ = url.set_username(HIDDEN);
    }
    if url.password().is_some() {
        let _ = url.set_password(Some(HIDDEN));
    }
    if url.query().is_some() {
        let keys: Vec<String> = url.query_pairs().map(|(key, _)| key.into_owned()).collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(keys.iter().map(|key| (key.as_str(), HIDDEN)));
    }
    url.set_fragment(None);
    url.to_string()
}

/// Text that is not a URL, shown in an error without anything that may be a secret: what
/// follows its last `@`, up to any query or fragment.
fn without_credentials_text(text: &str) -> String {
    let shown = text.rsplit_once('@').map_or(text, |(_, host)| host);
    let shown = shown.split(['?', '#']).next().unwrap_or_default();
    shown.chars().take(100).collect()
}

/// Prepares the senders of `config`'s endpoints (checked by [`endpoints`]), with a secret
/// to sign with; `None` when no endpoint is configured.
pub fn prepare(config: &WebhookConfig) -> anyhow::Result<Option<WebhookSenders>> {
    if config.webhook_urls.is_empty() {
        return Ok(None);
    }
    let secret = config
        .webhook_secret
        .as_deref()
        .context("webhook endpoints need SESSIONHUB_WEBHOOK_SECRET to sign with")?;
    let client = reqwest::Client::builder()
        .user_agent(concat!("Sessionhub-Webhooks/", env!("CARGO_PKG_VERSION")))
        // Redirects are not followed: the operator names the endpoint exactly.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the webhook HTTP client")?;
    Ok(Some(WebhookSenders {
        client,
        signer: Signer::from_secret(secret)?,
        timeout: config.webhook_timeout,
        poll: config.webhook_poll_interval,
    }))
}

impl WebhookSenders {
    /// Starts one sender per endpoint of `services`, until `shutdown`.
    pub fn spawn(self, services: &Services, shutdown: &CancellationToken) {
        let sending = Arc::new(Sending {
            services: services.clone(),
            client: self.client,
            signer: self.signer,
            timeout: self.timeout,
            poll: self.poll,
        });
        for endpoint in services.webhook_endpoints() {
            tokio::spawn(send_to(sending.clone(), endpoint.clone(), shutdown.clone()));
        }
    }
}

/// One endpoint's sender: every poll, everything due, in claims, until none is left.
async fn send_to(sending: Arc<Sending>, target: WebhookEndpoint, shutdown: CancellationToken) {
    let lease = claim_lease(sending.timeout);
    let endpoint = target.name.as_str();
    if let Err(error) = sending.services.name_webhook_deliveries(&target).await {
        tracing::warn!(%error, endpoint, "cannot rename deliveries written under the full URL");
    }
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(sending.poll) => {}
        }
        loop {
            let due = match sending
                .services
                .claim_webhook_deliveries(endpoint, CLAIM, lease)
                .await
            {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, endpoint, "cannot claim webhook deliveries");
                    break;
                }
            };
            let claimed = due.len() as u64;
            futures_util::stream::iter(due)
                .for_each_concurrent(IN_FLIGHT, |due| {
                    let (sending, url) = (&sending, target.url.as_str());
                    async move {
                        let attempt = sending.attempt(url, &due).await;
                        if let Attempt::Failed { status, error } = &attempt {
                            tracing::info!(
                                endpoint, event = %due.delivery.event_id, status, error,
                                attempts = due.delivery.attempts, "webhook attempt failed"
                            );
                        }
                        match sending
                            .services
                            .record_webhook_attempt(&due.delivery, attempt)
                            .await
                        {
                            Ok(true) => {}
                            Ok(false) => tracing::info!(
                                endpoint, event = %due.delivery.event_id,
                                "a webhook attempt outlived its claim; another instance's counts"
                            ),
                            // Its lease runs out and it is attempted again: at least once.
                            Err(error) => tracing::warn!(%error, "cannot record a webhook attempt"),
                        }
                    }
                })
                .await;
            if claimed < CLAIM || shutdown.is_cancelled() {
                break;
            }
        }
    }
}

/// How long a claim keeps its deliveries from every other sender: long enough for the
/// whole claim to be attempted, [`IN_FLIGHT`] at a time, each within `timeout`, and one
/// `timeout` more for recording. Shorter, another instance would claim deliveries this
/// one has yet to attempt, and send them twice; should this instance die, they come due
/// again when it runs out.
fn claim_lease(timeout: Duration) -> chrono::Duration {
    let rounds = CLAIM.div_ceil(IN_FLIGHT as u64) as u32 + 1;
    chrono::Duration::from_std(timeout * rounds).unwrap_or(chrono::Duration::MAX)
}

impl Sending {
    /// One signed POST of `due`'s event to `url`.
    async fn attempt(&self, url: &str, due: &DueDelivery) -> Attempt {
        let Some(event) = &due.event else {
            return Attempt::Failed {
                status: None,
                error: "the event is no longer kept".into(),
            };
        };
        let body = webhook_payload(event).to_string().into_bytes();
        let id = event.id.to_string();
        let timestamp = self.services.now().timestamp();
        let signature = self.signer.sign(&id, timestamp, &body);
        let sent = self
            .client
            .post(url)
            .timeout(self.timeout)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => Attempt::Delivered {
                status: response.status().as_u16(),
            },
            Ok(response) => Attempt::Failed {
                status: Some(response.status().as_u16()),
                error: format!("the endpoint answered {}", response.status()),
            },
            Err(error) if error.is_timeout() => Attempt::Failed {
                status: None,
                error: format!("no answer within {:?}", self.timeout),
            },
            Err(error) => Attempt::Failed {
                status: None,
                error: format!("cannot reach the endpoint: {}", error.without_url()),
            },
        }
    }
}
