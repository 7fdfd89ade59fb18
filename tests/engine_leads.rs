//! Leads campaigns live through the delivery engine, with the tenant clock frozen and
//! advanced through the admin API: lead statuses from `new` through `in_progress` to
//! `success` / `failed` / `voicemail`, a number opted out after it was added ending `dnc`
//! (suppressed at send time), the history's campaign dials and the status report's counts.
//!
//! Numbers follow the simulated carrier's table (`+1 NPA 555 000N`): 2 busy, 3 voicemail,
//! 4 invalid, 5 not answered then answered.

mod common;

use common::engine::{advance, t0, SLUG, T0};
use common::{LeadsClient, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

fn t0_plus(secs: i64) -> i64 {
    t0().timestamp() + secs
}

/// The leads' statuses in creation order.
async fn statuses(leads: &LeadsClient, camp: &str) -> Vec<String> {
    let (s, v) = leads.get(&format!("/api/v2/config/campaigns/{camp}/leads")).await;
    assert_eq!(s, 200, "{v}");
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["status"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The campaign's entry of the status report.
async fn report(leads: &LeadsClient, camp: &str) -> Value {
    let (s, v) = leads.get("/api/v2/reports/campaigns/leads/status").await;
    assert_eq!(s, 200, "{v}");
    v[camp].clone()
}

/// (event, status, outcome, timestamp) of a lead's campaign dials, oldest first.
async fn dials(leads: &LeadsClient, lead: &str) -> Vec<(String, String, Value, i64)> {
    let (s, v) = leads.get("/api/v2/reports/campaigns/leads/history?pageSize=1000").await;
    assert_eq!(s, 200, "{v}");
    let mut out: Vec<(String, String, Value, i64)> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["lead_id"] == lead && d["lead_history"][0]["event"] == "campaign dial")
        .map(|d| {
            let h = &d["lead_history"][0];
            (
                h["type"].as_str().unwrap_or_default().to_string(),
                h["status"].as_str().unwrap_or_default().to_string(),
                h["outcome"].clone(),
                d["timestamp"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    out.reverse();
    out
}

#[tokio::test]
async fn leads_move_through_a_run_with_history_and_report_counts() {
    let app = TestApp::spawn().await;
    let p = app.frozen_tenant(SLUG).await;
    app.settings(SLUG, json!({"leads_access_token_ttl_seconds": 30 * 86400})).await;
    let leads = LeadsClient::login(&app, &p).await;
    // Leads has no campaign endpoint: the operator's campaign, redialling after 60 s
    let (s, c) = app
        .admin_post(
            &format!("/admin/v1/tenants/{SLUG}/campaigns"),
            json!({"name": "Renewals", "kind": "leads", "starts_at": T0,
                   "attrs": {"policy": {"retry_interval_secs": 60}}}),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    let camp = c["ids"]["leads"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for (number, retries) in [
        ("+14155550005", 1), // not answered, then answered
        ("+14155550002", 1), // busy twice
        ("+14155550003", 0), // voicemail
        ("+14155550004", 2), // invalid: never redialled
        ("+14155550110", 0), // opted out after it was added
    ] {
        let (s, v) = leads
            .send(
                Method::PUT,
                &format!("/api/v2/config/campaigns/{camp}/lead"),
                Some(json!({"number": number, "retries": retries, "first_name": "Lead"})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "new");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let (s, v) = app
        .admin_post(
            &format!("/admin/v1/tenants/{SLUG}/opt-outs"),
            json!({"number": "+14155550110", "channels": ["voice"]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(statuses(&leads, &camp).await, vec!["new"; 5]);
    assert_eq!(report(&leads, &camp).await["leads_by_status"]["new"], 5);

    // scheduled once its leads are in; the engine starts it at T0
    app.campaign_events(SLUG, c["id"].as_str().unwrap(), &["schedule"]).await;
    app.tick().await;
    assert_eq!(
        statuses(&leads, &camp).await,
        vec!["in_progress", "in_progress", "in_progress", "in_progress", "dnc"],
        "dialling; the opted-out number is not dialled"
    );
    // 5 s: busy waits for its redial, invalid fails, voicemail answered
    advance(&app, 5).await;
    assert_eq!(
        statuses(&leads, &camp).await,
        vec!["in_progress", "in_progress", "in_progress", "failed", "dnc"]
    );
    let r = report(&leads, &camp).await;
    assert_eq!(r["status"], "running");
    assert_eq!(r["leads_by_status"]["in_progress"], 3);
    assert_eq!(r["leads_by_status"]["failed"], 1);
    assert_eq!(r["leads_by_status"]["dnc"], 1);

    advance(&app, 3600).await;
    assert_eq!(
        statuses(&leads, &camp).await,
        vec!["success", "failed", "voicemail", "failed", "dnc"]
    );
    let r = report(&leads, &camp).await;
    assert_eq!(r["status"], "completed");
    assert_eq!(r["total_leads"], 5);
    let by = &r["leads_by_status"];
    assert_eq!(
        (by["new"].as_i64(), by["in_progress"].as_i64(), by["success"].as_i64()),
        (Some(0), Some(0), Some(1))
    );
    assert_eq!(
        (by["failed"].as_i64(), by["voicemail"].as_i64(), by["dnc"].as_i64()),
        (Some(2), Some(1), Some(1))
    );

    // the history: every change of a lead is a campaign dial, with its status and outcome
    let dial = |status: &str, outcome: Value, at: i64| ("dial agent".to_string(), status.to_string(), outcome, t0_plus(at));
    assert_eq!(
        dials(&leads, &ids[0]).await,
        vec![
            dial("in_progress", Value::Null, 0),         // dialing
            dial("in_progress", json!("no_answer"), 30), // rang 30 s: redial in 60 s
            dial("in_progress", Value::Null, 90),        // dialing again
            dial("in_progress", Value::Null, 95),        // answered
            dial("success", json!("answered"), 125),     // hung up after 30 s
        ]
    );
    assert_eq!(
        dials(&leads, &ids[1]).await.last().cloned(),
        Some(dial("failed", json!("busy"), 70)),
        "busy at 5 s, redialled at 65 s, busy again"
    );
    assert_eq!(
        dials(&leads, &ids[2]).await.last().map(|d| d.1.clone()),
        Some("voicemail".to_string())
    );
    assert_eq!(
        dials(&leads, &ids[4]).await,
        vec![dial("dnc", Value::Null, 0)],
        "suppressed at send time"
    );
    // the outbox: one suppressed row for the opted-out number, no call
    let (s, rows) = app.admin_get(&format!("/admin/v1/tenants/{SLUG}/outbox?to=%2B14155550110")).await;
    assert_eq!(s, 200, "{rows}");
    assert_eq!(rows.as_array().map(Vec::len), Some(1));
    assert_eq!(rows[0]["status"], "suppressed");
}
