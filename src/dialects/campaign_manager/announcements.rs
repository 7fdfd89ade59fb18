//! Announcements: text-to-speech ("say") or an uploaded WAV ("play"), used by voice campaigns.

use axum::body::Body as HttpBody;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde_json::{json, Map, Value};
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::campaigns::drain;
use super::wire::{
    end_time_param, fmt_time, json_text, nested_page, ok, sort_param, time_param, Body, Cm, CmError, CmResult, JsonObj, Paging, Query,
};
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

/// An announcement row.
#[derive(Debug, Clone, FromRow)]
pub struct Announcement {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub kind: String,
    pub body: Option<String>,
    pub language: Option<String>,
    pub voice: Option<String>,
    pub blob_id: Option<Uuid>,
    pub file_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLS: &str = "id, name, description, kind, body, language, voice, blob_id, file_name, created_at, updated_at";

impl Announcement {
    /// What a call plays: the TTS text, or the file URI.
    pub fn say_or_play(&self) -> String {
        match (&self.kind[..], &self.body, &self.file_name) {
            ("say", Some(b), _) => b.clone(),
            (_, _, Some(f)) => format!("{FILE_PATH}/{f}"),
            _ => String::new(),
        }
    }
}

/// The announcement with this SID, if it is the tenant's.
pub async fn find(st: &AppState, tenant: TenantId, asid: &str) -> CmResult<Option<Announcement>> {
    // The doc's "Get Single Announcement" example prints an `AAE` prefix: the same id.
    let Some(id) = parse_sid("AN", asid.trim()).or_else(|| parse_sid("AAE", asid.trim())) else {
        return Ok(None);
    };
    let sql = format!("SELECT {COLS} FROM announcements WHERE tenant_id = $1 AND id = $2");
    Ok(sqlx::query_as::<_, Announcement>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&st.db)
        .await
        .map_err(DomainError::from)?)
}

fn not_found(asid: &str) -> CmError {
    CmError::vendor_ec(500, "Announcement not found", json!({"sid": asid}))
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
        if a.kind == "play" || a.blob_id.is_some() {
            m.insert("fileUri".into(), json!(format!("{FILE_PATH}/{f}")));
        }
    }
    m.insert("enterpriseSid".into(), json!(cm.enterprise_sid));
    m.insert("type".into(), json!(a.kind));
    if a.kind == "say" {
        m.insert("body".into(), json!(a.body));
        m.insert("language".into(), json!(a.language));
        m.insert("voice".into(), json!(a.voice));
    }
    Value::Object(m)
}

/// The validated say/play fields of a create or update.
struct Spec {
    kind: String,
    body: Option<String>,
    language: Option<String>,
    voice: Option<String>,
}

fn spec(b: &Value, update: bool) -> CmResult<Spec> {
    let kind = json_text(b, "type")
        .ok_or_else(|| CmError::missing("type").ec())?
        .to_ascii_lowercase();
    match kind.as_str() {
        "play" => Ok(Spec {
            kind,
            body: None,
            language: None,
            voice: None,
        }),
        "say" => {
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
            Ok(Spec {
                kind,
                body: Some(body),
                language: Some(language),
                voice: Some(voice),
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
    let s = spec(&b, false)?;
    let now = st.now(&cm.tenant);
    let id = Uuid::new_v4();
    let fname = (s.kind == "play").then(|| file_name(id, now));
    let sql = format!(
        "INSERT INTO announcements (id, tenant_id, name, description, kind, body, language, voice, file_name, account_sid, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING {COLS}"
    );
    let a = sqlx::query_as::<_, Announcement>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(cm.tenant.id.0)
        .bind(&name)
        .bind(json_text(&b, "description"))
        .bind(&s.kind)
        .bind(&s.body)
        .bind(&s.language)
        .bind(&s.voice)
        .bind(&fname)
        .bind(&cm.account_sid)
        .bind(now)
        .fetch_one(&st.db)
        .await
        .map_err(DomainError::from)?;
    Ok(ok(render(&a, &cm)))
}

/// `PUT /campaignmanager/announcement/{sid}`.
pub async fn update(State(st): State<AppState>, cm: Cm, Path(asid): Path<String>, body: Result<JsonObj, CmError>) -> CmResult<Response> {
    let JsonObj(b) = body.map_err(CmError::ec)?;
    let a = find(&st, cm.tenant.id, &asid).await?.ok_or_else(|| not_found(&asid))?;
    let s = spec(&b, true)?;
    let now = st.now(&cm.tenant);
    let fname = if s.kind == "play" {
        a.file_name.clone().or_else(|| Some(file_name(a.id, now)))
    } else {
        a.file_name.clone()
    };
    let sql = format!(
        "UPDATE announcements SET name = COALESCE($3, name), description = COALESCE($4, description), kind = $5, body = $6,
                language = $7, voice = $8, file_name = $9, updated_at = $10
          WHERE tenant_id = $1 AND id = $2 RETURNING {COLS}"
    );
    let a = sqlx::query_as::<_, Announcement>(sqlx::AssertSqlSafe(sql))
        .bind(cm.tenant.id.0)
        .bind(a.id)
        .bind(json_text(&b, "name"))
        .bind(json_text(&b, "description"))
        .bind(&s.kind)
        .bind(&s.body)
        .bind(&s.language)
        .bind(&s.voice)
        .bind(&fname)
        .bind(now)
        .fetch_optional(&st.db)
        .await
        .map_err(DomainError::from)?
        .ok_or_else(|| not_found(&asid))?;
    Ok(ok(render(&a, &cm)))
}

/// `DELETE /campaignmanager/announcement/{sid}` (507 while an active campaign uses it).
pub async fn delete(State(st): State<AppState>, cm: Cm, Path(asid): Path<String>) -> CmResult<Response> {
    let a = find(&st, cm.tenant.id, &asid).await?.ok_or_else(|| not_found(&asid))?;
    let canonical = sid("AN", a.id);
    let mut tx = st.db.begin().await.map_err(DomainError::from)?;
    // Serialises with campaign creation, which holds this row FOR SHARE.
    let locked: Option<i32> = sqlx::query_scalar("SELECT 1 FROM announcements WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
        .bind(cm.tenant.id.0)
        .bind(a.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(DomainError::from)?;
    if locked.is_none() {
        return Err(not_found(&asid));
    }
    let used: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM campaigns WHERE tenant_id = $1 AND deleted_at IS NULL
            AND attrs->'cm'->>'announcementSid' = $2 AND status IN ('draft', 'scheduled', 'running', 'paused'))",
    )
    .bind(cm.tenant.id.0)
    .bind(&canonical)
    .fetch_one(&mut *tx)
    .await
    .map_err(DomainError::from)?;
    if used {
        return Err(CmError::vendor_ec(
            507,
            "This Announcement cannot be deleted as it is being used in a campaign.",
            json!({"sid": canonical}),
        ));
    }
    sqlx::query("DELETE FROM announcements WHERE tenant_id = $1 AND id = $2")
        .bind(cm.tenant.id.0)
        .bind(a.id)
        .execute(&mut *tx)
        .await
        .map_err(DomainError::from)?;
    if let Some(b) = a.blob_id {
        sqlx::query("DELETE FROM blobs WHERE tenant_id = $1 AND id = $2")
            .bind(cm.tenant.id.0)
            .bind(b)
            .execute(&mut *tx)
            .await
            .map_err(DomainError::from)?;
    }
    tx.commit().await.map_err(DomainError::from)?;
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
    let sort = sort_param(&q, &["dateCreated", "name"]).map_err(CmError::ec)?;
    let name = q.text("name");
    let other_enterprise = q.text("enterpriseSid").is_some_and(|e| e != cm.enterprise_sid);
    let filters = |b: &mut QueryBuilder<sqlx::Postgres>| {
        b.push(" WHERE tenant_id = ").push_bind(cm.tenant.id.0);
        if other_enterprise {
            b.push(" AND false");
        }
        if let Some(n) = &name {
            let pat = format!("%{}%", n.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            b.push(" AND name ILIKE ").push_bind(pat);
        }
        if let Some(f) = from {
            b.push(" AND created_at >= ").push_bind(f);
        }
        if let Some(t) = to {
            b.push(" AND created_at <= ").push_bind(t);
        }
    };
    let mut count = QueryBuilder::new("SELECT count(*) FROM announcements");
    filters(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(&st.db).await.map_err(DomainError::from)?;
    let mut b = QueryBuilder::new(format!("SELECT {COLS} FROM announcements"));
    filters(&mut b);
    let order = match sort {
        Some(("name", d)) => format!("lower(name) {}", if d { "DESC" } else { "ASC" }),
        Some((_, d)) => format!("created_at {}", if d { "DESC" } else { "ASC" }),
        None => "seq ASC".into(),
    };
    b.push(format!(" ORDER BY {order}, seq LIMIT "))
        .push_bind(paging.size)
        .push(" OFFSET ")
        .push_bind(paging.offset());
    let rows: Vec<Announcement> = b.build_query_as().fetch_all(&st.db).await.map_err(DomainError::from)?;
    let result = rows.iter().map(|a| render(a, &cm)).collect();
    Ok(nested_page(PATH, &q, paging, total, result))
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
    let limit = st.config.upload_limit;
    let mut stored = None;
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
        stored = Some(blob);
        break;
    }
    let Some(blob) = stored else {
        return Err(missing());
    };
    let now = st.now(&cm.tenant);
    let fname = file_name(a.id, now);
    let mut tx = st.db.begin().await.map_err(DomainError::from)?;
    let sql =
        format!("UPDATE announcements SET blob_id = $3, file_name = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2 RETURNING {COLS}");
    let updated = sqlx::query_as::<_, Announcement>(sqlx::AssertSqlSafe(sql))
        .bind(cm.tenant.id.0)
        .bind(a.id)
        .bind(blob.id)
        .bind(&fname)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(DomainError::from)?
        .ok_or_else(|| not_found(&asid))?;
    if let Some(old) = a.blob_id {
        sqlx::query("DELETE FROM blobs WHERE tenant_id = $1 AND id = $2")
            .bind(cm.tenant.id.0)
            .bind(old)
            .execute(&mut *tx)
            .await
            .map_err(DomainError::from)?;
    }
    tx.commit().await.map_err(DomainError::from)?;
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
