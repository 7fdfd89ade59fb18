//! Announcements: text-to-speech ("say") or an uploaded WAV ("play"), used by voice campaigns.

use axum::body::Body as HttpBody;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::campaigns::drain;
use super::wire::{
    end_time_param, fmt_time, json_text, nested_page, ok, sort_param, time_param, Body, Cm, CmError, CmResult, JsonObj, Paging, Query,
};
use crate::domain::announcements::{self as da, kind as ak, Announcement, AnnouncementUpdate, Content, NewAnnouncement};
use crate::domain::{blobs, parse_sid, sid, DomainError, TenantId};
use crate::state::AppState;

const PATH: &str = "/campaignmanager/announcement/search";
const FILE_PATH: &str = "/campaignmanager/internal/announcement/file";

/// Locales of the supported Google TTS voices (`google.<locale>-Standard-<A..D>`).
const TTS_LOCALES: &[&str] = &[
    "ar-XA", "bn-IN", "cmn-CN", "cs-CZ", "da-DK", "de-DE", "el-GR", "en-AU", "en-GB", "en-IN", "en-US", "es-ES", "es-US", "fi-FI",
    "fil-PH", "fr-CA", "fr-FR", "gu-IN", "he-IL", "hi-IN", "hu-HU", "id-ID", "it-IT", "ja-JP", "kn-IN", "ko-KR", "ml-IN", "nb-NO", "nl-NL",
    "pl-PL", "pt-BR", "pt-PT", "ro-RO", "ru-RU", "sk-SK", "sv-SE", "ta-IN", "te-IN", "th-TH", "tr-TR", "uk-UA", "vi-VN", "yue-HK",
];

/// Whether `lang` is a supported TTS language: `google.<locale>-Standard-<A|B|C|D>`, or a
/// bare locale / its two-letter language (the RCML `<Say>` shapes).
pub fn supported_language(lang: &str) -> bool {
    if let Some(rest) = lang.strip_prefix("google.") {
        if let Some((loc, variant)) = rest.rsplit_once("-Standard-") {
            return TTS_LOCALES.contains(&loc) && matches!(variant, "A" | "B" | "C" | "D");
        }
        return false;
    }
    TTS_LOCALES
        .iter()
        .any(|l| l.eq_ignore_ascii_case(lang) || l.split('-').next().is_some_and(|p| p.eq_ignore_ascii_case(lang)))
}

/// What a call plays: the TTS text, or the file URI.
pub fn say_or_play(a: &Announcement) -> String {
    match (&a.kind[..], &a.body, &a.file_name) {
        (ak::SAY, Some(b), _) => b.clone(),
        (_, _, Some(f)) => format!("{FILE_PATH}/{f}"),
        _ => String::new(),
    }
}

/// The announcement with this SID, if it is the tenant's.
pub async fn find(st: &AppState, tenant: TenantId, asid: &str) -> CmResult<Option<Announcement>> {
    // The doc's "Get Single Announcement" example prints an `AAE` prefix: the same id.
    let Some(id) = parse_sid("AN", asid.trim()).or_else(|| parse_sid("AAE", asid.trim())) else {
        return Ok(None);
    };
    match da::get(&st.db, tenant, id).await {
        Ok(a) => Ok(Some(a)),
        Err(DomainError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn not_found(asid: &str) -> CmError {
    CmError::vendor_ec(500, "Announcement not found", json!({"sid": asid}))
}

/// Maps a domain error of an announcement call: NotFound is the vendor's 500.
fn or_not_found(asid: &str) -> impl FnOnce(DomainError) -> CmError + '_ {
    move |e| match e {
        DomainError::NotFound(_) => not_found(asid),
        other => other.into(),
    }
}

fn render(a: &Announcement, cm: &Cm) -> Value {
    let s = sid("AN", a.id);
    let mut m = Map::new();
    m.insert("sid".into(), json!(s));
    m.insert("dateUpdated".into(), json!(fmt_time(a.updated_at)));
    m.insert("dateCreated".into(), json!(fmt_time(a.created_at)));
    m.insert("accountEmail".into(), json!(cm.account_email));
    m.insert("uri".into(), json!(format!("{PATH}/{s}")));
    m.insert("name".into(), json!(a.name));
    if let Some(d) = &a.description {
        m.insert("description".into(), json!(d));
    }
    if let Some(f) = &a.file_name {
        if a.kind == ak::PLAY || a.blob_id.is_some() {
            m.insert("fileUri".into(), json!(format!("{FILE_PATH}/{f}")));
        }
    }
    m.insert("enterpriseSid".into(), json!(cm.enterprise_sid));
    m.insert("type".into(), json!(a.kind));
    if a.kind == ak::SAY {
        m.insert("body".into(), json!(a.body));
        m.insert("language".into(), json!(a.language));
        m.insert("voice".into(), json!(a.voice));
    }
    Value::Object(m)
}

/// The validated say/play fields of a create or update (`file_name` left to the caller).
fn spec(b: &Value, update: bool) -> CmResult<Content> {
    let kind = json_text(b, "type")
        .ok_or_else(|| CmError::missing("type").ec())?
        .to_ascii_lowercase();
    match kind.as_str() {
        ak::PLAY => Ok(Content {
            kind,
            ..Content::default()
        }),
        ak::SAY => {
            let body = json_text(b, "body").ok_or_else(|| CmError::missing("body").ec())?;
            let language = json_text(b, "language").ok_or_else(|| CmError::missing("language").ec())?;
            let voice = json_text(b, "voice").ok_or_else(|| CmError::missing("voice").ec())?;
            if voice != "man" && voice != "woman" {
                return Err(CmError::vendor_ec(
                    522,
                    "Announcement voice type should be man or woman.",
                    json!({"voice": voice}),
                ));
            }
            if !supported_language(&language) {
                let msg = if update {
                    "Announcement Language is not supported"
                } else {
                    "Announcement Language Not Found"
                };
                return Err(CmError::vendor_ec(521, msg, json!({"language": language})));
            }
            Ok(Content {
                kind,
                body: Some(body),
                language: Some(language),
                voice: Some(voice),
                file_name: None,
            })
        }
        other => Err(CmError::bad_request(format!("type '{other}' must be say or play")).ec()),
    }
}

fn file_name(id: Uuid, now: DateTime<Utc>) -> String {
    format!("{}_{}.wav", sid("AN", id), now.timestamp_millis())
}

/// `POST /campaignmanager/announcement`.
pub async fn create(State(st): State<AppState>, cm: Cm, body: Result<JsonObj, CmError>) -> CmResult<Response> {
    let JsonObj(b) = body.map_err(CmError::ec)?;
    let ent = json_text(&b, "enterpriseSid").ok_or_else(|| CmError::missing("enterpriseSid").ec())?;
    if ent != cm.enterprise_sid {
        return Err(CmError::vendor_ec(467, "Enterprise not found", json!({"sid": ent})));
    }
    let name = json_text(&b, "name").ok_or_else(|| CmError::missing("name").ec())?;
    let mut content = spec(&b, false)?;
    let now = st.now(&cm.tenant);
    let id = Uuid::new_v4();
    content.file_name = (content.kind == ak::PLAY).then(|| file_name(id, now));
    let new = NewAnnouncement {
        id,
        name,
        description: json_text(&b, "description"),
        content,
        account: Some(cm.account_sid.clone()),
    };
    let a = da::create(&st.db, cm.tenant.id, new, now).await?;
    Ok(ok(render(&a, &cm)))
}

/// `PUT /campaignmanager/announcement/{sid}`.
pub async fn update(State(st): State<AppState>, cm: Cm, Path(asid): Path<String>, body: Result<JsonObj, CmError>) -> CmResult<Response> {
    let JsonObj(b) = body.map_err(CmError::ec)?;
    let a = find(&st, cm.tenant.id, &asid).await?.ok_or_else(|| not_found(&asid))?;
    let mut content = spec(&b, true)?;
    let now = st.now(&cm.tenant);
    content.file_name = if content.kind == ak::PLAY {
        a.file_name.clone().or_else(|| Some(file_name(a.id, now)))
    } else {
        a.file_name.clone()
    };
    let u = AnnouncementUpdate {
        name: json_text(&b, "name"),
        description: json_text(&b, "description"),
        content,
    };
    let a = da::update(&st.db, cm.tenant.id, a.id, u, now).await.map_err(or_not_found(&asid))?;
    Ok(ok(render(&a, &cm)))
}

/// `DELETE /campaignmanager/announcement/{sid}` (507 while an active campaign uses it).
pub async fn delete(State(st): State<AppState>, cm: Cm, Path(asid): Path<String>) -> CmResult<Response> {
    let a = find(&st, cm.tenant.id, &asid).await?.ok_or_else(|| not_found(&asid))?;
    let a = da::delete(&st.db, cm.tenant.id, a.id).await.map_err(|e| match e {
        DomainError::InvalidState(_) => CmError::vendor_ec(
            507,
            "This Announcement cannot be deleted as it is being used in a campaign.",
            json!({"sid": sid("AN", a.id)}),
        ),
        other => or_not_found(&asid)(other),
    })?;
    Ok(ok(render(&a, &cm)))
}

/// `GET /campaignmanager/announcement/search/{sid}`.
pub async fn get_one(State(st): State<AppState>, cm: Cm, Path(asid): Path<String>) -> CmResult<Response> {
    let a = find(&st, cm.tenant.id, &asid).await?.ok_or_else(|| not_found(&asid))?;
    Ok(ok(render(&a, &cm)))
}

/// `GET /campaignmanager/announcement/search`.
pub async fn search(State(st): State<AppState>, cm: Cm, q: Query) -> CmResult<Response> {
    let paging = Paging::from_query(&q).map_err(CmError::ec)?;
    let from = time_param(&q, "startTime").map_err(CmError::ec)?;
    let to = end_time_param(&q).map_err(CmError::ec)?;
    let (sort, descending) = match sort_param(&q, &["dateCreated", "name"]).map_err(CmError::ec)? {
        Some(("name", d)) => (da::Sort::Name, d),
        Some((_, d)) => (da::Sort::CreatedAt, d),
        None => (da::Sort::Created, false),
    };
    let filter = da::Filter {
        name_contains: q.text("name"),
        from,
        to,
        none: q.text("enterpriseSid").is_some_and(|e| e != cm.enterprise_sid),
        sort,
        descending,
        offset: paging.offset(),
        limit: paging.size,
    };
    let (total, rows) = da::search(&st.db, cm.tenant.id, &filter).await?;
    let result = rows.iter().map(|a| render(a, &cm)).collect();
    Ok(nested_page(PATH, &q, paging, total, result))
}

/// Streams the multipart `file` part, a WAV (RIFF/WAVE header checked), into a blob
/// of the tenant; other parts are read and dropped. None without a `file` part.
async fn store_wav(st: &AppState, cm: &Cm, m: &mut Multipart, bad_wav: &(dyn Fn() -> CmError + Sync)) -> CmResult<Option<blobs::Blob>> {
    let limit = st.config.upload_limit;
    let mut skipped = 0usize;
    while let Some(mut field) = m
        .next_field()
        .await
        .map_err(|e| CmError::bad_request(format!("invalid multipart body: {}", e.body_text())).ec())?
    {
        if field.name() != Some("file") {
            drain(field, &mut skipped, limit).await.map_err(CmError::ec)?;
            continue;
        }
        let filename = field.file_name().map(str::to_string);
        let mut head: Vec<u8> = Vec::new();
        while head.len() < 12 {
            match field.chunk().await.map_err(|_| bad_wav())? {
                Some(c) => head.extend_from_slice(&c),
                None => break,
            }
        }
        if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
            return Err(bad_wav());
        }
        let stream: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send + '_>> = Box::pin(
            futures::stream::once(async move { Ok::<Bytes, String>(Bytes::from(head)) }).chain(field.map(|r| r.map_err(|e| e.body_text()))),
        );
        let blob = blobs::store(&st.db, cm.tenant.id, filename.as_deref(), Some("audio/wav"), stream, limit)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "announcement upload failed");
                bad_wav()
            })?;
        return Ok(Some(blob));
    }
    Ok(None)
}

/// `POST /campaignmanager/internal/file/announcement/{sid}`: multipart `file`, a WAV
/// (RIFF/WAVE header checked), streamed into the shared blobs table.
pub async fn upload(State(st): State<AppState>, cm: Cm, Path(asid): Path<String>, body: Result<Body, CmError>) -> CmResult<Response> {
    let a = find(&st, cm.tenant.id, &asid).await?.ok_or_else(|| not_found(&asid))?;
    let body = body.map_err(CmError::ec)?;
    let missing = || CmError::vendor_ec(4000, "Mandatory parameter missing. fileUri need to be passed", json!({"sid": asid}));
    let bad_wav = || CmError::vendor_ec(504, "Error in uploading audio file", json!({"sid": asid}));
    let Body::Multipart(mut m) = body else {
        return Err(missing());
    };
    let Some(blob) = store_wav(&st, &cm, &mut m, &bad_wav).await? else {
        return Err(missing());
    };
    let now = st.now(&cm.tenant);
    let updated = da::attach_audio(&st.db, cm.tenant.id, a.id, blob.id, &file_name(a.id, now), now)
        .await
        .map_err(or_not_found(&asid))?;
    Ok(ok(render(&updated, &cm)))
}

/// `GET /campaignmanager/internal/announcement/file/{AN…_millis.wav}`: the uploaded WAV.
pub async fn file(State(st): State<AppState>, cm: Cm, Path(name): Path<String>) -> CmResult<Response> {
    let asid = name.split(['_', '.']).next().unwrap_or("").to_string();
    let a = find(&st, cm.tenant.id, &asid).await?.ok_or_else(|| not_found(&asid))?;
    let Some(blob_id) = a.blob_id else {
        return Err(not_found(&asid));
    };
    let blob = blobs::get(&st.db, cm.tenant.id, blob_id).await.map_err(|_| not_found(&asid))?;
    let stream = blobs::stream(st.db.clone(), blob.id).map(|r| r.map(Bytes::from));
    let mut resp = (StatusCode::OK, HttpBody::from_stream(stream)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("audio/wav"));
    if let Ok(v) = header::HeaderValue::from_str(&blob.size.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages() {
        assert!(supported_language("google.ar-XA-Standard-A"));
        assert!(supported_language("google.en-US-Standard-B"));
        assert!(supported_language("en-US"));
        assert!(!supported_language("google.xx-XX-Standard-A"));
        assert!(!supported_language("klingon"));
    }
}
