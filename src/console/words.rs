//! Each dialect's words for a shared campaign or contact status, and a campaign's id in
//! the shape of the dialect that owns it, read from the dialects' public mapping tables.

use crate::dialects::{campaign_manager, leads, onc, outbound_dialer};
use crate::domain::campaigns::{kind, Campaign};
use crate::domain::{hex_id, sid};

/// The dialect that owns campaigns of `kind`.
pub fn dialect_of(k: &str) -> &'static str {
    match k {
        kind::SMS | kind::VOICE => "Campaign Manager",
        kind::ONC => "ONC",
        kind::LEADS => "Leads",
        kind::OUTBOUND_DIALER => "Outbound dialer",
        _ => "other",
    }
}

/// The campaign's id as its dialect shows it.
pub fn campaign_id(c: &Campaign) -> String {
    match c.kind.as_str() {
        kind::SMS | kind::VOICE => sid("EC", c.id),
        kind::LEADS => hex_id(c.id),
        kind::OUTBOUND_DIALER => c.seq.to_string(),
        _ => c.id.to_string(),
    }
}

/// The campaign status in its dialect's words (None where the dialect shows the shared one).
pub fn campaign_status(k: &str, shared: &str) -> Option<String> {
    match k {
        kind::SMS | kind::VOICE => Some(campaign_manager::cm_status(shared).to_string()),
        kind::LEADS => Some(leads::campaign_status(shared).to_string()),
        kind::OUTBOUND_DIALER => Some(outbound_dialer::status::campaign_status(shared).to_string()),
        _ => None,
    }
}

/// A contact's state in its campaign's dialect's words: ONC's StatusCode, the Leads and
/// outbound dialer states, and for Campaign Manager the key its `counts` give the contact
/// (from the shared status and the last attempt's outcome). None: the shared status only.
pub fn contact_state(k: &str, shared: &str, attempts: i32, last_outcome: Option<&str>) -> Option<String> {
    match k {
        kind::SMS | kind::VOICE => Some(campaign_manager::count_key(shared, last_outcome).to_string()),
        kind::ONC => Some(format!("StatusCode {}", onc::status_code_for(shared, attempts))),
        kind::LEADS => Some(leads::lead_status(shared).to_string()),
        kind::OUTBOUND_DIALER => Some(outbound_dialer::status::contact_state(shared).to_string()),
        _ => None,
    }
}

/// The CSS class of an outcome or status (colour group).
pub fn tone(s: &str) -> &'static str {
    match s {
        "completed" | "delivered" | "sent" | "answered" | "success" | "transferred" | "transferred_completed" => "ok",
        "failed" | "carrier_error" | "invalid_number" | "unreachable" | "bounced" | "undelivered" | "blocked" | "cancelled" => "bad",
        "busy" | "no_answer" | "voicemail" | "abandoned" | "retry_wait" | "dnc" | "suppressed" | "opt_out" => "warn",
        _ => "info",
    }
}
