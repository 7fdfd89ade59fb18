//! The per-process read caches (`domain::caches`) never serve a stale credential, setting,
//! tenant or directory entry: a change made through the admin API of one process is seen
//! from the next request on by that process and by a second server process (the binary)
//! on the same database, which learns it through LISTEN/NOTIFY.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{status_json, TestApp, ADMIN_TOKEN};
use reqwest::Method;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A second server process on the same database.
struct Second {
    child: Child,
    base: String,
}

impl Drop for Second {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn second_process(db_url: &str) -> Second {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .env("SWITCHBOARD_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("SWITCHBOARD_JWT_SECRET", "test-jwt-secret")
        .env("SWITCHBOARD_APPS_RATE_LIMIT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut second = Second { child, base };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = second.child.try_wait().unwrap() {
            panic!("second server exited during start-up: {status}");
        }
        if let Ok(r) = client.get(format!("{}/readyz", second.base)).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "second server did not serve within 120 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // the data dir holds nothing with an external database; keep it for the process's life
    std::mem::forget(dir);
    second
}

/// An Apps API client of the tenant `p` against `base`.
struct Apps {
    http: reqwest::Client,
    base: String,
    user: String,
    token: String,
}

impl Apps {
    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(&self.token))
            .send()
            .await
            .unwrap();
        status_json(r).await
    }
}

fn apps_on(app: &TestApp, p: &Value, base: &str) -> Apps {
    Apps {
        http: app.client.clone(),
        base: base.to_string(),
        user: p["apps"]["subdomain"].as_str().unwrap().to_string(),
        token: p["apps"]["token"].as_str().unwrap().to_string(),
    }
}

fn menu(name: &str) -> Value {
    json!({"name": name, "menu_type": "web_menu", "languages": ["en"], "channels": ["voice_call", "chat"], "wait_seconds": 7})
}

/// Time given to a notification to reach another process (on a loaded machine).
const NOTIFY_SETTLE: Duration = Duration::from_millis(200);

const WAIT_TIMES: &str = "/apps/api/v1/wait_times?lang=en";

/// Reads `path` twice (the second answer comes from the cache once warm) and returns the
/// second answer.
async fn warm(c: &Apps, path: &str) -> (u16, Value) {
    let first = c.get(path).await;
    let second = c.get(path).await;
    assert_eq!(first, second, "{path}");
    second
}

async fn leads_key(app: &TestApp, slug: &str) -> (String, String) {
    let (s, k) = app
        .admin_post(&format!("/admin/v1/tenants/{slug}/leads-api-keys"), json!({"name": "crm"}))
        .await;
    assert_eq!(s, 201, "{k}");
    (k["key"].as_str().unwrap().to_string(), k["id"].as_str().unwrap().to_string())
}

async fn leads_get(app: &TestApp, base: &str, key: &str) -> u16 {
    let r = app
        .client
        .get(format!("{base}/api/v2/config/campaigns"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

async fn cm_get(app: &TestApp, base: &str, p: &Value) -> u16 {
    let cm = &p["campaign_manager"];
    let r = app
        .client
        .get(format!("{base}/campaignmanager/campaigns/search"))
        .basic_auth(cm["account_sid"].as_str().unwrap(), cm["auth_token"].as_str())
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

async fn leads_login(app: &TestApp, base: &str, p: &Value) -> String {
    let l = &p["leads"];
    let r = app
        .client
        .post(format!("{base}/api/v2/login"))
        .json(&json!({"username": l["username"], "password": l["password"], "domain": l["domain"]}))
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(r).await;
    assert_eq!(s, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

async fn bearer_get(app: &TestApp, base: &str, token: &str) -> u16 {
    let r = app
        .client
        .get(format!("{base}/api/v2/config/campaigns"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

/// Directory, settings, credential revocation, reset and delete, seen by the process that
/// made the change (`base` = its own) or by another one. `settle`: what another process
/// is given for the notification to reach it (the one window in which it may answer from
/// what it cached before the change; the process that made the change drops its entries
/// before it answers, so it needs none).
async fn changes_are_seen(app: &TestApp, base: &str, settle: Duration) {
    let p = app.tenant("acme").await;
    app.admin_create("acme", "menus", menu("Web App")).await;
    let apps = apps_on(app, &p, base);

    // directory: a new menu is listed from the next read on
    let (s, v) = warm(&apps, WAIT_TIMES).await;
    assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(1)), "{v}");
    app.admin_create("acme", "menus", menu("Laptop")).await;
    tokio::time::sleep(settle).await;
    let (s, v) = apps.get(WAIT_TIMES).await;
    assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(2)), "{v}");

    // settings: a rate limit set through the admin API applies from the next request on
    let (s, v) = app
        .patch_tenant("acme", json!({"settings": {"apps_rate_limit": 1, "apps_rate_burst": 1}}))
        .await;
    assert_eq!(s, 200, "{v}");
    tokio::time::sleep(settle).await;
    let (s1, _) = apps.get(WAIT_TIMES).await;
    let (s2, _) = apps.get(WAIT_TIMES).await;
    assert_eq!((s1, s2), (200, 429));
    let (s, v) = app.patch_tenant("acme", json!({"settings": {"apps_rate_limit": 0}})).await;
    assert_eq!(s, 200, "{v}");
    tokio::time::sleep(settle).await;
    warm(&apps, WAIT_TIMES).await;

    // a revoked Leads API key is refused from the next request on
    let (key, key_id) = leads_key(app, "acme").await;
    assert_eq!(leads_get(app, base, &key).await, 200);
    assert_eq!(leads_get(app, base, &key).await, 200);
    let r = app
        .admin(Method::DELETE, &format!("/admin/v1/tenants/acme/leads-api-keys/{key_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    tokio::time::sleep(settle).await;
    assert_eq!(leads_get(app, base, &key).await, 401);

    // a reset ends the Leads access tokens issued before it
    let token = leads_login(app, base, &p).await;
    assert_eq!(bearer_get(app, base, &token).await, 200);
    assert_eq!(bearer_get(app, base, &token).await, 200);
    let (s, _) = app.admin_post("/admin/v1/tenants/acme/reset", json!({})).await;
    assert_eq!(s, 200);
    tokio::time::sleep(settle).await;
    assert_eq!(bearer_get(app, base, &token).await, 401);

    // deleting the tenant refuses its Apps and Campaign Manager credentials at once, and a
    // new tenant of the same slug does not inherit the old cached answers
    assert_eq!(cm_get(app, base, &p).await, 200);
    assert_eq!(cm_get(app, base, &p).await, 200);
    warm(&apps, WAIT_TIMES).await;
    let r = app.admin(Method::DELETE, "/admin/v1/tenants/acme").send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    tokio::time::sleep(settle).await;
    assert_eq!(apps.get(WAIT_TIMES).await.0, 401);
    assert_eq!(cm_get(app, base, &p).await, 401);
    let fresh = app.tenant("acme").await;
    tokio::time::sleep(settle).await;
    assert_eq!(apps.get(WAIT_TIMES).await.0, 401);
    let apps2 = apps_on(app, &fresh, base);
    let (s, v) = apps2.get(WAIT_TIMES).await;
    assert_eq!((s, v), (200, json!([])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_sees_every_admin_change_from_its_next_request_on() {
    let app = TestApp::spawn().await;
    let b = second_process(&app.db_url).await;
    changes_are_seen(&app, &b.base, NOTIFY_SETTLE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_process_sees_every_admin_change_from_its_next_request_on() {
    let app = TestApp::spawn().await;
    let base = app.base.clone();
    changes_are_seen(&app, &base, Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_refuses_a_revoked_credential_changed_in_sql() {
    // A change made outside switchboard (psql) reaches both processes through the trigger.
    let app = TestApp::spawn().await;
    let b = second_process(&app.db_url).await;
    let p = app.tenant("acme").await;
    let token = leads_login(&app, &b.base, &p).await;
    assert_eq!(bearer_get(&app, &b.base, &token).await, 200);
    assert_eq!(bearer_get(&app, &app.base, &token).await, 200);
    sqlx::query("UPDATE credentials SET revoked_at = now() WHERE kind = 'leads'")
        .execute(&app.db)
        .await
        .unwrap();
    // the notification is asynchronous: allow it the time it takes to arrive
    tokio::time::sleep(NOTIFY_SETTLE).await;
    assert_eq!(bearer_get(&app, &b.base, &token).await, 401);
    assert_eq!(bearer_get(&app, &app.base, &token).await, 401);
}

async fn onc(app: &TestApp, base: &str, method: &str, body: Value) -> Value {
    let r = app
        .client
        .post(format!("{base}/onc/json/{method}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{method}");
    r.json().await.unwrap()
}

async fn session_expiry(app: &TestApp) -> (chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>) {
    sqlx::query_as("SELECT expires_at, last_used_at FROM auth_sessions WHERE kind = 'onc_session'")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onc_session_touches_are_coalesced_and_a_reset_ends_the_session_everywhere() {
    let app = TestApp::spawn().await;
    let b = second_process(&app.db_url).await;
    let t = app.tenant("acme").await;
    let o = &t["onc"];
    let v = onc(
        &app,
        &app.base,
        "OpenAPISession",
        json!({"accountId": o["account_id"], "username": o["username"], "password": o["password"]}),
    )
    .await;
    assert_eq!(v["ErrorCode"], 0, "{v}");
    let session = v["SessionId"].as_str().unwrap().to_string();
    let get = json!({"sessionId": session});
    let v = onc(&app, &app.base, "GetCampaigns", get.clone()).await;
    assert!(v.is_array(), "{v}");
    let first = session_expiry(&app).await;
    // calls within the write slack do not write the session row again
    for _ in 0..5 {
        let v = onc(&app, &app.base, "GetCampaigns", get.clone()).await;
        assert!(v.is_array(), "{v}");
    }
    let later = session_expiry(&app).await;
    let slack = chrono::Duration::seconds(switchboard::domain::caches::SESSION_WRITE_SLACK_SECS + 1);
    assert!(later.0 - first.0 <= slack, "{first:?} {later:?}");
    // the other process accepts the session too
    let v = onc(&app, &b.base, "GetCampaigns", get.clone()).await;
    assert!(v.is_array(), "{v}");
    // a reset ends it on both
    let (s, _) = app.admin_post("/admin/v1/tenants/acme/reset", json!({})).await;
    assert_eq!(s, 200);
    tokio::time::sleep(NOTIFY_SETTLE).await;
    for base in [&app.base, &b.base] {
        let v = onc(&app, base, "GetCampaigns", get.clone()).await;
        assert!(v.is_null(), "{base}: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onc_idle_expiry_holds_with_cached_sessions() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    app.freeze_clock_at("acme", "2030-01-01T00:00:00Z").await;
    let o = &t["onc"];
    let v = onc(
        &app,
        &app.base,
        "OpenAPISession",
        json!({"accountId": o["account_id"], "username": o["username"], "password": o["password"]}),
    )
    .await;
    let get = json!({"sessionId": v["SessionId"]});
    assert!(onc(&app, &app.base, "GetCampaigns", get.clone()).await.is_array());
    // 19 minutes 59 seconds idle: alive (and slid)
    app.freeze_clock_at("acme", "2030-01-01T00:19:59Z").await;
    assert!(onc(&app, &app.base, "GetCampaigns", get.clone()).await.is_array());
    assert!(onc(&app, &app.base, "GetCampaigns", get.clone()).await.is_array());
    // 20 minutes after the last call: gone
    app.freeze_clock_at("acme", "2030-01-01T00:40:00Z").await;
    assert!(onc(&app, &app.base, "GetCampaigns", get.clone()).await.is_null());
}

/// Adds one contact to the dialer campaign `campaign` of `p` through `base`: (status,
/// whether it is listed as valid).
async fn dialer_add(app: &TestApp, base: &str, p: &Value, campaign: i64, number: &str, outbound: &str) -> (u16, bool) {
    let r = app
        .client
        .post(format!("{base}/apps/api/v1/outbound_dialer/campaigns/{campaign}/contacts"))
        .basic_auth(p["apps"]["subdomain"].as_str().unwrap(), p["apps"]["token"].as_str())
        .json(&json!({"name": "x", "phone_number": number, "outbound_number": outbound}))
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(r).await;
    (s, v["valid_contacts"].as_array().is_some_and(|a| a.len() == 1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_adds_see_campaign_and_number_changes_in_both_processes() {
    // What an add keeps (the campaign, the tenant's numbers) follows changes made in SQL
    // (both processes learn them through the trigger), by the admin API, and by a dialect.
    let app = TestApp::spawn().await;
    let b = second_process(&app.db_url).await;
    let p = app.tenant("acme").await;
    app.admin_create("acme", "phone-numbers", json!({"number": "+1 760-867-5309"}))
        .await;
    let camp = app
        .admin_create("acme", "campaigns", json!({"name": "Dialer", "kind": "outbound_dialer"}))
        .await;
    let campaign = camp["ids"]["apps"].as_i64().unwrap();
    let bases = [app.base.clone(), b.base.clone()];
    for (i, base) in bases.iter().enumerate() {
        for k in 0..2 {
            let n = format!("+1415555{:04}", 100 + i * 10 + k);
            assert_eq!(
                dialer_add(&app, base, &p, campaign, &n, "+17608675309").await,
                (200, true),
                "{base}"
            );
        }
        // a number the tenant does not have yet is not a valid outbound number
        let n = format!("+1415555{:04}", 200 + i);
        assert_eq!(
            dialer_add(&app, base, &p, campaign, &n, "+12125550142").await,
            (200, false),
            "{base}"
        );
    }

    // redial settings changed in SQL apply to the next add of either process
    sqlx::query("UPDATE campaigns SET attrs = attrs || '{\"max_redial_count\": 3}'::jsonb WHERE seq = $1")
        .bind(campaign)
        .execute(&app.db)
        .await
        .unwrap();
    tokio::time::sleep(NOTIFY_SETTLE).await;
    for (i, base) in bases.iter().enumerate() {
        let n = format!("+1415555{:04}", 300 + i);
        assert_eq!(
            dialer_add(&app, base, &p, campaign, &n, "+17608675309").await,
            (200, true),
            "{base}"
        );
        let retries: i32 = sqlx::query_scalar("SELECT max_retries FROM contacts WHERE number = $1")
            .bind(&n)
            .fetch_one(&app.db)
            .await
            .unwrap();
        assert_eq!(retries, 3, "{base}");
    }

    // a phone number added through the admin API is a valid outbound number from the next add on
    app.admin_create("acme", "phone-numbers", json!({"number": "+1 212-555-0142"}))
        .await;
    tokio::time::sleep(NOTIFY_SETTLE).await;
    for (i, base) in bases.iter().enumerate() {
        let n = format!("+1415555{:04}", 400 + i);
        assert_eq!(
            dialer_add(&app, base, &p, campaign, &n, "+12125550142").await,
            (200, true),
            "{base}"
        );
    }

    // a campaign deleted in SQL takes no more contacts, in either process
    sqlx::query("UPDATE campaigns SET deleted_at = now() WHERE seq = $1")
        .bind(campaign)
        .execute(&app.db)
        .await
        .unwrap();
    tokio::time::sleep(NOTIFY_SETTLE).await;
    for base in &bases {
        let (s, _) = dialer_add(&app, base, &p, campaign, "+14155550500", "+17608675309").await;
        assert_eq!(s, 404, "{base}");
    }
}
