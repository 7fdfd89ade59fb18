//! Apps API authentication, shared by the Apps, outbound-dialer and Manager read routes.
//!
//! HTTP Basic: username = the tenant's subdomain (its slug), password = its API token.
//! Host check (DESIGN.md): a Host names a subdomain only when it is a DNS name of three or
//! more labels (`acme.example.com`) or `<sub>.localhost`; IP addresses and bare `localhost`
//! name none. A named subdomain that is not the credentials' tenant → 401.
//! Rate limit: per tenant, `apps_rate_limit` requests/second with `apps_rate_burst` burst
//! (the tenant's setting wins over the global config; 0 = off) → 429 + Retry-After.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::error::AppsError;
use crate::controls::faults;
use crate::domain::credentials::kind;
use crate::domain::tenants::Tenant;
use crate::state::AppState;

/// An authenticated Apps API caller: its tenant.
#[derive(Debug, Clone)]
pub struct AppsAuth {
    /// Shared with the read cache (no copy per request).
    pub tenant: Arc<Tenant>,
}

pub use crate::http::basic_credentials;

/// The subdomain a Host header names, per the rule above.
pub fn host_subdomain(host: &str) -> Option<String> {
    let host = host.trim().to_ascii_lowercase();
    // strip the port (and IPv6 brackets)
    if host.starts_with('[') {
        return None;
    }
    let name = host
        .rsplit_once(':')
        .map(|(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { host.as_str() })
        .unwrap_or(&host);
    let name = name.trim_end_matches('.');
    if name.parse::<std::net::IpAddr>().is_ok() || name == "localhost" {
        return None;
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() == 2 && labels[1] == "localhost" {
        return Some(labels[0].to_string());
    }
    if labels.len() >= 3 {
        return Some(labels[0].to_string());
    }
    None
}

impl FromRequestParts<AppState> for AppsAuth {
    type Rejection = AppsError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (user, token) = basic_credentials(parts).ok_or_else(AppsError::unauthorized)?;
        // Both lookups are answered from the per-process read cache once warm.
        let cred = state
            .reads
            .authenticate(&state.db, &state.creds, kind::APPS, &user, &token)
            .await
            .map_err(|_| AppsError::unauthorized())?;
        let cached = state
            .reads
            .tenant(&state.db, cred.tenant_id)
            .await
            .map_err(|_| AppsError::unauthorized())?;
        let tenant = cached.tenant.clone();
        crate::controls::journal::note(&tenant);
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.host());
        if let Some(sub) = host.and_then(host_subdomain) {
            if sub != tenant.slug {
                return Err(AppsError::unauthorized());
            }
        }
        let settings = cached.parsed(super::tenant::AppsSettings::of);
        let rate = settings.apps_rate_limit.unwrap_or(state.config.apps_rate_limit);
        let burst = settings.apps_rate_burst.unwrap_or(state.config.apps_rate_burst);
        state.limiter.check(tenant.id, rate, burst).map_err(AppsError::too_many)?;
        let door = if parts.uri.path().contains("/outbound_dialer/") {
            "outbound_dialer"
        } else {
            "apps"
        };
        if let Some(r) = faults::check(state, tenant.id, door).await {
            return Err(AppsError::new(r.status, r.message));
        }
        Ok(AppsAuth { tenant })
    }
}

#[cfg(test)]
mod tests {
    use super::host_subdomain;

    #[test]
    fn host_rule() {
        assert_eq!(host_subdomain("acme.example.com"), Some("acme".into()));
        assert_eq!(host_subdomain("acme.example.com:8080"), Some("acme".into()));
        assert_eq!(host_subdomain("acme.localhost:8080"), Some("acme".into()));
        assert_eq!(host_subdomain("localhost:8080"), None);
        assert_eq!(host_subdomain("127.0.0.1:8080"), None);
        assert_eq!(host_subdomain("[::1]:8080"), None);
        assert_eq!(host_subdomain("example.com"), None);
    }
}
