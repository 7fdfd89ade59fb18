//! Vendor-doc details: the Leads queue status shows an agent's number as its extension
//! when it has no separate one; an outbound-dialer import that repeats a number ends in
//! the doc's failed-job shape, keeping the per-row report as extra fields.

mod common;

use common::{status_json, TestApp};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

#[tokio::test]
async fn leads_queue_status_falls_back_to_the_agent_number() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    for body in [
        json!({"email": "num@example.com", "first_name": "Num", "agent_number": "5865"}),
        json!({"email": "ext@example.com", "first_name": "Ext", "agent_number": "5865", "extension": "1071"}),
    ] {
        let (s, v) = app.admin_post("/admin/v1/tenants/acme/agents", body).await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants/acme/queues",
            json!({"name": "Sales", "agents": ["num@example.com", "ext@example.com"]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (_, login) = status_json(
        app.client
            .post(app.url("/api/v2/login"))
            .json(&json!({"username": p["leads"]["username"], "password": p["leads"]["password"], "domain": p["leads"]["domain"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = login["access_token"].as_str().unwrap();
    let (s, v) = status_json(
        app.client
            .get(app.url("/callcenter/queues/status"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let agents = v
        .as_array()
        .and_then(|a| a.first())
        .map(|q| q["agents"].clone())
        .unwrap_or(v["data"][0]["agents"].clone());
    let by_name = |n: &str| {
        agents
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"].as_str().unwrap_or("").starts_with(n))
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("Num")["extension"], "5865", "{v}");
    assert_eq!(by_name("Num")["extension_is_valid"], true);
    assert_eq!(by_name("Ext")["extension"], "1071", "{v}");
}

fn file_form(data: &str) -> Form {
    Form::new().part(
        "file",
        Part::bytes(data.as_bytes().to_vec())
            .file_name("contacts.json")
            .mime_str("application/json")
            .unwrap(),
    )
}

#[tokio::test]
async fn import_with_a_repeated_number_is_a_failed_job_with_its_report() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants/acme/phone-numbers",
            json!({"number": "+14155550100", "default_outbound": true}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (_, c) = app
        .admin_post(
            "/admin/v1/tenants/acme/campaigns",
            json!({"name": "Dialer", "kind": "outbound_dialer"}),
        )
        .await;
    let base = format!("/apps/api/v1/outbound_dialer/campaigns/{}/contacts", c["ids"]["apps"]);
    let auth = (
        p["apps"]["subdomain"].as_str().unwrap().to_string(),
        p["apps"]["token"].as_str().unwrap().to_string(),
    );
    let run = |file: &'static str| {
        let app = &app;
        let base = &base;
        let auth = &auth;
        async move {
            let r = app
                .client
                .post(app.url(&format!("{base}/import")))
                .basic_auth(&auth.0, Some(&auth.1))
                .multipart(file_form(file))
                .send()
                .await
                .unwrap();
            let (s, v) = status_json(r).await;
            assert_eq!(s, 202, "{v}");
            let path = format!("{base}/jobs/{}", v["id"]);
            app.eventually(30, || async {
                let (_, v) = status_json(
                    app.client
                        .get(app.url(&path))
                        .basic_auth(&auth.0, Some(&auth.1))
                        .send()
                        .await
                        .unwrap(),
                )
                .await;
                (v["status"] != "in_progress").then_some(v)
            })
            .await
        }
    };
    // A number repeated within the file.
    let v: Value = run(r#"[{"name": "a", "phone_number": "+1 415 555 0101"}, {"name": "b", "phone_number": "+1 415 555 0102"}, {"name": "c", "phone_number": "+14155550101"}]"#).await;
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(
        v["error_details"],
        "NativePowerDial::ContactService::DuplicateContactPhoneOnCampaign"
    );
    assert_eq!(v["error_message"], "Internal Error");
    assert_eq!(v["type"], "Jobs::Bulk::Campaign::StartImport");
    assert_eq!(
        (v["total"].as_i64(), v["imported"].as_i64(), v["duplicates"].as_i64()),
        (Some(3), Some(2), Some(1)),
        "{v}"
    );
    assert_eq!(v["errors"], json!([{"index": 2, "errors": ["DuplicateContactPhoneOnCampaign"]}]));
    // A number already on the campaign, next to a new one: failed, the new one imported.
    let v = run(r#"[{"name": "d", "phone_number": "+1 415 555 0102"}, {"name": "e", "phone_number": "+1 415 555 0103"}]"#).await;
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(
        v["error_details"],
        "NativePowerDial::ContactService::DuplicateContactPhoneOnCampaign"
    );
    assert_eq!((v["imported"].as_i64(), v["duplicates"].as_i64()), (Some(1), Some(1)), "{v}");
    let (_, list) = status_json(
        app.client
            .get(app.url(&base))
            .basic_auth(&auth.0, Some(&auth.1))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    // No repeat: completed.
    let v = run(r#"[{"name": "f", "phone_number": "+1 415 555 0104"}]"#).await;
    assert_eq!(v["status"], "completed", "{v}");
}
