//! What Leads adds to a tenant: its login credential (domain = the tenant's slug,
//! username, password) and its settings (`leads_access_token_ttl_seconds`).

use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::credentials::{kind, NewCredential};
use crate::domain::tenant_ops::MAX_SETTING_SECONDS;
use crate::domain::tenants::{NewTenant, Provision, Provisioner, Setting, SettingKind, Tenant, TenantSummary};
use crate::domain::{hex_id, DomainResult};

/// Leads' settings keys.
pub const SETTINGS: &[Setting] = &[Setting {
    key: "leads_access_token_ttl_seconds",
    kind: SettingKind::Int {
        min: 1,
        max: MAX_SETTING_SECONDS,
        unit: " seconds",
    },
    listed: true,
}];

/// Leads' settings of a tenant (`None`: the server's default).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LeadsSettings {
    #[serde(default)]
    pub leads_access_token_ttl_seconds: Option<i64>,
}

impl LeadsSettings {
    /// The tenant's Leads settings.
    pub fn of(t: &Tenant) -> Self {
        t.settings.parse()
    }
}

/// Provisions the `POST /api/v2/login` credential.
pub struct LeadsProvisioner;

impl Provisioner for LeadsProvisioner {
    fn name(&self) -> &'static str {
        "leads"
    }

    fn fields(&self) -> &'static [&'static str] {
        &["leads_account_id", "leads_username", "leads_password"]
    }

    fn provision(&self, tenant: &TenantSummary, req: &NewTenant) -> DomainResult<Provision> {
        let domain = tenant.slug.clone();
        let account_id = req.field("leads_account_id")?.unwrap_or_else(|| hex_id(tenant.id));
        let username = req.field("leads_username")?.unwrap_or_else(|| "admin".into());
        let password = req.field("leads_password")?.unwrap_or_else(|| crate::token::random_token(24));
        Ok(Provision {
            credential: NewCredential {
                kind: kind::LEADS,
                login_key: format!("{domain}/{username}"),
                username: Some(username.clone()),
                account_id: Some(account_id.clone()),
                secret: password.clone(),
                name: None,
            },
            conflict_field: "slug",
            answer: json!({"domain": domain, "account_id": account_id, "username": username, "password": password}),
        })
    }

    fn describe(&self, a: &Value) -> String {
        let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
        format!(
            "Leads             domain {}  account_id {}  username {}  password {}",
            s("domain"),
            s("account_id"),
            s("username"),
            s("password")
        )
    }
}
