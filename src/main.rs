//! The `sessionhub` command: parses the command line and hands over to the library.

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use sessionhub::{
    app::{Application, migrate},
    clock::{Clock, SystemClock},
    config::{CompatApi, Config, DatabaseConfig, KeyConfig, LogFormat, unknown_variables},
    graphql::{admin_schema_sdl, schema_sdl},
    http::openapi_json,
    telemetry::logging,
    tokens::{Identity, TokenKeys},
};
use tokio_util::sync::CancellationToken;

// A request allocates and frees many small objects across threads; glibc's malloc spent
// about a tenth of the server's CPU on them (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Device and session management over GraphQL.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    #[command(
        after_help = "Also read: SESSIONHUB_LOG, the log filter in tracing's syntax (default \"info,sqlx=warn\"; \"warn\" drops the line per request)."
    )]
    Serve(Box<Config>),
    /// Bring the database schema up to date, then exit.
    Migrate(DatabaseConfig),
    /// Print the GraphQL schema (SDL) to standard output.
    PrintSchema {
        /// The admin API's schema instead of the user API's.
        #[arg(long)]
        admin: bool,
    },
    /// Print a compatibility REST API's OpenAPI document (JSON) to standard output, as
    /// served under its default prefix.
    PrintOpenapi {
        /// Which API: flashback, laravel or ruuvi.
        #[arg(value_enum)]
        api: CompatApi,
    },
    /// Mint an identity token with the configured HS256 identity secret, as the product's
    /// login would, to try the API without one.
    Token(Box<TokenArgs>),
}

#[derive(clap::Args)]
struct TokenArgs {
    /// The user id (`sub`).
    #[arg(long)]
    user: String,
    /// Authentication methods (`amr`), comma-separated, e.g. `pwd,otp`.
    #[arg(long, value_delimiter = ',')]
    amr: Vec<String>,
    /// How long the token is valid.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    ttl: Duration,
    #[command(flatten)]
    keys: KeyConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = match cli.command {
        Some(command) => command,
        // `sessionhub` alone serves, configured from the environment and defaults.
        None => Command::Serve(Box::new(Config::from_environment())),
    };
    logging::init(match &command {
        Command::Serve(config) => config.operations.log_format,
        _ => LogFormat::Text,
    });
    match command {
        Command::Serve(config) => serve(*config).await,
        Command::Migrate(database) => {
            migrate(&database).await?;
            tracing::info!("database is up to date");
            Ok(())
        }
        Command::PrintSchema { admin } => {
            print!(
                "{}",
                if admin {
                    admin_schema_sdl()
                } else {
                    schema_sdl()
                }
            );
            Ok(())
        }
        Command::PrintOpenapi { api } => {
            let defaults = Config::default();
            print!("{}", openapi_json(api, defaults.compat.prefix(api)));
            Ok(())
        }
        Command::Token(args) => {
            let TokenArgs {
                user,
                amr,
                ttl,
                keys,
            } = *args;
            let token_keys = TokenKeys::load(&keys)?;
            let ttl = chrono::Duration::from_std(ttl).context("the ttl is too long")?;
            let token = token_keys
                .mint_identity(
                    &Identity { user_id: user, amr },
                    SystemClock.now(),
                    ttl,
                    keys.identity_issuer.clone(),
                    keys.identity_audience.clone(),
                )
                .context("minting needs an HS256 identity secret (SESSIONHUB_IDENTITY_SECRET or the development keys)")?;
            println!("{token}");
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let variables = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
    for unknown in unknown_variables(variables) {
        match unknown.did_you_mean {
            Some(known) => tracing::warn!(
                variable = unknown.name,
                did_you_mean = known,
                "ignoring an unknown SESSIONHUB_ variable"
            ),
            None => tracing::warn!(
                variable = unknown.name,
                "ignoring an unknown SESSIONHUB_ variable"
            ),
        }
    }
    let shutdown = CancellationToken::new();
    let app = Application::build(&config, Arc::new(SystemClock), shutdown.clone()).await?;
    tracing::info!(
        address = %app.local_addr(),
        "serving GraphQL at /graphql, subscriptions at /graphql/ws, GraphiQL at /graphiql"
    );
    tokio::spawn(stop_on_signal(shutdown));
    app.run().await?;
    tracing::info!("stopped");
    Ok(())
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
    shutdown.cancel();
}
