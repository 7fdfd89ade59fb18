//! The carrier sinks through HTTP: the webhook carrier (signature checked by a test
//! receiver, retries with backoff, the give-up after 5 tries, the admin delivery list and
//! its paging, tenant isolation, the secret shown once and rotated) and the SMTP carrier
//! (a message received by a test SMTP listener).
//!
//! End to end, campaigns run by the engine on the tenant clock hand their attempts to the
//! tenant's carrier (`*_campaign_*` tests). The other tests hand attempts to the carriers
//! the way the attempt runner does, through `Carrier::dispatch` inside a transaction, to
//! reach the retry and failure paths directly; everything after it (job worker, HTTP,
//! SMTP, the admin API) runs for real.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use common::engine as eng;
use common::*;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use switchboard::domain::TenantId;
use switchboard::engine::carrier::{self, Attempt, Channel, Outcome};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------
// A test webhook receiver

#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
    at: Instant,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Status of the n-th answer; the last one repeats.
    script: Arc<Vec<u16>>,
}

impl Receiver {
    /// Serves on 127.0.0.1:0; returns the receiver and its URL.
    async fn start(script: &[u16]) -> (Receiver, String) {
        let r = Receiver {
            got: Arc::default(),
            script: Arc::new(script.to_vec()),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(Receiver::handle))
            .with_state(r.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (r, url)
    }

    async fn handle(axum::extract::State(r): axum::extract::State<Receiver>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
        let mut got = r.got.lock().expect("lock");
        got.push(Received {
            headers,
            body: body.to_vec(),
            at: Instant::now(),
        });
        let n = got.len();
        let code = r.script.get(n - 1).or(r.script.last()).copied().unwrap_or(200);
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// What it received, once that is `n` requests.
    async fn wait_for(&self, app: &TestApp, n: usize) -> Vec<Received> {
        app.eventually(30, || async { Some(self.got()).filter(|g| g.len() == n) }).await
    }
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

// ---------------------------------------------------------------------------------------
// Helpers

/// Creates a tenant; returns its id.
async fn tenant(app: &TestApp, slug: &str) -> TenantId {
    eng::tenant_id(&app.tenant(slug).await)
}

/// Configures the webhook carrier; returns the PATCH answer.
async fn use_webhook(app: &TestApp, slug: &str, url: &str) -> Value {
    app.settings(slug, json!({"carrier": "webhook", "webhook_url": url})).await
}

fn attempt(tenant: TenantId, channel: Channel, to: &str) -> Attempt {
    Attempt {
        id: Uuid::new_v4(),
        tenant: tenant.0,
        campaign_id: None,
        contact_id: Some(Uuid::new_v4()),
        interaction_id: None,
        channel,
        n: 1,
        to: to.into(),
        from: None,
        subject: None,
        body: Some("Your appointment is tomorrow at 10:00.".into()),
        started_at: chrono::Utc::now(),
    }
}

/// Hands a decided attempt to `c` the way the attempt runner does (in a transaction).
async fn dispatch(app: &TestApp, c: &dyn carrier::Carrier, tenant: TenantId, a: &Attempt) -> Outcome {
    let outcome = c.decide(&[], a);
    let mut tx = app.db.begin().await.expect("begin");
    c.dispatch(&mut tx, tenant, a, outcome, chrono::Utc::now()).await.expect("dispatch");
    tx.commit().await.expect("commit");
    outcome
}

/// `GET …/webhook-deliveries?{query}`: the page and the next cursor.
async fn deliveries(app: &TestApp, slug: &str, query: &str) -> (u16, Value, Option<String>) {
    let r = app
        .admin(Method::GET, &format!("/admin/v1/tenants/{slug}/webhook-deliveries?{query}"))
        .send()
        .await
        .expect("request");
    let next = r.headers().get("x-next-cursor").and_then(|v| v.to_str().ok()).map(str::to_string);
    let (s, v) = status_json(r).await;
    (s, v, next)
}

/// Status and error of the tenant's only job of `kind`, once it is no longer queued or running.
async fn job_end(app: &TestApp, tenant: TenantId, kind: &str) -> (String, Option<String>, i32) {
    app.eventually(30, || async {
        let row: Option<(String, Option<String>, i32)> =
            sqlx::query_as("SELECT status, error, attempts FROM jobs WHERE tenant_id = $1 AND kind = $2")
                .bind(tenant.0)
                .bind(kind)
                .fetch_optional(&app.db)
                .await
                .expect("job");
        row.filter(|(s, _, _)| s == "completed" || s == "failed")
    })
    .await
}

async fn fast_app() -> TestApp {
    TestApp::spawn_config(|c| switchboard::Config { sink_backoff_ms: 50, ..c }).await
}

/// An app whose SMTP carrier sends to the test listener on `port`.
async fn smtp_app(port: u16) -> TestApp {
    TestApp::spawn_config(|c| switchboard::Config {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        sink_backoff_ms: 50,
        ..c
    })
    .await
}

/// Hands a new attempt to `to` on `channel` to the webhook carrier.
async fn to_webhook(app: &TestApp, tenant: TenantId, channel: Channel, to: &str) -> Outcome {
    dispatch(app, carrier::webhook::webhook().as_ref(), tenant, &attempt(tenant, channel, to)).await
}

// ---------------------------------------------------------------------------------------
// Settings and the secret

#[tokio::test]
async fn carrier_settings_are_checked_and_the_secret_is_shown_once() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    for (settings, field) in [
        (json!({"carrier": "pigeon"}), "carrier"),
        (json!({"carrier": 3}), "carrier"),
        (json!({"webhook_url": "ftp://example.com/x"}), "webhook_url"),
        (json!({"webhook_url": "/relative/hook"}), "webhook_url"),
        (json!({"webhook_url": true}), "webhook_url"),
    ] {
        let (s, v) = app.patch_tenant("acme", json!({ "settings": settings })).await;
        assert_eq!(s, 422, "{settings}: {v}");
        assert!(v["error"].as_str().unwrap_or("").contains(field), "{v}");
    }
    // Nothing set: the default carrier (simulated), no webhook URL.
    let (_, t) = app.admin_get("/admin/v1/tenants/acme").await;
    assert!(t["settings"]["carrier"].is_null(), "{t}");
    assert!(t["settings"].get("webhook_url").is_none(), "{t}");

    let v = app.settings("acme", json!({"carrier": "smtp"})).await;
    assert_eq!(v["settings"]["carrier"], "smtp");
    assert!(v.get("webhook_secret").is_none(), "no secret without webhooks: {v}");

    let v = use_webhook(&app, "acme", "https://hooks.example.com/switchboard").await;
    assert_eq!(v["settings"]["carrier"], "webhook");
    assert_eq!(v["settings"]["webhook_url"], "https://hooks.example.com/switchboard");
    let first = v["webhook_secret"].as_str().expect("secret shown once").to_string();
    assert!(first.len() >= 32, "{first}");
    // Shown once: a later change does not show it again, nor does the tenant view.
    let v = app
        .settings("acme", json!({"webhook_url": "https://hooks.example.com/other"}))
        .await;
    assert!(v.get("webhook_secret").is_none(), "{v}");
    let (_, t) = app.admin_get("/admin/v1/tenants/acme").await;
    assert!(!t.to_string().contains(&first), "{t}");

    // Rotation answers a new one.
    let (s, v) = app.admin_post("/admin/v1/tenants/acme/webhook-secret", json!({})).await;
    assert_eq!(s, 200, "{v}");
    let second = v["webhook_secret"].as_str().expect("secret").to_string();
    assert_ne!(first, second);
    let (s, _) = app.admin_post("/admin/v1/tenants/nobody/webhook-secret", json!({})).await;
    assert_eq!(s, 404);
    let (s, _) = app.admin_get("/admin/v1/tenants/nobody/webhook-deliveries").await;
    assert_eq!(s, 404);
    let r = app
        .client
        .get(app.url("/admin/v1/tenants/acme/webhook-deliveries"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 401);
}

// ---------------------------------------------------------------------------------------
// Webhook deliveries

#[tokio::test]
async fn webhook_posts_each_attempt_signed_and_lists_the_delivery() {
    let app = fast_app().await;
    let (rx, url) = Receiver::start(&[200]).await;
    let acme = tenant(&app, "acme").await;
    let v = use_webhook(&app, "acme", &url).await;
    let secret = v["webhook_secret"].as_str().expect("secret").to_string();

    let c = carrier::webhook::webhook();
    assert_eq!(c.name(), "webhook");
    let a = attempt(acme, Channel::Sms, "+14155550100");
    let outcome = dispatch(&app, c.as_ref(), acme, &a).await;
    assert_eq!(outcome, Outcome::Delivered);

    let (status, _, attempts) = job_end(&app, acme, "webhook_delivery").await;
    assert_eq!((status.as_str(), attempts), ("completed", 1));
    let got = rx.got();
    assert_eq!(got.len(), 1);
    let req = &got[0];
    // The signature is the HMAC-SHA256 of the exact body with the tenant's secret.
    let sig = req.headers["x-switchboard-signature"].to_str().expect("ascii");
    assert_eq!(sig, format!("sha256={}", hmac_hex(&secret, &req.body)));
    assert_ne!(sig, format!("sha256={}", hmac_hex("another secret", &req.body)));
    assert_eq!(req.headers["content-type"], "application/json");
    assert_eq!(req.headers["x-switchboard-attempt"].to_str().expect("ascii"), a.id.to_string());
    let body: Value = serde_json::from_slice(&req.body).expect("json body");
    assert_eq!(body["type"], "attempt");
    assert_eq!(body["outcome"], "delivered");
    assert_eq!(body["attempt"]["id"], a.id.to_string());
    assert_eq!(body["attempt"]["channel"], "sms");
    assert_eq!(body["attempt"]["to"], "+14155550100");
    assert_eq!(body["attempt"]["n"], 1);

    let (s, list, next) = deliveries(&app, "acme", "").await;
    assert_eq!(s, 200, "{list}");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["status_code"], 200);
    assert_eq!(list[0]["ok"], true);
    assert_eq!(list[0]["try"], 1);
    assert_eq!(list[0]["url"], url.as_str());
    assert_eq!(list[0]["attempt_id"], a.id.to_string());
    assert_eq!(list[0]["error"], Value::Null);
    assert!(list[0]["started_at"].is_string() && list[0]["ended_at"].is_string());
    assert_eq!(next, None);

    // After a rotation, the new secret signs.
    let (_, v) = app.admin_post("/admin/v1/tenants/acme/webhook-secret", json!({})).await;
    let rotated = v["webhook_secret"].as_str().expect("secret").to_string();
    let b = attempt(acme, Channel::Voice, "+14155550101");
    assert_eq!(dispatch(&app, c.as_ref(), acme, &b).await, Outcome::Answered);
    let got = rx.wait_for(&app, 2).await;
    let sig = got[1].headers["x-switchboard-signature"].to_str().expect("ascii").to_string();
    assert_eq!(sig, format!("sha256={}", hmac_hex(&rotated, &got[1].body)));
}

#[tokio::test]
async fn webhook_retries_with_backoff_then_succeeds() {
    let app = fast_app().await;
    let (rx, url) = Receiver::start(&[500, 503, 200]).await;
    let acme = tenant(&app, "acme").await;
    use_webhook(&app, "acme", &url).await;
    to_webhook(&app, acme, Channel::Email, "ann@example.com").await;

    let (status, error, attempts) = job_end(&app, acme, "webhook_delivery").await;
    assert_eq!((status.as_str(), attempts), ("completed", 3), "{error:?}");
    let got = rx.got();
    assert_eq!(got.len(), 3);
    // The same bytes and delivery id on every try; backoff 50 ms then 100 ms.
    assert!(got.iter().all(|g| g.body == got[0].body));
    let delivery = got[0].headers["x-switchboard-delivery"].clone();
    assert!(got.iter().all(|g| g.headers["x-switchboard-delivery"] == delivery));
    assert!(got[1].at - got[0].at >= Duration::from_millis(50));
    assert!(got[2].at - got[1].at >= Duration::from_millis(100));

    // Newest first, one row per try.
    let (_, list, _) = deliveries(&app, "acme", "").await;
    let tries: Vec<(i64, i64, bool)> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|d| {
            (
                d["try"].as_i64().unwrap_or(0),
                d["status_code"].as_i64().unwrap_or(0),
                d["ok"] == true,
            )
        })
        .collect();
    assert_eq!(tries, vec![(3, 200, true), (2, 503, false), (1, 500, false)]);

    // Paging: newest first with a keyset cursor.
    let (_, page, next) = deliveries(&app, "acme", "limit=2").await;
    assert_eq!(page.as_array().map(Vec::len), Some(2));
    let next = next.expect("a full page has a cursor");
    let (_, page2, after) = deliveries(&app, "acme", &format!("limit=2&cursor={next}")).await;
    assert_eq!(page2.as_array().map(Vec::len), Some(1));
    assert_eq!(page2[0]["try"], 1);
    assert_eq!(after, None);
    for bad in ["limit=0", "limit=5000", "cursor=abc", "color=red"] {
        let (s, v, _) = deliveries(&app, "acme", bad).await;
        assert_eq!(s, 400, "{bad}: {v}");
    }
}

#[tokio::test]
async fn webhook_gives_up_after_five_tries_and_deliveries_stay_per_tenant() {
    let app = fast_app().await;
    let (rx, url) = Receiver::start(&[500]).await;
    let acme = tenant(&app, "acme").await;
    let other = tenant(&app, "other").await;
    use_webhook(&app, "acme", &url).await;
    to_webhook(&app, acme, Channel::Sms, "+14155550102").await;

    let (status, error, attempts) = job_end(&app, acme, "webhook_delivery").await;
    assert_eq!((status.as_str(), attempts), ("failed", 5));
    let error = error.unwrap_or_default();
    assert!(error.contains("5 attempts") && error.contains("500"), "{error}");
    assert_eq!(rx.got().len(), 5);
    let (_, list, _) = deliveries(&app, "acme", "").await;
    assert_eq!(list.as_array().map(Vec::len), Some(5));
    assert!(list
        .as_array()
        .into_iter()
        .flatten()
        .all(|d| d["ok"] == false && d["status_code"] == 500));

    // The other tenant sees none of acme's deliveries; a tenant without a webhook_url
    // gets one failed try that says so, and no retry.
    let (s, list, _) = deliveries(&app, "other", "").await;
    assert_eq!((s, list.clone()), (200, json!([])), "{list}");
    app.settings("other", json!({"carrier": "webhook"})).await;
    to_webhook(&app, other, Channel::Sms, "+14155550103").await;
    let (status, error, attempts) = job_end(&app, other, "webhook_delivery").await;
    assert_eq!((status.as_str(), attempts), ("failed", 1), "{error:?}");
    let (_, list, _) = deliveries(&app, "other", "").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert!(list[0]["error"].as_str().unwrap_or("").contains("webhook_url"), "{list}");
    let (_, list, _) = deliveries(&app, "acme", "").await;
    assert_eq!(list.as_array().map(Vec::len), Some(5), "acme's list is unchanged");
}

// ---------------------------------------------------------------------------------------
// SMTP

/// A tiny SMTP server: 220, EHLO/HELO → 250, MAIL/RCPT → 250, DATA → 354, "." → 250,
/// QUIT → 221. Collects each message's DATA. `refuse_first` answers the first MAIL FROM
/// with a transient 421 (the client retries later).
async fn smtp_listener(refuse_first: bool) -> (Arc<Mutex<Vec<String>>>, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let sessions = Arc::new(Mutex::new(0u32));
    let out = got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let got = got.clone();
            let sessions = sessions.clone();
            tokio::spawn(async move {
                let n = {
                    let mut s = sessions.lock().expect("lock");
                    *s += 1;
                    *s
                };
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 test ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let cmd = line.to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                        b"250 test\r\n"
                    } else if cmd.starts_with("MAIL") && refuse_first && n == 1 {
                        b"421 try again later\r\n"
                    } else if cmd.starts_with("MAIL") || cmd.starts_with("RCPT") || cmd.starts_with("RSET") || cmd.starts_with("NOOP") {
                        b"250 ok\r\n"
                    } else if cmd.starts_with("DATA") {
                        let _ = w.write_all(b"354 go ahead\r\n").await;
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        got.lock().expect("lock").push(data);
                        b"250 queued\r\n"
                    } else if cmd.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"502 not implemented\r\n"
                    };
                    if w.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (out, port)
}

#[tokio::test]
async fn smtp_sends_email_attempts_through_the_smtp_server() {
    let (mails, port) = smtp_listener(true).await;
    let app = smtp_app(port).await;
    let acme = tenant(&app, "acme").await;
    app.settings("acme", json!({"carrier": "smtp"})).await;
    let c = carrier::smtp::smtp();
    assert_eq!(c.name(), "smtp");

    // A voice attempt sends nothing.
    assert_eq!(
        dispatch(&app, c.as_ref(), acme, &attempt(acme, Channel::Voice, "+14155550104")).await,
        Outcome::Answered
    );
    let mut a = attempt(acme, Channel::Email, "ann@example.com");
    a.subject = Some("Appointment reminder".into());
    assert_eq!(dispatch(&app, c.as_ref(), acme, &a).await, Outcome::Delivered);

    // The first session is refused with a transient 421: the job retries and sends.
    let (status, error, attempts) = job_end(&app, acme, "smtp_send").await;
    assert_eq!((status.as_str(), attempts), ("completed", 2), "{error:?}");
    let got = mails.lock().expect("lock").clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert!(m.contains("From: switchboard@localhost"), "{m}");
    assert!(m.contains("To: ann@example.com"), "{m}");
    assert!(m.contains("Subject: Appointment reminder"), "{m}");
    assert!(m.contains(&format!("X-Switchboard-Attempt: {}", a.id)), "{m}");
    assert!(m.contains("Your appointment is tomorrow at 10:00."), "{m}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE tenant_id = $1 AND kind = 'smtp_send'")
        .bind(acme.0)
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(n, 1, "only the email attempt made a send");
}

#[tokio::test]
async fn smtp_without_a_server_fails_the_send_visibly() {
    let app = TestApp::spawn().await;
    let acme = tenant(&app, "acme").await;
    let c = carrier::smtp::smtp();
    dispatch(&app, c.as_ref(), acme, &attempt(acme, Channel::Email, "bob@example.com")).await;
    let (status, error, attempts) = job_end(&app, acme, "smtp_send").await;
    assert_eq!((status.as_str(), attempts), ("failed", 1));
    assert!(error.unwrap_or_default().contains("SWITCHBOARD_SMTP_URL"));
}

// ---------------------------------------------------------------------------------------
// End to end: campaigns run by the engine

/// A campaign on `channel` starting at `T0`, scheduled, with one contact per `to`
/// (no retries); returns its id.
async fn running_campaign(app: &TestApp, slug: &str, t: TenantId, channel: &str, from: &str, to: &[&str]) -> Uuid {
    let attrs = json!({"policy": {"retry_interval_secs": 60}, "from": from, "body": "See you tomorrow.", "subject": "Reminder"});
    let id = eng::campaign(app, slug, channel, attrs).await;
    eng::add_contacts(app, t, id, to, 0, channel).await;
    app.schedule(slug, id).await;
    id
}

#[tokio::test]
async fn webhook_carrier_posts_each_campaign_attempt_signed() {
    let app = fast_app().await;
    let (rx, url) = Receiver::start(&[200]).await;
    let acme = eng::tenant_id(&app.frozen_tenant("acme").await);
    let secret = use_webhook(&app, "acme", &url).await["webhook_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let c = running_campaign(&app, "acme", acme, "sms", "+17608675309", &["+14155550003", "+14155550004"]).await;
    app.advance("acme", 10).await;

    let got = rx.wait_for(&app, 2).await;
    let mut seen = Vec::new();
    for g in &got {
        let sig = g.headers["x-switchboard-signature"].to_str().expect("ascii");
        assert_eq!(sig, format!("sha256={}", hmac_hex(&secret, &g.body)));
        let b: Value = serde_json::from_slice(&g.body).expect("json");
        assert_eq!(b["attempt"]["campaign_id"], c.to_string());
        assert_eq!(b["attempt"]["channel"], "sms");
        assert_eq!(b["attempt"]["n"], 1);
        seen.push((
            b["attempt"]["to"].as_str().unwrap_or("").to_string(),
            b["outcome"].as_str().unwrap_or("").to_string(),
        ));
    }
    seen.sort();
    // The simulated table decides: 0003 is delivered, 0004 is an invalid number.
    assert_eq!(
        seen,
        vec![
            ("+14155550003".to_string(), "delivered".to_string()),
            ("+14155550004".to_string(), "invalid".to_string())
        ]
    );
    let (_, outbox) = app.admin_get("/admin/v1/tenants/acme/outbox").await;
    let outbox = outbox.as_array().expect("outbox").clone();
    assert_eq!(outbox.len(), 2, "{outbox:?}");
    assert!(outbox.iter().all(|o| o["sink"] == "webhook"), "{outbox:?}");
    let (_, list, _) = deliveries(&app, "acme", "").await;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
}

#[tokio::test]
async fn smtp_carrier_sends_campaign_emails_that_reach_their_contacts() {
    let (mails, port) = smtp_listener(false).await;
    let app = smtp_app(port).await;
    let acme = eng::tenant_id(&app.frozen_tenant("acme").await);
    app.settings("acme", json!({"carrier": "smtp"})).await;
    running_campaign(
        &app,
        "acme",
        acme,
        "email",
        "clinic@example.com",
        &["ann@example.com", "bounce-bob@example.com"],
    )
    .await;
    app.advance("acme", 10).await;

    // ann's message arrives; bob's address bounces (permanent), so nothing is sent for it.
    let (status, error, _) = job_end(&app, acme, "smtp_send").await;
    assert_eq!(status, "completed", "{error:?}");
    let got = mails.lock().expect("lock").clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert!(m.contains("From: clinic@example.com"), "{m}");
    assert!(m.contains("To: ann@example.com"), "{m}");
    assert!(m.contains("Subject: Reminder"), "{m}");
    assert!(m.contains("See you tomorrow."), "{m}");
    let (_, outbox) = app.admin_get("/admin/v1/tenants/acme/outbox").await;
    assert!(outbox.as_array().into_iter().flatten().all(|o| o["sink"] == "smtp"), "{outbox}");
}
