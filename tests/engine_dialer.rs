//! The outbound dialer on the delivery engine, over HTTP: contact states while the tenant
//! clock runs (Dialing, Connected), "Redial Scheduled" between calls per the campaign's
//! redial settings, the doc's failure states at the end, suppression at send time, and an
//! opt-out (outcome 7) honoured by a later campaign of another dialect.

mod common;

use common::engine::{advance, T0};
use common::{AppsClient, CmClient, TestApp};
use serde_json::{json, Value};

fn contacts_path(campaign: i64) -> String {
    format!("/apps/api/v1/outbound_dialer/campaigns/{campaign}/contacts")
}

/// (phone number as posted, vendor state) of the campaign's contacts, in order.
async fn states(c: &AppsClient, campaign: i64) -> Vec<(String, String)> {
    let (s, v) = c.get(&contacts_path(campaign)).await;
    assert_eq!(s, 200, "{v}");
    v.as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["phone_number"].as_str().unwrap().to_string(),
                k["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn state_of(c: &AppsClient, campaign: i64, number: &str) -> String {
    states(c, campaign)
        .await
        .into_iter()
        .find(|(n, _)| n == number)
        .map(|(_, s)| s)
        .unwrap_or_default()
}

const ANSWERED: &str = "+1 415-555-0100";
const NO_ANSWER: &str = "+1 415-555-0001";
const BUSY: &str = "+1 415-555-0002";
const VOICEMAIL: &str = "+1 415-555-0003";
const INVALID: &str = "+1 415-555-0004";
const LATE_ANSWER: &str = "+1 415-555-0005";
const UNREACHABLE: &str = "+1 415-555-0006";
const OPT_OUT: &str = "+1 415-555-0007";
const ABANDONED: &str = "+1 415-555-0008";
const CARRIER_ERROR: &str = "+1 415-555-0109";
const SUPPRESSED_LATER: &str = "+1 415-555-0110";

#[tokio::test]
async fn dialer_contacts_move_through_the_vendor_states() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    app.freeze_clock_at("acme", T0).await;
    let c = AppsClient::new(&app, &p);
    app.admin_create("acme", "phone-numbers", json!({"number": "+1 760-867-5309"}))
        .await;
    // one redial, ten minutes apart
    let camp = app
        .admin_create(
            "acme",
            "campaigns",
            json!({"name": "Dialer", "kind": "outbound_dialer", "starts_at": T0,
                   "attrs": {"max_redial_count": 1, "redial_interval_minutes": 10}}),
        )
        .await;
    let campaign = camp["ids"]["apps"].as_i64().unwrap();
    // a carrier error, through the tenant's own carrier rule
    let r = app
        .admin(reqwest::Method::PUT, "/admin/v1/tenants/acme/carrier-rules")
        .json(&json!([{"match": "+14155550109", "channel": "voice", "outcomes": ["carrier_error"]}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let numbers = [
        ANSWERED,
        NO_ANSWER,
        BUSY,
        VOICEMAIL,
        INVALID,
        LATE_ANSWER,
        UNREACHABLE,
        OPT_OUT,
        ABANDONED,
        CARRIER_ERROR,
        SUPPRESSED_LATER,
    ];
    let body: Vec<Value> = numbers
        .iter()
        .map(|n| json!({"name": "x", "phone_number": n, "outbound_number": "+1 760-867-5309"}))
        .collect();
    let (s, v) = c.post(&contacts_path(campaign), json!(body)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["valid_contacts"].as_array().unwrap().len(), numbers.len(), "{v}");
    assert!(states(&c, campaign).await.iter().all(|(_, s)| s == "Upcoming"));
    // The redial settings became the engine's policy and the contacts' redials.
    let (_, m) = c.get(&format!("/manager/api/v1/outbound_dialer/campaigns/{campaign}")).await;
    assert_eq!(
        (m["max_redial_count"].as_i64(), m["redial_interval_minutes"].as_i64()),
        (Some(1), Some(10))
    );
    let (retries, interval): (i32, Option<i64>) = sqlx::query_as(
        "SELECT max(k.max_retries), (c.attrs->'policy'->>'retry_interval_secs')::int8 FROM contacts k JOIN campaigns c ON c.id = k.campaign_id
          WHERE c.seq = $1 GROUP BY c.attrs",
    )
    .bind(campaign)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((retries, interval), (1, Some(600)));

    // Opted out after it was added: never dialled.
    app.admin_create("acme", "opt-outs", json!({"number": "+14155550110", "channels": ["voice"]}))
        .await;
    app.campaign_events("acme", camp["id"].as_str().unwrap(), &["schedule"]).await;
    app.tick().await;
    let now = states(&c, campaign).await;
    for (n, s) in &now {
        let want = if n == SUPPRESSED_LATER { "Do Not Call" } else { "Dialing" };
        assert_eq!(s, want, "{n}: {now:?}");
    }
    let (_, m) = c.get(&format!("/manager/api/v1/outbound_dialer/campaigns/{campaign}")).await;
    assert_eq!(m["status"], "active");
    assert_eq!(m["contact_stats"]["Dialing"], 10, "{m}");

    // 5 s: answered calls connected; busy, unreachable, carrier error wait for a redial;
    // an invalid number is final at once; abandoned is over at once.
    advance(&app, 5).await;
    for (n, want) in [
        (ANSWERED, "Connected"),
        (VOICEMAIL, "Connected"),
        (OPT_OUT, "Connected"),
        (ABANDONED, "Abandoned by Contact"),
        (BUSY, "Redial Scheduled"),
        (UNREACHABLE, "Redial Scheduled"),
        (CARRIER_ERROR, "Redial Scheduled"),
        (INVALID, "Invalid Number"),
        (NO_ANSWER, "Dialing"),
        (LATE_ANSWER, "Dialing"),
    ] {
        assert_eq!(state_of(&c, campaign, n).await, want, "{n} at +5 s");
    }
    // 30 s: unanswered calls rang for the dial timeout.
    advance(&app, 25).await;
    assert_eq!(state_of(&c, campaign, NO_ANSWER).await, "Redial Scheduled");
    assert_eq!(state_of(&c, campaign, LATE_ANSWER).await, "Redial Scheduled");
    // 35 s: answered calls end.
    advance(&app, 5).await;
    assert_eq!(state_of(&c, campaign, ANSWERED).await, "Finished");
    assert_eq!(state_of(&c, campaign, VOICEMAIL).await, "Voicemail hang-up");
    assert_eq!(state_of(&c, campaign, OPT_OUT).await, "Finished");
    // Not redialled before the interval…
    advance(&app, 500).await;
    assert_eq!(state_of(&c, campaign, BUSY).await, "Redial Scheduled");
    // … then each once more, and final.
    advance(&app, 600).await;
    let end = states(&c, campaign).await;
    let want = [
        (ANSWERED, "Finished"),
        (NO_ANSWER, "Not Picked Up"),
        (BUSY, "Not Picked Up"),
        (VOICEMAIL, "Voicemail hang-up"),
        (INVALID, "Invalid Number"),
        (LATE_ANSWER, "Finished"),
        (UNREACHABLE, "Not Reached to Contact"),
        (OPT_OUT, "Finished"),
        (ABANDONED, "Abandoned by Contact"),
        (CARRIER_ERROR, "Carrier Error"),
        (SUPPRESSED_LATER, "Do Not Call"),
    ];
    let want: Vec<(String, String)> = want.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect();
    assert_eq!(end, want);
    // Two calls for the retried ones, one for the others.
    let tries: Vec<(String, i32)> = sqlx::query_as("SELECT number, attempts FROM contacts WHERE tenant_id = $1 ORDER BY seq")
        .bind(uuid::Uuid::parse_str(p["tenant"]["id"].as_str().unwrap()).unwrap())
        .fetch_all(&app.db)
        .await
        .unwrap();
    let tries: Vec<i32> = tries.into_iter().map(|t| t.1).collect();
    assert_eq!(tries, vec![1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 0]);
    let (_, m) = c.get(&format!("/manager/api/v1/outbound_dialer/campaigns/{campaign}")).await;
    assert_eq!(m["status"], "completed", "{m}");
    assert_eq!(m["contact_stats"]["Finished"], 3, "{m}");
    assert_eq!(m["contact_stats"]["Not Picked Up"], 2, "{m}");
    assert_eq!(m["contact_stats"]["Do Not Call"], 1, "{m}");

    // Outcome 7 opted the number out of calls: a later Campaign Manager voice campaign
    // leaves it out, and another dialer campaign marks it Do Not Call.
    let cm = CmClient::new(&app, &p);
    app.credit("acme", 10).await;
    let other = app
        .admin_create("acme", "campaigns", json!({"name": "Dialer 2", "kind": "outbound_dialer"}))
        .await;
    let second = other["ids"]["apps"].as_i64().unwrap();
    let (s, v) = c
        .post(
            &contacts_path(second),
            json!({"phone_number": OPT_OUT, "outbound_number": "+1 760-867-5309"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["valid_contacts"][0]["status"], "Do Not Call", "{v}");
    let (s, v) = cm
        .post(
            "/campaignmanager/campaigns",
            json!({"name": "after", "body": "Hello", "channel": "voice", "rcmlUrl": "https://example.com/r.xml",
                   "to": "+14155550007,+14155550100"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["data"]["filteredCount"], 1, "{v}");
    assert_eq!(v["data"]["total"], 1, "{v}");
}

/// The calls a dialer campaign places are calls of the Manager API: listed outbound,
/// live while they ring, then with their outcome and duration; another tenant sees none.
#[tokio::test]
async fn dialer_calls_are_listed_by_the_manager_api() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    let q = app.tenant("other").await;
    app.freeze_clock_at("acme", T0).await;
    let c = AppsClient::new(&app, &p);
    let other = AppsClient::new(&app, &q);
    app.admin_create("acme", "phone-numbers", json!({"number": "+1 760-867-5309"}))
        .await;
    let camp = app
        .admin_create(
            "acme",
            "campaigns",
            json!({"name": "Dialer", "kind": "outbound_dialer", "starts_at": T0, "attrs": {"max_redial_count": 0}}),
        )
        .await;
    let campaign = camp["ids"]["apps"].as_i64().unwrap();
    let body: Vec<Value> = [ANSWERED, BUSY, NO_ANSWER]
        .iter()
        .map(|n| json!({"name": "x", "phone_number": n, "outbound_number": "+1 760-867-5309"}))
        .collect();
    let (s, v) = c.post(&contacts_path(campaign), json!(body)).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = c.get("/manager/api/v1/calls").await;
    assert_eq!(
        (s, v.as_array().map(Vec::len)),
        (200, Some(0)),
        "no call before the campaign runs: {v}"
    );

    app.campaign_events("acme", camp["id"].as_str().unwrap(), &["schedule"]).await;
    app.tick().await;
    // ringing: three outbound calls, connecting
    let (s, v) = c.get("/manager/api/v1/calls").await;
    assert_eq!(s, 200, "{v}");
    let live = v.as_array().unwrap();
    assert_eq!(live.len(), 3, "{v}");
    assert!(live.iter().all(|k| k["status"] == "connecting" && k["ends_at"].is_null()), "{v}");

    advance(&app, 60).await;
    assert_eq!(state_of(&c, campaign, BUSY).await, "Not Picked Up");
    let r = c.req(reqwest::Method::GET, "/manager/api/v1/calls").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["Total"], "3");
    let v: Value = r.json().await.unwrap();
    let calls = v.as_array().unwrap();
    assert_eq!(calls.len(), 3, "{v}");
    // each call by its end user (the number's end user id)
    let mut by_number = std::collections::HashMap::new();
    for n in ["+14155550100", "+14155550002", "+14155550001"] {
        let id: i64 = sqlx::query_scalar("SELECT seq FROM apps_end_users WHERE number = $1")
            .bind(n)
            .fetch_one(&app.db)
            .await
            .unwrap();
        let k = calls.iter().find(|k| k["end_user"]["id"] == id).cloned().unwrap_or(Value::Null);
        by_number.insert(n, k);
    }
    for k in calls {
        assert_eq!(k["call_type"], "Voice Outbound (API)", "{k}");
        assert_eq!(k["outbound_number"], "+17608675309", "{k}");
        assert!(k["ends_at"].is_string(), "{k}");
    }
    let answered = &by_number["+14155550100"];
    assert_eq!(answered["status"], "finished", "{answered}");
    assert_eq!(answered["call_duration"], 30, "{answered}");
    assert_eq!(answered["fail_reason"], "nothing", "{answered}");
    assert!(answered["connected_at"].is_string(), "{answered}");
    let busy = &by_number["+14155550002"];
    assert_eq!(busy["status"], "failed", "{busy}");
    assert_eq!(busy["fail_reason"], "busy", "{busy}");
    assert_eq!(busy["call_duration"], 0, "{busy}");
    assert!(busy["connected_at"].is_null(), "{busy}");
    let unanswered = &by_number["+14155550001"];
    assert_eq!(unanswered["status"], "failed", "{unanswered}");
    assert_eq!(unanswered["fail_reason"], "no_answer", "{unanswered}");
    // one by one too
    let id = busy["id"].as_i64().unwrap();
    let (s, one) = c.get(&format!("/manager/api/v1/calls/{id}")).await;
    assert_eq!((s, &one["fail_reason"]), (200, &json!("busy")), "{one}");

    // another tenant sees none of them
    let (s, v) = other.get("/manager/api/v1/calls").await;
    assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(0)), "{v}");
    let (s, _) = other.get(&format!("/manager/api/v1/calls/{id}")).await;
    assert_eq!(s, 404);
}
