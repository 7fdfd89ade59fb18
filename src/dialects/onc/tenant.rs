//! What ONC adds to a tenant: its credential (account id, username, password) and its
//! settings (`onc_session_idle_seconds`).

use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::credentials::{kind, NewCredential};
use crate::domain::tenant_ops::MAX_SETTING_SECONDS;
use crate::domain::tenants::{NewTenant, Provision, Provisioner, Setting, SettingKind, Tenant, TenantSummary};
use crate::domain::DomainResult;

/// ONC's settings keys.
pub const SETTINGS: &[Setting] = &[Setting {
    key: "onc_session_idle_seconds",
    kind: SettingKind::Int {
        min: 1,
        max: MAX_SETTING_SECONDS,
        unit: " seconds",
    },
    listed: true,
}];

/// ONC's settings of a tenant (`None`: the server's default).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OncSettings {
    #[serde(default)]
    pub onc_session_idle_seconds: Option<i64>,
}

impl OncSettings {
    /// The tenant's ONC settings.
    pub fn of(t: &Tenant) -> Self {
        t.settings.parse()
    }
}

/// Provisions the `OpenAPISession` credential.
pub struct OncProvisioner;

impl Provisioner for OncProvisioner {
    fn name(&self) -> &'static str {
        "onc"
    }

    fn fields(&self) -> &'static [&'static str] {
        &["onc_account_id", "onc_username", "onc_password"]
    }

    fn provision(&self, tenant: &TenantSummary, req: &NewTenant) -> DomainResult<Provision> {
        let account_id = req.field("onc_account_id")?.unwrap_or_else(|| tenant.id.to_string());
        let username = req.field("onc_username")?.unwrap_or_else(|| "onc-api".into());
        let password = req.field("onc_password")?.unwrap_or_else(|| crate::token::random_token(24));
        Ok(Provision {
            credential: NewCredential {
                kind: kind::ONC,
                login_key: format!("{account_id}/{username}"),
                username: Some(username.clone()),
                account_id: Some(account_id.clone()),
                secret: password.clone(),
                name: None,
            },
            conflict_field: "onc_account_id",
            answer: json!({"account_id": account_id, "username": username, "password": password}),
        })
    }

    fn describe(&self, a: &Value) -> String {
        let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
        format!(
            "ONC               accountId {}  username {}  password {}",
            s("account_id"),
            s("username"),
            s("password")
        )
    }
}
