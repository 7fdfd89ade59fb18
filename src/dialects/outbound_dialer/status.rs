//! The one mapping between the shared contact status and the vendor's contact states, and
//! between the shared campaign status and the vendor's campaign status.

use crate::domain::campaigns::status as camp;
use crate::domain::contacts::status as st;

/// Shared contact status ↔ vendor state (the doc's 21 states, in the vendor's English;
/// the French doc's names in comments). The first row of a shared status wins when
/// rendering; every vendor state parses back to exactly one shared status.
pub const CONTACT_STATES: &[(&str, &str)] = &[
    (st::PENDING, "Upcoming"),                               // À venir
    (st::DIALING, "Dialing"),                                // Appel…
    (st::QUEUED, "Queued"),                                  // En file d'attente
    (st::CONNECTED, "Connected"),                            // Connecté
    (st::COMPLETED, "Finished"),                             // Terminé
    (st::TRANSFERRED, "Transferred"),                        // Transféré
    (st::TRANSFERRED_COMPLETED, "Transferred and Finished"), // Transféré et terminé
    (st::NO_ANSWER, "Not Picked Up"),                        // Non retirée
    (st::UNREACHABLE, "Not Reached to Contact"),             // Impossible de contacter
    (st::ABANDONED, "Abandoned by Contact"),                 // Abandonnée par le contact
    (st::SKIPPED, "Skipped"),                                // Ignoré
    (st::SKIPPED_CLOSED, "Skipped and Closed"),              // Ignorée et fermée
    (st::INVALID_NUMBER, "Invalid Number"),                  // Numéro incorrect
    (st::CARRIER_ERROR, "Carrier Error"),                    // Erreur de l'opérateur
    (st::ABANDONED_BY_DIALER, "Abandoned by Dialer"),        // Abandonné par le téléphone
    (st::VOICEMAIL, "Voicemail hang-up"),                    // Messagerie vocale raccrochée
    (st::FAILED, "Dialer General Error"),                    // Erreur générale du clavier téléphonique
    (st::CALLBACK, "Redial Scheduled"),                      // Rappel programmé
    (st::DNC, "Do Not Call"),                                // Ne pas appeler
    (st::INVALID_OUTBOUND, "Invalid Outbound Number"),       // Numéro sortant non valide
    (st::BLOCKED, "Blocked phone number"),                   // Numéro de téléphone bloqué
    // one-way: a contact cancelled through another dialect is closed for the dialer
    (st::CANCELLED, "Skipped and Closed"),
    // one-way: the engine's states
    (st::SENDING, "Dialing"),
    (st::RETRY_WAIT, "Redial Scheduled"),
    (st::BUSY, "Not Picked Up"),
];

/// The vendor state of a shared contact status.
pub fn contact_state(shared: &str) -> &'static str {
    CONTACT_STATES
        .iter()
        .find(|(s, _)| *s == shared)
        .map(|(_, v)| *v)
        .unwrap_or("Dialer General Error")
}

/// The shared contact status of a vendor state (case-insensitive).
pub fn shared_contact_status(vendor: &str) -> Option<&'static str> {
    CONTACT_STATES
        .iter()
        .find(|(_, v)| v.eq_ignore_ascii_case(vendor.trim()))
        .map(|(s, _)| *s)
}

/// Shared campaign status → the Manager API's dialer campaign status.
pub const CAMPAIGN_STATUSES: &[(&str, &str)] = &[
    (camp::DRAFT, "draft"),
    (camp::SCHEDULED, "scheduled"),
    (camp::RUNNING, "active"),
    (camp::PAUSED, "paused"),
    (camp::COMPLETED, "completed"),
    (camp::FAILED, "failed"),
    (camp::CANCELLED, "archived"),
];

/// The Manager API status of a shared campaign status.
pub fn campaign_status(shared: &str) -> &'static str {
    CAMPAIGN_STATUSES
        .iter()
        .find(|(s, _)| *s == shared)
        .map(|(_, v)| *v)
        .unwrap_or("draft")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shared_status_is_mapped_and_states_round_trip() {
        for s in st::ALL {
            assert!(CONTACT_STATES.iter().any(|(x, _)| x == s), "{s} unmapped");
        }
        let vendor: std::collections::BTreeSet<&str> = CONTACT_STATES.iter().map(|(_, v)| *v).collect();
        assert_eq!(vendor.len(), 21);
        for v in &vendor {
            let shared = shared_contact_status(v).unwrap();
            assert_eq!(contact_state(shared), *v);
        }
        for s in camp::ALL {
            assert!(CAMPAIGN_STATUSES.iter().any(|(x, _)| x == s));
        }
    }
}
