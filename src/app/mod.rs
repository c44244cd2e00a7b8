//! Building and running the server: database, migrations, keys, router, expiry sweep and
//! graceful shutdown. This is the one place that turns the configuration into what each
//! layer applies: the service rules, the rate limits, the websocket limits and the list
//! caps the query cost estimate uses.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::{Router, serve::ListenerExt};
use migration::{MigrationStatus, Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

mod background;

use background::Schedule;

use crate::{
    clock::Clock,
    config::{Config, DatabaseConfig, RateLimitConfig, RedisConfig, WebSocketConfig},
    events::{EventBus, InProcess, PostgresTransport, RedisTransport, Transport},
    graphql::{DocumentCache, ListCaps, build_admin_schema, build_schema},
    http::{
        AppState, ClientLookup, ConnectionSlots, MetricsState, SharedSlots, SharedState,
        WebSocketLimits, metrics_router, router,
    },
    service::{
        Caches, Retention, Rules, ServiceParts, Services, WebhookPolicy,
        rate_limit::{RateLimits, Rates, SharedBuckets},
    },
    shared_redis::SharedRedis,
    telemetry::{self, StatementCount},
    tokens::TokenKeys,
    webhooks::{self, WebhookSenders},
};

/// How long shutdown waits for subscription connections to say goodbye.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long a PostgreSQL connection may sit in the pool before it is pinged on the way out.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// How long SQLite waits for another writer before giving up with "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the database: SQLite in WAL mode (readers never wait for the writer) with a busy
/// timeout and foreign keys on, or PostgreSQL as configured. A caller waits at most
/// `timeout` for a connection, so an unreachable database fails requests fast.
///
/// A pooled connection is not pinged each time it is handed out, which cost a round trip
/// per statement: never on SQLite (a file does not hang up), and on PostgreSQL only after
/// it sat idle for [`PING_IF_IDLE_FOR`]. A connection that died meanwhile fails its
/// statement, is dropped from the pool, and the request answers UNAVAILABLE.
pub async fn connect_database(url: &str, timeout: Duration) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    if url.starts_with("sqlite:") {
        options.test_before_acquire(false);
    } else {
        options.test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
    }
    options
        .acquire_timeout(timeout)
        .connect_timeout(timeout)
        .sqlx_logging_level(tracing::log::LevelFilter::Debug)
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .create_if_missing(true)
        });
    Database::connect(options).await
}

/// Connects and brings the schema up to date, and the planner's statistics with it.
pub async fn migrate(database: &DatabaseConfig) -> anyhow::Result<DatabaseConnection> {
    let db = connect_database(&database.database_url, database.database_timeout)
        .await
        .context("cannot open the database")?;
    let history = Migrator::get_migration_with_status(&db)
        .await
        .context("cannot read the database's schema history")?;
    let any_is = |status| history.iter().any(|migration| migration.status() == status);
    // An upgrade of a database in use, not the making of a new one.
    let upgraded = any_is(MigrationStatus::Pending) && any_is(MigrationStatus::Applied);
    Migrator::up(&db, None)
        .await
        .context("cannot migrate the database")?;
    refresh_statistics(&db, upgraded)
        .await
        .context("cannot gather the database's statistics")?;
    Ok(db)
}

/// Statistics for the query planner. SQLite never gathers them by itself: at each start it
/// analyses what its own check says needs it, sampling at most 1,000 rows per index, so
/// this stays quick on any size. PostgreSQL's autovacuum keeps them, but not for indexes a
/// migration just made: after an upgrade, the tables are analysed at once (sampled, too).
/// A new database is not: statistics of empty tables only mislead the planner until
/// autovacuum replaces them once rows arrive. Indexes are laid out so that plans are right
/// without statistics (`tests/api/plans/`); statistics only make them more sure.
async fn refresh_statistics(db: &DatabaseConnection, upgraded: bool) -> Result<(), DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            db.execute_unprepared("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;")
                .await?;
        }
        _ if upgraded => {
            db.execute_unprepared("ANALYZE").await?;
        }
        _ => {}
    }
    Ok(())
}

/// A server bound to its address, ready to run.
pub struct Application {
    listener: TcpListener,
    /// Where `/metrics` is served, when configured.
    metrics: Option<MetricsListener>,
    statements: StatementCount,
    state: AppState,
    router: Router,
    schedule: Schedule,
    /// The webhook endpoints' senders, when any endpoint is configured.
    webhook_senders: Option<WebhookSenders>,
}

/// The metrics endpoint's own listener and what it serves.
struct MetricsListener {
    listener: TcpListener,
    state: MetricsState,
}

/// The deployment's Redis, when configured.
async fn connect_redis(config: &RedisConfig) -> anyhow::Result<Option<SharedRedis>> {
    let Some(url) = &config.redis_url else {
        return Ok(None);
    };
    let redis = SharedRedis::connect(url, &config.redis_prefix)
        .await
        .context("cannot connect to Redis (SESSIONHUB_REDIS_URL)")?;
    Ok(Some(redis))
}

/// How events travel between instances, chosen once: Redis when configured; otherwise
/// PostgreSQL's NOTIFY, or in process on SQLite, which one instance serves. A new
/// transport is one file in `events/` and one arm here.
fn event_transport(
    config: &Config,
    db: &DatabaseConnection,
    redis: Option<&SharedRedis>,
) -> Arc<dyn Transport> {
    if let Some(redis) = redis {
        return Arc::new(RedisTransport::new(redis));
    }
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            Arc::new(PostgresTransport::new(config.database.database_url.clone()))
        }
        _ => Arc::new(InProcess),
    }
}

impl Application {
    /// Connects, migrates and binds. Cancelling `shutdown` later stops the server.
    pub async fn build(
        config: &Config,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let keys = TokenKeys::load(&config.keys)?;
        if config.api.production && keys.uses_development_keys {
            anyhow::bail!(
                "refusing to start in production mode with generated development keys: configure the identity key and SESSIONHUB_SESSION_SECRET"
            );
        }
        let clients = ClientLookup::new(config.client_info.clone())
            .context("cannot open the GeoIP database")?;
        let mut db = migrate(&config.database).await?;
        let statements = StatementCount::default();
        statements.attach(&mut db);
        let redis = connect_redis(&config.redis).await?;
        let events = EventBus::new(db.clone(), event_transport(config, &db, redis.as_ref()));
        let shared_limits = redis.as_ref().map(SharedBuckets::new);
        let limits = Arc::new(RateLimits::new(
            rates(&config.rate_limits),
            clock.clone(),
            shared_limits,
        ));
        let rules = rules(config);
        let caps = ListCaps {
            sessions_per_user: rules.max_sessions_per_user,
        };
        let caches = Caches::new(
            config.session_cache_size,
            config.idle_timeout,
            config.heartbeat_write_window(),
        );
        let admin_api = keys.admin_api_enabled();
        let webhook_senders = webhooks::prepare(&config.webhooks)?;
        let services = Services::new(ServiceParts {
            db,
            clock,
            rules,
            tokens: Arc::new(keys),
            events,
            limits,
            caches,
            webhooks: WebhookPolicy {
                endpoints: webhooks::endpoints(&config.webhooks)?,
                max_attempts: config.webhooks.webhook_max_attempts.max(1),
            },
        });
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let metrics = match config.operations.metrics_listen {
            None => None,
            Some(address) => Some(MetricsListener {
                listener: TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot serve metrics on {address}"))?,
                state: MetricsState::new(
                    telemetry::metrics::install(),
                    services.clone(),
                    statements.clone(),
                ),
            }),
        };
        let documents = DocumentCache::new();
        let state = AppState::new(SharedState {
            schema: build_schema(services.clone(), &config.api, caps, documents.clone()),
            admin_schema: admin_api
                .then(|| build_admin_schema(services.clone(), &config.api, caps)),
            documents,
            services,
            clients: Arc::new(clients),
            websocket: websocket_limits(&config.websocket),
            api: Arc::new(config.api.clone()),
            compat: Arc::new(config.compat.clone()),
            log_client_ips: config.operations.log_client_ips,
            connections: Arc::new(ConnectionSlots::new(
                config.websocket.ws_max_connections_per_session,
                redis.as_ref().map(SharedSlots::new),
            )),
            shutdown,
            sockets: TaskTracker::new(),
        });
        Ok(Self {
            listener,
            metrics,
            statements,
            router: router(state.clone())?,
            state,
            schedule: Schedule {
                sweep: config.sweep_interval,
                retention: config.retention.retention_interval,
            },
            webhook_senders,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where `/metrics` is served, when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|metrics| {
            metrics
                .listener
                .local_addr()
                .expect("a bound listener has an address")
        })
    }

    pub fn services(&self) -> &Services {
        &self.state.services
    }

    /// The statements this instance has run so far.
    pub fn statements(&self) -> StatementCount {
        self.statements.clone()
    }

    /// Serves until the shutdown token is cancelled, then closes subscription connections
    /// with 1001 and lets in-flight requests finish. Returns once every connection has
    /// sent its close frame, or [`SHUTDOWN_GRACE`] has passed.
    pub async fn run(self) -> std::io::Result<()> {
        let shutdown = self.state.shutdown.clone();
        let events = self.state.services.events().clone();
        events.start(shutdown.clone()).await;
        background::spawn(&self.state.services, self.schedule, &shutdown);
        if let Some(senders) = self.webhook_senders {
            senders.spawn(&self.state.services, &shutdown);
        }
        if let Some(MetricsListener { listener, state }) = self.metrics {
            tokio::spawn(telemetry::metrics::keep_up(
                state.handle.clone(),
                shutdown.clone(),
            ));
            let served = axum::serve(listener, metrics_router(state))
                .with_graceful_shutdown(shutdown.clone().cancelled_owned());
            tokio::spawn(async move {
                if let Err(error) = served.await {
                    tracing::error!(%error, "the metrics endpoint stopped");
                }
            });
        }
        let app = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        // Every message is small and wanted at once: without TCP_NODELAY, Nagle's algorithm
        // held a `signedOut` behind the unacknowledged close handshake of an earlier frame
        // until the client's delayed ACK (40 ms) came.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::warn!(%error, "cannot set TCP_NODELAY");
            }
        });
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        // axum's graceful shutdown does not wait for upgraded connections: without this,
        // the process could exit before their 1001 frames are written.
        let sockets = &self.state.sockets;
        sockets.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, sockets.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = sockets.len(),
                "subscription connections still closing after the shutdown grace"
            );
        }
        served
    }
}

/// The session rules the configuration asks for.
fn rules(config: &Config) -> Rules {
    // Any longer and an expiry could leave the four-digit years the databases compare.
    let max_trust = config
        .max_trust_duration
        .min(Duration::from_secs(100 * 365 * 24 * 3600));
    Rules {
        idle_timeout: to_chrono(config.idle_timeout),
        session_lifetime: to_chrono(config.session_lifetime),
        trust_duration: to_chrono(config.trust_duration.min(max_trust)),
        max_trust_duration: to_chrono(max_trust),
        reauth_window: to_chrono(config.reauth_window),
        max_sessions_per_user: config.max_sessions_per_user.max(1),
        heartbeat_write_window: to_chrono(config.heartbeat_write_window()),
        confirm_new_devices_within: config.confirm_new_devices_within.map(to_chrono),
        new_device_cooldown: to_chrono(config.new_device_cooldown),
        expiry_warning: to_chrono(config.expiry_warning),
        retention: Retention {
            forget_devices_after: (!config.retention.forget_devices_after.is_zero())
                .then(|| to_chrono(config.retention.forget_devices_after)),
            keep_ended_sessions: to_chrono(config.retention.keep_ended_sessions),
            keep_security_log: to_chrono(config.retention.keep_security_log),
        },
    }
}

fn rates(config: &RateLimitConfig) -> Rates {
    Rates {
        per_client: config.requests_per_minute_per_ip,
        per_session: config.requests_per_minute_per_session,
        sign_ins_per_user: config.sign_ins_per_minute_per_user,
        per_admin_key: config.admin_requests_per_minute,
    }
}

fn websocket_limits(config: &WebSocketConfig) -> WebSocketLimits {
    WebSocketLimits {
        init_timeout: config.ws_init_timeout,
        keepalive: config.ws_keepalive,
        max_message_bytes: config.ws_max_message_bytes,
        max_subscriptions: config.ws_max_subscriptions_per_connection,
    }
}

/// A configured duration for the rules; one too long for chrono means "for ever".
fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}
