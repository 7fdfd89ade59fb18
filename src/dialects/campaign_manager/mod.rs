//! The Campaign Manager dialect (a CPaaS "turnkey app"): credits, SMS/voice campaigns,
//! announcements and DND (opt-out / opt-in) lists, over the shared domain.
//!
//! Contract: `vendor-docs/campaign-manager-api.txt`. Auth is HTTP Basic `accountSid:authToken`
//! (the `campaign_manager` credential of the tenant); the enterprise SID is the tenant's
//! (`EN` + its uuid hex). Errors are `{"code", "message", "data"}` with HTTP 409 for every
//! code the doc lists; 401 for missing/wrong credentials.
//!
//! Where each kind of code lives:
//! - this folder: the vendor's wire only. `wire.rs` holds the error shape (`CmError`, with
//!   `From<DomainError>` so handlers just use `?`), Basic auth, dates, paging, sorting and
//!   request bodies; `campaigns.rs`, `announcements.rs`, `dnd.rs` and `credits.rs` hold the
//!   handlers (parse → one domain call → render), the status table ([`STATUS`]), SIDs and
//!   the vendor's own rules (SMS segments and thus the cost per recipient, TTS languages,
//!   WAV check, file names, which error code answers what). No SQL here.
//! - `domain::campaign_launch`: creating a campaign (`launch`: suppression and opt-in
//!   screening, ledger lock, debit, campaign and contacts in one transaction) and
//!   cancel/delete with refund (`cancel`, through `campaigns::transition`).
//! - `domain::campaign_search`, `domain::announcements`, `domain::optlists`
//!   (`upsert_many`, `get`, `search`), `domain::credits` (`search`, `get_row`),
//!   `domain::blobs`: the reads and writes behind the other endpoints.
//! - the engine: running scheduled campaigns and sending (suppression again at send time).
//!
//! A campaign's life on the tenant clock (the delivery engine, `engine::attempts`):
//! - Create answers `initiating`; the campaign is stored `scheduled` with its delivery
//!   policy (`attrs.policy`, `domain::delivery`): `dial_timeout_secs` = `dialTimeout`
//!   (default 30), no retries (the doc has none). At `startTime` (or at once) the engine
//!   starts it: `InProgress`. An SMS is `sending` 2 s, then delivered or failed as the
//!   simulated carrier's table says; a call dials 5 s and lasts 30 s when answered, rings
//!   `dialTimeout` seconds when not. A number opted out or put on the DNC list after the
//!   campaign was created is not contacted (outbox `suppressed`, counted `suppressed`).
//! - The campaign ends `Completed` once every recipient is final, or `Failed` when attempts
//!   were made and none reached its recipient (the engine's rule for every dialect; the doc
//!   calls Failed a campaign that "failed for some reason", and Completed does not depend
//!   on whether SMS were delivered: one success is enough for Completed).
//! - Single-campaign answers (get, update, delete) carry `counts`: how many recipients are
//!   in each outcome ([`COUNT_KEYS`]: `pending`, `inProgress`, `delivered`, `answered`,
//!   `voicemail`, `optOut`, `abandoned`, `noAnswer`, `busy`, `unreachable`,
//!   `invalidNumber`, `undelivered`, `carrierError`, `failed`, `suppressed`, `cancelled`).
//!   The doc shows no counts; the object and its keys are ours, in the doc's camelCase.
//! - Credits: debited at creation (the doc: "Whenever Campaign is scheduled, equivalent
//!   Credit is deducted"), refunded only when a `scheduled` campaign is cancelled or
//!   deleted. Failed deliveries are not refunded: the doc says "Once a Campaign progresses
//!   to InProgress state, Credit cannot be reversed, no matter what."
//! - Cancel through this API stays what the doc allows: only a `scheduled` campaign (an
//!   `InProgress` one answers 487). A running campaign cancelled otherwise (the operator's
//!   admin API, another dialect) reads `Cancelled`: the engine attempts none of its
//!   waiting recipients again (they count as `cancelled`); calls in flight end.
//!
//! Storage: campaigns are shared `campaigns` rows (kind `sms` or `voice`, the vendor fields
//! in `attrs.cm`, what the launch recorded in `attrs.launch`: recipients, cost, the
//! announcement used), recipients shared `contacts` with their exact delivery in
//! `attrs.deliveries`, credits the shared ledger, DND the shared suppression lists;
//! announcements have their own table (migration 0300) with audio in `blobs`.
//!
//! Choices where the doc is silent or contradicts itself:
//! - `accountEmail` (credits, campaigns, announcements) is the credential's `attrs.email`,
//!   else `<tenant slug>@switchboard.invalid` (the tenant has no email of its own). Ledger
//!   rows and campaigns that no Campaign Manager account made (operator credits, other
//!   dialects' campaigns) show the caller's account SID and email.
//! - Error key: campaign and credit errors print `"code": <number>` (the campaign failure
//!   examples); announcement and DND errors print `"errorCode": "<string>"` (their examples),
//!   including bad input there (malformed JSON/multipart, bad paging/date/sort parameters).
//! - A method a path does not serve → HTTP 405, code 405 (errorCode on announcement and
//!   DND paths), with `Allow`.
//! - Bad input without a code in the doc (bad channel, bad page size, bad sort attribute,
//!   malformed JSON/multipart, a `toFile` without any valid number, an invalid `fromFile`)
//!   → HTTP 400 with code 400 and a message naming the parameter.
//! - 486 message: the table's "Enterprise campaign not found" (the example says "Campaign
//!   not found"); 463 "Campaign not found" for delete and get. 489: the table's "Start Time
//!   is in past". 521: "Announcement Language Not Found" on create, "… is not supported"
//!   on update, as each table says. Codes the doc lists for two operations follow each
//!   section's own table and example (the first printed): update answers 486 (not found) and
//!   487 (not scheduled), delete 463 and 464.
//! - Invalid from/to numbers are refused at creation (400, nothing stored) rather than
//!   creating a campaign that goes straight to Failed.
//! - Create answers HTTP 201 with `"status": "initiating"` (as the doc's example); the
//!   campaign is then stored `scheduled` (`campaign_launch::launch`: the debit, the campaign
//!   and its contacts in one transaction that locks the tenant's ledger first, so concurrent
//!   creations never overspend).
//!   Without `startTime` it starts at once (the tenant's now). Later reads map the domain
//!   status through [`STATUS`].
//! - Recipients: `toFile` parts (repeated parts are merged, as the doc's voice example sends
//!   two) are read line by line, first CSV cell, normalised to E.164 (numbers without `+`
//!   and not 10 digits are read as international, e.g. `919960639903`), de-duplicated;
//!   invalid lines are reported in `invalidNumbers`/`invalidCount` of the answer.
//!   Suppressed numbers (opt-out for the channel, company DNC) are always removed at
//!   creation (the house rule), whether `optOut` is passed or not; `optOut` only accepts
//!   "Opt-Out". With `optIn` only numbers on that named opt-in list stay. Removed numbers
//!   are counted in `filteredCount`. A JSON body with `to` (comma list) works too.
//! - Senders: `fromFile` numbers round robin; else `fromPrefix` + random digits (12 in all);
//!   neither (the doc's own voice example) is accepted and leaves the sender empty.
//! - Cost (`total`): recipients × SMS segments (GSM-7 160/153 with extension characters
//!   counted twice, else UCS-2 70/67), 1 per voice call. Nothing is written on 488.
//! - PUT with another status of the life cycle (`scheduled`, `InProgress`, `Completed`, …)
//!   → 487 "Campaign status cannot be updated" (the state machine refuses it); a word that
//!   is no status at all → 483 "Campaign status is invalid".
//! - Cancel (PUT `cancelled`/`canceled`) and DELETE only from `scheduled`; both refund the
//!   campaign's net debit as a `credit` ledger row; DELETE hides the campaign afterwards and
//!   answers the campaign as it was.
//! - Campaign search lists every campaign of the tenant (whatever dialect made it); `total`
//!   is 0 for campaigns made elsewhere. `startTime`/`endTime` filter on creation time.
//!   Date filters: a date alone means midnight UTC (as the doc says), bounds inclusive
//!   (an `endTime` given to the second covers that whole second); an unencoded `+hhmm`
//!   offset (a space after URL decoding) is understood.
//! - Campaign SIDs are `EC` + 32 hex (what create answers); the doc's update/delete/get
//!   examples print `CP…`, accepted as the same id. Single-campaign answers (get, update,
//!   delete) carry `to` (comma list of the recipients as written) when there are at most
//!   1000; searches do not.
//! - Create also takes `application/x-www-form-urlencoded` (same fields as JSON).
//! - Values are trimmed of straight and typographic quotes (`-F channel=”voice”`).
//! - Announcements: `enterpriseSid` is mandatory (4000) and must be the caller's (else
//!   467). TTS languages: `google.<locale>-Standard-A..D` for common Google locales, or a
//!   bare locale. Delete answers 507 while a draft/scheduled/running/paused campaign uses
//!   it (campaigns launched before `attrs.launch.announcement_id` existed are not seen as
//!   using it). The WAV is served (with auth) at its `fileUri`,
//!   `/campaignmanager/internal/announcement/file/<AN…>_<millis>.wav`. The doc's examples
//!   that post to `/autoattendant/announcement` and
//!   `/autoattendant/internal/announcement/file/{sid}` are served as aliases, and so is
//!   `POST /campaignmanager/internal/announcement/file/{sid}`; the URIs the examples print
//!   (`/autoattendant/announcement/search/{sid}`, `/autoattendant/announcement/file/…`,
//!   `/campaignmanager/announcement/file/…`, `/campaignmanager/enterprise/campaign/search/{sid}`)
//!   answer GET. The "Get Single Campaign" curl sends `DELETE …/campaigns/search/{sid}`:
//!   answered as that read, never as a deletion.
//! - Announcement SIDs are `AN` + 32 hex; the doc's get example prints `AAE…`, accepted as
//!   the same id (as `CP…` for campaigns).
//! - DND uploads are all-or-nothing: any invalid line (or no number) → 490 listing them.
//!   The Opt-Out list is the shared opt-out list (all channels), so entries added by other
//!   dialects or the admin API appear in its search; numbers are shown as the caller wrote
//!   them. Any Content-Type carrying a multipart boundary is read as multipart (curl sends
//!   `application/json; boundary=…` for the doc's `-H 'Content-Type: application/json' -F`).
//! - Upload routes lift the default body limit; the request is counted while streaming
//!   and refused past `upload_limit`.

mod announcements;
mod campaigns;
mod credits;
mod dnd;
pub mod tenant;
mod wire;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put, MethodRouter};
use axum::Router;

use crate::domain::campaigns::status as cs;
use crate::state::AppState;
use crate::state::JobHandler;

pub use campaigns::sms_segments;

/// Domain campaign status → Campaign Manager status (one table; reads use it both ways).
pub const STATUS: &[(&str, &str)] = &[
    (cs::DRAFT, "initiating"),
    (cs::SCHEDULED, "scheduled"),
    (cs::RUNNING, "InProgress"),
    (cs::PAUSED, "InProgress"),
    (cs::COMPLETED, "Completed"),
    (cs::FAILED, "Failed"),
    (cs::CANCELLED, "Cancelled"),
];

/// The vendor name of a domain status.
pub fn cm_status(domain: &str) -> &'static str {
    STATUS.iter().find(|(d, _)| *d == domain).map(|(_, c)| *c).unwrap_or("Failed")
}

/// The shared contact statuses that are not final, counted as `inProgress`.
const IN_PROGRESS: &[&str] = &["dialing", "connected", "sending", "queued", "retry_wait"];

/// A final contact's last outcome (the engine's `Outcome` name) → its key in a campaign's
/// `counts` (one table). Contacts still `pending` count as `pending`, those in flight as
/// `inProgress`, numbers suppressed at send time (`dnc`) as `suppressed`, contacts of a
/// cancelled campaign that were never attempted as `cancelled`, and a final contact
/// without an outcome as `failed`.
pub const COUNT_KEYS: &[(&str, &str)] = &[
    ("delivered", "delivered"),
    ("answered", "answered"),
    ("voicemail", "voicemail"),
    ("opt_out", "optOut"),
    ("abandoned", "abandoned"),
    ("no_answer", "noAnswer"),
    ("busy", "busy"),
    ("unreachable", "unreachable"),
    ("invalid", "invalidNumber"),
    ("undelivered", "undelivered"),
    ("carrier_error", "carrierError"),
    ("bounced", "failed"),
];

/// Every key of `counts`, in the order rendered.
pub const COUNT_ORDER: &[&str] = &[
    "pending",
    "inProgress",
    "delivered",
    "answered",
    "voicemail",
    "optOut",
    "abandoned",
    "noAnswer",
    "busy",
    "unreachable",
    "invalidNumber",
    "undelivered",
    "carrierError",
    "failed",
    "suppressed",
    "cancelled",
];

/// The `counts` key of a contact in shared status `status` whose last outcome is `outcome`.
pub fn count_key(status: &str, outcome: Option<&str>) -> &'static str {
    match status {
        "pending" => "pending",
        "dnc" => "suppressed",
        "cancelled" => "cancelled",
        s if IN_PROGRESS.contains(&s) => "inProgress",
        _ => outcome
            .and_then(|o| COUNT_KEYS.iter().find(|(k, _)| *k == o))
            .map(|(_, v)| *v)
            .unwrap_or("failed"),
    }
}

/// The domain statuses a vendor status filter means (case-insensitive; "canceled" too).
pub fn domain_statuses_for(vendor: &str) -> Option<Vec<&'static str>> {
    let v = if vendor.eq_ignore_ascii_case("canceled") {
        "Cancelled"
    } else {
        vendor
    };
    let found: Vec<&'static str> = STATUS.iter().filter(|(_, c)| c.eq_ignore_ascii_case(v)).map(|(d, _)| *d).collect();
    (!found.is_empty()).then_some(found)
}

/// Answers a method the path does not serve: 405 in the dialect's error shape
/// (`errorCode` on announcement and DND paths), with the `Allow` header axum adds.
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> wire::CmError {
    let e = wire::CmError::method_not_allowed(&method, uri.path());
    if uri.path().contains("/announcement") || uri.path().contains("/dnd/") {
        e.ec()
    } else {
        e
    }
}

fn allow(m: MethodRouter<AppState>) -> MethodRouter<AppState> {
    m.fallback(method_not_allowed)
}

/// The dialect's routes.
pub fn router() -> Router<AppState> {
    let uploads = Router::new()
        .route("/campaignmanager/campaigns", allow(post(campaigns::create)))
        .route(
            "/campaignmanager/internal/file/announcement/{sid}",
            allow(post(announcements::upload)),
        )
        .route(
            "/autoattendant/internal/announcement/file/{sid}",
            allow(post(announcements::upload)),
        )
        // The fileUri (GET) and, with an announcement SID, an upload in the word order the
        // doc's curl uses.
        .route(
            "/campaignmanager/internal/announcement/file/{file}",
            allow(post(announcements::upload).get(announcements::file)),
        )
        .route("/campaignmanager/dnd/optout", allow(post(dnd::optout_upload)))
        .route("/campaignmanager/dnd/optin", allow(post(dnd::optin_upload)))
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .route("/campaignmanager/credits/search", allow(get(credits::search)))
        .route("/campaignmanager/credits/search/{sid}", allow(get(credits::get_one)))
        .route("/campaignmanager/campaigns/search", allow(get(campaigns::search)))
        // The doc's "Get Single Campaign" curl sends DELETE here: answered as the read it
        // documents (never a deletion).
        .route(
            "/campaignmanager/campaigns/search/{sid}",
            allow(get(campaigns::get_one).delete(campaigns::get_one)),
        )
        .route("/numbermasking/campaigns/search/{sid}", allow(get(campaigns::get_one)))
        // The `uri` the doc's update/delete/get examples print.
        .route("/campaignmanager/enterprise/campaign/search/{sid}", allow(get(campaigns::get_one)))
        .route(
            "/campaignmanager/campaigns/{sid}",
            allow(put(campaigns::update).delete(campaigns::delete)),
        )
        .route("/campaignmanager/announcement", allow(post(announcements::create)))
        .route("/autoattendant/announcement", allow(post(announcements::create)))
        .route("/campaignmanager/announcement/search", allow(get(announcements::search)))
        .route("/campaignmanager/announcement/search/{sid}", allow(get(announcements::get_one)))
        // The `uri` and `fileUri` the doc's upload example prints.
        .route("/autoattendant/announcement/search/{sid}", allow(get(announcements::get_one)))
        .route("/autoattendant/announcement/file/{file}", allow(get(announcements::file)))
        .route(
            "/campaignmanager/announcement/{sid}",
            allow(put(announcements::update).delete(announcements::delete)),
        )
        .route("/campaignmanager/announcement/file/{file}", allow(get(announcements::file)))
        .route("/campaignmanager/dnd/optout/search", allow(get(dnd::optout_search)))
        .route("/campaignmanager/dnd/optout/search/{sid}", allow(get(dnd::optout_get)))
        .route(
            "/campaignmanager/dnd/optout/{sid}",
            allow(axum::routing::delete(dnd::optout_delete)),
        )
        .route("/campaignmanager/dnd/optin/search", allow(get(dnd::optin_search)))
        .route("/campaignmanager/dnd/optin/search/{sid}", allow(get(dnd::optin_get)))
        .route("/campaignmanager/dnd/optin/{sid}", allow(axum::routing::delete(dnd::optin_delete)))
        .merge(uploads)
}

/// The dialect's job handlers (none: campaigns run on the engine's scheduler).
pub fn job_handlers() -> Vec<(&'static str, JobHandler)> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        assert_eq!(cm_status("running"), "InProgress");
        assert_eq!(domain_statuses_for("inprogress"), Some(vec!["running", "paused"]));
        assert_eq!(domain_statuses_for("canceled"), Some(vec!["cancelled"]));
        assert_eq!(domain_statuses_for("nope"), None);
    }

    #[test]
    fn count_keys() {
        assert_eq!(count_key("pending", None), "pending");
        assert_eq!(count_key("retry_wait", Some("busy")), "inProgress");
        assert_eq!(count_key("busy", Some("busy")), "busy");
        assert_eq!(count_key("completed", Some("delivered")), "delivered");
        assert_eq!(count_key("invalid_number", Some("invalid")), "invalidNumber");
        assert_eq!(count_key("dnc", None), "suppressed");
        assert_eq!(count_key("cancelled", None), "cancelled");
        assert_eq!(count_key("failed", None), "failed");
        for (_, k) in COUNT_KEYS {
            assert!(COUNT_ORDER.contains(k));
        }
    }
}
