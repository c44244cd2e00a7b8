//! What the edge takes from clients: the GraphQL endpoint's limits and what it shows of
//! itself, the subscription connections' limits, and which peers are believed about the
//! client's address and location.

use std::{path::PathBuf, time::Duration};

use ipnet::IpNet;

/// What the GraphQL endpoint accepts, and what it shows of itself.
#[derive(clap::Args, Clone, Debug)]
pub struct ApiConfig {
    /// Production mode: introspection, GraphiQL and field suggestions off, and the server
    /// refuses to start with generated development keys.
    #[arg(long, env = "SESSIONHUB_PRODUCTION")]
    pub production: bool,

    /// Answer introspection queries (off in production mode).
    #[arg(long, env = "SESSIONHUB_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub introspection: bool,

    /// Serve GraphiQL at /graphiql (off in production mode).
    #[arg(long, env = "SESSIONHUB_GRAPHIQL", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphiql: bool,

    /// Serve the example account page (`examples/account-page`) at /account (off in
    /// production mode).
    #[arg(long, env = "SESSIONHUB_ACCOUNT_PAGE", default_value_t = true, action = clap::ArgAction::Set)]
    pub account_page: bool,

    /// Suggest field names in validation errors ("did you mean …"; off in production mode).
    #[arg(long, env = "SESSIONHUB_SUGGESTIONS", default_value_t = true, action = clap::ArgAction::Set)]
    pub suggestions: bool,

    /// Comma-separated origins allowed to call the API from a browser (CORS); none by default.
    #[arg(long, env = "SESSIONHUB_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Deepest selection nesting a query may have. The standard introspection query needs 13.
    #[arg(long, env = "SESSIONHUB_MAX_QUERY_DEPTH", default_value_t = 15)]
    pub max_query_depth: usize,

    /// Highest complexity a query may have: each field counts 1, once per element of every
    /// list above it (see `graphql::cost`), so this bounds the objects an answer can hold.
    #[arg(long, env = "SESSIONHUB_MAX_QUERY_COMPLEXITY", default_value_t = 5000)]
    pub max_query_complexity: usize,

    /// Most aliases one document may use.
    #[arg(long, env = "SESSIONHUB_MAX_ALIASES", default_value_t = 30)]
    pub max_aliases: usize,

    /// Most times one field may be selected in one selection set.
    #[arg(long, env = "SESSIONHUB_MAX_FIELD_REPEATS", default_value_t = 3)]
    pub max_field_repeats: usize,

    /// Most directives on one field.
    #[arg(long, env = "SESSIONHUB_MAX_DIRECTIVES", default_value_t = 5)]
    pub max_directives: usize,

    /// Deepest nesting the parser follows, fragments included.
    #[arg(long, env = "SESSIONHUB_MAX_RECURSION", default_value_t = 32)]
    pub max_recursion: usize,

    /// Most requests in one batch.
    #[arg(long, env = "SESSIONHUB_MAX_BATCH", default_value_t = 10)]
    pub max_batch: usize,

    /// Largest request body, in bytes.
    #[arg(long, env = "SESSIONHUB_MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,
}

impl ApiConfig {
    pub fn introspection_enabled(&self) -> bool {
        self.introspection && !self.production
    }

    pub fn graphiql_enabled(&self) -> bool {
        self.graphiql && !self.production
    }

    pub fn account_page_enabled(&self) -> bool {
        self.account_page && !self.production
    }

    pub fn suggestions_enabled(&self) -> bool {
        self.suggestions && !self.production
    }
}

/// Limits of subscription connections.
#[derive(clap::Args, Clone, Debug)]
pub struct WebSocketConfig {
    /// How long a new connection may take to send `connection_init` (then: close 4408).
    #[arg(long, env = "SESSIONHUB_WS_INIT_TIMEOUT", default_value = "3s", value_parser = humantime::parse_duration)]
    pub ws_init_timeout: Duration,

    /// How often the server pings idle connections.
    #[arg(long, env = "SESSIONHUB_WS_KEEPALIVE", default_value = "15s", value_parser = humantime::parse_duration)]
    pub ws_keepalive: Duration,

    /// Largest websocket message accepted, in bytes (then: close 1009).
    #[arg(long, env = "SESSIONHUB_WS_MAX_MESSAGE_BYTES", default_value_t = 64 * 1024)]
    pub ws_max_message_bytes: usize,

    /// Most subscription connections one session may hold open (then: close 1008).
    #[arg(
        long,
        env = "SESSIONHUB_WS_MAX_CONNECTIONS_PER_SESSION",
        default_value_t = 8
    )]
    pub ws_max_connections_per_session: usize,

    /// Most subscriptions (and running operations) one connection may hold; past it a
    /// `subscribe` is answered with an error (TOO_MANY_SUBSCRIPTIONS) and the connection
    /// stays usable. graphql-ws clients multiplex a few per page.
    #[arg(
        long,
        env = "SESSIONHUB_WS_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 50
    )]
    pub ws_max_subscriptions_per_connection: usize,
}

/// The header trusted proxies name the client in.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProxyHeader {
    #[default]
    XForwardedFor,
    Forwarded,
}

/// Which peers may tell us the client's address and location.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ClientInfoConfig {
    /// Comma-separated addresses or CIDR ranges of reverse proxies whose forwarding and
    /// location headers are believed.
    #[arg(long, env = "SESSIONHUB_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<IpNet>,

    /// Which header the trusted proxies write the client's address into:
    /// `x-forwarded-for` or `forwarded` (RFC 7239). Only that one is read: the other
    /// passes through the proxy as the client wrote it.
    #[arg(long, env = "SESSIONHUB_PROXY_HEADER", value_enum, default_value_t = ProxyHeader::XForwardedFor)]
    pub proxy_header: ProxyHeader,

    /// Header a trusted proxy puts the client's ISO country code in, e.g. `CF-IPCountry`.
    #[arg(long, env = "SESSIONHUB_COUNTRY_HEADER")]
    pub country_header: Option<String>,

    /// Header a trusted proxy puts the client's city in, e.g. `CF-IPCity`.
    #[arg(long, env = "SESSIONHUB_CITY_HEADER")]
    pub city_header: Option<String>,

    /// MaxMind GeoIP2/GeoLite2 City or Country database, for locations no proxy header gave.
    #[arg(long, env = "SESSIONHUB_GEOIP_DATABASE")]
    pub geoip_database: Option<PathBuf>,
}

fn parse_net(value: &str) -> Result<IpNet, String> {
    let value = value.trim();
    value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{value}` is neither an IP address nor a CIDR range"))
}
