//! The thirteen ONC methods, binding-independent: parameters come in as one JSON-shaped
//! object (the JSON binding's body, or the SOAP operation element turned into the same
//! shape), results go out as a [`Reply`] that each binding renders.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};
use sqlx::Row;
use uuid::Uuid;

use super::types::{self, CampaignInfo, CommIn, CommInfo, ContactIn, ContactInfo, ValidCampaign, CHANNELS};
use super::{code, contact_status_for, delivery_code, status_code_for, Method};
use crate::domain::campaigns::{self, kind, status as cs, Campaign, NewCampaign};
use crate::domain::contacts::{self, status as cst, Contact, NewContact};
use crate::domain::credentials;
use crate::domain::phone::PhoneNumber;
use crate::domain::tenants::{self, Tenant};
use crate::domain::{optlists, secrets, DomainError, TenantId};
use crate::state::AppState;

/// What a method returns, before a binding renders it.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `OpenAPISessionResponse`.
    Open {
        code: i32,
        description: String,
        session_id: String,
    },
    /// `CloseAPISessionResponse`.
    Close { code: i32, description: String },
    /// An `int` ErrorCode (the description is not part of the vendor's result).
    Code { code: i32, description: String },
    /// `List<Guid>`; None = null (error).
    Guids(Option<Vec<Uuid>>, String),
    /// `List<OutboundNotificationCampaignInfo>` as JSON objects; None = null.
    Campaigns(Option<Vec<Value>>, String),
    /// One `OutboundNotificationCampaignInfo`; None = null.
    Campaign(Option<Value>, String),
    /// `List<OutboundNotificationContactInfo>`; None = null.
    Contacts(Option<Vec<Value>>, String),
}

impl Reply {
    /// The ErrorCode and description of the outcome (for logs and the JSON header).
    pub fn outcome(&self) -> (i32, &str) {
        match self {
            Reply::Open { code, description, .. } | Reply::Close { code, description } | Reply::Code { code, description } => {
                (*code, description)
            }
            Reply::Guids(v, d) => (if v.is_some() { 0 } else { code::ERROR }, d),
            Reply::Campaigns(v, d) | Reply::Contacts(v, d) => (if v.is_some() { 0 } else { code::ERROR }, d),
            Reply::Campaign(v, d) => (if v.is_some() { 0 } else { code::ERROR }, d),
        }
    }
}

/// A failed call: ErrorCode and Description.
#[derive(Debug, Clone)]
pub struct Fail(pub i32, pub String);

impl From<DomainError> for Fail {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(what) => Fail(code::NOT_FOUND, format!("{what} not found")),
            DomainError::Conflict(m) => Fail(code::ALREADY_EXISTS, m),
            DomainError::Validation { field, message } => Fail(code::INVALID_ARGUMENT, format!("{field}: {message}")),
            DomainError::Suppressed { number } => Fail(code::INVALID_ARGUMENT, format!("{number} is on a do-not-contact list")),
            DomainError::InvalidState(m) => Fail(code::NOT_ALLOWED, m),
            DomainError::InsufficientCredits { .. } => Fail(code::NOT_ALLOWED, e.to_string()),
            DomainError::Unauthorized => Fail(code::INVALID_SESSION, "Invalid or expired session".into()),
            DomainError::Internal(m) => {
                tracing::error!(error = %m, "onc internal error");
                Fail(code::INTERNAL, "Internal error".into())
            }
        }
    }
}

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Self {
        Fail::from(DomainError::from(e))
    }
}

type F<T> = Result<T, Fail>;

fn param<'a>(p: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    types::field(p, key)
}

fn guid_param(p: &Map<String, Value>, key: &str) -> F<Uuid> {
    types::get_guid(p, key, key)?.ok_or_else(|| Fail(code::INVALID_ARGUMENT, format!("{key}: is required")))
}

/// Runs `method` with `params`.
pub async fn call(st: &AppState, method: Method, params: &Map<String, Value>) -> Reply {
    use Method::*;
    let r = match method {
        OpenAPISession => return open_session(st, params).await,
        CloseAPISession => {
            return match close_session(st, params).await {
                Ok(()) => Reply::Close {
                    code: code::SUCCESS,
                    description: String::new(),
                },
                Err(Fail(code, description)) => Reply::Close { code, description },
            }
        }
        GetCampaignListing => list_campaigns(st, params)
            .await
            .map(|cs| Reply::Guids(Some(cs.iter().map(|c| c.id).collect()), String::new())),
        GetCampaigns => list_campaigns(st, params)
            .await
            .map(|cs| Reply::Campaigns(Some(cs.iter().map(render_campaign).collect()), String::new())),
        GetCampaign => get_campaign(st, params)
            .await
            .map(|c| Reply::Campaign(Some(render_campaign(&c)), String::new())),
        AddCampaign => add_campaign(st, params).await.map(ok_code),
        UpdateCampaign => update_campaign(st, params).await.map(ok_code),
        DeleteCampaign => delete_campaign(st, params).await.map(ok_code),
        GetCampaignContactsListing => list_contacts(st, params)
            .await
            .map(|(_, cs)| Reply::Guids(Some(cs.iter().map(|c| c.id).collect()), String::new())),
        GetCampaignContacts => get_contacts(st, params).await.map(|v| Reply::Contacts(Some(v), String::new())),
        AddCampaignContact => add_contact(st, params).await.map(ok_code),
        UpdateCampaignContact => update_contact(st, params).await.map(ok_code),
        DeleteCampaignContact => delete_contact(st, params).await.map(ok_code),
    };
    match r {
        Ok(reply) => reply,
        Err(Fail(code, description)) => {
            tracing::debug!(method = ?method, code, description = %description, "onc call failed");
            match method {
                GetCampaignListing | GetCampaignContactsListing => Reply::Guids(None, description),
                GetCampaigns => Reply::Campaigns(None, description),
                GetCampaign => Reply::Campaign(None, description),
                GetCampaignContacts => Reply::Contacts(None, description),
                _ => Reply::Code { code, description },
            }
        }
    }
}

fn ok_code(_: ()) -> Reply {
    Reply::Code {
        code: code::SUCCESS,
        description: String::new(),
    }
}

// ---- sessions ------------------------------------------------------------------------

const SESSION_KIND: &str = "onc_session";

fn idle(st: &AppState, t: &Tenant) -> Duration {
    Duration::seconds(
        super::tenant::OncSettings::of(t)
            .onc_session_idle_seconds
            .unwrap_or(st.config.onc_session_idle)
            .max(1),
    )
}

async fn open_session(st: &AppState, p: &Map<String, Value>) -> Reply {
    let fail = |code: i32, d: &str| Reply::Open {
        code,
        description: d.to_string(),
        session_id: String::new(),
    };
    let (Some(account), Some(user), Some(pass)) = (
        types::get_str(p, "accountId"),
        types::get_str(p, "username"),
        types::get_str(p, "password"),
    ) else {
        return fail(code::INVALID_ARGUMENT, "accountId, username and password are required");
    };
    let login = format!("{}/{}", account.trim(), user.trim());
    let cred = match credentials::authenticate(&st.db, &st.creds, credentials::kind::ONC, &login, &pass).await {
        Ok(c) => c,
        Err(DomainError::Unauthorized) => return fail(code::INVALID_CREDENTIALS, "Invalid credentials"),
        Err(e) => {
            let Fail(c, d) = e.into();
            return fail(c, &d);
        }
    };
    let result: F<String> = async {
        let tenant = tenants::by_id(&st.db, cred.tenant_id).await?;
        let now = st.now(&tenant);
        let token = secrets::random_token(40);
        // housekeeping: the tenant's sessions dead for a day go
        sqlx::query(
            "DELETE FROM auth_sessions WHERE tenant_id = $1 AND kind = $2
                AND (expires_at < $3 OR revoked_at < $3)",
        )
        .bind(tenant.id.0)
        .bind(SESSION_KIND)
        .bind(now - Duration::days(1))
        .execute(&st.db)
        .await?;
        sqlx::query(
            "INSERT INTO auth_sessions (id, tenant_id, kind, token_digest, credential_id, expires_at, last_used_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(Uuid::new_v4())
        .bind(tenant.id.0)
        .bind(SESSION_KIND)
        .bind(secrets::digest(&token))
        .bind(cred.id)
        .bind(now + idle(st, &tenant))
        .bind(now)
        .execute(&st.db)
        .await?;
        Ok(token)
    }
    .await;
    match result {
        Ok(token) => Reply::Open {
            code: code::SUCCESS,
            description: String::new(),
            session_id: token,
        },
        Err(Fail(c, d)) => fail(c, &d),
    }
}

/// The session's tenant and its now; slides the session's expiry.
async fn session(st: &AppState, p: &Map<String, Value>) -> F<(Tenant, DateTime<Utc>)> {
    let expired = || Fail(code::INVALID_SESSION, "Invalid or expired session".into());
    let token = types::get_str(p, "sessionId")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(expired)?;
    let row = sqlx::query(
        "SELECT s.id, s.tenant_id, s.expires_at FROM auth_sessions s
           JOIN credentials c ON c.id = s.credential_id AND c.tenant_id = s.tenant_id
          WHERE s.token_digest = $1 AND s.kind = $2 AND s.revoked_at IS NULL AND c.revoked_at IS NULL",
    )
    .bind(secrets::digest(token.trim()))
    .bind(SESSION_KIND)
    .fetch_optional(&st.db)
    .await?
    .ok_or_else(expired)?;
    let id: Uuid = row.try_get("id")?;
    let tenant = tenants::by_id(&st.db, TenantId(row.try_get("tenant_id")?)).await?;
    let expires: DateTime<Utc> = row.try_get("expires_at")?;
    let now = st.now(&tenant);
    if expires <= now {
        return Err(expired());
    }
    sqlx::query("UPDATE auth_sessions SET expires_at = $3, last_used_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.id.0)
        .bind(id)
        .bind(now + idle(st, &tenant))
        .bind(now)
        .execute(&st.db)
        .await?;
    Ok((tenant, now))
}

async fn close_session(st: &AppState, p: &Map<String, Value>) -> F<()> {
    let (tenant, now) = session(st, p).await?;
    let token = types::get_str(p, "sessionId").unwrap_or_default();
    sqlx::query("UPDATE auth_sessions SET revoked_at = $3 WHERE tenant_id = $1 AND token_digest = $2 AND kind = 'onc_session'")
        .bind(tenant.id.0)
        .bind(secrets::digest(token.trim()))
        .bind(now)
        .execute(&st.db)
        .await?;
    Ok(())
}

// ---- campaigns -----------------------------------------------------------------------

/// The ONC view of any campaign row (rows made by other dialects get defaults).
fn campaign_info(c: &Campaign) -> CampaignInfo {
    let mut info: CampaignInfo = c
        .attrs
        .get("onc")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_else(|| foreign_campaign_info(c));
    info.id = c.id;
    info.short_name = Some(c.name.clone());
    info.creation_date_utc = Some(c.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    info.is_paused = c.status == cs::PAUSED;
    info
}

/// ONC defaults for a campaign made by another dialect: its channel enabled (voice when
/// unset, as the engine does; all three when mixed) with the row's `attrs.from` / `attrs.body`.
fn foreign_campaign_info(c: &Campaign) -> CampaignInfo {
    let from = c.attrs.get("from").and_then(Value::as_str).map(str::to_string);
    let body = c.attrs.get("body").and_then(Value::as_str).map(str::to_string);
    let ch = c.channel.as_deref().unwrap_or("voice");
    let on = |x: &str| ch == x || ch == "mixed";
    CampaignInfo {
        active_from_date: c.starts_at.map(|t| t.format("%Y-%m-%d").to_string()),
        active_from_time: c.starts_at.map(|t| t.format("%H:%M:%S").to_string()),
        active_to_date: c.ends_at.map(|t| t.format("%Y-%m-%d").to_string()),
        active_to_time: c.ends_at.map(|t| t.format("%H:%M:%S").to_string()),
        sms: on("sms").then(|| types::SmsInfo {
            enabled: true,
            from_number: from.clone(),
            text_to_send: body.clone(),
        }),
        voice: (on("voice") || !matches!(ch, "sms" | "email")).then(|| types::VoiceInfo {
            enabled: true,
            calling_number: from.clone(),
            text_to_speak: body.clone(),
            ..Default::default()
        }),
        email: on("email").then(|| types::EmailInfo {
            enabled: true,
            from_email: from.clone(),
            html_content: body.clone(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn render_campaign(c: &Campaign) -> Value {
    serde_json::to_value(campaign_info(c)).unwrap_or(Value::Null)
}

/// Active campaigns: not deleted and ActiveToDate (the date of `ends_at`) not before the
/// tenant's today; campaigns without an end are active.
async fn list_campaigns(st: &AppState, p: &Map<String, Value>) -> F<Vec<Campaign>> {
    let (tenant, now) = session(st, p).await?;
    let sql = format!(
        "SELECT {} FROM campaigns WHERE tenant_id = $1 AND deleted_at IS NULL
            AND (ends_at IS NULL OR (ends_at AT TIME ZONE 'UTC')::date >= $2::date) ORDER BY seq",
        campaigns::COLS
    );
    Ok(sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.id.0)
        .bind(now.date_naive())
        .fetch_all(&st.db)
        .await?)
}

async fn get_campaign(st: &AppState, p: &Map<String, Value>) -> F<Campaign> {
    let (tenant, _) = session(st, p).await?;
    let id = guid_param(p, "campaignId")?;
    Ok(campaigns::get(&st.db, tenant.id, id).await?)
}

fn campaign_attrs(existing: &Value, v: &ValidCampaign) -> Value {
    let mut attrs = match existing {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let mut info = v.info.clone();
    info.creation_date_utc = None;
    attrs.insert("onc".into(), serde_json::to_value(&info).unwrap_or(Value::Null));
    Value::Object(attrs)
}

async fn add_campaign(st: &AppState, p: &Map<String, Value>) -> F<()> {
    let (tenant, now) = session(st, p).await?;
    let mut v = types::read_campaign(param(p, "campaign"))?;
    if v.info.id.is_nil() {
        v.info.id = Uuid::new_v4();
    }
    let status = if v.info.is_paused { cs::PAUSED } else { cs::SCHEDULED };
    // the engine starts it at its first daily window from now (ActiveFrom, or later)
    if !v.info.is_paused {
        v.starts_at = v.info.next_window_start(now).unwrap_or(v.starts_at);
    }
    let mut tx = st.db.begin().await?;
    // The ID of one of this tenant's deleted campaigns is free again: DeleteCampaign
    // removed it, so the row is reused (a new campaign, new CreationDateUtc, no contacts).
    let revived = sqlx::query(
        "UPDATE campaigns SET name = $3, kind = $4, status = $5, channel = $6, starts_at = $7, ends_at = $8,
                attrs = $9, deleted_at = NULL, created_at = $10, updated_at = $10
          WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NOT NULL",
    )
    .bind(tenant.id.0)
    .bind(v.info.id)
    .bind(v.info.short_name.clone().unwrap_or_default())
    .bind(kind::ONC)
    .bind(status)
    .bind(v.channel)
    .bind(v.starts_at)
    .bind(v.ends_at)
    .bind(campaign_attrs(&Value::Null, &v))
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if revived == 1 {
        sqlx::query("DELETE FROM contacts WHERE tenant_id = $1 AND campaign_id = $2")
            .bind(tenant.id.0)
            .bind(v.info.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(());
    }
    campaigns::create(
        &mut *tx,
        tenant.id,
        NewCampaign {
            id: Some(v.info.id),
            name: v.info.short_name.clone().unwrap_or_default(),
            kind: kind::ONC.into(),
            status: Some(status.into()),
            channel: Some(v.channel.into()),
            starts_at: Some(v.starts_at),
            ends_at: Some(v.ends_at),
            attrs: Some(campaign_attrs(&Value::Null, &v)),
        },
        now,
    )
    .await
    .map_err(|e| match e {
        DomainError::Conflict(_) => Fail(
            code::ALREADY_EXISTS,
            format!("campaign.ID: a campaign with ID {} already exists", v.info.id),
        ),
        other => other.into(),
    })?;
    tx.commit().await?;
    Ok(())
}

/// The ONC info of an ONC campaign row (None for another dialect's campaign).
fn onc_info<'a>(c: &Campaign, info: &'a CampaignInfo) -> Option<&'a CampaignInfo> {
    c.attrs.get("onc").is_some().then_some(info)
}

/// Puts a finished campaign with new work back to `scheduled`: an ONC campaign starts at
/// its next daily window, another dialect's campaign at once (its `starts_at` kept).
async fn reschedule(tx: &mut sqlx::PgConnection, tenant: TenantId, id: Uuid, info: Option<&CampaignInfo>, now: DateTime<Utc>) -> F<()> {
    let starts_at = info.map(|i| i.next_window_start(now).unwrap_or(now));
    campaigns::transition(&mut *tx, tenant, id, campaigns::Event::Reopen, starts_at, now).await?;
    Ok(())
}

async fn lock_campaign(tx: &mut sqlx::PgConnection, tenant: TenantId, id: Uuid) -> F<Campaign> {
    let sql = format!(
        "SELECT {} FROM campaigns WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE",
        campaigns::COLS
    );
    sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Fail(code::NOT_FOUND, format!("campaign {id} not found")))
}

async fn update_campaign(st: &AppState, p: &Map<String, Value>) -> F<()> {
    let (tenant, now) = session(st, p).await?;
    let v = types::read_campaign(param(p, "campaign"))?;
    if v.info.id.is_nil() {
        return Err(Fail(code::INVALID_ARGUMENT, "campaign.ID: is required".into()));
    }
    let mut tx = st.db.begin().await?;
    let cur = lock_campaign(&mut tx, tenant.id, v.info.id).await?;
    let status = match (cur.status.as_str(), v.info.is_paused) {
        (cs::CANCELLED | cs::FAILED, _) => cur.status.as_str(),
        (_, true) => cs::PAUSED,
        (cs::PAUSED | cs::DRAFT, false) => cs::SCHEDULED,
        (other, false) => other,
    };
    // a campaign waiting to run starts at its next daily window
    let starts_at = if status == cs::SCHEDULED {
        v.info.next_window_start(now).unwrap_or(v.starts_at)
    } else {
        v.starts_at
    };
    sqlx::query(
        "UPDATE campaigns SET name = $3, status = $4, channel = $5, starts_at = $6, ends_at = $7, attrs = $8, updated_at = $9
          WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.id.0)
    .bind(cur.id)
    .bind(v.info.short_name.clone().unwrap_or_default())
    .bind(status)
    .bind(v.channel)
    .bind(starts_at)
    .bind(v.ends_at)
    .bind(campaign_attrs(&cur.attrs, &v))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // Contacts not yet attempted deliver with the campaign's new settings.
    let sql = format!(
        "SELECT {} FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 AND status IN ('pending', 'skipped', 'dnc')
            AND attempts = 0 FOR UPDATE",
        contacts::COLS
    );
    let pending = sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.id.0)
        .bind(cur.id)
        .fetch_all(&mut *tx)
        .await?;
    let mut runnable = false;
    for c in pending {
        let stored = stored_comms(&c, cur.channel.as_deref());
        let (attrs, initial) = contact_attrs(&c.attrs, &v.info, &stored);
        runnable |= initial == cst::PENDING;
        sqlx::query("UPDATE contacts SET attrs = $3, status = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.id.0)
            .bind(c.id)
            .bind(attrs)
            .bind(initial)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    if runnable && status == cs::COMPLETED {
        reschedule(&mut tx, tenant.id, cur.id, Some(&v.info), now).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn delete_campaign(st: &AppState, p: &Map<String, Value>) -> F<()> {
    let (tenant, now) = session(st, p).await?;
    let id = guid_param(p, "campaignId")?;
    let mut tx = st.db.begin().await?;
    let n = sqlx::query(
        "UPDATE campaigns SET deleted_at = $3, status = 'cancelled', updated_at = $3
          WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
    )
    .bind(tenant.id.0)
    .bind(id)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Fail(code::NOT_FOUND, format!("campaign {id} not found")));
    }
    sqlx::query("DELETE FROM contacts WHERE tenant_id = $1 AND campaign_id = $2")
        .bind(tenant.id.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

// ---- contacts ------------------------------------------------------------------------

/// What is kept per channel in `contacts.attrs.onc.<channel>`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct StoredComm {
    #[serde(flatten)]
    comm: CommIn,
    /// On the opt-out / DNC list when added or updated → StatusCode 7.
    #[serde(default)]
    suppressed: bool,
}

/// The contact's channels; a contact made by another dialect (no `attrs.onc`) shows its
/// number on the campaign's channel (voice when mixed or unset) and its email as email.
fn stored_comms(c: &Contact, campaign_channel: Option<&str>) -> [Option<StoredComm>; 3] {
    match c.attrs.get("onc") {
        Some(onc) => CHANNELS.map(|(ch, _)| onc.get(ch).and_then(|v| serde_json::from_value(v.clone()).ok())),
        None => {
            let comm = |dest: &Option<String>, original: &Option<String>| {
                dest.as_ref().map(|d| StoredComm {
                    comm: CommIn {
                        destination: original.clone().or_else(|| Some(d.clone())),
                        normalized: Some(d.clone()),
                        text: None,
                        retry_count: Some(c.max_retries as i64),
                    },
                    suppressed: false,
                })
            };
            let phone = comm(&c.number, &c.original_number);
            let email = comm(&c.email, &None);
            if campaign_channel == Some("sms") {
                [phone, None, email]
            } else {
                [None, phone, email]
            }
        }
    }
}

/// The contact's attrs (ONC comms + `deliveries` for the scheduler) and its initial
/// shared status (pending when something is deliverable).
fn contact_attrs(existing: &Value, campaign: &CampaignInfo, comms: &[Option<StoredComm>; 3]) -> (Value, &'static str) {
    let mut attrs = match existing {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let mut onc = Map::new();
    let mut deliveries = Vec::new();
    let mut any_suppressed = false;
    for (i, (ch, _)) in CHANNELS.iter().enumerate() {
        let Some(s) = &comms[i] else { continue };
        onc.insert((*ch).into(), serde_json::to_value(s).unwrap_or(Value::Null));
        let Some(to) = &s.comm.normalized else { continue };
        if !campaign.enabled(ch) {
            continue;
        }
        if s.suppressed {
            any_suppressed = true;
            continue;
        }
        let (from, text) = campaign.sender_and_text(ch);
        // phone senders go out in E.164 (short codes and email addresses as given)
        let from = from.map(|f| match *ch {
            "sms" | "voice" => PhoneNumber::parse(&f).map(|p| p.e164).unwrap_or_else(|_| f.trim().to_string()),
            _ => f.trim().to_string(),
        });
        let body = s.comm.text.clone().filter(|t| !t.trim().is_empty()).or(text);
        let mut d = json!({"channel": ch, "to": to, "from": from, "body": body});
        if *ch == "email" {
            d["subject"] = json!(campaign.email.as_ref().and_then(|e| e.subject.clone()));
        }
        deliveries.push(d);
    }
    let code = if !deliveries.is_empty() {
        1
    } else if any_suppressed {
        7
    } else {
        0
    };
    attrs.insert("onc".into(), Value::Object(onc));
    attrs.insert("deliveries".into(), Value::Array(deliveries));
    (Value::Object(attrs), contact_status_for(code))
}

async fn store_comms(
    st: &AppState,
    tenant: TenantId,
    c: &ContactIn,
    campaign: &CampaignInfo,
    now: DateTime<Utc>,
) -> F<[Option<StoredComm>; 3]> {
    let mut out: [Option<StoredComm>; 3] = [None, None, None];
    for (i, (ch, _)) in CHANNELS.iter().enumerate() {
        let Some(comm) = &c.comms[i] else { continue };
        let mut comm = comm.clone();
        if comm.retry_count.is_none() {
            comm.retry_count = Some(campaign.default_retries());
        }
        let suppressed = match (&comm.normalized, *ch) {
            (Some(n), "sms" | "voice") => optlists::is_suppressed(&st.db, tenant, n, ch, now).await?,
            _ => false,
        };
        out[i] = Some(StoredComm { comm, suppressed });
    }
    Ok(out)
}

fn contact_columns(comms: &[Option<StoredComm>; 3]) -> (Option<String>, Option<String>, Option<String>, i32) {
    let norm = |i: usize| comms[i].as_ref().and_then(|s| s.comm.normalized.clone());
    let orig = |i: usize| comms[i].as_ref().and_then(|s| s.comm.destination.clone());
    let (number, original) = match norm(0) {
        Some(n) => (Some(n), orig(0)),
        None => (norm(1), orig(1)),
    };
    let retries = comms.iter().flatten().filter_map(|s| s.comm.retry_count).max().unwrap_or(0);
    (number, original, norm(2), retries as i32)
}

fn ensure_open(c: &Campaign, now: DateTime<Utc>) -> F<()> {
    if c.ends_at.is_some_and(|e| e < now) {
        return Err(Fail(
            code::NOT_ALLOWED,
            format!("campaign {} has ended (ActiveToDate is in the past)", c.id),
        ));
    }
    if matches!(c.status.as_str(), cs::CANCELLED | cs::FAILED) {
        return Err(Fail(code::NOT_ALLOWED, format!("campaign {} is {}", c.id, c.status)));
    }
    Ok(())
}

async fn add_contact(st: &AppState, p: &Map<String, Value>) -> F<()> {
    let (tenant, now) = session(st, p).await?;
    let c = types::read_contact(param(p, "contact"))?;
    let mut tx = st.db.begin().await?;
    let campaign = lock_campaign(&mut tx, tenant.id, c.campaign_id).await?;
    ensure_open(&campaign, now)?;
    let info = campaign_info(&campaign);
    let comms = store_comms(st, tenant.id, &c, &info, now).await?;
    let (attrs, status) = contact_attrs(&Value::Null, &info, &comms);
    let (number, original_number, email, max_retries) = contact_columns(&comms);
    let id = c.id.unwrap_or_else(Uuid::new_v4);
    contacts::lock_campaign(&mut tx, campaign.id, true).await?;
    contacts::insert(
        &mut *tx,
        tenant.id,
        campaign.id,
        NewContact {
            id: Some(id),
            number,
            original_number,
            email,
            status: Some(status.into()),
            max_retries,
            attrs,
            ..Default::default()
        },
        now,
    )
    .await
    .map_err(|e| match e {
        DomainError::Conflict(_) => Fail(code::ALREADY_EXISTS, format!("contact.Id: a contact with Id {id} already exists")),
        other => other.into(),
    })?;
    if campaign.status == cs::COMPLETED && status == cst::PENDING {
        // A finished campaign with new work runs again (the scheduler starts it).
        reschedule(&mut tx, tenant.id, campaign.id, onc_info(&campaign, &info), now).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn update_contact(st: &AppState, p: &Map<String, Value>) -> F<()> {
    let (tenant, now) = session(st, p).await?;
    let c = types::read_contact(param(p, "contact"))?;
    let id = c.id.ok_or_else(|| Fail(code::INVALID_ARGUMENT, "contact.Id: is required".into()))?;
    let mut tx = st.db.begin().await?;
    let campaign = lock_campaign(&mut tx, tenant.id, c.campaign_id).await?;
    let sql = format!(
        "SELECT {} FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 AND id = $3 FOR UPDATE",
        contacts::COLS
    );
    let cur = sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.id.0)
        .bind(campaign.id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Fail(code::NOT_FOUND, format!("contact {id} not found in campaign {}", campaign.id)))?;
    ensure_open(&campaign, now)?;
    let info = campaign_info(&campaign);
    let comms = store_comms(st, tenant.id, &c, &info, now).await?;
    let old = stored_comms(&cur, campaign.channel.as_deref());
    let changed = (0..3)
        .any(|i| comms[i].as_ref().and_then(|s| s.comm.normalized.clone()) != old[i].as_ref().and_then(|s| s.comm.normalized.clone()));
    let (attrs, initial) = contact_attrs(&cur.attrs, &info, &comms);
    // Destinations changed (or nothing attempted yet): the contact starts over.
    let status = if changed || cur.status == cst::PENDING || cur.status == cst::SKIPPED {
        initial
    } else {
        cur.status.as_str()
    };
    let (number, original_number, email, max_retries) = contact_columns(&comms);
    sqlx::query(
        "UPDATE contacts SET number = $3, original_number = $4, email = $5, max_retries = $6, attrs = $7, status = $8, updated_at = $9,
                attempts = CASE WHEN $10 THEN 0 ELSE attempts END
          WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.id.0)
    .bind(id)
    .bind(number)
    .bind(original_number)
    .bind(email)
    .bind(max_retries)
    .bind(attrs)
    .bind(status)
    .bind(now)
    // starting over: a fresh contact (StatusCode 1, the full RetryCount), not a retry (5)
    .bind(changed)
    .execute(&mut *tx)
    .await?;
    if campaign.status == cs::COMPLETED && status == cst::PENDING {
        reschedule(&mut tx, tenant.id, campaign.id, onc_info(&campaign, &info), now).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn delete_contact(st: &AppState, p: &Map<String, Value>) -> F<()> {
    let (tenant, _) = session(st, p).await?;
    let campaign = guid_param(p, "campaignId")?;
    let id = guid_param(p, "contactId")?;
    let n = sqlx::query(
        "DELETE FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 AND id = $3
            AND EXISTS (SELECT 1 FROM campaigns WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL)",
    )
    .bind(tenant.id.0)
    .bind(campaign)
    .bind(id)
    .execute(&st.db)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Fail(code::NOT_FOUND, format!("contact {id} not found in campaign {campaign}")));
    }
    Ok(())
}

async fn list_contacts(st: &AppState, p: &Map<String, Value>) -> F<(Campaign, Vec<Contact>)> {
    let (tenant, _) = session(st, p).await?;
    let id = guid_param(p, "campaignId")?;
    let campaign = campaigns::get(&st.db, tenant.id, id).await?;
    let sql = format!(
        "SELECT {} FROM contacts WHERE tenant_id = $1 AND campaign_id = $2 ORDER BY seq",
        contacts::COLS
    );
    let list = sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.id.0)
        .bind(id)
        .fetch_all(&st.db)
        .await?;
    Ok((campaign, list))
}

async fn get_contacts(st: &AppState, p: &Map<String, Value>) -> F<Vec<Value>> {
    let (campaign, list) = list_contacts(st, p).await?;
    // The latest delivery per contact and channel gives the per-channel outcome.
    let rows = sqlx::query(
        "SELECT DISTINCT ON (contact_id, channel) contact_id, channel, status FROM deliveries
          WHERE tenant_id = $1 AND campaign_id = $2 AND contact_id IS NOT NULL
          ORDER BY contact_id, channel, seq DESC",
    )
    .bind(campaign.tenant_id)
    .bind(campaign.id)
    .fetch_all(&st.db)
    .await?;
    let mut last: std::collections::HashMap<(Uuid, String), String> = Default::default();
    for r in rows {
        last.insert((r.try_get("contact_id")?, r.try_get("channel")?), r.try_get("status")?);
    }
    let info = campaign_info(&campaign);
    Ok(list
        .iter()
        .map(|c| {
            let stored = stored_comms(c, campaign.channel.as_deref());
            let comm = |i: usize| -> Option<CommInfo> {
                let (ch, _) = CHANNELS[i];
                let s = stored[i].as_ref()?;
                let delivered = last.get(&(c.id, ch.to_string()));
                let status_code = if s.comm.normalized.is_none() || !info.enabled(ch) {
                    0
                } else if s.suppressed {
                    7
                } else if c.status != cst::PENDING && delivered.is_some() {
                    delivered.map(|d| delivery_code(d).0).unwrap_or(0)
                } else {
                    status_code_for(&c.status, c.attempts)
                };
                let last_error = if c.status != cst::PENDING {
                    delivered.map(|d| delivery_code(d).1).unwrap_or(0)
                } else {
                    0
                };
                let retries = s.comm.retry_count.unwrap_or(0);
                Some(CommInfo {
                    destination: s.comm.destination.clone(),
                    text_to_send_overwrite: s.comm.text.clone(),
                    status_code,
                    last_delivery_error_code: last_error,
                    retry_count: (retries - c.attempts as i64).max(0),
                })
            };
            serde_json::to_value(ContactInfo {
                id: c.id,
                campaign_id: c.campaign_id,
                sms: comm(0),
                voice_comm_info: comm(1),
                email_comm_info: comm(2),
            })
            .unwrap_or(Value::Null)
        })
        .collect())
}
