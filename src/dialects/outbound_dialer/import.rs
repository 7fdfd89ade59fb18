//! `POST …/contacts/import` (multipart JSON file → staged rows + job), `GET …/contacts/jobs/{id}`
//! and the import job itself.
//!
//! # Pipeline (see `domain::imports`)
//! - The upload is split into its elements as it arrives ([`Splitter`]); batches of
//!   elements are parsed and validated (serde_json, `domain::phone`) on the blocking thread
//!   pool, a few batches at a time, and encoded as COPY rows that stream into the staging
//!   table while the next chunks arrive. The rows and the job commit together; a file that
//!   is not a JSON array of objects (or is too large) stores nothing and is answered 400
//!   (413).
//! - The job moves the staged rows to the campaign in batches (1,000 rows first, then
//!   doubling up to [`MAX_BATCH`]), each one set-based statement committed with the job's
//!   checkpoint, so a restart resumes at the last batch and neither loses nor doubles a row.
//! - Jobs stored by earlier versions (the file kept as a blob) are still read from the blob.
//!
//! # Outcome
//! - Every row is read. Valid rows are inserted batch by batch (each batch commits with its
//!   checkpoint), so they stay imported whatever the outcome; an invalid row is skipped and
//!   reported (its index and errors, the first 20 kept in `errors`).
//! - A row whose phone number is already on the campaign, or repeats an earlier row of the
//!   file, makes the job end `failed` in the doc's failed-job shape
//!   (`"error_details": "NativePowerDial::ContactService::DuplicateContactPhoneOnCampaign"`,
//!   `"error_message": "Internal Error"`, `"type": "Jobs::Bulk::Campaign::StartImport"`).
//!   The other rows are still imported (the first occurrence of a repeated number too), and
//!   the per-row report stays in the answer as extra fields: `total`, `imported`, `invalid`,
//!   `duplicates`, `errors`.
//! - A file whose rows are all invalid fails the same way, with the first row's error class.
//! - Otherwise the job is `completed`, with the same counts and per-row report.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::multipart::Field;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::PathRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::stream::FuturesOrdered;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::contacts::CHANNEL;
use super::splitter::{Element, Splitter};
use super::wire::{self, ContactError};
use super::{campaign_of, tenant_numbers};
use crate::dialects::apps::auth::AppsAuth;
use crate::dialects::apps::error::AppsError;
use crate::domain::blobs::{self, CHUNK};
use crate::domain::contacts::{self, AddOutcome};
use crate::domain::jobs::JobOutcome;
use crate::domain::jobs::{self, status as jst, NewJob};
use crate::domain::{contact_batches, imports, tenants, DomainError, TenantId};
use crate::state::AppState;
use crate::state::JobCtx;

/// Job kind of an import.
pub const KIND: &str = "outbound_dialer.import";
/// The vendor's job types.
pub const TYPE_PARENT: &str = "Jobs::Bulk::Campaign::ParentJob";
pub const TYPE_START_IMPORT: &str = "Jobs::Bulk::Campaign::StartImport";
/// Contacts per transaction (of a job whose file is kept as a blob; the first batch of a
/// staged import).
pub const BATCH: usize = 1000;
/// The largest batch of a staged import.
pub const MAX_BATCH: u64 = 50_000;
/// Elements parsed per task of the blocking pool.
const PARSE_BATCH: usize = 2000;
/// Parse tasks in flight at once (bounds memory: a few thousand contacts).
const IN_FLIGHT: usize = 4;
/// Attempts after which an import that keeps hitting errors is failed.
const MAX_ATTEMPTS: i32 = 5;
/// Invalid contacts whose errors are kept in the job's progress.
const KEEP_ERRORS: usize = 20;

fn too_large(limit: usize) -> AppsError {
    AppsError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("File larger than {limit} bytes"))
}

/// Why an upload was refused while it streamed.
#[derive(Debug, Clone)]
enum Refusal {
    TooLarge,
    Bad(String),
}

/// The upload as it is being staged: the multipart field, the splitter, the parse tasks
/// in flight (in file order) and what they need.
struct Pipe<'a> {
    field: Option<Field<'a>>,
    sp: Splitter,
    pending: Vec<Element>,
    next_ord: u64,
    size: usize,
    limit: usize,
    tasks: FuturesOrdered<tokio::task::JoinHandle<Result<Vec<u8>, String>>>,
    enc: imports::RowEncoder,
    numbers: Arc<HashSet<String>>,
    refusal: Arc<Mutex<Option<Refusal>>>,
    failed: bool,
}

impl Pipe<'_> {
    fn refuse(&mut self, r: Refusal) -> String {
        self.failed = true;
        let msg = match &r {
            Refusal::TooLarge => format!("File larger than {} bytes", self.limit),
            Refusal::Bad(m) => m.clone(),
        };
        if let Ok(mut slot) = self.refusal.lock() {
            *slot = Some(r);
        }
        msg
    }

    /// Hands the pending elements to the blocking pool.
    fn spawn_parse(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let els = std::mem::take(&mut self.pending);
        let first = self.next_ord;
        self.next_ord += els.len() as u64;
        let (enc, numbers) = (self.enc, self.numbers.clone());
        self.tasks
            .push_back(tokio::task::spawn_blocking(move || encode(enc, &numbers, first, &els)));
    }
}

/// The invalid element's `problem` as staged: its first error class and its messages.
fn problem_of(errs: &[ContactError]) -> Value {
    json!({"class": errs.first().map(|e| e.class).unwrap_or("InvalidContact"),
           "errors": errs.iter().map(|e| &e.message).collect::<Vec<_>>()})
}

/// Parses and validates elements (the first is element `first` of the file) into COPY rows.
fn encode(enc: imports::RowEncoder, numbers: &HashSet<String>, first: u64, els: &[Element]) -> Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(els.len() * 320);
    for (i, el) in els.iter().enumerate() {
        let ord = first + i as u64;
        let v: Value =
            serde_json::from_slice(&el.bytes).map_err(|e| format!("Malformed JSON in the contact ending at byte {}: {e}", el.end))?;
        if let Some(field) = crate::http::nul_in_json(&el.bytes) {
            let err = ContactError::new("InvalidContact", crate::http::nul_message(&field));
            enc.invalid(&mut buf, ord, &problem_of(&[err]));
            continue;
        }
        match wire::parse_contact(&v, numbers) {
            Ok(p) => enc.valid(&mut buf, ord, &p.contact),
            Err(errs) => enc.invalid(&mut buf, ord, &problem_of(&errs)),
        }
    }
    Ok(buf)
}

/// The upload as a stream of COPY rows: split as it arrives, parsed on the blocking pool
/// (at most [`IN_FLIGHT`] batches at once), yielded in file order. The first problem
/// ends the stream with an error and is kept in the pipe's `refusal`.
fn staged_rows(p: Pipe<'_>) -> impl Stream<Item = Result<Vec<u8>, String>> + Unpin + '_ {
    Box::pin(futures::stream::unfold(p, |mut p| async move {
        loop {
            if p.failed {
                return None;
            }
            if p.tasks.len() >= IN_FLIGHT || (p.field.is_none() && !p.tasks.is_empty()) {
                let err = match p.tasks.next().await {
                    Some(Ok(Ok(rows))) => return Some((Ok(rows), p)),
                    Some(Ok(Err(e))) => e,
                    Some(Err(e)) => format!("Upload failed: {e}"),
                    None => continue,
                };
                let msg = p.refuse(Refusal::Bad(err));
                return Some((Err(msg), p));
            }
            let field = p.field.as_mut()?;
            let refusal = match field.chunk().await {
                Ok(Some(bytes)) => {
                    p.size += bytes.len();
                    if p.size > p.limit {
                        Some(Refusal::TooLarge)
                    } else {
                        let mut out = Vec::new();
                        match p.sp.feed(&bytes, &mut out) {
                            Ok(()) => {
                                p.pending.extend(out);
                                if p.pending.len() >= PARSE_BATCH {
                                    p.spawn_parse();
                                }
                                None
                            }
                            Err(e) => Some(Refusal::Bad(format!("Malformed JSON: {e}"))),
                        }
                    }
                }
                Ok(None) => match p.sp.finish() {
                    Ok(()) => {
                        p.field = None;
                        p.spawn_parse();
                        None
                    }
                    Err(e) => Some(Refusal::Bad(format!("Malformed JSON: {e}"))),
                },
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE || e.to_string().contains("length limit") => Some(Refusal::TooLarge),
                Err(e) => Some(Refusal::Bad(format!("Upload failed: {e}"))),
            };
            if let Some(r) = refusal {
                let msg = p.refuse(r);
                return Some((Err(msg), p));
            }
        }
    }))
}

/// `POST …/campaigns/{campaign_id}/contacts/import` (multipart, field `file`).
pub async fn upload(
    State(st): State<AppState>,
    auth: AppsAuth,
    cid: Result<Path<String>, PathRejection>,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppsError> {
    let cid = super::path_of(cid)?;
    let tenant = auth.tenant.id;
    let campaign = super::sync_policy(&st, tenant, campaign_of(&st, tenant, &cid).await?).await?;
    let redials = super::Redial::of(&campaign).max_retries;
    let mut mp = mp.map_err(|_| AppsError::bad_request("Content-Type must be multipart/form-data with a file"))?;
    let limit = st.config.upload_limit;
    let field = loop {
        match mp.next_field().await {
            // `file` (the issue, the English vendor doc); `fichier`, the name the French
            // doc's parameter table prints. Other fields are ignored.
            Ok(Some(f)) if matches!(f.name(), Some("file" | "fichier")) => break f,
            Ok(Some(_)) => continue,
            Ok(None) => return Err(AppsError::bad_request("file is required")),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large(limit)),
            Err(_) => return Err(AppsError::bad_request("Malformed multipart body")),
        }
    };
    let numbers = Arc::new(tenant_numbers(&st, tenant).await?);
    let refusal: Arc<Mutex<Option<Refusal>>> = Arc::default();
    let job = NewJob {
        kind: KIND.into(),
        payload: json!({"campaign_seq": campaign.seq, "filename": field.file_name(), "max_retries": redials}),
        campaign_id: Some(campaign.id),
        ..Default::default()
    };
    let rows = |enc| {
        staged_rows(Pipe {
            field: Some(field),
            sp: Splitter::new(),
            pending: Vec::with_capacity(PARSE_BATCH),
            next_ord: 0,
            size: 0,
            limit,
            tasks: FuturesOrdered::new(),
            enc,
            numbers,
            refusal: refusal.clone(),
            failed: false,
        })
    };
    // The staged rows and their job are committed together: no rows without a job.
    let (job, _) = imports::stage(&st.db, tenant, job, rows, st.now(&auth.tenant)).await.map_err(|e| {
        match (refusal.lock().ok().and_then(|r| r.clone()), e) {
            (Some(Refusal::TooLarge), _) => too_large(limit),
            (Some(Refusal::Bad(m)), _) => AppsError::bad_request(m),
            (None, other) => other.into(),
        }
    })?;
    let location = format!("/apps/api/v1/outbound_dialer/campaigns/{}/contacts/jobs/{}", campaign.seq, job.seq);
    let mut r = (
        StatusCode::ACCEPTED,
        Json(json!({"id": job.seq, "status": "in_progress", "type": TYPE_PARENT})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// Progress of an import, stored in `jobs.progress` (and `jobs.result` at the end).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Progress {
    /// Byte offset just after the last element committed.
    #[serde(default)]
    pub offset: u64,
    /// Elements read and committed so far.
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub imported: u64,
    #[serde(default)]
    pub invalid: u64,
    /// Contacts imported with status "Do Not Call".
    #[serde(default)]
    pub do_not_call: u64,
    /// The first invalid contacts: {index, errors}.
    #[serde(default)]
    pub errors: Vec<Value>,
    #[serde(default)]
    pub first_error_class: Option<String>,
    /// Rows whose number was already on the campaign or earlier in the file.
    #[serde(default)]
    pub duplicates: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// `GET …/campaigns/{campaign_id}/contacts/jobs/{job_id}`.
pub async fn show(
    State(st): State<AppState>,
    auth: AppsAuth,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, AppsError> {
    let (cid, jid) = super::path_of(ids)?;
    let tenant = auth.tenant.id;
    let campaign = campaign_of(&st, tenant, &cid).await?;
    let seq: i64 = jid.trim().parse().map_err(|_| AppsError::not_found())?;
    let job = jobs::get_by_seq(&st.db, tenant, seq).await?;
    if job.kind != KIND || job.campaign_id != Some(campaign.id) {
        return Err(AppsError::not_found());
    }
    let p: Progress = serde_json::from_value(job.result.clone().unwrap_or_else(|| job.progress.clone())).unwrap_or_default();
    let mut body = serde_json::Map::new();
    let status = match job.status.as_str() {
        jst::COMPLETED => "completed",
        jst::FAILED | jst::CANCELLED => "failed",
        _ => "in_progress",
    };
    if status == "failed" {
        body.insert("error_details".into(), json!(p.error_details.clone().or(job.error.clone())));
        body.insert(
            "error_message".into(),
            json!(p.error_message.clone().unwrap_or_else(|| "Internal Error".into())),
        );
    }
    body.insert("id".into(), json!(job.seq));
    body.insert("status".into(), json!(status));
    body.insert(
        "type".into(),
        json!(if status == "failed" { TYPE_START_IMPORT } else { TYPE_PARENT }),
    );
    body.insert("total".into(), json!(p.total));
    body.insert("imported".into(), json!(p.imported));
    body.insert("invalid".into(), json!(p.invalid));
    body.insert("duplicates".into(), json!(p.duplicates));
    body.insert("errors".into(), json!(p.errors));
    Ok(Json(Value::Object(body)).into_response())
}

/// The job handler.
pub fn handler(ctx: JobCtx) -> crate::domain::jobs::JobFuture {
    Box::pin(async move {
        match run(&ctx).await {
            Ok(o) => o,
            // A database error may be passing: leave the job to be taken over from its
            // last checkpoint when the lease runs out, a few times, then fail it.
            Err(e) if ctx.job.attempts < MAX_ATTEMPTS => {
                tracing::warn!(job = %ctx.job.id, error = %e, attempt = ctx.job.attempts, "outbound dialer import interrupted; will resume");
                JobOutcome::Abandoned
            }
            Err(e) => {
                tracing::warn!(job = %ctx.job.id, error = %e, "outbound dialer import failed");
                JobOutcome::Failed {
                    error: "Internal Error".into(),
                    result: None,
                    state: None,
                }
            }
        }
    })
}

enum Step {
    Continue,
    Abandoned,
}

/// Rows of the staged batch that starts at row `total`: 1,000 first, then as many as
/// are done, up to [`MAX_BATCH`] (a function of the checkpoint, so a resumed job cuts the
/// same batches).
fn batch_size(total: u64) -> u64 {
    total.clamp(BATCH as u64, MAX_BATCH)
}

/// The progress after a staged batch.
fn tally_batch(p: &Progress, b: &imports::Batch) -> Progress {
    let mut next = p.clone();
    next.total += b.rows;
    next.imported += b.added;
    next.do_not_call += b.suppressed;
    next.duplicates += b.duplicates;
    // a duplicate is reported as an invalid row too, with its own error
    next.invalid += b.invalid + b.duplicates;
    for r in &b.refused {
        let (class, errors) = match &r.problem {
            None => {
                let d = ContactError::duplicate();
                (d.class.to_string(), json!([d.message]))
            }
            Some(pr) => (
                pr.get("class").and_then(Value::as_str).unwrap_or("InvalidContact").to_string(),
                pr.get("errors").cloned().unwrap_or_else(|| json!([])),
            ),
        };
        if next.first_error_class.is_none() {
            next.first_error_class = Some(class);
        }
        if next.errors.len() < KEEP_ERRORS {
            next.errors.push(json!({"index": r.ord, "errors": errors}));
        }
    }
    next
}

async fn run(ctx: &JobCtx) -> Result<JobOutcome, DomainError> {
    let job = &ctx.job;
    if job.blob_id.is_some() {
        return run_blob(ctx).await;
    }
    let tenant = job.tenant();
    let mut p: Progress = serde_json::from_value(job.progress.clone()).unwrap_or_default();
    let (Some(campaign), Some(rows)) = (job.campaign_id, job.payload.get("rows").and_then(Value::as_u64)) else {
        if p.total > 0 {
            // a job of the blob era whose file was deleted once every contact was in
            return Ok(finished(p));
        }
        return Ok(JobOutcome::Failed {
            error: "job without staged rows or campaign".into(),
            result: None,
            state: None,
        });
    };
    let t = tenants::by_id(&ctx.state.db, tenant).await?;
    let lease = jobs::Lease {
        id: job.id,
        worker: &ctx.worker,
    };
    // the campaign's redials, as the upload read them
    let redials = job.payload.get("max_retries").and_then(Value::as_i64).unwrap_or(0) as i32;
    while p.total < rows {
        let range = (p.total, p.total + batch_size(p.total));
        // ask for at least one refused row: the first one names the error class
        let keep = KEEP_ERRORS.saturating_sub(p.errors.len()).max(1);
        let mut after = None;
        let progress = |b: &imports::Batch| {
            let next = tally_batch(&p, b);
            let v = serde_json::to_value(&next).map_err(|e| DomainError::Internal(e.to_string()));
            after = Some(next);
            v
        };
        let now = ctx.state.now(&t);
        let moved = imports::move_batch(
            &ctx.state.db,
            tenant,
            campaign,
            lease,
            range,
            (CHANNEL, redials),
            keep,
            progress,
            now,
        )
        .await?;
        let (Some(b), Some(next)) = (moved, after) else {
            return Ok(JobOutcome::Abandoned);
        };
        if b.rows == 0 {
            // the staged rows are gone (a crash of PostgreSQL empties the unlogged table)
            tracing::warn!(job = %job.id, done = p.total, rows, "outbound dialer import lost its staged rows");
            let mut p = p;
            p.error_details = Some("ImportRowsLost".into());
            p.error_message = Some("The uploaded file was lost by a database crash; upload the rest again".into());
            return Ok(JobOutcome::Failed {
                error: "ImportRowsLost".into(),
                result: serde_json::to_value(&p).ok(),
                state: None,
            });
        }
        p = next;
    }
    Ok(finished(p))
}

/// A job stored with its file as a blob (before staging): reads the file chunk by chunk.
async fn run_blob(ctx: &JobCtx) -> Result<JobOutcome, DomainError> {
    let job = &ctx.job;
    let tenant = job.tenant();
    let mut p: Progress = serde_json::from_value(job.progress.clone()).unwrap_or_default();
    if job.blob_id.is_none() && p.total > 0 {
        // the file is deleted once every contact is in: the job had finished its work
        return Ok(finished(p));
    }
    let (Some(blob), Some(campaign)) = (job.blob_id, job.campaign_id) else {
        return Ok(JobOutcome::Failed {
            error: "job without file or campaign".into(),
            result: None,
            state: None,
        });
    };
    let t = tenants::by_id(&ctx.state.db, tenant).await?;
    let numbers = tenant_numbers(&ctx.state, tenant)
        .await
        .map_err(|_| DomainError::Internal("numbers".into()))?;
    let (mut sp, mut n, mut skip) = resume_point(&p);
    let mut pending: Vec<Element> = Vec::with_capacity(BATCH);
    let mut out = Vec::new();
    let mut malformed = None;
    while let Some(data) = blobs::chunk(&ctx.state.db, blob, n).await? {
        n += 1;
        let piece = data.get(skip..).unwrap_or(&[]);
        skip = 0;
        if let Err(e) = sp.feed(piece, &mut out) {
            malformed = Some(e);
            break;
        }
        for el in out.drain(..) {
            pending.push(el);
            if pending.len() >= BATCH {
                if let Step::Abandoned = flush(ctx, tenant, campaign, &t, &numbers, &mut pending, &mut p).await? {
                    return Ok(JobOutcome::Abandoned);
                }
            }
        }
    }
    if malformed.is_none() {
        if let Err(e) = sp.finish() {
            malformed = Some(e);
        }
    }
    if !pending.is_empty() {
        if let Step::Abandoned = flush(ctx, tenant, campaign, &t, &numbers, &mut pending, &mut p).await? {
            return Ok(JobOutcome::Abandoned);
        }
    }
    if let Some(e) = malformed {
        return Ok(malformed_json(p, e));
    }
    // The file is no longer needed once every contact is in.
    let _ = blobs::delete(&ctx.state.db, tenant, blob).await;
    Ok(finished(p))
}

/// Where a run starts reading: the splitter, the chunk and the bytes of it to skip (the
/// start of the file, or the checkpoint's offset).
fn resume_point(p: &Progress) -> (Splitter, i32, usize) {
    if p.total == 0 {
        return (Splitter::new(), 0, 0);
    }
    (
        Splitter::resume(p.offset),
        (p.offset / CHUNK as u64) as i32,
        (p.offset % CHUNK as u64) as usize,
    )
}

/// The outcome of an import whose file is not a JSON array of objects.
fn malformed_json(mut p: Progress, e: impl std::fmt::Display) -> JobOutcome {
    p.error_details = Some("JSON::ParserError".into());
    p.error_message = Some(format!("Malformed JSON: {e}"));
    JobOutcome::Failed {
        error: "JSON::ParserError".into(),
        result: serde_json::to_value(&p).ok(),
        state: None,
    }
}

/// The outcome of an import that read its whole file.
fn finished(mut p: Progress) -> JobOutcome {
    if p.duplicates > 0 || (p.imported == 0 && p.invalid > 0) {
        let class = if p.duplicates > 0 {
            ContactError::duplicate().class.to_string()
        } else {
            p.first_error_class.clone().unwrap_or_else(|| "InvalidContact".into())
        };
        p.error_details = Some(format!("NativePowerDial::ContactService::{class}"));
        p.error_message = Some("Internal Error".into());
        return JobOutcome::Failed {
            error: p.error_details.clone().unwrap_or_default(),
            result: serde_json::to_value(&p).ok(),
            state: None,
        };
    }
    JobOutcome::Completed {
        result: serde_json::to_value(&p).unwrap_or(Value::Null),
        state: None,
    }
}

fn note_invalid(p: &mut Progress, index: u64, errs: &[ContactError]) {
    p.invalid += 1;
    if p.first_error_class.is_none() {
        p.first_error_class = errs.first().map(|e| e.class.to_string());
    }
    if p.errors.len() < KEEP_ERRORS {
        p.errors
            .push(json!({"index": index, "errors": errs.iter().map(|e| &e.message).collect::<Vec<_>>()}));
    }
}

/// A parsed element of the file: its index and the contact (or why it is invalid).
type ParsedElement = (u64, Result<wire::Parsed, Vec<ContactError>>);

/// The progress after a batch: `outcomes` are those of the valid contacts of `parsed`, in order.
fn tally(p: &Progress, parsed: &[ParsedElement], outcomes: &[AddOutcome], pending: &[Element]) -> Progress {
    let mut next = p.clone();
    let mut outcomes = outcomes.iter();
    for (index, r) in parsed {
        match r.as_ref().map(|_| outcomes.next()) {
            Err(errs) => note_invalid(&mut next, *index, errs),
            Ok(Some(AddOutcome::Added { .. })) => next.imported += 1,
            Ok(Some(AddOutcome::Suppressed { .. })) => {
                next.imported += 1;
                next.do_not_call += 1;
            }
            Ok(_) => {
                next.duplicates += 1;
                note_invalid(&mut next, *index, &[ContactError::duplicate()]);
            }
        }
    }
    next.total += pending.len() as u64;
    next.offset = pending.last().map(|e| e.end).unwrap_or(next.offset);
    next
}

/// Validates and inserts one batch, checkpointing in the same transaction.
async fn flush(
    ctx: &JobCtx,
    tenant: TenantId,
    campaign: uuid::Uuid,
    t: &tenants::Tenant,
    numbers: &HashSet<String>,
    pending: &mut Vec<Element>,
    p: &mut Progress,
) -> Result<Step, DomainError> {
    let now = ctx.state.now(t);
    let parsed: Vec<ParsedElement> = pending
        .iter()
        .enumerate()
        .map(|(i, el)| {
            let r = match serde_json::from_slice::<Value>(&el.bytes) {
                Ok(v) => wire::parse_contact(&v, numbers),
                Err(_) => Err(vec![ContactError::new("InvalidContact", "Malformed JSON")]),
            };
            (p.total + i as u64, r)
        })
        .collect();
    // the campaign's redials, as the upload read them
    let redials = ctx.job.payload.get("max_retries").and_then(Value::as_i64).unwrap_or(0) as i32;
    let rows = parsed
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok().map(|c| c.contact.clone()))
        .map(|mut c| {
            c.max_retries = redials;
            c
        })
        .collect();
    let mut after = None;
    let progress = |outcomes: &[AddOutcome]| {
        let next = tally(p, &parsed, outcomes, pending);
        let v = serde_json::to_value(&next).map_err(|e| DomainError::Internal(e.to_string()));
        after = Some(next);
        v
    };
    let lease = jobs::Lease {
        id: ctx.job.id,
        worker: &ctx.worker,
    };
    let done = contacts::import_batch(&ctx.state.db, tenant, campaign, lease, rows, CHANNEL, progress, now).await?;
    let Some(next) = after.filter(|_| done.is_some()) else {
        return Ok(Step::Abandoned);
    };
    // Keep the planner's statistics in step with a campaign that grows fast (after
    // batches 1, 2, 4, 8, …), so duplicate checks keep probing the number index.
    let batches = next.total.div_ceil(BATCH as u64);
    if batches.is_power_of_two() {
        contact_batches::refresh_statistics(&ctx.state.db).await;
    }
    *p = next;
    pending.clear();
    Ok(Step::Continue)
}
