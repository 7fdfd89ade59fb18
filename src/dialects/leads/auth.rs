//! Leads authentication: login, refresh, HS256 access tokens and the request extractor
//! (bearer token or `X-API-Key`, optional `X-Account-ID`).
//!
//! The wire (the login answer, JWT claims and signature) lives here; refresh tokens are
//! sessions of the domain's one session store (`domain::sessions`, kind [`REFRESH_KIND`]:
//! `open` at login, `rotate` on refresh) and credentials are looked up through
//! `domain::credentials`. No SQL here.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use uuid::Uuid;

use super::error::{opt_str, LeadsError, LeadsJson, LeadsResult};
use crate::domain::credentials::{self, kind};
use crate::domain::tenants::{self, Tenant};
use crate::domain::{hex_id, secrets, sessions, DomainError};
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
    crate::controls::journal::note(&tenant);
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
    let spec = refresh_session(Uuid::nil());
    let r = sessions::rotate(&st.db, st.clock.as_ref(), spec, kind::LEADS, &token)
        .await
        .map_err(|e| match e {
            DomainError::Unauthorized => LeadsError::Unauthorized("invalid or expired refresh token"),
            other => other.into(),
        })?;
    crate::controls::journal::note(&r.tenant);
    let cred = &r.credential;
    let lc = LoginCred {
        id: cred.id,
        username: cred.username.clone().unwrap_or_default(),
        account_id: cred.account_id.clone().unwrap_or_else(|| hex_id(r.tenant.id.0)),
        attrs: cred.attrs.clone(),
    };
    Ok(render_pair(&st, &r.tenant, &lc, r.now, r.opened))
}

/// A refresh-token session of `credential`.
fn refresh_session(credential: Uuid) -> sessions::OpenSession {
    sessions::OpenSession {
        kind: REFRESH_KIND,
        credential,
        token_len: 64,
        ttl: Duration::days(REFRESH_TTL_DAYS),
        prune_dead_after: None,
    }
}

async fn issue_pair(st: &AppState, tenant: &Tenant, cred: &LoginCred) -> LeadsResult<Json<Value>> {
    let now = st.now(tenant);
    let opened = sessions::open(&st.db, tenant.id, refresh_session(cred.id), now).await?;
    Ok(render_pair(st, tenant, cred, now, opened))
}

/// Access-token lifetime of the tenant (its setting, else the server's).
pub fn access_ttl(st: &AppState, tenant: &Tenant) -> i64 {
    super::tenant::LeadsSettings::of(tenant)
        .leads_access_token_ttl_seconds
        .filter(|s| *s > 0)
        .unwrap_or(st.config.leads_token_ttl)
}

/// The login answer: a new access token (carrying the tenant's epoch) and the refresh token.
fn render_pair(st: &AppState, tenant: &Tenant, cred: &LoginCred, now: DateTime<Utc>, opened: sessions::Opened) -> Json<Value> {
    let ttl = access_ttl(st, tenant);
    let claims = json!({
        "identity": format!("{}:{}", cred.account_id, tenant.slug),
        "type": "access",
        "epoch": opened.epoch,
        "sub": hex_id(cred.id),
        "account_id": cred.account_id,
        "domain": tenant.slug,
        "iat": now.timestamp(),
        "nbf": now.timestamp(),
        "exp": now.timestamp() + ttl,
        "jti": secrets::random_hex32(),
    });
    let access = jwt_sign(&st.jwt_secret, &claims);
    let refresh = opened.token;
    let attr = |k: &str| cred.attrs.get(k).and_then(Value::as_str).map(str::to_string);
    Json(json!({
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
    }))
}

/// An authenticated Leads request: the tenant, its Leads account id and the tenant's now.
pub struct LeadsAuth {
    /// Shared with the read cache (no copy per request).
    pub tenant: std::sync::Arc<Tenant>,
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
    let acc = st.reads.first_account_id(&st.db, tenant.id, kind::LEADS).await?;
    Ok(acc.unwrap_or_else(|| hex_id(tenant.id.0)))
}

impl FromRequestParts<AppState> for LeadsAuth {
    type Rejection = LeadsError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let auth = if let Some(key) = header(parts, "x-api-key") {
            // Every lookup below is answered from the per-process read cache once warm.
            let cred = match st
                .reads
                .authenticate(&st.db, &st.creds, kind::LEADS_API_KEY, &secrets::digest(key), key)
                .await
            {
                Ok(c) => c,
                Err(DomainError::Internal(_)) => return Err(LeadsError::Internal),
                Err(_) => return Err(LeadsError::Unauthorized("invalid API key")),
            };
            let tenant = st.reads.tenant(&st.db, cred.tenant_id).await?.tenant.clone();
            crate::controls::journal::note(&tenant);
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
            let tenant = match st.reads.tenant_by_slug(&st.db, domain).await {
                Ok(t) => t.tenant.clone(),
                Err(DomainError::NotFound(_)) => return Err(LeadsError::Unauthorized("invalid token")),
                Err(e) => return Err(e.into()),
            };
            crate::controls::journal::note(&tenant);
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
            match st.reads.active_credential(&st.db, tenant.id, kind::LEADS, cred_id).await {
                Ok(_) => {}
                Err(DomainError::NotFound(_)) => return Err(LeadsError::Unauthorized("credentials revoked")),
                Err(e) => return Err(e.into()),
            }
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
        if let Some(r) = crate::controls::faults::check(st, auth.tenant.id, "leads").await {
            return Err(LeadsError::Fault(r.status, r.message));
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
