//! The Apps API dialect (calls, SMS, wait times, CRM, bulk users, company DNC), under
//! `/apps/api/v1`, plus the read side of the vendor's Manager API for calls
//! (`/manager/api/v1/calls`). The outbound-dialer campaign routes are their own dialect.
//!
//! `auth`, `error` and `paging` are shared with the outbound-dialer dialect.
//!
//! # Where the code lives
//!
//! - Here: the vendor's wire only. `mod.rs` has the routes and the one status table;
//!   `auth` (HTTP Basic, Host check, rate limit), `error` (`{"message"}`, with
//!   `From<DomainError>`, so handlers just use `?`), `paging`, `wire` (lenient bodies, field
//!   access, time formats, menu paths) and `render` (the vendor's objects) are helpers; one
//!   file per resource (`calls`, `sms`, `wait_times`, `crm`, `dnc`, `bulk/`) holds its
//!   handlers: parse the wire, make one domain call, render. Checks whose order and
//!   texts are the vendor's (which field is missing, which number is not well formed)
//!   stay here as small parse helpers beside the handler.
//! - In the domain (`src/domain`), never here: every SQL statement and transaction. Calls
//!   and SMS sessions with their end users and their engine attempt are
//!   `interactions::{create, create_for_end_user, create_placed_call, start_session}`
//!   (attempts: `interaction_attempts`); CRM records
//!   `crm::{record, find}`; the company DNC list `optlists::{upsert_entries, remove_numbers,
//!   find, is_suppressed}`; suppression decides there (`DomainError::Suppressed`); agents,
//!   menus, numbers and custom roles/teams/locations are `directory`; bulk user files are
//!   `blobs`, `jobs` (requeue, state, listing, on the tenant clock) and
//!   `bulk_users::apply_batch`.
//! - Bulk users: `bulk/mod.rs` (handlers), `bulk/file.rs` (the vendor's file format and
//!   vocabulary), `bulk/job.rs` (the worker's phases), registered by [`job_handlers`].
//! - The operator route for custom roles, teams and locations is the admin API's
//!   (`src/admin/org_items.rs`), not this router.
//!
//! # Choices where the vendor doc is silent or contradicts itself
//!
//! - **Errors**: `{"message": "…"}` with the doc's exact texts; unknown resources 404
//!   `{"message": "Not Found"}`, also for a known path with another method (the vendor's
//!   Rails routing answers 404, not 405). Bodies that are not a JSON object → 400 "Request body is not
//!   valid JSON" / "Request body must be a JSON object".
//! - **Calls**: ids are `interactions.seq`. Outbound checks run in the doc's order:
//!   call_type, agent_email (required, an agent of the tenant that bulk user management has not
//!   made "Inactive" — else "Not a valid agent email", `can_call`, available =
//!   `status = available`, logged in and not on a call), then ticket_id (wins; resolved
//!   through CRM contact data by `call_id`, `contact.crm_id`, `contact.account_no` or a
//!   `ticket_id` field; the number is `contact.phone_number|phone|mobile` — a ticket that
//!   is not found, or has no number and no end_user_number was given, → "Contact not
//!   found") or end_user_number ("end_user_number is not well-formed"), then the company
//!   DNC / voice opt-out list, then outbound_number. outbound_number: a given number must be
//!   one of the tenant's voice numbers ("outbound_number is not well-formed" / "outbound_number
//!   is not found"); absent → the default number, else the only voice number, else (several,
//!   no default) 202 `{"message": "accepted"}` (the doc's "need to choose an outbound
//!   number"); a tenant without any voice number → 400 "outbound_number is required".
//!   The doc's other 202 case ("agent must make an outbound call with ticket id") happens
//!   when the tenant setting `apps_outbound_requires_ticket` (admin API PATCH of the tenant) is
//!   true and no ticket_id is given. Outbound calls without a ticket
//!   show `end_user: null` as in the doc.
//! - Incoming calls: the doc writes "end_user_number is not well formed" (no hyphen) for
//!   incoming and scheduled calls and "not well-formed" for outbound ones; each is kept.
//!   Order: menu_id (required / well formed / found / type / state), lang (unknown ISO 639-1
//!   code → "Language 'xy' is not found", not among the menu's languages → "… is not
//!   available"), ticket/end_user_number, recording_permission (values
//!   `recording_permission_not_asked|denied|granted`, anything else → 400
//!   "recording_permission is invalid"; the call shows `not_asked` unless the menu's
//!   `attrs.call_recording` is `ask_user`). A ticket that is not found does not fail an
//!   incoming/scheduled call (end_user_number is required there anyway). The incoming call's
//!   outbound_number is the given tenant number, else the default/first one (the doc:
//!   "used if input is not passed in or invalid").
//! - The doc's "Outbound Call - ticket_id" section shows `"call_type": "ScheduledCall"` answered
//!   "Invalid call type", while its Scheduled Call section lists "ScheduledCall" as the
//!   deprecated name of "Voice Scheduled (API)" (as does the issue): we follow the latter, so that
//!   body answers the scheduled call's first missing field ("menu_id is required").
//! - Scheduled calls: status `scheduled` (the doc's example shows `queued` and the inbound
//!   call type — copy-paste errors); `scheduled_at` ISO 8601 ("scheduled_at is not well
//!   formed"), strictly in the future on the tenant clock ("scheduled_at must be a future
//!   time"); `call_id` must be a call of the tenant ("call_id 514 is not found") and lends its
//!   menu when menu_id is absent. DNC/opt-out blocks scheduled calls as outbound ones.
//! - `outbound_number` of a call echoes the caller's text; a number we chose (the default)
//!   is shown as the doc's examples show it: `+1 339-219-5276` for North American numbers,
//!   E.164 otherwise. SMS chats show E.164 (`+16285550199`), as the doc's SMS example.
//! - Participant ids are derived from the call id (agent `2·id−1`, end user `2·id`); end
//!   user ids are rows of `apps_end_users` (one per tenant and number).
//! - **SMS**: order as the doc lists; `SMS` is the deprecated name of "Messaging (SMS)"; both
//!   numbers must be North-American ("Non-US phone number not allowed"); the outbound
//!   number must be one of the tenant's SMS numbers; DNC or an SMS opt-out → 400
//!   "end_user_number is on the Do Not Call list". A consumer's SMS session stays active
//!   for 24 hours of the tenant clock (one active session per consumer). Answer 200 with the
//!   chat object (status `selecting`); `out_ticket_id` echoes ticket_id (the doc's example
//!   shows null, which contradicts "associated with session"). The message is an attempt
//!   of the delivery engine, stored with the session in one transaction: its outbox row
//!   is `sending` for 2 s of the tenant clock, then `delivered` or the failure the
//!   carrier decided (README's outcome table: `undelivered`, `carrier_error`, `invalid`,
//!   …). The session (`selecting`) then turns `connected` when delivered, `finished` when
//!   the consumer answered "STOP" (outcome 7: the number is opted out of SMS), `failed`
//!   with `fail_reason` = the outcome otherwise (a failed session no longer blocks a new
//!   one). Settings `sms_enabled` / `outbound_sms_enabled` default to true.
//! - **Calls placed by the engine** (`interactions::create_placed_call`, driven on the
//!   tenant clock): an outbound call is answered `assigned` (as the doc's example) and
//!   stays so for 2 s (`calls::ASSIGNED_SECS`, the agent's leg), a scheduled call stays
//!   `scheduled` until its `scheduled_at`; then `connecting` while the end user's phone
//!   rings (5 s, or the 30 s dial timeout when not answered), `connected` for 30 s when
//!   answered (also by a voicemail; hung up at once for outcome 8), then `finished`, or
//!   `failed` with `fail_reason` = the carrier's outcome (`no_answer`, `busy`,
//!   `unreachable`, `invalid`, `carrier_error`). The call object (and the Manager API's)
//!   shows `connected_at`, `ends_at`, `call_duration` (seconds connected) and
//!   `fail_reason`, and the end user participant the same. The outbox row of a call is
//!   `scheduled` until it is dialled, then `dialing`, `connected` and the outcome.
//!   Incoming calls are not placed (they wait `queued`).
//! - **Wait times**: see `wait_times.rs`; menu_path names joined with " / ".
//! - **CRM**: the doc shows no response; we answer 201 with the stored record
//!   (`id` + the posted fields + `created_at`).
//! - **Bulk users**: see `bulk.rs`. Proceed answers the job's status at that moment
//!   (`valid_scheme`, as the doc's example) and the worker moves it to `in_progress`;
//!   `PUT upload` while in progress → 404 "Can't update JSON. job status: in_progress" (the
//!   doc lists only `finished`). Job ids unknown or of another tenant → 404 "Not Found".
//! - **Company DNC**: `expires_at` accepts `2022-10-29 00:00:00 UTC` and ISO 8601; unparsable →
//!   "expires_at is invalid"; the per-entry answer echoes what was sent. `remove` answers
//!   per number `{"phone_number", "status": "removed" | "not_found"}` (or `failed` with
//!   "phone_number is invalid"); `check` answers `do_not_call` false for an expired entry and
//!   `expired_at` its expiry (`2023-08-05 22:02:36.362009 +0000`) or null.
//! - **Roles, teams, locations** of bulk users: custom ones are rows of `apps_org_items`
//!   (migration 0400), added by operators with `POST /admin/v1/tenants/{slug}/apps/org-items`
//!   (`src/admin/org_items.rs`); the vendor's seven built-in roles always exist.
//! - **Manager calls**: `GET /manager/api/v1/calls` (newest first, `page`/`per_page`,
//!   default 25, max 100, `Link`/`Total`/`Per-Page`; `Link` targets absolute on the host the
//!   client used, as the vendor's Rails pagination writes them) and `/{id}`, same auth and call
//!   object. Bulk jobs pages the same way.

pub mod auth;
pub mod bulk;
pub mod calls;
pub mod crm;
pub mod dnc;
pub mod error;
pub mod paging;
pub mod render;
pub mod sms;
pub mod tenant;
pub mod wait_times;
pub mod wire;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;
use crate::state::JobHandler;

/// Shared interaction status → the vendor's call/chat `status` (one table for the dialect).
pub const STATUS_MAP: &[(&str, &str)] = &[
    ("selecting", "selecting"),
    ("queued", "queued"),
    ("assigned", "assigned"),
    ("connecting", "connecting"),
    ("connected", "connected"),
    ("finished", "finished"),
    ("completed", "finished"),
    ("failed", "failed"),
    ("switching", "switching"),
    ("recovered", "recovered"),
    ("scheduled", "scheduled"),
    ("deflected", "deflected"),
    ("voicemail", "voicemail"),
];

/// The dialect's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/apps/api/v1/calls", post(calls::create))
        .route("/apps/api/v1/sms", post(sms::create))
        .route("/apps/api/v1/wait_times", get(wait_times::list))
        .route("/apps/api/v1/crm/contact_data", post(crm::create))
        .route("/apps/api/v1/outbound_dialer/dnc", post(dnc::add))
        .route("/apps/api/v1/outbound_dialer/dnc/remove", post(dnc::remove))
        .route("/apps/api/v1/outbound_dialer/dnc/check", get(dnc::check))
        .route("/apps/api/v1/bulk/users/template", get(bulk::template))
        .route(
            "/apps/api/v1/bulk/users/upload",
            post(bulk::upload).put(bulk::replace).layer(DefaultBodyLimit::disable()),
        )
        .route("/apps/api/v1/bulk/users/proceed", post(bulk::proceed))
        .route("/apps/api/v1/bulk/users/jobs", get(bulk::jobs))
        .route("/apps/api/v1/bulk/users/jobs/{id}", get(bulk::job))
        .route("/apps/api/v1/bulk/users/errors/scheme/{id}", get(bulk::scheme_errors))
        .route("/apps/api/v1/bulk/users/errors/update/{id}", get(bulk::update_errors))
        .route("/manager/api/v1/calls", get(calls::list))
        .route("/manager/api/v1/calls/{id}", get(calls::show))
        // A known path with another method is an unknown resource to the vendor (Rails
        // routing): 404 `{"message": "Not Found"}` rather than an empty 405.
        .method_not_allowed_fallback(crate::http::not_found)
}

/// The dialect's job handlers.
pub fn job_handlers() -> Vec<(&'static str, JobHandler)> {
    vec![(bulk::JOB_KIND, bulk::handler())]
}
