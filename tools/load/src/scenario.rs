//! The seeded accounts, the scenarios, and what one run of a scenario measured.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::future::Either;
use hyper::{Method, header::HeaderValue};
use serde_json::{Value, json};

use crate::{
    client::{Connection, Driver, Prepared},
    server::Target,
};

/// Browsers the seeded devices claim to be, one device each.
const USER_AGENTS: [&str; 3] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
];

const START_SESSION: &str = "mutation($input: StartSessionInput!) { startSession(input: $input) { token device { id } deviceToken } }";

/// Sessions each seeded device signs in: the first, and one more with its device token.
const SESSIONS_PER_DEVICE: usize = 2;

/// One account per connection: its user and session tokens.
pub struct Seeded {
    accounts: Vec<Account>,
}

struct Account {
    user: String,
    tokens: Vec<String>,
}

impl Seeded {
    /// `count` accounts, each with 3 devices × 2 sessions, made through the public API.
    pub async fn accounts(target: &Target, count: usize) -> anyhow::Result<Self> {
        let run = std::process::id();
        let mut accounts = Vec::with_capacity(count);
        for index in 0..count {
            let user = format!("load-{run}-{index}");
            let identity = target.identity(&user, &["pwd"]);
            let mut tokens = Vec::new();
            for user_agent in USER_AGENTS {
                let first = target
                    .graphql(
                        Some(&identity),
                        &json!({ "query": START_SESSION, "variables": { "input": {} } }),
                        user_agent,
                    )
                    .await
                    .map_err(anyhow::Error::msg)?;
                let started = &first["data"]["startSession"];
                let device_token = started["deviceToken"].as_str().map(str::to_owned);
                tokens.push(started["token"].as_str().unwrap_or_default().to_owned());
                let again = target
                    .graphql(
                        Some(&identity),
                        &json!({ "query": START_SESSION, "variables": { "input": { "deviceToken": device_token } } }),
                        user_agent,
                    )
                    .await
                    .map_err(anyhow::Error::msg)?;
                tokens.push(
                    again["data"]["startSession"]["token"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            accounts.push(Account { user, tokens });
        }
        Ok(Self { accounts })
    }
}

/// What the load tool can measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// `{ __typename }` without a token.
    TypenameAnon,
    /// `{ __typename }` with a session token: the cost of checking the session.
    Typename,
    /// `mutation { heartbeat { … } }`.
    Heartbeat,
    /// The devices page: devices with their active sessions.
    Devices,
    /// The sessions list.
    Sessions,
    /// `startSession` with an identity token (a new device each time).
    StartSession,
    /// Flashback's `GET /devices` (compatibility REST API): the devices page over REST.
    CompatDevices,
    /// Ruuvi's `GET /sessions` (compatibility REST API): the sessions list over REST.
    CompatSessions,
    /// A sign-in with a second factor on a new device, then `revokeAllSessions` from it,
    /// which ends the previous round's session: the pair counts as one request.
    RevokeAll,
}

impl Scenario {
    pub fn name(&self) -> &'static str {
        match self {
            Self::TypenameAnon => "typename-anon",
            Self::Typename => "typename",
            Self::Heartbeat => "heartbeat",
            Self::Devices => "devices",
            Self::Sessions => "sessions",
            Self::StartSession => "start-session",
            Self::CompatDevices => "compat-devices",
            Self::CompatSessions => "compat-sessions",
            Self::RevokeAll => "revoke-all",
        }
    }

    /// Where the scenario's requests go, and how.
    fn route(&self) -> (Method, &'static str) {
        match self {
            Self::CompatDevices => (Method::GET, "/compat/flashback/devices"),
            Self::CompatSessions => (Method::GET, "/compat/ruuvi/sessions"),
            _ => (Method::POST, "/graphql"),
        }
    }

    /// The GraphQL document the scenario sends; `None` for a REST scenario.
    fn query(&self) -> Option<&'static str> {
        Some(match self {
            Self::TypenameAnon | Self::Typename => "{ __typename }",
            Self::Heartbeat => "mutation { heartbeat { id lastActivityAt expiresAt } }",
            Self::Devices => {
                "{ devices { id name type isTrusted lastSeenAt sessions { id status lastActivityAt isCurrent } } }"
            }
            Self::Sessions => {
                "{ sessions { id status lastActivityAt isCurrent device { id name } } }"
            }
            Self::StartSession | Self::RevokeAll => START_SESSION,
            Self::CompatDevices | Self::CompatSessions => return None,
        })
    }

    /// Runs the scenario for `duration` with one connection per seeded account.
    pub async fn run(
        &self,
        target: &Arc<Target>,
        seeded: &Seeded,
        duration: Duration,
    ) -> anyhow::Result<Measured> {
        let deadline = Instant::now() + duration;
        let body = match (self, self.query()) {
            (_, None) => Bytes::new(),
            (Self::StartSession | Self::RevokeAll, Some(query)) => Bytes::from(serde_json::to_vec(
                &json!({ "query": query, "variables": { "input": {} } }),
            )?),
            (_, Some(query)) => Bytes::from(serde_json::to_vec(&json!({ "query": query }))?),
        };
        let mut workers = Vec::with_capacity(seeded.accounts.len());
        for account in &seeded.accounts {
            let requests = self.requests(target, account, &body)?;
            let (connection, driver) = Connection::open(target.authority()).await?;
            let sending = if *self == Self::RevokeAll {
                Either::Left(revoke_all_in_turn(connection, requests, deadline))
            } else {
                Either::Right(send_in_turn(connection, requests, deadline))
            };
            workers.push(tokio::spawn(work(driver, sending)));
        }
        let mut measured = Measured::default();
        for worker in workers {
            measured.absorb(worker.await?);
        }
        measured.elapsed = duration;
        measured.latencies_us.sort_unstable();
        Ok(measured)
    }

    /// What one connection sends in turn: each of its account's sessions from its own
    /// device's browser, or for `start-session` the account's identity from every browser.
    fn requests(
        &self,
        target: &Target,
        account: &Account,
        body: &Bytes,
    ) -> anyhow::Result<Vec<Prepared>> {
        let bearer = |token: &str| HeaderValue::from_str(&format!("Bearer {token}"));
        let prepared = |authorization, user_agent: &str| -> anyhow::Result<Prepared> {
            let (method, path) = self.route();
            Ok(Prepared {
                method,
                path,
                body: body.clone(),
                authorization,
                user_agent: HeaderValue::from_str(user_agent)?,
            })
        };
        match self {
            Self::TypenameAnon => USER_AGENTS.iter().map(|ua| prepared(None, ua)).collect(),
            Self::StartSession | Self::RevokeAll => {
                // Its own user, so the seeded accounts keep their sessions; for
                // `revoke-all`, a second factor, so the new device may end the others at once.
                let user = format!("{}-{}", account.user, self.name());
                let amr: &[&str] = match self {
                    Self::RevokeAll => &["pwd", "mfa"],
                    _ => &["pwd"],
                };
                let identity = bearer(&target.identity(&user, amr))?;
                USER_AGENTS
                    .iter()
                    .map(|ua| prepared(Some(identity.clone()), ua))
                    .collect()
            }
            _ => account
                .tokens
                .iter()
                .enumerate()
                .map(|(index, token)| {
                    prepared(
                        Some(bearer(token)?),
                        USER_AGENTS[index / SESSIONS_PER_DEVICE],
                    )
                })
                .collect(),
        }
    }
}

/// Runs `sending` while driving its connection's socket.
async fn work(driver: Driver, sending: impl Future<Output = Measured>) -> Measured {
    let driving = async {
        // A dropped connection fails the requests that follow; they count as errors.
        let _ = driver.await;
        std::future::pending().await
    };
    tokio::select! {
        measured = sending => measured,
        never = driving => never,
    }
}

/// Sends `requests` in turn on `connection` until `deadline`.
async fn send_in_turn(
    mut connection: Connection,
    requests: Vec<Prepared>,
    deadline: Instant,
) -> Measured {
    let mut measured = Measured::default();
    for request in requests.iter().cycle() {
        let started = Instant::now();
        if started >= deadline {
            break;
        }
        let answer = connection.send(request).await;
        measured.record(started, answer.map(drop));
    }
    measured
}

/// Signs in with each of `sign_ins` in turn and revokes all other sessions from the new
/// one, until `deadline`.
async fn revoke_all_in_turn(
    mut connection: Connection,
    sign_ins: Vec<Prepared>,
    deadline: Instant,
) -> Measured {
    let revoke_all =
        Bytes::from_static(br#"{"query":"mutation { revokeAllSessions { revokedCount } }"}"#);
    let mut measured = Measured::default();
    for sign_in in sign_ins.iter().cycle() {
        let started = Instant::now();
        if started >= deadline {
            break;
        }
        let answer = async {
            let started = connection.send(sign_in).await?;
            let token = serde_json::from_slice::<Value>(&started)
                .ok()
                .and_then(|answer| {
                    answer["data"]["startSession"]["token"]
                        .as_str()
                        .map(str::to_owned)
                })
                .ok_or("startSession answered without a token")?;
            let revoke = Prepared {
                body: revoke_all.clone(),
                authorization: Some(
                    HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| e.to_string())?,
                ),
                ..sign_in.clone()
            };
            connection.send(&revoke).await.map(drop)
        }
        .await;
        measured.record(started, answer);
    }
    measured
}

/// What one run of a scenario measured.
#[derive(Default)]
pub struct Measured {
    latencies_us: Vec<u64>,
    pub errors: usize,
    pub first_error: Option<String>,
    elapsed: Duration,
}

impl Measured {
    /// One request, sent at `started`, answered with `answer`.
    fn record(&mut self, started: Instant, answer: Result<(), String>) {
        self.latencies_us.push(started.elapsed().as_micros() as u64);
        if let Err(error) = answer {
            self.errors += 1;
            self.first_error.get_or_insert(error);
        }
    }

    fn absorb(&mut self, other: Measured) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// Requests answered, with or without errors.
    pub fn count(&self) -> usize {
        self.latencies_us.len()
    }

    pub fn per_second(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&self, fraction: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let index = ((self.latencies_us.len() - 1) as f64 * fraction).round() as usize;
        self.latencies_us[index] as f64 / 1000.0
    }
}
