//! Tenants: provisioning, lookup, settings, clock.
//!
//! The domain knows no vendor here. A new tenant gets one credential per dialect from the
//! dialects' [`Provisioner`]s (handed in by the caller, e.g. the admin API or the CLI);
//! each decides its credential's kind, login key and defaults, and the answer it shows
//! once. Settings are a JSON object per tenant ([`Settings`]); every dialect declares the
//! keys it owns ([`Setting`], checked on change by `tenant_ops`) and parses them into its
//! own struct with [`Settings::parse`].

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::{PgExecutor, PgPool, Row};
use uuid::Uuid;

use super::clock::TenantClock;
use super::credentials::{self, NewCredential};
use super::{DomainError, DomainResult, ResultExt, TenantId};

/// A tenant's settings: a JSON object of keys the dialects own. A key that is absent
/// means "the global default".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct Settings(pub Map<String, Value>);

impl Settings {
    /// The value of `key`, if set and of type `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.0.get(key).and_then(|v| T::deserialize(v).ok())
    }

    /// The settings as a dialect's own struct (keys it does not know are ignored; a store
    /// that does not fit gives the struct's default).
    pub fn parse<T: DeserializeOwned + Default>(&self) -> T {
        T::deserialize(&Value::Object(self.0.clone())).unwrap_or_default()
    }
}

/// The type and range of a setting's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SettingKind {
    Bool,
    /// An integer in `min..=max`, `unit` appended to the range in messages (e.g. " seconds").
    Int {
        min: i64,
        max: i64,
        unit: &'static str,
    },
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// An absolute `http` or `https` URL with a host.
    HttpUrl,
}

/// One settings key a dialect owns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting {
    pub key: &'static str,
    pub kind: SettingKind,
    /// Listed (as `null`) in a tenant's view even when unset; otherwise shown only when set.
    pub listed: bool,
}

impl Setting {
    /// Checks a (non-null) value; the message is for the field `settings.<key>`.
    pub fn check(&self, v: &Value) -> DomainResult<()> {
        let field = || format!("settings.{}", self.key);
        match self.kind {
            SettingKind::Bool if v.is_boolean() => Ok(()),
            SettingKind::Bool => Err(DomainError::validation(field(), "must be true or false")),
            SettingKind::OneOf(names) => match v.as_str() {
                Some(s) if names.contains(&s) => Ok(()),
                _ => Err(DomainError::validation(field(), format!("must be one of {}", names.join(", ")))),
            },
            SettingKind::Int { min, max, unit } => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(()),
                _ if max >= i64::from(u32::MAX) => Err(DomainError::validation(
                    field(),
                    format!("must be an integer of at least {min}{unit}"),
                )),
                _ => Err(DomainError::validation(field(), format!("must be between {min} and {max}{unit}"))),
            },
            SettingKind::HttpUrl => match v.as_str().map(url::Url::parse) {
                Some(Ok(u)) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
                _ => Err(DomainError::validation(field(), "must be an absolute http or https URL")),
            },
        }
    }
}

/// What the dialects register about tenants, handed to the domain by the caller (the
/// entry point puts it in the application state).
#[derive(Clone, Default)]
pub struct Registry {
    /// One per credential, in the order of the provisioning answer.
    pub provisioners: Vec<&'static dyn Provisioner>,
    /// Every settings key, in the order an operator sees them.
    pub settings: Vec<Setting>,
}

/// A tenant's settings as shown to an operator: every `listed` key of `all` (in order,
/// `null` when unset), then the other keys of `all` that are set.
pub fn settings_view(all: &[Setting], s: &Settings) -> Map<String, Value> {
    let mut out = Map::new();
    for k in all.iter().filter(|k| k.listed) {
        out.insert(k.key.to_string(), s.0.get(k.key).cloned().unwrap_or(Value::Null));
    }
    for k in all.iter().filter(|k| !k.listed) {
        if let Some(v) = s.0.get(k.key) {
            out.insert(k.key.to_string(), v.clone());
        }
    }
    out
}

/// A tenant as every dialect sees it after authentication.
#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub seq: i64,
    pub slug: String,
    pub name: String,
    pub settings: Settings,
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
    /// Values for the provisioners (e.g. a credential kept from an existing integration),
    /// by the field names they declare; other fields are ignored.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl NewTenant {
    /// The string given for `field` (absent or `null` → `None`).
    pub fn field(&self, field: &str) -> DomainResult<Option<String>> {
        match self.fields.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(DomainError::validation(field, "must be a string")),
        }
    }
}

/// The new tenant as provisioners see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantSummary {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

/// One dialect's credential of a new tenant.
#[derive(Debug, Clone)]
pub struct Provision {
    pub credential: NewCredential,
    /// The request field a clash with another tenant's credential is reported on.
    pub conflict_field: &'static str,
    /// What the operator is shown once (it carries the secret).
    pub answer: Value,
}

/// Provisions one dialect's credential for a new tenant (registered by each dialect).
pub trait Provisioner: Send + Sync {
    /// The key of its part of the provisioning answer.
    fn name(&self) -> &'static str;
    /// The request fields it reads, in the order they are checked.
    fn fields(&self) -> &'static [&'static str];
    /// Its credential: what the request gives, the rest generated. Pure (stores nothing).
    fn provision(&self, tenant: &TenantSummary, req: &NewTenant) -> DomainResult<Provision>;
    /// One line describing `answer` for a terminal.
    fn describe(&self, answer: &Value) -> String;
}

/// The provisioning result, shown once (it carries the secrets): the tenant, then each
/// provisioner's answer under its name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provisioned {
    pub tenant: TenantSummary,
    #[serde(flatten)]
    pub credentials: Map<String, Value>,
}

fn non_empty(field: &str, v: &Option<String>) -> DomainResult<()> {
    match v {
        Some(s) if s.trim().is_empty() => Err(DomainError::validation(field, "must not be empty")),
        _ => Ok(()),
    }
}

/// Checks a creation request and lets every provisioner make its credential, storing
/// nothing (the CLI's `demo` shows the answer of an existing tenant this way).
pub fn plan(provisioners: &[&dyn Provisioner], id: Uuid, req: &NewTenant) -> DomainResult<(TenantSummary, Vec<Provision>)> {
    if !valid_slug(&req.slug) {
        return Err(DomainError::validation(
            "slug",
            "must be a DNS label: lowercase letters, digits and '-', 1-63 characters, not starting or ending with '-'",
        ));
    }
    non_empty("name", &req.name)?;
    for p in provisioners {
        for f in p.fields() {
            non_empty(f, &req.field(f)?)?;
        }
    }
    let name = req.name.clone().unwrap_or_else(|| {
        let mut c = req.slug.chars();
        match c.next() {
            Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
            None => String::new(),
        }
    });
    let summary = TenantSummary {
        id,
        slug: req.slug.clone(),
        name,
    };
    let all = provisioners
        .iter()
        .map(|p| p.provision(&summary, req))
        .collect::<DomainResult<Vec<_>>>()?;
    Ok((summary, all))
}

/// The answer of [`plan`] or [`create`].
pub fn answer(provisioners: &[&dyn Provisioner], tenant: TenantSummary, all: &[Provision]) -> Provisioned {
    let credentials = provisioners
        .iter()
        .zip(all)
        .map(|(p, c)| (p.name().to_string(), c.answer.clone()))
        .collect();
    Provisioned { tenant, credentials }
}

/// Creates a tenant and every provisioner's credential in one transaction.
pub async fn create(db: &PgPool, provisioners: &[&dyn Provisioner], req: NewTenant) -> DomainResult<Provisioned> {
    let id = Uuid::new_v4();
    let (summary, all) = plan(provisioners, id, &req)?;
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(&summary.slug)
        .bind(&summary.name)
        .execute(&mut *tx)
        .await
        .on_constraint("tenants_slug_key", || {
            DomainError::Conflict(format!("tenant {} already exists", req.slug))
        })?;
    let t = TenantId(id);
    for p in &all {
        credentials::insert(&mut *tx, t, p.credential.clone()).await.map_err(|e| match e {
            DomainError::Conflict(m) => DomainError::validation(p.conflict_field, m),
            other => other,
        })?;
    }
    tx.commit().await?;
    tracing::info!(tenant = %req.slug, "tenant created");
    Ok(answer(provisioners, summary, &all))
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
