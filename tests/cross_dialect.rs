//! One store, five front doors: what one dialect writes, the others honour.
//! A number put on the company DNC list through the Apps API is never dialled or texted
//! through Leads, Campaign Manager or ONC; an opt-out uploaded through Campaign Manager
//! blocks Apps SMS; a campaign made through the admin API is visible in every dialect;
//! and none of it leaks to another tenant.

mod common;

use chrono::{Duration, Utc};
use common::{status_json, AppsClient, CmClient, LeadsClient, OncClient, TestApp};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn company_dnc_from_apps_is_honoured_everywhere() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    app.credit("acme", 100).await;
    app.credit("other", 100).await;

    // Put +1 415-555-0133 on acme's company DNC list through the Apps API.
    let (s, v) = AppsClient::new(&app, &acme)
        .post(
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
    let leads = LeadsClient::login(&app, &acme).await;
    let (s, lead) = leads
        .send(
            Method::PUT,
            &format!("/api/v2/config/campaigns/{hex}/lead"),
            Some(json!({"number": "+14155550133", "first_name": "Do", "last_name": "Not"})),
        )
        .await;
    assert_eq!(s, 200, "{lead}");
    assert_eq!(lead["status"], "dnc", "{lead}");
    let (_, ocamp) = app
        .admin_post("/admin/v1/tenants/other/campaigns", json!({"name": "Leads", "kind": "leads"}))
        .await;
    let oleads = LeadsClient::login(&app, &other).await;
    let (s, olead) = oleads
        .send(
            Method::PUT,
            &format!("/api/v2/config/campaigns/{}/lead", ocamp["ids"]["leads"].as_str().unwrap()),
            Some(json!({"number": "+14155550133"})),
        )
        .await;
    assert_eq!(s, 200, "{olead}");
    assert_eq!(olead["status"], "new", "another tenant's DNC list does not apply: {olead}");
    // acme's campaign is not visible to the other tenant through Leads.
    let r = oleads
        .req(Method::GET, &format!("/api/v2/config/campaigns/{hex}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());

    // Campaign Manager: the DNC number is dropped from the recipients and not charged.
    let cm = CmClient::new(&app, &acme);
    let start = (Utc::now() + Duration::days(1)).format("%Y-%m-%dT%H:%M:%S+0000").to_string();
    let (s, v) = cm
        .post(
            "/campaignmanager/campaigns",
            json!({"name": "Promo", "startTime": start, "fromPrefix": "1", "to": "+14155550133,+14155550134", "channel": "sms", "body": "Hi"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["data"]["total"], 1, "only the non-DNC recipient is charged: {v}");
    let (_, credits) = app.admin_get("/admin/v1/tenants/acme/credits").await;
    let balance: i64 = credits.as_array().unwrap().iter().map(|c| c["amount"].as_i64().unwrap()).sum();
    assert_eq!(balance, 99);

    // ONC: a contact whose SMS and voice destination is on the list gets StatusCode 7 there.
    let onc = OncClient::open(&app, &acme).await;
    let sid = onc.session.clone();
    let cid = Uuid::new_v4();
    let from = Utc::now().date_naive().to_string();
    let to = (Utc::now() + Duration::days(30)).date_naive().to_string();
    let code = onc
        .call(
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
    let code = onc
        .call(
            "AddCampaignContact",
            json!({"sessionId": sid, "contact": {"Id": kid, "CampaignId": cid,
            "SMSCommInfo": {"Destination": "+1 415-555-0133"},
            "VoiceCommInfo": {"Destination": "+1 415-555-0134"}}}),
        )
        .await;
    assert_eq!(code, 0);
    let got = onc.call("GetCampaignContacts", json!({"sessionId": sid, "campaignId": cid})).await;
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
    let cm = CmClient::new(&app, &acme);
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"+14155550177\n".to_vec())
            .file_name("optout.txt")
            .mime_str("text/plain")
            .unwrap(),
    );
    let (s, v) = status_json(
        cm.req(Method::POST, "/campaignmanager/dnd/optout")
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(s == 200 || s == 201, "{s} {v}");
    let (_, listed) = app.admin_get("/admin/v1/tenants/acme/opt-outs").await;
    assert_eq!(listed[0]["number"], "+14155550177", "{listed}");
    let apps = AppsClient::new(&app, &acme);

    let (s, v) = apps
        .post(
        "/apps/api/v1/sms",
        json!({"chat_type": "Messaging (SMS)", "end_user_number": "+1 415-555-0177", "outbound_number": "+1 628-555-0199", "message": "hello"}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["message"], "end_user_number is on the Do Not Call list");
    // Another number goes through, and is recorded in the outbox.
    let (s, v) = apps
        .post(
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
    let leads = LeadsClient::login(&app, &acme).await;
    let hex = camp["ids"]["leads"].as_str().unwrap();
    let (s, v) = leads.get(&format!("/api/v2/config/campaigns/{hex}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name"], "Shared");
    // Campaign Manager sees the same row by its EC sid.
    let ec = camp["ids"]["campaign_manager"].as_str().unwrap();
    let (s, v) = CmClient::new(&app, &acme)
        .get(&format!("/campaignmanager/campaigns/search/{ec}"))
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(v.to_string().contains("Shared"), "{v}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM campaigns")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}
