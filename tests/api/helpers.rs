//! Test harness: each test spawns the real application on its own fresh, migrated
//! database (a SQLite file, or a new PostgreSQL database), bound to port 0, and talks to it
//! over real HTTP. Time is a [`MockClock`] the test moves.

use std::{net::SocketAddr, num::NonZeroU32, path::PathBuf, sync::Arc, time::Duration};

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use sessionhub::{
    app::{Application, connect_database},
    clock::{Clock, MockClock},
    config::{
        ClientInfoConfig, Config, DatabaseConfig, KeyConfig, RateLimitConfig, RedisConfig,
        RetentionConfig, WebSocketConfig,
    },
    service::Services,
    telemetry::StatementCount,
};
use sessionhub_client::graphql;
use tokio_util::sync::CancellationToken;

/// Names the PostgreSQL server tests run against, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_URL_VAR: &str = "SESSIONHUB_TEST_POSTGRES_URL";
/// The Redis server that tests of the Redis event transport use, under prefixes of their own.
pub const REDIS_URL_VAR: &str = "SESSIONHUB_TEST_REDIS_URL";
pub const IDENTITY_SECRET: &str = "test-identity-secret-that-is-at-least-32-bytes";
pub const SESSION_SECRET: &str = "test-session-secret-that-is-at-least-32-bytes";
pub const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
pub const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

/// A backend's run of a test is skipped for want of its server. Under CI (`CI` set), which
/// must run every backend, that is a failure; elsewhere a notice (cargo shows it with
/// `-- --nocapture`; `bash .ci/run` starts the servers and sets the variables).
pub fn skipped(variable: &str, backend: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs every backend, but {variable} is not set: cannot run this test on {backend}"
    );
    eprintln!("skipped: set {variable} to run this test on {backend}");
}

/// Runs each named test function (taking a [`TestApp`]) once on SQLite and once on
/// PostgreSQL; the PostgreSQL run is skipped, with a notice, when no server is configured.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $crate::on_both_databases!(configured |_config| {}; $($name),*);
    };
    // Each app configured by `customise`, a closure taking `&mut Config`.
    (configured $customise:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::helpers::TestApp::sqlite_with($customise).await;
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::helpers::TestApp::postgres_with($customise).await else { return };
                    super::$name(app).await;
                }
            )*
        }
    };
}

/// Runs each named test function (taking a [`TestApp`] on PostgreSQL, whose second
/// instances it makes) once with events carried by PostgreSQL's NOTIFY and once by Redis;
/// each run is skipped, with a notice, when its server is not configured.
#[macro_export]
macro_rules! on_both_transports {
    ($($name:ident),* $(,)?) => {
        $crate::on_both_transports!(configured |_config| {}; $($name),*);
    };
    (configured $customise:expr; $($name:ident),* $(,)?) => {
        mod over_notify {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::helpers::TestApp::postgres_with($customise).await else { return };
                    super::$name(app).await;
                }
            )*
        }
        mod over_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::helpers::TestApp::postgres_on_redis_with($customise).await else { return };
                    super::$name(app).await;
                }
            )*
        }
    };
}

/// Where the test's database lives, so it can be removed afterwards.
enum TestDatabase {
    /// Removed with its directory when dropped.
    Sqlite {
        _directory: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, name } = self {
            let (admin_url, database) = (admin_url.clone(), name.clone());
            // Drop runs outside any runtime the test may still be shutting down.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async {
                    let admin = Database::connect(&admin_url)
                        .await
                        .map_err(std::io::Error::other)?;
                    admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
                        ))
                        .await
                        .map_err(std::io::Error::other)?;
                    Ok::<_, std::io::Error>(())
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(()))) {
                eprintln!("could not drop test database {name}");
            }
        }
    }
}

pub struct TestApp {
    pub address: SocketAddr,
    /// Where `/metrics` is served, when the test configured it.
    pub metrics_address: Option<SocketAddr>,
    pub clock: Arc<MockClock>,
    pub services: Services,
    /// The statements the server has run (not the test's own, on `db`).
    pub statements: StatementCount,
    pub db: DatabaseConnection,
    pub http: reqwest::Client,
    config: Config,
    shutdown: CancellationToken,
    /// The server's `run`, to wait for after stopping it.
    running: std::sync::Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>,
    /// Shared by the instances of one test; the database goes when the last one does.
    database: Arc<TestDatabase>,
}

/// A signed-in session as a client keeps it.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub device_token: String,
    pub session_id: String,
    pub device_id: String,
}

/// A GraphQL answer: HTTP status and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// `data` at a dotted path, e.g. `"startSession.session.id"`.
    pub fn data(&self, path: &str) -> &Value {
        let mut value = &self.body["data"];
        for key in path.split('.') {
            value = match key.parse::<usize>() {
                Ok(index) => &value[index],
                Err(_) => &value[key],
            };
        }
        value
    }

    /// The code of the first error; panics when there is none.
    pub fn error_code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error with a code, got {}", self.body))
    }

    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.status == StatusCode::OK && self.body.get("errors").is_none(),
            "expected success, got {} {}",
            self.status,
            self.body
        );
        self
    }
}

/// A client whose requests come from 127.0.0.2, the tests' trusted proxy, so that the
/// server believes its forwarding and location headers.
pub fn via_trusted_proxy() -> reqwest::Client {
    reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// The declared defaults, changed only where a test server must differ: its own
/// database, known keys, a free port, a sweep the tests run themselves, a trusted proxy,
/// a short websocket init timeout, few connections per session, and rate limits no test
/// reaches unless it means to.
pub fn test_config(database_url: String) -> Config {
    let defaults = Config::default();
    // Generous: only the rate-limit tests run into these.
    let generous = NonZeroU32::new(100_000).unwrap();
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: DatabaseConfig {
            database_url,
            ..defaults.database
        },
        keys: KeyConfig {
            identity_secret: vec![IDENTITY_SECRET.into()],
            session_secret: vec![SESSION_SECRET.into()],
            dev_keys_file: PathBuf::from("unused-in-tests.json"),
            ..defaults.keys
        },
        // Tests run the sweep and retention themselves, at the moments they choose.
        sweep_interval: Duration::from_secs(24 * 3600),
        retention: RetentionConfig {
            retention_interval: Duration::from_secs(24 * 3600),
            ..defaults.retention
        },
        client_info: ClientInfoConfig {
            trusted_proxies: vec!["127.0.0.2/32".parse().unwrap()],
            country_header: Some("CF-IPCountry".into()),
            city_header: Some("CF-IPCity".into()),
            ..defaults.client_info
        },
        websocket: WebSocketConfig {
            ws_init_timeout: Duration::from_millis(300),
            ws_max_connections_per_session: 3,
            ..defaults.websocket
        },
        rate_limits: RateLimitConfig {
            requests_per_minute_per_ip: generous,
            requests_per_minute_per_session: generous,
            sign_ins_per_minute_per_user: generous,
            admin_requests_per_minute: generous,
        },
        ..defaults
    }
}

impl TestApp {
    pub async fn sqlite() -> Self {
        Self::sqlite_with(|_| {}).await
    }

    /// `None`, after printing a notice, when no PostgreSQL server is configured.
    pub async fn postgres() -> Option<Self> {
        Self::postgres_with(|_| {}).await
    }

    pub async fn postgres_with(customise: impl FnOnce(&mut Config)) -> Option<Self> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            skipped(POSTGRES_URL_VAR, "PostgreSQL");
            return None;
        };
        let name = format!("sessionhub_test_{}", uuid::Uuid::new_v4().simple());
        let admin = connect_database(&admin_url, Config::default().database.database_timeout)
            .await
            .expect("connect to the PostgreSQL test server");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create a test database");
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("the PostgreSQL URL names a database");
        let mut config = test_config(format!("{base}/{name}"));
        customise(&mut config);
        let database = Arc::new(TestDatabase::Postgres { admin_url, name });
        Some(Self::spawn(config, database, None).await)
    }

    /// On PostgreSQL, with events between instances carried by Redis under a prefix of
    /// this test's own; `None`, after a notice, when either server is not configured.
    pub async fn postgres_on_redis_with(customise: impl FnOnce(&mut Config)) -> Option<Self> {
        let Ok(redis_url) = std::env::var(REDIS_URL_VAR) else {
            skipped(REDIS_URL_VAR, "Redis");
            return None;
        };
        Self::postgres_with(|config| {
            config.redis = RedisConfig {
                redis_url: Some(redis_url),
                redis_prefix: format!("sessionhub-test-{}", uuid::Uuid::new_v4().simple()),
            };
            customise(config);
        })
        .await
    }

    pub async fn sqlite_with(customise: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        let mut config = test_config(url);
        customise(&mut config);
        Self::spawn(
            config,
            Arc::new(TestDatabase::Sqlite { _directory: dir }),
            None,
        )
        .await
    }

    /// Another server instance on the same database and clock, as behind a load balancer.
    pub async fn second_instance(&self) -> Self {
        self.second_instance_with(|_| {}).await
    }

    /// Another instance on the same database and clock, configured differently, as during
    /// a rolling change of configuration.
    pub async fn second_instance_with(&self, customise: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.config.clone();
        customise(&mut config);
        Self::spawn(config, self.database.clone(), Some(self.clock.clone())).await
    }

    /// Stops the server, as SIGTERM would.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    /// Stops the server and waits until its `run` has returned, as the process would
    /// before it exits.
    pub async fn stop_and_wait(&self) {
        self.stop();
        let running = self.running.lock().unwrap().take();
        if let Some(running) = running {
            running
                .await
                .expect("the server task ends")
                .expect("the server stops cleanly");
        }
    }

    async fn spawn(
        config: Config,
        database: Arc<TestDatabase>,
        clock: Option<Arc<MockClock>>,
    ) -> Self {
        let clock = clock.unwrap_or_else(|| {
            Arc::new(MockClock::new(
                Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
            ))
        });
        let shutdown = CancellationToken::new();
        let app = Application::build(&config, clock.clone(), shutdown.clone())
            .await
            .expect("build the application");
        let address = app.local_addr();
        let metrics_address = app.metrics_addr();
        let services = app.services().clone();
        let statements = app.statements();
        let db = connect_database(
            &config.database.database_url,
            config.database.database_timeout,
        )
        .await
        .expect("connect to the test database");
        let running = tokio::spawn(app.run());
        Self {
            address,
            metrics_address,
            clock,
            services,
            statements,
            db,
            http: reqwest::Client::new(),
            config,
            shutdown,
            running: std::sync::Mutex::new(Some(running)),
            database,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// An identity token as the product's login would mint it, valid for five minutes.
    pub fn identity_token(&self, user: &str, amr: &[&str]) -> String {
        self.identity_token_with(json!({
            "sub": user,
            "amr": amr,
            "exp": self.clock.now().timestamp() + 300,
        }))
    }

    /// An identity token with exactly `claims`, signed with the server's identity secret.
    pub fn identity_token_with(&self, claims: Value) -> String {
        sessionhub_client::identity::sign(IDENTITY_SECRET.as_bytes(), &claims)
    }

    /// Sends a GraphQL request with an optional bearer token.
    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Answer {
        let body = json!({ "query": query, "variables": variables });
        let answer = graphql::post(&self.http, &self.url(""), token, None, &body)
            .await
            .expect("send the request");
        assert!(
            !answer.body.is_null(),
            "not a JSON answer: {}",
            answer.status
        );
        Answer {
            status: answer.status,
            body: answer.body,
        }
    }

    /// Signs `user` in from a browser with `user_agent`, on a new device or the one
    /// `device_token` names.
    pub async fn sign_in_with(
        &self,
        user: &str,
        user_agent: &str,
        device_token: Option<&str>,
    ) -> SignedIn {
        self.sign_in_by(user, user_agent, device_token, &["pwd"])
            .await
    }

    /// Signs `user` in as [`Self::sign_in_with`] does, with login methods `amr`.
    pub async fn sign_in_by(
        &self,
        user: &str,
        user_agent: &str,
        device_token: Option<&str>,
        amr: &[&str],
    ) -> SignedIn {
        let answer = self
            .graphql(
                Some(&self.identity_token(user, amr)),
                "mutation($input: StartSessionInput!) { startSession(input: $input) {
                    token deviceToken session { id } device { id } } }",
                json!({ "input": { "userAgent": user_agent, "deviceToken": device_token } }),
            )
            .await;
        answer.assert_ok();
        let started = answer.data("startSession");
        SignedIn {
            token: started["token"].as_str().unwrap().to_owned(),
            device_token: started["deviceToken"].as_str().unwrap().to_owned(),
            session_id: started["session"]["id"].as_str().unwrap().to_owned(),
            device_id: started["device"]["id"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn sign_in(&self, user: &str) -> SignedIn {
        self.sign_in_with(user, CHROME_MAC, None).await
    }

    /// Revokes `session_id` with `token`; the revoke must succeed.
    pub async fn revoke(&self, token: &str, session_id: &str) {
        self.graphql(
            Some(token),
            "mutation($id: ID!) { revokeSession(id: $id) { id } }",
            json!({ "id": session_id }),
        )
        .await
        .assert_ok();
    }

    /// Signs `token`'s session out; that must succeed.
    pub async fn sign_out(&self, token: &str) {
        self.graphql(Some(token), "mutation { signOut { id } }", json!({}))
            .await
            .assert_ok();
    }

    /// Sends a heartbeat that must succeed.
    pub async fn heartbeat(&self, token: &str) {
        self.graphql(Some(token), "mutation { heartbeat { id } }", json!({}))
            .await
            .assert_ok();
    }

    /// Sends a heartbeat that must succeed; returns the `expiresAt` it answered.
    pub async fn heartbeat_expires_at(&self, token: &str) -> String {
        let beat = self
            .graphql(
                Some(token),
                "mutation { heartbeat { expiresAt } }",
                json!({}),
            )
            .await;
        beat.assert_ok();
        beat.data("heartbeat.expiresAt")
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Asserts that `token`'s session is still active.
    pub async fn assert_session_active(&self, token: &str) {
        self.graphql(Some(token), "{ currentSession { status } }", json!({}))
            .await
            .assert_ok();
    }

    /// POSTs a raw JSON body (a request, a batch, anything) to /graphql with `token`.
    pub async fn post_json(&self, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("send the request")
    }

    /// Asserts that `token`'s session has ended: HTTP 401 with code SESSION_ENDED.
    pub async fn assert_session_ended(&self, token: &str) {
        let refused = self
            .graphql(Some(token), "{ currentSession { id } }", json!({}))
            .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
        assert_eq!(refused.error_code(), "SESSION_ENDED");
    }

    /// How many account events of `kind` are stored.
    pub async fn event_count(&self, kind: &str) -> i64 {
        self.count(&format!("account_events WHERE kind = '{kind}'"))
            .await
    }

    /// How many rows `rows` (a table, and optionally a WHERE clause) names.
    pub async fn count(&self, rows: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {rows}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }

    /// The application's current time, as a Unix timestamp.
    pub fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    pub fn advance(&self, minutes: i64) {
        self.clock.advance(chrono::Duration::minutes(minutes));
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
