//! ONC dialect: the thirteen methods through the JSON and SOAP 1.1 bindings, sessions and
//! their expiry on the tenant clock, validation and every ErrorCode, suppression,
//! delivery through the engine, cross-tenant isolation, hostile XML, and a real SOAP
//! client (Python zeep) loading the served WSDL.

mod common;

use common::TestApp;
use serde_json::{json, Value};
use sqlx::Row;
use uuid::Uuid;

const FUTURE_FROM: &str = "2099-01-01";
const FUTURE_TO: &str = "2099-12-31";

async fn call(app: &TestApp, method: &str, body: Value) -> Value {
    let r = app
        .client
        .post(app.url(&format!("/onc/json/{method}")))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "{method}");
    r.json().await.expect("json")
}

/// Calls a method and returns (result, X-ONC-Description).
async fn call_desc(app: &TestApp, method: &str, body: Value) -> (Value, String) {
    let r = app
        .client
        .post(app.url(&format!("/onc/json/{method}")))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "{method}");
    let d = r
        .headers()
        .get("x-onc-description")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (r.json().await.expect("json"), d)
}

async fn open(app: &TestApp, t: &Value) -> String {
    let v = call(
        app,
        "OpenAPISession",
        json!({"accountId": t["onc"]["account_id"], "username": t["onc"]["username"], "password": t["onc"]["password"]}),
    )
    .await;
    assert_eq!(v["ErrorCode"], 0, "{v}");
    let s = v["SessionId"].as_str().expect("session").to_string();
    assert!(s.len() >= 32);
    s
}

fn campaign(id: Uuid) -> Value {
    json!({
        "ID": id,
        "ShortName": "Flu shots",
        "Description": "Reminders for the flu season",
        "IsPaused": false,
        "ActiveFromDate": FUTURE_FROM,
        "ActiveFromTime": "08:00:00",
        "ActiveToDate": FUTURE_TO,
        "ActiveToTime": "20:00:00",
        "OutboundSMSNotificationInfo": {"Enabled": true, "FromNumber": "+17608675309", "TextToSend": "Your flu shot is due"},
        "OutboundVoiceNotificationInfo": {"Enabled": true, "DialMsTimeout": 30000, "CallingName": "Clinic",
            "CallingNumber": "+17608675309", "TextToSpeak": "Your flu shot is due", "TTSVoiceName": "en-US-Female",
            "MaxTextPlays": 2, "MaxDeliveryRetries": 3, "RetryMinutesInterval": 10},
        "OutboundEmailNotificationInfo": {"Enabled": true, "FromEmail": "clinic@example.com", "Subject": "Flu shot",
            "HtmlContent": "<p>Your flu shot is due</p>"},
        "AllowAddingContactsFromExternalApps": true,
        "SmsNotificationRequired": true,
        "VoiceNotificationRequired": false,
        "EmailNotificationRequired": false,
        "ProgressWSEndpoint": "http://127.0.0.1:9/progress"
    })
}

/// Delivery all day long (the helper campaign delivers 08:00–20:00 UTC daily), for tests
/// that expect the engine to deliver whenever they run.
fn all_day(c: &mut Value) {
    c["ActiveFromTime"] = json!("00:00:00");
    c["ActiveToTime"] = json!("23:59:59");
}

async fn add_campaign(app: &TestApp, sid: &str, c: Value) -> i64 {
    call(app, "AddCampaign", json!({"sessionId": sid, "campaign": c}))
        .await
        .as_i64()
        .expect("int")
}

// ---- sessions --------------------------------------------------------------------------

#[tokio::test]
async fn open_and_close_sessions() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let bad = call(
        &app,
        "OpenAPISession",
        json!({"accountId": t["onc"]["account_id"], "username": t["onc"]["username"], "password": "wrong"}),
    )
    .await;
    assert_eq!(bad["ErrorCode"], 2);
    assert_eq!(bad["SessionId"], "");
    assert!(bad["Description"].as_str().unwrap().contains("Invalid credentials"));
    let unknown = call(
        &app,
        "OpenAPISession",
        json!({"accountId": "nope", "username": "x", "password": "y"}),
    )
    .await;
    assert_eq!(unknown["ErrorCode"], 2);
    let missing = call(&app, "OpenAPISession", json!({"accountId": "nope"})).await;
    assert_eq!(missing["ErrorCode"], 4);

    let sid = open(&app, &t).await;
    // stored as a digest, never in clear
    let row = sqlx::query("SELECT token_digest, kind, expires_at - created_at AS idle FROM auth_sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("kind"), "onc_session");
    assert_ne!(row.get::<String, _>("token_digest"), sid);
    assert_eq!(call(&app, "GetCampaignListing", json!({"sessionId": sid})).await, json!([]));
    let closed = call(&app, "CloseAPISession", json!({"sessionId": sid})).await;
    assert_eq!(closed, json!({"ErrorCode": 0, "Description": ""}));
    assert_eq!(call(&app, "GetCampaignListing", json!({"sessionId": sid})).await, Value::Null);
    let again = call(&app, "CloseAPISession", json!({"sessionId": sid})).await;
    assert_eq!(again["ErrorCode"], 1);
    let (code, desc) = call_desc(
        &app,
        "AddCampaign",
        json!({"sessionId": "bogus", "campaign": campaign(Uuid::new_v4())}),
    )
    .await;
    assert_eq!(code, 1);
    assert!(desc.contains("session"), "{desc}");
    assert_eq!(call(&app, "GetCampaigns", json!({})).await, Value::Null);
}

#[tokio::test]
async fn sessions_expire_after_twenty_idle_minutes_on_the_tenant_clock() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let sid = open(&app, &t).await;
    let other_sid = open(&app, &other).await;
    let set_offset = |secs: i64| app.clock_offset("acme", secs);
    // 19 minutes idle: accepted, and the use slides the expiry
    set_offset(19 * 60).await;
    assert_eq!(call(&app, "GetCampaignListing", json!({"sessionId": sid})).await, json!([]));
    // 19 more minutes (38 since opening): still accepted thanks to the slide
    set_offset(38 * 60).await;
    assert_eq!(call(&app, "GetCampaignListing", json!({"sessionId": sid})).await, json!([]));
    // 21 minutes after the last use: rejected
    set_offset(59 * 60).await;
    assert_eq!(call(&app, "GetCampaignListing", json!({"sessionId": sid})).await, Value::Null);
    assert_eq!(add_campaign(&app, &sid, campaign(Uuid::new_v4())).await, 1);
    // the other tenant's clock did not move
    assert_eq!(call(&app, "GetCampaignListing", json!({"sessionId": other_sid})).await, json!([]));

    // a fresh session idle for 21 minutes is rejected
    set_offset(0).await;
    let sid2 = open(&app, &t).await;
    set_offset(21 * 60).await;
    assert_eq!(call(&app, "CloseAPISession", json!({"sessionId": sid2})).await["ErrorCode"], 1);

    // the tenant's own idle setting wins over the default
    app.settings("acme", json!({"onc_session_idle_seconds": 60})).await;
    set_offset(0).await;
    let sid3 = open(&app, &t).await;
    set_offset(61).await;
    assert_eq!(call(&app, "GetCampaignListing", json!({"sessionId": sid3})).await, Value::Null);
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    assert_eq!(add_campaign(&app, &sid, campaign(Uuid::new_v4())).await, 0);
    let app = app.restart().await;
    assert_eq!(
        call(&app, "GetCampaignListing", json!({"sessionId": sid}))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

// ---- campaigns -------------------------------------------------------------------------

#[tokio::test]
async fn campaign_lifecycle_json() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    let id = Uuid::new_v4();
    assert_eq!(add_campaign(&app, &sid, campaign(id)).await, 0);
    // stored as a shared campaign row
    let row = sqlx::query("SELECT name, kind, status, channel, starts_at, ends_at, attrs FROM campaigns WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("name"), "Flu shots");
    assert_eq!(row.get::<String, _>("kind"), "onc");
    assert_eq!(row.get::<String, _>("status"), "scheduled");
    assert_eq!(row.get::<Option<String>, _>("channel").as_deref(), Some("mixed"));
    let starts: chrono::DateTime<chrono::Utc> = row.get("starts_at");
    assert_eq!(starts.to_rfc3339(), "2099-01-01T08:00:00+00:00");
    let attrs: Value = row.get("attrs");
    assert_eq!(attrs["onc"]["OutboundVoiceNotificationInfo"]["TTSVoiceName"], "en-US-Female");

    let got = call(&app, "GetCampaign", json!({"sessionId": sid, "campaignId": id})).await;
    let mut expected = campaign(id);
    expected["ID"] = json!(id.to_string());
    let created = got["CreationDateUtc"].as_str().unwrap().to_string();
    assert!(created.ends_with('Z'));
    expected["CreationDateUtc"] = json!(created);
    assert_eq!(got, expected);

    assert_eq!(call(&app, "GetCampaignListing", json!({"sessionId": sid})).await, json!([id]));
    assert_eq!(call(&app, "GetCampaigns", json!({"sessionId": sid})).await, json!([expected]));

    // same ID again → 5
    let (code, desc) = call_desc(&app, "AddCampaign", json!({"sessionId": sid, "campaign": campaign(id)})).await;
    assert_eq!(code, 5);
    assert!(desc.contains("already exists"), "{desc}");

    // empty Guid → a new ID
    let mut c = campaign(Uuid::nil());
    c["ShortName"] = json!("Second");
    assert_eq!(add_campaign(&app, &sid, c).await, 0);
    assert_eq!(
        call(&app, "GetCampaignListing", json!({"sessionId": sid}))
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // update replaces the info; CreationDateUtc never changes; IsPaused → paused
    let mut u = campaign(id);
    u["ShortName"] = json!("Flu shots 2");
    u["IsPaused"] = json!(true);
    u["CreationDateUtc"] = json!("2001-01-01T00:00:00Z");
    u["OutboundEmailNotificationInfo"] = json!({"Enabled": false});
    assert_eq!(call(&app, "UpdateCampaign", json!({"sessionId": sid, "campaign": u})).await, 0);
    let got = call(&app, "GetCampaign", json!({"sessionId": sid, "campaignId": id})).await;
    assert_eq!(got["ShortName"], "Flu shots 2");
    assert_eq!(got["IsPaused"], true);
    assert_eq!(got["CreationDateUtc"], created.as_str());
    assert_eq!(got["OutboundEmailNotificationInfo"]["Enabled"], false);
    let status: String = sqlx::query_scalar("SELECT status FROM campaigns WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "paused");
    u["IsPaused"] = json!(false);
    assert_eq!(call(&app, "UpdateCampaign", json!({"sessionId": sid, "campaign": u})).await, 0);
    let status: String = sqlx::query_scalar("SELECT status FROM campaigns WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "scheduled");
    // unknown ID → 3
    assert_eq!(
        call(
            &app,
            "UpdateCampaign",
            json!({"sessionId": sid, "campaign": campaign(Uuid::new_v4())})
        )
        .await,
        3
    );

    // a campaign whose ActiveToDate is past is not active
    let old = Uuid::new_v4();
    let mut c = campaign(old);
    c["ActiveFromDate"] = json!("2020-01-01");
    c["ActiveToDate"] = json!("2020-02-01");
    assert_eq!(add_campaign(&app, &sid, c).await, 0);
    let listed = call(&app, "GetCampaignListing", json!({"sessionId": sid})).await;
    assert!(!listed.as_array().unwrap().contains(&json!(old)));
    assert_eq!(
        call(&app, "GetCampaign", json!({"sessionId": sid, "campaignId": old})).await["ShortName"],
        "Flu shots"
    );

    // delete → gone, with its contacts; again → 3
    assert_eq!(call(&app, "DeleteCampaign", json!({"sessionId": sid, "campaignId": id})).await, 0);
    assert_eq!(
        call(&app, "GetCampaign", json!({"sessionId": sid, "campaignId": id})).await,
        Value::Null
    );
    assert_eq!(call(&app, "DeleteCampaign", json!({"sessionId": sid, "campaignId": id})).await, 3);
    assert_eq!(
        call(&app, "GetCampaignListing", json!({"sessionId": sid}))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // bad Guid → 4 / null
    assert_eq!(
        call(&app, "DeleteCampaign", json!({"sessionId": sid, "campaignId": "not-a-guid"})).await,
        4
    );
    assert_eq!(
        call(&app, "GetCampaign", json!({"sessionId": sid, "campaignId": "not-a-guid"})).await,
        Value::Null
    );
}

/// Changes a valid campaign into an invalid one.
type Mutator = Box<dyn Fn(&mut Value)>;

#[tokio::test]
async fn campaign_validation_names_the_field() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    let cases: Vec<(&str, Mutator)> = vec![
        ("campaign.ShortName", Box::new(|c| c["ShortName"] = json!("  "))),
        ("campaign.ActiveFromDate", Box::new(|c| c["ActiveFromDate"] = json!("31/12/2026"))),
        (
            "campaign.ActiveToDate",
            Box::new(|c| c.as_object_mut().unwrap().remove("ActiveToDate").map(|_| ()).unwrap_or(())),
        ),
        ("campaign.ActiveFromTime", Box::new(|c| c["ActiveFromTime"] = json!("25:00:00"))),
        ("campaign.ActiveToDate", Box::new(|c| c["ActiveToDate"] = json!("2098-01-01"))),
        (
            "OutboundVoiceNotificationInfo.DialMsTimeout",
            Box::new(|c| c["OutboundVoiceNotificationInfo"]["DialMsTimeout"] = json!(-1)),
        ),
        (
            "OutboundVoiceNotificationInfo.MaxTextPlays",
            Box::new(|c| c["OutboundVoiceNotificationInfo"]["MaxTextPlays"] = json!(-2)),
        ),
        (
            "OutboundVoiceNotificationInfo.MaxDeliveryRetries",
            Box::new(|c| c["OutboundVoiceNotificationInfo"]["MaxDeliveryRetries"] = json!(-3)),
        ),
        (
            "OutboundVoiceNotificationInfo.RetryMinutesInterval",
            Box::new(|c| c["OutboundVoiceNotificationInfo"]["RetryMinutesInterval"] = json!(-4)),
        ),
        (
            "at least one",
            Box::new(|c| {
                c["OutboundSMSNotificationInfo"]["Enabled"] = json!(false);
                c["OutboundVoiceNotificationInfo"]["Enabled"] = json!(false);
                c["OutboundEmailNotificationInfo"]["Enabled"] = json!(false);
            }),
        ),
        (
            "OutboundSMSNotificationInfo.FromNumber",
            Box::new(|c| c["OutboundSMSNotificationInfo"]["FromNumber"] = json!("")),
        ),
        (
            "OutboundSMSNotificationInfo.FromNumber",
            Box::new(|c| c["OutboundSMSNotificationInfo"]["FromNumber"] = json!("abc")),
        ),
        (
            "OutboundSMSNotificationInfo.TextToSend",
            Box::new(|c| c["OutboundSMSNotificationInfo"]["TextToSend"] = Value::Null),
        ),
        (
            "OutboundVoiceNotificationInfo.CallingNumber",
            Box::new(|c| c["OutboundVoiceNotificationInfo"]["CallingNumber"] = json!("12")),
        ),
        (
            "OutboundVoiceNotificationInfo.TextToSpeak",
            Box::new(|c| c["OutboundVoiceNotificationInfo"]["TextToSpeak"] = json!("")),
        ),
        (
            "OutboundEmailNotificationInfo.FromEmail",
            Box::new(|c| c["OutboundEmailNotificationInfo"]["FromEmail"] = json!("not-an-email")),
        ),
        (
            "OutboundEmailNotificationInfo.Subject",
            Box::new(|c| c["OutboundEmailNotificationInfo"]["Subject"] = json!("")),
        ),
        (
            "OutboundEmailNotificationInfo.HtmlContent",
            Box::new(|c| c["OutboundEmailNotificationInfo"]["HtmlContent"] = json!("")),
        ),
        (
            "campaign.ProgressWSEndpoint",
            Box::new(|c| c["ProgressWSEndpoint"] = json!("/relative/path")),
        ),
        ("campaign.ID", Box::new(|c| c["ID"] = json!("xyz"))),
        ("campaign.IsPaused", Box::new(|c| c["IsPaused"] = json!("maybe"))),
    ];
    for (field, f) in cases {
        let mut c = campaign(Uuid::new_v4());
        f(&mut c);
        let (code, desc) = call_desc(&app, "AddCampaign", json!({"sessionId": sid, "campaign": c})).await;
        assert_eq!(code, 4, "{field}: {desc}");
        assert!(desc.contains(field), "{field}: {desc}");
    }
    let (code, desc) = call_desc(&app, "AddCampaign", json!({"sessionId": sid})).await;
    assert_eq!((code, desc.as_str()), (json!(4), "campaign: is required"));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM campaigns")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 0, "nothing stored");
    // UpdateCampaign validates the same way and needs an ID
    let mut c = campaign(Uuid::nil());
    assert_eq!(
        call(&app, "UpdateCampaign", json!({"sessionId": sid, "campaign": c.clone()})).await,
        4
    );
    c["ID"] = json!(Uuid::new_v4());
    c["ShortName"] = json!("");
    assert_eq!(call(&app, "UpdateCampaign", json!({"sessionId": sid, "campaign": c})).await, 4);
}

// ---- contacts --------------------------------------------------------------------------

fn contact(id: Uuid, campaign: Uuid) -> Value {
    json!({
        "Id": id,
        "CampaignId": campaign,
        "SMSCommInfo": {"Destination": "(760) 555-0101", "TextToSendOverwrite": "", "StatusCode": 4, "LastDeliveryErrorCode": 9, "RetryCount": 2},
        "VoiceCommInfo": {"Destination": "", "TextToSendOverwrite": null, "StatusCode": 4, "LastDeliveryErrorCode": 0},
        "EmailCommInfo": {"Destination": "jane@example.com", "TextToSendOverwrite": "<p>Hi Jane</p>", "StatusCode": 6, "LastDeliveryErrorCode": 0}
    })
}

#[tokio::test]
async fn contacts_lifecycle_json() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    let cid = Uuid::new_v4();
    assert_eq!(add_campaign(&app, &sid, campaign(cid)).await, 0);
    let k1 = Uuid::new_v4();
    assert_eq!(
        call(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": contact(k1, cid)})).await,
        0
    );
    let got = call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(
        got,
        json!([{
            "Id": k1, "CampaignId": cid,
            "SMSCommInfo": {"Destination": "(760) 555-0101", "TextToSendOverwrite": "", "StatusCode": 1, "LastDeliveryErrorCode": 0, "RetryCount": 2},
            "VoiceCommInfo": {"Destination": "", "TextToSendOverwrite": null, "StatusCode": 0, "LastDeliveryErrorCode": 0, "RetryCount": 3},
            "EmailCommInfo": {"Destination": "jane@example.com", "TextToSendOverwrite": "<p>Hi Jane</p>", "StatusCode": 1, "LastDeliveryErrorCode": 0, "RetryCount": 3}
        }])
    );
    // stored as a shared contact with deliveries for the engine
    let row = sqlx::query("SELECT number, email, status, attrs, max_retries FROM contacts WHERE id = $1")
        .bind(k1)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(row.get::<Option<String>, _>("number").as_deref(), Some("+17605550101"));
    assert_eq!(row.get::<Option<String>, _>("email").as_deref(), Some("jane@example.com"));
    assert_eq!(row.get::<String, _>("status"), "pending");
    let attrs: Value = row.get("attrs");
    assert_eq!(
        attrs["deliveries"],
        json!([
            {"channel": "sms", "to": "+17605550101", "from": "+17608675309", "body": "Your flu shot is due"},
            {"channel": "email", "to": "jane@example.com", "from": "clinic@example.com", "body": "<p>Hi Jane</p>", "subject": "Flu shot"}
        ])
    );

    // a contact without Id gets one; listing in creation order
    let mut c2 = contact(Uuid::nil(), cid);
    c2["SMSCommInfo"]["Destination"] = json!("+1 760 555 0102");
    assert_eq!(call(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": c2})).await, 0);
    let ids = call(&app, "GetCampaignContactsListing", json!({"sessionId": sid, "campaignId": cid})).await;
    let ids = ids.as_array().unwrap().clone();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], json!(k1));

    // errors
    assert_eq!(
        call(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": contact(k1, cid)})).await,
        5
    );
    assert_eq!(
        call(
            &app,
            "AddCampaignContact",
            json!({"sessionId": sid, "contact": contact(Uuid::new_v4(), Uuid::new_v4())})
        )
        .await,
        3
    );
    let mut bad = contact(Uuid::new_v4(), cid);
    bad["SMSCommInfo"]["RetryCount"] = json!(256);
    let (code, desc) = call_desc(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": bad})).await;
    assert_eq!(code, 4);
    assert!(desc.contains("SMSCommInfo.RetryCount"), "{desc}");
    let mut bad = contact(Uuid::new_v4(), cid);
    bad["VoiceCommInfo"]["Destination"] = json!("jane@example.com");
    let (code, desc) = call_desc(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": bad})).await;
    assert_eq!(code, 4);
    assert!(desc.contains("VoiceCommInfo.Destination"), "{desc}");
    let mut bad = contact(Uuid::new_v4(), cid);
    bad["EmailCommInfo"]["Destination"] = json!("+17605550101");
    assert_eq!(call(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": bad})).await, 4);
    let mut bad = contact(Uuid::new_v4(), cid);
    bad.as_object_mut().unwrap().remove("CampaignId");
    let (code, desc) = call_desc(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": bad})).await;
    assert_eq!((code, desc.as_str()), (json!(4), "contact.CampaignId: is required"));
    assert_eq!(call(&app, "AddCampaignContact", json!({"sessionId": sid})).await, 4);

    // update: StatusCode ignored, destination changed
    let mut u = contact(k1, cid);
    u["SMSCommInfo"]["Destination"] = json!("+17605550199");
    u["SMSCommInfo"]["StatusCode"] = json!(4);
    u["VoiceCommInfo"]["Destination"] = json!("+17605550198");
    assert_eq!(
        call(&app, "UpdateCampaignContact", json!({"sessionId": sid, "contact": u})).await,
        0
    );
    let got = call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(got[0]["SMSCommInfo"]["Destination"], "+17605550199");
    assert_eq!(got[0]["SMSCommInfo"]["StatusCode"], 1);
    assert_eq!(got[0]["VoiceCommInfo"]["StatusCode"], 1);
    let num: String = sqlx::query_scalar("SELECT number FROM contacts WHERE id = $1")
        .bind(k1)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(num, "+17605550199");
    assert_eq!(
        call(
            &app,
            "UpdateCampaignContact",
            json!({"sessionId": sid, "contact": contact(Uuid::new_v4(), cid)})
        )
        .await,
        3
    );
    let mut nid = contact(Uuid::nil(), cid);
    nid.as_object_mut().unwrap().remove("Id");
    assert_eq!(
        call(&app, "UpdateCampaignContact", json!({"sessionId": sid, "contact": nid})).await,
        4
    );

    // delete
    assert_eq!(
        call(
            &app,
            "DeleteCampaignContact",
            json!({"sessionId": sid, "campaignId": cid, "contactId": k1})
        )
        .await,
        0
    );
    assert_eq!(
        call(
            &app,
            "DeleteCampaignContact",
            json!({"sessionId": sid, "campaignId": cid, "contactId": k1})
        )
        .await,
        3
    );
    assert_eq!(
        call(&app, "GetCampaignContactsListing", json!({"sessionId": sid, "campaignId": cid}))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // unknown campaign → null lists
    let nope = Uuid::new_v4();
    assert_eq!(
        call(&app, "GetCampaignContactsListing", json!({"sessionId": sid, "campaignId": nope})).await,
        Value::Null
    );
    assert_eq!(
        call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": nope})).await,
        Value::Null
    );
    // deleting the campaign deletes its contacts
    assert_eq!(call(&app, "DeleteCampaign", json!({"sessionId": sid, "campaignId": cid})).await, 0);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn update_campaign_replans_contacts_not_yet_attempted() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    let cid = Uuid::new_v4();
    let mut c = campaign(cid);
    c["OutboundVoiceNotificationInfo"]["Enabled"] = json!(false);
    c["OutboundEmailNotificationInfo"]["Enabled"] = json!(false);
    assert_eq!(add_campaign(&app, &sid, c.clone()).await, 0);
    let k = Uuid::new_v4();
    let ct = json!({"Id": k, "CampaignId": cid, "VoiceCommInfo": {"Destination": "+17605550105"}});
    assert_eq!(call(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": ct})).await, 0);
    let got = call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(got[0]["VoiceCommInfo"]["StatusCode"], 0, "voice is not enabled on the campaign");
    assert_eq!(got[0]["SMSCommInfo"], Value::Null);
    let st: String = sqlx::query_scalar("SELECT status FROM contacts WHERE id = $1")
        .bind(k)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(st, "skipped");
    c["OutboundVoiceNotificationInfo"]["Enabled"] = json!(true);
    c["OutboundVoiceNotificationInfo"]["TextToSpeak"] = json!("New words");
    assert_eq!(call(&app, "UpdateCampaign", json!({"sessionId": sid, "campaign": c})).await, 0);
    let got = call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(got[0]["VoiceCommInfo"]["StatusCode"], 1);
    let attrs: Value = sqlx::query_scalar("SELECT attrs FROM contacts WHERE id = $1")
        .bind(k)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(attrs["deliveries"][0]["body"], "New words");
    assert_eq!(attrs["deliveries"][0]["channel"], "voice");
}

#[tokio::test]
async fn contacts_of_an_ended_campaign_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    let cid = Uuid::new_v4();
    let mut c = campaign(cid);
    c["ActiveFromDate"] = json!("2020-01-01");
    c["ActiveToDate"] = json!("2020-12-31");
    assert_eq!(add_campaign(&app, &sid, c).await, 0);
    let (code, desc) = call_desc(
        &app,
        "AddCampaignContact",
        json!({"sessionId": sid, "contact": contact(Uuid::new_v4(), cid)}),
    )
    .await;
    assert_eq!(code, 6);
    assert!(desc.contains("ended"), "{desc}");
}

#[tokio::test]
async fn suppressed_destinations_are_cancelled() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let tid = switchboard::domain::TenantId(t["tenant"]["id"].as_str().unwrap().parse().unwrap());
    let number = switchboard::domain::phone::PhoneNumber::parse("+17605550101").unwrap();
    switchboard::domain::optlists::upsert(
        &app.db,
        tid,
        switchboard::domain::optlists::NewEntry {
            list: "dnc",
            list_name: "",
            number: &number,
            channels: vec![],
            source: "test",
            expires_at: None,
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let sid = open(&app, &t).await;
    let cid = Uuid::new_v4();
    assert_eq!(add_campaign(&app, &sid, campaign(cid)).await, 0);
    let k = Uuid::new_v4();
    let mut c = contact(k, cid);
    c["EmailCommInfo"] = Value::Null;
    assert_eq!(call(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": c})).await, 0);
    let got = call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(got[0]["SMSCommInfo"]["StatusCode"], 7);
    assert_eq!(got[0]["VoiceCommInfo"]["StatusCode"], 0);
    assert_eq!(got[0]["EmailCommInfo"], Value::Null);
    let row = sqlx::query("SELECT status, attrs FROM contacts WHERE id = $1")
        .bind(k)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("status"), "dnc");
    assert_eq!(row.get::<Value, _>("attrs")["deliveries"], json!([]));
}

#[tokio::test]
async fn the_engine_delivers_when_the_campaign_starts() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    let cid = Uuid::new_v4();
    let mut c = campaign(cid);
    c["ActiveFromDate"] = json!("2020-01-01");
    all_day(&mut c);
    c["IsPaused"] = json!(true);
    assert_eq!(add_campaign(&app, &sid, c.clone()).await, 0);
    let k = Uuid::new_v4();
    let mut ct = contact(k, cid);
    ct["VoiceCommInfo"]["Destination"] = json!("+17605550103");
    assert_eq!(call(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": ct})).await, 0);
    // paused: nothing goes out
    app.tick().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM deliveries")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 0);
    c["IsPaused"] = json!(false);
    assert_eq!(call(&app, "UpdateCampaign", json!({"sessionId": sid, "campaign": c})).await, 0);
    app.tick().await;
    app.tick().await;
    // in flight on the tenant clock (SMS 2 s, a call 5 s + 30 s): let it finish
    app.clock("acme", json!({"advance_seconds": 60})).await;
    let rows = sqlx::query("SELECT channel, to_address, from_address, body, status FROM deliveries WHERE contact_id = $1 ORDER BY seq")
        .bind(k)
        .fetch_all(&app.db)
        .await
        .unwrap();
    let got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.get("channel"),
                r.get("to_address"),
                r.get::<Option<String>, _>("body").unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("sms".into(), "+17605550101".into(), "Your flu shot is due".into()),
            ("voice".into(), "+17605550103".into(), "Your flu shot is due".into()),
            ("email".into(), "jane@example.com".into(), "<p>Hi Jane</p>".into()),
        ]
    );
    let got = call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(got[0]["SMSCommInfo"]["StatusCode"], 4);
    assert_eq!(got[0]["VoiceCommInfo"]["StatusCode"], 4);
    assert_eq!(got[0]["EmailCommInfo"]["StatusCode"], 4);
    assert_eq!(got[0]["SMSCommInfo"]["RetryCount"], 1, "attempts left");
    // a contact added to the finished campaign runs it again
    let status: String = sqlx::query_scalar("SELECT status FROM campaigns WHERE id = $1")
        .bind(cid)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "completed");
    let mut c2 = contact(Uuid::new_v4(), cid);
    c2["SMSCommInfo"]["Destination"] = json!("+17605550104");
    assert_eq!(call(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": c2})).await, 0);
    app.tick().await;
    app.tick().await;
    // in flight on the tenant clock (SMS 2 s, a call 5 s + 30 s): let it finish
    app.clock("acme", json!({"advance_seconds": 60})).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE to_address = '+17605550104'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

// ---- isolation -------------------------------------------------------------------------

#[tokio::test]
async fn another_tenants_objects_are_not_found() {
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let sa = open(&app, &a).await;
    let sb = open(&app, &b).await;
    let cid = Uuid::new_v4();
    assert_eq!(add_campaign(&app, &sa, campaign(cid)).await, 0);
    let k = Uuid::new_v4();
    assert_eq!(
        call(&app, "AddCampaignContact", json!({"sessionId": sa, "contact": contact(k, cid)})).await,
        0
    );

    assert_eq!(call(&app, "GetCampaignListing", json!({"sessionId": sb})).await, json!([]));
    assert_eq!(call(&app, "GetCampaigns", json!({"sessionId": sb})).await, json!([]));
    assert_eq!(
        call(&app, "GetCampaign", json!({"sessionId": sb, "campaignId": cid})).await,
        Value::Null
    );
    assert_eq!(
        call(&app, "UpdateCampaign", json!({"sessionId": sb, "campaign": campaign(cid)})).await,
        3
    );
    assert_eq!(call(&app, "DeleteCampaign", json!({"sessionId": sb, "campaignId": cid})).await, 3);
    assert_eq!(
        call(&app, "GetCampaignContactsListing", json!({"sessionId": sb, "campaignId": cid})).await,
        Value::Null
    );
    assert_eq!(
        call(&app, "GetCampaignContacts", json!({"sessionId": sb, "campaignId": cid})).await,
        Value::Null
    );
    assert_eq!(
        call(
            &app,
            "AddCampaignContact",
            json!({"sessionId": sb, "contact": contact(Uuid::new_v4(), cid)})
        )
        .await,
        3
    );
    assert_eq!(
        call(&app, "UpdateCampaignContact", json!({"sessionId": sb, "contact": contact(k, cid)})).await,
        3
    );
    assert_eq!(
        call(
            &app,
            "DeleteCampaignContact",
            json!({"sessionId": sb, "campaignId": cid, "contactId": k})
        )
        .await,
        3
    );
    // A's ID taken by B → 5, and A's campaign is untouched
    let mut hijack = campaign(cid);
    hijack["ShortName"] = json!("Hijacked");
    assert_eq!(add_campaign(&app, &sb, hijack).await, 5);
    // A's data is intact
    assert_eq!(
        call(&app, "GetCampaign", json!({"sessionId": sa, "campaignId": cid})).await["ShortName"],
        "Flu shots"
    );
    assert_eq!(
        call(&app, "GetCampaignContactsListing", json!({"sessionId": sa, "campaignId": cid})).await,
        json!([k])
    );
    // B closing A's session is not possible either: a session is only its own
    assert_eq!(call(&app, "CloseAPISession", json!({"sessionId": sb})).await["ErrorCode"], 0);
    assert_eq!(call(&app, "GetCampaignListing", json!({"sessionId": sa})).await, json!([cid]));
}

#[tokio::test]
async fn campaigns_of_other_dialects_show_with_onc_defaults() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (s, c) = app
        .admin_post(
            "/admin/v1/tenants/acme/campaigns",
            json!({"name": "Dialer", "kind": "outbound_dialer"}),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    let sid = open(&app, &t).await;
    let got = call(&app, "GetCampaign", json!({"sessionId": sid, "campaignId": c["ids"]["onc"]})).await;
    assert_eq!(got["ShortName"], "Dialer");
    assert_eq!(got["ID"], c["ids"]["onc"]);
    assert_eq!(
        got["OutboundVoiceNotificationInfo"]["Enabled"], true,
        "the engine's default channel"
    );
    assert_eq!(
        call(&app, "GetCampaignListing", json!({"sessionId": sid})).await,
        json!([c["ids"]["onc"]])
    );
}

// ---- JSON binding errors ---------------------------------------------------------------

#[tokio::test]
async fn json_binding_errors() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .post(app.url("/onc/json/NoSuchMethod"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app.client.get(app.url("/onc/json/GetCampaigns")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ErrorCode"], 4, "{v}");
    let r = app
        .client
        .post(app.url("/onc/json/GetCampaigns"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ErrorCode"], 4);
    let r = app
        .client
        .post(app.url("/onc/json/GetCampaigns"))
        .json(&json!([1]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

// ---- SOAP ------------------------------------------------------------------------------

const DC: &str = "http://schemas.datacontract.org/2004/07/ONC";

/// A request as a .NET (WCF) client writes it: `s:` prefix, an addressing header.
fn dotnet_envelope(method: &str, params: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><Action s:mustUnderstand="1" xmlns="http://schemas.microsoft.com/ws/2005/05/addressing/none">http://tempuri.org/IONCService/{method}</Action></s:Header><s:Body><{method} xmlns="http://tempuri.org/">{params}</{method}></s:Body></s:Envelope>"#
    )
}

async fn soap_raw(app: &TestApp, path: &str, action: Option<&str>, body: String) -> (u16, String, String) {
    let mut req = app
        .client
        .post(app.url(path))
        .header("content-type", "text/xml; charset=utf-8")
        .body(body);
    if let Some(a) = action {
        req = req.header("SOAPAction", format!("\"http://tempuri.org/IONCService/{a}\""));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, r.text().await.unwrap())
}

async fn soap(app: &TestApp, method: &str, params: &str) -> String {
    let (s, ct, body) = soap_raw(app, "/onc/ONCService.svc", Some(method), dotnet_envelope(method, params)).await;
    assert_eq!(s, 200, "{method}: {body}");
    assert!(ct.starts_with("text/xml"), "{ct}");
    assert!(
        body.contains(&format!(r#"<{method}Response xmlns="http://tempuri.org/">"#)),
        "{body}"
    );
    body
}

/// Text of the first `<tag>…</tag>`.
fn tag(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_string())
}

fn soap_campaign(id: Uuid, name: &str) -> String {
    format!(
        r#"<campaign xmlns:a="{DC}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><a:ActiveFromDate>{FUTURE_FROM}</a:ActiveFromDate><a:ActiveFromTime>08:00:00</a:ActiveFromTime><a:ActiveToDate>{FUTURE_TO}</a:ActiveToDate><a:ActiveToTime>20:00:00</a:ActiveToTime><a:AllowAddingContactsFromExternalApps>false</a:AllowAddingContactsFromExternalApps><a:CreationDateUtc>0001-01-01T00:00:00</a:CreationDateUtc><a:Description i:nil="true"/><a:EmailNotificationRequired>false</a:EmailNotificationRequired><a:ID>{id}</a:ID><a:IsPaused>false</a:IsPaused><a:OutboundEmailNotificationInfo i:nil="true"/><a:OutboundSMSNotificationInfo><a:Enabled>true</a:Enabled><a:FromNumber>+17608675309</a:FromNumber><a:TextToSend>Hello &amp; welcome</a:TextToSend></a:OutboundSMSNotificationInfo><a:OutboundVoiceNotificationInfo i:nil="true"/><a:ProgressWSEndpoint i:nil="true"/><a:ShortName>{name}</a:ShortName><a:SmsNotificationRequired>true</a:SmsNotificationRequired><a:VoiceNotificationRequired>false</a:VoiceNotificationRequired></campaign>"#
    )
}

fn soap_contact(id: Uuid, campaign: Uuid, dest: &str) -> String {
    format!(
        r#"<contact xmlns:a="{DC}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><a:CampaignId>{campaign}</a:CampaignId><a:EmailCommInfo i:nil="true"/><a:Id>{id}</a:Id><a:SMSCommInfo><a:Destination>{dest}</a:Destination><a:LastDeliveryErrorCode>0</a:LastDeliveryErrorCode><a:RetryCount>3</a:RetryCount><a:StatusCode>0</a:StatusCode><a:TextToSendOverwrite i:nil="true"/></a:SMSCommInfo><a:VoiceCommInfo i:nil="true"/></contact>"#
    )
}

#[tokio::test]
async fn every_method_over_soap() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let body = soap(
        &app,
        "OpenAPISession",
        &format!(
            "<accountId>{}</accountId><username>{}</username><password>wrong</password>",
            t["onc"]["account_id"].as_str().unwrap(),
            t["onc"]["username"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(tag(&body, "a:ErrorCode").as_deref(), Some("2"));
    assert!(body.contains("<a:SessionId></a:SessionId>"), "{body}");
    let body = soap(
        &app,
        "OpenAPISession",
        &format!(
            "<accountId>{}</accountId><username>{}</username><password>{}</password>",
            t["onc"]["account_id"].as_str().unwrap(),
            t["onc"]["username"].as_str().unwrap(),
            t["onc"]["password"].as_str().unwrap()
        ),
    )
    .await;
    assert!(body.contains(&format!(r#"<OpenAPISessionResult xmlns:a="{DC}""#)), "{body}");
    assert_eq!(tag(&body, "a:ErrorCode").as_deref(), Some("0"));
    let sid = tag(&body, "a:SessionId").unwrap();
    let s = format!("<sessionId>{sid}</sessionId>");

    let body = soap(&app, "GetCampaignListing", &s).await;
    assert!(
        body.contains("<GetCampaignListingResult xmlns:a=\"http://schemas.microsoft.com/2003/10/Serialization/Arrays\""),
        "{body}"
    );
    assert!(!body.contains("<a:guid>"));
    let id = Uuid::new_v4();
    let body = soap(&app, "AddCampaign", &format!("{s}{}", soap_campaign(id, "Soap campaign"))).await;
    assert_eq!(tag(&body, "AddCampaignResult").as_deref(), Some("0"), "{body}");
    let body = soap(&app, "AddCampaign", &format!("{s}{}", soap_campaign(id, "Soap campaign"))).await;
    assert_eq!(tag(&body, "AddCampaignResult").as_deref(), Some("5"));
    let body = soap(&app, "AddCampaign", &format!("{s}{}", soap_campaign(Uuid::new_v4(), ""))).await;
    assert_eq!(tag(&body, "AddCampaignResult").as_deref(), Some("4"));

    let body = soap(&app, "GetCampaignListing", &s).await;
    assert_eq!(tag(&body, "a:guid"), Some(id.to_string()));
    let body = soap(&app, "GetCampaign", &format!("{s}<campaignId>{id}</campaignId>")).await;
    assert_eq!(tag(&body, "a:ShortName").as_deref(), Some("Soap campaign"));
    assert_eq!(tag(&body, "a:TextToSend").as_deref(), Some("Hello &amp; welcome"));
    assert!(body.contains(r#"<a:OutboundVoiceNotificationInfo i:nil="true"/>"#), "{body}");
    assert!(
        body.contains("<a:ActiveFromDate>2099-01-01</a:ActiveFromDate><a:ActiveFromTime>08:00:00</a:ActiveFromTime>"),
        "{body}"
    );
    // members in ordinal (DataContractSerializer) order
    let pos = |t: &str| body.find(&format!("<a:{t}")).unwrap();
    assert!(pos("ActiveFromDate") < pos("CreationDateUtc") && pos("CreationDateUtc") < pos("ID") && pos("ID") < pos("IsPaused"));
    assert!(pos("ShortName") < pos("SmsNotificationRequired"));
    let body = soap(&app, "GetCampaigns", &s).await;
    assert!(body.contains("<a:OutboundNotificationCampaignInfo>"), "{body}");
    let body = soap(&app, "UpdateCampaign", &format!("{s}{}", soap_campaign(id, "Renamed"))).await;
    assert_eq!(tag(&body, "UpdateCampaignResult").as_deref(), Some("0"));
    let body = soap(&app, "GetCampaign", &format!("{s}<campaignId>{}</campaignId>", Uuid::new_v4())).await;
    assert!(body.contains(r#"<GetCampaignResult i:nil="true""#), "{body}");

    let k = Uuid::new_v4();
    let body = soap(&app, "AddCampaignContact", &format!("{s}{}", soap_contact(k, id, "+17605550101"))).await;
    assert_eq!(tag(&body, "AddCampaignContactResult").as_deref(), Some("0"), "{body}");
    let body = soap(
        &app,
        "AddCampaignContact",
        &format!("{s}{}", soap_contact(Uuid::new_v4(), id, "bad")),
    )
    .await;
    assert_eq!(tag(&body, "AddCampaignContactResult").as_deref(), Some("4"));
    let body = soap(&app, "GetCampaignContactsListing", &format!("{s}<campaignId>{id}</campaignId>")).await;
    assert_eq!(tag(&body, "a:guid"), Some(k.to_string()));
    let body = soap(&app, "GetCampaignContacts", &format!("{s}<campaignId>{id}</campaignId>")).await;
    assert!(body.contains("<a:OutboundNotificationContactInfo>"), "{body}");
    assert_eq!(tag(&body, "a:StatusCode").as_deref(), Some("1"));
    assert_eq!(tag(&body, "a:RetryCount").as_deref(), Some("3"));
    assert!(body.contains(r#"<a:EmailCommInfo i:nil="true"/>"#));
    let body = soap(
        &app,
        "UpdateCampaignContact",
        &format!("{s}{}", soap_contact(k, id, "+17605550102")),
    )
    .await;
    assert_eq!(tag(&body, "UpdateCampaignContactResult").as_deref(), Some("0"));
    let body = soap(
        &app,
        "DeleteCampaignContact",
        &format!("{s}<campaignId>{id}</campaignId><contactId>{k}</contactId>"),
    )
    .await;
    assert_eq!(tag(&body, "DeleteCampaignContactResult").as_deref(), Some("0"));
    let body = soap(&app, "DeleteCampaign", &format!("{s}<campaignId>{id}</campaignId>")).await;
    assert_eq!(tag(&body, "DeleteCampaignResult").as_deref(), Some("0"));
    let body = soap(&app, "GetCampaignContacts", &format!("{s}<campaignId>{id}</campaignId>")).await;
    assert!(body.contains(r#"<GetCampaignContactsResult i:nil="true""#), "{body}");
    let body = soap(&app, "CloseAPISession", &s).await;
    assert_eq!(tag(&body, "a:ErrorCode").as_deref(), Some("0"));
    let body = soap(&app, "GetCampaigns", &s).await;
    assert!(body.contains(r#"<GetCampaignsResult i:nil="true""#), "{body}");
}

#[tokio::test]
async fn envelope_shapes_and_endpoints() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    // default namespace, no prefix, no header, no SOAPAction, at /onc/
    let plain = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/">
  <Body>
    <GetCampaignListing xmlns="http://tempuri.org/">
      <sessionId>{sid}</sessionId>
    </GetCampaignListing>
  </Body>
</Envelope>"#
    );
    let (s, _, body) = soap_raw(&app, "/onc/", None, plain.clone()).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("GetCampaignListingResponse"), "{body}");
    // soapenv prefix with extra headers, SOAPAction naming another method: the body wins
    let other = format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tem="http://tempuri.org/"><soapenv:Header><wsse:Security xmlns:wsse="urn:x"><wsse:Token>t</wsse:Token></wsse:Security><Trace xmlns="urn:y">1</Trace></soapenv:Header><soapenv:Body><tem:GetCampaigns><tem:sessionId>{sid}</tem:sessionId></tem:GetCampaigns></soapenv:Body></soapenv:Envelope>"#
    );
    let (s, _, body) = soap_raw(&app, "/onc/ONCService.svc", Some("GetCampaignListing"), other).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("<GetCampaignsResponse"), "{body}");
    // SOAP 1.2 → VersionMismatch fault
    let v12 = plain.replace(
        "http://schemas.xmlsoap.org/soap/envelope/",
        "http://www.w3.org/2003/05/soap-envelope",
    );
    let (s, _, body) = soap_raw(&app, "/onc/", None, v12).await;
    assert_eq!(s, 500);
    assert!(body.contains("<faultcode>s:VersionMismatch</faultcode>"), "{body}");
    // unknown operation, not XML, not an envelope → s:Client faults
    for bad in [
        dotnet_envelope("Frobnicate", ""),
        "this is not xml <".to_string(),
        "<a><b></a>".to_string(),
        "<root/>".to_string(),
        String::new(),
    ] {
        let (s, ct, body) = soap_raw(&app, "/onc/", None, bad.clone()).await;
        assert_eq!(s, 500, "{bad}: {body}");
        assert!(ct.starts_with("text/xml"));
        assert!(body.contains("<faultcode>s:Client</faultcode>"), "{bad}: {body}");
    }
}

#[tokio::test]
async fn dtds_and_entities_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    let xxe = format!(
        r#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetCampaignListing xmlns="http://tempuri.org/"><sessionId>{sid}&xxe;</sessionId></GetCampaignListing></s:Body></s:Envelope>"#
    );
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetCampaigns xmlns="http://tempuri.org/"><sessionId>&lol2;</sessionId></GetCampaigns></s:Body></s:Envelope>"#.to_string();
    let undeclared = dotnet_envelope("GetCampaigns", "<sessionId>&xxe;</sessionId>");
    for bad in [xxe, laughs, undeclared] {
        let (s, _, body) = soap_raw(&app, "/onc/", None, bad).await;
        assert_eq!(s, 500, "{body}");
        assert!(body.contains("<faultcode>s:Client</faultcode>"), "{body}");
        assert!(!body.contains("root:"), "no file content leaks");
    }
    let (_, _, body) = soap_raw(
        &app,
        "/onc/",
        None,
        r#"<!DOCTYPE x><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#.into(),
    )
    .await;
    assert!(body.contains("DTD"), "{body}");
}

#[tokio::test]
async fn the_served_wsdl_is_the_file() {
    let app = TestApp::spawn().await;
    let file = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/onc.wsdl")).unwrap();
    for path in [
        "/onc/?wsdl",
        "/onc/ONCService.svc?wsdl",
        "/onc/ONCService.svc?singleWsdl",
        "/onc?WSDL",
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/xml"));
        // The file, but for its placeholder address, which becomes the one fetched from.
        let served = file.replace("http://switchboard.example/onc/", &format!("{}/onc/", app.base));
        assert_eq!(r.text().await.unwrap(), served, "{path}");
    }
    for m in [
        "OpenAPISession",
        "CloseAPISession",
        "GetCampaignListing",
        "GetCampaigns",
        "AddCampaign",
        "GetCampaign",
        "UpdateCampaign",
        "DeleteCampaign",
        "GetCampaignContactsListing",
        "GetCampaignContacts",
        "AddCampaignContact",
        "UpdateCampaignContact",
        "DeleteCampaignContact",
    ] {
        assert!(file.contains(&format!(r#"soapAction="http://tempuri.org/IONCService/{m}""#)), "{m}");
    }
}

// ---- a real SOAP client ----------------------------------------------------------------

fn zeep_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import zeep"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[tokio::test]
async fn zeep_client_calls_all_thirteen_methods() {
    if !zeep_available() {
        let _ = std::process::Command::new("python3")
            .args(["-m", "pip", "install", "-q", "zeep"])
            .status();
        assert!(
            zeep_available(),
            "the zeep SOAP client is required for this test: `pip install zeep` (python3 -c 'import zeep' failed)"
        );
    }
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/onc_zeep.py");
    let base = app.base.clone();
    let args = [
        script.to_string(),
        base,
        t["onc"]["account_id"].as_str().unwrap().to_string(),
        t["onc"]["username"].as_str().unwrap().to_string(),
        t["onc"]["password"].as_str().unwrap().to_string(),
    ];
    let out = tokio::process::Command::new("python3")
        .args(&args)
        .output()
        .await
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "zeep script failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("ALL 13 METHODS OK"), "{stdout}\n{stderr}");
}

// ---- published files -------------------------------------------------------------------

#[tokio::test]
async fn the_postman_collection_runs_in_order() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let coll: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/postman/onc.postman_collection.json")).unwrap(),
    )
    .unwrap();
    let mut vars: std::collections::HashMap<String, String> = coll["variable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["key"].as_str().unwrap().to_string(),
                v["value"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    vars.insert("baseUrl".into(), app.base.clone());
    vars.insert("accountId".into(), t["onc"]["account_id"].as_str().unwrap().into());
    vars.insert("username".into(), t["onc"]["username"].as_str().unwrap().into());
    vars.insert("password".into(), t["onc"]["password"].as_str().unwrap().into());
    let subst = |s: &str, vars: &std::collections::HashMap<String, String>| {
        let mut out = s.to_string();
        for (k, v) in vars {
            out = out.replace(&format!("{{{{{k}}}}}"), v);
        }
        out
    };
    let mut names = Vec::new();
    for item in coll["item"].as_array().unwrap() {
        let name = item["name"].as_str().unwrap().to_string();
        let req = &item["request"];
        let url = subst(req["url"]["raw"].as_str().unwrap(), &vars);
        let mut rb = app.client.request(common::method(req["method"].as_str().unwrap()), &url);
        for h in req["header"].as_array().into_iter().flatten() {
            rb = rb.header(h["key"].as_str().unwrap(), h["value"].as_str().unwrap());
        }
        if let Some(raw) = req["body"]["raw"].as_str() {
            rb = rb.body(subst(raw, &vars));
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let text = r.text().await.unwrap();
        if name.starts_with("SOAP") {
            assert!(text.contains("<GetCampaignListingResult xmlns:a="), "{name}: {text}");
        } else if name == "WSDL" {
            assert!(text.contains("wsdl:definitions"));
        } else {
            let v: Value = serde_json::from_str(&text).unwrap();
            match name.as_str() {
                "OpenAPISession" => {
                    assert_eq!(v["ErrorCode"], 0);
                    vars.insert("sessionId".into(), v["SessionId"].as_str().unwrap().into());
                }
                "CloseAPISession" => assert_eq!(v["ErrorCode"], 0),
                _ => assert!(v == json!(0) || v.is_array() || v.is_object(), "{name}: {v}"),
            }
            names.push(name);
        }
    }
    assert_eq!(names.len(), 13);
}

#[test]
fn the_openapi_file_describes_every_method() {
    let y = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/onc-json.yaml")).unwrap();
    assert!(y.starts_with("openapi: \"3.1.0\""));
    for m in [
        "OpenAPISession",
        "CloseAPISession",
        "GetCampaignListing",
        "GetCampaigns",
        "AddCampaign",
        "GetCampaign",
        "UpdateCampaign",
        "DeleteCampaign",
        "GetCampaignContactsListing",
        "GetCampaignContacts",
        "AddCampaignContact",
        "UpdateCampaignContact",
        "DeleteCampaignContact",
    ] {
        assert!(y.contains(&format!("\"/onc/json/{m}\":")), "{m}");
    }
}

#[tokio::test]
async fn must_understand_headers_not_understood_are_faults() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    let with_header = |header: &str| {
        format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>{header}</s:Header><s:Body><GetCampaignListing xmlns="http://tempuri.org/"><sessionId>{sid}</sessionId></GetCampaignListing></s:Body></s:Envelope>"#
        )
    };
    // an unknown header the client insists on → s:MustUnderstand (HTTP 500), as WCF does
    let (s, ct, body) = soap_raw(
        &app,
        "/onc/ONCService.svc",
        Some("GetCampaignListing"),
        with_header(r#"<wsse:Security s:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken/></wsse:Security>"#),
    )
    .await;
    assert_eq!(s, 500, "{body}");
    assert!(ct.starts_with("text/xml"));
    assert!(body.contains("<faultcode>s:MustUnderstand</faultcode>"), "{body}");
    assert!(body.contains("Security") && body.contains("was not understood"), "{body}");
    // the same header optional, or addressed to another actor, or WS-Addressing → served
    for ok in [
        r#"<wsse:Security s:mustUnderstand="0" xmlns:wsse="urn:sec"/>"#,
        r#"<wsse:Security s:mustUnderstand="1" s:actor="urn:someone-else" xmlns:wsse="urn:sec"/>"#,
        r#"<a:Action s:mustUnderstand="1" xmlns:a="http://www.w3.org/2005/08/addressing">http://tempuri.org/IONCService/GetCampaignListing</a:Action><a:To s:mustUnderstand="1" xmlns:a="http://www.w3.org/2005/08/addressing">http://localhost/onc/ONCService.svc</a:To>"#,
        r#"<Action s:mustUnderstand="1" xmlns="http://schemas.microsoft.com/ws/2005/05/addressing/none">http://tempuri.org/IONCService/GetCampaignListing</Action>"#,
    ] {
        let (s, _, body) = soap_raw(&app, "/onc/ONCService.svc", None, with_header(ok)).await;
        assert_eq!(s, 200, "{ok}: {body}");
        assert!(body.contains("<GetCampaignListingResponse"), "{body}");
    }
}

#[tokio::test]
async fn oversized_bodies_get_the_bindings_own_shape() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    let big = "x".repeat(3 * 1024 * 1024);
    let (s, ct, body) = soap_raw(
        &app,
        "/onc/ONCService.svc",
        Some("GetCampaignListing"),
        dotnet_envelope("GetCampaignListing", &format!("<sessionId>{sid}</sessionId><!--{big}-->")),
    )
    .await;
    assert_eq!(s, 413, "{body}");
    assert!(ct.starts_with("text/xml"), "{ct}");
    assert!(body.contains("<faultcode>s:Client</faultcode>"), "{body}");
    assert!(body.contains("larger than the service accepts"), "{body}");
    let r = app
        .client
        .post(app.url("/onc/json/GetCampaignListing"))
        .json(&json!({"sessionId": sid, "padding": big}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ErrorCode"], 4, "{v}");
    assert!(v["Description"].as_str().unwrap().contains("larger"), "{v}");
    // a body within the limit is still served
    assert_eq!(call(&app, "GetCampaignListing", json!({"sessionId": sid})).await, json!([]));
}

#[tokio::test]
async fn json_binding_takes_the_docs_names_and_pascal_case_variants() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    // PascalCase parameter names, as Postman users often send them
    let v = call(
        &app,
        "OpenAPISession",
        json!({"AccountId": t["onc"]["account_id"], "Username": t["onc"]["username"], "Password": t["onc"]["password"]}),
    )
    .await;
    assert_eq!(v["ErrorCode"], 0, "{v}");
    let sid = v["SessionId"].as_str().unwrap().to_string();
    let v = call(
        &app,
        "OpenAPISession",
        json!({"AccountId": t["onc"]["account_id"], "Username": t["onc"]["username"], "Password": "wrong"}),
    )
    .await;
    assert_eq!((v["ErrorCode"].clone(), v["SessionId"].clone()), (json!(2), json!("")), "{v}");
    let cid = Uuid::new_v4();
    assert_eq!(
        call(&app, "AddCampaign", json!({"SessionId": sid, "Campaign": campaign(cid)})).await,
        0
    );
    assert_eq!(call(&app, "GetCampaignListing", json!({"SessionId": sid})).await, json!([cid]));
    assert_eq!(call(&app, "GetCampaigns", json!({"SessionId": sid})).await[0]["ID"], json!(cid));
    assert_eq!(
        call(&app, "GetCampaign", json!({"SessionId": sid, "CampaignId": cid})).await["ShortName"],
        "Flu shots"
    );
    let mut c = campaign(cid);
    c["ShortName"] = json!("Renamed");
    assert_eq!(call(&app, "UpdateCampaign", json!({"SessionId": sid, "Campaign": c})).await, 0);
    let k = Uuid::new_v4();
    assert_eq!(
        call(&app, "AddCampaignContact", json!({"SessionId": sid, "Contact": contact(k, cid)})).await,
        0
    );
    assert_eq!(
        call(&app, "UpdateCampaignContact", json!({"SessionId": sid, "Contact": contact(k, cid)})).await,
        0
    );
    assert_eq!(
        call(&app, "GetCampaignContactsListing", json!({"SessionId": sid, "CampaignId": cid})).await,
        json!([k])
    );
    assert_eq!(
        call(&app, "GetCampaignContacts", json!({"SessionId": sid, "CampaignId": cid})).await[0]["Id"],
        json!(k)
    );
    assert_eq!(
        call(
            &app,
            "DeleteCampaignContact",
            json!({"SessionId": sid, "CampaignId": cid, "ContactId": k})
        )
        .await,
        0
    );
    assert_eq!(call(&app, "DeleteCampaign", json!({"SessionId": sid, "CampaignId": cid})).await, 0);
    // the doc's own camelCase names work the same way, and the method name is not case-sensitive
    assert_eq!(call(&app, "getcampaignlisting", json!({"sessionId": sid})).await, json!([]));
    let v = call(&app, "CloseAPISession", json!({"SessionId": sid})).await;
    assert_eq!(v, json!({"ErrorCode": 0, "Description": ""}));
    let v = call(&app, "CloseAPISession", json!({"sessionId": sid})).await;
    assert_eq!(v["ErrorCode"], 1, "{v}");
}

async fn suppress(app: &TestApp, t: &Value, list: &str, number: &str, channels: &[&str]) {
    let tid = switchboard::domain::TenantId(t["tenant"]["id"].as_str().unwrap().parse().unwrap());
    let number = switchboard::domain::phone::PhoneNumber::parse(number).unwrap();
    switchboard::domain::optlists::upsert(
        &app.db,
        tid,
        switchboard::domain::optlists::NewEntry {
            list,
            list_name: "",
            number: &number,
            channels: channels.iter().map(|s| s.to_string()).collect(),
            source: "test",
            expires_at: None,
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn suppression_by_channel_on_update_and_at_send_time() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let other = app.tenant("other").await;
    // an SMS-only opt-out: the same number still gets the voice call
    suppress(&app, &t, "opt_out", "+17605550111", &["sms"]).await;
    // another tenant's DNC list does not concern this tenant
    suppress(&app, &other, "dnc", "+17605550112", &[]).await;
    let sid = open(&app, &t).await;
    let cid = Uuid::new_v4();
    assert_eq!(add_campaign(&app, &sid, campaign(cid)).await, 0);
    let k = Uuid::new_v4();
    let mut c = contact(k, cid);
    c["SMSCommInfo"]["Destination"] = json!("+17605550111");
    c["VoiceCommInfo"]["Destination"] = json!("+17605550111");
    c["EmailCommInfo"] = Value::Null;
    assert_eq!(call(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": c})).await, 0);
    let got = call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(got[0]["SMSCommInfo"]["StatusCode"], 7, "{got}");
    assert_eq!(got[0]["VoiceCommInfo"]["StatusCode"], 1, "{got}");
    // updating onto a company-DNC number cancels that channel; the other tenant's list is not read
    suppress(&app, &t, "dnc", "+17605550113", &[]).await;
    let mut u = contact(k, cid);
    u["SMSCommInfo"]["Destination"] = json!("+17605550112");
    u["VoiceCommInfo"]["Destination"] = json!("+17605550113");
    u["EmailCommInfo"] = Value::Null;
    assert_eq!(
        call(&app, "UpdateCampaignContact", json!({"sessionId": sid, "contact": u})).await,
        0
    );
    let got = call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(got[0]["SMSCommInfo"]["StatusCode"], 1, "{got}");
    assert_eq!(got[0]["VoiceCommInfo"]["StatusCode"], 7, "{got}");
    // opted out after being added: the send is suppressed → 7, LastDeliveryErrorCode 1
    let cid2 = Uuid::new_v4();
    let mut c2 = campaign(cid2);
    c2["ActiveFromDate"] = json!("2020-01-01");
    all_day(&mut c2);
    assert_eq!(add_campaign(&app, &sid, c2).await, 0);
    let k2 = Uuid::new_v4();
    let mut c = contact(k2, cid2);
    c["SMSCommInfo"]["Destination"] = json!("+17605550114");
    c["VoiceCommInfo"]["Destination"] = json!("+17605550115");
    c["EmailCommInfo"] = Value::Null;
    assert_eq!(call(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": c})).await, 0);
    suppress(&app, &t, "opt_out", "+17605550114", &["sms"]).await;
    app.tick().await;
    app.tick().await;
    // in flight on the tenant clock (SMS 2 s, a call 5 s + 30 s): let it finish
    app.clock("acme", json!({"advance_seconds": 60})).await;
    let got = call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid2})).await;
    assert_eq!(got[0]["SMSCommInfo"]["StatusCode"], 7, "{got}");
    assert_eq!(got[0]["SMSCommInfo"]["LastDeliveryErrorCode"], 1, "{got}");
    assert_eq!(got[0]["VoiceCommInfo"]["StatusCode"], 4, "{got}");
    assert_eq!(got[0]["VoiceCommInfo"]["LastDeliveryErrorCode"], 0, "{got}");
}

#[tokio::test]
async fn a_deleted_campaigns_id_can_be_added_again_by_its_tenant_only() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let sid = open(&app, &t).await;
    let so = open(&app, &other).await;
    let id = Uuid::new_v4();
    assert_eq!(add_campaign(&app, &sid, campaign(id)).await, 0);
    assert_eq!(
        call(
            &app,
            "AddCampaignContact",
            json!({"sessionId": sid, "contact": contact(Uuid::new_v4(), id)})
        )
        .await,
        0
    );
    assert_eq!(call(&app, "DeleteCampaign", json!({"sessionId": sid, "campaignId": id})).await, 0);
    // another tenant still cannot take the ID
    assert_eq!(add_campaign(&app, &so, campaign(id)).await, 5);
    // the owner can: a new campaign, no contacts, listed again
    let mut c = campaign(id);
    c["ShortName"] = json!("Second life");
    assert_eq!(add_campaign(&app, &sid, c).await, 0);
    let got = call(&app, "GetCampaign", json!({"sessionId": sid, "campaignId": id})).await;
    assert_eq!(got["ShortName"], "Second life");
    assert_eq!(call(&app, "GetCampaignListing", json!({"sessionId": sid})).await, json!([id]));
    assert_eq!(
        call(&app, "GetCampaignContactsListing", json!({"sessionId": sid, "campaignId": id})).await,
        json!([])
    );
    // and while it lives, the ID is taken again
    assert_eq!(add_campaign(&app, &sid, campaign(id)).await, 5);
    assert_eq!(call(&app, "GetCampaignListing", json!({"sessionId": so})).await, json!([]));
}

#[tokio::test]
async fn text_stored_through_json_stays_valid_xml_over_soap() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    let id = Uuid::new_v4();
    let mut c = campaign(id);
    c["ShortName"] = json!("Bell\u{7} & <co>");
    c["Description"] = json!("line1\nline2\u{1b}");
    assert_eq!(add_campaign(&app, &sid, c).await, 0);
    let body = soap(
        &app,
        "GetCampaign",
        &format!("<sessionId>{sid}</sessionId><campaignId>{id}</campaignId>"),
    )
    .await;
    assert!(!body.contains('\u{7}') && !body.contains('\u{1b}'), "{body:?}");
    assert_eq!(tag(&body, "a:ShortName").as_deref(), Some("Bell\u{FFFD} &amp; &lt;co&gt;"));
    assert_eq!(tag(&body, "a:Description").as_deref(), Some("line1\nline2\u{FFFD}"));
}

#[tokio::test]
async fn dates_and_times_as_dotnet_datetime_and_timespan_are_accepted() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    let id = Uuid::new_v4();
    // a client whose Date properties are DateTime and Time properties TimeSpan
    let c = soap_campaign(id, "Typed")
        .replace(
            &format!("<a:ActiveFromDate>{FUTURE_FROM}</a:ActiveFromDate><a:ActiveFromTime>08:00:00</a:ActiveFromTime>"),
            &format!("<a:ActiveFromDate>{FUTURE_FROM}T00:00:00</a:ActiveFromDate><a:ActiveFromTime>PT8H30M</a:ActiveFromTime>"),
        )
        .replace(
            "<a:ActiveToTime>20:00:00</a:ActiveToTime>",
            "<a:ActiveToTime>PT20H0M15S</a:ActiveToTime>",
        );
    assert!(c.contains("PT8H30M") && c.contains("PT20H0M15S"));
    let body = soap(&app, "AddCampaign", &format!("<sessionId>{sid}</sessionId>{c}")).await;
    assert_eq!(tag(&body, "AddCampaignResult").as_deref(), Some("0"), "{body}");
    let got = call(&app, "GetCampaign", json!({"sessionId": sid, "campaignId": id})).await;
    assert_eq!(got["ActiveFromDate"], FUTURE_FROM);
    assert_eq!(got["ActiveFromTime"], "08:30:00");
    assert_eq!(got["ActiveToTime"], "20:00:15");
    // a malformed duration is still an invalid argument naming the field
    let mut bad = campaign(Uuid::new_v4());
    bad["ActiveToTime"] = json!("PT25H");
    let (code, desc) = call_desc(&app, "AddCampaign", json!({"sessionId": sid, "campaign": bad})).await;
    assert_eq!(code, 4);
    assert!(desc.contains("campaign.ActiveToTime"), "{desc}");
}

#[tokio::test]
async fn a_delivered_contact_given_a_new_destination_starts_over() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    let cid = Uuid::new_v4();
    let mut c = campaign(cid);
    c["ActiveFromDate"] = json!("2020-01-01");
    all_day(&mut c);
    c["OutboundVoiceNotificationInfo"]["Enabled"] = json!(false);
    c["OutboundEmailNotificationInfo"]["Enabled"] = json!(false);
    assert_eq!(add_campaign(&app, &sid, c).await, 0);
    let k = Uuid::new_v4();
    let mut ct = contact(k, cid);
    ct["EmailCommInfo"] = Value::Null;
    assert_eq!(
        call(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": ct.clone()})).await,
        0
    );
    app.tick().await;
    app.tick().await;
    // in flight on the tenant clock (SMS 2 s, a call 5 s + 30 s): let it finish
    app.clock("acme", json!({"advance_seconds": 60})).await;
    let got = call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(got[0]["SMSCommInfo"]["StatusCode"], 4, "{got}");
    assert_eq!(got[0]["SMSCommInfo"]["RetryCount"], 1, "{got}");
    // the same destinations again: nothing changes
    assert_eq!(
        call(&app, "UpdateCampaignContact", json!({"sessionId": sid, "contact": ct.clone()})).await,
        0
    );
    let got = call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(got[0]["SMSCommInfo"]["StatusCode"], 4, "{got}");
    // a new destination: pending (1) with its full RetryCount, not "waiting for retry" (5)
    ct["SMSCommInfo"]["Destination"] = json!("+17605550177");
    assert_eq!(
        call(&app, "UpdateCampaignContact", json!({"sessionId": sid, "contact": ct})).await,
        0
    );
    let got = call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(got[0]["SMSCommInfo"]["StatusCode"], 1, "{got}");
    assert_eq!(got[0]["SMSCommInfo"]["LastDeliveryErrorCode"], 0, "{got}");
    assert_eq!(got[0]["SMSCommInfo"]["RetryCount"], 2, "{got}");
    app.tick().await;
    app.tick().await;
    // in flight on the tenant clock (SMS 2 s, a call 5 s + 30 s): let it finish
    app.clock("acme", json!({"advance_seconds": 60})).await;
    let got = call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(got[0]["SMSCommInfo"]["StatusCode"], 4, "{got}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE to_address = '+17605550177'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn sms_short_code_senders_and_normalised_caller_ids() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let sid = open(&app, &t).await;
    let cid = Uuid::new_v4();
    let mut c = campaign(cid);
    c["ActiveFromDate"] = json!("2020-01-01");
    all_day(&mut c);
    c["OutboundSMSNotificationInfo"]["FromNumber"] = json!("24273");
    c["OutboundVoiceNotificationInfo"]["CallingNumber"] = json!("(760) 867-5309");
    c["OutboundEmailNotificationInfo"]["Enabled"] = json!(false);
    assert_eq!(add_campaign(&app, &sid, c).await, 0);
    let got = call(&app, "GetCampaign", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(got["OutboundSMSNotificationInfo"]["FromNumber"], "24273");
    assert_eq!(
        got["OutboundVoiceNotificationInfo"]["CallingNumber"], "(760) 867-5309",
        "echoed as sent"
    );
    let k = Uuid::new_v4();
    let mut ct = contact(k, cid);
    ct["VoiceCommInfo"]["Destination"] = json!("+17605550103");
    ct["EmailCommInfo"] = Value::Null;
    assert_eq!(call(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": ct})).await, 0);
    app.tick().await;
    app.tick().await;
    let rows = sqlx::query("SELECT channel, from_address FROM deliveries WHERE contact_id = $1 ORDER BY channel")
        .bind(k)
        .fetch_all(&app.db)
        .await
        .unwrap();
    let got: Vec<(String, Option<String>)> = rows.iter().map(|r| (r.get("channel"), r.get("from_address"))).collect();
    assert_eq!(
        got,
        vec![("sms".into(), Some("24273".into())), ("voice".into(), Some("+17608675309".into()))]
    );
    // a short code is no caller ID
    let mut bad = campaign(Uuid::new_v4());
    bad["OutboundVoiceNotificationInfo"]["CallingNumber"] = json!("24273");
    let (code, desc) = call_desc(&app, "AddCampaign", json!({"sessionId": sid, "campaign": bad})).await;
    assert_eq!(code, 4);
    assert!(desc.contains("CallingNumber"), "{desc}");
}

#[tokio::test]
async fn deliveries_wait_for_the_daily_window() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let freeze = |at: &'static str| app.freeze_clock_at("acme", at);
    let deliveries = || {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM deliveries")
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    // 20:00, after the day's window (09:00–17:00)
    freeze("2030-06-10T20:00:00Z").await;
    let sid = open(&app, &t).await;
    let cid = Uuid::new_v4();
    let mut c = campaign(cid);
    c["ActiveFromDate"] = json!("2030-06-01");
    c["ActiveFromTime"] = json!("09:00:00");
    c["ActiveToDate"] = json!("2030-06-30");
    c["ActiveToTime"] = json!("17:00:00");
    c["OutboundVoiceNotificationInfo"]["Enabled"] = json!(false);
    c["OutboundEmailNotificationInfo"]["Enabled"] = json!(false);
    assert_eq!(add_campaign(&app, &sid, c.clone()).await, 0);
    let mut k = contact(Uuid::new_v4(), cid);
    k["EmailCommInfo"] = Value::Null;
    assert_eq!(call(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": k})).await, 0);
    app.tick().await;
    app.tick().await;
    assert_eq!(deliveries().await, 0, "outside the daily window");
    // the dates and times read back as sent (the engine's start is not the ActiveFrom)
    let got = call(&app, "GetCampaign", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(
        (got["ActiveFromDate"].clone(), got["ActiveFromTime"].clone()),
        (json!("2030-06-01"), json!("09:00:00"))
    );
    // next morning
    freeze("2030-06-11T09:00:05Z").await;
    app.tick().await;
    app.tick().await;
    assert_eq!(deliveries().await, 1, "inside the window");
    // a contact added after hours to the finished campaign waits for the next morning
    freeze("2030-06-11T18:00:00Z").await;
    let sid = open(&app, &t).await;
    let mut k2 = contact(Uuid::new_v4(), cid);
    k2["SMSCommInfo"]["Destination"] = json!("+17605550142");
    k2["EmailCommInfo"] = Value::Null;
    assert_eq!(call(&app, "AddCampaignContact", json!({"sessionId": sid, "contact": k2})).await, 0);
    app.tick().await;
    app.tick().await;
    assert_eq!(deliveries().await, 1);
    let got = call(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
    assert_eq!(got[1]["SMSCommInfo"]["StatusCode"], 1, "pending");
    freeze("2030-06-12T10:00:00Z").await;
    app.tick().await;
    app.tick().await;
    assert_eq!(deliveries().await, 2);
}
