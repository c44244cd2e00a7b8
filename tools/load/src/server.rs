//! The server under load: one the tool starts (the release build next to it), or one
//! already running.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::Value;
use sessionhub_client::{graphql, identity};
use tokio::process::{Child, Command};

/// Where requests go, and how to mint identities for it.
pub struct Target {
    pub base: String,
    secret: String,
    pid: Option<u32>,
    pub http: reqwest::Client,
}

impl Target {
    pub fn new(base: String, secret: String, pid: Option<u32>) -> Self {
        Self {
            base,
            secret,
            pid,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(1024)
                .build()
                .expect("an HTTP client"),
        }
    }

    /// `host:port` of the server.
    pub fn authority(&self) -> &str {
        self.base
            .strip_prefix("http://")
            .unwrap_or(&self.base)
            .trim_end_matches('/')
    }

    /// An identity token for `user` signed in with methods `amr`, as the product's own
    /// login would issue, valid for an hour.
    pub fn identity(&self, user: &str, amr: &[&str]) -> String {
        identity::for_user(
            self.secret.as_bytes(),
            user,
            amr,
            identity::seconds_from_now(3600),
        )
    }

    /// Posts one GraphQL request; an answer is an error when it is not a 200 or carries
    /// `errors`.
    pub async fn graphql(
        &self,
        token: Option<&str>,
        body: &Value,
        user_agent: &str,
    ) -> Result<Value, String> {
        let answer = graphql::post(&self.http, &self.base, token, Some(user_agent), body)
            .await
            .map_err(|e| e.to_string())?;
        if !answer.is_ok() {
            return Err(format!("{} {}", answer.status, answer.body));
        }
        Ok(answer.body)
    }

    /// The CPU time the server has used so far, when its process is known.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(&self.pid?.to_string())
    }

    /// The server's resident memory, when its process is known.
    pub fn resident_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let kib: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    }
}

/// The `sessionhub` release binary of this tool's own build directory.
pub fn release_binary() -> anyhow::Result<PathBuf> {
    let binary = std::env::current_exe()?
        .with_file_name("sessionhub")
        .with_extension(std::env::consts::EXE_EXTENSION);
    if !binary.exists() {
        bail!(
            "{} is missing: run `cargo build --release` first",
            binary.display()
        );
    }
    Ok(binary)
}

/// The CPU time (user and system) process `pid` has used so far; `self` is this tool.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    // Kernel's USER_HZ: the unit of /proc's CPU times, 100 on every Linux architecture.
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let mut after_name = stat.rsplit_once(')')?.1.split_whitespace();
    let user: f64 = after_name.nth(11)?.parse().ok()?;
    let system: f64 = after_name.next()?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}

/// What every instance of one started deployment shares: its database and its secrets.
#[derive(Clone)]
struct Deployment {
    url: String,
    identity_secret: String,
    session_secret: String,
}

/// A release server the tool started; stopped when dropped.
pub struct Started {
    process: Child,
    pid: u32,
    base: String,
    deployment: Deployment,
    _directory: tempfile::TempDir,
    postgres: Option<Postgres>,
}

impl Started {
    /// Starts `binary serve` (see [`release_binary`]) on a fresh `database`: `sqlite`
    /// for a file, or a `postgres://` server to make a database on.
    pub async fn launch(
        binary: &Path,
        database: &str,
        settings: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let directory = tempfile::tempdir()?;
        let (database_url, postgres) = match database {
            "sqlite" => {
                let file = directory.path().join("load.db");
                (format!("sqlite://{}?mode=rwc", file.display()), None)
            }
            server => {
                let made =
                    Postgres::create(server, &format!("sessionhub_load_{}", nonce()?)).await?;
                (made.url(), Some(made))
            }
        };
        Self::launch_in(binary, database_url, directory, postgres, settings).await
    }

    /// Starts `binary serve` on the database at `url` as it is (one `load seed` filled);
    /// the database stays when the server stops.
    pub async fn launch_on(
        binary: &Path,
        url: &str,
        settings: &[(String, String)],
    ) -> anyhow::Result<Self> {
        Self::launch_in(binary, url.to_owned(), tempfile::tempdir()?, None, settings).await
    }

    async fn launch_in(
        binary: &Path,
        database_url: String,
        directory: tempfile::TempDir,
        postgres: Option<Postgres>,
        settings: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let nonce = nonce()?;
        let deployment = Deployment {
            url: database_url,
            identity_secret: format!("load-identity-{nonce}-{}", std::process::id()),
            session_secret: format!("load-session-{nonce}-secret"),
        };
        Self::spawn(binary, deployment, directory, postgres, settings).await
    }

    /// Starts another instance of `binary` on this server's database, as a second
    /// instance of one deployment (PostgreSQL only: SQLite is served by one instance).
    pub async fn peer(&self, binary: &Path, settings: &[(String, String)]) -> anyhow::Result<Self> {
        if self.postgres.is_none() {
            bail!("a second instance needs PostgreSQL: SQLite is served by one instance");
        }
        let directory = tempfile::tempdir()?;
        Self::spawn(binary, self.deployment.clone(), directory, None, settings).await
    }

    /// Starts `binary serve` on `deployment`, with the rate limits and the session cap out
    /// of the way, and waits until it is healthy.
    async fn spawn(
        binary: &Path,
        deployment: Deployment,
        directory: tempfile::TempDir,
        postgres: Option<Postgres>,
        settings: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let unlimited = "4000000000";
        let process = Command::new(binary)
            .arg("serve")
            .env("SESSIONHUB_LISTEN", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", &deployment.url)
            .env("SESSIONHUB_IDENTITY_SECRET", &deployment.identity_secret)
            .env("SESSIONHUB_SESSION_SECRET", &deployment.session_secret)
            .env("SESSIONHUB_REQUESTS_PER_MINUTE_PER_IP", unlimited)
            .env("SESSIONHUB_REQUESTS_PER_MINUTE_PER_SESSION", unlimited)
            .env("SESSIONHUB_SIGN_INS_PER_MINUTE_PER_USER", unlimited)
            // `revoke-fanout` needs an account of 1,000 sessions; so high a cap would price
            // every session list out of the complexity limit, which goes up with it.
            .env("SESSIONHUB_MAX_SESSIONS_PER_USER", "100000")
            .env("SESSIONHUB_MAX_QUERY_COMPLEXITY", unlimited)
            .env("SESSIONHUB_LOG", "warn")
            // For the compat-* scenarios; a build without them warns and answers 404.
            .env("SESSIONHUB_COMPAT_APIS", "flashback,ruuvi")
            .envs(settings.iter().map(|(key, value)| (key, value)))
            .current_dir(directory.path())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = process.id().context("the server exited at once")?;
        let started = Self {
            process,
            pid,
            base: format!("http://127.0.0.1:{port}"),
            deployment,
            _directory: directory,
            postgres,
        };
        started.wait_until_healthy().await?;
        Ok(started)
    }

    async fn wait_until_healthy(&self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        // A server at size may first bring the schema up to date.
        for _ in 0..1200 {
            if let Ok(response) = http.get(format!("{}/healthz", self.base)).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server did not become healthy within 120 s")
    }

    /// Stops the server and drops the PostgreSQL database made for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.process.kill().await?;
        match self.postgres.take() {
            Some(postgres) => postgres.drop_database().await,
            None => Ok(()),
        }
    }

    /// The URL of the server's database.
    pub fn database_url(&self) -> &str {
        &self.deployment.url
    }

    pub fn target(&self) -> Target {
        Target::new(
            self.base.clone(),
            self.deployment.identity_secret.clone(),
            Some(self.pid),
        )
    }
}

/// A number no other run of the tool uses, for names of secrets and databases.
fn nonce() -> anyhow::Result<u128> {
    Ok(SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos())
}

/// A database the tool made on a PostgreSQL server for one server under load.
pub struct Postgres {
    admin: DatabaseConnection,
    server: String,
    name: String,
}

impl Postgres {
    /// Makes database `name` on the server of `url` (any database of it: the tool
    /// connects there to create its own).
    async fn create(url: &str, name: &str) -> anyhow::Result<Self> {
        let admin = Database::connect(url)
            .await
            .with_context(|| format!("cannot connect to {url}"))?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        let (server, _) = url
            .rsplit_once('/')
            .context("a PostgreSQL URL names a database: postgres://USER@HOST/DB")?;
        Ok(Self {
            admin,
            server: server.to_owned(),
            name: name.to_owned(),
        })
    }

    /// Makes the database the PostgreSQL `url` names unless it exists.
    pub async fn ensure(url: &str) -> anyhow::Result<()> {
        let (server, name) = url
            .rsplit_once('/')
            .context("a PostgreSQL URL names a database: postgres://USER@HOST/DB")?;
        let admin = Database::connect(format!("{server}/postgres"))
            .await
            .with_context(|| format!("cannot connect to {server}/postgres"))?;
        let exists = admin
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT 1 FROM pg_database WHERE datname = $1",
                [name.into()],
            ))
            .await?
            .is_some();
        if !exists {
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await?;
        }
        Ok(())
    }

    fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    async fn drop_database(self) -> anyhow::Result<()> {
        self.admin
            .execute_unprepared(&format!("DROP DATABASE \"{}\" WITH (FORCE)", self.name))
            .await?;
        Ok(())
    }
}
