//! The outbound dialer dialect: campaign contacts (add, list, edit, delete), JSON import
//! jobs, and the read side of the vendor's Manager API for dialer campaigns.
//! Contract: `vendor-docs/outbound-dialer-contacts.fr.txt` (French; paths and field
//! names as printed). Auth, rate limit, error shape (`{"message"}`) and paging are the
//! Apps API's (`dialects::apps::{auth, error, paging}`), shared, not copied.
//!
//! Where the code lives:
//! - Here: the vendor's wire. `contacts.rs` and `import.rs` hold the handlers (parse the
//!   wire, one domain call, render) and the import job's reading of the file; `wire.rs`
//!   a posted contact (validated into a shared `NewContact`) and the rendered one;
//!   `splitter.rs` the incremental JSON array splitter; `status.rs` the one table of
//!   contact and campaign states; `manager.rs` the Manager API read side. Errors are the
//!   Apps API's `AppsError` (`From<DomainError>`, so handlers just use `?`).
//! - In the domain, never here: SQL and transactions. Contacts are added, changed and
//!   deleted by `domain::contacts::{add_many, update, delete}` (duplicates, the campaign
//!   lock and suppression decided there and reported per contact as `AddOutcome` /
//!   `UpdateOutcome`); an import batch is `contacts::import_batch` (contacts and the job's
//!   checkpoint in one transaction); the upload is `jobs::enqueue_with_file` (file and job
//!   in one transaction); listing is `contacts::{list_page, count_in_campaign}`.
//!
//! Routes (`{campaign_id}` = `campaigns.seq`; another tenant's or an unknown id → 404
//! `{"message": "Not Found"}`):
//! - `POST /apps/api/v1/outbound_dialer/campaigns/{campaign_id}/contacts`
//! - `GET  /apps/api/v1/outbound_dialer/campaigns/{campaign_id}/contacts`
//! - `POST /apps/api/v1/outbound_dialer/campaigns/{campaign_id}/contacts/import`
//! - `GET  /apps/api/v1/outbound_dialer/campaigns/{campaign_id}/contacts/jobs/{job_id}`
//! - `PATCH|DELETE /apps/api/v1/outbound_dialer/campaigns/{campaign_id}/contact`
//! - `GET  /manager/api/v1/outbound_dialer/campaigns` and `…/campaigns/{id}`
//!
//! Choices where the doc is silent or contradictory:
//! - Contacts are shared `contacts` rows; their integer `id` is `contacts.seq`. Keys of a
//!   posted contact other than the documented ones (and `priority`, `contact_id`) are
//!   kept as custom metadata (`attrs.user_custom_metadata`) and rendered inside
//!   `user_custom_metadata` next to the doc's `NAME/PHONE/EMAIL (REQUIRED)` keys.
//! - A contact is rendered everywhere (GET list, PATCH, DELETE) as the PATCH example's
//!   object plus the GET example's `email`, `phone_number`, `external_unique_id`, so both
//!   examples' fields are present. `phone_number` and `outbound_number` echo the text the
//!   client sent; the stored numbers are E.164.
//! - `POST …/contacts` accepts one object or an array. `valid_contacts` echo the posted
//!   objects as the doc shows, plus `id` and `status` (so a client can PATCH them);
//!   `invalid_contacts` echo them plus `errors` (messages: "Phone number can't be
//!   blank", "Phone number is invalid", "Email is invalid", "Outbound number is
//!   invalid" (not one of the tenant's numbers), "DuplicateContactPhoneOnCampaign").
//!   Numbers on the DNC list or opted out of voice are accepted with status "Do Not Call".
//!   Duplicates are decided by a unique index on the campaign's numbers (`INSERT … ON
//!   CONFLICT DO NOTHING`), so concurrent adds to one campaign run side by side and two
//!   of them still cannot add the same phone twice.
//! - `name` is not required (the doc's metadata says REQUIRED but no example fails on it).
//! - `GET …/contacts` without `page`/`per_page` returns the first 1000 contacts (and,
//!   when there are more, the `Link`/`Total`/`Per-Page` headers of page 1); with them,
//!   a page (per_page ≤ 1000) and those headers.
//! - Import: the file part is `file`; `fichier`, the name printed in the French doc's
//!   parameter table, is accepted too. The upload is checked as JSON while it streams
//!   into the `blobs` table (structure by an incremental splitter, each contact by
//!   serde_json), so malformed JSON, a non-array file or a missing `file` part → 400
//!   before any job exists; a larger file than `upload_limit` → 413. The route has no
//!   axum body limit (the router is built before the state); `blobs::store_in` enforces
//!   `upload_limit` instead.
//!   The stored file and its job are written in one transaction (no file without a job);
//!   parts after the file part are not read.
//!   202 answers `{"id", "status": "in_progress", "type": "Jobs::Bulk::Campaign::ParentJob"}`
//!   with a `Location` header to the job.
//! - The job (kind `outbound_dialer.import`, id `jobs.seq`) reads the blob chunk by
//!   chunk, inserts 1000 contacts per transaction and checkpoints {offset, total,
//!   imported, invalid, …} in that transaction; a resumed job starts at the saved byte
//!   offset. Invalid and duplicate contacts are skipped and counted. A database error
//!   leaves the job to be taken over from its last checkpoint when its lease runs out
//!   (up to 5 attempts, then "failed"). The stored file is deleted once read. The job is
//!   "completed" when at least one contact was imported (or the file was empty); it is
//!   "failed" when every contact was invalid, with `error_details`
//!   `"NativePowerDial::ContactService::<first error class>"` and `error_message`
//!   "Internal Error", as the doc's failed example. A failed job renders the type
//!   "Jobs::Bulk::Campaign::StartImport" as that example does. The job body also has
//!   `total`, `imported`, `invalid` and `errors` (the first 20 invalid contacts).
//! - A posted `user_custom_metadata` object (a contact read back and sent again) is
//!   merged into the custom metadata (its three REQUIRED keys mirror fields and are
//!   dropped); rendered-only keys (`id`, `campaign_id`, `created_at`, …) are ignored.
//! - PATCH may set `status` to one of the 21 vendor states (unknown → 400 "Status is
//!   invalid"); a POSTed `status` is ignored (new contacts are Upcoming or Do Not Call).
//! - PATCH validates the contact as a whole after applying the changes; errors → 400
//!   `{"message": "<errors joined by ', '>"}`; an unknown contact → 404. A changed
//!   phone that is suppressed turns an Upcoming contact into "Do Not Call" (and back,
//!   unless the PATCH itself sets "Do Not Call").
//! - DELETE matches every key given (contact_id, phone_number, external_unique_id);
//!   none given → 400; no match → 404. Bodies with trailing commas (as the doc's own
//!   DELETE example `{"contact_id": 7,}`) are accepted.
//! - Manager campaigns: every campaign of the tenant (whatever dialect made it);
//!   `campaign_type` = `attrs.campaign_type` or the shared kind, `mode` =
//!   `attrs.mode` or "preview", `external_campaign_id`, `max_redial_count` (0),
//!   `redial_interval_minutes` from attrs; `status` per [`status::CAMPAIGN_STATUSES`];
//!   `contact_stats` has every vendor state with its count.
//! - Requests axum itself cannot read keep the vendor's shape: a body over the body
//!   limit → 413 `{"message"}`, an unreadable query string → 400, an undecodable path →
//!   404 `{"message": "Not Found"}`.
//! - Statuses: one table, [`status::CONTACT_STATES`].
//! - Calls run on the delivery engine, on the tenant clock (`engine::attempts`): a
//!   contact is "Upcoming" until the campaign starts (admin fixture `starts_at` and its
//!   `schedule` event), "Dialing" while its phone rings (5 s, or the 30 s dial timeout
//!   when not answered), "Connected" for the 30 s of an answered call, then "Finished",
//!   or one of the doc's failure states: "Not Picked Up" (no answer, busy), "Invalid
//!   Number", "Carrier Error", "Voicemail hang-up", "Abandoned by Contact", "Not Reached
//!   to Contact" (unreachable). A number opted out or put on the DNC list after it was
//!   added is not dialled: "Do Not Call". An answered contact who opts out (outcome 7)
//!   ends "Finished" and the number goes on the tenant's voice opt-out list, which every
//!   dialect honours.
//! - Redials: the campaign's `max_redial_count` is each contact's number of redials
//!   (`contacts.max_retries`, set when the contact is added or imported) and
//!   `redial_interval_minutes` the wait between two calls (the policy's
//!   `retry_interval_secs`, written into the campaign's `attrs.policy` the first time a
//!   contact is added or imported: the campaigns are made by the operator's admin API).
//!   Between two calls the contact is "Redial Scheduled". A failure no redial can fix
//!   (invalid number) is final at once.

pub mod contacts;
pub mod import;
pub mod manager;
pub mod splitter;
pub mod status;
pub mod wire;

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query};
use axum::routing::{get, patch, post};
use axum::Router;

use crate::dialects::apps::error::AppsError;
use crate::domain::campaigns::{self, Campaign};
use crate::domain::{directory, TenantId};
use crate::state::AppState;
use crate::state::JobHandler;

/// The dialect's routes.
pub fn router() -> Router<AppState> {
    let base = "/apps/api/v1/outbound_dialer/campaigns/{campaign_id}";
    Router::new()
        .route(&format!("{base}/contacts"), get(contacts::list).post(contacts::add))
        .route(
            &format!("{base}/contacts/import"),
            post(import::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(&format!("{base}/contacts/jobs/{{job_id}}"), get(import::show))
        .route(&format!("{base}/contact"), patch(contacts::edit).delete(contacts::remove))
        .route("/manager/api/v1/outbound_dialer/campaigns", get(manager::list))
        .route("/manager/api/v1/outbound_dialer/campaigns/{id}", get(manager::show))
}

/// The dialect's job handlers.
pub fn job_handlers() -> Vec<(&'static str, JobHandler)> {
    vec![(import::KIND, Arc::new(import::handler) as JobHandler)]
}

/// A path that axum cannot decode (e.g. `%FF`) names nothing: 404 in the vendor's shape.
pub(crate) fn path_of<T>(p: Result<Path<T>, PathRejection>) -> Result<T, AppsError> {
    p.map(|Path(v)| v).map_err(|_| AppsError::not_found())
}

/// A query string that cannot be read (e.g. a repeated `page`): 400 in the vendor's shape.
pub(crate) fn query_of<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, AppsError> {
    q.map(|Query(v)| v).map_err(|e| AppsError::bad_request(e.body_text()))
}

/// A body that cannot be read (e.g. larger than the body limit → 413): the vendor's shape.
pub(crate) fn body_of(b: Result<Bytes, BytesRejection>) -> Result<Bytes, AppsError> {
    b.map_err(|e| AppsError::new(e.status(), e.body_text()))
}

/// The tenant's campaign with integer id `raw` (anything else → 404).
pub(crate) async fn campaign_of(st: &AppState, tenant: TenantId, raw: &str) -> Result<Campaign, AppsError> {
    let seq: i64 = raw.trim().parse().map_err(|_| AppsError::not_found())?;
    Ok(campaigns::get_by_seq(&st.db, tenant, seq).await?)
}

/// A dialer campaign's redial settings (`attrs.max_redial_count`,
/// `attrs.redial_interval_minutes`, as the Manager API shows them) as the engine reads
/// them: each contact's `max_retries`, and the policy's `retry_interval_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Redial {
    pub max_retries: i32,
    pub interval_secs: Option<i64>,
}

impl Redial {
    pub fn of(c: &Campaign) -> Redial {
        let int = |k: &str| {
            c.attrs.get(k).and_then(|v| match v {
                serde_json::Value::Number(n) => n.as_i64(),
                serde_json::Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
        };
        Redial {
            max_retries: int("max_redial_count").unwrap_or(0).clamp(0, 100) as i32,
            interval_secs: int("redial_interval_minutes").filter(|m| *m > 0).map(|m| m.saturating_mul(60)),
        }
    }
}

/// Writes the campaign's redial interval into its delivery policy when it is not there
/// yet (`campaigns::merge_policy`); the campaign as it is then.
pub(crate) async fn sync_policy(st: &AppState, tenant: TenantId, c: Campaign) -> Result<Campaign, AppsError> {
    let Some(secs) = Redial::of(&c).interval_secs else {
        return Ok(c);
    };
    if crate::domain::delivery::Policy::of(&c.attrs).retry_interval_secs == secs && c.attrs.pointer("/policy/retry_interval_secs").is_some()
    {
        return Ok(c);
    }
    let changes = serde_json::json!({ "retry_interval_secs": secs });
    Ok(campaigns::merge_policy(&st.db, tenant, c.id, &changes).await?)
}

/// The tenant's phone numbers (E.164).
pub(crate) async fn tenant_numbers(st: &AppState, tenant: TenantId) -> Result<HashSet<String>, AppsError> {
    Ok(contacts::number_set(directory::list_numbers(&st.db, tenant).await?))
}
