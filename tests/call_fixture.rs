//! The admin call fixture (`POST /admin/v1/tenants/{slug}/calls`): a call with its Leads
//! cdr id and Apps call id, usable at once through the dialects (Leads voicemail
//! disposition, Manager calls, Leads history).

mod common;

use common::{AppsClient, LeadsClient, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

fn calls(slug: &str) -> String {
    format!("/admin/v1/tenants/{slug}/calls")
}

/// A Leads campaign fixture; returns (uuid, 32 hex).
async fn campaign(app: &TestApp, slug: &str) -> (String, String) {
    let v = app.admin_create(slug, "campaigns", json!({"name": "Calls", "kind": "leads"})).await;
    (
        v["id"].as_str().expect("id").to_string(),
        v["ids"]["leads"].as_str().expect("ids.leads").to_string(),
    )
}

fn err_names(v: &Value, field: &str) -> bool {
    v["error"].as_str().is_some_and(|e| e.starts_with(field))
}

#[tokio::test]
async fn call_fixture_gets_the_leads_voicemail_disposition() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let leads = LeadsClient::login(&app, &prov).await;
    let apps = AppsClient::new(&app, &prov);
    let (camp, camp_hex) = campaign(&app, "acme").await;
    let (s, lead) = leads
        .send(
            Method::PUT,
            &format!("/api/v2/config/campaigns/{camp_hex}/lead"),
            Some(json!({"number": "+12135550400", "first_name": "Raven", "last_name": "Shields"})),
        )
        .await;
    assert!((200..300).contains(&s), "{lead}");
    let lead_id = lead["id"].as_str().expect("lead id").to_string();

    // the lead's number and campaign are the call's when not given
    let (s, call) = app.admin_post(&calls("acme"), json!({"lead": lead_id})).await;
    assert_eq!(s, 201, "{call}");
    let id = call["id"].as_str().expect("id");
    let hex = call["ids"]["leads"].as_str().expect("ids.leads").to_string();
    assert_eq!(hex.len(), 32);
    assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(hex, id.replace('-', ""));
    let seq = call["ids"]["apps"].as_i64().expect("ids.apps");
    assert_eq!(call["kind"], "call");
    assert_eq!(call["direction"], "outbound");
    assert_eq!(call["status"], "finished");
    assert_eq!(call["to"], "+12135550400");
    assert_eq!(call["campaign"], camp.as_str());
    assert_eq!(call["lead"].as_str().map(|s| s.replace('-', "")), Some(lead_id.replace('-', "")));
    assert!(call["ended_at"].is_string());

    // the Manager API shows it under its integer id
    let (s, shown) = apps.get(&format!("/manager/api/v1/calls/{seq}")).await;
    assert_eq!(s, 200, "{shown}");
    assert_eq!(shown["id"], seq);
    assert_eq!(shown["status"], "finished");

    // the Leads voicemail disposition takes the cdr id
    let (s, v) = leads
        .send(
            Method::PUT,
            &format!("/api/v2/config/campaigns/call/{hex}/disposition/voicemail"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], hex.as_str());
    assert_eq!(v["disposition"], "voicemail");
    assert_eq!(v["number"], "+12135550400");
    assert_eq!(v["campaign_id"], camp_hex.as_str());
    assert_eq!(v["lead_id"].as_str().map(|s| s.replace('-', "")), Some(lead_id.replace('-', "")));

    // and afterwards the call reads as voicemail: Manager calls, the lead, Leads history
    let (s, shown) = apps.get(&format!("/manager/api/v1/calls/{seq}")).await;
    assert_eq!(s, 200, "{shown}");
    assert_eq!(shown["status"], "voicemail");
    let (s, page) = leads.get(&format!("/api/v2/config/campaigns/{camp_hex}/leads")).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["data"][0]["status"], "voicemail");
    let now = chrono::Utc::now().timestamp();
    let (s, hist) = leads
        .get(&format!(
            "/api/v2/reports/campaigns/leads/history?startDate={}&endDate={}",
            now - 3600,
            now + 3600
        ))
        .await;
    assert_eq!(s, 200, "{hist}");
    let entries: Vec<&Value> = hist["data"]
        .as_array()
        .expect("data")
        .iter()
        .flat_map(|r| r["lead_history"].as_array().into_iter().flatten())
        .collect();
    assert!(
        entries.iter().any(|h| h["uuid"] == hex.as_str() && h["disposition"] == "voicemail"),
        "{hist}"
    );
}

#[tokio::test]
async fn call_fixture_options_and_defaults() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let (camp, camp_hex) = campaign(&app, "acme").await;
    // a bare call: no campaign, no lead; the number normalised to E.164
    let (s, v) = app.admin_post(&calls("acme"), json!({"to": "(213) 555-0401"})).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["to"], "+12135550401");
    assert!(v["campaign"].is_null() && v["lead"].is_null() && v["from"].is_null());
    let first = v["ids"]["apps"].as_i64().unwrap();
    // every field; the campaign given by its Leads hex id; a live status has no end
    let (s, v) = app
        .admin_post(
            &calls("acme"),
            json!({"to": "+12135550402", "from": "+13392195276", "direction": "inbound", "status": "connected", "campaign": camp_hex}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["campaign"], camp.as_str());
    assert_eq!(v["from"], "+13392195276");
    assert_eq!(v["direction"], "inbound");
    assert_eq!(v["status"], "connected");
    assert!(v["ended_at"].is_null());
    assert!(v["ids"]["apps"].as_i64().unwrap() > first);
}

#[tokio::test]
async fn call_fixture_refuses_bad_bodies() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let (camp, _) = campaign(&app, "acme").await;
    let other = app
        .admin_create("acme", "campaigns", json!({"name": "Other", "kind": "leads"}))
        .await;
    let cases = [
        (json!({}), "to:"),
        (json!({"to": "not a number"}), "to:"),
        (json!({"to": ""}), "to:"),
        (json!({"to": "+12135550400", "from": "12"}), "from:"),
        (json!({"to": "+12135550400", "direction": "sideways"}), "direction:"),
        (json!({"to": "+12135550400", "status": "ringing"}), "status:"),
        (json!({"to": "+12135550400", "campaign": "nope"}), "campaign:"),
        (json!({"to": "+12135550400", "lead": "nope"}), "lead:"),
        (json!({"to": 12135550400u64}), "to:"),
        (json!({"to": "+12135550400", "extra": 1}), "`extra`"),
        (json!({"to": "+1213555\u{0}0400"}), "to:"),
    ];
    for (body, field) in cases {
        let (s, v) = app.admin_post(&calls("acme"), body.clone()).await;
        assert_eq!(s, 422, "{body}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| e.contains(field)), "{body}: {v}");
    }
    // a lead of another campaign than the one given
    let leads = LeadsClient::login(&app, &prov).await;
    let lead = add_lead(&leads, other["ids"]["leads"].as_str().unwrap(), "+12135550409").await;
    let (s, v) = app.admin_post(&calls("acme"), json!({"lead": lead, "campaign": camp})).await;
    assert_eq!(s, 422, "{v}");
    assert!(err_names(&v, "lead"), "{v}");
    // malformed JSON → 400; unknown tenant → 404; no token → 401
    let r = app
        .admin(Method::POST, &calls("acme"))
        .header("Content-Type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let (s, v) = app.admin_post(&calls("nosuch"), json!({"to": "+12135550400"})).await;
    assert_eq!(s, 404, "{v}");
    let r = app
        .client
        .post(app.url(&calls("acme")))
        .json(&json!({"to": "+12135550400"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // an unknown campaign or lead id → 404 naming it
    let unknown = uuid::Uuid::new_v4().to_string();
    let (s, v) = app
        .admin_post(&calls("acme"), json!({"to": "+12135550400", "campaign": unknown}))
        .await;
    assert_eq!(s, 404, "{v}");
    assert!(err_names(&v, "campaign"), "{v}");
    let (s, v) = app.admin_post(&calls("acme"), json!({"lead": unknown})).await;
    assert_eq!(s, 404, "{v}");
    assert!(err_names(&v, "lead"), "{v}");
}

/// Adds a lead through the Leads API; returns its id.
async fn add_lead(leads: &LeadsClient, camp_hex: &str, number: &str) -> String {
    let (s, v) = leads
        .send(
            Method::PUT,
            &format!("/api/v2/config/campaigns/{camp_hex}/lead"),
            Some(json!({"number": number})),
        )
        .await;
    assert!((200..300).contains(&s), "{v}");
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn call_fixtures_stay_within_their_tenant() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let bravo = app.tenant("bravo").await;
    let (acme_camp, acme_hex) = campaign(&app, "acme").await;
    let acme_leads = LeadsClient::login(&app, &acme).await;
    let bravo_leads = LeadsClient::login(&app, &bravo).await;
    let acme_lead = add_lead(&acme_leads, &acme_hex, "+12135550410").await;
    // another tenant's campaign or lead under this slug: not found
    let (s, v) = app
        .admin_post(&calls("bravo"), json!({"to": "+12135550411", "campaign": acme_camp}))
        .await;
    assert_eq!(s, 404, "{v}");
    assert!(err_names(&v, "campaign"), "{v}");
    let (s, v) = app.admin_post(&calls("bravo"), json!({"lead": acme_lead})).await;
    assert_eq!(s, 404, "{v}");
    assert!(err_names(&v, "lead"), "{v}");
    // acme's call: bravo can neither disposition it nor see it
    let call = app.admin_create("acme", "calls", json!({"lead": acme_lead})).await;
    let hex = call["ids"]["leads"].as_str().unwrap();
    let seq = call["ids"]["apps"].as_i64().unwrap();
    let path = format!("/api/v2/config/campaigns/call/{hex}/disposition/voicemail");
    let (s, v) = bravo_leads.send(Method::PUT, &path, None).await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = AppsClient::new(&app, &bravo).get(&format!("/manager/api/v1/calls/{seq}")).await;
    assert_eq!(s, 404);
    // acme's call is unchanged, and acme can disposition it
    let (s, shown) = AppsClient::new(&app, &acme).get(&format!("/manager/api/v1/calls/{seq}")).await;
    assert_eq!(s, 200, "{shown}");
    assert_eq!(shown["status"], "finished");
    let (s, v) = acme_leads.send(Method::PUT, &path, None).await;
    assert_eq!(s, 200, "{v}");
}
