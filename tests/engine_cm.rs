//! Campaign Manager on the delivery engine, over HTTP: statuses through a run on the
//! tenant clock, counts per outcome on `GET …/campaigns/search/{sid}`, `dialTimeout`,
//! a busy number failing, suppression at send time, cancel (before and during a run),
//! credits never refunded once InProgress.

mod common;

use common::engine::{advance, SLUG};
use common::{CmClient, TestApp};
use serde_json::{json, Value};
/// A minute later: the campaigns' start time.
const START: &str = "2030-01-07T10:01:00Z";

async fn balance(app: &TestApp) -> i64 {
    let (s, v) = app.admin_get("/admin/v1/tenants/acme/credits").await;
    assert_eq!(s, 200, "{v}");
    v.as_array().unwrap().iter().map(|e| e["amount"].as_i64().unwrap()).sum()
}

/// (status, counts) of a campaign.
async fn read(cm: &CmClient, sid: &str) -> (String, Value) {
    let (s, v) = cm.get(&format!("/campaignmanager/campaigns/search/{sid}")).await;
    assert_eq!(s, 200, "{v}");
    (v["data"]["status"].as_str().unwrap().to_string(), v["data"]["counts"].clone())
}

/// The non-zero counts.
fn nonzero(counts: &Value) -> Vec<(String, i64)> {
    counts
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, n)| n.as_i64() != Some(0))
        .map(|(k, n)| (k.clone(), n.as_i64().unwrap()))
        .collect()
}

fn pairs(v: &[(&str, i64)]) -> Vec<(String, i64)> {
    v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

async fn create(cm: &CmClient, body: Value) -> String {
    let (s, v) = cm.post("/campaignmanager/campaigns", body).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["data"]["status"], "initiating");
    v["data"]["sid"].as_str().unwrap().to_string()
}

/// Outbox (to, status) rows of a campaign, oldest first.
async fn outbox(app: &TestApp, sid: &str) -> Vec<(String, String)> {
    let id = uuid::Uuid::parse_str(&sid[2..]).unwrap();
    app.outbox_pairs(SLUG, &format!("?campaign={id}")).await
}

/// The tenant, its clock frozen at `T0`, with 100 credits, and its client.
async fn setup(app: &TestApp) -> CmClient {
    let p = app.frozen_tenant(SLUG).await;
    app.credit(SLUG, 100).await;
    CmClient::new(app, &p)
}

#[tokio::test]
async fn voice_campaign_statuses_counts_dial_timeout_and_send_time_suppression() {
    let app = TestApp::spawn().await;
    let cm = setup(&app).await;
    let sid = create(
        &cm,
        json!({"name": "calls", "channel": "voice", "rcmlUrl": "https://example.com/r.xml", "dialTimeout": "10",
               "startTime": START,
               "to": "+14155550100,+14155550002,+14155550001,+14155550003,+14155550111"}),
    )
    .await;
    assert_eq!(balance(&app).await, 95);
    let (status, counts) = read(&cm, &sid).await;
    assert_eq!(status, "scheduled");
    assert_eq!(nonzero(&counts), pairs(&[("pending", 5)]));
    assert_eq!(counts.as_object().unwrap().len(), 16, "every key is present: {counts}");
    // Opted out after the campaign was made: skipped at send time.
    app.admin_create("acme", "opt-outs", json!({"number": "+14155550111", "channels": ["voice"]}))
        .await;
    advance(&app, 59).await;
    assert_eq!(read(&cm, &sid).await.0, "scheduled");
    advance(&app, 1).await;
    let (status, counts) = read(&cm, &sid).await;
    assert_eq!(status, "InProgress");
    assert_eq!(nonzero(&counts), pairs(&[("inProgress", 4), ("suppressed", 1)]));
    // 5 s: busy fails; answered calls are connected; the unanswered one still rings.
    advance(&app, 5).await;
    let (status, counts) = read(&cm, &sid).await;
    assert_eq!(status, "InProgress");
    assert_eq!(nonzero(&counts), pairs(&[("inProgress", 3), ("busy", 1), ("suppressed", 1)]));
    // It rings for dialTimeout (10 s), not the default 30.
    advance(&app, 4).await;
    assert_eq!(read(&cm, &sid).await.1["noAnswer"], 0);
    advance(&app, 1).await;
    assert_eq!(read(&cm, &sid).await.1["noAnswer"], 1);
    // 35 s: the answered calls end.
    advance(&app, 30).await;
    let (status, counts) = read(&cm, &sid).await;
    assert_eq!(status, "Completed");
    assert_eq!(
        nonzero(&counts),
        pairs(&[("answered", 1), ("voicemail", 1), ("noAnswer", 1), ("busy", 1), ("suppressed", 1)])
    );
    assert_eq!(
        outbox(&app, &sid).await,
        vec![
            ("+14155550100".to_string(), "answered".to_string()),
            ("+14155550002".to_string(), "busy".to_string()),
            ("+14155550001".to_string(), "no_answer".to_string()),
            ("+14155550003".to_string(), "voicemail".to_string()),
            ("+14155550111".to_string(), "suppressed".to_string()),
        ]
    );
    // Failed deliveries are not refunded (the doc: no reversal once InProgress).
    assert_eq!(balance(&app).await, 95);
    let (_, v) = cm.get("/campaignmanager/campaigns/search?status=Completed").await;
    assert_eq!(v["total"], 1);
}

#[tokio::test]
async fn sms_campaign_counts_failed_campaign_and_cancel() {
    let app = TestApp::spawn().await;
    let cm = setup(&app).await;
    // SMS outcomes: delivered, carrier error (2), undelivered (1), invalid (4), opt-out (7).
    let sid = create(
        &cm,
        json!({"name": "texts", "body": "Hello", "fromPrefix": "1", "startTime": START,
               "to": "+14155550100,+14155550002,+14155550001,+14155550004,+14155550007"}),
    )
    .await;
    // Nothing can be delivered: Failed.
    let lost = create(
        &cm,
        json!({"name": "lost", "body": "Hello", "startTime": START, "to": "+14155550004"}),
    )
    .await;
    // Cancelled while scheduled: its contacts are cancelled, its credits refunded.
    let called_off = create(
        &cm,
        json!({"name": "off", "body": "Hello", "startTime": START, "to": "+14155550100,+14155550101"}),
    )
    .await;
    assert_eq!(balance(&app).await, 92);
    let r = cm
        .req(reqwest::Method::PUT, &format!("/campaignmanager/campaigns/{called_off}"))
        .json(&json!({"status": "cancelled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(balance(&app).await, 94);
    let (status, counts) = read(&cm, &called_off).await;
    assert_eq!(status, "Cancelled");
    assert_eq!(nonzero(&counts), pairs(&[("cancelled", 2)]));

    advance(&app, 60).await;
    let (status, counts) = read(&cm, &sid).await;
    assert_eq!(status, "InProgress");
    assert_eq!(nonzero(&counts), pairs(&[("inProgress", 5)]));
    assert!(outbox(&app, &sid).await.iter().all(|(_, s)| s == "sending"));
    advance(&app, 2).await;
    let (status, counts) = read(&cm, &sid).await;
    assert_eq!(status, "Completed");
    assert_eq!(
        nonzero(&counts),
        pairs(&[
            ("delivered", 1),
            ("optOut", 1),
            ("invalidNumber", 1),
            ("undelivered", 1),
            ("carrierError", 1)
        ])
    );
    assert_eq!(read(&cm, &lost).await.0, "Failed");
    assert_eq!(read(&cm, &called_off).await.0, "Cancelled");
    assert_eq!(balance(&app).await, 94, "no refund after InProgress");

    // Cancelled mid-run (by the operator; the API cancels only scheduled campaigns): calls
    // in flight end, nothing is attempted again, the campaign stays Cancelled.
    let mid = create(
        &cm,
        json!({"name": "mid", "channel": "voice", "rcmlUrl": "https://example.com/r.xml",
               "startTime": "2030-01-07T11:01:00Z", "to": "+14155550100,+14155550001"}),
    )
    .await;
    advance(&app, 3600).await; // 11:01:02: both calls ring
    let (status, counts) = read(&cm, &mid).await;
    assert_eq!(status, "InProgress", "{counts}");
    let r = cm
        .req(reqwest::Method::PUT, &format!("/campaignmanager/campaigns/{mid}"))
        .json(&json!({"status": "cancelled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409, "the doc: only a scheduled campaign can be cancelled");
    app.campaign_events("acme", &mid[2..], &["cancel"]).await;
    assert_eq!(read(&cm, &mid).await.0, "Cancelled");
    advance(&app, 3600).await;
    let (status, counts) = read(&cm, &mid).await;
    assert_eq!(status, "Cancelled");
    assert_eq!(nonzero(&counts), pairs(&[("answered", 1), ("noAnswer", 1)]));
    assert_eq!(outbox(&app, &mid).await.len(), 2);
}
