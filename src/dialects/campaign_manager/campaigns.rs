//! Campaigns: create (multipart or JSON), cancel (PUT), delete, search, get.

use std::collections::HashSet;

use axum::extract::multipart::Field;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::announcements;
use super::wire::{
    clean, end_time_param, flat_page, fmt_time, json_text, ok, parse_time, sort_param, time_param, Body, Cm, CmError, CmResult, JsonObj,
    Paging, Query,
};
use super::{cm_status, domain_statuses_for};
use crate::domain::campaigns::{self as dc, status as cs, Campaign, NewCampaign};
use crate::domain::phone::PhoneNumber;
use crate::domain::{credits, parse_sid, sid, DomainError, TenantId};
use crate::state::AppState;

const PATH: &str = "/campaignmanager/campaigns/search";
/// Longest accepted line of a numbers file.
const MAX_LINE: usize = 4096;
/// Invalid lines echoed back in the create response.
const MAX_INVALID_SHOWN: usize = 100;

// ---------------------------------------------------------------------------- cost

/// The GSM 03.38 basic character set.
const GSM_BASIC: &str =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The GSM 03.38 extension table (each costs two septets).
const GSM_EXT: &str = "^{}\\[~]|€\u{000c}";

/// SMS segments of `body`: GSM-7 (160 single, 153 per part, extension characters count
/// double) when every character is in the GSM alphabet, else UCS-2 (70 single, 67 per
/// part, counted in UTF-16 units).
pub fn sms_segments(body: &str) -> i64 {
    let mut septets = 0i64;
    let mut gsm = true;
    for ch in body.chars() {
        if GSM_BASIC.contains(ch) {
            septets += 1;
        } else if GSM_EXT.contains(ch) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    if gsm {
        if septets <= 160 {
            1
        } else {
            (septets + 152) / 153
        }
    } else {
        let units = body.encode_utf16().count() as i64;
        if units <= 70 {
            1
        } else {
            (units + 66) / 67
        }
    }
}

// ---------------------------------------------------------------------------- input

/// Lines of the numbers files and the text fields of a create request.
#[derive(Debug, Default)]
struct Input {
    fields: Map<String, Value>,
    to_lines: Option<Vec<String>>,
    from_lines: Option<Vec<String>>,
}

impl Input {
    fn text(&self, name: &str) -> Option<String> {
        json_text(&Value::Object(self.fields.clone()), name)
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split([',', '\n', ';']).map(clean_line).filter(|l| !l.is_empty()).collect()
}

fn clean_line(l: &str) -> String {
    let l = l.trim_start_matches('\u{feff}');
    let first = l.split([',', ';', '\t']).next().unwrap_or("");
    clean(first)
}

pub(super) fn list_value(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(split_list(s)),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|x| match x {
                    Value::String(s) => Some(clean_line(s)),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .filter(|s| !s.is_empty())
                .collect(),
        ),
        Value::Number(n) => Some(vec![n.to_string()]),
        _ => None,
    }
}

fn mp_err(e: axum::extract::multipart::MultipartError) -> CmError {
    CmError::bad_request(format!("invalid multipart body: {}", e.body_text()))
}

/// Reads a newline-separated numbers file chunk by chunk; `budget` counts every byte of
/// the request against the upload limit.
pub async fn read_lines(mut field: Field<'_>, budget: &mut usize, limit: usize) -> CmResult<Vec<String>> {
    let mut out = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(mp_err)? {
        *budget += chunk.len();
        if *budget > limit {
            return Err(CmError::bad_request(format!("upload larger than {limit} bytes")).with_data(Value::Null));
        }
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n' || *b == b'\r') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let l = clean_line(&String::from_utf8_lossy(&line));
            if !l.is_empty() {
                out.push(l);
            }
        }
        if buf.len() > MAX_LINE {
            return Err(CmError::bad_request(format!("a line of the file is longer than {MAX_LINE} bytes")));
        }
    }
    let l = clean_line(&String::from_utf8_lossy(&buf));
    if !l.is_empty() {
        out.push(l);
    }
    Ok(out)
}

/// Reads and drops a part the endpoint does not use, counting it against the limit.
pub async fn drain(mut field: Field<'_>, budget: &mut usize, limit: usize) -> CmResult<()> {
    while let Some(chunk) = field.chunk().await.map_err(mp_err)? {
        *budget += chunk.len();
        if *budget > limit {
            return Err(CmError::bad_request(format!("upload larger than {limit} bytes")));
        }
    }
    Ok(())
}

/// A text part, at most 64 KiB.
pub async fn read_text(mut field: Field<'_>, budget: &mut usize, limit: usize) -> CmResult<String> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(mp_err)? {
        *budget += chunk.len();
        if *budget > limit || buf.len() + chunk.len() > 64 * 1024 {
            return Err(CmError::bad_request("a text field is longer than 64 KiB"));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(clean(&String::from_utf8_lossy(&buf)))
}

async fn read_input(body: Body, limit: usize) -> CmResult<Input> {
    let mut input = Input::default();
    match body {
        Body::Json(v) => {
            if let Value::Object(m) = &v {
                for (k, val) in m {
                    match k.as_str() {
                        "to" | "toFile" | "toNumbers" => {
                            if let Some(l) = list_value(val) {
                                input.to_lines.get_or_insert_with(Vec::new).extend(l);
                            }
                        }
                        "from" | "fromFile" | "fromNumbers" => {
                            if let Some(l) = list_value(val) {
                                input.from_lines.get_or_insert_with(Vec::new).extend(l);
                            }
                        }
                        _ => {
                            input.fields.insert(k.clone(), val.clone());
                        }
                    }
                }
            }
        }
        Body::Multipart(mut m) => {
            let mut budget = 0usize;
            while let Some(field) = m.next_field().await.map_err(mp_err)? {
                let name = field.name().unwrap_or("").to_string();
                match name.as_str() {
                    "toFile" | "to" => {
                        let l = read_lines(field, &mut budget, limit).await?;
                        input.to_lines.get_or_insert_with(Vec::new).extend(l);
                    }
                    "fromFile" | "from" => {
                        let l = read_lines(field, &mut budget, limit).await?;
                        input.from_lines.get_or_insert_with(Vec::new).extend(l);
                    }
                    "" => drain(field, &mut budget, limit).await?,
                    _ => {
                        let t = read_text(field, &mut budget, limit).await?;
                        input.fields.insert(name, Value::String(t));
                    }
                }
            }
        }
    }
    Ok(input)
}

/// Normalised, de-duplicated numbers and the lines that were not numbers.
fn normalise(lines: &[String]) -> (Vec<PhoneNumber>, Vec<String>) {
    let mut seen = HashSet::new();
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for l in lines {
        match PhoneNumber::parse(l) {
            Ok(p) => {
                if seen.insert(p.e164.clone()) {
                    good.push(p);
                }
            }
            Err(_) => bad.push(l.clone()),
        }
    }
    (good, bad)
}

/// A random source number with the given country prefix (12 digits in all).
fn random_from(prefix: &str) -> String {
    let n = Uuid::new_v4().as_u128();
    let want = 12usize.saturating_sub(prefix.len()).max(6);
    let digits: String = n.to_string().chars().rev().take(want).collect();
    format!("+{prefix}{digits}")
}

/// The numbers of `list` (E.164) that are blocked for `channel` (opt-out / DNC).
async fn suppressed_among(
    st: &AppState,
    tenant: TenantId,
    numbers: &[String],
    channel: &str,
    now: DateTime<Utc>,
) -> CmResult<HashSet<String>> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT number FROM suppressions
          WHERE tenant_id = $1 AND number = ANY($2)
            AND ((list = 'opt_out' AND $3 = ANY(channels)) OR list = 'dnc')
            AND (expires_at IS NULL OR expires_at > $4)",
    )
    .bind(tenant.0)
    .bind(numbers)
    .bind(channel)
    .bind(now)
    .fetch_all(&st.db)
    .await
    .map_err(DomainError::from)?;
    Ok(rows.into_iter().collect())
}

/// The numbers of `numbers` on the opt-in list `name`.
async fn opted_in_among(st: &AppState, tenant: TenantId, numbers: &[String], name: &str, now: DateTime<Utc>) -> CmResult<HashSet<String>> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT number FROM suppressions
          WHERE tenant_id = $1 AND list = 'opt_in' AND list_name = $2 AND number = ANY($3)
            AND (expires_at IS NULL OR expires_at > $4)",
    )
    .bind(tenant.0)
    .bind(name)
    .bind(numbers)
    .bind(now)
    .fetch_all(&st.db)
    .await
    .map_err(DomainError::from)?;
    Ok(rows.into_iter().collect())
}

// ---------------------------------------------------------------------------- render

fn attr<'a>(c: &'a Campaign, name: &str) -> Option<&'a Value> {
    c.attrs.get("cm").and_then(|m| m.get(name)).filter(|v| !v.is_null())
}

/// The vendor's campaign object. `status` overrides the mapped status (create says
/// "initiating").
/// Campaigns made by other dialects show the caller's account SID and email.
pub fn render(c: &Campaign, cm: &Cm, status: Option<&str>) -> Value {
    let s = sid("EC", c.id);
    let mut m = Map::new();
    m.insert("sid".into(), json!(s));
    m.insert("dateUpdated".into(), json!(fmt_time(c.updated_at)));
    m.insert("dateCreated".into(), json!(fmt_time(c.created_at)));
    m.insert(
        "accountSid".into(),
        attr(c, "accountSid").cloned().unwrap_or_else(|| json!(cm.account_sid)),
    );
    m.insert(
        "accountEmail".into(),
        attr(c, "accountEmail").cloned().unwrap_or_else(|| json!(cm.account_email)),
    );
    m.insert("uri".into(), json!(format!("/campaignmanager/campaigns/search/{s}")));
    m.insert("name".into(), json!(c.name));
    m.insert("startTime".into(), json!(fmt_time(c.starts_at.unwrap_or(c.created_at))));
    m.insert("enterpriseSid".into(), json!(cm.enterprise_sid));
    m.insert("total".into(), attr(c, "total").cloned().unwrap_or(json!(0)));
    m.insert("status".into(), json!(status.unwrap_or(cm_status(&c.status))));
    m.insert("fromPrefix".into(), attr(c, "fromPrefix").cloned().unwrap_or(json!("")));
    let channel = c.channel.clone().unwrap_or_else(|| c.kind.clone());
    m.insert("channel".into(), json!(channel));
    for k in ["body", "announcementSid", "rcmlUrl", "dialTimeout", "optOut", "optIn", "recipients"] {
        if let Some(v) = attr(c, k) {
            m.insert(k.into(), v.clone());
        }
    }
    Value::Object(m)
}

// ---------------------------------------------------------------------------- create

/// `POST /campaignmanager/campaigns`.
pub async fn create(State(st): State<AppState>, cm: Cm, body: Body) -> CmResult<Response> {
    let input = read_input(body, st.config.upload_limit).await?;
    let tenant = cm.tenant.id;
    let now = st.now(&cm.tenant);
    let echo = {
        let mut e = input.fields.clone();
        if let Some(t) = input.to_lines.as_ref().filter(|t| t.len() <= MAX_INVALID_SHOWN) {
            e.insert("to".into(), json!(t.join(",")));
        }
        Value::Object(e)
    };

    let name = input.text("name").ok_or_else(|| CmError::missing("name").with_data(echo.clone()))?;
    let channel = input
        .text("channel")
        .map(|c| c.to_ascii_lowercase())
        .unwrap_or_else(|| "sms".into());
    if channel != "sms" && channel != "voice" {
        return Err(CmError::bad_request(format!("channel '{channel}' must be sms or voice")).with_data(echo));
    }
    let starts_at = match input.text("startTime") {
        None => now,
        Some(t) => {
            let at = parse_time(&t).ok_or_else(|| CmError::date_format("startTime", &t).with_data(echo.clone()))?;
            if at < now {
                return Err(CmError::vendor(489, "Start Time is in past", echo));
            }
            at
        }
    };
    let body = input.text("body");
    let mut delivery_body = body.clone();
    let mut announcement_sid = None;
    let mut announcement_id = None;
    let mut rcml_url = None;
    let mut dial_timeout = None;
    if channel == "sms" {
        if body.is_none() {
            return Err(CmError::missing("body").with_data(echo));
        }
    } else {
        if let Some(a) = input.text("announcementSid") {
            let ann = announcements::find(&st, tenant, &a)
                .await?
                .ok_or_else(|| CmError::vendor(500, "Announcement not found", json!({"announcementSid": a})))?;
            delivery_body = Some(ann.say_or_play());
            announcement_id = Some(ann.id);
            announcement_sid = Some(sid("AN", ann.id));
        } else if let Some(u) = input.text("rcmlUrl") {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(CmError::bad_request("rcmlUrl must be an http(s) URL").with_data(echo));
            }
            delivery_body = Some(u.clone());
            rcml_url = Some(u);
        } else {
            return Err(CmError::missing("announcementSid or rcmlUrl").with_data(echo));
        }
        let dt = match input.text("dialTimeout") {
            None => 30,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=600).contains(n))
                .ok_or_else(|| CmError::bad_request(format!("dialTimeout '{v}' must be a number of seconds from 1 to 600")))?,
        };
        dial_timeout = Some(dt.to_string());
    }
    let opt_out = input.text("optOut");
    if let Some(o) = &opt_out {
        if !o.eq_ignore_ascii_case("Opt-Out") {
            return Err(CmError::bad_request(format!("optOut '{o}': the only possible value is \"Opt-Out\"")).with_data(echo));
        }
    }
    let opt_in = input.text("optIn").or_else(|| input.text("optInx"));

    // Sources.
    let mut from_prefix = String::new();
    let from_numbers: Vec<String> = match &input.from_lines {
        Some(lines) => {
            let (good, bad) = normalise(lines);
            if good.is_empty() || !bad.is_empty() {
                return Err(CmError::bad_request("fromFile must contain only valid phone numbers, one per line")
                    .with_data(json!({"invalidNumbers": bad})));
            }
            good.into_iter().map(|p| p.e164).collect()
        }
        None => {
            if let Some(p) = input.text("fromPrefix") {
                let digits = p.trim_start_matches('+');
                if digits.is_empty() || digits.len() > 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
                    return Err(CmError::bad_request(format!(
                        "fromPrefix '{p}' must be a country calling code (1 to 4 digits)"
                    )));
                }
                from_prefix = digits.to_string();
            }
            Vec::new()
        }
    };

    // Recipients.
    let to_lines = input
        .to_lines
        .as_ref()
        .ok_or_else(|| CmError::missing("toFile").with_data(echo.clone()))?;
    let (numbers, invalid) = normalise(to_lines);
    if numbers.is_empty() {
        return Err(CmError::bad_request("toFile has no valid phone number").with_data(json!({"invalidNumbers": invalid})));
    }
    let e164s: Vec<String> = numbers.iter().map(|p| p.e164.clone()).collect();
    let blocked = suppressed_among(&st, tenant, &e164s, &channel, now).await?;
    let allowed = match &opt_in {
        Some(list) => Some(opted_in_among(&st, tenant, &e164s, list, now).await?),
        None => None,
    };
    let recipients: Vec<&PhoneNumber> = numbers
        .iter()
        .filter(|p| !blocked.contains(&p.e164))
        .filter(|p| allowed.as_ref().map(|a| a.contains(&p.e164)).unwrap_or(true))
        .collect();
    let per = if channel == "sms" {
        sms_segments(body.as_deref().unwrap_or(""))
    } else {
        1
    };
    let total = per * recipients.len() as i64;

    let mut cmattrs = Map::new();
    cmattrs.insert("accountSid".into(), json!(cm.account_sid));
    cmattrs.insert("accountEmail".into(), json!(cm.account_email));
    cmattrs.insert("fromPrefix".into(), json!(from_prefix));
    cmattrs.insert("total".into(), json!(total));
    cmattrs.insert("recipients".into(), json!(recipients.len()));
    cmattrs.insert("segments".into(), json!(per));
    for (k, v) in [
        ("body", body.clone().filter(|_| channel == "sms")),
        ("announcementSid", announcement_sid.clone()),
        ("rcmlUrl", rcml_url),
        ("dialTimeout", dial_timeout),
        ("optOut", opt_out),
        ("optIn", opt_in),
    ] {
        if let Some(v) = v {
            cmattrs.insert(k.into(), json!(v));
        }
    }
    let attrs = json!({"cm": cmattrs, "body": delivery_body});

    let mut tx = st.db.begin().await.map_err(DomainError::from)?;
    // Take the tenant row lock the debit takes before inserting anything: the campaign's
    // foreign key would otherwise hold a KEY SHARE lock on it first and two concurrent
    // creations would deadlock upgrading it.
    sqlx::query("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE")
        .bind(tenant.0)
        .execute(&mut *tx)
        .await
        .map_err(DomainError::from)?;
    // Keep the announcement from being deleted until this campaign is committed.
    if let Some(aid) = announcement_id {
        let still: Option<i32> = sqlx::query_scalar("SELECT 1 FROM announcements WHERE tenant_id = $1 AND id = $2 FOR SHARE")
            .bind(tenant.0)
            .bind(aid)
            .fetch_optional(&mut *tx)
            .await
            .map_err(DomainError::from)?;
        if still.is_none() {
            return Err(CmError::vendor(
                500,
                "Announcement not found",
                json!({"announcementSid": announcement_sid}),
            ));
        }
    }
    let c = dc::create(
        &mut *tx,
        tenant,
        NewCampaign {
            id: None,
            name: name.clone(),
            kind: channel.clone(),
            status: Some(cs::SCHEDULED.into()),
            channel: Some(channel.clone()),
            starts_at: Some(starts_at),
            ends_at: None,
            attrs: Some(attrs),
        },
        now,
    )
    .await?;
    if total > 0 {
        credits::debit(
            &mut tx,
            tenant,
            total,
            &format!("Campaign {} ({})", c.name, sid("EC", c.id)),
            Some(c.id),
            now,
        )
        .await
        .map_err(|e| match e {
            DomainError::InsufficientCredits { needed, available } => CmError::vendor(
                488,
                "Credit is not enough",
                json!({"name": name, "total": needed, "available": available}),
            ),
            other => CmError::from(other),
        })?;
    }
    let tos: Vec<String> = recipients.iter().map(|p| p.e164.clone()).collect();
    let originals: Vec<String> = recipients.iter().map(|p| p.original.clone()).collect();
    let froms: Vec<String> = (0..recipients.len())
        .map(|i| {
            if from_numbers.is_empty() {
                if from_prefix.is_empty() {
                    String::new()
                } else {
                    random_from(&from_prefix)
                }
            } else {
                from_numbers[i % from_numbers.len()].clone()
            }
        })
        .collect();
    sqlx::query(
        "INSERT INTO contacts (id, tenant_id, campaign_id, number, original_number, outbound_number, status, attrs, created_at, updated_at)
         SELECT gen_random_uuid(), $1, $2, u.n, u.o, NULLIF(u.f, ''), 'pending',
                jsonb_build_object('deliveries', jsonb_build_array(
                    jsonb_build_object('channel', $3::text, 'to', u.n, 'from', NULLIF(u.f, ''), 'body', $4::text))),
                $5, $5
           FROM UNNEST($6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS u(n, o, f, i)
          WHERE EXISTS (SELECT 1 FROM campaigns WHERE tenant_id = $1 AND id = $2)
          ORDER BY u.i",
    )
    .bind(tenant.0)
    .bind(c.id)
    .bind(&channel)
    .bind(delivery_body.as_deref())
    .bind(now)
    .bind(&tos)
    .bind(&originals)
    .bind(&froms)
    .execute(&mut *tx)
    .await
    .map_err(DomainError::from)?;
    tx.commit().await.map_err(DomainError::from)?;
    tracing::info!(tenant = %tenant, campaign = %c.id, recipients = tos.len(), total, "campaign manager campaign scheduled");

    let mut data = render(&c, &cm, Some("initiating"));
    if let Value::Object(m) = &mut data {
        if !invalid.is_empty() {
            m.insert("invalidCount".into(), json!(invalid.len()));
            m.insert(
                "invalidNumbers".into(),
                json!(invalid.iter().take(MAX_INVALID_SHOWN).collect::<Vec<_>>()),
            );
        }
        let removed = numbers.len() - recipients.len();
        if removed > 0 {
            m.insert("filteredCount".into(), json!(removed));
        }
    }
    Ok((StatusCode::CREATED, Json(json!({"data": data, "code": 200, "message": "OK"}))).into_response())
}

// ---------------------------------------------------------------------------- cancel / delete

/// A campaign SID: `EC` + 32 hex (what create answers); the doc's update/delete/get
/// examples print `CP` + 32 hex, accepted as the same id.
fn campaign_id(s: &str) -> Option<Uuid> {
    let s = s.trim();
    parse_sid("EC", s).or_else(|| parse_sid("CP", s))
}

/// Recipients shown as `to` (comma list, as the doc's single-campaign examples) when the
/// campaign has at most this many.
const MAX_TO_SHOWN: i64 = 1000;

/// `render` plus the `to` list of single-campaign answers.
async fn render_one(st: &AppState, c: &Campaign, cm: &Cm) -> CmResult<Value> {
    let mut v = render(c, cm, None);
    let numbers: Vec<String> = sqlx::query_scalar(
        "SELECT COALESCE(NULLIF(trim(original_number), ''), number) FROM contacts
          WHERE tenant_id = $1 AND campaign_id = $2 AND number IS NOT NULL ORDER BY seq LIMIT $3",
    )
    .bind(c.tenant_id)
    .bind(c.id)
    .bind(MAX_TO_SHOWN + 1)
    .fetch_all(&st.db)
    .await
    .map_err(DomainError::from)?;
    if (numbers.len() as i64) <= MAX_TO_SHOWN {
        if let Value::Object(m) = &mut v {
            m.insert("to".into(), json!(numbers.join(",")));
        }
    }
    Ok(v)
}

async fn lock_campaign(tx: &mut sqlx::PgConnection, tenant: TenantId, id: Uuid) -> CmResult<Option<Campaign>> {
    let sql = format!(
        "SELECT {} FROM campaigns WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE",
        dc::COLS
    );
    Ok(sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(DomainError::from)?)
}

/// Cancels a scheduled campaign in `tx`: status, pending contacts, refund of the net debit.
async fn cancel_in(tx: &mut sqlx::PgConnection, tenant: TenantId, c: &Campaign, now: DateTime<Utc>, deleted: bool) -> CmResult<Campaign> {
    let updated = dc::transition(&mut *tx, tenant, c.id, dc::Event::Cancel, None, now).await?;
    sqlx::query(
        "UPDATE contacts SET status = 'cancelled', updated_at = $3 WHERE tenant_id = $1 AND campaign_id = $2 AND status = 'pending'",
    )
    .bind(tenant.0)
    .bind(c.id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(DomainError::from)?;
    let spent: i64 =
        sqlx::query_scalar("SELECT COALESCE(-sum(amount), 0)::bigint FROM credit_ledger WHERE tenant_id = $1 AND campaign_id = $2")
            .bind(tenant.0)
            .bind(c.id)
            .fetch_one(&mut *tx)
            .await
            .map_err(DomainError::from)?;
    if spent > 0 {
        let what = if deleted { "deleted" } else { "cancelled" };
        credits::add(
            &mut *tx,
            tenant,
            spent,
            &format!("Refund for {what} campaign {} ({})", c.name, sid("EC", c.id)),
            Some(c.id),
            now,
        )
        .await?;
    }
    if deleted {
        sqlx::query("UPDATE campaigns SET deleted_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(c.id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(DomainError::from)?;
    }
    Ok(updated)
}

/// `PUT /campaignmanager/campaigns/{sid}` `{"status": "cancelled"}`.
pub async fn update(State(st): State<AppState>, cm: Cm, Path(csid): Path<String>, JsonObj(body): JsonObj) -> CmResult<Response> {
    let status = json_text(&body, "status");
    let data = json!({"sid": csid, "status": status});
    let not_found = || CmError::vendor(486, "Enterprise campaign not found", data.clone());
    let id = campaign_id(&csid).ok_or_else(not_found)?;
    let Some(status) = status.clone() else {
        return Err(CmError::missing("status").with_data(data));
    };
    let s = status.to_ascii_lowercase();
    if s != "cancelled" && s != "canceled" {
        // A status of the state machine that cannot be reached by API (scheduled,
        // InProgress, …) is 487; a word that is no status at all is 483.
        if domain_statuses_for(&s).is_some() {
            return Err(CmError::vendor(487, "Campaign status cannot be updated", data));
        }
        return Err(CmError::vendor(483, "Campaign status is invalid", data));
    }
    let now = st.now(&cm.tenant);
    let mut tx = st.db.begin().await.map_err(DomainError::from)?;
    let c = lock_campaign(&mut tx, cm.tenant.id, id).await?.ok_or_else(not_found)?;
    if c.status != cs::SCHEDULED {
        return Err(CmError::vendor(487, "Campaign status cannot be updated", data));
    }
    let updated = cancel_in(&mut tx, cm.tenant.id, &c, now, false).await?;
    tx.commit().await.map_err(DomainError::from)?;
    Ok(ok(render_one(&st, &updated, &cm).await?))
}

/// `DELETE /campaignmanager/campaigns/{sid}` (only scheduled campaigns; refunds).
pub async fn delete(State(st): State<AppState>, cm: Cm, Path(csid): Path<String>) -> CmResult<Response> {
    let data = json!({"sid": csid});
    let not_found = || CmError::vendor(463, "Campaign not found", data.clone());
    let id = campaign_id(&csid).ok_or_else(not_found)?;
    let now = st.now(&cm.tenant);
    let mut tx = st.db.begin().await.map_err(DomainError::from)?;
    let c = lock_campaign(&mut tx, cm.tenant.id, id).await?.ok_or_else(not_found)?;
    if c.status != cs::SCHEDULED {
        return Err(CmError::vendor(464, "Campaign status not \"Scheduled\"", data));
    }
    cancel_in(&mut tx, cm.tenant.id, &c, now, true).await?;
    tx.commit().await.map_err(DomainError::from)?;
    Ok(ok(render_one(&st, &c, &cm).await?))
}

// ---------------------------------------------------------------------------- read

/// `GET /campaignmanager/campaigns/search/{sid}` (and `/numbermasking/…`).
pub async fn get_one(State(st): State<AppState>, cm: Cm, Path(csid): Path<String>) -> CmResult<Response> {
    let not_found = || CmError::vendor(463, "Campaign not found", json!({"sid": csid}));
    let id = campaign_id(&csid).ok_or_else(not_found)?;
    let c = match dc::get(&st.db, cm.tenant.id, id).await {
        Ok(c) => c,
        Err(DomainError::NotFound(_)) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    Ok(ok(render_one(&st, &c, &cm).await?))
}

/// `GET /campaignmanager/campaigns/search`.
pub async fn search(State(st): State<AppState>, cm: Cm, q: Query) -> CmResult<Response> {
    let paging = Paging::from_query(&q)?;
    let from = time_param(&q, "startTime")?;
    let to = end_time_param(&q)?;
    let statuses = match q.text("status") {
        None => None,
        Some(s) => Some(domain_statuses_for(&s).ok_or_else(|| CmError::vendor(483, "Campaign status is invalid", json!({"status": s})))?),
    };
    let channel = q.text("channel").map(|c| c.to_ascii_lowercase());
    let name = q.text("name");
    let sort = sort_param(&q, &["startTime", "name", "status"])?;
    let filters = |b: &mut QueryBuilder<sqlx::Postgres>| {
        b.push(" WHERE tenant_id = ")
            .push_bind(cm.tenant.id.0)
            .push(" AND deleted_at IS NULL");
        if let Some(n) = &name {
            let pat = format!("%{}%", n.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            b.push(" AND name ILIKE ").push_bind(pat);
        }
        if let Some(s) = &statuses {
            b.push(" AND status = ANY(")
                .push_bind(s.iter().map(|x| x.to_string()).collect::<Vec<_>>())
                .push(")");
        }
        if let Some(ch) = &channel {
            b.push(" AND COALESCE(channel, kind) = ").push_bind(ch.clone());
        }
        if let Some(f) = from {
            b.push(" AND created_at >= ").push_bind(f);
        }
        if let Some(t) = to {
            b.push(" AND created_at <= ").push_bind(t);
        }
    };
    let mut count = QueryBuilder::new("SELECT count(*) FROM campaigns");
    filters(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(&st.db).await.map_err(DomainError::from)?;
    let mut b = QueryBuilder::new(format!("SELECT {} FROM campaigns", dc::COLS));
    filters(&mut b);
    let order = match sort {
        Some(("startTime", d)) => format!("COALESCE(starts_at, created_at) {}", if d { "DESC" } else { "ASC" }),
        Some(("name", d)) => format!("lower(name) {}", if d { "DESC" } else { "ASC" }),
        Some((_, d)) => format!("status {}", if d { "DESC" } else { "ASC" }),
        None => "seq ASC".to_string(),
    };
    b.push(format!(" ORDER BY {order}, seq LIMIT "))
        .push_bind(paging.size)
        .push(" OFFSET ")
        .push_bind(paging.offset());
    let rows: Vec<Campaign> = b.build_query_as().fetch_all(&st.db).await.map_err(DomainError::from)?;
    let data = rows.iter().map(|c| render(c, &cm, None)).collect();
    Ok(flat_page(PATH, &q, paging, total, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments() {
        assert_eq!(sms_segments("Hello World 1"), 1);
        assert_eq!(sms_segments(&"a".repeat(160)), 1);
        assert_eq!(sms_segments(&"a".repeat(161)), 2);
        assert_eq!(sms_segments(&"a".repeat(306)), 2);
        assert_eq!(sms_segments(&"a".repeat(307)), 3);
        assert_eq!(sms_segments(&"[".repeat(80)), 1);
        assert_eq!(sms_segments(&"[".repeat(81)), 2);
        assert_eq!(sms_segments(&"é".repeat(160)), 1);
        assert_eq!(sms_segments(&"ж".repeat(70)), 1);
        assert_eq!(sms_segments(&"ж".repeat(71)), 2);
        assert_eq!(sms_segments(&"ж".repeat(134)), 2);
        assert_eq!(sms_segments(&"ж".repeat(135)), 3);
        assert_eq!(sms_segments("Hi 😀"), 1);
    }
}
