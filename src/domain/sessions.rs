//! Sessions: one store (`auth_sessions`) for the server-side tokens every dialect hands
//! out (idle-expiring API sessions, refresh tokens).
//!
//! A session is a random token given to the client once; only its SHA-256 digest is
//! stored, with the tenant, the credential it was opened with, a `kind` chosen by the
//! caller (the store does not interpret it) and an expiry on the tenant's clock. A session
//! whose credential is revoked is dead; so is every session of a tenant after a reset (the
//! reset deletes the rows, and [`open`] and [`rotate`] read the tenant's epoch under a
//! shared lock of the tenant row, so a reset runs wholly before or after them).

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::clock::Clock;
use super::credentials::{self, Credential};
use super::secrets;
use super::tenants::{self, Tenant};
use super::{DomainError, DomainResult, TenantId};

/// What kind of session to open, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct OpenSession {
    /// `auth_sessions.kind` (the caller's name for its sessions).
    pub kind: &'static str,
    /// The credential the session acts for.
    pub credential: Uuid,
    /// Length of the random token.
    pub token_len: usize,
    /// Lifetime from now (the idle time of a sliding session).
    pub ttl: Duration,
    /// When set, the tenant's sessions of this kind that have been expired or revoked for
    /// longer than this are removed first (housekeeping).
    pub prune_dead_after: Option<Duration>,
}

/// A session just opened.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The token to give the client (never stored).
    pub token: String,
    /// The tenant's epoch when the session was opened (for tokens that carry it).
    pub epoch: i64,
}

/// A live session, found by its token.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: Uuid,
    pub tenant: Tenant,
    pub credential_id: Option<Uuid>,
    /// The tenant's now when the session was found.
    pub now: DateTime<Utc>,
}

/// The result of [`rotate`]: the old session is closed, a new one opened.
#[derive(Debug, Clone)]
pub struct Rotated {
    pub tenant: Tenant,
    pub now: DateTime<Utc>,
    /// The (still active) credential of the session.
    pub credential: Credential,
    pub opened: Opened,
}

/// The tenant's epoch, read with a shared lock on the tenant row until the end of the
/// transaction (so no tenant reset can commit in between). A missing tenant → Unauthorized.
async fn lock_epoch(conn: &mut sqlx::PgConnection, tenant: TenantId) -> DomainResult<i64> {
    let epoch: Option<i64> = sqlx::query_scalar("SELECT epoch FROM tenants WHERE id = $1 FOR SHARE")
        .bind(tenant.0)
        .fetch_optional(&mut *conn)
        .await?;
    epoch.ok_or(DomainError::Unauthorized)
}

async fn open_in(conn: &mut sqlx::PgConnection, tenant: TenantId, s: &OpenSession, now: DateTime<Utc>) -> DomainResult<Opened> {
    let epoch = lock_epoch(conn, tenant).await?;
    if let Some(after) = s.prune_dead_after {
        sqlx::query(
            "DELETE FROM auth_sessions WHERE tenant_id = $1 AND kind = $2
                AND (expires_at < $3 OR revoked_at < $3)",
        )
        .bind(tenant.0)
        .bind(s.kind)
        .bind(now - after)
        .execute(&mut *conn)
        .await?;
    }
    let token = secrets::random_token(s.token_len);
    sqlx::query(
        "INSERT INTO auth_sessions (id, tenant_id, kind, token_digest, credential_id, expires_at, last_used_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(Uuid::new_v4())
    .bind(tenant.0)
    .bind(s.kind)
    .bind(secrets::digest(&token))
    .bind(s.credential)
    .bind(now + s.ttl)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(Opened { token, epoch })
}

/// Opens a session for `credential` of the tenant; `now` is the tenant's clock.
#[tracing::instrument(skip_all, fields(tenant = %tenant, kind = s.kind))]
pub async fn open(db: &PgPool, tenant: TenantId, s: OpenSession, now: DateTime<Utc>) -> DomainResult<Opened> {
    let mut tx = db.begin().await?;
    let opened = open_in(&mut tx, tenant, &s, now).await?;
    tx.commit().await?;
    Ok(opened)
}

/// The live session of `token` (kind `kind`, not revoked, its credential not revoked, not
/// expired on its tenant's clock over `base`), its expiry slid to now + `idle(tenant)`.
/// Anything else → Unauthorized.
#[tracing::instrument(skip_all, fields(kind = %kind))]
pub async fn touch(
    db: &PgPool,
    base: &dyn Clock,
    kind: &str,
    token: &str,
    idle: impl FnOnce(&Tenant) -> Duration,
) -> DomainResult<Session> {
    let row = sqlx::query(
        "SELECT s.id, s.tenant_id, s.credential_id, s.expires_at FROM auth_sessions s
           JOIN credentials c ON c.id = s.credential_id AND c.tenant_id = s.tenant_id
          WHERE s.token_digest = $1 AND s.kind = $2 AND s.revoked_at IS NULL AND c.revoked_at IS NULL",
    )
    .bind(secrets::digest(token))
    .bind(kind)
    .fetch_optional(db)
    .await?
    .ok_or(DomainError::Unauthorized)?;
    let id: Uuid = row.try_get("id")?;
    let tenant = match tenants::by_id(db, TenantId(row.try_get("tenant_id")?)).await {
        Ok(t) => t,
        Err(DomainError::NotFound(_)) => return Err(DomainError::Unauthorized),
        Err(e) => return Err(e),
    };
    let expires: DateTime<Utc> = row.try_get("expires_at")?;
    let now = tenant.clock.now(base);
    if expires <= now {
        return Err(DomainError::Unauthorized);
    }
    sqlx::query("UPDATE auth_sessions SET expires_at = $3, last_used_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.id.0)
        .bind(id)
        .bind(now + idle(&tenant))
        .bind(now)
        .execute(db)
        .await?;
    Ok(Session {
        id,
        credential_id: row.try_get("credential_id")?,
        tenant,
        now,
    })
}

/// Closes the tenant's session of `token` (revokes it); closing a closed or unknown
/// session does nothing.
#[tracing::instrument(skip_all, fields(tenant = %tenant, kind = %kind))]
pub async fn close(db: &PgPool, tenant: TenantId, kind: &str, token: &str, now: DateTime<Utc>) -> DomainResult<()> {
    sqlx::query(
        "UPDATE auth_sessions SET revoked_at = $4, last_used_at = $4
          WHERE tenant_id = $1 AND token_digest = $2 AND kind = $3 AND revoked_at IS NULL",
    )
    .bind(tenant.0)
    .bind(secrets::digest(token))
    .bind(kind)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Revokes every live session of the tenant (of `kind`, or of every kind when None);
/// returns how many.
#[tracing::instrument(skip_all, fields(tenant = %tenant, ?kind))]
pub async fn revoke_all(db: &PgPool, tenant: TenantId, kind: Option<&str>, now: DateTime<Utc>) -> DomainResult<u64> {
    Ok(sqlx::query(
        "UPDATE auth_sessions SET revoked_at = $3
          WHERE tenant_id = $1 AND ($2::text IS NULL OR kind = $2) AND revoked_at IS NULL",
    )
    .bind(tenant.0)
    .bind(kind)
    .bind(now)
    .execute(db)
    .await?
    .rows_affected())
}

/// Exchanges a session for a new one, in one transaction: the session of `token` (kind
/// `s.kind`, not revoked, not expired on its tenant's clock over `base`, its credential of
/// `credential_kind` still active) is closed and a new session for the same credential
/// opened (`s.credential` is ignored). Anything else → Unauthorized, and nothing changes.
#[tracing::instrument(skip_all, fields(kind = s.kind))]
pub async fn rotate(db: &PgPool, base: &dyn Clock, s: OpenSession, credential_kind: &str, token: &str) -> DomainResult<Rotated> {
    let digest = secrets::digest(token);
    // Found by digest: the token names its tenant.
    let owner: Option<Uuid> = sqlx::query_scalar("SELECT tenant_id FROM auth_sessions WHERE kind = $1 AND token_digest = $2")
        .bind(s.kind)
        .bind(&digest)
        .fetch_optional(db)
        .await?;
    let owner = TenantId(owner.ok_or(DomainError::Unauthorized)?);
    let mut tx = db.begin().await?;
    // The tenant row first (shared), then the session: a concurrent tenant reset (which
    // locks the tenant row, then deletes the sessions) either runs wholly before this
    // (the session is gone → Unauthorized) or wholly after (it deletes the new session).
    lock_epoch(&mut tx, owner).await?;
    let row = sqlx::query(
        "SELECT id, credential_id, expires_at FROM auth_sessions
          WHERE tenant_id = $1 AND kind = $2 AND token_digest = $3 AND revoked_at IS NULL FOR UPDATE",
    )
    .bind(owner.0)
    .bind(s.kind)
    .bind(&digest)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DomainError::Unauthorized)?;
    let id: Uuid = row.try_get("id")?;
    let expires_at: DateTime<Utc> = row.try_get("expires_at")?;
    let credential_id: Option<Uuid> = row.try_get("credential_id")?;
    let tenant = tenants::by_id(&mut *tx, owner).await?;
    let now = tenant.clock.now(base);
    if expires_at <= now {
        return Err(DomainError::Unauthorized);
    }
    sqlx::query("UPDATE auth_sessions SET revoked_at = $3, last_used_at = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(owner.0)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let credential_id = credential_id.ok_or(DomainError::Unauthorized)?;
    let credential = match credentials::get_active(&mut *tx, owner, credential_kind, credential_id).await {
        Ok(c) => c,
        Err(DomainError::NotFound(_)) => return Err(DomainError::Unauthorized),
        Err(e) => return Err(e),
    };
    let opened = open_in(
        &mut tx,
        owner,
        &OpenSession {
            credential: credential.id,
            ..s
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Rotated {
        tenant,
        now,
        credential,
        opened,
    })
}

/// [`touch`] with the session kept in the per-process read cache: a live cached session
/// costs no query, and its stored expiry is rewritten only when the sliding expiry moved
/// by more than `caches::SESSION_WRITE_SLACK_SECS` on the tenant's clock (so the idle
/// expiry every replica sees is right to within that). The cached expiry is this process's
/// exact one; a session that looks expired here is looked up again (another replica may
/// have slid it). A revoked session, a revoked credential, a tenant reset or a settings
/// change reaches the cache through its NOTIFY (`domain::caches`).
#[tracing::instrument(level = "debug", skip_all, fields(kind = %kind))]
pub async fn touch_cached(
    db: &PgPool,
    cache: &std::sync::Arc<super::caches::ReadCache>,
    base: &dyn Clock,
    kind: &str,
    token: &str,
    idle: impl Fn(&Tenant) -> Duration,
) -> DomainResult<Session> {
    let digest = secrets::digest(token);
    if let Some(s) = cache.session(&digest).filter(|s| s.kind == kind) {
        let cached = cache.tenant(db, s.tenant).await;
        if let Ok(ct) = cached {
            let now = ct.tenant.clock.now(base);
            if s.expires > now {
                let expires = now + idle(&ct.tenant);
                let slack = Duration::seconds(super::caches::SESSION_WRITE_SLACK_SECS);
                let stored = if expires - s.stored > slack || expires < s.stored {
                    let n = sqlx::query(
                        "UPDATE auth_sessions SET expires_at = $3, last_used_at = $4
                          WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
                    )
                    .bind(s.tenant.0)
                    .bind(s.id)
                    .bind(expires)
                    .bind(now)
                    .execute(db)
                    .await?
                    .rows_affected();
                    if n == 0 {
                        cache.forget_session(&digest);
                        return Err(DomainError::Unauthorized);
                    }
                    Some(expires)
                } else {
                    None
                };
                cache.slide_session(&digest, expires, stored);
                return Ok(Session {
                    id: s.id,
                    tenant: (*ct.tenant).clone(),
                    credential_id: s.credential_id,
                    now,
                });
            }
        }
        cache.forget_session(&digest);
    }
    let generation = cache.session_load(db);
    let idle_of = |t: &Tenant| idle(t);
    let s = touch(db, base, kind, token, idle_of).await?;
    let expires = s.now + idle(&s.tenant);
    cache.keep_session(
        generation,
        digest,
        super::caches::CachedSession {
            id: s.id,
            tenant: s.tenant.id,
            kind: kind.to_string(),
            credential_id: s.credential_id,
            expires,
            stored: expires,
        },
    );
    Ok(s)
}
