//! Faults and latency injection (`/admin/v1/tenants/{slug}/faults`), through HTTP: every
//! kind, `status` in every dialect's error shape, body override, Retry-After, seeded
//! determinism, `times`, probability 0, globs, method filter, tenant isolation, reset and
//! a second replica seeing a new fault.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn add_fault(app: &TestApp, slug: &str, fault: Value) -> Value {
    let (s, v) = app.admin_post(&format!("/admin/v1/tenants/{slug}/faults"), fault).await;
    assert_eq!(s, 201, "{v}");
    v
}

async fn faults_of(app: &TestApp, slug: &str) -> Vec<Value> {
    let (s, v) = app.admin_get(&format!("/admin/v1/tenants/{slug}/faults")).await;
    assert_eq!(s, 200, "{v}");
    v.as_array().cloned().unwrap_or_default()
}

const CM_READ: &str = "/campaignmanager/credits/search";

/// A raw HTTP/1.1 exchange: everything the server sent before closing (or an error).
async fn raw_exchange(app: &TestApp, path: &str, user: &str, pass: &str) -> (std::io::Result<usize>, Vec<u8>) {
    use base64::Engine;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let r = s.read_to_end(&mut buf).await;
    (r, buf)
}

#[tokio::test]
async fn status_faults_answer_in_each_dialects_shape() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    let apps = AppsClient::new(&app, &p);
    let cm = CmClient::new(&app, &p);
    let leads = LeadsClient::login(&app, &p).await;

    // Apps: {"message"}; the dialer (its own door) untouched by an apps-only fault
    add_fault(&app, "acme", json!({"dialect": "apps", "kind": "status", "status": 503})).await;
    let (s, v) = apps.get("/manager/api/v1/calls").await;
    assert_eq!((s, v), (503, json!({"message": "Service Unavailable"})));
    let (s, v) = apps.get("/manager/api/v1/outbound_dialer/campaigns").await;
    assert_eq!(s, 200, "{v}");

    // outbound dialer: the same Apps shape
    add_fault(&app, "acme", json!({"dialect": "outbound_dialer", "kind": "status", "status": 502})).await;
    let (s, v) = apps.get("/manager/api/v1/outbound_dialer/campaigns").await;
    assert_eq!((s, v), (502, json!({"message": "Bad Gateway"})));

    // Campaign Manager: {code, message, data}, status default 500
    add_fault(&app, "acme", json!({"dialect": "campaign_manager", "kind": "status"})).await;
    let (s, v) = cm.get(CM_READ).await;
    assert_eq!(
        (s, v),
        (500, json!({"code": 500, "message": "Internal Server Error", "data": null}))
    );
    // … `errorCode` on DND paths, as the dialect's own errors there
    let (s, v) = cm.get("/campaignmanager/dnd/optout/search").await;
    assert_eq!(s, 500);
    assert_eq!(v["errorCode"], "500", "{v}");

    // Leads: {"status": "error", "code", "message"}
    add_fault(&app, "acme", json!({"dialect": "leads", "kind": "status", "status": 503})).await;
    let (s, v) = leads.get("/api/v2/config/campaigns").await;
    assert_eq!(
        (s, v),
        (503, json!({"status": "error", "code": 503, "message": "Service Unavailable"}))
    );

    // … and with an API key
    let (_, k) = app.admin_post("/admin/v1/tenants/acme/leads-api-keys", json!({"name": "ci"})).await;
    let r = app
        .client
        .get(app.url("/api/v2/config/campaigns"))
        .header("x-api-key", k["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "error");

    // every fault is listed, in creation order
    let all = faults_of(&app, "acme").await;
    let dialects: Vec<&str> = all.iter().map(|f| f["dialect"].as_str().unwrap_or("")).collect();
    assert_eq!(dialects, ["apps", "outbound_dialer", "campaign_manager", "leads"]);
    assert_eq!(all[2]["probability"], 1.0);
    assert_eq!(all[2]["path"], "*");

    // DELETE one, then all
    let id = all[0]["id"].as_str().unwrap();
    let r = app
        .admin(Method::DELETE, &format!("/admin/v1/tenants/acme/faults/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app
        .admin(Method::DELETE, &format!("/admin/v1/tenants/acme/faults/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(apps.get("/manager/api/v1/calls").await.0, 200);
    let r = app.admin(Method::DELETE, "/admin/v1/tenants/acme/faults").send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(faults_of(&app, "acme").await.is_empty());
    assert_eq!(cm.get(CM_READ).await.0, 200);
    let (s, v) = leads.get("/api/v2/config/campaigns").await;
    assert_eq!(s, 200, "{v}");
}

fn envelope(method: &str, params: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><{method} xmlns="http://tempuri.org/">{params}</{method}></s:Body></s:Envelope>"#
    )
}

async fn soap(app: &TestApp, method: &str, params: &str) -> (u16, String) {
    let r = app
        .client
        .post(app.url("/onc/ONCService.svc"))
        .header("content-type", "text/xml; charset=utf-8")
        .header("soapaction", format!("\"http://tempuri.org/IONCService/{method}\""))
        .body(envelope(method, params))
        .send()
        .await
        .expect("soap");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test]
async fn onc_status_faults_as_soap_fault_or_error_code() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    let onc = OncClient::open(&app, &p).await;
    let sid = format!("<sessionId>{}</sessionId>", onc.session);
    let missing = format!("{sid}<campaignId>{}</campaignId>", uuid::Uuid::new_v4());

    // soap_fault (the default) on one operation, by its name
    add_fault(
        &app,
        "acme",
        json!({"dialect": "onc", "path": "Delete*", "kind": "status", "status": 503}),
    )
    .await;
    let (s, body) = soap(&app, "DeleteCampaign", &missing).await;
    assert_eq!(s, 503, "{body}");
    assert!(body.contains("<faultcode>s:Server</faultcode>"), "{body}");
    assert!(body.contains("Service Unavailable"), "{body}");
    // another operation is not matched
    let (s, body) = soap(&app, "GetCampaignListing", &sid).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("GetCampaignListingResponse"), "{body}");
    // the JSON binding: HTTP status with ErrorCode 99
    let (s, v) = onc
        .call_status(
            "DeleteCampaign",
            json!({"sessionId": onc.session, "campaignId": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(s, 503);
    assert_eq!(v["ErrorCode"], 99, "{v}");

    // error_code: a normal answer with ErrorCode 99 (null for list methods)
    let r = app.admin(Method::DELETE, "/admin/v1/tenants/acme/faults").send().await.unwrap();
    assert_eq!(r.status(), 204);
    add_fault(&app, "acme", json!({"dialect": "onc", "kind": "status", "onc_as": "error_code"})).await;
    let (s, body) = soap(&app, "DeleteCampaign", &missing).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("<DeleteCampaignResult>99</DeleteCampaignResult>"), "{body}");
    let (s, v) = onc
        .call_status(
            "DeleteCampaign",
            json!({"sessionId": onc.session, "campaignId": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!((s, v), (200, json!(99)));
    let (s, v) = onc.call_status("GetCampaignListing", json!({"sessionId": onc.session})).await;
    assert_eq!((s, v), (200, Value::Null));
    // OpenAPISession is subject to faults once the tenant is known
    let o = &p["onc"];
    let (s, v) = onc
        .call_status(
            "OpenAPISession",
            json!({"accountId": o["account_id"], "username": o["username"], "password": o["password"]}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["ErrorCode"], 99, "{v}");
}

#[tokio::test]
async fn body_override_and_retry_after() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    let cm = CmClient::new(&app, &p);
    add_fault(
        &app,
        "acme",
        json!({"kind": "status", "status": 429, "retry_after": 7, "body": {"error": "slow down"}}),
    )
    .await;
    let r = cm.req(Method::GET, CM_READ).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"error": "slow down"}));

    // a string body is sent as it is
    app.admin(Method::DELETE, "/admin/v1/tenants/acme/faults").send().await.unwrap();
    add_fault(&app, "acme", json!({"kind": "status", "status": 500, "body": "<html>oops</html>"})).await;
    let r = cm.req(Method::GET, CM_READ).send().await.unwrap();
    assert_eq!(r.status(), 500);
    assert!(r.headers().get("retry-after").is_none());
    assert_eq!(r.text().await.unwrap(), "<html>oops</html>");
}

#[tokio::test]
async fn delay_reset_timeout_and_malformed() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    let cm = CmClient::new(&app, &p);
    let (user, pass) = (cm.account_sid.clone(), cm.auth_token.clone());
    let path = CM_READ;
    let r = cm.req(Method::GET, path).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let full = r.text().await.unwrap();
    assert!(full.len() > 2, "{full}");
    assert!(serde_json::from_str::<Value>(&full).is_ok(), "{full}");
    let before = switchboard::controls::faults::fired_total();
    let fired = |kind: &str, v: &[(&str, u64)]| v.iter().find(|(k, _)| *k == kind).map(|(_, n)| *n).unwrap_or(0);

    // delay: answered normally, later
    add_fault(&app, "acme", json!({"kind": "delay", "delay_ms": 300, "times": 1})).await;
    let t = Instant::now();
    let (s, _) = cm.get(path).await;
    assert_eq!(s, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));

    // reset: the connection closes without a byte
    add_fault(&app, "acme", json!({"kind": "reset", "times": 1})).await;
    let (r, buf) = raw_exchange(&app, path, &user, &pass).await;
    assert!(buf.is_empty(), "got {:?}", String::from_utf8_lossy(&buf));
    if let Ok(n) = r {
        assert_eq!(n, 0);
    }
    // reqwest sees a failed request too, then everything is back
    add_fault(&app, "acme", json!({"kind": "reset", "times": 1})).await;
    assert!(cm.req(Method::GET, path).send().await.is_err());
    assert_eq!(cm.get(path).await.0, 200);

    // timeout: held for delay_ms, then closed without an answer
    add_fault(&app, "acme", json!({"kind": "timeout", "delay_ms": 400, "times": 1})).await;
    let t = Instant::now();
    let (_, buf) = raw_exchange(&app, path, &user, &pass).await;
    assert!(buf.is_empty(), "got {:?}", String::from_utf8_lossy(&buf));
    assert!(t.elapsed() >= Duration::from_millis(400));

    // malformed: a complete answer whose body is cut in half
    add_fault(&app, "acme", json!({"kind": "malformed", "times": 1})).await;
    let r = cm.req(Method::GET, path).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cut = r.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&cut).is_err(), "{cut}");
    assert!(full.starts_with(&cut) && cut.len() == full.len() / 2, "{cut} / {full}");
    assert_eq!(cm.get(path).await.0, 200);

    let after = switchboard::controls::faults::fired_total();
    for (kind, n) in [("delay", 1), ("reset", 2), ("timeout", 1), ("malformed", 1)] {
        assert!(fired(kind, &after) >= fired(kind, &before) + n, "{kind}: {before:?} → {after:?}");
    }
    assert!(faults_of(&app, "acme").await.is_empty());
}

/// The statuses of `n` Campaign Manager reads.
async fn pattern(cm: &CmClient, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(cm.get(CM_READ).await.0);
    }
    out
}

#[tokio::test]
async fn seeded_faults_fire_at_the_same_requests() {
    let app = TestApp::spawn().await;
    let fault = json!({"kind": "status", "status": 503, "probability": 0.5, "seed": 12345, "path": "/campaignmanager/*"});
    let mut runs = Vec::new();
    for slug in ["run-one", "run-two"] {
        let p = app.tenant(slug).await;
        add_fault(&app, slug, fault.clone()).await;
        runs.push(pattern(&CmClient::new(&app, &p), 20).await);
    }
    assert_eq!(runs[0], runs[1]);
    let expected: Vec<u16> = (1..=20)
        .map(|n| {
            if switchboard::controls::faults::seeded_fires(12345, n, 0.5) {
                503
            } else {
                200
            }
        })
        .collect();
    assert_eq!(runs[0], expected);
    assert!(expected.contains(&503) && expected.contains(&200), "{expected:?}");
}

#[tokio::test]
async fn times_probability_zero_and_method_filter() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    let cm = CmClient::new(&app, &p);

    // times: fires twice, then it is gone
    let f = add_fault(&app, "acme", json!({"kind": "status", "status": 503, "times": 2})).await;
    assert_eq!((f["times"].clone(), f["remaining"].clone()), (json!(2), json!(2)));
    assert_eq!(pattern(&cm, 1).await, [503]);
    assert_eq!(faults_of(&app, "acme").await[0]["remaining"], 1);
    assert_eq!(pattern(&cm, 3).await, [503, 200, 200]);
    assert!(faults_of(&app, "acme").await.is_empty());

    // probability 0 never fires
    add_fault(&app, "acme", json!({"kind": "status", "probability": 0})).await;
    assert_eq!(pattern(&cm, 5).await, [200; 5]);
    app.admin(Method::DELETE, "/admin/v1/tenants/acme/faults").send().await.unwrap();

    // method filter (case-insensitive) and globs
    add_fault(&app, "acme", json!({"kind": "status", "status": 418, "method": "post"})).await;
    assert_eq!(cm.get(CM_READ).await.0, 200);
    add_fault(
        &app,
        "acme",
        json!({"kind": "status", "status": 503, "method": "GET", "path": "/campaignmanager/credits/search/*"}),
    )
    .await;
    assert_eq!(cm.get(CM_READ).await.0, 200);
    assert_eq!(cm.get(&format!("{CM_READ}/ENC00000000000000000000000000000000")).await.0, 503);
    add_fault(
        &app,
        "acme",
        json!({"kind": "status", "status": 502, "path": "/campaignmanager/credits/searc?"}),
    )
    .await;
    assert_eq!(cm.get(CM_READ).await.0, 502);
    let (s, v) = cm.post("/campaignmanager/campaigns", json!({})).await;
    assert_eq!(s, 418, "{v}");
}

#[tokio::test]
async fn bad_faults_are_refused() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    for (body, field) in [
        (json!({"kind": "explode"}), "kind"),
        (json!({"kind": "status", "dialect": "fax"}), "dialect"),
        (json!({"kind": "status", "probability": 1.5}), "probability"),
        (json!({"kind": "status", "status": 200}), "status"),
        (json!({"kind": "delay"}), "delay_ms"),
        (json!({"kind": "status", "times": 0}), "times"),
        (json!({"kind": "status", "onc_as": "xml"}), "onc_as"),
        (json!({"kind": "status", "colour": "red"}), "colour"),
    ] {
        let (s, v) = app.admin_post("/admin/v1/tenants/acme/faults", body.clone()).await;
        assert_eq!(s, 422, "{body}: {v}");
        assert!(v["error"].as_str().unwrap_or("").contains(field), "{body}: {v}");
    }
    let (s, _) = app.admin_post("/admin/v1/tenants/nobody/faults", json!({"kind": "reset"})).await;
    assert_eq!(s, 404);
    let r = app.client.get(app.url("/admin/v1/tenants/acme/faults")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn tenants_are_isolated_and_reset_clears_faults() {
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let (cm_a, cm_b) = (CmClient::new(&app, &a), CmClient::new(&app, &b));
    let f = add_fault(&app, "alpha", json!({"kind": "status", "status": 503})).await;
    let id = f["id"].as_str().unwrap();

    assert_eq!(cm_a.get(CM_READ).await.0, 503);
    assert_eq!(cm_b.get(CM_READ).await.0, 200);
    assert!(faults_of(&app, "beta").await.is_empty());
    let (s, _) = app.admin_get(&format!("/admin/v1/tenants/beta/faults/{id}")).await;
    assert_eq!(s, 404);
    let r = app
        .admin(Method::DELETE, &format!("/admin/v1/tenants/beta/faults/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (s, v) = app.admin_get(&format!("/admin/v1/tenants/alpha/faults/{id}")).await;
    assert_eq!((s, v["kind"].clone()), (200, json!("status")));
    assert_eq!(cm_a.get(CM_READ).await.0, 503);

    // the per-tenant reset removes the tenant's faults
    let (s, v) = app.admin_post("/admin/v1/tenants/alpha/reset", json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert!(faults_of(&app, "alpha").await.is_empty());
    assert_eq!(cm_a.get(CM_READ).await.0, 200);
}

#[tokio::test]
async fn another_replica_applies_a_new_fault() {
    let one = TestApp::spawn().await;
    let two = TestApp::spawn_with(one.db_url.clone(), |c| c).await;
    let p = one.tenant("acme").await;
    let cm_two = CmClient::new(&two, &p);
    let (_, t) = one.admin_get("/admin/v1/tenants/acme").await;
    let tenant = switchboard::domain::TenantId(t["id"].as_str().unwrap().parse().unwrap());
    // replica two has looked at (and cached) the tenant's empty fault list
    assert_eq!(cm_two.get(CM_READ).await.0, 200);
    two.eventually(5, || async { two.state.faults.is_listening().then_some(()) }).await;
    assert_eq!(cm_two.get(CM_READ).await.0, 200);
    assert!(two.state.faults.is_cached(tenant));
    // a change made through replica one reaches replica two's cache through NOTIFY
    add_fault(&one, "acme", json!({"kind": "status", "status": 503})).await;
    two.eventually(5, || async { (!two.state.faults.is_cached(tenant)).then_some(()) })
        .await;
    assert_eq!(cm_two.get(CM_READ).await.0, 503);
    let r = one.admin(Method::DELETE, "/admin/v1/tenants/acme/faults").send().await.unwrap();
    assert_eq!(r.status(), 204);
    two.eventually(5, || async { (cm_two.get(CM_READ).await.0 == 200).then_some(()) })
        .await;
}
