//! Set-up shared by the tests of the delivery engine (`tests/engine*.rs`, `tests/sinks.rs`):
//! a tenant whose clock is frozen at [`T0`] and then advanced, campaigns and contacts made
//! straight through the admin API and the domain, and reads of the outbox.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use switchboard::domain::contacts::{self, NewContact};
use switchboard::domain::TenantId;
use uuid::Uuid;

use super::TestApp;

/// The instant every engine test tenant's clock is frozen at (a Monday, 10:00 UTC).
pub const T0: &str = "2030-01-07T10:00:00Z";
/// The tenant of the engine tests that use one tenant only.
pub const SLUG: &str = "acme";

/// [`T0`] as a time.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(T0).expect("T0").with_timezone(&Utc)
}

/// The tenant id of a provisioning answer.
pub fn tenant_id(provisioned: &Value) -> TenantId {
    TenantId(Uuid::parse_str(provisioned["tenant"]["id"].as_str().expect("tenant id")).expect("uuid"))
}

/// Advances the clock of [`SLUG`] by `secs` seconds.
pub async fn advance(app: &TestApp, secs: i64) {
    app.advance(SLUG, secs).await;
}

/// A draft campaign of the engine (kind `sms`) on `channel`, starting at [`T0`], with
/// `attrs` (policy, from, body, subject); returns its id.
pub async fn campaign(app: &TestApp, slug: &str, channel: &str, attrs: Value) -> Uuid {
    let c = app
        .admin_create(
            slug,
            "campaigns",
            json!({"name": format!("{channel} run"), "kind": "sms", "channel": channel, "starts_at": T0, "attrs": attrs}),
        )
        .await;
    Uuid::parse_str(c["id"].as_str().expect("campaign id")).expect("uuid")
}

/// Adds contacts at [`T0`]: each `to` is an email address when it has an `@`, else a
/// number; `retries` retries each, on `channel`.
pub async fn add_contacts(app: &TestApp, tenant: TenantId, campaign: Uuid, to: &[&str], retries: i32, channel: &str) {
    let list = to
        .iter()
        .map(|x| NewContact {
            number: (!x.contains('@')).then(|| x.to_string()),
            email: x.contains('@').then(|| x.to_string()),
            max_retries: retries,
            ..Default::default()
        })
        .collect();
    contacts::add_many(&app.db, tenant, campaign, list, channel, t0())
        .await
        .expect("contacts");
}

impl TestApp {
    /// A new tenant whose clock is frozen at [`T0`]; returns the provisioning answer.
    pub async fn frozen_tenant(&self, slug: &str) -> Value {
        let p = self.tenant(slug).await;
        self.freeze_clock_at(slug, T0).await;
        p
    }

    /// Advances a tenant's clock by `secs` seconds (the engine runs what falls due).
    pub async fn advance(&self, slug: &str, secs: i64) {
        self.clock(slug, json!({ "advance_seconds": secs })).await;
    }

    /// Schedules a campaign and runs one scheduler pass.
    pub async fn schedule(&self, slug: &str, campaign: Uuid) {
        self.campaign_events(slug, &campaign.to_string(), &["schedule"]).await;
        self.tick().await;
    }

    /// `GET /admin/v1/tenants/{slug}/outbox{query}`; asserts 200, newest first.
    pub async fn outbox(&self, slug: &str, query: &str) -> Vec<Value> {
        let (s, v) = self.admin_get(&format!("/admin/v1/tenants/{slug}/outbox{query}")).await;
        assert_eq!(s, 200, "{v}");
        v.as_array().expect("outbox").clone()
    }

    /// (to, status) of the outbox rows of `query`, oldest first.
    pub async fn outbox_pairs(&self, slug: &str, query: &str) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = self
            .outbox(slug, query)
            .await
            .iter()
            .map(|d| {
                (
                    d["to_address"].as_str().unwrap().to_string(),
                    d["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        rows.reverse();
        rows
    }

    /// The opt-out list entry of `number`.
    pub async fn opt_out(&self, slug: &str, number: &str) -> Value {
        let (_, opt) = self.admin_get(&format!("/admin/v1/tenants/{slug}/opt-outs")).await;
        opt.as_array().unwrap().iter().find(|e| e["number"] == number).cloned().unwrap()
    }

    /// A campaign's `attrs->'policy'`.
    pub async fn policy_of(&self, campaign: Uuid) -> Value {
        sqlx::query_scalar("SELECT attrs->'policy' FROM campaigns WHERE id = $1")
            .bind(campaign)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// A campaign's shared status.
    pub async fn campaign_status(&self, campaign: Uuid) -> String {
        sqlx::query_scalar("SELECT status FROM campaigns WHERE id = $1")
            .bind(campaign)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }
}
