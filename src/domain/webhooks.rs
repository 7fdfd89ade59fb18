//! Carrier settings of a tenant, its webhook secret and its webhook delivery log.
//!
//! - Settings: `webhook_url`, an absolute http(s) URL (registered beside the dialects'
//!   settings by the entry point; shown in a tenant's view only once set). The engine
//!   owns `carrier` (`simulated` by default | `webhook` | `smtp`), read here too.
//! - The webhook secret signs each webhook body: `X-Switchboard-Signature:
//!   sha256=<hex HMAC-SHA256 of the exact body>` ([`signature`]). HMAC needs the secret
//!   itself, so it is stored as is (like the server's shared secrets), one per tenant, and
//!   shown to the operator once: when it is generated (the first settings change that
//!   configures the webhook carrier) or rotated. A tenant reset keeps it.
//! - Every try of a webhook delivery is one row of `webhook_deliveries` (status code or
//!   error, the try number, tenant-clock timestamps), listed newest first.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::tenants::{Setting, SettingKind, Settings};
use super::{DomainError, DomainResult, TenantId};

/// The webhook settings keys (shown only once set).
pub const SETTINGS: &[Setting] = &[Setting {
    key: "webhook_url",
    kind: SettingKind::HttpUrl,
    listed: false,
}];

/// A tenant's carrier settings (`None`: the default).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CarrierSettings {
    /// `simulated` when unset.
    #[serde(default)]
    pub carrier: Option<String>,
    #[serde(default)]
    pub webhook_url: Option<String>,
}

impl CarrierSettings {
    /// The settings of a tenant.
    pub fn of(s: &Settings) -> Self {
        s.parse()
    }

    /// The carrier's name (`simulated` when unset).
    pub fn carrier(&self) -> &str {
        self.carrier.as_deref().unwrap_or("simulated")
    }

    /// Whether the settings configure webhooks (the webhook carrier, or a URL).
    pub fn uses_webhook(&self) -> bool {
        self.carrier() == "webhook" || self.webhook_url.is_some()
    }
}

/// The signature header value of `body`: `sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn fresh_secret() -> String {
    format!("whsec_{}", super::secrets::random_token(40))
}

/// Generates the tenant's webhook secret when it has none; returns it only when it was
/// generated now (so the caller shows it once).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn ensure_secret<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "INSERT INTO webhook_secrets (tenant_id, secret) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO NOTHING RETURNING secret",
    )
    .bind(tenant.0)
    .bind(fresh_secret())
    .fetch_optional(db)
    .await?)
}

/// Replaces the tenant's webhook secret with a new one and returns it (shown once).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn rotate_secret<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<String> {
    sqlx::query_scalar(
        "INSERT INTO webhook_secrets (tenant_id, secret) SELECT id, $2 FROM tenants WHERE id = $1
         ON CONFLICT (tenant_id) DO UPDATE SET secret = EXCLUDED.secret, created_at = now() RETURNING secret",
    )
    .bind(tenant.0)
    .bind(fresh_secret())
    .fetch_optional(db)
    .await?
    .ok_or(DomainError::NotFound("tenant"))
}

/// The tenant's webhook secret, if it has one.
pub async fn secret<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT secret FROM webhook_secrets WHERE tenant_id = $1")
        .bind(tenant.0)
        .fetch_optional(db)
        .await?)
}

/// One try of one webhook delivery.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Delivery {
    pub id: Uuid,
    #[serde(skip)]
    pub seq: i64,
    pub job_id: Option<Uuid>,
    pub attempt_id: Option<Uuid>,
    pub url: String,
    #[serde(rename = "try")]
    pub try_n: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub ok: bool,
    pub duration_ms: i64,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
}

/// What [`record`] stores.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub job_id: Option<Uuid>,
    pub attempt_id: Option<Uuid>,
    pub url: String,
    pub try_n: i32,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// Tenant clock.
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
}

const COLS: &str = "id, seq, job_id, attempt_id, url, try AS try_n, status_code, error, ok, duration_ms, started_at, ended_at";

/// Records one try (ok = a 2xx answer).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn record<'e>(db: impl PgExecutor<'e>, tenant: TenantId, d: NewDelivery) -> DomainResult<Delivery> {
    let ok = d.status_code.is_some_and(|s| (200..300).contains(&s));
    let sql = format!(
        "INSERT INTO webhook_deliveries (id, tenant_id, job_id, attempt_id, url, try, status_code, error, ok, duration_ms, started_at, ended_at)
         SELECT $1, t.id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM tenants t WHERE t.id = $2
         RETURNING {COLS}"
    );
    sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(sql))
        .bind(Uuid::new_v4())
        .bind(tenant.0)
        .bind(d.job_id)
        .bind(d.attempt_id)
        .bind(&d.url)
        .bind(d.try_n)
        .bind(d.status_code.map(i32::from))
        .bind(&d.error)
        .bind(ok)
        .bind(d.duration_ms)
        .bind(d.started_at)
        .bind(d.ended_at)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("tenant"))
}

/// A page of the tenant's delivery tries, newest first, older than the keyset cursor
/// `before` (a `seq`) when given. Returns the rows and the cursor of the next page (when
/// the page is full).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn list<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    limit: i64,
    before: Option<i64>,
) -> DomainResult<(Vec<Delivery>, Option<i64>)> {
    let sql = format!(
        "SELECT {COLS} FROM webhook_deliveries
          WHERE tenant_id = $1 AND ($2::bigint IS NULL OR seq < $2)
          ORDER BY seq DESC LIMIT $3"
    );
    let rows = sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(before)
        .bind(limit)
        .fetch_all(db)
        .await?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|r| r.seq)).flatten();
    Ok((rows, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn settings_are_checked() {
        let url = SETTINGS[0];
        assert!(url.check(&serde_json::json!("https://example.com/hook")).is_ok());
        assert!(url.check(&serde_json::json!("http://127.0.0.1:9/x")).is_ok());
        assert!(url.check(&serde_json::json!("/relative")).is_err());
        assert!(url.check(&serde_json::json!("ftp://example.com/")).is_err());
        assert!(url.check(&serde_json::json!(5)).is_err());
    }

    #[test]
    fn carrier_defaults_to_simulated() {
        let s = CarrierSettings::default();
        assert_eq!(s.carrier(), "simulated");
        assert!(!s.uses_webhook());
    }
}
