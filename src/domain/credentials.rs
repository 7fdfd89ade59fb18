//! Credentials of every dialect, stored argon2id-hashed.
//!
//! A credential is found by `(kind, login_key)` (one indexed query on every request, so a
//! revocation or new password takes effect at once on every replica), then its secret is
//! verified. Verified `(credential, secret)` pairs are remembered in a small in-memory
//! cache keyed by a SHA-256 digest, so argon2 runs at most once per credential per process
//! (until the stored hash changes).

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use sqlx::{PgExecutor, Row};
use uuid::Uuid;

use super::secrets;
use super::{DomainError, DomainResult, ResultExt, TenantId};

/// Credential kinds (`credentials.kind`).
pub mod kind {
    pub const ONC: &str = "onc";
    pub const LEADS: &str = "leads";
    pub const CAMPAIGN_MANAGER: &str = "campaign_manager";
    pub const APPS: &str = "apps";
    pub const LEADS_API_KEY: &str = "leads_api_key";
}

/// One stored credential.
#[derive(Debug, Clone)]
pub struct Credential {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub kind: String,
    pub login_key: String,
    pub username: Option<String>,
    pub account_id: Option<String>,
    pub secret_hash: String,
    pub name: Option<String>,
    pub attrs: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn from_row(r: &sqlx::postgres::PgRow) -> Result<Credential, sqlx::Error> {
    Ok(Credential {
        id: r.try_get("id")?,
        tenant_id: TenantId(r.try_get("tenant_id")?),
        kind: r.try_get("kind")?,
        login_key: r.try_get("login_key")?,
        username: r.try_get("username")?,
        account_id: r.try_get("account_id")?,
        secret_hash: r.try_get("secret_hash")?,
        name: r.try_get("name")?,
        attrs: r.try_get("attrs")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

const COLS: &str = "id, tenant_id, kind, login_key, username, account_id, secret_hash, name, attrs, created_at, revoked_at";

/// Verified-secret cache: digest(kind, login_key, secret) → the hash it was verified against.
#[derive(Debug, Default)]
pub struct CredentialCache {
    verified: DashMap<String, String>,
}

impl CredentialCache {
    fn key(kind: &str, login_key: &str, secret: &str) -> String {
        secrets::digest(&format!("{kind}\u{0}{login_key}\u{0}{secret}"))
    }
}

/// Fields of a new credential.
#[derive(Debug, Clone, Default)]
pub struct NewCredential {
    pub kind: &'static str,
    pub login_key: String,
    pub username: Option<String>,
    pub account_id: Option<String>,
    pub secret: String,
    pub name: Option<String>,
}

/// Stores a credential (hashing its secret). A duplicate `(kind, login_key)` → Conflict.
pub async fn insert<'e>(db: impl PgExecutor<'e>, tenant: TenantId, c: NewCredential) -> DomainResult<Credential> {
    let hash = secrets::hash_async(c.secret.clone()).await?;
    let row = sqlx::query(
        "INSERT INTO credentials (id, tenant_id, kind, login_key, username, account_id, secret_hash, name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING id, tenant_id, kind, login_key, username, account_id, secret_hash, name, attrs, created_at, revoked_at",
    )
    .bind(Uuid::new_v4())
    .bind(tenant.0)
    .bind(c.kind)
    .bind(&c.login_key)
    .bind(&c.username)
    .bind(&c.account_id)
    .bind(&hash)
    .bind(&c.name)
    .fetch_one(db)
    .await
    .on_constraint("credentials_kind_login_key_key", || {
        DomainError::Conflict(format!("{} credential {} already exists", c.kind, c.login_key))
    })?;
    Ok(from_row(&row)?)
}

/// The credential `(kind, login_key)` if its secret matches and it is not revoked.
pub async fn authenticate<'e>(
    db: impl PgExecutor<'e>,
    cache: &CredentialCache,
    kind: &str,
    login_key: &str,
    secret: &str,
) -> DomainResult<Credential> {
    let sql = format!("SELECT {COLS} FROM credentials WHERE kind = $1 AND login_key = $2 AND revoked_at IS NULL");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(kind)
        .bind(login_key)
        .fetch_optional(db)
        .await?;
    let Some(row) = row else {
        // Spend comparable time so unknown logins cannot be told from wrong secrets.
        let _ = secrets::verify_async(secret.to_string(), DUMMY_HASH.to_string()).await;
        return Err(DomainError::Unauthorized);
    };
    let cred = from_row(&row)?;
    let key = CredentialCache::key(kind, login_key, secret);
    if cache.verified.get(&key).map(|h| *h == cred.secret_hash).unwrap_or(false) {
        return Ok(cred);
    }
    if secrets::verify_async(secret.to_string(), cred.secret_hash.clone()).await {
        if cache.verified.len() > 100_000 {
            cache.verified.clear();
        }
        cache.verified.insert(key, cred.secret_hash.clone());
        Ok(cred)
    } else {
        Err(DomainError::Unauthorized)
    }
}

/// A valid argon2id hash of a random string, verified against for unknown logins.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$8B2xk5JJbcCQ3M9q0jN4m0bq1zOp5bq0wH3LkGvE2oY";

/// The tenant's credentials of `kind` (not revoked), oldest first.
pub async fn list<'e>(db: impl PgExecutor<'e>, tenant: TenantId, kind: &str) -> DomainResult<Vec<Credential>> {
    let sql = format!("SELECT {COLS} FROM credentials WHERE tenant_id = $1 AND kind = $2 AND revoked_at IS NULL ORDER BY created_at, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(kind)
        .fetch_all(db)
        .await?;
    rows.iter().map(|r| from_row(r).map_err(DomainError::from)).collect()
}

/// Revokes one credential of the tenant; NotFound if it is not the tenant's.
pub async fn revoke<'e>(db: impl PgExecutor<'e>, tenant: TenantId, kind: &str, id: Uuid, now: DateTime<Utc>) -> DomainResult<()> {
    let n = sqlx::query("UPDATE credentials SET revoked_at = $4 WHERE tenant_id = $1 AND kind = $2 AND id = $3 AND revoked_at IS NULL")
        .bind(tenant.0)
        .bind(kind)
        .bind(id)
        .bind(now)
        .execute(db)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(DomainError::NotFound("credential"));
    }
    // This process's read caches forget it at once; other replicas through the NOTIFY.
    super::caches::invalidate_local(tenant, super::caches::Scope::Tenant);
    Ok(())
}

/// One active (not revoked) credential of the tenant of `kind`; NotFound otherwise.
pub async fn get_active<'e>(db: impl PgExecutor<'e>, tenant: TenantId, kind: &str, id: Uuid) -> DomainResult<Credential> {
    let sql = format!("SELECT {COLS} FROM credentials WHERE tenant_id = $1 AND id = $2 AND kind = $3 AND revoked_at IS NULL");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .bind(kind)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("credential"))?;
    Ok(from_row(&row)?)
}

/// The account id of the tenant's oldest active credential of `kind` that has one, else
/// of its oldest revoked one; None when no credential of `kind` has one.
pub async fn first_account_id<'e>(db: impl PgExecutor<'e>, tenant: TenantId, kind: &str) -> DomainResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT account_id FROM credentials WHERE tenant_id = $1 AND kind = $2 AND account_id IS NOT NULL
          ORDER BY (revoked_at IS NOT NULL), created_at, id LIMIT 1",
    )
    .bind(tenant.0)
    .bind(kind)
    .fetch_optional(db)
    .await?)
}
