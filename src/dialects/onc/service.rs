//! The thirteen ONC methods, binding-independent: parameters come in as one JSON-shaped
//! object (the JSON binding's body, or the SOAP operation element turned into the same
//! shape), results go out as a [`Reply`] that each binding renders.
//!
//! Each method is: check the session, parse the parameters, make one domain call, render.
//! The SQL and the rules are in the domain (`sessions`, `campaign_ops`, `contact_ops`);
//! what stays here is pure ONC knowledge (how ONC fields sit in `attrs.onc`, what each
//! channel delivers, StatusCodes).

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::types::{self, CampaignInfo, CommIn, CommInfo, ContactIn, ContactInfo, ValidCampaign, CHANNELS};
use super::{channel_state, code, last_error_code, status_code_for, Method};
use crate::controls::faults;
use crate::domain::campaign_ops::{self, Replanned, UpdateCampaignRequest};
use crate::domain::campaigns::{self, kind, status as cs, Campaign, NewCampaign};
use crate::domain::contact_ops::{self, CampaignContacts, ContactPlan, ContactRequest, Destination, Screened};
use crate::domain::contacts::{status as cst, Contact, NewContact};
use crate::domain::credentials;
use crate::domain::delivery::{Policy, DEFAULT_DIAL_TIMEOUT_SECS, DEFAULT_RETRY_INTERVAL_SECS};
use crate::domain::phone::PhoneNumber;
use crate::domain::progress::{self, ChannelActivity, ContactsActivity};
use crate::domain::sessions;
use crate::domain::tenants::Tenant;
use crate::domain::DomainError;
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
    faults::set_operation(method.name());
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
        GetCampaignContactsListing => list_contacts(st, params, false)
            .await
            .map(|l| Reply::Guids(Some(l.contacts.iter().map(|c| c.id).collect()), String::new())),
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

/// `auth_sessions.kind` of ONC sessions.
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
    let cred = match st
        .reads
        .authenticate(&st.db, &st.creds, credentials::kind::ONC, &login, &pass)
        .await
    {
        Ok(c) => c,
        Err(DomainError::Unauthorized) => return fail(code::INVALID_CREDENTIALS, "Invalid credentials"),
        Err(e) => {
            let Fail(c, d) = e.into();
            return fail(c, &d);
        }
    };
    let result: F<String> = async {
        let tenant = st.reads.tenant(&st.db, cred.tenant_id).await?.tenant.clone();
        crate::controls::journal::note(&tenant);
        if let Some(r) = faults::check(st, tenant.id, "onc").await {
            return Err(Fail(code::INTERNAL, r.message));
        }
        let now = st.now(&tenant);
        let spec = sessions::OpenSession {
            kind: SESSION_KIND,
            credential: cred.id,
            token_len: 40,
            ttl: idle(st, &tenant),
            // housekeeping: the tenant's sessions dead for a day go
            prune_dead_after: Some(Duration::days(1)),
        };
        Ok(sessions::open(&st.db, tenant.id, spec, now).await?.token)
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
    let token = types::get_str(p, "sessionId")
        .filter(|s| !s.trim().is_empty())
        .ok_or(DomainError::Unauthorized)?;
    let s = sessions::touch_cached(&st.db, &st.reads, st.clock.as_ref(), SESSION_KIND, token.trim(), |t| idle(st, t)).await?;
    crate::controls::journal::note(&s.tenant);
    if let Some(r) = faults::check(st, s.tenant.id, "onc").await {
        return Err(Fail(code::INTERNAL, r.message));
    }
    Ok((s.tenant, s.now))
}

async fn close_session(st: &AppState, p: &Map<String, Value>) -> F<()> {
    let (tenant, now) = session(st, p).await?;
    let token = types::get_str(p, "sessionId").unwrap_or_default();
    sessions::close(&st.db, tenant.id, SESSION_KIND, token.trim(), now).await?;
    // This process forgets it at once; other replicas through the NOTIFY.
    st.reads.forget_session(&crate::domain::secrets::digest(token.trim()));
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
    Ok(campaign_ops::list_active(&st.db, tenant.id, now.date_naive()).await?)
}

async fn get_campaign(st: &AppState, p: &Map<String, Value>) -> F<Campaign> {
    let (tenant, _) = session(st, p).await?;
    let id = guid_param(p, "campaignId")?;
    Ok(campaigns::get(&st.db, tenant.id, id).await?)
}

/// The neutral delivery policy of an ONC campaign (`attrs.policy`, which the engine
/// reads): RetryMinutesInterval in seconds (not positive: the shared default, 5 minutes),
/// DialMsTimeout in whole seconds rounded up (not positive: the shared default, 30 s),
/// the daily window ActiveFromTime–ActiveToTime, ProgressWSEndpoint, and the end
/// ActiveToDate + ActiveToTime (`until`).
pub(super) fn policy(info: &CampaignInfo) -> Policy {
    let voice = info.voice.as_ref();
    let retry_interval_secs = voice
        .map(|v| v.retry_minutes_interval)
        .filter(|m| *m > 0)
        .map_or(DEFAULT_RETRY_INTERVAL_SECS, |m| m.saturating_mul(60));
    let dial_timeout_secs = voice
        .map(|v| v.dial_ms_timeout)
        .filter(|ms| *ms > 0)
        .map_or(DEFAULT_DIAL_TIMEOUT_SECS, |ms| ms.saturating_add(999) / 1000);
    let progress_url = info
        .progress_ws_endpoint
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string);
    Policy {
        retry_interval_secs,
        dial_timeout_secs: dial_timeout_secs.max(1),
        window: info.daily_window(),
        progress_url,
        until: info.active_until(),
    }
}

/// The `attrs` keys ONC sets on a campaign row (`onc`: the campaign info as sent;
/// `policy`: [`policy`]).
fn campaign_attrs(v: &ValidCampaign) -> Map<String, Value> {
    let mut info = v.info.clone();
    info.creation_date_utc = None;
    let mut attrs = Map::new();
    attrs.insert("onc".into(), serde_json::to_value(&info).unwrap_or(Value::Null));
    attrs.insert("policy".into(), serde_json::to_value(policy(&v.info)).unwrap_or(Value::Null));
    attrs
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
    let new = NewCampaign {
        id: Some(v.info.id),
        name: v.info.short_name.clone().unwrap_or_default(),
        kind: kind::ONC.into(),
        status: Some(status.into()),
        channel: Some(v.channel.into()),
        starts_at: Some(v.starts_at),
        ends_at: Some(v.ends_at),
        attrs: Some(Value::Object(campaign_attrs(&v))),
    };
    // The ID of one of this tenant's deleted campaigns is free again (DeleteCampaign
    // removed it): the row is reused (a new campaign, new CreationDateUtc, no contacts).
    campaign_ops::create_reusing_deleted(&st.db, tenant.id, new, now)
        .await
        .map_err(|e| match e {
            DomainError::Conflict(_) => Fail(
                code::ALREADY_EXISTS,
                format!("campaign.ID: a campaign with ID {} already exists", v.info.id),
            ),
            other => other.into(),
        })?;
    Ok(())
}

/// The next start of an ONC campaign row (its next daily window, else now); None for
/// another dialect's campaign (it keeps its `starts_at`).
fn reopen_at(c: &Campaign, info: &CampaignInfo, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    c.attrs.get("onc").is_some().then(|| info.next_window_start(now).unwrap_or(now))
}

async fn update_campaign(st: &AppState, p: &Map<String, Value>) -> F<()> {
    let (tenant, now) = session(st, p).await?;
    let v = types::read_campaign(param(p, "campaign"))?;
    if v.info.id.is_nil() {
        return Err(Fail(code::INVALID_ARGUMENT, "campaign.ID: is required".into()));
    }
    let req = UpdateCampaignRequest {
        id: v.info.id,
        name: v.info.short_name.clone().unwrap_or_default(),
        paused: v.info.is_paused,
        channel: Some(v.channel.into()),
        starts_at: Some(v.starts_at),
        ends_at: Some(v.ends_at),
        // a campaign waiting to run starts at its next daily window
        next_start: v.info.next_window_start(now),
        attrs: campaign_attrs(&v),
    };
    // Contacts not yet attempted deliver with the campaign's new settings.
    let replan = |cur: &Campaign, c: &Contact| {
        let stored = stored_comms(c, cur.channel.as_deref());
        let (attrs, status) = contact_attrs(&c.attrs, &v.info, &stored);
        Replanned {
            attrs,
            status: status.into(),
        }
    };
    campaign_ops::update(&st.db, tenant.id, req, replan, now).await?;
    Ok(())
}

async fn delete_campaign(st: &AppState, p: &Map<String, Value>) -> F<()> {
    let (tenant, now) = session(st, p).await?;
    let id = guid_param(p, "campaignId")?;
    campaign_ops::delete(&st.db, tenant.id, id, now).await.map_err(|e| match e {
        DomainError::NotFound(_) => Fail(code::NOT_FOUND, format!("campaign {id} not found")),
        other => other.into(),
    })
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
                        // attempts left: the first one and the retries
                        retry_count: Some(i64::from(c.max_retries) + 1),
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
    let status = contact_ops::initial_status(!deliveries.is_empty(), any_suppressed);
    attrs.insert("onc".into(), Value::Object(onc));
    attrs.insert("deliveries".into(), Value::Array(deliveries));
    (Value::Object(attrs), status)
}

/// The destinations of a contact as sent, for the domain to screen.
fn destinations(c: &ContactIn) -> Vec<Destination> {
    CHANNELS
        .iter()
        .zip(&c.comms)
        .filter_map(|((ch, _), comm)| {
            let address = comm.as_ref()?.normalized.clone()?;
            Some(Destination {
                channel: (*ch).to_string(),
                address,
            })
        })
        .collect()
}

/// The contact's channels as stored: as sent (RetryCount defaulting to the campaign's
/// MaxDeliveryRetries), each marked with the domain's screening.
fn store_comms(c: &ContactIn, campaign: &CampaignInfo, screened: &[Screened]) -> [Option<StoredComm>; 3] {
    let mut out: [Option<StoredComm>; 3] = [None, None, None];
    for (i, (ch, _)) in CHANNELS.iter().enumerate() {
        let Some(comm) = &c.comms[i] else { continue };
        let mut comm = comm.clone();
        if comm.retry_count.is_none() {
            comm.retry_count = Some(campaign.default_retries());
        }
        let suppressed = screened.iter().any(|s| s.channel == *ch && s.suppressed);
        out[i] = Some(StoredComm { comm, suppressed });
    }
    out
}

fn contact_columns(comms: &[Option<StoredComm>; 3]) -> (Option<String>, Option<String>, Option<String>, i32) {
    let norm = |i: usize| comms[i].as_ref().and_then(|s| s.comm.normalized.clone());
    let orig = |i: usize| comms[i].as_ref().and_then(|s| s.comm.destination.clone());
    let (number, original) = match norm(0) {
        Some(n) => (Some(n), orig(0)),
        None => (norm(1), orig(1)),
    };
    // RetryCount is the number of attempts left: the first attempt and max_retries retries
    let attempts = comms.iter().flatten().filter_map(|s| s.comm.retry_count).max().unwrap_or(0);
    let retries = i32::try_from((attempts - 1).max(0)).unwrap_or(i32::MAX);
    (number, original, norm(2), retries)
}

/// The planner the domain calls for AddCampaignContact and UpdateCampaignContact: the row
/// of an ONC contact in `campaign`, given the stored contact (on update) and the screening.
fn plan_contact(
    campaign: &Campaign,
    cur: Option<&Contact>,
    req: &ContactRequest<ContactIn>,
    screened: &[Screened],
    now: DateTime<Utc>,
) -> ContactPlan {
    let info = campaign_info(campaign);
    let comms = store_comms(&req.data, &info, screened);
    let (attrs, status) = contact_attrs(cur.map(|c| &c.attrs).unwrap_or(&Value::Null), &info, &comms);
    // Destinations changed: the contact starts over.
    let restart = cur.is_some_and(|cur| {
        let old = stored_comms(cur, campaign.channel.as_deref());
        let norm = |c: &Option<StoredComm>| c.as_ref().and_then(|s| s.comm.normalized.clone());
        (0..3).any(|i| norm(&comms[i]) != norm(&old[i]))
    });
    let (number, original_number, email, max_retries) = contact_columns(&comms);
    ContactPlan {
        fields: NewContact {
            number,
            original_number,
            email,
            status: Some(status.into()),
            max_retries,
            attrs,
            ..Default::default()
        },
        restart,
        reopen_at: reopen_at(campaign, &info, now),
    }
}

async fn add_contact(st: &AppState, p: &Map<String, Value>) -> F<()> {
    let (tenant, now) = session(st, p).await?;
    let c = types::read_contact(param(p, "contact"))?;
    let id = c.id.unwrap_or_else(Uuid::new_v4);
    let campaign = c.campaign_id;
    let req = ContactRequest {
        id: Some(id),
        destinations: destinations(&c),
        data: c,
    };
    let plan = |camp: &Campaign, cur: Option<&Contact>, r: &ContactRequest<ContactIn>, s: &[Screened]| plan_contact(camp, cur, r, s, now);
    contact_ops::add_many(&st.db, tenant.id, campaign, vec![req], plan, now)
        .await
        .map_err(|e| match e {
            DomainError::Conflict(_) => Fail(code::ALREADY_EXISTS, format!("contact.Id: a contact with Id {id} already exists")),
            DomainError::NotFound(_) => Fail(code::NOT_FOUND, format!("campaign {campaign} not found")),
            other => other.into(),
        })?;
    Ok(())
}

async fn update_contact(st: &AppState, p: &Map<String, Value>) -> F<()> {
    let (tenant, now) = session(st, p).await?;
    let c = types::read_contact(param(p, "contact"))?;
    let id = c.id.ok_or_else(|| Fail(code::INVALID_ARGUMENT, "contact.Id: is required".into()))?;
    let campaign = c.campaign_id;
    let req = ContactRequest {
        id: Some(id),
        destinations: destinations(&c),
        data: c,
    };
    let plan = |camp: &Campaign, cur: Option<&Contact>, r: &ContactRequest<ContactIn>, s: &[Screened]| plan_contact(camp, cur, r, s, now);
    contact_ops::update(&st.db, tenant.id, campaign, req, plan, now)
        .await
        .map_err(|e| match e {
            DomainError::NotFound("contact") => Fail(code::NOT_FOUND, format!("contact {id} not found in campaign {campaign}")),
            DomainError::NotFound(_) => Fail(code::NOT_FOUND, format!("campaign {campaign} not found")),
            other => other.into(),
        })?;
    Ok(())
}

async fn delete_contact(st: &AppState, p: &Map<String, Value>) -> F<()> {
    let (tenant, _) = session(st, p).await?;
    let campaign = guid_param(p, "campaignId")?;
    let id = guid_param(p, "contactId")?;
    contact_ops::delete(&st.db, tenant.id, campaign, id).await.map_err(|e| match e {
        DomainError::NotFound(_) => Fail(code::NOT_FOUND, format!("contact {id} not found in campaign {campaign}")),
        other => other.into(),
    })
}

async fn list_contacts(st: &AppState, p: &Map<String, Value>, with_deliveries: bool) -> F<CampaignContacts> {
    let (tenant, _) = session(st, p).await?;
    let id = guid_param(p, "campaignId")?;
    Ok(contact_ops::list(&st.db, tenant.id, id, with_deliveries).await?)
}

/// One CommunicationInfo of a contact as shown: StatusCode from the channel's state
/// ([`channel_state`] through the STATUS_TABLE), LastDeliveryErrorCode from its latest
/// finished attempt, RetryCount = the attempts left (the stored RetryCount less the
/// attempts made on the channel in the contact's current run).
fn comm_info(c: &Contact, s: &StoredComm, ch: &str, info: &CampaignInfo, act: Option<&ChannelActivity>) -> CommInfo {
    let status_code = if s.comm.normalized.is_none() || !info.enabled(ch) {
        0
    } else if s.suppressed {
        7
    } else {
        status_code_for(channel_state(&c.status, act.map(|a| a.status.as_str())), c.attempts)
    };
    let last_error = if c.status == cst::PENDING {
        0
    } else {
        last_error_code(act.and_then(|a| a.last_outcome.as_deref()))
    };
    let used = act.map_or(0, |a| a.tries).min(c.attempts).max(0);
    CommInfo {
        destination: s.comm.destination.clone(),
        text_to_send_overwrite: s.comm.text.clone(),
        status_code,
        last_delivery_error_code: last_error,
        retry_count: (s.comm.retry_count.unwrap_or(0) - i64::from(used)).max(0),
    }
}

async fn get_contacts(st: &AppState, p: &Map<String, Value>) -> F<Vec<Value>> {
    let (tenant, _) = session(st, p).await?;
    let id = guid_param(p, "campaignId")?;
    let ContactsActivity {
        campaign,
        contacts,
        channels,
    } = progress::contacts_activity(&st.db, tenant.id, id).await?;
    let info = campaign_info(&campaign);
    Ok(contacts
        .iter()
        .map(|c| {
            let stored = stored_comms(c, campaign.channel.as_deref());
            let comm = |i: usize| -> Option<CommInfo> {
                let (ch, _) = CHANNELS[i];
                let s = stored[i].as_ref()?;
                Some(comm_info(c, s, ch, &info, channels.get(&(c.id, ch.to_string()))))
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
