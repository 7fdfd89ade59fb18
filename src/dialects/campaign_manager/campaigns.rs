//! Campaigns: create (multipart or JSON), cancel (PUT), delete, search, get.

use std::collections::HashSet;

use axum::extract::multipart::Field;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::announcements;
use super::wire::{
    clean, end_time_param, flat_page, fmt_time, json_text, ok, parse_time, sort_param, time_param, Body, Cm, CmError, CmResult, JsonObj,
    Paging, Query,
};
use super::{cm_status, count_key, domain_statuses_for, COUNT_ORDER};
use crate::domain::campaign_launch::{self, LaunchRequest, Senders};
use crate::domain::campaign_search::{self, Sort};
use crate::domain::campaigns::{self as dc, Campaign};
use crate::domain::phone::PhoneNumber;
use crate::domain::{parse_sid, sid, DomainError};
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

// ---------------------------------------------------------------------------- render

fn attr<'a>(c: &'a Campaign, name: &str) -> Option<&'a Value> {
    c.attrs.get("cm").and_then(|m| m.get(name)).filter(|v| !v.is_null())
}

/// What the domain recorded at launch (`attrs.launch`): `cost`, `recipients`.
fn launch_attr<'a>(c: &'a Campaign, name: &str) -> Option<&'a Value> {
    c.attrs.get("launch").and_then(|m| m.get(name)).filter(|v| !v.is_null())
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
    let total = attr(c, "total").or_else(|| launch_attr(c, "cost"));
    m.insert("total".into(), total.cloned().unwrap_or(json!(0)));
    m.insert("status".into(), json!(status.unwrap_or(cm_status(&c.status))));
    m.insert("fromPrefix".into(), attr(c, "fromPrefix").cloned().unwrap_or(json!("")));
    let channel = c.channel.clone().unwrap_or_else(|| c.kind.clone());
    m.insert("channel".into(), json!(channel));
    for k in ["body", "announcementSid", "rcmlUrl", "dialTimeout", "optOut", "optIn"] {
        if let Some(v) = attr(c, k) {
            m.insert(k.into(), v.clone());
        }
    }
    if let Some(v) = attr(c, "recipients").or_else(|| launch_attr(c, "recipients")) {
        m.insert("recipients".into(), v.clone());
    }
    Value::Object(m)
}

// ---------------------------------------------------------------------------- create

/// What a voice or SMS campaign delivers.
#[derive(Debug, Default)]
struct Content {
    /// The SMS text (sms only).
    body: Option<String>,
    /// What each delivery says or plays.
    delivery: Option<String>,
    announcement: Option<Uuid>,
    announcement_sid: Option<String>,
    rcml_url: Option<String>,
    dial_timeout: Option<String>,
}

/// `body` (sms); `announcementSid` or `rcmlUrl`, and `dialTimeout` (voice).
async fn parse_content(st: &AppState, cm: &Cm, input: &Input, channel: &str, echo: &Value) -> CmResult<Content> {
    let body = input.text("body");
    if channel == "sms" {
        return match body {
            None => Err(CmError::missing("body").with_data(echo.clone())),
            Some(b) => Ok(Content {
                delivery: Some(b.clone()),
                body: Some(b),
                ..Content::default()
            }),
        };
    }
    let mut c = Content::default();
    if let Some(a) = input.text("announcementSid") {
        let ann = announcements::find(st, cm.tenant.id, &a)
            .await?
            .ok_or_else(|| CmError::vendor(500, "Announcement not found", json!({"announcementSid": a})))?;
        c.delivery = Some(announcements::say_or_play(&ann));
        c.announcement = Some(ann.id);
        c.announcement_sid = Some(sid("AN", ann.id));
    } else if let Some(u) = input.text("rcmlUrl") {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(CmError::bad_request("rcmlUrl must be an http(s) URL").with_data(echo.clone()));
        }
        c.delivery = Some(u.clone());
        c.rcml_url = Some(u);
    } else {
        return Err(CmError::missing("announcementSid or rcmlUrl").with_data(echo.clone()));
    }
    let dt = match input.text("dialTimeout") {
        None => 30,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=600).contains(n))
            .ok_or_else(|| CmError::bad_request(format!("dialTimeout '{v}' must be a number of seconds from 1 to 600")))?,
    };
    c.dial_timeout = Some(dt.to_string());
    Ok(c)
}

/// `fromFile` numbers (round robin), else `fromPrefix` (random numbers), else none; and
/// the prefix as the campaign shows it.
fn parse_senders(input: &Input) -> CmResult<(Senders, String)> {
    if let Some(lines) = &input.from_lines {
        let (good, bad) = normalise(lines);
        if good.is_empty() || !bad.is_empty() {
            return Err(CmError::bad_request("fromFile must contain only valid phone numbers, one per line")
                .with_data(json!({"invalidNumbers": bad})));
        }
        return Ok((Senders::RoundRobin(good.into_iter().map(|p| p.e164).collect()), String::new()));
    }
    let Some(p) = input.text("fromPrefix") else {
        return Ok((Senders::None, String::new()));
    };
    let digits = p.trim_start_matches('+');
    if digits.is_empty() || digits.len() > 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(CmError::bad_request(format!(
            "fromPrefix '{p}' must be a country calling code (1 to 4 digits)"
        )));
    }
    let country_code = digits.to_string();
    Ok((
        Senders::Random {
            country_code: country_code.clone(),
        },
        country_code,
    ))
}

/// The campaign's `attrs.cm`: who made it and the vendor fields its reads show.
fn vendor_attrs(
    cm: &Cm,
    content: &Content,
    from_prefix: &str,
    segments: i64,
    opt_out: Option<String>,
    opt_in: Option<String>,
) -> Map<String, Value> {
    let mut attrs = Map::new();
    attrs.insert("accountSid".into(), json!(cm.account_sid));
    attrs.insert("accountEmail".into(), json!(cm.account_email));
    attrs.insert("fromPrefix".into(), json!(from_prefix));
    attrs.insert("segments".into(), json!(segments));
    for (k, v) in [
        ("body", content.body.clone()),
        ("announcementSid", content.announcement_sid.clone()),
        ("rcmlUrl", content.rcml_url.clone()),
        ("dialTimeout", content.dial_timeout.clone()),
        ("optOut", opt_out),
        ("optIn", opt_in),
    ] {
        if let Some(v) = v {
            attrs.insert(k.into(), json!(v));
        }
    }
    attrs
}

/// A create request read into a launch, with the lines that were not numbers.
async fn parse_create(st: &AppState, cm: &Cm, input: &Input, now: DateTime<Utc>) -> CmResult<(LaunchRequest, Vec<String>)> {
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
    let content = parse_content(st, cm, input, &channel, &echo).await?;
    let opt_out = input.text("optOut");
    if let Some(o) = opt_out.as_ref().filter(|o| !o.eq_ignore_ascii_case("Opt-Out")) {
        return Err(CmError::bad_request(format!("optOut '{o}': the only possible value is \"Opt-Out\"")).with_data(echo));
    }
    let opt_in = input.text("optIn").or_else(|| input.text("optInx"));
    let (senders, from_prefix) = parse_senders(input)?;
    let to_lines = input.to_lines.as_ref().ok_or_else(|| CmError::missing("toFile").with_data(echo))?;
    let (recipients, invalid) = normalise(to_lines);
    if recipients.is_empty() {
        return Err(CmError::bad_request("toFile has no valid phone number").with_data(json!({"invalidNumbers": invalid})));
    }
    let per = match &content.body {
        Some(b) => sms_segments(b),
        None => 1,
    };
    let attrs = vendor_attrs(cm, &content, &from_prefix, per, opt_out, opt_in.clone());
    // The engine's delivery policy: a call rings `dialTimeout` seconds; no retries.
    let dial_timeout = content.dial_timeout.as_deref().and_then(|d| d.parse::<i64>().ok()).unwrap_or(30);
    let policy = json!({"dial_timeout_secs": dial_timeout});
    let id = Uuid::new_v4();
    let req = LaunchRequest {
        id,
        name,
        kind: channel.clone(),
        channel,
        starts_at,
        recipients,
        senders,
        body: content.delivery,
        cost_per_contact: per,
        opt_in_lists: opt_in.into_iter().collect(),
        refuse_suppressed: false,
        announcement: content.announcement,
        attrs: Map::from_iter([("cm".to_string(), Value::Object(attrs)), ("policy".to_string(), policy)]),
        reference: sid("EC", id),
    };
    Ok((req, invalid))
}

/// `POST /campaignmanager/campaigns`: suppressed numbers (and, with `optIn`, numbers not
/// on that list) are left out and counted in `filteredCount`.
pub async fn create(State(st): State<AppState>, cm: Cm, body: Body) -> CmResult<Response> {
    let input = read_input(body, st.config.upload_limit).await?;
    let now = st.now(&cm.tenant);
    let (req, invalid) = parse_create(&st, &cm, &input, now).await?;
    let name = req.name.clone();
    let announcement_sid = req.announcement.map(|a| sid("AN", a));
    let launched = campaign_launch::launch(&st.db, cm.tenant.id, req, now).await.map_err(|e| match e {
        DomainError::InsufficientCredits { needed, available } => CmError::vendor(
            488,
            "Credit is not enough",
            json!({"name": name, "total": needed, "available": available}),
        ),
        DomainError::NotFound("announcement") => {
            CmError::vendor(500, "Announcement not found", json!({"announcementSid": announcement_sid}))
        }
        other => other.into(),
    })?;
    let mut data = render(&launched.campaign, &cm, Some("initiating"));
    if let Value::Object(m) = &mut data {
        if !invalid.is_empty() {
            m.insert("invalidCount".into(), json!(invalid.len()));
            m.insert(
                "invalidNumbers".into(),
                json!(invalid.iter().take(MAX_INVALID_SHOWN).collect::<Vec<_>>()),
            );
        }
        if launched.filtered() > 0 {
            m.insert("filteredCount".into(), json!(launched.filtered()));
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

/// `render` plus the `to` list and the `counts` per outcome of single-campaign answers.
async fn render_one(st: &AppState, c: &Campaign, cm: &Cm) -> CmResult<Value> {
    let mut v = render(c, cm, None);
    let numbers = campaign_search::recipient_numbers(&st.db, cm.tenant.id, c.id, MAX_TO_SHOWN + 1).await?;
    let rows = campaign_search::outcome_counts(&st.db, cm.tenant.id, c.id).await?;
    if let Value::Object(m) = &mut v {
        if (numbers.len() as i64) <= MAX_TO_SHOWN {
            m.insert("to".into(), json!(numbers.join(",")));
        }
        m.insert("counts".into(), counts(&rows));
    }
    Ok(v)
}

/// `counts`: every key of [`COUNT_ORDER`] with its number of contacts.
fn counts(rows: &[(String, Option<String>, i64)]) -> Value {
    let mut m: Map<String, Value> = COUNT_ORDER.iter().map(|k| (k.to_string(), json!(0))).collect();
    for (status, outcome, n) in rows {
        let k = count_key(status, outcome.as_deref());
        let prev = m.get(k).and_then(Value::as_i64).unwrap_or(0);
        m.insert(k.to_string(), json!(prev + n));
    }
    Value::Object(m)
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
    let done = campaign_launch::cancel(&st.db, cm.tenant.id, id, false, &sid("EC", id), now)
        .await
        .map_err(|e| match e {
            DomainError::NotFound(_) => not_found(),
            DomainError::InvalidState(_) => CmError::vendor(487, "Campaign status cannot be updated", data.clone()),
            other => other.into(),
        })?;
    Ok(ok(render_one(&st, &done.after, &cm).await?))
}

/// `DELETE /campaignmanager/campaigns/{sid}` (only scheduled campaigns; refunds; answers
/// the campaign as it was).
pub async fn delete(State(st): State<AppState>, cm: Cm, Path(csid): Path<String>) -> CmResult<Response> {
    let data = json!({"sid": csid});
    let not_found = || CmError::vendor(463, "Campaign not found", data.clone());
    let id = campaign_id(&csid).ok_or_else(not_found)?;
    let now = st.now(&cm.tenant);
    let done = campaign_launch::cancel(&st.db, cm.tenant.id, id, true, &sid("EC", id), now)
        .await
        .map_err(|e| match e {
            DomainError::NotFound(_) => not_found(),
            DomainError::InvalidState(_) => CmError::vendor(464, "Campaign status not \"Scheduled\"", data.clone()),
            other => other.into(),
        })?;
    Ok(ok(render_one(&st, &done.before, &cm).await?))
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
    let created_from = time_param(&q, "startTime")?;
    let created_to = end_time_param(&q)?;
    let statuses = match q.text("status") {
        None => None,
        Some(s) => Some(domain_statuses_for(&s).ok_or_else(|| CmError::vendor(483, "Campaign status is invalid", json!({"status": s})))?),
    };
    let (sort, descending) = match sort_param(&q, &["startTime", "name", "status"])? {
        Some(("startTime", d)) => (Sort::StartTime, d),
        Some(("name", d)) => (Sort::Name, d),
        Some((_, d)) => (Sort::Status, d),
        None => (Sort::Created, false),
    };
    let filter = campaign_search::Filter {
        name_contains: q.text("name"),
        statuses: statuses.map(|s| s.iter().map(|x| x.to_string()).collect()),
        channel: q.text("channel").map(|c| c.to_ascii_lowercase()),
        created_from,
        created_to,
        sort,
        descending,
        offset: paging.offset(),
        limit: paging.size,
    };
    let (total, rows) = campaign_search::search(&st.db, cm.tenant.id, &filter).await?;
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
