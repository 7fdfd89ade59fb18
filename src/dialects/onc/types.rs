//! The ONC data contracts (field names exactly as the vendor doc prints them), read
//! leniently from either binding's parameters (JSON values, or the text of XML elements
//! turned into the same shape) and validated here, field by field.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::domain::phone::PhoneNumber;
use crate::domain::DomainError;

/// `OutboundSMSNotificationInfo`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SmsInfo {
    pub enabled: bool,
    pub from_number: Option<String>,
    pub text_to_send: Option<String>,
}

/// `OutboundVoiceNotificationInfo`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct VoiceInfo {
    pub enabled: bool,
    pub dial_ms_timeout: i64,
    pub calling_name: Option<String>,
    pub calling_number: Option<String>,
    pub text_to_speak: Option<String>,
    #[serde(rename = "TTSVoiceName")]
    pub tts_voice_name: Option<String>,
    pub max_text_plays: i64,
    pub max_delivery_retries: i64,
    pub retry_minutes_interval: i64,
}

/// `OutboundEmailNotificationInfo`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct EmailInfo {
    pub enabled: bool,
    pub from_email: Option<String>,
    pub subject: Option<String>,
    pub html_content: Option<String>,
}

/// `OutboundNotificationCampaignInfo`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct CampaignInfo {
    #[serde(rename = "ID")]
    pub id: Uuid,
    pub creation_date_utc: Option<String>,
    pub short_name: Option<String>,
    pub description: Option<String>,
    pub is_paused: bool,
    pub active_from_date: Option<String>,
    pub active_from_time: Option<String>,
    pub active_to_date: Option<String>,
    pub active_to_time: Option<String>,
    #[serde(rename = "OutboundSMSNotificationInfo")]
    pub sms: Option<SmsInfo>,
    #[serde(rename = "OutboundVoiceNotificationInfo")]
    pub voice: Option<VoiceInfo>,
    #[serde(rename = "OutboundEmailNotificationInfo")]
    pub email: Option<EmailInfo>,
    pub allow_adding_contacts_from_external_apps: bool,
    pub sms_notification_required: bool,
    pub voice_notification_required: bool,
    pub email_notification_required: bool,
    #[serde(rename = "ProgressWSEndpoint")]
    pub progress_ws_endpoint: Option<String>,
}

/// `CommunicationInfo`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct CommInfo {
    pub destination: Option<String>,
    pub text_to_send_overwrite: Option<String>,
    pub status_code: i32,
    pub last_delivery_error_code: i32,
    pub retry_count: i64,
}

/// `OutboundNotificationContactInfo`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContactInfo {
    pub id: Uuid,
    pub campaign_id: Uuid,
    #[serde(rename = "SMSCommInfo")]
    pub sms: Option<CommInfo>,
    pub voice_comm_info: Option<CommInfo>,
    pub email_comm_info: Option<CommInfo>,
}

/// The three channels, with the contact field that carries each.
pub const CHANNELS: [(&str, &str); 3] = [("sms", "SMSCommInfo"), ("voice", "VoiceCommInfo"), ("email", "EmailCommInfo")];

/// A validated campaign with its schedule as instants (UTC).
#[derive(Debug, Clone)]
pub struct ValidCampaign {
    pub info: CampaignInfo,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub channel: &'static str,
}

impl CampaignInfo {
    /// Whether the campaign delivers on `channel`.
    pub fn enabled(&self, channel: &str) -> bool {
        match channel {
            "sms" => self.sms.as_ref().is_some_and(|s| s.enabled),
            "voice" => self.voice.as_ref().is_some_and(|s| s.enabled),
            "email" => self.email.as_ref().is_some_and(|s| s.enabled),
            _ => false,
        }
    }

    /// The campaign-level sender and text of `channel`.
    pub fn sender_and_text(&self, channel: &str) -> (Option<String>, Option<String>) {
        match channel {
            "sms" => self.sms.as_ref().map(|s| (s.from_number.clone(), s.text_to_send.clone())),
            "voice" => self.voice.as_ref().map(|s| (s.calling_number.clone(), s.text_to_speak.clone())),
            "email" => self.email.as_ref().map(|s| (s.from_email.clone(), s.html_content.clone())),
            _ => None,
        }
        .unwrap_or((None, None))
    }

    /// The first instant at or after `now` inside the campaign's delivery window: between
    /// ActiveFromDate and ActiveToDate, each day from ActiveFromTime to ActiveToTime (a
    /// window whose end time is before its start time runs overnight). None once the
    /// campaign has ended or when its dates are unreadable.
    pub fn next_window_start(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let d0 = parse_date(self.active_from_date.as_deref()?)?;
        let d1 = parse_date(self.active_to_date.as_deref()?)?;
        let t0 = self.active_from_time.as_deref().and_then(parse_time).unwrap_or(NaiveTime::MIN);
        let t1 = self
            .active_to_time
            .as_deref()
            .and_then(parse_time)
            .unwrap_or(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN));
        let first = NaiveDateTime::new(d0, t0).and_utc();
        let last = NaiveDateTime::new(d1, t1).and_utc();
        if now > last {
            return None;
        }
        let from_day = now.date_naive().max(d0).pred_opt()?;
        for day in from_day.iter_days().take(4) {
            let open = NaiveDateTime::new(day, t0).and_utc().max(first);
            let close_day = if t0 <= t1 { day } else { day.succ_opt()? };
            let close = NaiveDateTime::new(close_day, t1).and_utc().min(last);
            if open <= close && close >= now {
                return Some(open.max(now));
            }
        }
        None
    }

    /// The daily window ActiveFromTime–ActiveToTime as the engine reads it (UTC times of
    /// day; `to` exclusive, an end before the start spans midnight). ActiveToTime
    /// 23:59:59 (also the default) is the end of the day; None (no window) when the
    /// campaign delivers all day.
    pub fn daily_window(&self) -> Option<crate::domain::delivery::Window> {
        let whole = |t: NaiveTime| t.with_nanosecond(0).unwrap_or(t);
        let end_of_day = NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN);
        let from = self.active_from_time.as_deref().and_then(parse_time).map_or(NaiveTime::MIN, whole);
        let to = self.active_to_time.as_deref().and_then(parse_time).map_or(end_of_day, whole);
        let to = if to == end_of_day { NaiveTime::MIN } else { to };
        (from != to).then_some(crate::domain::delivery::Window { from, to })
    }

    /// The end of the campaign as the engine reads it (`policy.until`): ActiveToDate at
    /// ActiveToTime, UTC on the tenant clock; ActiveToTime 23:59:59 (also the default) is
    /// the end of that day. None when ActiveToDate is unreadable.
    pub fn active_until(&self) -> Option<DateTime<Utc>> {
        let d1 = parse_date(self.active_to_date.as_deref()?)?;
        let end_of_day = NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN);
        let t1 = self
            .active_to_time
            .as_deref()
            .and_then(parse_time)
            .map_or(end_of_day, |t| t.with_nanosecond(0).unwrap_or(t));
        let until = NaiveDateTime::new(d1, t1).and_utc();
        Some(if t1 == end_of_day {
            until + chrono::Duration::seconds(1)
        } else {
            until
        })
    }

    /// Default RetryCount of a contact: the campaign's MaxDeliveryRetries.
    pub fn default_retries(&self) -> i64 {
        self.voice.as_ref().map(|v| v.max_delivery_retries).unwrap_or(0)
    }
}

// ---- lenient readers -------------------------------------------------------------------

type R<T> = Result<T, DomainError>;

fn bad(path: &str, msg: &str) -> DomainError {
    DomainError::validation(path, msg)
}

/// `obj[key]`, exact name first, then case-insensitively.
pub fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key)
        .or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// A string (numbers and booleans as their text); null/missing → None.
pub fn get_str(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match field(obj, key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn get_bool(obj: &Map<String, Value>, key: &str, path: &str) -> R<Option<bool>> {
    match field(obj, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.trim() {
            "" => Ok(None),
            "true" | "1" | "True" => Ok(Some(true)),
            "false" | "0" | "False" => Ok(Some(false)),
            _ => Err(bad(path, "must be true or false")),
        },
        Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(Some(false)),
        Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(Some(true)),
        Some(_) => Err(bad(path, "must be true or false")),
    }
}

fn get_int(obj: &Map<String, Value>, key: &str, path: &str) -> R<Option<i64>> {
    match field(obj, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad(path, "must be an integer")),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse::<i64>().map(Some).map_err(|_| bad(path, "must be an integer")),
        Some(_) => Err(bad(path, "must be an integer")),
    }
}

/// An object; an empty XML element (`""`) is an object with every field missing.
pub fn get_obj(obj: &Map<String, Value>, key: &str, path: &str) -> R<Option<Map<String, Value>>> {
    match field(obj, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(Map::new())),
        Some(_) => Err(bad(path, "must be an object")),
    }
}

/// A Guid; missing/blank → None.
pub fn get_guid(obj: &Map<String, Value>, key: &str, path: &str) -> R<Option<Uuid>> {
    match get_str(obj, key) {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => Uuid::try_parse(s.trim()).map(Some).map_err(|_| bad(path, "is not a valid Guid")),
    }
}

fn non_blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub use crate::domain::directory::valid_email;

fn valid_http_url(s: &str) -> bool {
    let rest = s.strip_prefix("http://").or_else(|| s.strip_prefix("https://"));
    match rest {
        Some(r) => {
            let host = r.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let day = s.split('T').next().unwrap_or(s);
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S%.f"))
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()
        .or_else(|| parse_duration_time(s))
}

/// A time of day written as .NET's DataContractSerializer writes a `TimeSpan`
/// (`xs:duration`, e.g. `PT9H30M`, `PT17H0M15S`, `PT0S`), for clients whose `Time`
/// properties are `TimeSpan`s. Less than a day only.
fn parse_duration_time(s: &str) -> Option<NaiveTime> {
    let mut rest = s.strip_prefix("PT")?;
    if rest.is_empty() {
        return None;
    }
    let (mut h, mut m, mut sec) = (0u32, 0u32, 0f64);
    let mut last = 0;
    while !rest.is_empty() {
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (num, tail) = rest.split_at(end);
        let unit = tail.chars().next()?;
        let order = match unit {
            'H' => 1,
            'M' => 2,
            'S' => 3,
            _ => return None,
        };
        if num.is_empty() || order <= last || (unit != 'S' && num.contains('.')) {
            return None;
        }
        last = order;
        match unit {
            'H' => h = num.parse().ok()?,
            'M' => m = num.parse().ok()?,
            _ => sec = num.parse().ok()?,
        }
        rest = &tail[1..];
    }
    let total = f64::from(h) * 3600.0 + f64::from(m) * 60.0 + sec;
    if !(0.0..86400.0).contains(&total) {
        return None;
    }
    NaiveTime::from_num_seconds_from_midnight_opt(total.floor() as u32, 0)
}

fn phone(path: &str, s: &str) -> R<PhoneNumber> {
    PhoneNumber::parse(s).map_err(|_| bad(path, "is not a valid phone number"))
}

/// Whether `s` is an SMS short code (3 to 8 digits, nothing else).
pub fn is_short_code(s: &str) -> bool {
    let s = s.trim();
    (3..=8).contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit())
}

/// An SMS sender: a phone number, or a short code (notification campaigns often send
/// from one).
fn sms_sender(path: &str, s: &str) -> R<()> {
    if is_short_code(s) {
        return Ok(());
    }
    phone(path, s).map(|_| ())
}

/// Reads and validates an `OutboundNotificationCampaignInfo`.
pub fn read_campaign(v: Option<&Value>) -> R<ValidCampaign> {
    let obj = match v {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) if s.trim().is_empty() => Map::new(),
        None | Some(Value::Null) => return Err(bad("campaign", "is required")),
        Some(_) => return Err(bad("campaign", "must be an object")),
    };
    let p = |f: &str| format!("campaign.{f}");
    let id = get_guid(&obj, "ID", &p("ID"))?.unwrap_or(Uuid::nil());
    let short_name = get_str(&obj, "ShortName");
    if non_blank(&short_name).is_none() {
        return Err(bad(&p("ShortName"), "is required"));
    }
    let from_date = get_str(&obj, "ActiveFromDate")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| bad(&p("ActiveFromDate"), "is required (yyyy-MM-dd)"))?;
    let from_date = parse_date(&from_date).ok_or_else(|| bad(&p("ActiveFromDate"), "must be a date yyyy-MM-dd"))?;
    let to_date = get_str(&obj, "ActiveToDate")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| bad(&p("ActiveToDate"), "is required (yyyy-MM-dd)"))?;
    let to_date = parse_date(&to_date).ok_or_else(|| bad(&p("ActiveToDate"), "must be a date yyyy-MM-dd"))?;
    let time = |key: &str, default: NaiveTime| -> R<NaiveTime> {
        match get_str(&obj, key).filter(|s| !s.trim().is_empty()) {
            None => Ok(default),
            Some(s) => parse_time(&s).ok_or_else(|| bad(&p(key), "must be a time HH:mm:ss")),
        }
    };
    let from_time = time("ActiveFromTime", NaiveTime::MIN)?;
    let to_time = time("ActiveToTime", NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN))?;
    let starts_at = NaiveDateTime::new(from_date, from_time).and_utc();
    let ends_at = NaiveDateTime::new(to_date, to_time).and_utc();
    if starts_at > ends_at {
        return Err(bad(&p("ActiveToDate"), "must not be before ActiveFromDate/ActiveFromTime"));
    }

    let sms = match get_obj(&obj, "OutboundSMSNotificationInfo", &p("OutboundSMSNotificationInfo"))? {
        None => None,
        Some(m) => {
            let q = |f: &str| format!("campaign.OutboundSMSNotificationInfo.{f}");
            let s = SmsInfo {
                enabled: get_bool(&m, "Enabled", &q("Enabled"))?.unwrap_or(false),
                from_number: get_str(&m, "FromNumber"),
                text_to_send: get_str(&m, "TextToSend"),
            };
            if s.enabled {
                let n = non_blank(&s.from_number).ok_or_else(|| bad(&q("FromNumber"), "is required when SMS is enabled"))?;
                sms_sender(&q("FromNumber"), n)?;
                non_blank(&s.text_to_send).ok_or_else(|| bad(&q("TextToSend"), "is required when SMS is enabled"))?;
            } else if let Some(n) = non_blank(&s.from_number) {
                sms_sender(&q("FromNumber"), n)?;
            }
            Some(s)
        }
    };
    let voice = match get_obj(&obj, "OutboundVoiceNotificationInfo", &p("OutboundVoiceNotificationInfo"))? {
        None => None,
        Some(m) => {
            let q = |f: &str| format!("campaign.OutboundVoiceNotificationInfo.{f}");
            let nonneg = |key: &str| -> R<i64> {
                let v = get_int(&m, key, &q(key))?.unwrap_or(0);
                if v < 0 {
                    return Err(bad(&q(key), "must not be negative"));
                }
                if v > i32::MAX as i64 {
                    return Err(bad(&q(key), "is too large"));
                }
                Ok(v)
            };
            let s = VoiceInfo {
                enabled: get_bool(&m, "Enabled", &q("Enabled"))?.unwrap_or(false),
                dial_ms_timeout: nonneg("DialMsTimeout")?,
                calling_name: get_str(&m, "CallingName"),
                calling_number: get_str(&m, "CallingNumber"),
                text_to_speak: get_str(&m, "TextToSpeak"),
                tts_voice_name: get_str(&m, "TTSVoiceName"),
                max_text_plays: nonneg("MaxTextPlays")?,
                max_delivery_retries: nonneg("MaxDeliveryRetries")?,
                retry_minutes_interval: nonneg("RetryMinutesInterval")?,
            };
            if s.max_delivery_retries > 255 {
                return Err(bad(&q("MaxDeliveryRetries"), "must be between 0 and 255"));
            }
            if s.enabled {
                let n = non_blank(&s.calling_number).ok_or_else(|| bad(&q("CallingNumber"), "is required when voice is enabled"))?;
                phone(&q("CallingNumber"), n)?;
                non_blank(&s.text_to_speak).ok_or_else(|| bad(&q("TextToSpeak"), "is required when voice is enabled"))?;
            } else if let Some(n) = non_blank(&s.calling_number) {
                phone(&q("CallingNumber"), n)?;
            }
            Some(s)
        }
    };
    let email = match get_obj(&obj, "OutboundEmailNotificationInfo", &p("OutboundEmailNotificationInfo"))? {
        None => None,
        Some(m) => {
            let q = |f: &str| format!("campaign.OutboundEmailNotificationInfo.{f}");
            let s = EmailInfo {
                enabled: get_bool(&m, "Enabled", &q("Enabled"))?.unwrap_or(false),
                from_email: get_str(&m, "FromEmail"),
                subject: get_str(&m, "Subject"),
                html_content: get_str(&m, "HtmlContent"),
            };
            if s.enabled {
                let e = non_blank(&s.from_email).ok_or_else(|| bad(&q("FromEmail"), "is required when email is enabled"))?;
                if !valid_email(e) {
                    return Err(bad(&q("FromEmail"), "is not a valid email address"));
                }
                non_blank(&s.subject).ok_or_else(|| bad(&q("Subject"), "is required when email is enabled"))?;
                non_blank(&s.html_content).ok_or_else(|| bad(&q("HtmlContent"), "is required when email is enabled"))?;
            } else if let Some(e) = non_blank(&s.from_email) {
                if !valid_email(e) {
                    return Err(bad(&q("FromEmail"), "is not a valid email address"));
                }
            }
            Some(s)
        }
    };
    let progress = get_str(&obj, "ProgressWSEndpoint");
    if let Some(u) = non_blank(&progress) {
        if !valid_http_url(u) {
            return Err(bad(&p("ProgressWSEndpoint"), "must be an absolute http(s) URL"));
        }
    }
    let info = CampaignInfo {
        id,
        creation_date_utc: None,
        short_name: short_name.map(|s| s.trim().to_string()),
        description: get_str(&obj, "Description"),
        is_paused: get_bool(&obj, "IsPaused", &p("IsPaused"))?.unwrap_or(false),
        active_from_date: Some(from_date.format("%Y-%m-%d").to_string()),
        active_from_time: Some(from_time.format("%H:%M:%S").to_string()),
        active_to_date: Some(to_date.format("%Y-%m-%d").to_string()),
        active_to_time: Some(to_time.format("%H:%M:%S").to_string()),
        sms,
        voice,
        email,
        allow_adding_contacts_from_external_apps: get_bool(
            &obj,
            "AllowAddingContactsFromExternalApps",
            &p("AllowAddingContactsFromExternalApps"),
        )?
        .unwrap_or(false),
        sms_notification_required: get_bool(&obj, "SmsNotificationRequired", &p("SmsNotificationRequired"))?.unwrap_or(false),
        voice_notification_required: get_bool(&obj, "VoiceNotificationRequired", &p("VoiceNotificationRequired"))?.unwrap_or(false),
        email_notification_required: get_bool(&obj, "EmailNotificationRequired", &p("EmailNotificationRequired"))?.unwrap_or(false),
        progress_ws_endpoint: progress,
    };
    let enabled: Vec<&str> = ["sms", "voice", "email"].into_iter().filter(|c| info.enabled(c)).collect();
    let channel = match enabled.as_slice() {
        [] => return Err(bad("campaign", "at least one of SMS, voice or email delivery must be enabled")),
        ["sms"] => "sms",
        ["voice"] => "voice",
        ["email"] => "email",
        _ => "mixed",
    };
    Ok(ValidCampaign {
        info,
        starts_at,
        ends_at,
        channel,
    })
}

/// One channel of a contact as the client sent it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CommIn {
    /// The client's text (echoed back as sent).
    pub destination: Option<String>,
    /// E.164 for phone channels, the trimmed address for email; None when blank.
    pub normalized: Option<String>,
    pub text: Option<String>,
    pub retry_count: Option<i64>,
}

/// A contact as the client sent it (StatusCode and LastDeliveryErrorCode are ignored).
#[derive(Debug, Clone)]
pub struct ContactIn {
    pub id: Option<Uuid>,
    pub campaign_id: Uuid,
    /// sms, voice, email in [`CHANNELS`] order; None when the client sent no CommunicationInfo.
    pub comms: [Option<CommIn>; 3],
}

/// Reads and validates an `OutboundNotificationContactInfo`.
pub fn read_contact(v: Option<&Value>) -> R<ContactIn> {
    let obj = match v {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) if s.trim().is_empty() => Map::new(),
        None | Some(Value::Null) => return Err(bad("contact", "is required")),
        Some(_) => return Err(bad("contact", "must be an object")),
    };
    let id = get_guid(&obj, "Id", "contact.Id")?.filter(|u| !u.is_nil());
    let campaign_id = get_guid(&obj, "CampaignId", "contact.CampaignId")?
        .filter(|u| !u.is_nil())
        .ok_or_else(|| bad("contact.CampaignId", "is required"))?;
    let mut comms: [Option<CommIn>; 3] = [None, None, None];
    for (i, (channel, key)) in CHANNELS.iter().enumerate() {
        let path = format!("contact.{key}");
        let Some(m) = get_obj(&obj, key, &path)? else { continue };
        let destination = get_str(&m, "Destination");
        let normalized = match non_blank(&destination) {
            None => None,
            Some(d) if *channel == "email" => {
                if !valid_email(d) {
                    return Err(bad(&format!("{path}.Destination"), "is not a valid email address"));
                }
                Some(d.to_string())
            }
            Some(d) => Some(phone(&format!("{path}.Destination"), d)?.e164),
        };
        let retry_count = get_int(&m, "RetryCount", &format!("{path}.RetryCount"))?;
        if let Some(r) = retry_count {
            if !(0..=255).contains(&r) {
                return Err(bad(&format!("{path}.RetryCount"), "must be between 0 and 255"));
            }
        }
        comms[i] = Some(CommIn {
            destination,
            normalized,
            text: get_str(&m, "TextToSendOverwrite"),
            retry_count,
        });
    }
    Ok(ContactIn { id, campaign_id, comms })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"ShortName": "x", "ActiveFromDate": "2026-01-01", "ActiveToDate": "2026-12-31",
               "OutboundSMSNotificationInfo": {"Enabled": true, "FromNumber": "+17608675309", "TextToSend": "hi"}})
    }

    #[test]
    fn times_as_timespan_durations() {
        let t = |h, m, s| NaiveTime::from_hms_opt(h, m, s);
        assert_eq!(parse_time("PT9H"), t(9, 0, 0));
        assert_eq!(parse_time("PT9H30M"), t(9, 30, 0));
        assert_eq!(parse_time("PT17H0M15S"), t(17, 0, 15));
        assert_eq!(parse_time("PT45M"), t(0, 45, 0));
        assert_eq!(parse_time("PT0S"), t(0, 0, 0));
        assert_eq!(parse_time("PT23H59M59.5S"), t(23, 59, 59));
        for bad in ["PT", "PT24H", "PT1M2H", "P1D", "PT9X", "PTH", "PT1.5H"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn daily_windows() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let mut c = read_campaign(Some(&base())).unwrap().info;
        c.active_from_date = Some("2026-01-10".into());
        c.active_to_date = Some("2026-01-20".into());
        c.active_from_time = Some("09:00:00".into());
        c.active_to_time = Some("17:00:00".into());
        let w = |now: &str| c.next_window_start(at(now));
        assert_eq!(w("2026-01-01T12:00:00Z"), Some(at("2026-01-10T09:00:00Z")), "before the first day");
        assert_eq!(
            w("2026-01-12T08:00:00Z"),
            Some(at("2026-01-12T09:00:00Z")),
            "before the day's window"
        );
        assert_eq!(w("2026-01-12T12:00:00Z"), Some(at("2026-01-12T12:00:00Z")), "inside");
        assert_eq!(w("2026-01-12T18:00:00Z"), Some(at("2026-01-13T09:00:00Z")), "after: next day");
        assert_eq!(w("2026-01-20T18:00:00Z"), None, "ended");
        c.active_from_time = Some("22:00:00".into());
        c.active_to_time = Some("06:00:00".into());
        let w = |now: &str| c.next_window_start(at(now));
        assert_eq!(
            w("2026-01-12T03:00:00Z"),
            Some(at("2026-01-12T03:00:00Z")),
            "overnight, after midnight"
        );
        assert_eq!(
            w("2026-01-12T12:00:00Z"),
            Some(at("2026-01-12T22:00:00Z")),
            "overnight, daytime gap"
        );
        assert_eq!(
            w("2026-01-10T03:00:00Z"),
            Some(at("2026-01-10T22:00:00Z")),
            "not before the first evening"
        );
    }

    #[test]
    fn sms_senders() {
        let mut v = base();
        v["OutboundSMSNotificationInfo"]["FromNumber"] = json!("24273");
        assert!(read_campaign(Some(&v)).is_ok());
        for bad in ["12", "123456789", "24 273x", "abc"] {
            v["OutboundSMSNotificationInfo"]["FromNumber"] = json!(bad);
            assert!(read_campaign(Some(&v)).is_err(), "{bad}");
        }
    }

    #[test]
    fn campaign_rules() {
        let c = read_campaign(Some(&base())).unwrap();
        assert_eq!(c.channel, "sms");
        assert_eq!(c.info.active_to_time.as_deref(), Some("23:59:59"));
        let mut v = base();
        v["ActiveToDate"] = json!("2025-01-01");
        assert!(read_campaign(Some(&v)).is_err());
        let mut v = base();
        v["OutboundSMSNotificationInfo"]["Enabled"] = json!("false");
        let e = read_campaign(Some(&v)).unwrap_err().to_string();
        assert!(e.contains("at least one"), "{e}");
        let mut v = base();
        v["ProgressWSEndpoint"] = json!("ftp://x");
        assert!(read_campaign(Some(&v)).unwrap_err().to_string().contains("ProgressWSEndpoint"));
        assert!(valid_email("a@b.co") && !valid_email("a@b") && !valid_email("a b@c.d"));
    }
}
