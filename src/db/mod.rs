//! Database: pool, migrations and the embedded default cluster.

pub mod embedded;
pub mod lane;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::config::Config;

/// The database a process uses, with the embedded cluster it may have started.
pub struct Database {
    pub pool: PgPool,
    pub embedded: Option<embedded::EmbeddedPg>,
}

/// Name of the database switchboard uses inside its embedded cluster.
pub const EMBEDDED_DB: &str = "switchboard";

/// Connects to `DATABASE_URL`, or starts/attaches the embedded cluster.
pub async fn connect(config: &Config) -> anyhow_like::Result<Database> {
    match &config.database_url {
        Some(url) => Ok(Database {
            pool: pool(url, 20).await?,
            embedded: None,
        }),
        None => {
            let data_dir = config.data_dir.clone();
            let opts = embedded::EmbeddedOptions {
                pg_bin: config.pg_bin.clone(),
                fast: false,
            };
            let pg = tokio::task::spawn_blocking(move || embedded::start(&data_dir, &opts))
                .await
                .map_err(|e| anyhow_like::Error(e.to_string()))??;
            ensure_database(&pg.admin_url, EMBEDDED_DB).await?;
            let pool = pool(&pg.url_for(EMBEDDED_DB), 20).await?;
            Ok(Database { pool, embedded: Some(pg) })
        }
    }
}

/// Creates database `name` on the server of `admin_url` unless it exists.
pub async fn ensure_database(admin_url: &str, name: &str) -> anyhow_like::Result<()> {
    let admin = pool(admin_url, 2).await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&admin)
        .await?;
    if exists.is_none() {
        let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', ""));
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&admin).await {
            // Lost a race with another process creating it: fine.
            if !e.to_string().contains("already exists") {
                return Err(e.into());
            }
        }
    }
    admin.close().await;
    Ok(())
}

/// A pool on `url`.
pub async fn pool(url: &str, max: u32) -> anyhow_like::Result<PgPool> {
    let opts: PgConnectOptions = url.parse()?;
    Ok(PgPoolOptions::new()
        .max_connections(max)
        // No ping before every checkout (a round trip per query); a connection the server
        // closed fails its query and is dropped by the pool.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(opts)
        .await?)
}

/// Applies the migrations in `migrations/`.
pub async fn migrate(pool: &PgPool) -> anyhow_like::Result<()> {
    sqlx::migrate!("./migrations")
        .run(pool)
        .await
        .map_err(|e| anyhow_like::Error(e.to_string()))?;
    Ok(())
}

/// A minimal boxed error for start-up paths (no anyhow dependency).
pub mod anyhow_like {
    /// Start-up error with a message.
    #[derive(Debug)]
    pub struct Error(pub String);
    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for Error {}
    impl From<sqlx::Error> for Error {
        fn from(e: sqlx::Error) -> Self {
            Error(e.to_string())
        }
    }
    impl From<super::embedded::EmbeddedError> for Error {
        fn from(e: super::embedded::EmbeddedError) -> Self {
            Error(e.to_string())
        }
    }
    impl From<std::io::Error> for Error {
        fn from(e: std::io::Error) -> Self {
            Error(e.to_string())
        }
    }
    /// Result of start-up paths.
    pub type Result<T> = std::result::Result<T, Error>;
}
