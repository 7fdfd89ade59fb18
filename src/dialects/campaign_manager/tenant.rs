//! What Campaign Manager adds to a tenant: its HTTP Basic credential (account SID, auth
//! token) and the enterprise SID. It has no settings.

use serde_json::{json, Value};

use crate::domain::credentials::{kind, NewCredential};
use crate::domain::tenants::{NewTenant, Provision, Provisioner, TenantSummary};
use crate::domain::{parse_sid, sid, DomainError, DomainResult};

/// Provisions the account SID : auth token credential.
pub struct CmProvisioner;

impl Provisioner for CmProvisioner {
    fn name(&self) -> &'static str {
        "campaign_manager"
    }

    fn fields(&self) -> &'static [&'static str] {
        &["cm_account_sid", "cm_auth_token"]
    }

    fn provision(&self, tenant: &TenantSummary, req: &NewTenant) -> DomainResult<Provision> {
        let given = req.field("cm_account_sid")?;
        if given.as_deref().is_some_and(|s| parse_sid("AC", s).is_none()) {
            return Err(DomainError::validation(
                "cm_account_sid",
                "must be AC followed by 32 hex characters",
            ));
        }
        let account_sid = given.unwrap_or_else(|| format!("AC{}", crate::token::random_hex32()));
        let auth_token = req.field("cm_auth_token")?.unwrap_or_else(crate::token::random_hex32);
        let enterprise_sid = sid("EN", tenant.id);
        Ok(Provision {
            credential: NewCredential {
                kind: kind::CAMPAIGN_MANAGER,
                login_key: account_sid.clone(),
                username: None,
                account_id: Some(enterprise_sid.clone()),
                secret: auth_token.clone(),
                name: None,
            },
            conflict_field: "cm_account_sid",
            answer: json!({"account_sid": account_sid, "auth_token": auth_token, "enterprise_sid": enterprise_sid}),
        })
    }

    fn describe(&self, a: &Value) -> String {
        let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
        format!(
            "Campaign Manager  account SID {}  auth token {}  enterprise SID {}",
            s("account_sid"),
            s("auth_token"),
            s("enterprise_sid")
        )
    }
}
