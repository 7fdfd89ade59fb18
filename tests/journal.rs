//! The request journal through HTTP: what is recorded per dialect, redaction, refused
//! requests, filters, paging, count, delete, retention, reset and tenant isolation.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

/// `GET …/requests?{query}`: the page and the next cursor.
async fn requests(app: &TestApp, slug: &str, query: &str) -> (Vec<Value>, Option<String>) {
    let r = app
        .admin(Method::GET, &format!("/admin/v1/tenants/{slug}/requests?{query}"))
        .send()
        .await
        .expect("request");
    let next = r.headers().get("x-next-cursor").and_then(|v| v.to_str().ok()).map(str::to_string);
    let (s, v) = status_json(r).await;
    assert_eq!(s, 200, "requests of {slug}?{query}: {v}");
    (v.as_array().expect("array").clone(), next)
}

async fn count(app: &TestApp, slug: &str, matcher: Value) -> i64 {
    let (s, v) = app
        .admin_post(&format!("/admin/v1/tenants/{slug}/requests/count"), matcher.clone())
        .await;
    assert_eq!(s, 200, "count {matcher}: {v}");
    v["count"].as_i64().expect("count")
}

async fn full(app: &TestApp, slug: &str, id: &str) -> Value {
    let (s, v) = app.admin_get(&format!("/admin/v1/tenants/{slug}/requests/{id}")).await;
    assert_eq!(s, 200, "{v}");
    v
}

/// Every record of the tenant, with bodies.
async fn all_full(app: &TestApp, slug: &str) -> Vec<Value> {
    let (list, _) = requests(app, slug, "limit=1000").await;
    let mut out = Vec::new();
    for r in list {
        out.push(full(app, slug, r["id"].as_str().unwrap()).await);
    }
    out
}

fn soap_envelope(method: &str, params: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><{method} xmlns="http://tempuri.org/">{params}</{method}></s:Body></s:Envelope>"#
    )
}

async fn soap(app: &TestApp, method: &str, params: &str) -> String {
    let r = app
        .client
        .post(app.url("/onc/ONCService.svc"))
        .header("content-type", "text/xml; charset=utf-8")
        .header("SOAPAction", format!("\"http://tempuri.org/IONCService/{method}\""))
        .body(soap_envelope(method, params))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

fn tag(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_string())
}

#[tokio::test]
async fn every_dialect_is_recorded_and_no_secret_is_kept() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    app.freeze_clock_at("acme", "2031-05-01T10:00:00Z").await;

    // Apps and the outbound dialer (HTTP Basic)
    let apps = AppsClient::new(&app, &p);
    assert_eq!(apps.get("/apps/api/v1/wait_times?lang=en").await.0, 200);
    let (s, _) = apps.get("/apps/api/v1/outbound_dialer/campaigns/1/contacts").await;
    assert!(s < 500, "{s}");
    // Campaign Manager (HTTP Basic)
    let cm = CmClient::new(&app, &p);
    assert_eq!(cm.get("/campaignmanager/credits/search").await.0, 200);
    // Leads: login, refresh, a bearer request, an API-key request
    let leads = LeadsClient::login(&app, &p).await;
    let (s, refreshed) = status_json(
        app.client
            .post(app.url("/api/v2/login/refresh"))
            .json(&json!({"refresh_token": leads.refresh_token}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{refreshed}");
    let new_access = refreshed["access_token"].as_str().unwrap().to_string();
    let new_refresh = refreshed["refresh_token"].as_str().unwrap().to_string();
    let (s, _) = status_json(
        app.client
            .get(app.url("/api/v2/config/campaigns"))
            .bearer_auth(&new_access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    let (s, key) = app.admin_post("/admin/v1/tenants/acme/leads-api-keys", json!({"name": "ci"})).await;
    assert_eq!(s, 201);
    let api_key = key["key"].as_str().unwrap().to_string();
    let (s, _) = status_json(
        app.client
            .get(app.url("/api/v2/config/campaigns"))
            .header("X-API-Key", &api_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    // ONC: JSON binding and SOAP
    let onc = OncClient::open(&app, &p).await;
    onc.call("GetCampaignListing", json!({"sessionId": onc.session})).await;
    let o = &p["onc"];
    let body = soap(
        &app,
        "OpenAPISession",
        &format!(
            "<accountId>{}</accountId><username>{}</username><password>{}</password>",
            o["account_id"].as_str().unwrap(),
            o["username"].as_str().unwrap(),
            o["password"].as_str().unwrap()
        ),
    )
    .await;
    let soap_session = tag(&body, "a:SessionId").expect("session id");
    soap(&app, "GetCampaignListing", &format!("<sessionId>{soap_session}</sessionId>")).await;

    let records = all_full(&app, "acme").await;
    let dialects: std::collections::BTreeSet<&str> = records.iter().map(|r| r["dialect"].as_str().unwrap()).collect();
    for d in ["apps", "outbound_dialer", "campaign_manager", "leads", "onc"] {
        assert!(dialects.contains(d), "{d} missing from {dialects:?}");
    }
    // newest first, on the tenant's (frozen) clock, with route template and request id
    assert_eq!(records[0]["operation"], "GetCampaignListing");
    assert_eq!(records[0]["path"], "/onc/ONCService.svc");
    for r in &records {
        assert_eq!(r["at"], "2031-05-01T10:00:00Z", "{r}");
        assert!(r["request_id"].as_str().is_some_and(|s| !s.is_empty()), "{r}");
        assert!(r["route"].as_str().is_some(), "{r}");
        assert!(r["duration_ms"].as_f64().is_some());
    }
    let json_call = records
        .iter()
        .find(|r| r["path"] == "/onc/json/GetCampaignListing")
        .expect("onc json call");
    assert_eq!(json_call["route"], "/onc/json/{method}");
    assert_eq!(json_call["method"], "POST");
    assert_eq!(json_call["status"], 200);
    let wait = records.iter().find(|r| r["path"] == "/apps/api/v1/wait_times").expect("apps call");
    assert_eq!(wait["query"], "lang=en");
    assert_eq!(wait["request"]["headers"]["authorization"], "Basic [REDACTED]");
    assert!(wait["response"]["body"].as_str().is_some_and(|b| !b.is_empty()));
    let login = records.iter().find(|r| r["path"] == "/api/v2/login").expect("leads login");
    let login_body: Value = serde_json::from_str(login["request"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(login_body["password"], "[REDACTED]");
    assert_eq!(login_body["username"], p["leads"]["username"]);
    let login_resp: Value = serde_json::from_str(login["response"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(login_resp["access_token"], "[REDACTED]");
    assert_eq!(login_resp["refresh_token"], "[REDACTED]");
    let soap_open = records
        .iter()
        .find(|r| r["operation"] == "OpenAPISession" && r["path"] == "/onc/ONCService.svc")
        .expect("soap open");
    assert!(soap_open["request"]["body"]
        .as_str()
        .unwrap()
        .contains("<password>[REDACTED]</password>"));
    assert!(soap_open["response"]["body"].as_str().unwrap().contains("[REDACTED]"));

    // no secret anywhere in any record
    let all = serde_json::to_string(&records).unwrap();
    let secrets = [
        p["apps"]["token"].as_str().unwrap().to_string(),
        p["campaign_manager"]["auth_token"].as_str().unwrap().to_string(),
        p["leads"]["password"].as_str().unwrap().to_string(),
        p["onc"]["password"].as_str().unwrap().to_string(),
        leads.access_token.clone(),
        leads.refresh_token.clone(),
        new_access,
        new_refresh,
        api_key,
        onc.session.clone(),
        soap_session,
    ];
    for s in &secrets {
        assert!(!all.contains(s.as_str()), "secret {s} found in the journal");
    }
    assert!(!all.to_ascii_lowercase().contains("bearer ey"), "a JWT is in the journal");
}

#[tokio::test]
async fn refused_requests_are_recorded_once_the_tenant_is_known() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    let apps = AppsClient::new(&app, &p);
    // wrong credentials name no tenant: not recorded
    let bad = AppsClient::with(&app, "acme", "wrong");
    assert_eq!(bad.get("/apps/api/v1/wait_times?lang=en").await.0, 401);
    assert_eq!(count(&app, "acme", json!({})).await, 0);
    // a Host naming another subdomain: 401 for a known tenant
    let r = apps
        .req(Method::GET, "/apps/api/v1/wait_times?lang=en")
        .header("host", "other.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(count(&app, "acme", json!({"status": 401, "dialect": "apps"})).await, 1);
    // rate limited: 429
    app.settings("acme", json!({"apps_rate_limit": 1, "apps_rate_burst": 1})).await;
    let mut saw = false;
    for _ in 0..5 {
        if apps.get("/apps/api/v1/wait_times?lang=en").await.0 == 429 {
            saw = true;
            break;
        }
    }
    assert!(saw, "the rate limit answered 429");
    assert!(count(&app, "acme", json!({"status": 429})).await >= 1);
    // an expired Leads token: 401 for a known tenant
    app.settings("acme", json!({"leads_access_token_ttl_seconds": 60})).await;
    let leads = LeadsClient::login(&app, &p).await;
    app.clock("acme", json!({"advance_seconds": 120})).await;
    assert_eq!(leads.get("/api/v2/config/campaigns").await.0, 401);
    assert_eq!(count(&app, "acme", json!({"dialect": "leads", "status": "4xx"})).await, 1);
    // an ONC call with an unknown session names no tenant
    let onc = OncClient::open(&app, &p).await;
    let before = count(&app, "acme", json!({"dialect": "onc"})).await;
    onc.call("GetCampaignListing", json!({"sessionId": "nope"})).await;
    assert_eq!(count(&app, "acme", json!({"dialect": "onc"})).await, before);
}

#[tokio::test]
async fn filters_paging_count_and_glob() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    let apps = AppsClient::new(&app, &p);
    for _ in 0..3 {
        assert_eq!(apps.get("/apps/api/v1/wait_times?lang=en").await.0, 200);
    }
    let (s, _) = apps
        .post("/apps/api/v1/sms", json!({"to": "not a number", "body": "hello marker-42"}))
        .await;
    assert!(s >= 400, "{s}");
    let onc = OncClient::open(&app, &p).await;
    for _ in 0..2 {
        onc.call("GetCampaignListing", json!({"sessionId": onc.session})).await;
    }
    soap(&app, "GetCampaignListing", &format!("<sessionId>{}</sessionId>", onc.session)).await;

    // 3 + 1 apps, 1 open + 2 json + 1 soap onc
    let (all, next) = requests(&app, "acme", "").await;
    assert_eq!(all.len(), 8);
    assert!(next.is_none());
    // paging: newest first, disjoint pages, the cursor ends
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("limit=3&cursor={c}"),
            None => "limit=3".to_string(),
        };
        let (page, next) = requests(&app, "acme", &q).await;
        seen.extend(page.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let ids: Vec<String> = all.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(seen, ids);
    assert_eq!(all[0]["operation"], "GetCampaignListing");
    assert_eq!(all[7]["path"], "/apps/api/v1/wait_times");

    // list filters
    assert_eq!(requests(&app, "acme", "dialect=apps").await.0.len(), 4);
    assert_eq!(requests(&app, "acme", "method=post&dialect=apps").await.0.len(), 1);
    assert_eq!(requests(&app, "acme", "status=2xx&dialect=apps").await.0.len(), 3);
    assert_eq!(requests(&app, "acme", "path=/apps/*").await.0.len(), 4);
    assert_eq!(requests(&app, "acme", "path=*Listing").await.0.len(), 3);
    assert_eq!(
        requests(&app, "acme", "since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z")
            .await
            .0
            .len(),
        8
    );
    assert_eq!(requests(&app, "acme", "until=2000-01-01T00:00:00Z").await.0.len(), 0);
    let (s, v) = app.admin_get("/admin/v1/tenants/acme/requests?status=abc").await;
    assert_eq!(s, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("status"));
    let (s, _) = app.admin_get("/admin/v1/tenants/acme/requests?limit=0").await;
    assert_eq!(s, 400);

    // count: "my integration called GetCampaignListing 3 times" (JSON and SOAP alike)
    assert_eq!(count(&app, "acme", json!({"path": "GetCampaignListing"})).await, 3);
    assert_eq!(count(&app, "acme", json!({"dialect": "onc", "path": "/onc/json/*"})).await, 3);
    assert_eq!(
        count(&app, "acme", json!({"method": "GET", "path": "/apps/api/v1/wait_?imes"})).await,
        3
    );
    assert_eq!(count(&app, "acme", json!({"body_contains": "marker-42"})).await, 1);
    assert_eq!(count(&app, "acme", json!({"status": 200, "dialect": "apps"})).await, 3);
    assert_eq!(count(&app, "acme", json!({"since": "2999-01-01T00:00:00Z"})).await, 0);
    let (s, _) = app.admin_post("/admin/v1/tenants/acme/requests/count", json!({"nope": 1})).await;
    assert_eq!(s, 422);
}

#[tokio::test]
async fn delete_reset_retention_and_disabled() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    let apps = AppsClient::new(&app, &p);
    for _ in 0..2 {
        apps.get("/apps/api/v1/wait_times?lang=en").await;
    }
    assert_eq!(count(&app, "acme", json!({})).await, 2);
    let r = app.admin(Method::DELETE, "/admin/v1/tenants/acme/requests").send().await.unwrap();
    let (s, v) = status_json(r).await;
    assert_eq!((s, v["deleted"].as_i64()), (200, Some(2)));
    assert_eq!(count(&app, "acme", json!({})).await, 0);

    // the per-tenant reset clears it too
    apps.get("/apps/api/v1/wait_times?lang=en").await;
    assert_eq!(count(&app, "acme", json!({})).await, 1);
    let (s, v) = app.admin_post("/admin/v1/tenants/acme/reset", json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(count(&app, "acme", json!({})).await, 0);

    // retention: the newest journal_limit stay
    app.settings("acme", json!({"journal_limit": 3})).await;
    for i in 0..5 {
        apps.get(&format!("/apps/api/v1/wait_times?lang=en&n={i}")).await;
        // each request in its own batch, so the limit holds after every write
        requests(&app, "acme", "limit=1").await;
    }
    let (list, _) = requests(&app, "acme", "").await;
    let queries: Vec<&str> = list.iter().map(|r| r["query"].as_str().unwrap()).collect();
    assert_eq!(queries, ["lang=en&n=4", "lang=en&n=3", "lang=en&n=2"]);
    let (s, v) = app.patch_tenant("acme", json!({"settings": {"journal_limit": 0}})).await;
    assert_eq!(s, 422, "{v}");

    // disabled: nothing recorded
    app.settings("acme", json!({"journal_enabled": false})).await;
    apps.get("/apps/api/v1/wait_times?lang=en&n=off").await;
    assert_eq!(count(&app, "acme", json!({"path": "/apps/*"})).await, 3);
    app.settings("acme", json!({"journal_enabled": null})).await;
    apps.get("/apps/api/v1/wait_times?lang=en&n=on").await;
    assert_eq!(count(&app, "acme", json!({})).await, 3);
    assert_eq!(requests(&app, "acme", "limit=1").await.0[0]["query"], "lang=en&n=on");
}

#[tokio::test]
async fn tenants_are_isolated() {
    let app = TestApp::spawn().await;
    let a = app.tenant("acme").await;
    let b = app.tenant("beta").await;
    let apps_a = AppsClient::new(&app, &a);
    let apps_b = AppsClient::new(&app, &b);
    apps_a.get("/apps/api/v1/wait_times?lang=en&who=a").await;
    apps_a.get("/apps/api/v1/wait_times?lang=en&who=a").await;
    apps_b.get("/apps/api/v1/wait_times?lang=en&who=b").await;
    let (la, _) = requests(&app, "acme", "").await;
    let (lb, _) = requests(&app, "beta", "").await;
    assert_eq!(la.len(), 2);
    assert_eq!(lb.len(), 1);
    assert!(la.iter().all(|r| r["query"] == "lang=en&who=a"));
    assert_eq!(lb[0]["query"], "lang=en&who=b");
    assert_eq!(count(&app, "beta", json!({"path": "/apps/*"})).await, 1);
    // another tenant's record answers 404
    let id_a = la[0]["id"].as_str().unwrap();
    let (s, v) = app.admin_get(&format!("/admin/v1/tenants/beta/requests/{id_a}")).await;
    assert_eq!(s, 404, "{v}");
    assert!(v["error"].is_string());
    let (s, _) = app.admin_get("/admin/v1/tenants/beta/requests/not-a-uuid").await;
    assert_eq!(s, 404);
    // unknown tenant, missing token
    let (s, _) = app.admin_get("/admin/v1/tenants/nobody/requests").await;
    assert_eq!(s, 404);
    let (s, _) = app.admin_post("/admin/v1/tenants/nobody/requests/count", json!({})).await;
    assert_eq!(s, 404);
    let r = app.client.get(app.url("/admin/v1/tenants/acme/requests")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // clearing one tenant leaves the other
    app.admin(Method::DELETE, "/admin/v1/tenants/beta/requests").send().await.unwrap();
    assert_eq!(count(&app, "acme", json!({})).await, 2);
    assert_eq!(count(&app, "beta", json!({})).await, 0);
}

#[tokio::test]
async fn queued_records_are_written_on_shutdown() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    let apps = AppsClient::new(&app, &p);
    for _ in 0..3 {
        assert_eq!(apps.get("/apps/api/v1/wait_times?lang=en").await.0, 200);
    }
    // no read (flush) before the restart: the stopping writer writes what is queued
    let app = app.restart().await;
    assert_eq!(count(&app, "acme", json!({"dialect": "apps"})).await, 3);
}
