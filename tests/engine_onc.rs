//! ONC campaigns live through the delivery engine, over the JSON binding, with the tenant
//! clock frozen and advanced through the admin API: the StatusCode sequence per channel
//! (2/3 → 5 → 4 or 6) with RetryCount counting down and LastDeliveryErrorCode,
//! RetryMinutesInterval, the daily window ActiveFromTime–ActiveToTime (resumed the next
//! day), the end ActiveToDate + ActiveToTime, IsPaused and resume, and ProgressWSEndpoint callbacks (in order, retried when the
//! receiver fails).
//!
//! Numbers follow the simulated carrier's table (`+1 NPA 555 000N`): 1 not answered,
//! 2 busy, 4 invalid, 5 not answered then answered (SMS: undelivered then delivered).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use common::engine::{advance, SLUG};
use common::{OncClient, TestApp};
use serde_json::{json, Value};
use uuid::Uuid;

/// A tenant frozen at `T0` whose ONC sessions outlive the clock jumps, and its client.
async fn setup(app: &TestApp) -> OncClient {
    let p = app.frozen_tenant(SLUG).await;
    app.settings(SLUG, json!({"onc_session_idle_seconds": 30 * 86400})).await;
    OncClient::open(app, &p).await
}

/// A paused voice campaign (made paused so that it starts only once its contacts are in).
fn voice_campaign(id: Uuid, retries: i64, interval_min: i64, progress: Option<&str>) -> Value {
    json!({
        "ID": id,
        "ShortName": "Reminders",
        "IsPaused": true,
        "ActiveFromDate": "2030-01-01",
        "ActiveFromTime": "00:00:00",
        "ActiveToDate": "2030-12-31",
        "ActiveToTime": "23:59:59",
        "OutboundVoiceNotificationInfo": {"Enabled": true, "DialMsTimeout": 20000, "CallingNumber": "+17608675309",
            "TextToSpeak": "Your appointment is tomorrow", "MaxDeliveryRetries": retries, "RetryMinutesInterval": interval_min},
        "ProgressWSEndpoint": progress,
    })
}

async fn add_campaign(onc: &OncClient, c: &Value) {
    let r = onc.call("AddCampaign", json!({"sessionId": onc.session, "campaign": c})).await;
    assert_eq!(r, 0, "AddCampaign");
}

async fn update_campaign(onc: &OncClient, c: &Value) {
    let r = onc.call("UpdateCampaign", json!({"sessionId": onc.session, "campaign": c})).await;
    assert_eq!(r, 0, "UpdateCampaign");
}

/// Adds a contact with one destination on `field` (`VoiceCommInfo`, `SMSCommInfo`).
async fn add_contact(onc: &OncClient, campaign: Uuid, field: &str, to: &str, retry_count: Option<i64>) -> Uuid {
    let id = Uuid::new_v4();
    let mut comm = json!({"Destination": to});
    if let Some(n) = retry_count {
        comm["RetryCount"] = json!(n);
    }
    let mut c = json!({"Id": id, "CampaignId": campaign});
    c[field] = comm;
    let r = onc
        .call("AddCampaignContact", json!({"sessionId": onc.session, "contact": c}))
        .await;
    assert_eq!(r, 0, "AddCampaignContact {to}");
    id
}

/// Unpauses the campaign and lets the engine start it at the tenant's now.
async fn start(app: &TestApp, onc: &OncClient, c: &mut Value) {
    c["IsPaused"] = json!(false);
    update_campaign(onc, c).await;
    app.tick().await;
}

/// (StatusCode, LastDeliveryErrorCode, RetryCount) of the `field` channel of each contact.
async fn codes(onc: &OncClient, campaign: Uuid, field: &str) -> Vec<(i64, i64, i64)> {
    let v = onc
        .call("GetCampaignContacts", json!({"sessionId": onc.session, "campaignId": campaign}))
        .await;
    v.as_array()
        .unwrap_or_else(|| panic!("GetCampaignContacts: {v}"))
        .iter()
        .map(|c| {
            let i = &c[field];
            let n = |k: &str| i[k].as_i64().unwrap_or(-1);
            (n("StatusCode"), n("LastDeliveryErrorCode"), n("RetryCount"))
        })
        .collect()
}

/// `created_at` of the outbox rows to `to`, oldest first.
async fn attempts_to(app: &TestApp, to: &str) -> Vec<String> {
    let (s, v) = app
        .admin_get(&format!("/admin/v1/tenants/{SLUG}/outbox?to={}", to.replace('+', "%2B")))
        .await;
    assert_eq!(s, 200, "{v}");
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["created_at"].as_str().unwrap_or_default().to_string())
        .collect();
    out.reverse();
    out
}

#[tokio::test]
async fn status_codes_retries_and_error_codes_through_a_run() {
    let app = TestApp::spawn().await;
    let onc = setup(&app).await;
    let cid = Uuid::new_v4();
    // MaxDeliveryRetries 3: three attempts in all, RetryCount 3 → 0
    let mut c = voice_campaign(cid, 3, 10, None);
    add_campaign(&onc, &c).await;
    add_contact(&onc, cid, "VoiceCommInfo", "+14155550005", None).await; // no answer, then answered
    add_contact(&onc, cid, "VoiceCommInfo", "+14155550002", None).await; // busy
    add_contact(&onc, cid, "VoiceCommInfo", "+14155550004", None).await; // invalid number
    assert_eq!(codes(&onc, cid, "VoiceCommInfo").await, vec![(1, 0, 3); 3], "pending");
    start(&app, &onc, &mut c).await;
    assert_eq!(codes(&onc, cid, "VoiceCommInfo").await, vec![(2, 0, 2); 3], "dialing");
    // 5 s: busy waits for a retry (LastDeliveryErrorCode 4), invalid is permanent (6, 7)
    advance(&app, 5).await;
    assert_eq!(codes(&onc, cid, "VoiceCommInfo").await, vec![(2, 0, 2), (5, 4, 2), (6, 7, 2)]);
    // 20 s (DialMsTimeout): not answered → waiting for a retry (3 = no answer)
    advance(&app, 15).await;
    assert_eq!(codes(&onc, cid, "VoiceCommInfo").await[0], (5, 3, 2));
    // RetryMinutesInterval (10 min) after the first attempt ended: not a second earlier
    advance(&app, 599).await;
    assert_eq!(codes(&onc, cid, "VoiceCommInfo").await[0], (5, 3, 2));
    advance(&app, 1).await;
    assert_eq!(codes(&onc, cid, "VoiceCommInfo").await[0], (2, 3, 1), "second attempt dialing");
    advance(&app, 5).await;
    assert_eq!(codes(&onc, cid, "VoiceCommInfo").await[0], (3, 3, 1), "answered: delivering");
    advance(&app, 30).await;
    assert_eq!(codes(&onc, cid, "VoiceCommInfo").await[0], (4, 0, 1), "delivered");
    // busy three times: exhausted → permanent failure, no attempt left
    advance(&app, 3600).await;
    assert_eq!(codes(&onc, cid, "VoiceCommInfo").await, vec![(4, 0, 1), (6, 4, 0), (6, 7, 2)]);
    assert_eq!(
        attempts_to(&app, "+14155550005").await,
        vec!["2030-01-07T10:00:00Z", "2030-01-07T10:10:20Z"]
    );
    assert_eq!(
        attempts_to(&app, "+14155550002").await,
        vec!["2030-01-07T10:00:00Z", "2030-01-07T10:10:05Z", "2030-01-07T10:20:10Z"]
    );
    assert_eq!(attempts_to(&app, "+14155550004").await.len(), 1, "invalid is never retried");
    // the policy the engine read, written from the ONC fields
    let attrs: Value = sqlx::query_scalar("SELECT attrs FROM campaigns WHERE id = $1")
        .bind(cid)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        attrs["policy"],
        json!({"retry_interval_secs": 600, "dial_timeout_secs": 20, "window": null, "progress_url": null,
               "until": "2031-01-01T00:00:00Z"})
    );
    let status = app.campaign_status(cid).await;
    assert_eq!(status, "completed");
}

#[tokio::test]
async fn the_daily_window_holds_attempts_until_it_opens_again() {
    let app = TestApp::spawn().await;
    let onc = setup(&app).await;
    let cid = Uuid::new_v4();
    // an SMS campaign delivering 11:00–12:00 UTC; retries an hour apart
    let mut c = json!({
        "ID": cid,
        "ShortName": "Window",
        "IsPaused": true,
        "ActiveFromDate": "2030-01-01",
        "ActiveFromTime": "11:00:00",
        "ActiveToDate": "2030-12-31",
        "ActiveToTime": "12:00:00",
        "OutboundSMSNotificationInfo": {"Enabled": true, "FromNumber": "+17608675309", "TextToSend": "Hello"},
        "OutboundVoiceNotificationInfo": {"Enabled": false, "MaxDeliveryRetries": 2, "RetryMinutesInterval": 60},
    });
    add_campaign(&onc, &c).await;
    add_contact(&onc, cid, "SMSCommInfo", "+14155550005", None).await; // undelivered, then delivered
    start(&app, &onc, &mut c).await;
    // T0 is 10:00: nothing before 11:00
    advance(&app, 3599).await;
    assert_eq!(codes(&onc, cid, "SMSCommInfo").await, vec![(1, 0, 2)]);
    assert!(attempts_to(&app, "+14155550005").await.is_empty());
    advance(&app, 1).await;
    assert_eq!(codes(&onc, cid, "SMSCommInfo").await, vec![(2, 0, 1)], "sending at 11:00");
    advance(&app, 2).await;
    assert_eq!(codes(&onc, cid, "SMSCommInfo").await, vec![(5, 2, 1)], "undelivered: waiting");
    // the retry falls due at 12:00:02, after the window closed: it waits for tomorrow 11:00
    advance(&app, 3600).await;
    assert_eq!(codes(&onc, cid, "SMSCommInfo").await, vec![(5, 2, 1)]);
    advance(&app, 23 * 3600 - 3).await;
    assert_eq!(codes(&onc, cid, "SMSCommInfo").await, vec![(5, 2, 1)], "10:59:59 the next day");
    advance(&app, 1).await;
    assert_eq!(codes(&onc, cid, "SMSCommInfo").await, vec![(2, 2, 0)]);
    advance(&app, 2).await;
    assert_eq!(codes(&onc, cid, "SMSCommInfo").await, vec![(4, 0, 0)]);
    assert_eq!(
        attempts_to(&app, "+14155550005").await,
        vec!["2030-01-07T11:00:00Z", "2030-01-08T11:00:00Z"]
    );
    let policy = app.policy_of(cid).await;
    assert_eq!(policy["window"], json!({"from": "11:00:00", "to": "12:00:00"}));
    assert_eq!(policy["retry_interval_secs"], 3600);
}

#[tokio::test]
async fn is_paused_stops_attempts_and_resuming_continues() {
    let app = TestApp::spawn().await;
    let onc = setup(&app).await;
    let cid = Uuid::new_v4();
    let mut c = voice_campaign(cid, 3, 10, None);
    add_campaign(&onc, &c).await;
    add_contact(&onc, cid, "VoiceCommInfo", "+14155550001", None).await; // never answered
    start(&app, &onc, &mut c).await;
    advance(&app, 20).await;
    assert_eq!(codes(&onc, cid, "VoiceCommInfo").await, vec![(5, 3, 2)]);
    // paused: the retry due at 10:10:20 is not made
    c["IsPaused"] = json!(true);
    update_campaign(&onc, &c).await;
    advance(&app, 3600).await;
    assert_eq!(codes(&onc, cid, "VoiceCommInfo").await, vec![(5, 3, 2)]);
    assert_eq!(attempts_to(&app, "+14155550001").await.len(), 1);
    let got = onc.call("GetCampaign", json!({"sessionId": onc.session, "campaignId": cid})).await;
    assert_eq!(got["IsPaused"], true);
    // resumed at 11:00:20: the overdue retry goes out at once, the next one 10 min after it
    start(&app, &onc, &mut c).await;
    assert_eq!(codes(&onc, cid, "VoiceCommInfo").await, vec![(2, 3, 1)]);
    advance(&app, 20 + 600 + 20).await;
    assert_eq!(codes(&onc, cid, "VoiceCommInfo").await, vec![(6, 3, 0)]);
    assert_eq!(
        attempts_to(&app, "+14155550001").await,
        vec!["2030-01-07T10:00:00Z", "2030-01-07T11:00:20Z", "2030-01-07T11:10:40Z"]
    );
}

#[tokio::test]
async fn no_attempt_after_active_to_date_and_the_campaign_then_completes() {
    let app = TestApp::spawn().await;
    let onc = setup(&app).await;
    let cid = Uuid::new_v4();
    // ends today at 10:30 (T0 is 10:00); four attempts 10 min apart would need until 10:31:20
    let mut c = voice_campaign(cid, 4, 10, None);
    c["ActiveToDate"] = json!("2030-01-07");
    c["ActiveToTime"] = json!("10:30:00");
    add_campaign(&onc, &c).await;
    add_contact(&onc, cid, "VoiceCommInfo", "+14155551234", None).await; // answered
    add_contact(&onc, cid, "VoiceCommInfo", "+14155550001", None).await; // never answered
    start(&app, &onc, &mut c).await;
    let policy = app.policy_of(cid).await;
    assert_eq!(policy["until"], "2030-01-07T10:30:00Z");
    advance(&app, 86400).await;
    // 10:00:00, 10:10:20, 10:20:40; the retry due at 10:31:00 is past the end
    assert_eq!(
        attempts_to(&app, "+14155550001").await,
        vec!["2030-01-07T10:00:00Z", "2030-01-07T10:10:20Z", "2030-01-07T10:20:40Z"]
    );
    // the waiting contact is left as it is: waiting for retry, one retry left
    assert_eq!(codes(&onc, cid, "VoiceCommInfo").await, vec![(4, 0, 3), (5, 3, 1)]);
    let status = app.campaign_status(cid).await;
    assert_eq!(status, "completed");
}

// ---- ProgressWSEndpoint ------------------------------------------------------------------

/// A test endpoint: records every request body (and whether it was refused); refuses the
/// first `fail_first` requests with HTTP 500.
#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<(Value, bool)>>>,
    fail_first: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(fail_first: usize) -> (String, Receiver) {
        let r = Receiver {
            got: Arc::default(),
            fail_first: Arc::new(AtomicUsize::new(fail_first)),
        };
        let app = axum::Router::new()
            .route("/progress", axum::routing::post(receive))
            .with_state(r.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/progress", l.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        (url, r)
    }

    /// The bodies accepted (`ok`) or refused so far, in arrival order.
    fn bodies(&self, ok: bool) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, accepted)| *accepted == ok)
            .map(|(v, _)| v.clone())
            .collect()
    }

    /// The bodies accepted so far, in arrival order.
    fn accepted(&self) -> Vec<Value> {
        self.bodies(true)
    }

    fn refused(&self) -> Vec<Value> {
        self.bodies(false)
    }

    /// The accepted bodies once there are at least `n`.
    async fn wait_for(&self, app: &TestApp, n: usize) -> Vec<Value> {
        app.eventually(60, || {
            let v = self.accepted();
            async move { (v.len() >= n).then_some(v) }
        })
        .await
    }
}

async fn receive(State(r): State<Receiver>, Json(v): Json<Value>) -> StatusCode {
    let refuse = r
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    r.got.lock().unwrap().push((v, !refuse));
    if refuse {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// Runs a voice campaign with one contact (+14155550005: not answered, then answered,
/// RetryCount 2) calling back `url`; returns (campaign, contact).
async fn run_with_callbacks(app: &TestApp, onc: &OncClient, url: &str) -> (Uuid, Uuid) {
    let cid = Uuid::new_v4();
    let mut c = voice_campaign(cid, 2, 1, Some(url));
    add_campaign(onc, &c).await;
    let k = add_contact(onc, cid, "VoiceCommInfo", "+14155550005", None).await;
    start(app, onc, &mut c).await;
    advance(app, 3600).await;
    assert_eq!(codes(onc, cid, "VoiceCommInfo").await, vec![(4, 0, 0)]);
    (cid, k)
}

/// The callbacks of the run above: (StatusCode, LastDeliveryErrorCode, RetryCount, TimestampUtc).
fn expected_run() -> Vec<(i64, i64, i64, &'static str)> {
    vec![
        (2, 0, 1, "2030-01-07T10:00:00.000Z"), // dialing
        (5, 3, 1, "2030-01-07T10:00:20.000Z"), // not answered: waiting for a retry
        (2, 3, 0, "2030-01-07T10:01:20.000Z"), // second attempt dialing (1 min later)
        (3, 3, 0, "2030-01-07T10:01:25.000Z"), // answered: delivering
        (4, 0, 0, "2030-01-07T10:01:55.000Z"), // delivered
    ]
}

fn summary(bodies: &[Value]) -> Vec<(i64, i64, i64, String)> {
    bodies
        .iter()
        .map(|b| {
            let n = |k: &str| b[k].as_i64().unwrap_or(-1);
            (
                n("StatusCode"),
                n("LastDeliveryErrorCode"),
                n("RetryCount"),
                b["TimestampUtc"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn owned(v: Vec<(i64, i64, i64, &'static str)>) -> Vec<(i64, i64, i64, String)> {
    v.into_iter().map(|(a, b, c, d)| (a, b, c, d.to_string())).collect()
}

#[tokio::test]
async fn progress_callbacks_arrive_in_order_with_the_final_status_code() {
    let app = TestApp::spawn().await;
    let onc = setup(&app).await;
    let (url, rx) = Receiver::start(0).await;
    let (cid, k) = run_with_callbacks(&app, &onc, &url).await;
    let want = expected_run().len();
    let got = rx.wait_for(&app, want).await;
    assert_eq!(summary(&got), owned(expected_run()));
    for b in &got {
        assert_eq!(b["CampaignId"], json!(cid.to_string()));
        assert_eq!(b["ContactId"], json!(k.to_string()));
        assert_eq!(b["Channel"], "Voice");
        let keys: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 7, "{b}");
    }
    assert!(rx.refused().is_empty());
    let policy = app.policy_of(cid).await;
    assert_eq!(policy["progress_url"], json!(url));
    assert_eq!(policy["retry_interval_secs"], 60);
}

#[tokio::test]
async fn a_refused_callback_is_retried_and_the_order_kept() {
    let app = TestApp::spawn_config(|mut c| {
        c.sink_backoff_ms = 100;
        c
    })
    .await;
    let onc = setup(&app).await;
    // the first two requests get HTTP 500: the first callback is sent three times
    let (url, rx) = Receiver::start(2).await;
    run_with_callbacks(&app, &onc, &url).await;
    let want = expected_run().len();
    let got = rx.wait_for(&app, want).await;
    assert_eq!(summary(&got), owned(expected_run()), "in order despite the retries");
    let refused = rx.refused();
    assert_eq!(refused.len(), 2);
    assert!(refused.iter().all(|b| *b == got[0]), "the refused ones are the first callback");
    // the worker recorded the two failures on the job, then completed it
    let (attempts, status): (i32, String) =
        sqlx::query_as("SELECT attempts, status FROM jobs WHERE kind = 'progress' ORDER BY seq LIMIT 1")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((attempts, status.as_str()), (3, "completed"));
}
