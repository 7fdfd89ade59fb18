//! The Leads dialect: the contact-center Campaigns API of a Kazoo-based PBX portal
//! (`/api/v2/…`, `/callcenter/…`), over the shared domain.
//!
//! Endpoints: `POST /api/v2/login` (also `/api/v2/config/login`), `POST /api/v2/login/refresh`,
//! `GET /api/v2/reports/campaigns/leads/status`, `GET /api/v2/config/campaigns`,
//! `GET /api/v2/config/campaigns/{campaign_id}`, `GET /api/v2/config/campaigns/{campaign_id}/leads`,
//! `PUT|POST /api/v2/config/campaigns/{campaign_id}/lead`,
//! `POST /api/v2/config/campaigns/leads/{leadID}/status/{status}`,
//! `DELETE /api/v2/config/campaigns/leads/{leadID}`,
//! `PUT /api/v2/config/campaigns/call/{cdrID}/disposition/voicemail`,
//! `GET /api/v2/reports/campaigns/leads/history`, `GET /callcenter/queues/status`.
//!
//! Where the code lives:
//! - **This folder** holds only the vendor's wire: routes (below), request parsing and
//!   validation of the wire fields (`error.rs`: `LeadsJson`, `LeadsPath`, `opt_str`,
//!   `opt_int`), the error shape (`LeadsError`, with `From<DomainError>` so handlers use
//!   `?`), the status tables (below), id/key/timestamp formats and rendering. Each handler
//!   parses the wire into a domain request, makes one domain call and renders the answer:
//!   `campaigns.rs` (reports, campaigns, leads), `history.rs`, `queues.rs`, and `auth.rs`
//!   (login, refresh, the `LeadsAuth` extractor).
//! - **The domain** holds every SQL statement and transaction, and decides the business:
//!   `domain::campaign_contacts` adds a lead (suppression is decided there: a suppressed
//!   number is stored as `dnc`), pages a campaign's leads (keyset, under
//!   `domain::contacts::lock_campaign`), sets a lead's status and deletes a lead;
//!   `domain::dispositions` records the voicemail disposition; `domain::reports` computes
//!   the campaign summaries and the queue rosters; `domain::history` reads the events with
//!   their context. Campaign status is written only by `domain::campaigns::transition`.
//!   Events store shared names (kinds `contact_added`, `contact_status_changed`,
//!   `contact_deleted`, `disposition`; shared statuses); `history.rs` maps them, and the
//!   Leads names earlier versions stored, to the portal's.
//!
//! Choices where the vendor doc is silent or contradictory:
//! - **Auth.** Access tokens are HS256 JWTs (`identity` = `"<account_id>:<domain>"`, `type` =
//!   `"access"`, `sub` = the login credential's id, `exp`) valid for the tenant's
//!   `leads_access_token_ttl_seconds`, else `SWITCHBOARD_LEADS_TOKEN_TTL` (1 h), on the
//!   tenant's clock. A token also stops working when its login credential is revoked, and
//!   when the tenant is reset: the token carries the tenant's `epoch` (bumped by
//!   `POST /admin/v1/tenants/{slug}/reset`) and a token of another epoch (or none) → 401.
//!   A reset also deletes the refresh tokens (login and refresh read the epoch with a
//!   shared lock on the tenant row, so none is issued across a reset). API keys are
//!   credentials, which a reset keeps: they keep working.
//!   Refresh tokens are random, stored as SHA-256 digests in `auth_sessions`
//!   (`leads_refresh`, 30 days on the tenant clock) and single-use (rotated on use).
//!   `X-API-Key` keys are `leads_api_key` credentials created by the admin API; they
//!   never expire and act for the tenant's Leads account. `X-API-Key` wins over
//!   `Authorization` when both are sent. `X-Account-ID` is optional; a different account → 403.
//! - **Login** `domain` is the tenant slug, matched case-insensitively (slugs are DNS
//!   labels; the doc's example sends `yourTenant`); `username` is matched exactly.
//! - **Errors** are `{"status": "error", "code": <http status>, "message": "…"}`; the
//!   message names the field for validation errors (`"number: …"`). Wrong credentials give
//!   one 401 body whichever part was wrong. As the doc lists only 400/500, an unknown or
//!   other tenant's campaign, lead or call answers 400 (`"… not found"`); only
//!   `GET /api/v2/config/campaigns/{id}` (not in the doc) answers 404.
//! - **Ids** are the shared uuids as 32 lowercase hex (any uuid form is accepted on input);
//!   queues are shown as hyphenated uuids, as in the doc's example.
//! - **Leads** are shared contacts: `retries` ↔ `max_retries`, `ticket_id` ↔ `external_id`,
//!   `type`, `note`, `cool_off` in `attrs.lead`. The number must be a phone number
//!   (normalised to E.164, which is what is shown). The doc's listing example shows
//!   `+12131204` (and `+12131214`): +1 with 7 digits, which no carrier can dial (NANP
//!   numbers have 10 digits after +1; the example's names, 11 retries and sequential
//!   numbers are load-test data). Adding such a number is refused with 400
//!   `number: "+12131204" is not a valid phone number (+1 (North American) numbers have 10
//!   digits after +1, this one has 7); expected E.164, …`: a client of the real vendor
//!   gets a lead that can only fail, so a clear refusal at creation serves it better than
//!   a lead no dial will ever reach (the issue asks for E.164 validation). A number on
//!   the tenant's opt-out (voice) or company DNC list is accepted with status `dnc` and never dialled. Integer
//!   fields must be JSON integers (`"3"` is refused). The add-lead answer is the lead.
//! - **Lead paging** is keyset over the contacts' creation sequence: `next_start_key` is
//!   32 hex encoding the last row's sequence (opaque, unique, stable; still valid when
//!   that lead is deleted); it is absent on the last page. Adding a lead takes a
//!   per-campaign advisory lock exclusively and a page read takes it shared, so no page
//!   can be read while a lower sequence number is still uncommitted (no row is skipped).
//!   Other dialects (ONC, Campaign Manager) insert contacts without that lock; a page read
//!   also takes `FOR UPDATE` on the campaign row, which waits for every in-flight insert's
//!   foreign-key `FOR KEY SHARE` lock, so their adds cannot be skipped either (left open:
//!   the microseconds between such an insert taking its sequence number and its
//!   foreign-key check; page reads of one campaign are serialised).
//!   `page_size` defaults to 100, 1..=1000.
//! - **History** is the shared `events` table joined to campaigns/contacts/interactions/
//!   agents, newest first, keyed by (time, sequence) in a 32-hex `startKey`. `startDate`
//!   (or the doc's `starDate`) and `endDate` are Unix seconds, or milliseconds when above
//!   10^11. The answer is `{"data", "next_start_key", "page_size"}`; pageSize defaults to
//!   100, 1..=1000. Deleted leads leave a `lead deleted` event carrying their name/number.
//!   Campaign dials show as event `campaign dial`, type `dial agent` (the doc's example).
//!   The `agent` object (present when the event's call has an agent) has every field of
//!   the doc's example; `last_attempt`/`last_answered`/`last_hangup` (Unix seconds, 0 =
//!   none) and `total_talk_time` (seconds) are computed from the agent's calls up to the
//!   event (answered = connected, finished, completed, transferred or voicemail).
//! - **Queues status** is computed from the directory: agent `status` is `busy` (on a
//!   call), `idle` (available) or `paused` (unavailable); `registered` is the agent's
//!   `attrs.registered` when set, else `logged_in`; an agent's `extension` is its extension,
//!   or its agent number when it has no separate extension (as in the doc's example); an
//!   agent without a numeric one is misconfigured; idle agents are logged in, available and not on a call.
//! - **Voicemail disposition** marks the tenant's call interaction `voicemail` (and
//!   `attrs.disposition`), its lead `voicemail`, records a `disposition` event and answers
//!   the call record.
//! - **Campaign runs.** The doc has no campaign endpoint: Leads campaigns are made by the
//!   operator (admin API) or another dialect, with the neutral delivery policy given there
//!   (`attrs.policy`; when absent the defaults: redial 300 s after a failed dial, an
//!   unanswered call rings 30 s, no daily window). A lead's `retries` is its number of
//!   redials after the first dial (`max_retries`); `cool_off` is stored and echoed, not
//!   acted on (the redial interval is the campaign's). The engine dials each lead; its
//!   status moves `new` → `in_progress` (dialing, answered, or waiting for a redial after
//!   a no-answer, busy, unreachable or carrier error) → `success` (answered, or opted out
//!   on the call), `voicemail`, `failed` (not answered, busy, … once the redials are used
//!   up; invalid number at once; abandoned), `dnc` (on the opt-out or DNC list when added,
//!   or suppressed when its dial was due) or `cancelled` (campaign cancelled first). The
//!   status report counts leads by these statuses.
//! - **History of runs.** Each change of a lead's state is an engine event (kind
//!   `contact_status`); the history shows it as the doc's campaign dial (`event`
//!   `campaign dial`, `type` `dial agent`) with the lead's new `status`, the dial's
//!   `outcome` (the shared outcome name, e.g. `no_answer`, `busy`, `answered`, when the
//!   change ended a dial) and `attempt` (dials made so far).
//! - Lead and campaign status mappings are the two tables below.

mod auth;
mod campaigns;
mod error;
mod history;
mod queues;
pub mod tenant;

use axum::routing::{delete, get, post, put};
use axum::Router;

use crate::domain::campaigns::status as cs;
use crate::domain::contacts::status as cst;
use crate::state::AppState;
use crate::state::JobHandler;

pub use auth::{jwt_sign, jwt_verify};

/// Lead statuses of the Leads API.
pub const LEAD_STATUSES: &[&str] = &[
    "new",
    "in_progress",
    "success",
    "failed",
    "dnc",
    "voicemail",
    "callback",
    "cancelled",
];

/// Shared contact status → Leads lead status (every shared status appears once). Writing a
/// Leads status stores the FIRST shared status listed for it. The engine's intermediate
/// states (`dialing`, `connected`, `sending`, `retry_wait`) are `in_progress`; its finals
/// are `success` (completed), `voicemail`, `failed` (no_answer, busy, unreachable,
/// carrier_error, invalid_number, failed, abandoned), `dnc`, `cancelled`.
pub const LEAD_STATUS_MAP: &[(&str, &str)] = &[
    (cst::PENDING, "new"),
    (cst::DIALING, "in_progress"),
    (cst::QUEUED, "in_progress"),
    (cst::CONNECTED, "in_progress"),
    (cst::COMPLETED, "success"),
    (cst::TRANSFERRED, "success"),
    (cst::TRANSFERRED_COMPLETED, "success"),
    (cst::FAILED, "failed"),
    (cst::NO_ANSWER, "failed"),
    (cst::UNREACHABLE, "failed"),
    (cst::ABANDONED, "failed"),
    (cst::ABANDONED_BY_DIALER, "failed"),
    (cst::SKIPPED, "failed"),
    (cst::SKIPPED_CLOSED, "failed"),
    (cst::INVALID_NUMBER, "failed"),
    (cst::INVALID_OUTBOUND, "failed"),
    (cst::BLOCKED, "failed"),
    (cst::CARRIER_ERROR, "failed"),
    (cst::DNC, "dnc"),
    (cst::VOICEMAIL, "voicemail"),
    (cst::CALLBACK, "callback"),
    (cst::CANCELLED, "cancelled"),
    (cst::SENDING, "in_progress"),
    (cst::RETRY_WAIT, "in_progress"),
    (cst::BUSY, "failed"),
];

/// Shared campaign status → Leads campaign status.
pub const CAMPAIGN_STATUS_MAP: &[(&str, &str)] = &[
    (cs::DRAFT, "stopped"),
    (cs::SCHEDULED, "scheduled"),
    (cs::RUNNING, "running"),
    (cs::PAUSED, "paused"),
    (cs::COMPLETED, "completed"),
    (cs::FAILED, "failed"),
    (cs::CANCELLED, "stopped"),
];

/// The Leads status of a shared contact status.
pub fn lead_status(shared: &str) -> &'static str {
    LEAD_STATUS_MAP
        .iter()
        .find(|(s, _)| *s == shared)
        .map(|(_, l)| *l)
        .unwrap_or("failed")
}

/// The shared contact status a Leads status is stored as.
pub fn shared_lead_status(lead: &str) -> Option<&'static str> {
    LEAD_STATUS_MAP.iter().find(|(_, l)| *l == lead).map(|(s, _)| *s)
}

/// The Leads status of a shared campaign status.
pub fn campaign_status(shared: &str) -> &'static str {
    CAMPAIGN_STATUS_MAP
        .iter()
        .find(|(s, _)| *s == shared)
        .map(|(_, l)| *l)
        .unwrap_or("stopped")
}

/// The dialect's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/login", post(auth::login))
        .route("/api/v2/config/login", post(auth::login))
        .route("/api/v2/login/refresh", post(auth::refresh))
        .route("/api/v2/reports/campaigns/leads/status", get(campaigns::status_report))
        .route("/api/v2/reports/campaigns/leads/history", get(history::history))
        .route("/api/v2/config/campaigns", get(campaigns::list_campaigns))
        .route("/api/v2/config/campaigns/{campaign_id}", get(campaigns::get_campaign))
        .route("/api/v2/config/campaigns/{campaign_id}/leads", get(campaigns::list_leads))
        .route(
            "/api/v2/config/campaigns/{campaign_id}/lead",
            put(campaigns::add_lead).post(campaigns::add_lead),
        )
        .route(
            "/api/v2/config/campaigns/leads/{lead_id}/status/{status}",
            post(campaigns::set_status),
        )
        .route("/api/v2/config/campaigns/leads/{lead_id}", delete(campaigns::delete_lead))
        .route(
            "/api/v2/config/campaigns/call/{cdr_id}/disposition/voicemail",
            put(campaigns::voicemail),
        )
        .route("/callcenter/queues/status", get(queues::status))
}

/// The dialect's job handlers (none: every Leads operation is synchronous).
pub fn job_handlers() -> Vec<(&'static str, JobHandler)> {
    Vec::new()
}

/// Parses `a=b&c=d` (percent-decoded, `+` as space); later duplicates win.
pub(crate) fn parse_query(raw: Option<&str>) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        out.insert(dec(k), dec(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shared_status_maps_and_every_lead_status_is_writable() {
        for s in cst::ALL {
            assert!(LEAD_STATUS_MAP.iter().any(|(x, _)| x == s), "{s} unmapped");
        }
        for l in LEAD_STATUSES {
            let shared = shared_lead_status(l).unwrap();
            assert_eq!(lead_status(shared), *l);
        }
        for s in cs::ALL {
            assert!(CAMPAIGN_STATUS_MAP.iter().any(|(x, _)| x == s));
        }
        assert_eq!(shared_lead_status("bogus"), None);
    }

    #[test]
    fn query_parsing() {
        let q = parse_query(Some("a=1&b=x%20y&c=d+e&flag"));
        assert_eq!(q["a"], "1");
        assert_eq!(q["b"], "x y");
        assert_eq!(q["c"], "d e");
        assert_eq!(q["flag"], "");
    }
}
