//! What the Apps API (and the outbound dialer, which shares it) adds to a tenant: its HTTP
//! Basic credential (subdomain = the tenant's slug, API token) and its settings.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::credentials::{kind, NewCredential};
use crate::domain::tenants::{NewTenant, Provision, Provisioner, Setting, SettingKind, Tenant, TenantSummary};
use crate::domain::DomainResult;

const ANY_U32: i64 = u32::MAX as i64;

/// Largest accepted `apps_max_chat_limit`.
pub const MAX_APPS_CHAT_LIMIT: u32 = 1000;

/// The Apps API's settings keys (the last two are shown only once set).
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "apps_rate_limit",
        kind: SettingKind::Int {
            min: 0,
            max: ANY_U32,
            unit: "",
        },
        listed: true,
    },
    Setting {
        key: "apps_rate_burst",
        kind: SettingKind::Int {
            min: 1,
            max: ANY_U32,
            unit: "",
        },
        listed: true,
    },
    Setting {
        key: "sms_enabled",
        kind: SettingKind::Bool,
        listed: true,
    },
    Setting {
        key: "outbound_sms_enabled",
        kind: SettingKind::Bool,
        listed: true,
    },
    Setting {
        key: "apps_outbound_requires_ticket",
        kind: SettingKind::Bool,
        listed: false,
    },
    Setting {
        key: "apps_max_chat_limit",
        kind: SettingKind::Int {
            min: 1,
            max: MAX_APPS_CHAT_LIMIT as i64,
            unit: "",
        },
        listed: false,
    },
];

/// The Apps API's settings of a tenant (`None`: the default).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AppsSettings {
    /// Requests per second (0 = off); default the server's.
    #[serde(default)]
    pub apps_rate_limit: Option<u32>,
    #[serde(default)]
    pub apps_rate_burst: Option<u32>,
    #[serde(default)]
    pub sms_enabled: Option<bool>,
    #[serde(default)]
    pub outbound_sms_enabled: Option<bool>,
    /// Outbound calls must name a CRM `ticket_id` (without one → the vendor's 202). Default false.
    #[serde(default)]
    pub apps_outbound_requires_ticket: Option<bool>,
    /// Bulk users: the upper bound X of `max_chat_limit` (1..=X). Default 10.
    #[serde(default)]
    pub apps_max_chat_limit: Option<u32>,
}

impl AppsSettings {
    /// The tenant's Apps settings.
    pub fn of(t: &Tenant) -> Self {
        t.settings.parse()
    }
}

/// Provisions the subdomain : API token credential.
pub struct AppsProvisioner;

impl Provisioner for AppsProvisioner {
    fn name(&self) -> &'static str {
        "apps"
    }

    fn fields(&self) -> &'static [&'static str] {
        &["apps_token"]
    }

    fn provision(&self, tenant: &TenantSummary, req: &NewTenant) -> DomainResult<Provision> {
        let subdomain = tenant.slug.clone();
        let token = req.field("apps_token")?.unwrap_or_else(|| crate::token::random_token(40));
        Ok(Provision {
            credential: NewCredential {
                kind: kind::APPS,
                login_key: subdomain.clone(),
                username: Some(subdomain.clone()),
                account_id: None,
                secret: token.clone(),
                name: None,
            },
            conflict_field: "slug",
            answer: json!({"subdomain": subdomain, "token": token}),
        })
    }

    fn describe(&self, a: &Value) -> String {
        let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
        format!("Apps              subdomain {}  token {}", s("subdomain"), s("token"))
    }
}
