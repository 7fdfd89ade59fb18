//! Leads authentication: login, refresh, HS256 access tokens and the request extractor
//! (bearer token or `X-API-Key`, optional `X-Account-ID`).

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::Row;
use uuid::Uuid;

use super::error::{opt_str, LeadsError, LeadsJson, LeadsResult};
use crate::domain::credentials::{self, kind};
use crate::domain::tenants::{self, Tenant};
use crate::domain::{hex_id, secrets, DomainError};
use crate::state::AppState;

/// Lifetime of refresh tokens (on the tenant's clock).
pub const REFRESH_TTL_DAYS: i64 = 30;
/// `auth_sessions.kind` of refresh tokens.
pub const REFRESH_KIND: &str = "leads_refresh";

type HmacSha256 = Hmac<Sha256>;

/// Signs `claims` as an HS256 JWT.
pub fn jwt_sign(secret: &[u8], claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
    let signing_input = format!("{header}.{payload}");
    let sig = match HmacSha256::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(signing_input.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    };
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// The claims of an HS256 JWT whose signature is valid (checked in constant time), else None.
/// Expiry is not checked here (it needs the tenant's clock).
pub fn jwt_verify(secret: &[u8], token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return None;
    }
    let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
    let mut mac = HmacSha256::new_from_slice(secret).ok()?;
    mac.update(h.as_bytes());
    mac.update(b".");
    mac.update(p.as_bytes());
    mac.verify_slice(&sig).ok()?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
    claims.is_object().then_some(claims)
}

/// The Leads login credential of a token (what `user` shows).
struct LoginCred {
    id: Uuid,
    username: String,
    account_id: String,
    attrs: Value,
}

fn required_str(body: &serde_json::Map<String, Value>, field: &str) -> LeadsResult<String> {
    opt_str(body, field)?.ok_or_else(|| LeadsError::bad(format!("{field}: is required")))
}

/// `POST /api/v2/login` (and `/api/v2/config/login`).
pub async fn login(State(st): State<AppState>, LeadsJson(body): LeadsJson) -> LeadsResult<Json<Value>> {
    let username = required_str(&body, "username")?;
    let password = required_str(&body, "password")?;
    let domain = required_str(&body, "domain")?;
    // The domain is the tenant's slug, a DNS label: compared case-insensitively (the doc's
    // own example sends "yourTenant").
    let login_key = format!("{}/{}", domain.trim().to_ascii_lowercase(), username.trim());
    let cred = match credentials::authenticate(&st.db, &st.creds, kind::LEADS, &login_key, &password).await {
        Ok(c) => c,
        Err(DomainError::Internal(_)) => return Err(LeadsError::Internal),
        Err(_) => return Err(LeadsError::Unauthorized("invalid credentials")),
    };
    let tenant = tenants::by_id(&st.db, cred.tenant_id).await?;
    let lc = LoginCred {
        id: cred.id,
        username: cred.username.clone().unwrap_or_else(|| username.trim().to_string()),
        account_id: cred.account_id.clone().unwrap_or_else(|| hex_id(tenant.id.0)),
        attrs: cred.attrs.clone(),
    };
    tracing::info!(tenant = %tenant.slug, "leads login");
    issue_pair(&st, &tenant, &lc).await
}

/// `POST /api/v2/login/refresh` {refresh_token}: a new pair; the old refresh token is revoked.
pub async fn refresh(State(st): State<AppState>, LeadsJson(body): LeadsJson) -> LeadsResult<Json<Value>> {
    let token = required_str(&body, "refresh_token")?;
    let digest = secrets::digest(&token);
    // Found by digest: the token names its tenant.
    let owner: Option<Uuid> = sqlx::query_scalar("SELECT tenant_id FROM auth_sessions WHERE kind = $1 AND token_digest = $2")
        .bind(REFRESH_KIND)
        .bind(&digest)
        .fetch_optional(&st.db)
        .await?;
    let Some(owner) = owner else {
        return Err(LeadsError::Unauthorized("invalid refresh token"));
    };
    let mut tx = st.db.begin().await?;
    // The tenant row first (shared), then the session: a concurrent tenant reset (which
    // locks the tenant row, then deletes the sessions) either runs wholly before this
    // refresh (the session is gone → 401) or wholly after (it deletes the new session).
    lock_tenant_epoch(&mut tx, crate::domain::TenantId(owner)).await?;
    let row = sqlx::query(
        "SELECT id, tenant_id, credential_id, expires_at FROM auth_sessions
          WHERE tenant_id = $1 AND kind = $2 AND token_digest = $3 AND revoked_at IS NULL FOR UPDATE",
    )
    .bind(owner)
    .bind(REFRESH_KIND)
    .bind(&digest)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(LeadsError::Unauthorized("invalid refresh token"));
    };
    let session_id: Uuid = row.try_get("id")?;
    let tenant_id: Uuid = row.try_get("tenant_id")?;
    let cred_id: Option<Uuid> = row.try_get("credential_id")?;
    let expires_at: DateTime<Utc> = row.try_get("expires_at")?;
    let tenant = tenants::by_id(&mut *tx, crate::domain::TenantId(tenant_id)).await?;
    let now = st.now(&tenant);
    if expires_at <= now {
        return Err(LeadsError::Unauthorized("refresh token expired"));
    }
    sqlx::query("UPDATE auth_sessions SET revoked_at = $3, last_used_at = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.id.0)
        .bind(session_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let Some(cred_id) = cred_id else {
        return Err(LeadsError::Unauthorized("invalid refresh token"));
    };
    let cred = login_cred(&mut *tx, &tenant, cred_id).await?;
    let out = issue_pair_in(&mut tx, &st, &tenant, &cred).await?;
    tx.commit().await?;
    Ok(out)
}

async fn login_cred<'e>(db: impl sqlx::PgExecutor<'e>, tenant: &Tenant, id: Uuid) -> LeadsResult<LoginCred> {
    let row = sqlx::query(
        "SELECT id, username, account_id, attrs FROM credentials
          WHERE tenant_id = $1 AND id = $2 AND kind = $3 AND revoked_at IS NULL",
    )
    .bind(tenant.id.0)
    .bind(id)
    .bind(kind::LEADS)
    .fetch_optional(db)
    .await?;
    let Some(r) = row else {
        return Err(LeadsError::Unauthorized("credentials revoked"));
    };
    Ok(LoginCred {
        id: r.try_get("id")?,
        username: r.try_get::<Option<String>, _>("username")?.unwrap_or_default(),
        account_id: r.try_get::<Option<String>, _>("account_id")?.unwrap_or_else(|| hex_id(tenant.id.0)),
        attrs: r.try_get("attrs")?,
    })
}

/// The tenant's current epoch (bumped by a tenant reset), read with a shared lock on the
/// tenant row until the end of the transaction, so no reset can commit in between.
async fn lock_tenant_epoch(tx: &mut sqlx::Transaction<'static, sqlx::Postgres>, tenant: crate::domain::TenantId) -> LeadsResult<i64> {
    let epoch: Option<i64> = sqlx::query_scalar("SELECT epoch FROM tenants WHERE id = $1 FOR SHARE")
        .bind(tenant.0)
        .fetch_optional(&mut **tx)
        .await?;
    epoch.ok_or(LeadsError::Unauthorized("invalid credentials"))
}

async fn issue_pair(st: &AppState, tenant: &Tenant, cred: &LoginCred) -> LeadsResult<Json<Value>> {
    let mut tx = st.db.begin().await?;
    let out = issue_pair_in(&mut tx, st, tenant, cred).await?;
    tx.commit().await?;
    Ok(out)
}

/// Access-token lifetime of the tenant (its setting, else the server's).
pub fn access_ttl(st: &AppState, tenant: &Tenant) -> i64 {
    super::tenant::LeadsSettings::of(tenant)
        .leads_access_token_ttl_seconds
        .filter(|s| *s > 0)
        .unwrap_or(st.config.leads_token_ttl)
}

async fn issue_pair_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    st: &AppState,
    tenant: &Tenant,
    cred: &LoginCred,
) -> LeadsResult<Json<Value>> {
    let now = st.now(tenant);
    let ttl = access_ttl(st, tenant);
    let epoch = lock_tenant_epoch(tx, tenant.id).await?;
    let claims = json!({
        "identity": format!("{}:{}", cred.account_id, tenant.slug),
        "type": "access",
        "epoch": epoch,
        "sub": hex_id(cred.id),
        "account_id": cred.account_id,
        "domain": tenant.slug,
        "iat": now.timestamp(),
        "nbf": now.timestamp(),
        "exp": now.timestamp() + ttl,
        "jti": secrets::random_hex32(),
    });
    let access = jwt_sign(&st.jwt_secret, &claims);
    let refresh = secrets::random_token(64);
    sqlx::query(
        "INSERT INTO auth_sessions (id, tenant_id, kind, token_digest, credential_id, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::new_v4())
    .bind(tenant.id.0)
    .bind(REFRESH_KIND)
    .bind(secrets::digest(&refresh))
    .bind(cred.id)
    .bind(now + Duration::days(REFRESH_TTL_DAYS))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let attr = |k: &str| cred.attrs.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(Json(json!({
        "user": {
            "id": hex_id(cred.id),
            "username": cred.username,
            "first_name": attr("first_name").unwrap_or_else(|| cred.username.clone()),
            "last_name": attr("last_name").unwrap_or_default(),
            "email": attr("email"),
            "account_id": cred.account_id,
            "account_name": tenant.name,
            "domain": tenant.slug,
        },
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": ttl,
    })))
}

/// An authenticated Leads request: the tenant, its Leads account id and the tenant's now.
pub struct LeadsAuth {
    pub tenant: Tenant,
    pub account_id: String,
    pub now: DateTime<Utc>,
}

impl LeadsAuth {
    pub fn tid(&self) -> crate::domain::TenantId {
        self.tenant.id
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The tenant's Leads account id (for API keys, which carry none of their own): that of
/// its oldest active Leads login, else of its oldest revoked one, else the tenant's id.
async fn tenant_account_id(st: &AppState, tenant: &Tenant) -> LeadsResult<String> {
    let acc: Option<String> = sqlx::query_scalar(
        "SELECT account_id FROM credentials WHERE tenant_id = $1 AND kind = $2 AND account_id IS NOT NULL
          ORDER BY (revoked_at IS NOT NULL), created_at, id LIMIT 1",
    )
    .bind(tenant.id.0)
    .bind(kind::LEADS)
    .fetch_optional(&st.db)
    .await?;
    Ok(acc.unwrap_or_else(|| hex_id(tenant.id.0)))
}

impl FromRequestParts<AppState> for LeadsAuth {
    type Rejection = LeadsError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let auth = if let Some(key) = header(parts, "x-api-key") {
            let cred = match credentials::authenticate(&st.db, &st.creds, kind::LEADS_API_KEY, &secrets::digest(key), key).await {
                Ok(c) => c,
                Err(DomainError::Internal(_)) => return Err(LeadsError::Internal),
                Err(_) => return Err(LeadsError::Unauthorized("invalid API key")),
            };
            let tenant = tenants::by_id(&st.db, cred.tenant_id).await?;
            let account_id = match cred.account_id.clone() {
                Some(a) => a,
                None => tenant_account_id(st, &tenant).await?,
            };
            let now = st.now(&tenant);
            LeadsAuth { tenant, account_id, now }
        } else if let Some(authz) = header(parts, "authorization") {
            let token = match authz.split_once(' ') {
                Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
                _ => return Err(LeadsError::Unauthorized("a bearer token is required")),
            };
            let claims = jwt_verify(&st.jwt_secret, token).ok_or(LeadsError::Unauthorized("invalid token"))?;
            if claims.get("type").and_then(Value::as_str) != Some("access") {
                return Err(LeadsError::Unauthorized("invalid token"));
            }
            let (account_id, domain) = claims
                .get("identity")
                .and_then(Value::as_str)
                .and_then(|i| i.rsplit_once(':'))
                .ok_or(LeadsError::Unauthorized("invalid token"))?;
            let exp = claims
                .get("exp")
                .and_then(Value::as_i64)
                .ok_or(LeadsError::Unauthorized("invalid token"))?;
            let cred_id = claims
                .get("sub")
                .and_then(Value::as_str)
                .and_then(crate::domain::parse_hex_id)
                .ok_or(LeadsError::Unauthorized("invalid token"))?;
            let tenant = match tenants::by_slug(&st.db, domain).await {
                Ok(t) => t,
                Err(DomainError::NotFound(_)) => return Err(LeadsError::Unauthorized("invalid token")),
                Err(e) => return Err(e.into()),
            };
            // A tenant reset (which bumps the epoch) ends every access token issued before it.
            match claims.get("epoch").and_then(Value::as_i64) {
                Some(e) if e == tenant.epoch => {}
                Some(_) => return Err(LeadsError::Unauthorized("token revoked by a tenant reset")),
                None => return Err(LeadsError::Unauthorized("invalid token")),
            }
            let now = st.now(&tenant);
            if now.timestamp() >= exp {
                return Err(LeadsError::Unauthorized("token expired"));
            }
            // A revoked login credential (or a deleted-and-recreated tenant) ends its tokens.
            login_cred(&st.db, &tenant, cred_id).await?;
            LeadsAuth {
                tenant,
                account_id: account_id.to_string(),
                now,
            }
        } else {
            return Err(LeadsError::Unauthorized("missing access token"));
        };
        if let Some(given) = header(parts, "x-account-id") {
            if given != auth.account_id {
                return Err(LeadsError::Forbidden);
            }
        }
        Ok(auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_round_trip_and_tamper() {
        let t = jwt_sign(b"k", &json!({"type": "access", "exp": 5}));
        assert_eq!(jwt_verify(b"k", &t).unwrap()["exp"], 5);
        assert!(jwt_verify(b"other", &t).is_none());
        let mut forged = t.clone();
        forged.push('A');
        assert!(jwt_verify(b"k", &forged).is_none());
        let parts: Vec<&str> = t.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(br#"{"type":"access","exp":99999999999}"#);
        assert!(jwt_verify(b"k", &format!("{}.{}.{}", parts[0], evil, parts[2])).is_none());
        assert!(jwt_verify(b"k", "a.b").is_none());
    }
}
