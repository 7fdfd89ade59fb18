//! The delivery engine over HTTP: the simulated carrier's outcome table, carrier rules,
//! retries, windows, pause/resume, suppression at send time, opt-outs, intermediate
//! states while the tenant clock runs, and the outbox admin API.

mod common;

use common::engine::{self as eng, T0};
use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};
use switchboard::domain::TenantId;
use uuid::Uuid;

struct Tenant {
    slug: String,
    id: TenantId,
    provisioned: Value,
}

/// A tenant whose clock is frozen at [`T0`].
async fn tenant(app: &TestApp, slug: &str) -> Tenant {
    let p = app.frozen_tenant(slug).await;
    Tenant {
        slug: slug.into(),
        id: eng::tenant_id(&p),
        provisioned: p,
    }
}

/// A draft campaign on `channel` with `policy`, starting at `T0`.
async fn campaign(app: &TestApp, t: &Tenant, channel: &str, policy: Value) -> Uuid {
    let attrs = json!({"policy": policy, "from": "+17608675309", "body": "hello", "subject": "Hi"});
    eng::campaign(app, &t.slug, channel, attrs).await
}

/// Adds contacts (numbers, or emails for an email campaign) with `retries` retries each.
async fn add(app: &TestApp, t: &Tenant, campaign: Uuid, to: &[&str], retries: i32) {
    let channel = if to.iter().any(|x| x.contains('@')) { "email" } else { "sms" };
    eng::add_contacts(app, t.id, campaign, to, retries, channel).await;
}

async fn schedule(app: &TestApp, t: &Tenant, campaign: Uuid) {
    app.schedule(&t.slug, campaign).await;
}

async fn advance(app: &TestApp, t: &Tenant, secs: i64) {
    app.advance(&t.slug, secs).await;
}

/// (to, status, attempts, last_outcome) of the campaign's contacts in order.
async fn contacts_of(app: &TestApp, campaign: Uuid) -> Vec<(String, String, i32, Option<String>)> {
    sqlx::query_as("SELECT COALESCE(number, email), status, attempts, last_outcome FROM contacts WHERE campaign_id = $1 ORDER BY seq")
        .bind(campaign)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

async fn status_of(app: &TestApp, campaign: Uuid, to: &str) -> String {
    contacts_of(app, campaign)
        .await
        .into_iter()
        .find(|c| c.0 == to)
        .map(|c| c.1)
        .unwrap_or_default()
}

async fn campaign_status(app: &TestApp, t: &Tenant, campaign: Uuid) -> String {
    switchboard::domain::campaigns::get(&app.db, t.id, campaign).await.unwrap().status
}

async fn outbox(app: &TestApp, t: &Tenant, query: &str) -> Vec<Value> {
    app.outbox(&t.slug, query).await
}

fn statuses(c: &[(String, String, i32, Option<String>)]) -> Vec<(&str, &str)> {
    c.iter().map(|(to, s, _, _)| (to.as_str(), s.as_str())).collect()
}

#[tokio::test]
async fn sms_outcome_table() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let c = campaign(&app, &t, "sms", json!({"retry_interval_secs": 60})).await;
    let numbers = [
        "+14155550001",
        "+14155550002",
        "+14155550003",
        "+14155550004",
        "+14155550005",
        "+14155550006",
        "+14155550007",
        "+14155550008",
        "+14155550199",
    ];
    add(&app, &t, c, &numbers, 1).await;
    schedule(&app, &t, c).await;
    // in flight for 2 s
    let now = contacts_of(&app, c).await;
    assert!(now.iter().all(|k| k.1 == "sending" && k.2 == 1), "{now:?}");
    advance(&app, &t, 1).await;
    assert!(contacts_of(&app, c).await.iter().all(|k| k.1 == "sending"));
    let rows = outbox(&app, &t, "").await;
    assert_eq!(rows.len(), 9);
    assert!(
        rows.iter()
            .all(|r| r["status"] == "sending" && r["attempt"] == 1 && r["sink"] == "simulated"),
        "{rows:?}"
    );
    advance(&app, &t, 1).await;
    let got = contacts_of(&app, c).await;
    assert_eq!(
        statuses(&got),
        vec![
            ("+14155550001", "retry_wait"),
            ("+14155550002", "retry_wait"),
            ("+14155550003", "completed"),
            ("+14155550004", "invalid_number"),
            ("+14155550005", "retry_wait"),
            ("+14155550006", "retry_wait"),
            ("+14155550007", "completed"),
            ("+14155550008", "completed"),
            ("+14155550199", "completed"),
        ]
    );
    assert_eq!(got[0].3.as_deref(), Some("undelivered"));
    assert_eq!(got[1].3.as_deref(), Some("carrier_error"));
    assert_eq!(got[6].3.as_deref(), Some("opt_out"));
    // the retry comes after the interval, not before
    advance(&app, &t, 59).await;
    assert_eq!(status_of(&app, c, "+14155550005").await, "retry_wait");
    advance(&app, &t, 1).await;
    assert_eq!(status_of(&app, c, "+14155550005").await, "sending");
    advance(&app, &t, 2).await;
    let got = contacts_of(&app, c).await;
    assert_eq!(
        statuses(&got),
        vec![
            ("+14155550001", "failed"),
            ("+14155550002", "carrier_error"),
            ("+14155550003", "completed"),
            ("+14155550004", "invalid_number"),
            ("+14155550005", "completed"),
            ("+14155550006", "carrier_error"),
            ("+14155550007", "completed"),
            ("+14155550008", "completed"),
            ("+14155550199", "completed"),
        ]
    );
    assert_eq!(got[4].2, 2, "two attempts");
    assert_eq!(got[2].2, 1, "one attempt");
    assert_eq!(campaign_status(&app, &t, c).await, "completed");
    // the outbox: one row per attempt, newest first, each with its outcome
    let rows = outbox(&app, &t, "?to=%2B14155550005").await;
    let got: Vec<(i64, &str)> = rows
        .iter()
        .map(|r| (r["attempt"].as_i64().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(got, vec![(2, "delivered"), (1, "undelivered")]);
    assert_eq!(rows[0]["outcome"], "delivered");
    assert!(rows[0]["ended_at"].is_string());
    // outcome 7 opted the number out for SMS
    let e = app.opt_out("acme", "+14155550007").await;
    assert_eq!(e["channels"], json!(["sms"]));
}

#[tokio::test]
async fn voice_outcome_table_and_intermediate_states() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let c = campaign(&app, &t, "voice", json!({"dial_timeout_secs": 20})).await;
    let numbers = [
        "+12125550001",
        "+12125550002",
        "+12125550003",
        "+12125550004",
        "+12125550005",
        "+12125550006",
        "+12125550007",
        "+12125550008",
        "+12125550100",
    ];
    add(&app, &t, c, &numbers, 1).await;
    schedule(&app, &t, c).await;
    assert!(contacts_of(&app, c).await.iter().all(|k| k.1 == "dialing"));
    // at 5 s: answered calls are connected, failures known; abandoned hung up at once
    advance(&app, &t, 5).await;
    let got = contacts_of(&app, c).await;
    assert_eq!(
        statuses(&got),
        vec![
            ("+12125550001", "dialing"),
            ("+12125550002", "retry_wait"),
            ("+12125550003", "connected"),
            ("+12125550004", "invalid_number"),
            ("+12125550005", "dialing"),
            ("+12125550006", "retry_wait"),
            ("+12125550007", "connected"),
            ("+12125550008", "abandoned"),
            ("+12125550100", "connected"),
        ]
    );
    assert_eq!(got[1].3.as_deref(), Some("busy"));
    let rows = outbox(&app, &t, "?to=%2B12125550003").await;
    assert_eq!(rows[0]["status"], "connected");
    // the dial timeout (20 s): not answered
    advance(&app, &t, 15).await;
    assert_eq!(status_of(&app, c, "+12125550001").await, "retry_wait");
    assert_eq!(status_of(&app, c, "+12125550005").await, "retry_wait");
    assert_eq!(status_of(&app, c, "+12125550003").await, "connected");
    // 30 s of call
    advance(&app, &t, 15).await;
    let got = contacts_of(&app, c).await;
    assert_eq!(got[2].1, "voicemail");
    assert_eq!(got[6].1, "completed");
    assert_eq!(got[8].1, "completed");
    let rows = outbox(&app, &t, "?to=%2B12125550100").await;
    assert_eq!(rows[0]["status"], "answered");
    assert_eq!(rows[0]["duration_ms"], 30_000);
    // the retries (default interval 300 s), then everything is final
    advance(&app, &t, 3600).await;
    let got = contacts_of(&app, c).await;
    assert_eq!(
        statuses(&got),
        vec![
            ("+12125550001", "no_answer"),
            ("+12125550002", "busy"),
            ("+12125550003", "voicemail"),
            ("+12125550004", "invalid_number"),
            ("+12125550005", "completed"),
            ("+12125550006", "unreachable"),
            ("+12125550007", "completed"),
            ("+12125550008", "abandoned"),
            ("+12125550100", "completed"),
        ]
    );
    assert_eq!(campaign_status(&app, &t, c).await, "completed");
    // outcome 7: on the voice opt-out list
    let e = app.opt_out("acme", "+12125550007").await;
    assert_eq!(e["channels"], json!(["voice"]));
}

#[tokio::test]
async fn email_outcomes_and_a_failed_campaign() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let c = campaign(&app, &t, "email", json!({"retry_interval_secs": 10})).await;
    add(&app, &t, c, &["bounce-1@example.com", "defer-1@example.com", "ann@example.com"], 2).await;
    schedule(&app, &t, c).await;
    advance(&app, &t, 30).await;
    let got = contacts_of(&app, c).await;
    assert_eq!(
        statuses(&got),
        vec![
            ("bounce-1@example.com", "failed"),
            ("defer-1@example.com", "completed"),
            ("ann@example.com", "completed")
        ]
    );
    assert_eq!(got[0].2, 1, "a bounce is never retried");
    assert_eq!(got[1].2, 2);
    // a campaign where nothing could be delivered fails
    let c2 = campaign(&app, &t, "email", json!({})).await;
    add(&app, &t, c2, &["bounce-2@example.com"], 0).await;
    schedule(&app, &t, c2).await;
    advance(&app, &t, 5).await;
    assert_eq!(campaign_status(&app, &t, c2).await, "failed");
}

#[tokio::test]
async fn carrier_rules_first_and_per_tenant() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let other = tenant(&app, "other").await;
    let path = "/admin/v1/tenants/acme/carrier-rules";
    let rules = json!([{"match": "+1415*", "channel": "voice", "outcomes": ["busy", "busy", "answered"]},
                       {"match": "*", "channel": "*", "outcomes": ["carrier_error"]}]);
    let r = app.admin(Method::PUT, path).json(&rules).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (s, got) = app.admin_get(path).await;
    assert_eq!(s, 200);
    assert_eq!(got, rules);
    let (_, none) = app.admin_get("/admin/v1/tenants/other/carrier-rules").await;
    assert_eq!(none, json!([]));
    // validation names the field
    for (bad, field) in [
        (json!([{"match": "", "outcomes": ["busy"]}]), "[0].match"),
        (json!([{"match": "*", "channel": "fax", "outcomes": ["busy"]}]), "[0].channel"),
        (json!([{"match": "*", "outcomes": []}]), "[0].outcomes"),
        (json!([{"match": "*", "outcomes": ["busy", "maybe"]}]), "[0].outcomes[1]"),
        (json!({"match": "*"}), "rules"),
    ] {
        let r = app.admin(Method::PUT, path).json(&bad).send().await.unwrap();
        assert_eq!(r.status(), 422, "{bad}");
        let v: Value = r.json().await.unwrap();
        assert!(v["error"].as_str().unwrap().starts_with(field), "{v}");
    }
    let c = campaign(&app, &t, "voice", json!({"retry_interval_secs": 60})).await;
    add(&app, &t, c, &["+14155550100", "+12125550100"], 3).await;
    schedule(&app, &t, c).await;
    advance(&app, &t, 10).await;
    assert_eq!(
        statuses(&contacts_of(&app, c).await),
        vec![("+14155550100", "retry_wait"), ("+12125550100", "retry_wait")]
    );
    advance(&app, &t, 3600).await;
    let got = contacts_of(&app, c).await;
    assert_eq!(got[0].1, "completed", "busy, busy, then answered");
    assert_eq!(got[0].2, 3);
    assert_eq!(got[1].1, "carrier_error", "the catch-all rule, retries exhausted");
    assert_eq!(got[1].2, 4);
    // the other tenant still has the table
    let c2 = campaign(&app, &other, "voice", json!({})).await;
    add(&app, &other, c2, &["+14155550100"], 0).await;
    schedule(&app, &other, c2).await;
    advance(&app, &other, 60).await;
    assert_eq!(status_of(&app, c2, "+14155550100").await, "completed");
}

#[tokio::test]
async fn window_pause_resume_and_cancel() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    // T0 is 10:00 UTC; the window opens at 11:00 and closes at 12:00
    let c = campaign(
        &app,
        &t,
        "sms",
        json!({"window": {"from": "11:00:00", "to": "12:00:00"}, "retry_interval_secs": 3600}),
    )
    .await;
    add(&app, &t, c, &["+14155550101", "+14155550005"], 1).await;
    schedule(&app, &t, c).await;
    assert_eq!(campaign_status(&app, &t, c).await, "running");
    advance(&app, &t, 3599).await;
    assert!(contacts_of(&app, c).await.iter().all(|k| k.1 == "pending"));
    assert!(outbox(&app, &t, "").await.is_empty(), "no attempt outside the window");
    advance(&app, &t, 1).await;
    assert!(contacts_of(&app, c).await.iter().all(|k| k.1 == "sending"));
    // the retry (an hour later) falls after 12:00: it waits for the next day's window
    advance(&app, &t, 3600).await;
    assert_eq!(status_of(&app, c, "+14155550005").await, "retry_wait");
    advance(&app, &t, 22 * 3600).await;
    assert_eq!(status_of(&app, c, "+14155550005").await, "retry_wait");
    advance(&app, &t, 3600).await;
    assert_eq!(status_of(&app, c, "+14155550005").await, "sending");
    advance(&app, &t, 2).await;
    assert_eq!(campaign_status(&app, &t, c).await, "completed");
    let rows = outbox(&app, &t, "?to=%2B14155550005").await;
    assert_eq!(rows[0]["created_at"], "2030-01-08T11:00:00Z");

    // pause: no new attempt; in-flight ones finish; resume goes on
    let c2 = campaign(&app, &t, "sms", json!({})).await;
    add(&app, &t, c2, &["+14155550102"], 0).await;
    app.campaign_events(&t.slug, &c2.to_string(), &["schedule", "pause"]).await;
    advance(&app, &t, 600).await;
    assert_eq!(status_of(&app, c2, "+14155550102").await, "pending");
    app.campaign_events(&t.slug, &c2.to_string(), &["resume"]).await;
    app.tick().await;
    assert_eq!(status_of(&app, c2, "+14155550102").await, "sending");
    app.campaign_events(&t.slug, &c2.to_string(), &["pause"]).await;
    advance(&app, &t, 2).await;
    assert_eq!(status_of(&app, c2, "+14155550102").await, "completed");

    // cancel: waiting contacts are cancelled
    let c3 = campaign(&app, &t, "sms", json!({"retry_interval_secs": 60})).await;
    add(&app, &t, c3, &["+14155550001", "+14155550103"], 3).await;
    schedule(&app, &t, c3).await;
    advance(&app, &t, 2).await;
    assert_eq!(
        status_of(&app, c3, "+14155550001").await,
        "retry_wait",
        "{:?}",
        contacts_of(&app, c3).await
    );
    app.campaign_events(&t.slug, &c3.to_string(), &["cancel"]).await;
    advance(&app, &t, 600).await;
    assert_eq!(
        statuses(&contacts_of(&app, c3).await),
        vec![("+14155550001", "cancelled"), ("+14155550103", "completed")]
    );
}

#[tokio::test]
async fn suppression_at_send_time_and_opt_out_across_dialects() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let c = campaign(&app, &t, "voice", json!({})).await;
    add(&app, &t, c, &["+14155550110", "+14155550007"], 0).await;
    // opted out after it was added
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants/acme/opt-outs",
            json!({"number": "+14155550110", "channels": ["voice"]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    schedule(&app, &t, c).await;
    advance(&app, &t, 60).await;
    assert_eq!(
        statuses(&contacts_of(&app, c).await),
        vec![("+14155550110", "dnc"), ("+14155550007", "completed")]
    );
    let rows = outbox(&app, &t, "?to=%2B14155550110").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "suppressed");

    // outcome 7 put +14155550007 on the voice opt-out list: the outbound dialer refuses it
    let apps = common::AppsClient::new(&app, &t.provisioned);
    let (s, n) = app
        .admin_post("/admin/v1/tenants/acme/phone-numbers", json!({"number": "+1 760-867-5309"}))
        .await;
    assert_eq!(s, 201, "{n}");
    let (s, d) = app
        .admin_post(
            "/admin/v1/tenants/acme/campaigns",
            json!({"name": "Dialer", "kind": "outbound_dialer"}),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let (s, v) = apps
        .post(
            &format!("/apps/api/v1/outbound_dialer/campaigns/{}/contacts", d["ids"]["apps"]),
            json!({"name": "x", "phone_number": "+1 415-555-0007", "outbound_number": "+1 760-867-5309"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["valid_contacts"][0]["status"], "Do Not Call", "{v}");
}

#[tokio::test]
async fn outbox_filters_paging_clear_and_isolation() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let other = tenant(&app, "other").await;
    let c = campaign(&app, &t, "sms", json!({})).await;
    let numbers: Vec<String> = (0..5).map(|i| format!("+1415555011{i}")).collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    add(&app, &t, c, &refs, 0).await;
    schedule(&app, &t, c).await;
    advance(&app, &t, 2).await;
    let all = outbox(&app, &t, "").await;
    assert_eq!(all.len(), 5);
    let seqs: Vec<i64> = all.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first: {seqs:?}");
    // paging with the cursor header
    let r = app
        .admin(Method::GET, "/admin/v1/tenants/acme/outbox?limit=2")
        .send()
        .await
        .unwrap();
    let cursor = r.headers().get("x-next-cursor").unwrap().to_str().unwrap().to_string();
    let page1: Vec<Value> = r.json().await.unwrap();
    assert_eq!(page1.len(), 2);
    let page2 = outbox(&app, &t, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(page2.len(), 2);
    assert!(page2[0]["seq"].as_i64() < page1[1]["seq"].as_i64());
    // filters
    assert_eq!(outbox(&app, &t, "?channel=voice").await.len(), 0);
    assert_eq!(outbox(&app, &t, "?channel=sms&status=delivered").await.len(), 5);
    assert_eq!(outbox(&app, &t, &format!("?campaign={c}")).await.len(), 5);
    assert_eq!(outbox(&app, &t, &format!("?campaign={}", Uuid::new_v4())).await.len(), 0);
    assert_eq!(outbox(&app, &t, "?since=2030-01-07T10:00:01Z").await.len(), 0);
    assert_eq!(outbox(&app, &t, "?since=2030-01-07T10:00:00Z").await.len(), 5);
    let (s, v) = app.admin_get("/admin/v1/tenants/acme/outbox?limit=0").await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = app.admin_get("/admin/v1/tenants/acme/outbox?since=yesterday").await;
    assert_eq!(s, 422, "{v}");
    // isolation, then clear
    assert!(outbox(&app, &other, "").await.is_empty());
    let r = app.admin(Method::DELETE, "/admin/v1/tenants/other/outbox").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(outbox(&app, &t, "").await.len(), 5);
    let r = app.admin(Method::DELETE, "/admin/v1/tenants/acme/outbox").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["deleted"], 5);
    assert!(outbox(&app, &t, "").await.is_empty());
}

#[tokio::test]
async fn an_hour_completes_a_hundred_contacts_with_retries() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let c = campaign(&app, &t, "voice", json!({"retry_interval_secs": 120})).await;
    let numbers: Vec<String> = (0..100)
        .map(|i| {
            if i % 10 == 0 {
                format!("+1212555000{}", 1 + i / 10 % 8)
            } else {
                format!("+1212555{:04}", 1000 + i)
            }
        })
        .collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    add(&app, &t, c, &refs, 2).await;
    schedule(&app, &t, c).await;
    advance(&app, &t, 3600).await;
    let got = contacts_of(&app, c).await;
    assert!(
        got.iter()
            .all(|k| !["pending", "dialing", "connected", "retry_wait", "sending"].contains(&k.1.as_str())),
        "{got:?}"
    );
    assert_eq!(campaign_status(&app, &t, c).await, "completed");
    // each attempt exactly once in the outbox
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM attempts WHERE campaign_id = $1")
        .bind(c)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE campaign_id = $1 AND attempt_id IS NOT NULL")
        .bind(c)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, rows);
    let made: i64 = got.iter().map(|k| i64::from(k.2)).sum();
    assert_eq!(made, n);
}

#[tokio::test]
async fn carrier_setting() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let v = app.settings("acme", json!({"carrier": "simulated"})).await;
    assert_eq!(v["settings"]["carrier"], "simulated", "{v}");
    let (s, v) = app.patch_tenant("acme", json!({"settings": {"carrier": "pigeon"}})).await;
    assert_eq!(s, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("settings.carrier"), "{v}");
}

// ---------------------------------------------------------------------------------------
// Crashes and replicas: server processes on one database

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const PROC_TOKEN: &str = "engine-proc-admin";

struct Proc {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Proc {
    async fn spawn(db_url: &str) -> Proc {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(BIN)
            .arg("--data-dir")
            .arg(dir.path())
            .env("DATABASE_URL", db_url)
            .env("RUST_LOG", "warn")
            .env("SWITCHBOARD_ADMIN_TOKEN", PROC_TOKEN)
            .env("SWITCHBOARD_TICK_MS", "50")
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let p = Proc {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let client = reqwest::Client::new();
        for _ in 0..900 {
            if let Ok(r) = client
                .get(format!("{}/admin/v1/tenants", p.base))
                .bearer_auth(PROC_TOKEN)
                .send()
                .await
            {
                if r.status() == 200 {
                    return p;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("server did not serve");
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(PROC_TOKEN)
            .json(&body)
            .timeout(std::time::Duration::from_secs(300))
            .send()
            .await
            .unwrap()
    }

    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tenant with a frozen clock and a scheduled SMS campaign of `n` contacts (all
/// delivered at the first attempt), on the database of `p`.
async fn big_campaign(p: &Proc, pool: &sqlx::PgPool, n: i32) -> Uuid {
    let r = p.post("/admin/v1/tenants", json!({"slug": "acme"})).await;
    assert_eq!(r.status(), 201);
    for change in [json!({"freeze": true}), json!({"set": T0})] {
        let r = p.post("/admin/v1/tenants/acme/clock", change).await;
        assert_eq!(r.status(), 200);
    }
    let r = p
        .post(
            "/admin/v1/tenants/acme/campaigns",
            json!({"name": "Big", "kind": "sms", "channel": "sms", "starts_at": T0, "attrs": {"body": "hi"}}),
        )
        .await;
    let c: Value = r.json().await.unwrap();
    let id = Uuid::parse_str(c["id"].as_str().unwrap()).unwrap();
    sqlx::query(
        "INSERT INTO contacts (id, tenant_id, campaign_id, number, status, created_at, updated_at)
         SELECT gen_random_uuid(), k.tenant_id, k.id, '+1212' || lpad((1000000 + g)::text, 7, '0'), 'pending', $3, $3
           FROM campaigns k, generate_series(1, $2::int) g WHERE k.id = $1",
    )
    .bind(id)
    .bind(n)
    .bind(chrono::DateTime::parse_from_rfc3339(T0).unwrap())
    .execute(pool)
    .await
    .unwrap();
    let r = p
        .post(
            &format!("/admin/v1/tenants/acme/campaigns/{id}/events"),
            json!({"events": ["schedule"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    id
}

/// Every contact attempted exactly once, each attempt exactly once in the outbox.
async fn assert_exactly_once(pool: &sqlx::PgPool, campaign: Uuid, n: i64) {
    let row: (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM attempts WHERE campaign_id = $1),
                (SELECT count(DISTINCT contact_id) FROM attempts WHERE campaign_id = $1),
                (SELECT count(*) FROM deliveries WHERE campaign_id = $1),
                (SELECT count(DISTINCT attempt_id) FROM deliveries WHERE campaign_id = $1),
                (SELECT count(*) FROM contacts WHERE campaign_id = $1 AND status = 'completed' AND attempts = 1)",
    )
    .bind(campaign)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        (n, n, n, n, n),
        "(attempts, contacts attempted, outbox rows, attempts in the outbox, completed once)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_run_then_restart_loses_and_doubles_nothing() {
    let url = common::fresh_database().await;
    let pool = switchboard::db::pool(&url, 2).await.unwrap();
    let p = Proc::spawn(&url).await;
    let n = 3000;
    let c = big_campaign(&p, &pool, n).await;
    // the advance runs the campaign; kill the process while it does
    let base = p.base.clone();
    let advance = tokio::spawn(async move {
        let _ = reqwest::Client::new()
            .post(format!("{base}/admin/v1/tenants/acme/clock"))
            .bearer_auth(PROC_TOKEN)
            .json(&json!({"advance_seconds": 60}))
            .send()
            .await;
    });
    // wait until it is mid-run (some attempts made, not all done)
    for _ in 0..600 {
        let made: i64 = sqlx::query_scalar("SELECT count(*) FROM attempts WHERE campaign_id = $1")
            .bind(c)
            .fetch_one(&pool)
            .await
            .unwrap();
        if made > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    p.kill9();
    let _ = advance.await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE campaign_id = $1 AND status = 'completed'")
        .bind(c)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(before < i64::from(n), "killed mid-run");
    let p = Proc::spawn(&url).await;
    let r = p.post("/admin/v1/tenants/acme/clock", json!({"advance_seconds": 60})).await;
    assert_eq!(r.status(), 200);
    assert_exactly_once(&pool, c, i64::from(n)).await;
    let status: String = sqlx::query_scalar("SELECT status FROM campaigns WHERE id = $1")
        .bind(c)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_a_campaign_without_doubles() {
    let url = common::fresh_database().await;
    let pool = switchboard::db::pool(&url, 2).await.unwrap();
    let a = Proc::spawn(&url).await;
    let b = Proc::spawn(&url).await;
    let n = 3000;
    let c = big_campaign(&a, &pool, n).await;
    // both run the campaign at once: A through its clock advance, B through its loop
    // (and a later pass of its own)
    let (ra, rb) = tokio::join!(
        a.post("/admin/v1/tenants/acme/clock", json!({"advance_seconds": 30})),
        b.post("/admin/v1/tenants/acme/clock", json!({"advance_seconds": 30}))
    );
    assert_eq!((ra.status().as_u16(), rb.status().as_u16()), (200, 200));
    let r = b.post("/admin/v1/tenants/acme/clock", json!({"advance_seconds": 30})).await;
    assert_eq!(r.status(), 200);
    assert_exactly_once(&pool, c, i64::from(n)).await;
}

#[tokio::test]
async fn progress_jobs_follow_every_contact_change() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let c = campaign(
        &app,
        &t,
        "sms",
        json!({"progress_url": "http://127.0.0.1:9/progress", "retry_interval_secs": 60}),
    )
    .await;
    add(&app, &t, c, &["+14155550005"], 1).await;
    // no progress URL, no job
    let quiet = campaign(&app, &t, "sms", json!({})).await;
    add(&app, &t, quiet, &["+14155550120"], 0).await;
    schedule(&app, &t, c).await;
    schedule(&app, &t, quiet).await;
    advance(&app, &t, 120).await;
    let jobs: Vec<Value> = sqlx::query_scalar("SELECT payload FROM jobs WHERE kind = 'progress' ORDER BY seq")
        .fetch_all(&app.db)
        .await
        .unwrap();
    let seen: Vec<(&str, Option<&str>, i64)> = jobs
        .iter()
        .map(|j| {
            (
                j["status"].as_str().unwrap(),
                j["outcome"].as_str(),
                j["attempts"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("sending", None, 1),
            ("retry_wait", Some("undelivered"), 1),
            ("sending", None, 2),
            ("completed", Some("delivered"), 2),
        ]
    );
    let first = &jobs[0];
    assert_eq!(first["url"], "http://127.0.0.1:9/progress");
    assert_eq!(first["channel"], "sms");
    assert_eq!(first["max_retries"], 1);
    assert_eq!(first["campaign_id"], c.to_string());
    assert_eq!(first["at"], "2030-01-07T10:00:00.000Z");
    assert_eq!(jobs[1]["at"], "2030-01-07T10:00:02.000Z");
}
