//! The seeded accounts, the scenarios, and what one run of a scenario measured.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::server::Target;

/// Browsers the seeded devices claim to be, one device each.
const USER_AGENTS: [&str; 3] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
];

const START_SESSION: &str = "mutation($input: StartSessionInput!) { startSession(input: $input) { token device { id } deviceToken } }";

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
            let identity = target.identity(&user);
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
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
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
        }
    }

    fn query(&self) -> &'static str {
        match self {
            Self::TypenameAnon | Self::Typename => "{ __typename }",
            Self::Heartbeat => "mutation { heartbeat { id lastActivityAt expiresAt } }",
            Self::Devices => {
                "{ devices { id name type isTrusted lastSeenAt sessions { id status lastActivityAt isCurrent } } }"
            }
            Self::Sessions => {
                "{ sessions { id status lastActivityAt isCurrent device { id name } } }"
            }
            Self::StartSession => START_SESSION,
        }
    }

    /// Runs the scenario for `duration` with one worker per seeded account.
    pub async fn run(&self, target: &Arc<Target>, seeded: &Seeded, duration: Duration) -> Measured {
        let deadline = Instant::now() + duration;
        let body = match self {
            Self::StartSession => json!({ "query": self.query(), "variables": { "input": {} } }),
            _ => json!({ "query": self.query() }),
        };
        let workers: Vec<_> = seeded
            .accounts
            .iter()
            .map(|account| {
                let (target, body, scenario) = (target.clone(), body.clone(), *self);
                let identity = target.identity(&account.user);
                let tokens = account.tokens.clone();
                tokio::spawn(async move {
                    scenario
                        .work(&target, &body, &identity, &tokens, deadline)
                        .await
                })
            })
            .collect();
        let mut measured = Measured::default();
        for worker in workers {
            measured.absorb(worker.await.expect("a load worker"));
        }
        measured.elapsed = duration;
        measured.latencies_us.sort_unstable();
        measured
    }

    async fn work(
        &self,
        target: &Target,
        body: &Value,
        identity: &str,
        tokens: &[String],
        deadline: Instant,
    ) -> Measured {
        let mut measured = Measured::default();
        let mut turn = 0;
        while Instant::now() < deadline {
            let token = match self {
                Self::TypenameAnon => None,
                Self::StartSession => Some(identity),
                _ => Some(tokens[turn % tokens.len()].as_str()),
            };
            turn += 1;
            let started = Instant::now();
            let answer = target.graphql(token, body, USER_AGENTS[turn % 3]).await;
            measured
                .latencies_us
                .push(started.elapsed().as_micros() as u64);
            if let Err(error) = answer {
                measured.errors += 1;
                measured.first_error.get_or_insert(error);
            }
        }
        measured
    }
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
    fn absorb(&mut self, other: Measured) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
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
