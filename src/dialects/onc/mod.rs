//! The ONC dialect: the session-based Outbound Notification Campaigns service
//! (`onc-dynamic-notifications.txt`), served as SOAP 1.1 and as JSON.
//!
//! # Bindings
//! - **SOAP 1.1, document/literal wrapped**, at `POST /onc/` and `POST /onc/ONCService.svc`;
//!   the WSDL (`openapi/onc.wsdl`, embedded) at `GET /onc/?wsdl` and
//!   `GET /onc/ONCService.svc?wsdl`. The served document is the file with one change: the
//!   placeholder `soap:address` (`http://switchboard.example/onc/ONCService.svc`) becomes
//!   the address the WSDL was fetched from, as WCF builds it (`Forwarded`, then
//!   `X-Forwarded-Proto` / `X-Forwarded-Host`, then `Host`), so a SOAP stack that posts to
//!   the WSDL's own address reaches this server, behind a proxy too.
//! - **JSON** at `POST /onc/json/{Method}`: the parameters as one object with the doc's
//!   names (`accountId`, `sessionId`, `campaign`, `contact`, `campaignId`, `contactId`),
//!   PascalCase fields inside (every name is matched exactly first, then case-insensitively,
//!   so Postman-style `AccountId`, `Username`, `Password`, `SessionId`, `CampaignId`,
//!   `ContactId`, `Campaign`, `Contact` work too; so does a lower-case method name in the
//!   path); the result as JSON: an object for the two session
//!   methods, a bare integer for methods returning `int`, an array (or `null`) for
//!   lists, an object (or `null`) for `GetCampaign`. On any non-zero outcome the
//!   `X-ONC-Description` header carries the description (the vendor's `int` results have
//!   no place for it). A body that is not a JSON object → HTTP 400
//!   `{"ErrorCode": 4, "Description": …}`; an unknown method → HTTP 404; a verb other than
//!   POST → HTTP 405 in the same shape.
//!
//! Both bindings call [`service::call`].
//!
//! # Where the code lives
//! - **This dialect** (`onc/`): the wire and the vendor's mapping tables only. `soap.rs`
//!   reads and writes SOAP envelopes, `types.rs` parses and validates the doc's data
//!   contracts (field names, dates, the daily window: `CampaignInfo::next_window_start`),
//!   `service.rs` turns one method's parameters into one domain call and its result into a
//!   [`Reply`], with pure ONC helpers (the `attrs.onc` layout, the planned `deliveries`, the
//!   StatusCode of a channel); this file holds the routes and the tables ([`STATUS_TABLE`],
//!   [`OUTCOME_TABLE`], ErrorCodes) and `progress.rs`, the ProgressWSEndpoint callback job.
//!   No SQL, no transactions.
//! - **The domain** (`crate::domain`): every query, transaction and rule. Sessions in
//!   `domain::sessions` (open, touch = check and slide, close); campaigns in
//!   `domain::campaign_ops` (create reusing a deleted ID, update with the re-planning of
//!   contacts not attempted yet, delete) and `domain::campaigns` (get; status only through
//!   `campaigns::transition`); contacts in `domain::contact_ops` (add, update, delete, list):
//!   the domain screens each phone destination against the suppression lists and calls the
//!   dialect's pure planner (`service::plan_contact`) with the outcome, inside its transaction.
//!   Domain errors become ErrorCodes in one place (`From<DomainError> for service::Fail`).
//!
//! # Inferred WCF defaults (the vendor publishes no WSDL)
//! Target namespace `http://tempuri.org/`, contract `IONCService`, SOAPAction
//! `"http://tempuri.org/IONCService/<Method>"`; data contracts in
//! `http://schemas.datacontract.org/2004/07/ONC`, members in ordinal order as
//! DataContractSerializer writes them; `Guid` as the serialization namespace's `guid`
//! (pattern-restricted string); `CreationDateUtc` as `xs:dateTime`; the doc's `Date` and
//! `Time` fields as strings `yyyy-MM-dd` / `HH:mm:ss`; lists as `ArrayOfguid`,
//! `ArrayOfOutboundNotificationCampaignInfo`, `ArrayOfOutboundNotificationContactInfo`;
//! null as `i:nil="true"`. The request is dispatched on the Body's first element (which
//! must be a known operation); SOAPAction is used only when that element is not one.
//! SOAP `Header`s are read past, except that a header entry addressed to this node (no
//! `actor`, or the `next` actor) with `mustUnderstand="1"` gets the SOAP 1.1
//! `s:MustUnderstand` fault (as WCF answers) unless it is WS-Addressing (`Action`, `To`,
//! … in the 2005/05 "none", 2005/08, 2004/08 or 2004/03 namespaces). The WSDL's `soap:address` is built from
//! the request (see Bindings), so clients need no endpoint override.
//!
//! SOAP faults (HTTP 500, `s:Client` / `s:Server` / `s:VersionMismatch` / `s:MustUnderstand`) only for
//! envelopes that cannot be read: malformed XML, any DTD (`<!DOCTYPE`, so no entity
//! declarations: no XXE, no billion laughs), entity references other than the five
//! predefined ones, a non-SOAP-1.1 envelope, an unknown operation. Business errors are
//! ErrorCodes in normal responses. A body over the server's limit is answered HTTP 413
//! (as WCF answers past its maxReceivedMessageSize) with an `s:Client` fault envelope on
//! the SOAP endpoints and `{"ErrorCode": 4, "Description": …}` on the JSON binding.
//!
//! # ErrorCode (every method that returns `int`, and the session responses)
//! | code | meaning |
//! | --- | --- |
//! | 0 | success |
//! | 1 | invalid or expired session |
//! | 2 | invalid credentials (OpenAPISession) |
//! | 3 | not found (campaign or contact, including another tenant's) |
//! | 4 | invalid argument (Description names the field, e.g. `campaign.ShortName: is required`) |
//! | 5 | already exists (AddCampaign / AddCampaignContact with an ID in use) |
//! | 6 | not allowed in the current state (contacts of an ended or cancelled campaign) |
//! | 99 | internal error |
//!
//! Methods returning lists or an object return null (`i:nil` / JSON `null`) on any error
//! and an empty list when there is nothing.
//!
//! # Choices where the doc is silent
//! - Sessions: `domain::sessions` rows (kind `onc_session`, SHA-256 digest of the SessionId),
//!   idle expiry `onc_session_idle_seconds` of the tenant, else `--onc-session-idle` /
//!   `SWITCHBOARD_ONC_SESSION_IDLE` (1200 s),
//!   on the tenant's clock; every call slides it; `CloseAPISession` revokes it; sessions
//!   dead for a day are removed when the tenant opens a new one. A revoked credential
//!   ends its sessions.
//! - Campaigns are shared `campaigns` rows (kind `onc`, the client's ID as the row id; an
//!   empty/zero Guid gets a new one). ONC fields live in `attrs.onc`. The campaign runs
//!   from ActiveFromDate to ActiveToDate, each day from ActiveFromTime to ActiveToTime
//!   ("on daily basis", read as UTC; times default to 00:00:00 and 23:59:59; an end time
//!   before the start time is an overnight window). The row is `scheduled` with
//!   `starts_at` = the first window instant from now (`CampaignInfo::next_window_start`),
//!   so the engine starts it then; a finished campaign given new work (AddCampaignContact,
//!   UpdateCampaignContact, UpdateCampaign) is rescheduled to its next window the same way
//!   (`paused` while IsPaused; IsPaused is read back from the status). The daily window
//!   is also the delivery policy's window (see *Delivery policy*): the engine starts no
//!   attempt outside it, nor at or after the end ActiveToDate + ActiveToTime (the
//!   policy's `until`). **Active** (GetCampaignListing/GetCampaigns) = not deleted and ActiveToDate
//!   not before the tenant's today (UTC); every kind of campaign shows, since one store
//!   serves every dialect (rows from other dialects get ONC defaults). DeleteCampaign
//!   soft-deletes the row (status `cancelled` unless it had already completed or failed) and deletes its contacts; AddCampaign with
//!   that ID later makes a new campaign in the same row (new CreationDateUtc; delivery
//!   history keeps pointing at it). An ID in use by another tenant (live or deleted) stays taken (5).
//!   ActiveFromDate and ActiveToDate are required. Read leniently as well: a date may carry
//!   a time part (`2026-01-01T00:00:00`, a .NET `DateTime`), a time may be `HH:mm` or an
//!   `xs:duration` under a day (`PT9H30M`, a .NET `TimeSpan`); they are echoed as
//!   `yyyy-MM-dd` / `HH:mm:ss`.
//! - Contacts are shared `contacts` rows; each CommunicationInfo is kept in
//!   `attrs.onc.{sms,voice,email}`, and `attrs.deliveries` tells the scheduler exactly
//!   what to send (the campaign's sender and text unless TextToSendOverwrite is given).
//!   The SMS FromNumber may be a phone number or a short code (3–8 digits); CallingNumber
//!   must be a phone number. Senders are echoed as sent and delivered in E.164.
//!   A destination on a channel the campaign does not enable is kept but not sent
//!   (StatusCode 0). A destination on the opt-out/DNC list gets StatusCode 7. RetryCount
//!   defaults to the campaign's MaxDeliveryRetries; see *Retries* for how it counts down.
//!   UpdateCampaignContact starts a contact over when a destination changed (pending again,
//!   its attempts reset: StatusCode 1 and the full RetryCount, not 5 "waiting for retry").
//!   Adding a contact to a `completed` campaign schedules it again.
//! - Campaign and contact IDs are global primary keys: an ID already used by another
//!   tenant answers 5 (nothing of that tenant is shown or changed).
//! - Stored and echoed but not acted on: AllowAddingContactsFromExternalApps and the three
//!   *NotificationRequired flags (they concern the vendor's agent app), CallingName,
//!   TTSVoiceName, MaxTextPlays.
//! - A contact whose every destination is suppressed is `dnc` in the shared state (7);
//!   one with nothing to deliver is `skipped` (0). UpdateCampaign re-plans the deliveries
//!   (and that state) of contacts not attempted yet.
//!
//!
//! # Delivery policy
//! AddCampaign and UpdateCampaign write the campaign's neutral policy (`attrs.policy`,
//! `domain::delivery`), which the delivery engine reads (`service::policy`):
//! - `retry_interval_secs` = RetryMinutesInterval × 60 (0 or absent: 300 s);
//! - `dial_timeout_secs` = DialMsTimeout in seconds, rounded up, at least 1 (0 or absent:
//!   30 s): how long an unanswered call rings;
//! - `window` = ActiveFromTime–ActiveToTime, UTC times of day on the tenant clock, the end
//!   excluded; ActiveToTime 23:59:59 (the default) is the end of the day, and
//!   00:00:00–23:59:59 is no window at all. A contact whose (next) attempt falls due
//!   outside the window waits for the next opening (the next day's ActiveFromTime);
//! - `progress_url` = ProgressWSEndpoint (see *Progress callbacks*).
//! - `until` = ActiveToDate + ActiveToTime (23:59:59: the end of that day), "the date the
//!   campaign is to end executing": no attempt starts at or after it, attempts in flight
//!   end, and the campaign then completes (failed when attempts were made and none
//!   succeeded). Contacts not attempted yet keep StatusCode 1, those waiting for a
//!   retry keep 5 with their RetryCount: the doc says the campaign ends executing, not
//!   that its contacts are cancelled (7 is the opt-out/DNC state).
//!
//! The engine starts the campaign at `starts_at` (ActiveFromDate + ActiveFromTime, or the
//! next window from now, see above). IsPaused = true moves it to `paused`
//! (`campaigns::transition`, event Pause): no new attempt starts, attempts in flight end;
//! IsPaused = false schedules it again at the next window instant from now (event
//! Schedule, then Start), and waiting contacts whose retry fell due meanwhile are
//! attempted at once.
//!
//! # Retries
//! MaxDeliveryRetries (OutboundVoiceNotificationInfo, for every channel) is, as the doc
//! says, the number of attempts; it is the default RetryCount of each CommunicationInfo,
//! and RetryCount is "the number of attempts left". A contact's shared `max_retries`
//! (retries after the first attempt) is therefore its largest RetryCount − 1 (at least 0:
//! RetryCount 0 still gets one attempt). RetryCount is shown counting down: the stored
//! RetryCount less the attempts made on the channel (= `max_retries` − retries used once
//! the first attempt started); 0 when exhausted. Retries are per contact: a contact with
//! several channels is retried while any of them can be, up to its largest RetryCount.
//!
//! # StatusCode per channel
//! Every StatusCode comes from one table, [`STATUS_TABLE`] (shared state → code): 1
//! pending; 2 `sending` (SMS, email) or `dialing`; 3 `connected` (call answered: the
//! message is being delivered); 4 `completed`, `voicemail`, `abandoned` (the engine's
//! successes); 5 `retry_wait`; 6 `failed`, `no_answer`, `busy`, `unreachable`,
//! `carrier_error`, `invalid_number` (retries exhausted, or permanent); 7 `cancelled`, and
//! `dnc`: a destination suppressed at creation or at send time shows 7 (cancelled: the
//! doc has no "suppressed" code and 0 "do not try" is for blank destinations). In
//! GetCampaignContacts a blank destination or a channel the campaign does not enable is
//! 0; otherwise the channel's shared state is [`channel_state`]: the contact's state while
//! it is `pending` or has no outbox row on the channel; the latest row's attempt state
//! while it is in flight; once finished, its outcome's state ([`OUTCOME_TABLE`]), except
//! that a failure shows `retry_wait` (5) while the contact waits for a retry and
//! `cancelled` (7) once its campaign was cancelled.
//!
//! # LastDeliveryErrorCode
//! The result of the channel's latest finished attempt ([`OUTCOME_TABLE`]; the doc fixes
//! only "zero means successful"); 0 before any attempt and while the contact is pending.
//!
//! | code | result of the attempt |
//! | --- | --- |
//! | 0 | none yet, or success: answered, delivered, voicemail, abandoned (answered, then hung up), opt-out (delivered, then opted out) |
//! | 1 | suppressed at send time (opt-out or DNC list) |
//! | 2 | undelivered (SMS, email) |
//! | 3 | no answer (rang for DialMsTimeout) |
//! | 4 | busy |
//! | 5 | unreachable |
//! | 6 | carrier error |
//! | 7 | invalid number (permanent: never retried) |
//! | 8 | bounced (email, permanent) |
//!
//! # Progress callbacks (ProgressWSEndpoint)
//! When a campaign has a ProgressWSEndpoint, every change of a contact's state (attempt
//! started, answered, waiting for a retry, final, suppressed, cancelled) is POSTed to it
//! as JSON (`Content-Type: application/json`), in the order of the contact's changes:
//!
//! ```json
//! {"CampaignId": "<guid>", "ContactId": "<guid>", "Channel": "SMS" | "Voice" | "Email",
//!  "StatusCode": 0-7, "LastDeliveryErrorCode": 0-8, "RetryCount": 0-255,
//!  "TimestampUtc": "2030-01-07T10:00:20.000Z"}
//! ```
//!
//! (the vendor publishes no format; this one uses the doc's own names). StatusCode is the
//! contact's new state through the STATUS_TABLE; Channel the channel of the change (for a
//! contact with several, the first one its attempt started on); LastDeliveryErrorCode the
//! outcome that decided the change, or the previous attempt's when an attempt starts;
//! RetryCount the attempts left; TimestampUtc the instant of the change on the tenant
//! clock. Each callback is a `progress` job (the engine enqueues it with the change; the
//! handler is `progress.rs`): a request times out after 5 s; anything but a 2xx answer is
//! retried with backoff (`SWITCHBOARD_SINK_BACKOFF_MS`, doubling, 5 tries, then the job
//! fails), never blocking the engine, and a contact's later callbacks wait for it.

mod progress;
mod service;
mod soap;
pub mod tenant;
mod types;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::controls::faults;
use crate::domain::contacts::status as cst;
use crate::state::AppState;
use crate::state::JobHandler;

pub use service::Reply;

/// The served WSDL (the very same file as `openapi/onc.wsdl`).
pub const WSDL: &str = include_str!("../../../openapi/onc.wsdl");

/// ErrorCodes (see the module doc's table).
pub mod code {
    pub const SUCCESS: i32 = 0;
    pub const INVALID_SESSION: i32 = 1;
    pub const INVALID_CREDENTIALS: i32 = 2;
    pub const NOT_FOUND: i32 = 3;
    pub const INVALID_ARGUMENT: i32 = 4;
    pub const ALREADY_EXISTS: i32 = 5;
    pub const NOT_ALLOWED: i32 = 6;
    pub const INTERNAL: i32 = 99;
    /// Used only for logging list/object results that came back null.
    pub const ERROR: i32 = -1;
}

/// Shared contact state ↔ CommunicationInfo.StatusCode (0 do not try, 1 pending,
/// 2 sending, 3 delivering, 4 success, 5 waiting for retry, 6 permanent failure,
/// 7 cancelled). Read left to right; for the reverse direction the first row with the
/// code wins. A `pending` contact that was attempted before shows 5. Every StatusCode
/// shown (per channel in GetCampaignContacts, and in progress callbacks) comes from this
/// table; a channel's own state is [`channel_state`].
pub const STATUS_TABLE: &[(&str, i32)] = &[
    (cst::SKIPPED, 0),
    (cst::SKIPPED_CLOSED, 0),
    (cst::PENDING, 1),
    (cst::SENDING, 2),
    (cst::DIALING, 2),
    (cst::QUEUED, 2),
    (cst::CONNECTED, 3),
    (cst::COMPLETED, 4),
    (cst::VOICEMAIL, 4),
    (cst::ABANDONED, 4),
    (cst::TRANSFERRED, 4),
    (cst::TRANSFERRED_COMPLETED, 4),
    (cst::RETRY_WAIT, 5),
    (cst::CALLBACK, 5),
    (cst::FAILED, 6),
    (cst::NO_ANSWER, 6),
    (cst::BUSY, 6),
    (cst::UNREACHABLE, 6),
    (cst::CARRIER_ERROR, 6),
    (cst::INVALID_NUMBER, 6),
    (cst::INVALID_OUTBOUND, 6),
    (cst::ABANDONED_BY_DIALER, 6),
    (cst::BLOCKED, 6),
    (cst::CANCELLED, 7),
    (cst::DNC, 7),
];

/// An attempt's outcome (the outbox row's final status, `deliveries.outcome`) → (the
/// shared state it leaves its channel in, LastDeliveryErrorCode). `sent` and `failed`
/// are the outbox statuses written before the engine decided outcomes.
pub const OUTCOME_TABLE: &[(&str, &str, i32)] = &[
    ("answered", cst::COMPLETED, 0),
    ("delivered", cst::COMPLETED, 0),
    ("opt_out", cst::COMPLETED, 0),
    ("voicemail", cst::VOICEMAIL, 0),
    ("abandoned", cst::ABANDONED, 0),
    ("sent", cst::COMPLETED, 0),
    ("suppressed", cst::DNC, 1),
    ("undelivered", cst::FAILED, 2),
    ("failed", cst::FAILED, 2),
    ("no_answer", cst::NO_ANSWER, 3),
    ("busy", cst::BUSY, 4),
    ("unreachable", cst::UNREACHABLE, 5),
    ("carrier_error", cst::CARRIER_ERROR, 6),
    ("invalid", cst::INVALID_NUMBER, 7),
    ("bounced", cst::FAILED, 8),
];

/// StatusCode of a shared contact state.
pub fn status_code_for(status: &str, attempts: i32) -> i32 {
    if status == cst::PENDING && attempts > 0 {
        return 5;
    }
    STATUS_TABLE.iter().find(|(s, _)| *s == status).map(|(_, c)| *c).unwrap_or(6)
}

/// The shared contact state a StatusCode stands for.
pub fn contact_status_for(code: i32) -> &'static str {
    STATUS_TABLE
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(s, _)| *s)
        .unwrap_or(cst::FAILED)
}

/// (shared state, LastDeliveryErrorCode) of an outcome name (an unknown one: failed, 2).
pub fn outcome_entry(outcome: &str) -> (&'static str, i32) {
    OUTCOME_TABLE
        .iter()
        .find(|(o, _, _)| *o == outcome)
        .map(|(_, s, e)| (*s, *e))
        .unwrap_or((cst::FAILED, 2))
}

/// (StatusCode, LastDeliveryErrorCode) of a finished attempt's outbox status.
pub fn delivery_code(status: &str) -> (i32, i32) {
    let (state, error) = outcome_entry(status);
    (status_code_for(state, 0), error)
}

/// LastDeliveryErrorCode of the latest finished attempt (0 when there was none).
pub fn last_error_code(last_outcome: Option<&str>) -> i32 {
    last_outcome.map(|o| outcome_entry(o).1).unwrap_or(0)
}

/// The shared state of one channel of a contact: its latest outbox row's status
/// (`delivery`: an attempt in flight, `sending` / `dialing` / `connected`, or a finished
/// attempt's outcome) read with the contact's own state (`contact`). No row yet, or a
/// contact waiting for its (first or renewed) attempt (`pending`): the contact's state.
/// A finished attempt that did not succeed shows `retry_wait` while the contact waits
/// for a retry and `cancelled` once the campaign was cancelled; otherwise the outcome's
/// state ([`OUTCOME_TABLE`]).
pub fn channel_state<'a>(contact: &'a str, delivery: Option<&str>) -> &'a str {
    let Some(d) = delivery else { return contact };
    if contact == cst::PENDING {
        return contact;
    }
    if let Some(in_flight) = [cst::SENDING, cst::DIALING, cst::CONNECTED].into_iter().find(|s| *s == d) {
        return in_flight;
    }
    let (state, _) = outcome_entry(d);
    let success = status_code_for(state, 0) == 4;
    match contact {
        _ if success || state == cst::DNC => state,
        cst::RETRY_WAIT | cst::CANCELLED => contact,
        _ => state,
    }
}

/// The thirteen methods.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    OpenAPISession,
    CloseAPISession,
    GetCampaignListing,
    GetCampaigns,
    AddCampaign,
    GetCampaign,
    UpdateCampaign,
    DeleteCampaign,
    GetCampaignContactsListing,
    GetCampaignContacts,
    AddCampaignContact,
    UpdateCampaignContact,
    DeleteCampaignContact,
}

impl Method {
    /// Every method, in the doc's order.
    pub const ALL: [Method; 13] = [
        Method::OpenAPISession,
        Method::CloseAPISession,
        Method::GetCampaignListing,
        Method::GetCampaigns,
        Method::AddCampaign,
        Method::GetCampaign,
        Method::UpdateCampaign,
        Method::DeleteCampaign,
        Method::GetCampaignContactsListing,
        Method::GetCampaignContacts,
        Method::AddCampaignContact,
        Method::UpdateCampaignContact,
        Method::DeleteCampaignContact,
    ];

    /// The method's name.
    pub fn name(self) -> &'static str {
        match self {
            Method::OpenAPISession => "OpenAPISession",
            Method::CloseAPISession => "CloseAPISession",
            Method::GetCampaignListing => "GetCampaignListing",
            Method::GetCampaigns => "GetCampaigns",
            Method::AddCampaign => "AddCampaign",
            Method::GetCampaign => "GetCampaign",
            Method::UpdateCampaign => "UpdateCampaign",
            Method::DeleteCampaign => "DeleteCampaign",
            Method::GetCampaignContactsListing => "GetCampaignContactsListing",
            Method::GetCampaignContacts => "GetCampaignContacts",
            Method::AddCampaignContact => "AddCampaignContact",
            Method::UpdateCampaignContact => "UpdateCampaignContact",
            Method::DeleteCampaignContact => "DeleteCampaignContact",
        }
    }

    /// The method called `name` (exact spelling).
    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The dialect's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/onc", get(wsdl_or_help).post(soap_endpoint))
        .route("/onc/", get(wsdl_or_help).post(soap_endpoint))
        .route("/onc/ONCService.svc", get(wsdl_or_help).post(soap_endpoint))
        .route("/onc/json/{method}", post(json_endpoint).fallback(json_wrong_method))
}

/// The dialect's job handlers: the ProgressWSEndpoint callbacks (`progress`, which the
/// engine enqueues for campaigns whose policy has a `progress_url`).
pub fn job_handlers() -> Vec<(&'static str, JobHandler)> {
    vec![(progress::KIND, progress::handler())]
}

/// The `soap:address` of the static `openapi/onc.wsdl`: a placeholder the served copy
/// replaces with the address the request came in on (see [`served_wsdl`]).
pub const WSDL_ADDRESS_PLACEHOLDER: &str = "http://switchboard.example/onc/ONCService.svc";

/// The WSDL as served to one request: the file, with the placeholder address replaced by
/// `<origin>/onc/ONCService.svc`, the origin as [`crate::http::request_origin`] reads it.
pub fn served_wsdl(headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let address = format!("{}/onc/ONCService.svc", crate::http::request_origin(headers, uri));
    WSDL.replace(WSDL_ADDRESS_PLACEHOLDER, &address)
}

async fn wsdl_or_help(RawQuery(q): RawQuery, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let wants_wsdl = q.unwrap_or_default().split('&').any(|kv| {
        matches!(
            kv.split('=').next().map(str::to_ascii_lowercase).as_deref(),
            Some("wsdl" | "singlewsdl")
        )
    });
    if wants_wsdl {
        ([("content-type", "text/xml; charset=utf-8")], served_wsdl(&headers, &uri)).into_response()
    } else {
        (
            [("content-type", "text/plain; charset=utf-8")],
            "ONCService (SOAP 1.1). The WSDL is at ?wsdl; the JSON binding is POST /onc/json/{Method}.\n",
        )
            .into_response()
    }
}

/// The request body, or the answer to a body that could not be read (over the body limit:
/// HTTP 413, as WCF answers past its maxReceivedMessageSize, in the binding's own shape).
#[allow(clippy::result_large_err)]
fn read_body(st: &AppState, body: Result<Bytes, BytesRejection>, soap: bool) -> Result<Bytes, Response> {
    let rejection = match body {
        Ok(b) => return Ok(b),
        Err(r) => r,
    };
    let status = rejection.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("The message is larger than the service accepts ({} bytes)", st.config.body_limit)
    } else {
        format!("The message could not be read: {}", rejection.body_text())
    };
    Err(if soap {
        let mut r = soap::fault_response(&soap::Fault { code: "Client", message });
        *r.status_mut() = status;
        r
    } else {
        (status, Json(json!({"ErrorCode": code::INVALID_ARGUMENT, "Description": message}))).into_response()
    })
}

async fn soap_endpoint(State(st): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match read_body(&st, body, true) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let action = headers.get("soapaction").and_then(|v| v.to_str().ok()).map(str::to_string);
    let req = match soap::read_request(&body, action.as_deref()) {
        Ok(r) => r,
        Err(f) => return soap::fault_response(&f),
    };
    let reply = service::call(&st, req.method, &req.params).await;
    if let Some(r) = faults::status_refusal().filter(faults::Refusal::soap_fault) {
        let mut resp = soap::fault_response(&soap::Fault {
            code: "Server",
            message: r.message,
        });
        *resp.status_mut() = r.status;
        return resp;
    }
    soap::response(req.method, &reply)
}

async fn json_endpoint(State(st): State<AppState>, Path(method): Path<String>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match read_body(&st, body, false) {
        Ok(b) => b,
        Err(r) => return r,
    };
    // Exact spelling first; Postman users' lower-case variants are accepted too.
    let m = Method::parse(&method).or_else(|| Method::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(&method)));
    let Some(m) = m else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"ErrorCode": code::NOT_FOUND, "Description": format!("unknown method {method}")})),
        )
            .into_response();
    };
    let params = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else if let Some(field) = crate::http::nul_in_json(&body) {
        return bad_json(&crate::http::nul_message(&field));
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(o)) => o,
            Ok(_) => return bad_json("the body must be a JSON object of the method's parameters"),
            Err(e) => return bad_json(&format!("the body is not valid JSON: {e}")),
        }
    };
    let reply = service::call(&st, m, &params).await;
    if let Some(r) = faults::status_refusal().filter(faults::Refusal::soap_fault) {
        return (r.status, Json(json!({"ErrorCode": code::INTERNAL, "Description": r.message}))).into_response();
    }
    let (code, description) = reply.outcome();
    let header = (code != 0 && !description.is_empty()).then(|| {
        let clean: String = description
            .chars()
            .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
            .collect();
        HeaderValue::from_str(&clean).ok()
    });
    let body = match reply {
        Reply::Open {
            code,
            description,
            session_id,
        } => json!({"ErrorCode": code, "Description": description, "SessionId": session_id}),
        Reply::Close { code, description } => json!({"ErrorCode": code, "Description": description}),
        Reply::Code { code, .. } => json!(code),
        Reply::Guids(v, _) => json!(v),
        Reply::Campaigns(v, _) | Reply::Contacts(v, _) => json!(v),
        Reply::Campaign(v, _) => json!(v),
    };
    let mut resp = Json(body).into_response();
    if let Some(Some(h)) = header {
        resp.headers_mut().insert("x-onc-description", h);
    }
    resp
}

/// Any verb but POST on the JSON binding: 405 in the binding's shape.
async fn json_wrong_method() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [("allow", "POST")],
        Json(json!({
            "ErrorCode": code::INVALID_ARGUMENT,
            "Description": "use POST with the method's parameters as one JSON object"
        })),
    )
        .into_response()
}

fn bad_json(msg: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"ErrorCode": code::INVALID_ARGUMENT, "Description": msg})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table_round_trips() {
        for code in 0..=7 {
            assert_eq!(status_code_for(contact_status_for(code), 0), code);
        }
        assert_eq!(status_code_for(cst::PENDING, 1), 5);
        assert_eq!(delivery_code("sent"), (4, 0));
        for m in Method::ALL {
            assert_eq!(Method::parse(m.name()), Some(m));
        }
    }
}
