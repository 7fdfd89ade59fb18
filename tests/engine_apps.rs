//! The Apps API on the delivery engine, over HTTP: an SMS goes through the engine (outbox
//! `sending`, then the outcome table's result, the session following), outbound and
//! scheduled calls move through the doc's call statuses on the tenant clock, and the
//! Manager API shows each call's outcome and duration.

mod common;

use common::engine::{advance, SLUG};
use common::{AppsClient, TestApp};
use serde_json::{json, Value};

/// A tenant with an agent, a voice and SMS number, a mobile menu; its clock frozen at T0.
async fn world(app: &TestApp) -> (AppsClient, i64) {
    let c = AppsClient::new(app, &app.frozen_tenant(SLUG).await);
    app.admin_create(
        "acme",
        "agents",
        json!({"email": "admin@somedomain.com", "first_name": "Admin", "last_name": "UJET"}),
    )
    .await;
    app.admin_create(
        "acme",
        "phone-numbers",
        json!({"number": "+1 628-555-0199", "default_outbound": true}),
    )
    .await;
    let menu = app
        .admin_create(
            "acme",
            "menus",
            json!({"name": "Laptop", "menu_type": "mobile_menu", "channels": ["voice_call", "chat"], "wait_seconds": 10}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    (c, menu)
}

/// (to, status) of the outbox rows, oldest first.
async fn outbox(app: &TestApp, query: &str) -> Vec<(String, String)> {
    app.outbox_pairs(SLUG, query).await
}

fn sms(to: &str) -> Value {
    json!({"chat_type": "Messaging (SMS)", "end_user_number": to, "outbound_number": "+1 628-555-0199", "message": "hi"})
}

/// (status, fail_reason) of the SMS session with `id`.
async fn session(app: &TestApp, id: i64) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, attrs->>'fail_reason' FROM interactions WHERE kind = 'sms' AND seq = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn sms_goes_through_the_engine_per_the_outcome_table() {
    let app = TestApp::spawn().await;
    let (c, _) = world(&app).await;
    let numbers = ["+14155550100", "+14155550002", "+14155550001", "+14155550004", "+14155550007"];
    let mut ids = Vec::new();
    for n in numbers {
        let (s, v) = c.post("/apps/api/v1/sms", sms(n)).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "selecting");
        ids.push(v["id"].as_i64().unwrap());
    }
    let sending: Vec<(String, String)> = numbers.iter().map(|n| (n.to_string(), "sending".to_string())).collect();
    assert_eq!(outbox(&app, "?channel=sms").await, sending);
    advance(&app, 1).await;
    assert_eq!(outbox(&app, "?channel=sms").await, sending, "in flight for 2 s");
    advance(&app, 1).await;
    let done: Vec<(String, String)> = numbers
        .iter()
        .zip(["delivered", "carrier_error", "undelivered", "invalid", "opt_out"])
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
    assert_eq!(outbox(&app, "?channel=sms").await, done);
    // The sessions follow.
    let mut got = Vec::new();
    for id in &ids {
        got.push(session(&app, *id).await);
    }
    let want = [
        ("connected", None),
        ("failed", Some("carrier_error")),
        ("failed", Some("undelivered")),
        ("failed", Some("invalid")),
        ("finished", None),
    ];
    let want: Vec<(String, Option<String>)> = want.iter().map(|(s, r)| (s.to_string(), r.map(str::to_string))).collect();
    assert_eq!(got, want);
    // A delivered session is still active; a failed one no longer blocks a new message.
    let (s, v) = c.post("/apps/api/v1/sms", sms("+14155550100")).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("Outbound SMS failed. Consumer is already in an active SMS session."))
    );
    let (s, v) = c.post("/apps/api/v1/sms", sms("+14155550002")).await;
    assert_eq!(s, 200, "{v}");
    // Outcome 7: the consumer answered STOP, the number is opted out of SMS.
    let (s, v) = c.post("/apps/api/v1/sms", sms("+14155550007")).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("end_user_number is on the Do Not Call list"))
    );
}

/// The call `id` as the Manager API shows it.
async fn call(c: &AppsClient, id: i64) -> Value {
    let (s, v) = c.get(&format!("/manager/api/v1/calls/{id}")).await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn outbound(c: &AppsClient, to: &str) -> i64 {
    let (s, v) = c
        .post(
            "/apps/api/v1/calls",
            json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "end_user_number": to}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["status"], "assigned");
    v["id"].as_i64().unwrap()
}

#[tokio::test]
async fn outbound_calls_move_through_the_call_statuses() {
    let app = TestApp::spawn().await;
    let (c, _) = world(&app).await;
    let answered = outbound(&c, "+1 415-555-0100").await;
    let busy = outbound(&c, "+1 415-555-0002").await;
    let unanswered = outbound(&c, "+1 415-555-0001").await;
    let status = |v: &Value| v["status"].as_str().unwrap().to_string();
    assert_eq!(status(&call(&c, answered).await), "assigned");
    assert_eq!(outbox(&app, "?channel=voice").await.len(), 3);
    // The agent's leg is up after 2 s: the end user's phone rings.
    advance(&app, 2).await;
    for id in [answered, busy, unanswered] {
        let v = call(&c, id).await;
        assert_eq!(status(&v), "connecting", "{v}");
        assert_eq!(v["participants"][1]["status"], "connecting");
    }
    assert!(outbox(&app, "?channel=voice").await.iter().all(|(_, s)| s == "dialing"));
    // 5 s later: answered, or busy.
    advance(&app, 5).await;
    let v = call(&c, answered).await;
    assert_eq!(status(&v), "connected");
    assert_eq!(v["connected_at"], "2030-01-07T10:00:07.000Z", "{v}");
    let v = call(&c, busy).await;
    assert_eq!((status(&v), v["fail_reason"].as_str()), ("failed".to_string(), Some("busy")), "{v}");
    assert_eq!(v["call_duration"], 0);
    assert_eq!(v["ends_at"], "2030-01-07T10:00:07.000Z");
    assert_eq!(status(&call(&c, unanswered).await), "connecting");
    // The unanswered call rings for the 30 s dial timeout (from +2 s).
    advance(&app, 24).await;
    assert_eq!(status(&call(&c, unanswered).await), "connecting");
    advance(&app, 1).await;
    let v = call(&c, unanswered).await;
    assert_eq!(
        (status(&v), v["fail_reason"].as_str()),
        ("failed".to_string(), Some("no_answer")),
        "{v}"
    );
    // The answered call lasts 30 s.
    advance(&app, 5).await;
    let v = call(&c, answered).await;
    assert_eq!(status(&v), "finished", "{v}");
    assert_eq!(v["call_duration"], 30);
    assert_eq!(v["fail_reason"], "nothing");
    assert_eq!(v["ends_at"], "2030-01-07T10:00:37.000Z");
    assert_eq!(v["participants"][1]["call_duration"], 30);
    assert_eq!(v["participants"][1]["status"], "finished");
    // The Manager list shows every call's outcome and duration.
    let (s, list) = c.get("/manager/api/v1/calls?sort_column=id&sort_direction=ASC").await;
    assert_eq!(s, 200, "{list}");
    let shown: Vec<(String, String, i64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                status(v),
                v["fail_reason"].as_str().unwrap().to_string(),
                v["call_duration"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            ("finished".to_string(), "nothing".to_string(), 30),
            ("failed".to_string(), "busy".to_string(), 0),
            ("failed".to_string(), "no_answer".to_string(), 0),
        ]
    );
    assert_eq!(
        outbox(&app, "?channel=voice").await,
        vec![
            ("+14155550100".to_string(), "answered".to_string()),
            ("+14155550002".to_string(), "busy".to_string()),
            ("+14155550001".to_string(), "no_answer".to_string()),
        ]
    );
}

#[tokio::test]
async fn scheduled_call_is_placed_at_its_time() {
    let app = TestApp::spawn().await;
    let (c, menu) = world(&app).await;
    let (s, v) = c
        .post(
            "/apps/api/v1/calls",
            json!({"call_type": "Voice Scheduled (API)", "lang": "en", "menu_id": menu,
                   "end_user_number": "+1 415-555-0103", "scheduled_at": "2030-01-07T11:00:00Z"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["status"], "scheduled");
    let id = v["id"].as_i64().unwrap();
    assert_eq!(
        outbox(&app, "?channel=voice").await,
        vec![("+14155550103".to_string(), "scheduled".to_string())]
    );
    advance(&app, 3599).await;
    assert_eq!(call(&c, id).await["status"], "scheduled");
    advance(&app, 1).await;
    assert_eq!(call(&c, id).await["status"], "connecting");
    assert_eq!(outbox(&app, "?channel=voice").await[0].1, "dialing");
    advance(&app, 5).await;
    assert_eq!(call(&c, id).await["status"], "connected");
    assert_eq!(outbox(&app, "?channel=voice").await[0].1, "connected");
    advance(&app, 30).await;
    let v = call(&c, id).await;
    assert_eq!(v["status"], "finished", "{v}");
    assert_eq!(v["call_duration"], 30);
    assert_eq!(v["ends_at"], "2030-01-07T11:00:35.000Z");

    // A number put on the company DNC list after the call was scheduled is not called.
    let (s, v) = c
        .post(
            "/apps/api/v1/calls",
            json!({"call_type": "Voice Scheduled (API)", "lang": "en", "menu_id": menu,
                   "end_user_number": "+1 415-555-0104", "scheduled_at": "2030-01-07T12:00:00Z"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let later = v["id"].as_i64().unwrap();
    let (s, v) = c
        .post(
            "/apps/api/v1/outbound_dialer/dnc",
            json!({"contacts": [{"phone_number": "+1 415-555-0104"}]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    advance(&app, 3600).await;
    let v = call(&c, later).await;
    assert_eq!(
        (v["status"].as_str(), v["fail_reason"].as_str()),
        (Some("failed"), Some("suppressed")),
        "{v}"
    );
    assert_eq!(
        outbox(&app, "?to=%2B14155550104").await,
        vec![("+14155550104".to_string(), "suppressed".to_string())]
    );
    assert_eq!(outbox(&app, "?channel=voice").await[0].1, "answered");
}
