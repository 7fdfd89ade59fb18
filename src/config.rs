//! Configuration: one struct, every field a flag and a `SWITCHBOARD_*` variable (the flag wins).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// Global options, accepted by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Addresses to serve on (repeatable; the variable takes a comma-separated list).
    #[arg(
        long = "listen",
        env = "SWITCHBOARD_LISTEN",
        value_delimiter = ',',
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: Vec<SocketAddr>,

    /// Postgres to use; when absent, switchboard starts its own embedded cluster in the data dir.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory of the embedded cluster and local state.
    #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = "./.switchboard", global = true)]
    pub data_dir: PathBuf,

    /// Directory of the PostgreSQL binaries for the embedded cluster (default: PATH, then the newest /usr/lib/postgresql/*/bin).
    #[arg(long, env = "SWITCHBOARD_PG_BIN", global = true)]
    pub pg_bin: Option<PathBuf>,

    /// Bearer token of /admin/v1 (generated and logged once when unset).
    #[arg(long, env = "SWITCHBOARD_ADMIN_TOKEN", global = true, hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Log format: `text` or `json`.
    #[arg(long, env = "SWITCHBOARD_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    pub log_format: String,

    /// Apps/outbound-dialer requests per second per tenant; 0 = off (a tenant's own setting wins).
    #[arg(long, env = "SWITCHBOARD_APPS_RATE_LIMIT", default_value_t = 1, global = true)]
    pub apps_rate_limit: u32,

    /// Burst of the Apps rate limiter.
    #[arg(long, env = "SWITCHBOARD_APPS_RATE_BURST", default_value_t = 10, global = true)]
    pub apps_rate_burst: u32,

    /// HS256 secret of Leads access tokens (generated into the data dir when unset).
    #[arg(long, env = "SWITCHBOARD_JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Lifetime of Leads access tokens, in seconds.
    #[arg(long, env = "SWITCHBOARD_LEADS_TOKEN_TTL", default_value_t = 3600, global = true)]
    pub leads_token_ttl: i64,

    /// Idle expiry of ONC sessions, in seconds.
    #[arg(long, env = "SWITCHBOARD_ONC_SESSION_IDLE", default_value_t = 1200, global = true)]
    pub onc_session_idle: i64,

    /// Interval of the campaign scheduler and job worker polling, in milliseconds.
    #[arg(long, env = "SWITCHBOARD_TICK_MS", default_value_t = 500, global = true)]
    pub tick_ms: u64,

    /// Largest accepted request body in bytes (upload routes allow more).
    #[arg(long, env = "SWITCHBOARD_BODY_LIMIT", default_value_t = 2 * 1024 * 1024, global = true)]
    pub body_limit: usize,

    /// Largest accepted upload (multipart files) in bytes.
    #[arg(long, env = "SWITCHBOARD_UPLOAD_LIMIT", default_value_t = 1024 * 1024 * 1024, global = true)]
    pub upload_limit: usize,

    /// Bearer token that `GET /metrics` requires (open when unset).
    #[arg(long, env = "SWITCHBOARD_METRICS_TOKEN", global = true, hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// SMTP server of the `smtp` carrier, e.g. `smtp://mailpit:1025` (`smtps://` for TLS,
    /// `?tls=required` for STARTTLS, `user:password@` to log in); unset = no SMTP sink.
    #[arg(long, env = "SWITCHBOARD_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// First retry delay of webhook and SMTP sends, in milliseconds (doubling per try, up to 5 tries).
    #[arg(long, env = "SWITCHBOARD_SINK_BACKOFF_MS", default_value_t = 1000, global = true)]
    pub sink_backoff_ms: u64,
}

impl Config {
    /// A configuration with every default, for tests and embedding.
    pub fn for_tests(database_url: String) -> Self {
        Config {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            database_url: Some(database_url),
            data_dir: std::env::temp_dir().join("switchboard-test"),
            pg_bin: None,
            admin_token: Some("test-admin-token".into()),
            log_format: "text".into(),
            apps_rate_limit: 0,
            apps_rate_burst: 10,
            jwt_secret: Some("test-jwt-secret".into()),
            leads_token_ttl: 3600,
            onc_session_idle: 1200,
            tick_ms: 100,
            body_limit: 2 * 1024 * 1024,
            upload_limit: 1024 * 1024 * 1024,
            metrics_token: None,
            smtp_url: None,
            sink_backoff_ms: 1000,
        }
    }
}
