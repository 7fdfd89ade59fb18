//! Outbound dialer dialect: the vendor doc's examples and error cases, over HTTP.

mod common;

use chrono::Utc;
use common::{status_json, TestApp};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use switchboard::domain::optlists::{self, NewEntry};
use switchboard::domain::phone::PhoneNumber;
use switchboard::domain::TenantId;

const DOC_CONTACT: &str = r#"{
    "name": "string",
    "email": "customer@somedomain.com",
    "phone_number": "+1 111-111-1111",
    "outbound_number": "+1 760-867-5309",
    "external_unique_id": "UID_123456"
}"#;

/// A tenant with the doc's outbound number and one dialer campaign.
struct Tenant {
    slug: String,
    token: String,
    campaign: i64,
    /// The campaign's uuid (for the admin API).
    campaign_id: String,
    id: TenantId,
}

async fn tenant(app: &TestApp, slug: &str) -> Tenant {
    let v = app.tenant(slug).await;
    let token = v["apps"]["token"].as_str().unwrap().to_string();
    let (s, n) = app
        .admin_post(
            &format!("/admin/v1/tenants/{slug}/phone-numbers"),
            json!({"number": "+1 760-867-5309"}),
        )
        .await;
    assert_eq!(s, 201, "{n}");
    let (s, c) = app
        .admin_post(
            &format!("/admin/v1/tenants/{slug}/campaigns"),
            json!({"name": "Dialer", "kind": "outbound_dialer"}),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    let id = uuid::Uuid::parse_str(v["tenant"]["id"].as_str().unwrap()).unwrap();
    Tenant {
        slug: slug.into(),
        token,
        campaign: c["ids"]["apps"].as_i64().unwrap(),
        campaign_id: c["id"].as_str().unwrap().to_string(),
        id: TenantId(id),
    }
}

fn req(app: &TestApp, t: &Tenant, m: Method, path: &str) -> RequestBuilder {
    app.client.request(m, app.url(path)).basic_auth(&t.slug, Some(&t.token))
}

fn contacts_path(t: &Tenant) -> String {
    format!("/apps/api/v1/outbound_dialer/campaigns/{}/contacts", t.campaign)
}

fn contact_path(t: &Tenant) -> String {
    format!("/apps/api/v1/outbound_dialer/campaigns/{}/contact", t.campaign)
}

async fn send_json(app: &TestApp, t: &Tenant, m: Method, path: &str, body: &str) -> (u16, Value) {
    status_json(
        req(app, t, m, path)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn add(app: &TestApp, t: &Tenant, body: Value) -> Value {
    let (s, v) = send_json(app, t, Method::POST, &contacts_path(t), &body.to_string()).await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn suppress(app: &TestApp, t: &Tenant, list: &str, number: &str, channels: &[&str]) {
    let n = PhoneNumber::parse(number).unwrap();
    optlists::upsert(
        &app.db,
        t.id,
        NewEntry {
            list,
            list_name: "",
            number: &n,
            channels: channels.iter().map(|c| c.to_string()).collect(),
            source: "test",
            expires_at: None,
        },
        Utc::now(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn add_single_contact_doc_example() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let (s, v) = send_json(&app, &t, Method::POST, &contacts_path(&t), DOC_CONTACT).await;
    assert_eq!(s, 200, "{v}");
    let doc: Value = serde_json::from_str(DOC_CONTACT).unwrap();
    let valid = &v["valid_contacts"][0];
    for (k, x) in doc.as_object().unwrap() {
        assert_eq!(&valid[k], x, "{k}");
    }
    assert_eq!(valid["status"], "Upcoming");
    assert!(valid["id"].as_i64().is_some());
    assert_eq!(v["invalid_contacts"], json!([]));
    let row: (String, String, String, String, String, String) =
        sqlx::query_as("SELECT number, original_number, outbound_number, external_id, email, status FROM contacts WHERE tenant_id = $1")
            .bind(t.id.0)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        row,
        (
            "+11111111111".into(),
            "+1 111-111-1111".into(),
            "+17608675309".into(),
            "UID_123456".into(),
            "customer@somedomain.com".into(),
            "pending".into()
        )
    );
}

#[tokio::test]
async fn add_many_with_invalid_duplicate_and_do_not_call() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    suppress(&app, &t, "dnc", "+1 415 555 0101", &[]).await;
    suppress(&app, &t, "opt_out", "+1 415 555 0102", &["voice"]).await;
    suppress(&app, &t, "opt_out", "+1 415 555 0103", &["sms"]).await;
    add(&app, &t, json!({"name": "first", "phone_number": "+1 415 555 0100"})).await;
    let v = add(
        &app,
        &t,
        json!([
            {"name": "dup of existing", "phone_number": "(415) 555-0100"},
            {"name": "ok", "phone_number": "+1 415 555 0199", "Plan": "gold", "Score": 7},
            {"name": "dup in request", "phone_number": "+14155550199"},
            {"name": "bad phone", "phone_number": "call me"},
            {"name": "no phone"},
            {"name": "bad email", "phone_number": "+1 415 555 0104", "email": "nope"},
            {"name": "not our number", "phone_number": "+1 415 555 0105", "outbound_number": "+1 212 555 0000"},
            {"name": "dnc", "phone_number": "+1 415 555 0101"},
            {"name": "voice opt-out", "phone_number": "+1 415 555 0102"},
            {"name": "sms opt-out only", "phone_number": "+1 415 555 0103"},
            "not an object"
        ]),
    )
    .await;
    let names = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap_or("-").to_string())
            .collect()
    };
    assert_eq!(names("valid_contacts"), vec!["ok", "dnc", "voice opt-out", "sms opt-out only"]);
    assert_eq!(
        names("invalid_contacts"),
        vec![
            "dup of existing",
            "dup in request",
            "bad phone",
            "no phone",
            "bad email",
            "not our number",
            "-"
        ]
    );
    let errs: Vec<Value> = v["invalid_contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["errors"].clone())
        .collect();
    assert_eq!(errs[0], json!(["DuplicateContactPhoneOnCampaign"]));
    assert_eq!(errs[1], json!(["DuplicateContactPhoneOnCampaign"]));
    assert_eq!(errs[2], json!(["Phone number is invalid"]));
    assert_eq!(errs[3], json!(["Phone number can't be blank"]));
    assert_eq!(errs[4], json!(["Email is invalid"]));
    assert_eq!(errs[5], json!(["Outbound number is invalid"]));
    let statuses: Vec<&str> = v["valid_contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["Upcoming", "Do Not Call", "Do Not Call", "Upcoming"]);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE tenant_id = $1")
        .bind(t.id.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 5);
    let dnc: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE tenant_id = $1 AND status = 'dnc'")
        .bind(t.id.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(dnc, 2);
    // custom metadata is kept
    let (_, list) = status_json(req(&app, &t, Method::GET, &contacts_path(&t)).send().await.unwrap()).await;
    let ok = list.as_array().unwrap().iter().find(|c| c["name"] == "ok").unwrap();
    assert_eq!(ok["user_custom_metadata"]["Plan"], "gold");
    assert_eq!(ok["user_custom_metadata"]["Score"], 7);
    assert_eq!(ok["user_custom_metadata"]["PHONE (REQUIRED)"], "+1 415 555 0199");
}

/// A large array is inserted in one statement: ids follow the posted order, DNC numbers
/// and duplicates are told apart as for a single contact.
#[tokio::test]
async fn add_large_array_in_order() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    suppress(&app, &t, "dnc", "+1 415 555 0007", &[]).await;
    let items: Vec<Value> = (0..1500)
        .map(|i| json!({"name": format!("c{i}"), "phone_number": format!("+1 415 555 {:04}", i % 1200), "Row": i}))
        .collect();
    let v = add(&app, &t, Value::Array(items)).await;
    let valid = v["valid_contacts"].as_array().unwrap();
    let invalid = v["invalid_contacts"].as_array().unwrap();
    assert_eq!((valid.len(), invalid.len()), (1200, 300));
    let ids: Vec<i64> = valid.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids follow the posted order");
    for (i, c) in valid.iter().enumerate() {
        assert_eq!(c["Row"], i, "{c}");
        assert_eq!(c["status"], if i == 7 { "Do Not Call" } else { "Upcoming" }, "{c}");
    }
    assert!(invalid.iter().all(|c| c["errors"] == json!(["DuplicateContactPhoneOnCampaign"])));
    assert_eq!(invalid[0]["Row"], 1200);
    let (_, list) = status_json(req(&app, &t, Method::GET, &contacts_path(&t)).send().await.unwrap()).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1000);
    for (c, posted) in list.iter().zip(valid) {
        assert_eq!(
            (&c["id"], &c["name"], &c["status"]),
            (&posted["id"], &posted["name"], &posted["status"])
        );
        assert_eq!(c["user_custom_metadata"]["Row"], posted["Row"]);
    }
    let dnc: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE tenant_id = $1 AND status = 'dnc'")
        .bind(t.id.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(dnc, 1);
}

#[tokio::test]
async fn bad_requests_unknown_campaign_and_auth() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let (s, v) = send_json(&app, &t, Method::POST, &contacts_path(&t), "{not json").await;
    assert_eq!(s, 400);
    assert!(v["message"].as_str().unwrap().contains("Malformed JSON"), "{v}");
    let (s, v) = send_json(&app, &t, Method::POST, &contacts_path(&t), "42").await;
    assert_eq!(s, 400);
    assert!(v["message"].is_string());
    for path in [
        "/apps/api/v1/outbound_dialer/campaigns/999999/contacts",
        "/apps/api/v1/outbound_dialer/campaigns/abc/contacts",
    ] {
        let (s, v) = send_json(&app, &t, Method::POST, path, DOC_CONTACT).await;
        assert_eq!((s, v), (404, json!({"message": "Not Found"})));
        let (s, v) = status_json(req(&app, &t, Method::GET, path).send().await.unwrap()).await;
        assert_eq!((s, v), (404, json!({"message": "Not Found"})));
    }
    let r = app.client.get(app.url(&contacts_path(&t))).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .get(app.url(&contacts_path(&t)))
        .basic_auth(&t.slug, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (_, v) = status_json(r).await;
    assert_eq!(v, json!({"message": "Unauthorized"}));
}

/// Bodies, query strings and paths that axum itself refuses get the vendor's error shape.
#[tokio::test]
async fn refused_requests_keep_the_vendor_error_shape() {
    let app = TestApp::spawn_config(|mut c| {
        c.body_limit = 1000;
        c
    })
    .await;
    let t = tenant(&app, "acme").await;
    let big: Vec<Value> = (0..50)
        .map(|i| json!({"name": format!("c{i}"), "phone_number": format!("+1 415 555 {i:04}")}))
        .collect();
    let big = Value::Array(big).to_string();
    let (s, v) = send_json(&app, &t, Method::POST, &contacts_path(&t), &big).await;
    assert_eq!(s, 413, "{v}");
    assert!(v["message"].is_string(), "{v}");
    for m in [Method::PATCH, Method::DELETE] {
        let (s, v) = send_json(&app, &t, m, &contact_path(&t), &big).await;
        assert_eq!(s, 413, "{v}");
        assert!(v["message"].is_string(), "{v}");
    }
    for path in [
        format!("{}?page=1&page=2", contacts_path(&t)),
        "/manager/api/v1/outbound_dialer/campaigns?per_page=1&per_page=2".to_string(),
    ] {
        let (s, v) = status_json(req(&app, &t, Method::GET, &path).send().await.unwrap()).await;
        assert_eq!(s, 400, "{path}: {v}");
        assert!(v["message"].is_string(), "{path}: {v}");
    }
    for path in [
        "/apps/api/v1/outbound_dialer/campaigns/%FF/contacts".to_string(),
        format!("{}/jobs/%FF", contacts_path(&t)),
        "/manager/api/v1/outbound_dialer/campaigns/%FF".to_string(),
    ] {
        let (s, v) = status_json(req(&app, &t, Method::GET, &path).send().await.unwrap()).await;
        assert_eq!((s, v), (404, json!({"message": "Not Found"})), "{path}");
    }
}

#[tokio::test]
async fn list_contacts_doc_fields_and_paging() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    add(&app, &t, serde_json::from_str(DOC_CONTACT).unwrap()).await;
    let more: Vec<Value> = (0..4)
        .map(|i| json!({"name": format!("c{i}"), "phone_number": format!("+1 415 555 01{i:02}")}))
        .collect();
    add(&app, &t, Value::Array(more)).await;
    let r = req(&app, &t, Method::GET, &contacts_path(&t)).send().await.unwrap();
    assert!(r.headers().get("total").is_none());
    let (s, v) = status_json(r).await;
    assert_eq!(s, 200);
    let all = v.as_array().unwrap();
    assert_eq!(all.len(), 5);
    let doc: Value = serde_json::from_str(DOC_CONTACT).unwrap();
    for (k, x) in doc.as_object().unwrap() {
        assert_eq!(&all[0][k], x, "{k}");
    }
    assert_eq!(all[0]["campaign_id"], t.campaign);
    assert_eq!(all[0]["status"], "Upcoming");
    let r = req(&app, &t, Method::GET, &format!("{}?page=2&per_page=2", contacts_path(&t)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["total"], "5");
    assert_eq!(r.headers()["per-page"], "2");
    let link = r.headers()["link"].to_str().unwrap().to_string();
    assert!(link.contains("page=3&per_page=2>; rel=\"next\""), "{link}");
    let (_, v) = status_json(r).await;
    let names: Vec<&str> = v.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["c1", "c2"]);
    let (s, v) = status_json(
        req(&app, &t, Method::GET, &format!("{}?per_page=5000", contacts_path(&t)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert!(v["message"].is_string());
}

#[tokio::test]
async fn patch_contact_doc_example() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let v = add(
        &app,
        &t,
        json!({"name": "string", "phone_number": "+1 222-222-2222", "outbound_number": "+1-(760)-867-5309", "Plan": "gold"}),
    )
    .await;
    let id = v["valid_contacts"][0]["id"].as_i64().unwrap();
    let body = json!({
        "contact_id": id,
        "name": "Bob Smith",
        "email": "customer@somedomain.com",
        "phone_number": "+1 111-111-1111",
        "external_unique_id": "UID_123456"
    });
    let (s, v) = send_json(&app, &t, Method::PATCH, &contact_path(&t), &body.to_string()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], id);
    assert_eq!(v["name"], "Bob Smith");
    assert_eq!(v["campaign_id"], t.campaign);
    assert_eq!(v["assigned_call_id"], Value::Null);
    assert_eq!(v["assigned_participant_id"], Value::Null);
    assert_eq!(v["outbound_number"], "+1-(760)-867-5309");
    assert_eq!(v["priority"], Value::Null);
    assert_eq!(v["status"], "Upcoming");
    let created = v["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    assert_eq!(
        v["user_custom_metadata"],
        json!({"NAME (REQUIRED)": "Bob Smith", "PHONE (REQUIRED)": "+1 111-111-1111", "EMAIL (REQUIRED)": "customer@somedomain.com", "Plan": "gold"})
    );
    let (number, ext): (String, String) = sqlx::query_as("SELECT number, external_id FROM contacts WHERE tenant_id = $1 AND seq = $2")
        .bind(t.id.0)
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!((number.as_str(), ext.as_str()), ("+11111111111", "UID_123456"));

    // errors
    let other = add(&app, &t, json!({"name": "other", "phone_number": "+1 333-333-3333"})).await;
    let other_id = other["valid_contacts"][0]["id"].as_i64().unwrap();
    let (s, v) = send_json(
        &app,
        &t,
        Method::PATCH,
        &contact_path(&t),
        &json!({"contact_id": other_id, "phone_number": "+1 111 111 1111"}).to_string(),
    )
    .await;
    assert_eq!((s, v), (400, json!({"message": "DuplicateContactPhoneOnCampaign"})));
    let (s, v) = send_json(
        &app,
        &t,
        Method::PATCH,
        &contact_path(&t),
        &json!({"contact_id": id, "email": "x"}).to_string(),
    )
    .await;
    assert_eq!((s, v), (400, json!({"message": "Email is invalid"})));
    let (s, v) = send_json(&app, &t, Method::PATCH, &contact_path(&t), &json!({"name": "x"}).to_string()).await;
    assert_eq!((s, v), (400, json!({"message": "contact_id is required"})));
    let (s, v) = send_json(
        &app,
        &t,
        Method::PATCH,
        &contact_path(&t),
        &json!({"contact_id": 987654}).to_string(),
    )
    .await;
    assert_eq!((s, v), (404, json!({"message": "Not Found"})));
    let (s, _) = send_json(&app, &t, Method::PATCH, &contact_path(&t), "nope").await;
    assert_eq!(s, 400);
    // the vendor's states can be set; unknown ones are refused
    let (s, v) = send_json(
        &app,
        &t,
        Method::PATCH,
        &contact_path(&t),
        &json!({"contact_id": id, "status": "Finished"}).to_string(),
    )
    .await;
    assert_eq!((s, v["status"].clone()), (200, json!("Finished")), "{v}");
    let st: String = sqlx::query_scalar("SELECT status FROM contacts WHERE tenant_id = $1 AND seq = $2")
        .bind(t.id.0)
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(st, "completed");
    let (s, v) = send_json(
        &app,
        &t,
        Method::PATCH,
        &contact_path(&t),
        &json!({"contact_id": id, "status": "Bogus"}).to_string(),
    )
    .await;
    assert_eq!((s, v), (400, json!({"message": "Status is invalid"})));
    // a contact read back and sent again keeps its metadata clean
    let (_, got) = status_json(req(&app, &t, Method::GET, &contacts_path(&t)).send().await.unwrap()).await;
    let mut back = got[0].clone();
    back["contact_id"] = back["id"].clone();
    back["user_custom_metadata"]["Plan"] = json!("silver");
    let (s, v) = send_json(&app, &t, Method::PATCH, &contact_path(&t), &back.to_string()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["user_custom_metadata"],
        json!({"NAME (REQUIRED)": "Bob Smith", "PHONE (REQUIRED)": "+1 111-111-1111", "EMAIL (REQUIRED)": "customer@somedomain.com", "Plan": "silver"})
    );
    // a suppressed new number makes the contact Do Not Call
    suppress(&app, &t, "dnc", "+1 444 444 4444", &[]).await;
    let (s, v) = send_json(
        &app,
        &t,
        Method::PATCH,
        &contact_path(&t),
        &json!({"contact_id": other_id, "phone_number": "+1 444 444 4444"}).to_string(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "Do Not Call");
}

/// Every one of the doc's 21 states can be set by PATCH and reads back the same, through
/// PATCH, GET and the Manager's contact_stats.
#[tokio::test]
async fn patch_every_vendor_state_round_trips() {
    const STATES: [&str; 21] = [
        "Upcoming",
        "Dialing",
        "Queued",
        "Connected",
        "Finished",
        "Transferred",
        "Transferred and Finished",
        "Not Picked Up",
        "Not Reached to Contact",
        "Abandoned by Contact",
        "Skipped",
        "Skipped and Closed",
        "Invalid Number",
        "Carrier Error",
        "Abandoned by Dialer",
        "Voicemail hang-up",
        "Dialer General Error",
        "Redial Scheduled",
        "Do Not Call",
        "Invalid Outbound Number",
        "Blocked phone number",
    ];
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let items: Vec<Value> = (0..STATES.len())
        .map(|i| json!({"name": format!("c{i}"), "phone_number": format!("+1 415 555 {i:04}")}))
        .collect();
    let v = add(&app, &t, Value::Array(items)).await;
    for (c, state) in v["valid_contacts"].as_array().unwrap().iter().zip(STATES) {
        let body = json!({"contact_id": c["id"], "status": state}).to_string();
        let (s, v) = send_json(&app, &t, Method::PATCH, &contact_path(&t), &body).await;
        assert_eq!((s, v["status"].as_str()), (200, Some(state)), "{v}");
    }
    let (_, list) = status_json(req(&app, &t, Method::GET, &contacts_path(&t)).send().await.unwrap()).await;
    let got: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(got, STATES);
    let (_, c) = status_json(
        req(
            &app,
            &t,
            Method::GET,
            &format!("/manager/api/v1/outbound_dialer/campaigns/{}", t.campaign),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    for state in STATES {
        assert_eq!(c["contact_stats"][state], 1, "{state}: {c}");
    }
}

/// A number put on the company DNC list (through the Apps API's DNC endpoint) after its
/// contact was added is not dialled: the contact reads "Do Not Call" once the campaign
/// reaches it, and a new contact with that number is "Do Not Call" at once.
#[tokio::test]
async fn later_dnc_entry_makes_the_contact_do_not_call() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    add(
        &app,
        &t,
        json!([{"name": "a", "phone_number": "+1 415 555 0100"}, {"name": "b", "phone_number": "+1 415 555 0101"}]),
    )
    .await;
    let (s, v) = send_json(
        &app,
        &t,
        Method::POST,
        "/apps/api/v1/outbound_dialer/dnc",
        &json!({"contacts": [{"phone_number": "+1-4155550101"}]}).to_string(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    app.campaign_events(&t.slug, &t.campaign_id, &["schedule", "start"]).await;
    app.tick().await;
    // a call dials for 5 s and lasts 30 s on the tenant clock
    app.clock(&t.slug, json!({"advance_seconds": 60})).await;
    let (_, list) = status_json(req(&app, &t, Method::GET, &contacts_path(&t)).send().await.unwrap()).await;
    let got: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(got, vec![("a", "Finished"), ("b", "Do Not Call")]);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE tenant_id = $1 AND status = 'answered'")
        .bind(t.id.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 1, "only a was dialled");
    let (_, c2) = app
        .admin_post(
            &format!("/admin/v1/tenants/{}/campaigns", t.slug),
            json!({"name": "Second", "kind": "outbound_dialer"}),
        )
        .await;
    let second = Tenant {
        slug: t.slug.clone(),
        token: t.token.clone(),
        campaign: c2["ids"]["apps"].as_i64().unwrap(),
        campaign_id: c2["id"].as_str().unwrap().to_string(),
        id: t.id,
    };
    let v = add(&app, &second, json!({"name": "b", "phone_number": "(415) 555-0101"})).await;
    assert_eq!(v["valid_contacts"][0]["status"], "Do Not Call");
}

#[tokio::test]
async fn delete_contact_by_id_phone_or_external_id() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let v = add(
        &app,
        &t,
        json!([
            {"name": "Bob Smith", "phone_number": "+1 111-111-1111", "email": "customer@somedomain.com"},
            {"name": "two", "phone_number": "+1 222-222-2222"},
            {"name": "three", "phone_number": "+1 333-333-3333", "external_unique_id": "UID_3"}
        ]),
    )
    .await;
    let id = v["valid_contacts"][0]["id"].as_i64().unwrap();
    // the doc's own body, trailing comma included
    let (s, v) = send_json(
        &app,
        &t,
        Method::DELETE,
        &contact_path(&t),
        &format!("{{\n    \"contact_id\": {id},\n}}"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], id);
    assert_eq!(v["name"], "Bob Smith");
    assert_eq!(v["status"], "Upcoming");
    assert_eq!(v["user_custom_metadata"]["EMAIL (REQUIRED)"], "customer@somedomain.com");
    let (s, v) = send_json(&app, &t, Method::DELETE, &contact_path(&t), &json!({"contact_id": id}).to_string()).await;
    assert_eq!((s, v), (404, json!({"message": "Not Found"})));
    let (s, v) = send_json(
        &app,
        &t,
        Method::DELETE,
        &contact_path(&t),
        &json!({"phone_number": "(222) 222-2222"}).to_string(),
    )
    .await;
    assert_eq!((s, v["name"].clone()), (200, json!("two")));
    let (s, v) = send_json(
        &app,
        &t,
        Method::DELETE,
        &contact_path(&t),
        &json!({"external_unique_id": "UID_3"}).to_string(),
    )
    .await;
    assert_eq!((s, v["name"].clone()), (200, json!("three")));
    let (s, v) = send_json(&app, &t, Method::DELETE, &contact_path(&t), "{}").await;
    assert_eq!(s, 400);
    assert!(v["message"].is_string());
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE tenant_id = $1")
        .bind(t.id.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

fn file_form(data: Vec<u8>) -> Form {
    Form::new().part(
        "file",
        Part::bytes(data).file_name("contacts.json").mime_str("application/json").unwrap(),
    )
}

async fn upload(app: &TestApp, t: &Tenant, form: Form) -> (u16, Value, Option<String>) {
    let r = req(app, t, Method::POST, &format!("{}/import", contacts_path(t)))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let loc = r.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    let (s, v) = status_json(r).await;
    (s, v, loc)
}

async fn wait_job(app: &TestApp, t: &Tenant, job: i64, secs: u64) -> Value {
    let path = format!("{}/jobs/{job}", contacts_path(t));
    app.eventually(secs, || async {
        let (s, v) = status_json(req(app, t, Method::GET, &path).send().await.unwrap()).await;
        assert_eq!(s, 200, "{v}");
        (v["status"] != "in_progress").then_some(v)
    })
    .await
}

#[tokio::test]
async fn import_doc_file_and_job_status() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let file = format!(
        "[\n  {DOC_CONTACT},\n  {{\"name\": \"bad\", \"phone_number\": \"x\"}},\n  {{\"name\": \"b\", \"phone_number\": \"+1 415 555 0100\", \"Plan\": \"gold\"}}\n]\n"
    );
    let (s, v, loc) = upload(&app, &t, file_form(file.into_bytes())).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["status"], "in_progress");
    assert_eq!(v["type"], "Jobs::Bulk::Campaign::ParentJob");
    let job = v["id"].as_i64().unwrap();
    assert_eq!(
        loc.as_deref(),
        Some(format!("/apps/api/v1/outbound_dialer/campaigns/{}/contacts/jobs/{job}", t.campaign).as_str())
    );
    let v = wait_job(&app, &t, job, 30).await;
    assert_eq!(v["id"], job);
    assert_eq!(v["status"], "completed");
    assert_eq!(v["type"], "Jobs::Bulk::Campaign::ParentJob");
    assert_eq!(
        (v["total"].as_i64(), v["imported"].as_i64(), v["invalid"].as_i64()),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(v["errors"], json!([{"index": 1, "errors": ["Phone number is invalid"]}]));
    let (_, list) = status_json(req(&app, &t, Method::GET, &contacts_path(&t)).send().await.unwrap()).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["external_unique_id"], "UID_123456");
    assert_eq!(list[1]["user_custom_metadata"]["Plan"], "gold");

    // importing the same file again: every contact is a duplicate or invalid → failed
    let file = format!("[{DOC_CONTACT}]");
    let (s, v, _) = upload(&app, &t, file_form(file.into_bytes())).await;
    assert_eq!(s, 202);
    let v = wait_job(&app, &t, v["id"].as_i64().unwrap(), 30).await;
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(
        v["error_details"],
        "NativePowerDial::ContactService::DuplicateContactPhoneOnCampaign"
    );
    assert_eq!(v["error_message"], "Internal Error");
    assert_eq!(v["type"], "Jobs::Bulk::Campaign::StartImport");

    // an empty array completes with nothing imported
    let (s, v, _) = upload(&app, &t, file_form(b" [ ] ".to_vec())).await;
    assert_eq!(s, 202);
    let v = wait_job(&app, &t, v["id"].as_i64().unwrap(), 30).await;
    assert_eq!((v["status"].clone(), v["total"].clone()), (json!("completed"), json!(0)));

    // unknown job, job of another campaign
    let (s, v) = status_json(
        req(&app, &t, Method::GET, &format!("{}/jobs/424242", contacts_path(&t)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, v), (404, json!({"message": "Not Found"})));
    let (_, c2) = app
        .admin_post(
            &format!("/admin/v1/tenants/{}/campaigns", t.slug),
            json!({"name": "Other", "kind": "outbound_dialer"}),
        )
        .await;
    let (s, _) = status_json(
        req(
            &app,
            &t,
            Method::GET,
            &format!("/apps/api/v1/outbound_dialer/campaigns/{}/contacts/jobs/{job}", c2["ids"]["apps"]),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn import_rejects_bad_uploads() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    for bad in [
        &b"[{\"name\": \"a\", \"phone_number\": \"+14155550100\"},"[..],
        b"{\"name\": \"a\"}",
        b"[{\"name\": \"a\" \"phone_number\": 1}]",
        b"[{\"a\": 1}] trailing",
        b"",
    ] {
        let (s, v, _) = upload(&app, &t, file_form(bad.to_vec())).await;
        assert_eq!(s, 400, "{}: {v}", String::from_utf8_lossy(bad));
        assert!(
            v["message"].as_str().unwrap().contains("JSON") || v["message"].as_str().unwrap().contains("empty"),
            "{v}"
        );
    }
    // no file part
    let (s, v, _) = upload(&app, &t, Form::new().text("other", "x")).await;
    assert_eq!((s, v), (400, json!({"message": "file is required"})));
    // not multipart
    let (s, v) = send_json(&app, &t, Method::POST, &format!("{}/import", contacts_path(&t)), "[]").await;
    assert_eq!(s, 400);
    assert!(v["message"].is_string());
    // nothing stored, no job
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs").fetch_one(&app.db).await.unwrap();
    assert_eq!(n, 0);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM blobs").fetch_one(&app.db).await.unwrap();
    assert_eq!(n, 0);
    // unknown campaign
    let r = app
        .client
        .post(app.url("/apps/api/v1/outbound_dialer/campaigns/999/contacts/import"))
        .basic_auth(&t.slug, Some(&t.token))
        .multipart(file_form(b"[]".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(status_json(r).await, (404, json!({"message": "Not Found"})));
}

/// The stored file and its job are one transaction: when the job cannot be created, no
/// file is left behind.
#[tokio::test]
async fn import_file_and_job_are_stored_together() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    sqlx::raw_sql(
        "CREATE FUNCTION no_jobs() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no jobs today'; END $$;
         CREATE TRIGGER no_jobs BEFORE INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION no_jobs();",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let (s, v, loc) = upload(&app, &t, file_form(format!("[{DOC_CONTACT}]").into_bytes())).await;
    assert_eq!((s, v, loc), (500, json!({"message": "Internal Server Error"}), None));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM blobs").fetch_one(&app.db).await.unwrap();
    assert_eq!(n, 0, "no orphan file");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM blob_chunks")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 0);
    sqlx::raw_sql("DROP TRIGGER no_jobs ON jobs").execute(&app.db).await.unwrap();
    let (s, v, _) = upload(&app, &t, file_form(format!("[{DOC_CONTACT}]").into_bytes())).await;
    assert_eq!(s, 202, "{v}");
    let v = wait_job(&app, &t, v["id"].as_i64().unwrap(), 30).await;
    assert_eq!((v["status"].clone(), v["imported"].clone()), (json!("completed"), json!(1)));
}

/// The French doc's parameter table names the file part `fichier`: accepted as `file`.
#[tokio::test]
async fn import_accepts_the_french_part_name() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let form = Form::new().part(
        "fichier",
        Part::bytes(format!("[{DOC_CONTACT}]").into_bytes())
            .file_name("contacts.json")
            .mime_str("application/json")
            .unwrap(),
    );
    let (s, v, _) = upload(&app, &t, form).await;
    assert_eq!(s, 202, "{v}");
    let v = wait_job(&app, &t, v["id"].as_i64().unwrap(), 30).await;
    assert_eq!((v["status"].clone(), v["imported"].clone()), (json!("completed"), json!(1)));
    let ext: String = sqlx::query_scalar("SELECT external_id FROM contacts WHERE tenant_id = $1")
        .bind(t.id.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(ext, "UID_123456");
}

/// Imported numbers on the DNC list or opted out of voice are kept with "Do Not Call";
/// an SMS-only opt-out does not stop a call.
#[tokio::test]
async fn import_marks_suppressed_numbers_do_not_call() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    suppress(&app, &t, "dnc", "+1 415 555 0101", &[]).await;
    suppress(&app, &t, "opt_out", "+1 415 555 0102", &["voice"]).await;
    suppress(&app, &t, "opt_out", "+1 415 555 0103", &["sms"]).await;
    let file = json!([
        {"name": "ok", "phone_number": "+1 415 555 0100"},
        {"name": "dnc", "phone_number": "(415) 555-0101"},
        {"name": "voice opt-out", "phone_number": "+1 415 555 0102"},
        {"name": "sms opt-out", "phone_number": "+1 415 555 0103"}
    ]);
    let (s, v, _) = upload(&app, &t, file_form(file.to_string().into_bytes())).await;
    assert_eq!(s, 202, "{v}");
    let v = wait_job(&app, &t, v["id"].as_i64().unwrap(), 30).await;
    assert_eq!((v["status"].clone(), v["imported"].clone()), (json!("completed"), json!(4)), "{v}");
    let (_, list) = status_json(req(&app, &t, Method::GET, &contacts_path(&t)).send().await.unwrap()).await;
    let got: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("ok", "Upcoming"),
            ("dnc", "Do Not Call"),
            ("voice opt-out", "Do Not Call"),
            ("sms opt-out", "Upcoming")
        ]
    );
}

#[tokio::test]
async fn import_too_large_is_413() {
    let app = TestApp::spawn_config(|mut c| {
        c.upload_limit = 1000;
        c
    })
    .await;
    let t = tenant(&app, "acme").await;
    let items: Vec<String> = (0..100).map(|i| format!("{{\"phone_number\": \"+1415555{i:04}\"}}")).collect();
    let (s, v, _) = upload(&app, &t, file_form(format!("[{}]", items.join(",")).into_bytes())).await;
    assert_eq!(s, 413, "{v}");
    assert!(v["message"].is_string());
}

fn big_file(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 140);
    out.extend_from_slice(b"[\n");
    for i in 0..n {
        if i > 0 {
            out.extend_from_slice(b",\n");
        }
        out.extend_from_slice(
            format!(
                "{{\"name\": \"Contact {i}\", \"email\": \"c{i}@example.com\", \"phone_number\": \"+1 415 {:03}-{:04}\", \"external_unique_id\": \"UID_{i}\", \"Segment\": \"s{}\"}}",
                200 + i / 10000,
                i % 10000,
                i % 7
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(b"\n]\n");
    out
}

/// The campaign's uuid (its contacts' writers serialise on a lock keyed by it).
async fn campaign_uuid(app: &TestApp, t: &Tenant) -> uuid::Uuid {
    sqlx::query_scalar("SELECT id FROM campaigns WHERE tenant_id = $1 AND seq = $2")
        .bind(t.id.0)
        .bind(t.campaign)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// Takes the campaign's writer lock (the one the import takes per batch) on `conn`.
async fn hold_campaign_lock(conn: &mut sqlx::PgConnection, campaign: uuid::Uuid) {
    sqlx::query("SELECT pg_advisory_lock(hashtextextended('contacts:' || $1::text, 0))")
        .bind(campaign)
        .execute(&mut *conn)
        .await
        .unwrap();
}

async fn release_campaign_lock(conn: &mut sqlx::PgConnection, campaign: uuid::Uuid) {
    sqlx::query("SELECT pg_advisory_unlock(hashtextextended('contacts:' || $1::text, 0))")
        .bind(campaign)
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// Waits until exactly `n` sessions wait for an advisory lock.
async fn wait_lock_waiters(app: &TestApp, n: i64) {
    let db = app.db.clone();
    app.eventually(60, || {
        let db = db.clone();
        async move {
            let w: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .fetch_one(&db)
            .await
            .unwrap();
            (w == n).then_some(())
        }
    })
    .await;
}

/// 100,000 contacts, with a restart of the server in the middle of the import: the job is
/// taken over from its last checkpoint and no contact is lost or imported twice.
///
/// Deterministic whatever the machine's speed: the test pauses the worker on the
/// campaign's writer lock. Holder A has the lock before the upload, so the worker waits
/// in its first batch; holder B then queues behind the worker and A lets go: Postgres
/// grants the lock in queue order, so the worker commits exactly one batch and then waits
/// behind B in its second. The server is then stopped as if it crashed (its waiting
/// database session is killed), a new one takes the job over, and B lets go.
#[tokio::test]
async fn import_100k_survives_a_restart() {
    use sqlx::Connection;
    const N: usize = 100_000;
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let campaign = campaign_uuid(&app, &t).await;
    // the holders have their own connections: the restart closes the app's pool
    let mut a = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let mut b = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    hold_campaign_lock(&mut a, campaign).await;
    let (s, v, _) = upload(&app, &t, file_form(big_file(N))).await;
    assert_eq!(s, 202, "{v}");
    let job = v["id"].as_i64().unwrap();
    wait_lock_waiters(&app, 1).await; // the worker, in its first batch
    let b_waits = tokio::spawn(async move {
        hold_campaign_lock(&mut b, campaign).await;
        b
    });
    wait_lock_waiters(&app, 2).await; // the worker, then B
    release_campaign_lock(&mut a, campaign).await;
    let mut b = b_waits.await.unwrap(); // B has it: the worker committed one batch
    wait_lock_waiters(&app, 1).await; // the worker, in its second batch
    let (status, before): (String, i64) =
        sqlx::query_as("SELECT status, COALESCE((progress->>'total')::bigint, 0) FROM jobs WHERE seq = $1")
            .bind(job)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(status, "running");
    assert_eq!(before, 1000, "one batch is committed");
    // the crash: the old worker's session dies (its second batch is rolled back)
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(killed, vec![true]);
    let app = app.restart().await;
    let (status, after): (String, i64) =
        sqlx::query_as("SELECT status, COALESCE((progress->>'total')::bigint, 0) FROM jobs WHERE seq = $1")
            .bind(job)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((status.as_str(), after), ("running", before), "the import is still in the middle");
    // the old worker is gone: let its lease run out now
    sqlx::query("UPDATE jobs SET locked_until = now() - interval '1 second' WHERE seq = $1")
        .bind(job)
        .execute(&app.db)
        .await
        .unwrap();
    wait_lock_waiters(&app, 1).await; // the new worker took the job over and waits for B
    let (locked_by, attempts): (String, i32) = sqlx::query_as("SELECT locked_by, attempts FROM jobs WHERE seq = $1")
        .bind(job)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!((locked_by.as_str(), attempts), (&*app.state.worker_id, 2));
    let (_, v) = status_json(
        req(&app, &t, Method::GET, &format!("{}/jobs/{job}", contacts_path(&t)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((v["status"].clone(), v["total"].clone()), (json!("in_progress"), json!(before)));
    release_campaign_lock(&mut b, campaign).await;
    let v = wait_job(&app, &t, job, 600).await;
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["total"], N);
    assert_eq!(v["imported"], N);
    assert_eq!(v["invalid"], 0);
    let (count, distinct, ext): (i64, i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT number), count(DISTINCT external_id) FROM contacts WHERE tenant_id = $1")
            .bind(t.id.0)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((count, distinct, ext), (N as i64, N as i64, N as i64));
    // paging through a large campaign
    let r = req(&app, &t, Method::GET, &format!("{}?page=100&per_page=1000", contacts_path(&t)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["total"], N.to_string().as_str());
    let (_, v) = status_json(r).await;
    assert_eq!(v.as_array().unwrap().len(), 1000);
    assert_eq!(v[999]["external_unique_id"], format!("UID_{}", N - 1));
    let r = req(&app, &t, Method::GET, &contacts_path(&t)).send().await.unwrap();
    assert_eq!(r.headers()["total"], N.to_string().as_str());
    let (_, v) = status_json(r).await;
    assert_eq!(v.as_array().unwrap().len(), 1000);
}

#[tokio::test]
async fn cross_tenant_access_is_not_found() {
    let app = TestApp::spawn().await;
    let a = tenant(&app, "acme").await;
    let b = tenant(&app, "globex").await;
    let v = add(&app, &a, serde_json::from_str(DOC_CONTACT).unwrap()).await;
    let id = v["valid_contacts"][0]["id"].as_i64().unwrap();
    let (s, v, _) = upload(&app, &a, file_form(b"[]".to_vec())).await;
    assert_eq!(s, 202);
    let job = v["id"].as_i64().unwrap();
    // b uses a's campaign id
    let foreign = Tenant {
        slug: b.slug.clone(),
        token: b.token.clone(),
        campaign: a.campaign,
        campaign_id: a.campaign_id.clone(),
        id: b.id,
    };
    let nf = json!({"message": "Not Found"});
    assert_eq!(
        send_json(&app, &foreign, Method::POST, &contacts_path(&foreign), DOC_CONTACT).await,
        (404, nf.clone())
    );
    assert_eq!(
        status_json(req(&app, &foreign, Method::GET, &contacts_path(&foreign)).send().await.unwrap()).await,
        (404, nf.clone())
    );
    let body = json!({"contact_id": id, "name": "x"}).to_string();
    assert_eq!(
        send_json(&app, &foreign, Method::PATCH, &contact_path(&foreign), &body).await,
        (404, nf.clone())
    );
    assert_eq!(
        send_json(&app, &foreign, Method::DELETE, &contact_path(&foreign), &body).await,
        (404, nf.clone())
    );
    assert_eq!(
        status_json(
            req(&app, &foreign, Method::GET, &format!("{}/jobs/{job}", contacts_path(&foreign)))
                .send()
                .await
                .unwrap()
        )
        .await,
        (404, nf.clone())
    );
    let (s, _, _) = upload(&app, &foreign, file_form(b"[]".to_vec())).await;
    assert_eq!(s, 404);
    // b's own campaign cannot reach a's contact or job either
    let body = json!({"contact_id": id, "name": "x"}).to_string();
    assert_eq!(
        send_json(&app, &b, Method::PATCH, &contact_path(&b), &body).await,
        (404, nf.clone())
    );
    assert_eq!(
        status_json(
            req(&app, &b, Method::GET, &format!("{}/jobs/{job}", contacts_path(&b)))
                .send()
                .await
                .unwrap()
        )
        .await,
        (404, nf.clone())
    );
    assert_eq!(
        status_json(
            req(
                &app,
                &b,
                Method::GET,
                &format!("/manager/api/v1/outbound_dialer/campaigns/{}", a.campaign)
            )
            .send()
            .await
            .unwrap()
        )
        .await,
        (404, nf.clone())
    );
    // b's Manager list holds b's campaign only
    let (s, list) = status_json(
        req(&app, &b, Method::GET, "/manager/api/v1/outbound_dialer/campaigns")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    let ids: Vec<i64> = list.as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![b.campaign]);
    // a's credentials on b's subdomain
    let r = app
        .client
        .get(app.url(&contacts_path(&a)))
        .basic_auth(&a.slug, Some(&a.token))
        .header("host", "globex.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // a's contact is untouched
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE tenant_id = $1 AND name = 'string'")
        .bind(a.id.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn manager_campaigns_read_side() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    suppress(&app, &t, "dnc", "+1 415 555 0101", &[]).await;
    add(
        &app,
        &t,
        json!([
            {"phone_number": "+1 415 555 0100"},
            {"phone_number": "+1 415 555 0101"},
            {"phone_number": "+1 415 555 0102"}
        ]),
    )
    .await;
    let (s, other) = app
        .admin_post(
            &format!("/admin/v1/tenants/{}/campaigns", t.slug),
            json!({"name": "Leads one", "kind": "leads", "status": "paused",
                   "attrs": {"mode": "predictive", "external_campaign_id": "EXT-1", "max_redial_count": 3, "redial_interval_minutes": 30}}),
        )
        .await;
    assert_eq!(s, 201, "{other}");
    let (s, v) = status_json(
        req(&app, &t, Method::GET, "/manager/api/v1/outbound_dialer/campaigns")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let c = &list[0];
    assert_eq!(c["id"], t.campaign);
    assert_eq!(c["name"], "Dialer");
    assert_eq!(c["campaign_type"], "outbound_dialer");
    assert_eq!(c["status"], "draft");
    assert_eq!(c["contact_stats"]["Upcoming"], 2);
    assert_eq!(c["contact_stats"]["Do Not Call"], 1);
    assert_eq!(c["contact_stats"]["Finished"], 0);
    assert_eq!(c["contact_stats"].as_object().unwrap().len(), 21);
    for k in [
        "mode",
        "external_campaign_id",
        "max_redial_count",
        "redial_interval_minutes",
        "created_at",
        "updated_at",
        "starts_at",
        "ends_at",
    ] {
        assert!(c.get(k).is_some(), "{k}");
    }
    let (s, v) = status_json(
        req(
            &app,
            &t,
            Method::GET,
            &format!("/manager/api/v1/outbound_dialer/campaigns/{}", other["ids"]["apps"]),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            v["mode"].clone(),
            v["status"].clone(),
            v["external_campaign_id"].clone(),
            v["max_redial_count"].clone(),
            v["redial_interval_minutes"].clone()
        ),
        (json!("predictive"), json!("paused"), json!("EXT-1"), json!(3), json!(30))
    );
    let r = req(&app, &t, Method::GET, "/manager/api/v1/outbound_dialer/campaigns?per_page=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["total"], "2");
    let (_, v) = status_json(r).await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (s, v) = status_json(
        req(&app, &t, Method::GET, "/manager/api/v1/outbound_dialer/campaigns/77777")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, v), (404, json!({"message": "Not Found"})));
}

/// The doc's "import still in progress" example: a job whose writer waits (here on the
/// campaign's lock, held by the test) answers in_progress, then completes.
#[tokio::test]
async fn import_job_in_progress_then_completed() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let campaign: uuid::Uuid = sqlx::query_scalar("SELECT id FROM campaigns WHERE tenant_id = $1 AND seq = $2")
        .bind(t.id.0)
        .bind(t.campaign)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let mut holder = app.db.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(hashtextextended('contacts:' || $1::text, 0))")
        .bind(campaign)
        .execute(&mut *holder)
        .await
        .unwrap();
    let (s, v, _) = upload(&app, &t, file_form(format!("[{DOC_CONTACT}]").into_bytes())).await;
    assert_eq!(s, 202);
    let job = v["id"].as_i64().unwrap();
    // wait until the worker has claimed it, then it is blocked on the lock
    let db = app.db.clone();
    app.eventually(30, || {
        let db = db.clone();
        async move {
            let st: String = sqlx::query_scalar("SELECT status FROM jobs WHERE seq = $1")
                .bind(job)
                .fetch_one(&db)
                .await
                .unwrap();
            (st == "running").then_some(())
        }
    })
    .await;
    let path = format!("{}/jobs/{job}", contacts_path(&t));
    let (s, v) = status_json(req(&app, &t, Method::GET, &path).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(
        (v["id"].clone(), v["status"].clone(), v["type"].clone()),
        (json!(job), json!("in_progress"), json!("Jobs::Bulk::Campaign::ParentJob"))
    );
    assert!(v.get("error_details").is_none());
    sqlx::query("SELECT pg_advisory_unlock(hashtextextended('contacts:' || $1::text, 0))")
        .bind(campaign)
        .execute(&mut *holder)
        .await
        .unwrap();
    drop(holder);
    let v = wait_job(&app, &t, job, 30).await;
    assert_eq!((v["status"].clone(), v["imported"].clone()), (json!("completed"), json!(1)));
}

#[tokio::test]
async fn rate_limited_like_the_apps_api() {
    let app = TestApp::spawn_config(|mut c| {
        c.apps_rate_limit = 1;
        c.apps_rate_burst = 2;
        c
    })
    .await;
    let t = tenant(&app, "acme").await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        let r = req(&app, &t, Method::GET, &contacts_path(&t)).send().await.unwrap();
        codes.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some());
            assert_eq!(status_json(r).await.1, json!({"message": "Too Many Requests"}));
        }
    }
    assert_eq!(&codes[..2], &[200, 200]);
    assert!(codes[2..].contains(&429), "{codes:?}");
}

/// Concurrent single adds of one number to one campaign: the unique index lets exactly
/// one in, every other request answers 200 with the duplicate outcome; adds of distinct
/// numbers in flight at the same time all succeed.
#[tokio::test]
async fn concurrent_single_adds_of_one_number_store_it_once() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let t = std::sync::Arc::new(t);
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (app, t) = (app.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let same = json!({"name": format!("same {i}"), "phone_number": "+1 415 555 0142"});
            let other = json!({"name": format!("other {i}"), "phone_number": format!("+1 415 555 {:04}", 150 + i)});
            let a = add(&app, &t, same).await;
            let b = add(&app, &t, other).await;
            (a, b)
        }));
    }
    let (mut added, mut dups) = (0, 0);
    for task in tasks {
        let (a, b) = task.await.unwrap();
        match (
            a["valid_contacts"].as_array().unwrap().len(),
            a["invalid_contacts"].as_array().unwrap().len(),
        ) {
            (1, 0) => added += 1,
            (0, 1) => {
                assert_eq!(
                    a["invalid_contacts"][0]["errors"],
                    json!(["DuplicateContactPhoneOnCampaign"]),
                    "{a}"
                );
                dups += 1
            }
            _ => panic!("unexpected answer {a}"),
        }
        assert_eq!(b["valid_contacts"].as_array().unwrap().len(), 1, "{b}");
        assert_eq!(b["valid_contacts"][0]["status"], "Upcoming", "{b}");
    }
    assert_eq!((added, dups), (1, 15));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE tenant_id = $1 AND number = '+14155550142'")
        .bind(t.id.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE tenant_id = $1")
        .bind(t.id.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(all, 17);
}

#[tokio::test]
async fn single_adds_survive_the_end_of_their_idle_connections() {
    // Single adds run on connections kept beside the pool (no ping on release): when the
    // server ends those sessions while they wait idle, the next adds still answer 200 and
    // are stored.
    let app = TestApp::spawn().await;
    let t = tenant(&app, "acme").await;
    let one = |i: usize| json!({"name": "x", "phone_number": format!("+1415555{:04}", 100 + i), "outbound_number": "+1 760-867-5309"});
    for i in 0..3 {
        let v = add(&app, &t, one(i)).await;
        assert_eq!(v["valid_contacts"].as_array().map(Vec::len), Some(1), "{v}");
    }
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
    )
    .bind(switchboard::db::lane::APPLICATION_NAME)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert!(!ended.is_empty() && ended.iter().all(|e| *e), "{ended:?}");
    for i in 3..6 {
        let v = add(&app, &t, one(i)).await;
        assert_eq!(v["valid_contacts"].as_array().map(Vec::len), Some(1), "{v}");
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE tenant_id = $1")
        .bind(t.id.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, 6);
}
