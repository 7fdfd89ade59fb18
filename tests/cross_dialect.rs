//! One store, five front doors: what one dialect writes, the others honour.
//! A number put on the company DNC list through the Apps API is never dialled or texted
//! through Leads, Campaign Manager or ONC; an opt-out uploaded through Campaign Manager
//! blocks Apps SMS; a campaign made through the admin API is visible in every dialect;
//! and none of it leaks to another tenant.

mod common;

use chrono::{Duration, Utc};
use common::{status_json, TestApp};
use serde_json::{json, Value};
use uuid::Uuid;

fn apps_auth(p: &Value) -> (String, String) {
    (
        p["apps"]["subdomain"].as_str().unwrap().to_string(),
        p["apps"]["token"].as_str().unwrap().to_string(),
    )
}

async fn apps_post(app: &TestApp, p: &Value, path: &str, body: Value) -> (u16, Value) {
    let (u, t) = apps_auth(p);
    status_json(
        app.client
            .post(app.url(path))
            .basic_auth(u, Some(t))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn leads_token(app: &TestApp, p: &Value) -> String {
    let (s, v) = status_json(
        app.client
            .post(app.url("/api/v2/login"))
            .json(&json!({"username": p["leads"]["username"], "password": p["leads"]["password"], "domain": p["leads"]["domain"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

async fn onc(app: &TestApp, method: &str, body: Value) -> Value {
    let r = app
        .client
        .post(app.url(&format!("/onc/json/{method}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{method}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn company_dnc_from_apps_is_honoured_everywhere() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    app.credit("acme", 100).await;
    app.credit("other", 100).await;

    // Put +1 415-555-0133 on acme's company DNC list through the Apps API.
    let (s, v) = apps_post(
        &app,
        &acme,
        "/apps/api/v1/outbound_dialer/dnc",
        json!({"contacts": [{"phone_number": "+1 415-555-0133"}]}),
    )
    .await;
    assert!(s == 200 || s == 201, "{s} {v}");
    let (_, listed) = app.admin_get("/admin/v1/tenants/acme/dnc").await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["number"], "+14155550133");

    // Leads: a lead on that number is accepted with status dnc; for the other tenant it is new.
    let (s, camp) = app
        .admin_post("/admin/v1/tenants/acme/campaigns", json!({"name": "Leads", "kind": "leads"}))
        .await;
    assert_eq!(s, 201);
    let hex = camp["ids"]["leads"].as_str().unwrap();
    let token = leads_token(&app, &acme).await;
    let (s, lead) = status_json(
        app.client
            .put(app.url(&format!("/api/v2/config/campaigns/{hex}/lead")))
            .bearer_auth(&token)
            .json(&json!({"number": "+14155550133", "first_name": "Do", "last_name": "Not"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{lead}");
    assert_eq!(lead["status"], "dnc", "{lead}");
    let (_, ocamp) = app
        .admin_post("/admin/v1/tenants/other/campaigns", json!({"name": "Leads", "kind": "leads"}))
        .await;
    let otoken = leads_token(&app, &other).await;
    let (s, olead) = status_json(
        app.client
            .put(app.url(&format!(
                "/api/v2/config/campaigns/{}/lead",
                ocamp["ids"]["leads"].as_str().unwrap()
            )))
            .bearer_auth(&otoken)
            .json(&json!({"number": "+14155550133"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{olead}");
    assert_eq!(olead["status"], "new", "another tenant's DNC list does not apply: {olead}");
    // acme's campaign is not visible to the other tenant through Leads.
    let r = app
        .client
        .get(app.url(&format!("/api/v2/config/campaigns/{hex}")))
        .bearer_auth(&otoken)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());

    // Campaign Manager: the DNC number is dropped from the recipients and not charged.
    let cm_sid = acme["campaign_manager"]["account_sid"].as_str().unwrap();
    let cm_tok = acme["campaign_manager"]["auth_token"].as_str().unwrap();
    let start = (Utc::now() + Duration::days(1)).format("%Y-%m-%dT%H:%M:%S+0000").to_string();
    let (s, v) = status_json(
        app.client
            .post(app.url("/campaignmanager/campaigns"))
            .basic_auth(cm_sid, Some(cm_tok))
            .json(&json!({"name": "Promo", "startTime": start, "fromPrefix": "1", "to": "+14155550133,+14155550134", "channel": "sms", "body": "Hi"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["data"]["total"], 1, "only the non-DNC recipient is charged: {v}");
    let (_, credits) = app.admin_get("/admin/v1/tenants/acme/credits").await;
    let balance: i64 = credits.as_array().unwrap().iter().map(|c| c["amount"].as_i64().unwrap()).sum();
    assert_eq!(balance, 99);

    // ONC: a contact whose SMS and voice destination is on the list gets StatusCode 7 there.
    let (account, user, pass) = (&acme["onc"]["account_id"], &acme["onc"]["username"], &acme["onc"]["password"]);
    let session = onc(
        &app,
        "OpenAPISession",
        json!({"accountId": account, "username": user, "password": pass}),
    )
    .await;
    let sid = session["SessionId"].as_str().unwrap().to_string();
    let cid = Uuid::new_v4();
    let from = Utc::now().date_naive().to_string();
    let to = (Utc::now() + Duration::days(30)).date_naive().to_string();
    let code = onc(
        &app,
        "AddCampaign",
        json!({"sessionId": sid, "campaign": {
            "ID": cid, "ShortName": "Reminders", "Description": "", "IsPaused": false,
            "ActiveFromDate": from, "ActiveFromTime": "00:00:00", "ActiveToDate": to, "ActiveToTime": "23:59:59",
            "OutboundSMSNotificationInfo": {"Enabled": true, "FromNumber": "+17608675309", "TextToSend": "Reminder"},
            "OutboundVoiceNotificationInfo": {"Enabled": true, "DialMsTimeout": 30000, "CallingName": "Clinic",
                "CallingNumber": "+17608675309", "TextToSpeak": "Reminder", "TTSVoiceName": "en-US-Female",
                "MaxTextPlays": 1, "MaxDeliveryRetries": 1, "RetryMinutesInterval": 5},
            "OutboundEmailNotificationInfo": {"Enabled": false},
            "AllowAddingContactsFromExternalApps": false, "SmsNotificationRequired": false,
            "VoiceNotificationRequired": false, "EmailNotificationRequired": false}}),
    )
    .await;
    assert_eq!(code, 0);
    let kid = Uuid::new_v4();
    let code = onc(
        &app,
        "AddCampaignContact",
        json!({"sessionId": sid, "contact": {"Id": kid, "CampaignId": cid,
            "SMSCommInfo": {"Destination": "+1 415-555-0133"},
            "VoiceCommInfo": {"Destination": "+1 415-555-0134"}}}),
    )
    .await;
    assert_eq!(code, 0);
    let got = onc(&app, "GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
    let got = got.as_array().unwrap().iter().find(|c| c["Id"] == json!(kid)).cloned().unwrap();
    assert_eq!(got["SMSCommInfo"]["StatusCode"], 7, "{got}");
    assert_eq!(got["VoiceCommInfo"]["StatusCode"], 1, "{got}");

    // Time passes: nothing is ever sent to the DNC number by any campaign.
    for _ in 0..3 {
        app.tick().await;
    }
    let (_, outbox) = app.admin_get("/admin/v1/tenants/acme/outbox").await;
    for d in outbox.as_array().unwrap() {
        if d["to_address"] == "+14155550133" {
            assert_ne!(d["status"], "sent", "{d}");
        }
    }
}

#[tokio::test]
async fn opt_out_uploaded_through_campaign_manager_blocks_apps_sms() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (s, _) = app
        .admin_post(
            "/admin/v1/tenants/acme/phone-numbers",
            json!({"number": "+1 628-555-0199", "sms": true, "voice": true, "default_outbound": true}),
        )
        .await;
    assert_eq!(s, 201);
    let cm_sid = acme["campaign_manager"]["account_sid"].as_str().unwrap();
    let cm_tok = acme["campaign_manager"]["auth_token"].as_str().unwrap();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"+14155550177\n".to_vec())
            .file_name("optout.txt")
            .mime_str("text/plain")
            .unwrap(),
    );
    let (s, v) = status_json(
        app.client
            .post(app.url("/campaignmanager/dnd/optout"))
            .basic_auth(cm_sid, Some(cm_tok))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(s == 200 || s == 201, "{s} {v}");
    let (_, listed) = app.admin_get("/admin/v1/tenants/acme/opt-outs").await;
    assert_eq!(listed[0]["number"], "+14155550177", "{listed}");

    let (s, v) = apps_post(
        &app,
        &acme,
        "/apps/api/v1/sms",
        json!({"chat_type": "Messaging (SMS)", "end_user_number": "+1 415-555-0177", "outbound_number": "+1 628-555-0199", "message": "hello"}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["message"], "end_user_number is on the Do Not Call list");
    // Another number goes through, and is recorded in the outbox.
    let (s, v) = apps_post(
        &app,
        &acme,
        "/apps/api/v1/sms",
        json!({"chat_type": "Messaging (SMS)", "end_user_number": "+1 415-555-0178", "outbound_number": "+1 628-555-0199", "message": "hello"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, outbox) = app.admin_get("/admin/v1/tenants/acme/outbox").await;
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["to_address"] == "+14155550178" && d["channel"] == "sms"),
        "{outbox}"
    );
    assert!(!outbox
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["to_address"] == "+14155550177" && d["status"] == "sent"));
}

#[tokio::test]
async fn an_admin_campaign_has_one_row_and_every_dialect_id() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let (s, camp) = app
        .admin_post("/admin/v1/tenants/acme/campaigns", json!({"name": "Shared", "kind": "leads"}))
        .await;
    assert_eq!(s, 201);
    // Leads sees it by its 32-hex id.
    let token = leads_token(&app, &acme).await;
    let hex = camp["ids"]["leads"].as_str().unwrap();
    let (s, v) = status_json(
        app.client
            .get(app.url(&format!("/api/v2/config/campaigns/{hex}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name"], "Shared");
    // Campaign Manager sees the same row by its EC sid.
    let ec = camp["ids"]["campaign_manager"].as_str().unwrap();
    let (s, v) = status_json(
        app.client
            .get(app.url(&format!("/campaignmanager/campaigns/search/{ec}")))
            .basic_auth(
                acme["campaign_manager"]["account_sid"].as_str().unwrap(),
                Some(acme["campaign_manager"]["auth_token"].as_str().unwrap()),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v.to_string().contains("Shared"), "{v}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM campaigns")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}
