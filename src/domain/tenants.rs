//! Tenants: provisioning (with one credential per dialect), lookup, settings, clock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgExecutor, PgPool, Row};
use uuid::Uuid;

use super::clock::TenantClock;
use super::credentials::{self, kind, NewCredential};
use super::secrets;
use super::{DomainError, DomainResult, TenantId};

/// Per-tenant settings; `None` means "the global default".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TenantSettings {
    #[serde(default)]
    pub apps_rate_limit: Option<u32>,
    #[serde(default)]
    pub apps_rate_burst: Option<u32>,
    #[serde(default)]
    pub sms_enabled: Option<bool>,
    #[serde(default)]
    pub outbound_sms_enabled: Option<bool>,
    #[serde(default)]
    pub leads_access_token_ttl_seconds: Option<i64>,
    #[serde(default)]
    pub onc_session_idle_seconds: Option<i64>,
    /// Apps API: outbound calls must name a CRM `ticket_id` (without one → the vendor's 202).
    /// Default false. Shown only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apps_outbound_requires_ticket: Option<bool>,
    /// Apps API bulk users: the upper bound X of `max_chat_limit` (1..=X). Default 10.
    /// Shown only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apps_max_chat_limit: Option<u32>,
}

/// A tenant as every dialect sees it after authentication.
#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub seq: i64,
    pub slug: String,
    pub name: String,
    pub settings: TenantSettings,
    #[serde(skip)]
    pub clock: TenantClock,
    #[serde(skip)]
    pub epoch: i64,
    pub created_at: DateTime<Utc>,
}

pub(crate) const TENANT_COLS: &str = "id, seq, slug, name, settings, clock_offset_seconds, clock_frozen_at, epoch, created_at";

pub(crate) fn from_row(r: &sqlx::postgres::PgRow) -> Result<Tenant, sqlx::Error> {
    let settings: serde_json::Value = r.try_get("settings")?;
    Ok(Tenant {
        id: TenantId(r.try_get("id")?),
        seq: r.try_get("seq")?,
        slug: r.try_get("slug")?,
        name: r.try_get("name")?,
        settings: serde_json::from_value(settings).unwrap_or_default(),
        clock: TenantClock {
            offset_seconds: r.try_get("clock_offset_seconds")?,
            frozen_at: r.try_get("clock_frozen_at")?,
        },
        epoch: r.try_get("epoch")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Whether `slug` is a DNS label: `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`.
pub fn valid_slug(slug: &str) -> bool {
    let b = slug.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty() && b.len() <= 63 && ok(&b[0]) && ok(&b[b.len() - 1]) && b.iter().all(|c| ok(c) || *c == b'-')
}

/// What an operator may give when creating a tenant; everything else is generated.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewTenant {
    pub slug: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub onc_account_id: Option<String>,
    #[serde(default)]
    pub onc_username: Option<String>,
    #[serde(default)]
    pub onc_password: Option<String>,
    #[serde(default)]
    pub leads_account_id: Option<String>,
    #[serde(default)]
    pub leads_username: Option<String>,
    #[serde(default)]
    pub leads_password: Option<String>,
    #[serde(default)]
    pub cm_account_sid: Option<String>,
    #[serde(default)]
    pub cm_auth_token: Option<String>,
    #[serde(default)]
    pub apps_token: Option<String>,
}

/// The provisioning result, shown once (it carries the secrets).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provisioned {
    pub tenant: TenantSummary,
    pub onc: OncCreds,
    pub leads: LeadsCreds,
    pub campaign_manager: CmCreds,
    pub apps: AppsCreds,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantSummary {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OncCreds {
    pub account_id: String,
    pub username: String,
    pub password: String,
}
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeadsCreds {
    pub domain: String,
    pub account_id: String,
    pub username: String,
    pub password: String,
}
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CmCreds {
    pub account_sid: String,
    pub auth_token: String,
    pub enterprise_sid: String,
}
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppsCreds {
    pub subdomain: String,
    pub token: String,
}

fn non_empty(field: &str, v: &Option<String>) -> DomainResult<()> {
    match v {
        Some(s) if s.trim().is_empty() => Err(DomainError::validation(field, "must not be empty")),
        _ => Ok(()),
    }
}

/// Creates a tenant and its four dialect credentials in one transaction.
pub async fn create(db: &PgPool, req: NewTenant) -> DomainResult<Provisioned> {
    if !valid_slug(&req.slug) {
        return Err(DomainError::validation(
            "slug",
            "must be a DNS label: lowercase letters, digits and '-', 1-63 characters, not starting or ending with '-'",
        ));
    }
    for (f, v) in [
        ("name", &req.name),
        ("onc_account_id", &req.onc_account_id),
        ("onc_username", &req.onc_username),
        ("onc_password", &req.onc_password),
        ("leads_account_id", &req.leads_account_id),
        ("leads_username", &req.leads_username),
        ("leads_password", &req.leads_password),
        ("cm_account_sid", &req.cm_account_sid),
        ("cm_auth_token", &req.cm_auth_token),
        ("apps_token", &req.apps_token),
    ] {
        non_empty(f, v)?;
    }
    if let Some(sid) = &req.cm_account_sid {
        if super::parse_sid("AC", sid).is_none() {
            return Err(DomainError::validation(
                "cm_account_sid",
                "must be AC followed by 32 hex characters",
            ));
        }
    }
    let id = Uuid::new_v4();
    let name = req.name.clone().unwrap_or_else(|| {
        let mut c = req.slug.chars();
        match c.next() {
            Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
            None => String::new(),
        }
    });
    let onc = OncCreds {
        account_id: req.onc_account_id.clone().unwrap_or_else(|| id.to_string()),
        username: req.onc_username.clone().unwrap_or_else(|| "onc-api".into()),
        password: req.onc_password.clone().unwrap_or_else(|| secrets::random_token(24)),
    };
    let leads = LeadsCreds {
        domain: req.slug.clone(),
        account_id: req.leads_account_id.clone().unwrap_or_else(|| super::hex_id(id)),
        username: req.leads_username.clone().unwrap_or_else(|| "admin".into()),
        password: req.leads_password.clone().unwrap_or_else(|| secrets::random_token(24)),
    };
    let cm = CmCreds {
        account_sid: req
            .cm_account_sid
            .clone()
            .unwrap_or_else(|| format!("AC{}", secrets::random_hex32())),
        auth_token: req.cm_auth_token.clone().unwrap_or_else(secrets::random_hex32),
        enterprise_sid: super::sid("EN", id),
    };
    let apps = AppsCreds {
        subdomain: req.slug.clone(),
        token: req.apps_token.clone().unwrap_or_else(|| secrets::random_token(40)),
    };

    let mut tx = db.begin().await?;
    let inserted = sqlx::query("INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3) ON CONFLICT (slug) DO NOTHING")
        .bind(id)
        .bind(&req.slug)
        .bind(&name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if inserted == 0 {
        return Err(DomainError::Conflict(format!("tenant {} already exists", req.slug)));
    }
    let t = TenantId(id);
    let creds = [
        NewCredential {
            kind: kind::ONC,
            login_key: format!("{}/{}", onc.account_id, onc.username),
            username: Some(onc.username.clone()),
            account_id: Some(onc.account_id.clone()),
            secret: onc.password.clone(),
            name: None,
        },
        NewCredential {
            kind: kind::LEADS,
            login_key: format!("{}/{}", leads.domain, leads.username),
            username: Some(leads.username.clone()),
            account_id: Some(leads.account_id.clone()),
            secret: leads.password.clone(),
            name: None,
        },
        NewCredential {
            kind: kind::CAMPAIGN_MANAGER,
            login_key: cm.account_sid.clone(),
            username: None,
            account_id: Some(cm.enterprise_sid.clone()),
            secret: cm.auth_token.clone(),
            name: None,
        },
        NewCredential {
            kind: kind::APPS,
            login_key: apps.subdomain.clone(),
            username: Some(apps.subdomain.clone()),
            account_id: None,
            secret: apps.token.clone(),
            name: None,
        },
    ];
    for c in creds {
        let field = match c.kind {
            kind::ONC => "onc_account_id",
            kind::CAMPAIGN_MANAGER => "cm_account_sid",
            _ => "slug",
        };
        credentials::insert(&mut *tx, t, c).await.map_err(|e| match e {
            DomainError::Conflict(m) => DomainError::validation(field, m),
            other => other,
        })?;
    }
    tx.commit().await?;
    tracing::info!(tenant = %req.slug, "tenant created");
    Ok(Provisioned {
        tenant: TenantSummary { id, slug: req.slug, name },
        onc,
        leads,
        campaign_manager: cm,
        apps,
    })
}

/// All tenants in creation order.
pub async fn list<'e>(db: impl PgExecutor<'e>) -> DomainResult<Vec<Tenant>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TENANT_COLS} FROM tenants ORDER BY seq")))
        .fetch_all(db)
        .await?;
    rows.iter().map(|r| from_row(r).map_err(DomainError::from)).collect()
}

/// The tenant with `slug`.
pub async fn by_slug<'e>(db: impl PgExecutor<'e>, slug: &str) -> DomainResult<Tenant> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TENANT_COLS} FROM tenants WHERE slug = $1")))
        .bind(slug)
        .fetch_optional(db)
        .await?;
    row.map(|r| from_row(&r)).transpose()?.ok_or(DomainError::NotFound("tenant"))
}

/// The tenant with `id`.
pub async fn by_id<'e>(db: impl PgExecutor<'e>, id: TenantId) -> DomainResult<Tenant> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TENANT_COLS} FROM tenants WHERE id = $1")))
        .bind(id.0)
        .fetch_optional(db)
        .await?;
    row.map(|r| from_row(&r)).transpose()?.ok_or(DomainError::NotFound("tenant"))
}

/// Deletes a tenant and (by cascade) all its data.
pub async fn delete<'e>(db: impl PgExecutor<'e>, slug: &str) -> DomainResult<()> {
    let n = sqlx::query("DELETE FROM tenants WHERE slug = $1")
        .bind(slug)
        .execute(db)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(DomainError::NotFound("tenant"));
    }
    Ok(())
}
