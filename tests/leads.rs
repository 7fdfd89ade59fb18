//! Leads dialect: the bearer-token contact-center Campaigns API, through HTTP.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{status_json, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::Row;
use switchboard::domain::credentials::{self, NewCredential};
use switchboard::domain::secrets::digest;
use switchboard::domain::TenantId;
use uuid::Uuid;

/// Logs in with the tenant's provisioned Leads credentials: (access, refresh, account_id).
async fn login(app: &TestApp, prov: &Value) -> (String, String, String) {
    let (s, v) = post_json(
        app,
        "/api/v2/login",
        json!({"username": prov["leads"]["username"], "password": prov["leads"]["password"], "domain": prov["leads"]["domain"]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    (
        v["access_token"].as_str().unwrap().to_string(),
        v["refresh_token"].as_str().unwrap().to_string(),
        prov["leads"]["account_id"].as_str().unwrap().to_string(),
    )
}

async fn post_json(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    status_json(app.client.post(app.url(path)).json(&body).send().await.unwrap()).await
}

/// A bearer request.
async fn call(app: &TestApp, m: Method, token: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = app.client.request(m, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    status_json(r.send().await.unwrap()).await
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    call(app, Method::GET, token, path, None).await
}

/// A shared campaign made through the admin API; returns its Leads id (32 hex).
async fn campaign(app: &TestApp, slug: &str, name: &str) -> String {
    let (s, v) = app
        .admin_post(
            &format!("/admin/v1/tenants/{slug}/campaigns"),
            json!({"name": name, "kind": "leads"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["ids"]["leads"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    id
}

async fn add_lead(app: &TestApp, token: &str, camp: &str, body: Value) -> (u16, Value) {
    call(
        app,
        Method::PUT,
        token,
        &format!("/api/v2/config/campaigns/{camp}/lead"),
        Some(body),
    )
    .await
}

fn tenant_id(prov: &Value) -> TenantId {
    TenantId(Uuid::parse_str(prov["tenant"]["id"].as_str().unwrap()).unwrap())
}

async fn set_offset(app: &TestApp, slug: &str, secs: i64) {
    app.clock_offset(slug, secs).await;
}

fn claims(token: &str) -> Value {
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

#[tokio::test]
async fn login_returns_user_and_jwt_pair() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    for path in ["/api/v2/login", "/api/v2/config/login"] {
        let (s, v) = post_json(
            &app,
            path,
            json!({"username": prov["leads"]["username"], "password": prov["leads"]["password"], "domain": "acme"}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let acc = prov["leads"]["account_id"].as_str().unwrap();
        assert_eq!(v["user"]["account_id"], acc);
        assert_eq!(v["user"]["username"], prov["leads"]["username"]);
        assert_eq!(v["user"]["domain"], "acme");
        for f in ["id", "first_name", "last_name"] {
            assert!(v["user"].get(f).is_some(), "user.{f}");
        }
        assert!(v["user"].get("email").is_some());
        let token = v["access_token"].as_str().unwrap();
        assert_eq!(token.split('.').count(), 3);
        let c = claims(token);
        assert_eq!(c["identity"], format!("{acc}:acme"));
        assert_eq!(c["type"], "access");
        let exp = c["exp"].as_i64().unwrap();
        let now = chrono::Utc::now().timestamp();
        assert!((exp - now - 3600).abs() < 30, "1 hour lifetime");
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["alg"], "HS256");
        assert!(v["refresh_token"].as_str().unwrap().len() >= 32);
    }
    // the domain is a DNS label: any case (the doc's example sends "yourTenant")
    let (s, v) = post_json(
        &app,
        "/api/v2/login",
        json!({"username": prov["leads"]["username"], "password": prov["leads"]["password"], "domain": " ACME "}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["user"]["domain"], "acme");
    assert_eq!(
        claims(v["access_token"].as_str().unwrap())["identity"]
            .as_str()
            .unwrap()
            .split(':')
            .nth(1),
        Some("acme")
    );
    // refresh tokens are stored hashed
    let (_, refresh, _) = login(&app, &prov).await;
    let rows = sqlx::query("SELECT token_digest, kind, expires_at, created_at FROM auth_sessions")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert!(rows.len() >= 3);
    assert!(rows.iter().all(|r| r.get::<String, _>("kind") == "leads_refresh"));
    assert!(rows.iter().any(|r| r.get::<String, _>("token_digest") == digest(&refresh)));
    assert!(rows.iter().all(|r| r.get::<String, _>("token_digest") != refresh));
    let r = &rows[0];
    let ttl = r.get::<chrono::DateTime<chrono::Utc>, _>("expires_at") - r.get::<chrono::DateTime<chrono::Utc>, _>("created_at");
    assert_eq!(ttl.num_days(), 30);
}

#[tokio::test]
async fn login_errors() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    app.tenant("other").await;
    let user = prov["leads"]["username"].clone();
    let pass = prov["leads"]["password"].clone();
    // malformed bodies → 400
    let r = app
        .client
        .post(app.url("/api/v2/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(r).await;
    assert_eq!(s, 400);
    assert_eq!(v["status"], "error");
    assert!(v["message"].is_string());
    let (s, v) = post_json(&app, "/api/v2/login", json!({"username": user, "domain": "acme"})).await;
    assert_eq!(s, 400);
    assert!(v["message"].as_str().unwrap().contains("password"), "{v}");
    let (s, _) = post_json(&app, "/api/v2/login", json!({"username": 5, "password": pass, "domain": "acme"})).await;
    assert_eq!(s, 400);
    let (s, _) = post_json(&app, "/api/v2/login", json!([1, 2])).await;
    assert_eq!(s, 400);
    let (s, v) = post_json(
        &app,
        "/api/v2/login",
        json!({"username": "a\u{0}", "password": pass, "domain": "acme"}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("username"), "{v}");
    let (s, _) = post_json(&app, "/api/v2/login/refresh", json!({"refresh_token": "\u{0}"})).await;
    assert_eq!(s, 400);
    // wrong user, password or domain → one 401 body
    let mut bodies = Vec::new();
    for body in [
        json!({"username": "nobody", "password": pass, "domain": "acme"}),
        json!({"username": user, "password": "wrong", "domain": "acme"}),
        json!({"username": user, "password": pass, "domain": "other"}),
        json!({"username": user, "password": pass, "domain": "nosuch"}),
    ] {
        let (s, v) = post_json(&app, "/api/v2/login", body).await;
        assert_eq!(s, 401, "{v}");
        bodies.push(v);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
}

#[tokio::test]
async fn token_checks_missing_forged_expired_account_header() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let (token, _, acc) = login(&app, &prov).await;
    let path = "/api/v2/config/campaigns";
    let (s, v) = status_json(app.client.get(app.url(path)).send().await.unwrap()).await;
    assert_eq!(s, 401);
    assert_eq!(v["status"], "error");
    let (s, _) = get(&app, "garbage", path).await;
    assert_eq!(s, 401);
    let r = app
        .client
        .get(app.url(path))
        .header("Authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // forged: payload changed, or signed with another key
    let parts: Vec<&str> = token.split('.').collect();
    let mut c = claims(&token);
    c["exp"] = json!(99_999_999_999i64);
    let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(c.to_string()), parts[2]);
    assert_eq!(get(&app, &forged, path).await.0, 401);
    let other_key = switchboard::dialects::leads::jwt_sign(b"not-the-secret", &claims(&token));
    assert_eq!(get(&app, &other_key, path).await.0, 401);
    let alg_none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), parts[1]);
    assert_eq!(get(&app, &alg_none, path).await.0, 401);
    // valid
    assert_eq!(get(&app, &token, path).await.0, 200);
    // X-Account-ID: optional; the token's account → ok; another → 403
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(&token)
        .header("X-Account-ID", &acc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, v) = status_json(
        app.client
            .get(app.url(path))
            .bearer_auth(&token)
            .header("X-Account-ID", "0123456789abcdef0123456789abcdef")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(v["status"], "error");
    // expiry on the tenant's clock
    set_offset(&app, "acme", 3590).await;
    assert_eq!(get(&app, &token, path).await.0, 200);
    set_offset(&app, "acme", 3601).await;
    let (s, v) = get(&app, &token, path).await;
    assert_eq!(s, 401);
    assert!(v["message"].as_str().unwrap().contains("expired"));
    // the tenant's own lifetime setting
    set_offset(&app, "acme", 0).await;
    app.settings("acme", json!({"leads_access_token_ttl_seconds": 60})).await;
    let (short, _, _) = login(&app, &prov).await;
    assert_eq!(get(&app, &short, path).await.0, 200);
    set_offset(&app, "acme", 61).await;
    assert_eq!(get(&app, &short, path).await.0, 401);
    // a revoked login credential ends its tokens
    set_offset(&app, "acme", 0).await;
    let (t2, _, _) = login(&app, &prov).await;
    sqlx::query("UPDATE credentials SET revoked_at = now() WHERE kind = 'leads'")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(get(&app, &t2, path).await.0, 401);
}

#[tokio::test]
async fn refresh_rotates_and_expires() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let (_, refresh, _) = login(&app, &prov).await;
    let (s, v) = post_json(&app, "/api/v2/login/refresh", json!({"refresh_token": refresh})).await;
    assert_eq!(s, 200, "{v}");
    let access2 = v["access_token"].as_str().unwrap().to_string();
    let refresh2 = v["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh2, refresh);
    assert_eq!(v["user"]["domain"], "acme");
    assert_eq!(get(&app, &access2, "/api/v2/config/campaigns").await.0, 200);
    // the old one is revoked
    let (s, v) = post_json(&app, "/api/v2/login/refresh", json!({"refresh_token": refresh})).await;
    assert_eq!(s, 401, "{v}");
    let revoked: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar("SELECT revoked_at FROM auth_sessions WHERE token_digest = $1")
        .bind(digest(&refresh))
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(revoked.is_some());
    // malformed / unknown
    assert_eq!(post_json(&app, "/api/v2/login/refresh", json!({})).await.0, 400);
    assert_eq!(
        post_json(&app, "/api/v2/login/refresh", json!({"refresh_token": "nope"})).await.0,
        401
    );
    // an access token is not a refresh token, and a refresh token is not a bearer token
    assert_eq!(
        post_json(&app, "/api/v2/login/refresh", json!({"refresh_token": access2})).await.0,
        401
    );
    assert_eq!(get(&app, &refresh2, "/api/v2/config/campaigns").await.0, 401);
    // 30 days on the tenant's clock
    set_offset(&app, "acme", 29 * 86400).await;
    let (s, v) = post_json(&app, "/api/v2/login/refresh", json!({"refresh_token": refresh2})).await;
    assert_eq!(s, 200);
    let refresh3 = v["refresh_token"].as_str().unwrap().to_string();
    set_offset(&app, "acme", 29 * 86400 + 31 * 86400).await;
    assert_eq!(
        post_json(&app, "/api/v2/login/refresh", json!({"refresh_token": refresh3})).await.0,
        401
    );
}

#[tokio::test]
async fn api_keys_work_everywhere_and_can_be_revoked() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let t = tenant_id(&prov);
    let camp = campaign(&app, "acme", "Keyed").await;
    let key = "lk_test_0123456789abcdefghijklmnop";
    let cred = credentials::insert(
        &app.db,
        t,
        NewCredential {
            kind: "leads_api_key",
            login_key: digest(key),
            secret: key.into(),
            name: Some("ci".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let req = |m: Method, p: &str| app.client.request(m, app.url(p)).header("X-API-Key", key);
    let (s, v) = status_json(req(Method::GET, "/api/v2/config/campaigns").send().await.unwrap()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v[0]["id"], camp);
    let (s, v) = status_json(
        req(Method::PUT, &format!("/api/v2/config/campaigns/{camp}/lead"))
            .json(&json!({"number": "+12135550100"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let acc = prov["leads"]["account_id"].as_str().unwrap();
    let r = req(Method::GET, "/callcenter/queues/status")
        .header("X-Account-ID", acc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = req(Method::GET, "/callcenter/queues/status")
        .header("X-Account-ID", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // the key acts for the tenant's active Leads login: when the first one is revoked and
    // a new one (another account) takes over, X-Account-ID follows it
    sqlx::query("UPDATE credentials SET revoked_at = now() WHERE kind = 'leads'")
        .execute(&app.db)
        .await
        .unwrap();
    credentials::insert(
        &app.db,
        t,
        NewCredential {
            kind: "leads",
            login_key: "acme/second".into(),
            username: Some("second".into()),
            account_id: Some("feedfacefeedfacefeedfacefeedface".into()),
            secret: "pw-second".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let r = req(Method::GET, "/callcenter/queues/status")
        .header("X-Account-ID", "feedfacefeedfacefeedfacefeedface")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // keys never expire
    set_offset(&app, "acme", 400 * 86400).await;
    assert_eq!(req(Method::GET, "/api/v2/config/campaigns").send().await.unwrap().status(), 200);
    // wrong key / revoked key → 401
    let r = app
        .client
        .get(app.url("/api/v2/config/campaigns"))
        .header("X-API-Key", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    credentials::revoke(&app.db, t, "leads_api_key", cred.id, chrono::Utc::now())
        .await
        .unwrap();
    let (s, v) = status_json(req(Method::GET, "/api/v2/config/campaigns").send().await.unwrap()).await;
    assert_eq!(s, 401);
    assert_eq!(v["status"], "error");
}

#[tokio::test]
async fn add_lead_doc_example_validation_and_dnc() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let (token, _, _) = login(&app, &prov).await;
    let camp = campaign(&app, "acme", "Spring").await;
    let body = json!({"number": "+1 213 120 4000", "retries": 11, "first_name": "Piper", "last_name": "Huffman",
        "type": "sales", "priority": 4, "ticket_id": "T-1", "note": "call after 5", "cool_off": 30});
    let (s, v) = add_lead(&app, &token, &camp, body).await;
    assert_eq!(s, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    assert_eq!(v["campaign_id"], camp);
    assert_eq!(v["number"], "+12131204000");
    assert_eq!(v["status"], "new");
    assert_eq!(v["retries"], 11);
    assert_eq!(v["priority"], 4);
    assert_eq!(v["first_name"], "Piper");
    assert_eq!(v["last_name"], "Huffman");
    assert_eq!(v["type"], "sales");
    assert_eq!(v["ticket_id"], "T-1");
    assert_eq!(v["note"], "call after 5");
    assert_eq!(v["cool_off"], 30);
    assert!(v["created"].as_i64().unwrap() > 1_600_000_000);
    // stored as a shared contact
    let row = sqlx::query("SELECT number, original_number, status, max_retries, priority, external_id FROM contacts WHERE id = $1")
        .bind(Uuid::parse_str(&id).unwrap())
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("number"), "+12131204000");
    assert_eq!(row.get::<String, _>("original_number"), "+1 213 120 4000");
    assert_eq!(row.get::<String, _>("status"), "pending");
    assert_eq!(row.get::<i32, _>("max_retries"), 11);
    assert_eq!(row.get::<Option<String>, _>("external_id").as_deref(), Some("T-1"));
    // POST works too; optional fields are absent when not set
    let (s, v) = call(
        &app,
        Method::POST,
        &token,
        &format!("/api/v2/config/campaigns/{camp}/lead"),
        Some(json!({"number": "(213) 555-0101"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["number"], "+12135550101");
    assert_eq!(v["retries"], 0);
    assert!(v.get("type").is_none() && v.get("note").is_none() && v.get("ticket_id").is_none());
    // validation: 400 naming the field
    for (body, field) in [
        (json!({}), "number"),
        (json!({"number": "not a number"}), "number"),
        (json!({"number": 12135550100i64}), "number"),
        (json!({"number": "+12135550102", "retries": "3"}), "retries"),
        (json!({"number": "+12135550102", "retries": -1}), "retries"),
        (json!({"number": "+12135550102", "priority": 1.5}), "priority"),
        (json!({"number": "+12135550102", "first_name": 7}), "first_name"),
        (json!({"number": "+12135550102", "last_name": ["x"]}), "last_name"),
        (json!({"number": "+12135550102", "type": true}), "type"),
        (json!({"number": "+12135550102", "ticket_id": 5}), "ticket_id"),
        (json!({"number": "+12135550102", "note": {}}), "note"),
        (json!({"number": "+12135550102", "cool_off": "10"}), "cool_off"),
        // NUL cannot be stored in Postgres text: a 400, not a 500
        (json!({"number": "+12135550102", "first_name": "a\u{0}b"}), "first_name"),
        (json!({"number": "+12135550102", "note": "x\u{0}"}), "note"),
    ] {
        let (s, v) = add_lead(&app, &token, &camp, body.clone()).await;
        assert_eq!(s, 400, "{body}: {v}");
        assert_eq!(v["status"], "error");
        assert!(v["message"].as_str().unwrap().starts_with(field), "{body}: {v}");
    }
    // the doc's own listing number `+12131204` (+1 with 7 digits) is not dialable: refused
    // with a message that says why and what is expected
    for n in ["+12131204", "+12131214"] {
        let (s, v) = add_lead(&app, &token, &camp, json!({"number": n, "first_name": "Piper"})).await;
        assert_eq!(s, 400, "{v}");
        let m = v["message"].as_str().unwrap();
        assert!(m.starts_with("number: "), "{m}");
        assert!(m.contains(n) && m.contains("10 digits after +1") && m.contains("E.164"), "{m}");
    }
    let (_, v) = add_lead(&app, &token, &camp, json!({"number": "12ab"})).await;
    let m = v["message"].as_str().unwrap();
    assert!(m.contains("\"12ab\"") && m.contains("not valid"), "{m}");
    let r = app
        .client
        .put(app.url(&format!("/api/v2/config/campaigns/{camp}/lead")))
        .bearer_auth(&token)
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // unknown campaign, bad id
    let (s, v) = add_lead(&app, &token, &"0".repeat(32), json!({"number": "+12135550102"})).await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = add_lead(&app, &token, "xyz", json!({"number": "+12135550102"})).await;
    assert_eq!(s, 400);
    // a number on the DNC / opt-out list: accepted with status dnc, never dialled
    for (list, number) in [("dnc", "+12135550199"), ("opt-outs", "+12135550198")] {
        app.admin_create("acme", list, json!({ "number": number })).await;
        let (s, v) = add_lead(&app, &token, &camp, json!({"number": number})).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "dnc");
    }
    app.campaign_events("acme", &camp, &["schedule", "start"]).await;
    app.tick().await;
    // a call dials for 5 s and lasts 30 s on the tenant clock
    app.clock("acme", json!({"advance_seconds": 60})).await;
    let sent: Vec<String> = sqlx::query_scalar("SELECT to_address FROM deliveries WHERE status = 'answered'")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert!(sent.contains(&"+12131204000".to_string()));
    assert!(!sent.iter().any(|n| n == "+12135550199" || n == "+12135550198"), "{sent:?}");
}

#[tokio::test]
async fn campaigns_and_status_report() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let (token, _, _) = login(&app, &prov).await;
    let a = campaign(&app, "acme", "campaign_1").await;
    let b = campaign(&app, "acme", "campaign_2").await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let (s, v) = add_lead(&app, &token, &a, json!({"number": format!("+1213555020{i}")})).await;
        assert_eq!(s, 200);
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    for (id, st) in [(&ids[0], "success"), (&ids[1], "failed"), (&ids[2], "success")] {
        let (s, v) = call(
            &app,
            Method::POST,
            &token,
            &format!("/api/v2/config/campaigns/leads/{id}/status/{st}"),
            None,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], st);
    }
    let (s, v) = get(&app, &token, "/api/v2/config/campaigns").await;
    assert_eq!(s, 200);
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["id"], a);
    assert_eq!(arr[0]["name"], "campaign_1");
    assert_eq!(arr[0]["status"], "stopped");
    assert_eq!(arr[0]["total_leads"], 4);
    assert!(arr[0]["created"].as_i64().is_some());
    assert_eq!(arr[1]["total_leads"], 0);
    let (s, v) = get(&app, &token, &format!("/api/v2/config/campaigns/{b}")).await;
    assert_eq!((s, v["name"].as_str()), (200, Some("campaign_2")));
    let (s, v) = get(&app, &token, &format!("/api/v2/config/campaigns/{}", "f".repeat(32))).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(get(&app, &token, "/api/v2/config/campaigns/nothex").await.0, 400);
    // a path segment that is not UTF-8 once decoded: 400 in the Leads shape
    for p in ["/api/v2/config/campaigns/%FF", "/api/v2/config/campaigns/%FF/leads"] {
        let (s, v) = get(&app, &token, p).await;
        assert_eq!(s, 400, "{p}: {v}");
        assert_eq!(v["status"], "error", "{p}: {v}");
    }
    let (s, v) = call(&app, Method::DELETE, &token, "/api/v2/config/campaigns/leads/%C3%28", None).await;
    assert_eq!((s, &v["status"]), (400, &json!("error")), "{v}");

    let (s, v) = get(&app, &token, "/api/v2/reports/campaigns/leads/status").await;
    assert_eq!(s, 200, "{v}");
    let r = &v[&a];
    assert_eq!(r["name"], "campaign_1");
    assert_eq!(r["status"], "stopped");
    assert_eq!(r["total_leads"], 4);
    assert_eq!(r["leads_by_status"]["new"], 1);
    assert_eq!(r["leads_by_status"]["success"], 2);
    assert_eq!(r["leads_by_status"]["failed"], 1);
    assert_eq!(v[&b]["total_leads"], 0);
    assert_eq!(v.as_object().unwrap().len(), 2);
    // a paused shared campaign shows as paused (not 'running': the scheduler would complete
    // an empty running campaign at once)
    app.campaign_events("acme", &b, &["schedule", "pause"]).await;
    let (_, v) = get(&app, &token, "/api/v2/reports/campaigns/leads/status").await;
    assert_eq!(v[&b]["status"], "paused");
}

#[tokio::test]
async fn set_status_and_delete_errors() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let (token, _, _) = login(&app, &prov).await;
    let camp = campaign(&app, "acme", "C").await;
    let (_, v) = add_lead(&app, &token, &camp, json!({"number": "+12135550300"})).await;
    let id = v["id"].as_str().unwrap().to_string();
    for st in [
        "new",
        "in_progress",
        "success",
        "failed",
        "dnc",
        "voicemail",
        "callback",
        "cancelled",
    ] {
        let (s, v) = call(
            &app,
            Method::POST,
            &token,
            &format!("/api/v2/config/campaigns/leads/{id}/status/{st}"),
            None,
        )
        .await;
        assert_eq!(s, 200, "{st}: {v}");
        assert_eq!(v["status"], st);
    }
    let stored: String = sqlx::query_scalar("SELECT status FROM contacts WHERE id = $1")
        .bind(Uuid::parse_str(&id).unwrap())
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, "cancelled");
    let (s, v) = call(
        &app,
        Method::POST,
        &token,
        &format!("/api/v2/config/campaigns/leads/{id}/status/bogus"),
        None,
    )
    .await;
    assert_eq!(s, 400);
    assert!(v["message"].as_str().unwrap().starts_with("status"));
    let unknown = "a".repeat(32);
    let (s, v) = call(
        &app,
        Method::POST,
        &token,
        &format!("/api/v2/config/campaigns/leads/{unknown}/status/new"),
        None,
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        call(&app, Method::POST, &token, "/api/v2/config/campaigns/leads/zz/status/new", None)
            .await
            .0,
        400
    );
    // delete
    let (s, v) = call(&app, Method::DELETE, &token, &format!("/api/v2/config/campaigns/leads/{id}"), None).await;
    assert_eq!(s, 200, "{v}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let (s, v) = call(&app, Method::DELETE, &token, &format!("/api/v2/config/campaigns/leads/{id}"), None).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["status"], "error");
    assert_eq!(
        call(&app, Method::DELETE, &token, "/api/v2/config/campaigns/leads/nothex", None)
            .await
            .0,
        400
    );
}

async fn all_pages(app: &TestApp, token: &str, camp: &str, size: usize) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut key: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/api/v2/config/campaigns/{camp}/leads?page_size={size}");
        if let Some(k) = &key {
            path.push_str(&format!("&next_start_key={k}"));
        }
        let (s, v) = get(app, token, &path).await;
        assert_eq!(s, 200, "{v}");
        pages += 1;
        let data = v["data"].as_array().unwrap();
        assert!(data.len() <= size);
        seen.extend(data.iter().map(|l| l["id"].as_str().unwrap().to_string()));
        match v.get("next_start_key").and_then(Value::as_str) {
            Some(k) if !k.is_empty() => {
                assert_eq!(k.len(), 32);
                key = Some(k.to_string())
            }
            _ => break,
        }
    }
    (seen, pages)
}

#[tokio::test]
async fn leads_pagination_keyset() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let (token, _, _) = login(&app, &prov).await;
    let camp = campaign(&app, "acme", "Paged").await;
    let mut ids = Vec::new();
    for i in 0..25 {
        let (s, v) = add_lead(
            &app,
            &token,
            &camp,
            json!({"number": format!("+1213555{:04}", 1000 + i), "first_name": format!("L{i}")}),
        )
        .await;
        assert_eq!(s, 200);
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    // default page: everything, no key
    let (s, v) = get(&app, &token, &format!("/api/v2/config/campaigns/{camp}/leads")).await;
    assert_eq!(s, 200);
    assert_eq!(v["data"].as_array().unwrap().len(), 25);
    assert!(v.get("next_start_key").is_none());
    let first = &v["data"][0];
    for f in [
        "created",
        "campaign_id",
        "number",
        "status",
        "retries",
        "first_name",
        "last_name",
        "priority",
        "id",
    ] {
        assert!(first.get(f).is_some(), "{f}");
    }
    // pages of 10 in creation order; exactly 10 → last page has no key
    let (seen, pages) = all_pages(&app, &token, &camp, 10).await;
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    let (seen, pages) = all_pages(&app, &token, &camp, 5).await;
    assert_eq!((seen.len(), pages), (25, 5));
    // keys stay valid when the row they point at is deleted
    let (_, v) = get(&app, &token, &format!("/api/v2/config/campaigns/{camp}/leads?page_size=3")).await;
    let k = v["next_start_key"].as_str().unwrap().to_string();
    call(
        &app,
        Method::DELETE,
        &token,
        &format!("/api/v2/config/campaigns/leads/{}", ids[2]),
        None,
    )
    .await;
    let (s, v) = get(
        &app,
        &token,
        &format!("/api/v2/config/campaigns/{camp}/leads?page_size=3&next_start_key={k}"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["data"][0]["id"], ids[3]);
    // invalid values
    for q in [
        "page_size=0",
        "page_size=1001",
        "page_size=abc",
        "page_size=-5",
        "next_start_key=nope",
        "next_start_key=zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
    ] {
        let (s, v) = get(&app, &token, &format!("/api/v2/config/campaigns/{camp}/leads?{q}")).await;
        assert_eq!(s, 400, "{q}: {v}");
        assert_eq!(v["status"], "error");
    }
    assert_eq!(
        get(&app, &token, &format!("/api/v2/config/campaigns/{camp}/leads?page_size=1000"))
            .await
            .0,
        200
    );
    // unknown campaign
    assert_eq!(
        get(&app, &token, &format!("/api/v2/config/campaigns/{}/leads", "b".repeat(32)))
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn pagination_loses_and_repeats_nothing_while_leads_are_added() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let (token, _, _) = login(&app, &prov).await;
    let camp = campaign(&app, "acme", "Busy").await;
    let mut initial = Vec::new();
    for i in 0..60 {
        let (_, v) = add_lead(&app, &token, &camp, json!({"number": format!("+1213556{:04}", i)})).await;
        initial.push(v["id"].as_str().unwrap().to_string());
    }
    // writers add leads concurrently (several in flight at once) while a reader pages
    let mut writers = Vec::new();
    for w in 0..4 {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v2/config/campaigns/{camp}/lead"));
        let token = token.clone();
        writers.push(tokio::spawn(async move {
            let mut added = Vec::new();
            for i in 0..30 {
                let r = client
                    .put(&url)
                    .bearer_auth(&token)
                    .json(&json!({"number": format!("+12135{w}7{:04}", i)}))
                    .send()
                    .await
                    .unwrap();
                let v: Value = r.json().await.unwrap();
                added.push(v["id"].as_str().unwrap().to_string());
            }
            added
        }));
    }
    let (seen, _) = all_pages(&app, &token, &camp, 7).await;
    let mut added = Vec::new();
    for w in writers {
        added.extend(w.await.unwrap());
    }
    let uniq: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(uniq.len(), seen.len(), "no lead repeated");
    for id in &initial {
        assert!(uniq.contains(id), "initial lead {id} skipped");
    }
    // whatever concurrent lead was seen is real, and the order is creation order
    let seqs: Vec<i64> = {
        let mut out = Vec::new();
        for id in &seen {
            let s: i64 = sqlx::query_scalar("SELECT seq FROM contacts WHERE id = $1")
                .bind(Uuid::parse_str(id).unwrap())
                .fetch_one(&app.db)
                .await
                .unwrap();
            out.push(s);
        }
        out
    };
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    // no gap: every lead with a seq below the last one seen was seen
    let last = *seqs.last().unwrap();
    let below: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE seq <= $1")
        .bind(last)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(below as usize, seen.len(), "no lead skipped");
    // after the writers finish, a full pass sees all of them exactly once
    let (seen, _) = all_pages(&app, &token, &camp, 50).await;
    assert_eq!(seen.len(), 60 + added.len());
    let uniq: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(uniq.len(), seen.len());
}

#[tokio::test]
async fn voicemail_disposition() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let (token, _, _) = login(&app, &prov).await;
    let camp = campaign(&app, "acme", "VM").await;
    let (_, lead) = add_lead(
        &app,
        &token,
        &camp,
        json!({"number": "+12135550400", "first_name": "Raven", "last_name": "Shields"}),
    )
    .await;
    let lead_id = Uuid::parse_str(lead["id"].as_str().unwrap()).unwrap();
    let call_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO interactions (id, tenant_id, kind, status, campaign_id, contact_id, end_user_number, created_at, updated_at)
         VALUES ($1, $2, 'call', 'completed', $3, $4, '+12135550400', now(), now())",
    )
    .bind(call_id)
    .bind(tenant_id(&prov).0)
    .bind(Uuid::parse_str(&camp).unwrap())
    .bind(lead_id)
    .execute(&app.db)
    .await
    .unwrap();
    let cdr = call_id.simple().to_string();
    let (s, v) = call(
        &app,
        Method::PUT,
        &token,
        &format!("/api/v2/config/campaigns/call/{cdr}/disposition/voicemail"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], cdr);
    assert_eq!(v["disposition"], "voicemail");
    assert_eq!(v["lead_id"], lead["id"]);
    let (st, attrs): (String, Value) = sqlx::query_as("SELECT status, attrs FROM interactions WHERE id = $1")
        .bind(call_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(st, "voicemail");
    assert_eq!(attrs["disposition"], "voicemail");
    let lst: String = sqlx::query_scalar("SELECT status FROM contacts WHERE id = $1")
        .bind(lead_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(lst, "voicemail");
    let (_, leads) = get(&app, &token, &format!("/api/v2/config/campaigns/{camp}/leads")).await;
    assert_eq!(leads["data"][0]["status"], "voicemail");
    // unknown / malformed call
    let (s, v) = call(
        &app,
        Method::PUT,
        &token,
        &format!("/api/v2/config/campaigns/call/{}/disposition/voicemail", "c".repeat(32)),
        None,
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        call(
            &app,
            Method::PUT,
            &token,
            "/api/v2/config/campaigns/call/x/disposition/voicemail",
            None
        )
        .await
        .0,
        400
    );
}

#[tokio::test]
async fn queues_status_from_directory() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let (token, _, _) = login(&app, &prov).await;
    let (s, v) = get(&app, &token, "/callcenter/queues/status").await;
    assert_eq!((s, v), (200, json!([])));
    for (email, ext) in [
        ("a1@x.com", Some("5865")),
        ("a2@x.com", Some("5866")),
        ("a3@x.com", None),
        ("a4@x.com", Some("5868")),
    ] {
        let (s, v) = app
            .admin_post(
                "/admin/v1/tenants/acme/agents",
                json!({"email": email, "first_name": "Agent", "last_name": email, "extension": ext}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants/acme/queues",
            json!({"name": "QueueName", "extension": "5586", "strategy": "single", "max_time_caller_in_queue": 120,
                   "agents": ["a1@x.com", "a2@x.com", "a3@x.com", "a4@x.com"]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let qid = v["uuid"].as_str().unwrap().to_string();
    // a1: logged out; a2: on a call; a3: logged in, idle, no extension; a4: logged in, unavailable
    sqlx::query("UPDATE agents SET logged_in = false WHERE email = 'a1@x.com'")
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE agents SET on_call = true WHERE email = 'a2@x.com'")
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE agents SET status = 'unavailable', attrs = '{\"registered\": false, \"tags\": [{\"id\": \"t1\", \"name\": \"Batch\", \"color\": \"#b306f1\"}]}' WHERE email = 'a4@x.com'")
        .execute(&app.db)
        .await
        .unwrap();
    let (s, v) = get(&app, &token, "/callcenter/queues/status").await;
    assert_eq!(s, 200, "{v}");
    let q = &v[0];
    assert_eq!(q["id"], qid);
    assert_eq!(q["name"], "QueueName");
    assert_eq!(q["extension"], "5586");
    assert_eq!(q["strategy"], "single");
    assert_eq!(q["max_time_caller_in_queue"], 120);
    assert_eq!(q["calls"], json!({}));
    assert_eq!(q["total_agents"], 4);
    assert_eq!(q["logged_in_agents"], 3);
    assert_eq!(q["logged_out_agents"], 1);
    assert_eq!(q["idle_agents"], 1);
    assert_eq!(q["misconfigured_agents"], 1);
    assert_eq!(q["agents_registered"], 2);
    assert_eq!(q["agents_on_call"], 1);
    let agents = q["agents"].as_array().unwrap();
    assert_eq!(agents[0]["extension"], "5865");
    assert_eq!(agents[0]["logged_in"], false);
    assert_eq!(agents[0]["status"], "idle");
    assert_eq!(agents[0]["registered"], false);
    assert_eq!(agents[0]["extension_is_valid"], true);
    assert_eq!(agents[0]["name"], "Agent a1@x.com");
    assert_eq!(agents[0]["id"].as_str().unwrap().len(), 32);
    assert_eq!(agents[1]["status"], "busy");
    assert_eq!(agents[2]["extension_is_valid"], false);
    assert_eq!(agents[3]["status"], "paused");
    assert_eq!(agents[3]["tags"][0]["color"], "#b306f1");
    for f in ["delay", "timeout", "tags"] {
        assert!(agents[0].get(f).is_some());
    }
}

#[tokio::test]
async fn history_window_paging_and_spellings() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let (token, _, _) = login(&app, &prov).await;
    let camp = campaign(&app, "acme", "load_test_camp_1").await;
    let (_, lead) = add_lead(
        &app,
        &token,
        &camp,
        json!({"number": "+12195011918", "first_name": "Raven", "last_name": "Shields"}),
    )
    .await;
    let lid = lead["id"].as_str().unwrap().to_string();
    call(
        &app,
        Method::POST,
        &token,
        &format!("/api/v2/config/campaigns/leads/{lid}/status/callback"),
        None,
    )
    .await;
    // a dialled call with an agent, dispositioned voicemail
    let (s, agent) = app
        .admin_post(
            "/admin/v1/tenants/acme/agents",
            json!({"email": "jones8@jones.com", "first_name": "Jim", "last_name": "Jones71", "extension": "1071"}),
        )
        .await;
    assert_eq!(s, 201);
    let call_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO interactions (id, tenant_id, kind, status, agent_id, campaign_id, contact_id, created_at, ended_at, updated_at)
         VALUES ($1, $2, 'call', 'completed', $3, $4, $5, now() - interval '90 seconds', now() - interval '30 seconds', now())",
    )
    .bind(call_id)
    .bind(tenant_id(&prov).0)
    .bind(Uuid::parse_str(agent["uuid"].as_str().unwrap()).unwrap())
    .bind(Uuid::parse_str(&camp).unwrap())
    .bind(Uuid::parse_str(&lid).unwrap())
    .execute(&app.db)
    .await
    .unwrap();
    let (s, _) = call(
        &app,
        Method::PUT,
        &token,
        &format!("/api/v2/config/campaigns/call/{}/disposition/voicemail", call_id.simple()),
        None,
    )
    .await;
    assert_eq!(s, 200);

    let now = chrono::Utc::now().timestamp();
    let (s, v) = get(
        &app,
        &token,
        &format!(
            "/api/v2/reports/campaigns/leads/history?startDate={}&endDate={}&pageSize=1000",
            now - 60,
            now + 60
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["page_size"], 1000);
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3, "{v}");
    assert!(v.get("next_start_key").is_none());
    // newest first: disposition, status change, creation
    assert_eq!(data[0]["lead_history"][0]["type"], "disposition");
    assert_eq!(data[1]["lead_history"][0]["status"], "callback");
    assert_eq!(data[2]["lead_history"][0]["type"], "lead created");
    let d = &data[0];
    assert_eq!(d["campaign_name"], "load_test_camp_1");
    assert_eq!(d["lead_name"], "Raven Shields");
    assert_eq!(d["lead_number"], "+12195011918");
    assert_eq!(d["agent_name"], "Jim Jones71");
    assert_eq!(d["agent_extension"], "1071");
    assert!(d["datetime"].as_str().unwrap().ends_with("+0000 UTC"));
    assert!((d["timestamp"].as_i64().unwrap() - now).abs() < 60);
    let h = &d["lead_history"][0];
    assert_eq!(h["agent"]["email"], "jones8@jones.com");
    assert_eq!(h["agent"]["ext"], "1071");
    assert_eq!(h["uuid"], call_id.simple().to_string());
    assert!(h["last_attempt"].as_f64().is_some());
    // every field of the doc's example, at every level
    for f in [
        "datetime",
        "timestamp",
        "campaign_name",
        "lead_name",
        "lead_number",
        "agent_name",
        "agent_extension",
        "lead_history",
    ] {
        assert!(d.get(f).is_some(), "{f}");
    }
    for f in ["agent", "event", "ext", "last_attempt", "type", "uuid"] {
        assert!(h.get(f).is_some(), "lead_history.{f}");
    }
    let mut agent_keys: Vec<&str> = h["agent"].as_object().unwrap().keys().map(String::as_str).collect();
    agent_keys.sort();
    assert_eq!(
        agent_keys,
        [
            "delay",
            "device_endpoints",
            "email",
            "endpoint",
            "ext",
            "first_name",
            "last_answered",
            "last_attempt",
            "last_hangup",
            "last_name",
            "status",
            "timeout",
            "total_talk_time",
            "type"
        ]
    );
    assert_eq!(h["agent"]["total_talk_time"], 60);
    assert!((h["agent"]["last_attempt"].as_f64().unwrap() - (now - 90) as f64).abs() < 5.0);
    assert!((h["agent"]["last_answered"].as_f64().unwrap() - (now - 90) as f64).abs() < 5.0);
    assert!((h["agent"]["last_hangup"].as_f64().unwrap() - (now - 30) as f64).abs() < 5.0);
    // milliseconds (the doc mixes both) and the doc's `starDate` spelling
    let (s, v) = get(
        &app,
        &token,
        &format!(
            "/api/v2/reports/campaigns/leads/history?starDate={}&endDate={}",
            now - 60,
            (now + 60) * 1000
        ),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["data"].as_array().unwrap().len(), 3);
    // the doc's own example request, verbatim: a window in 2022, nothing in it
    let (s, v) = get(
        &app,
        &token,
        "/api/v2/reports/campaigns/leads/history?starDate=1652977920&endDate=1652978220220&pageSize=1000",
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((&v["data"], &v["page_size"]), (&json!([]), &json!(1000)));
    assert!(v.get("next_start_key").is_none());
    // a window in the past is empty
    let (_, v) = get(
        &app,
        &token,
        "/api/v2/reports/campaigns/leads/history?startDate=1652977920&endDate=1652978220220",
    )
    .await;
    assert_eq!(v["data"], json!([]));
    // paging with startKey
    let mut seen = Vec::new();
    let mut key = String::new();
    loop {
        let (s, v) = get(
            &app,
            &token,
            &format!("/api/v2/reports/campaigns/leads/history?pageSize=1&startKey={key}"),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        seen.push(v["data"][0]["lead_history"][0]["type"].clone());
        match v["next_start_key"].as_str() {
            Some(k) => key = k.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0], "disposition");
    // errors
    for q in [
        "startDate=abc",
        "endDate=x",
        "pageSize=0",
        "pageSize=5000",
        "startKey=bad",
        "startDate=200&endDate=100",
    ] {
        let (s, v) = get(&app, &token, &format!("/api/v2/reports/campaigns/leads/history?{q}")).await;
        assert_eq!(s, 400, "{q}: {v}");
    }
    // deleted leads keep a trace
    call(&app, Method::DELETE, &token, &format!("/api/v2/config/campaigns/leads/{lid}"), None).await;
    let (_, v) = get(&app, &token, "/api/v2/reports/campaigns/leads/history").await;
    assert_eq!(v["data"][0]["lead_history"][0]["type"], "lead deleted");
    assert_eq!(v["data"][0]["lead_name"], "Raven Shields");
    // dial attempts of the shared scheduler show as campaign dials with the Leads status
    let (_, lead) = add_lead(&app, &token, &camp, json!({"number": "+12195011919", "first_name": "Ada"})).await;
    app.campaign_events("acme", &camp, &["schedule", "start"]).await;
    app.tick().await;
    app.clock("acme", json!({"advance_seconds": 60})).await;
    let (_, v) = get(&app, &token, "/api/v2/reports/campaigns/leads/history?pageSize=1").await;
    let d = &v["data"][0];
    assert_eq!(d["lead_id"], lead["id"]);
    assert_eq!(d["lead_history"][0]["event"], "campaign dial");
    assert_eq!(d["lead_history"][0]["type"], "dial agent");
    assert_eq!(d["lead_history"][0]["status"], "success");
    assert!(v["next_start_key"].is_string());
}

#[tokio::test]
async fn cross_tenant_access_is_not_found() {
    let app = TestApp::spawn().await;
    let a = app.tenant("acme").await;
    let b = app.tenant("bravo").await;
    let (ta, _, acc_a) = login(&app, &a).await;
    let (tb, _, _) = login(&app, &b).await;
    let camp = campaign(&app, "acme", "Secret").await;
    let (_, lead) = add_lead(&app, &ta, &camp, json!({"number": "+12135550500"})).await;
    let lid = lead["id"].as_str().unwrap().to_string();
    let call_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO interactions (id, tenant_id, kind, status, contact_id, created_at, updated_at) VALUES ($1, $2, 'call', 'completed', $3, now(), now())",
    )
    .bind(call_id)
    .bind(tenant_id(&a).0)
    .bind(Uuid::parse_str(&lid).unwrap())
    .execute(&app.db)
    .await
    .unwrap();
    // B sees nothing of A
    assert_eq!(get(&app, &tb, "/api/v2/config/campaigns").await.1, json!([]));
    assert_eq!(get(&app, &tb, "/api/v2/reports/campaigns/leads/status").await.1, json!({}));
    assert_eq!(get(&app, &tb, "/api/v2/reports/campaigns/leads/history").await.1["data"], json!([]));
    assert_eq!(get(&app, &tb, &format!("/api/v2/config/campaigns/{camp}")).await.0, 404);
    assert_eq!(get(&app, &tb, &format!("/api/v2/config/campaigns/{camp}/leads")).await.0, 400);
    assert_eq!(add_lead(&app, &tb, &camp, json!({"number": "+12135550501"})).await.0, 400);
    assert_eq!(
        call(
            &app,
            Method::POST,
            &tb,
            &format!("/api/v2/config/campaigns/leads/{lid}/status/success"),
            None
        )
        .await
        .0,
        400
    );
    assert_eq!(
        call(&app, Method::DELETE, &tb, &format!("/api/v2/config/campaigns/leads/{lid}"), None)
            .await
            .0,
        400
    );
    let (s, _) = call(
        &app,
        Method::PUT,
        &tb,
        &format!("/api/v2/config/campaigns/call/{}/disposition/voicemail", call_id.simple()),
        None,
    )
    .await;
    assert_eq!(s, 400);
    // B's token cannot claim A's account
    let r = app
        .client
        .get(app.url("/api/v2/config/campaigns"))
        .bearer_auth(&tb)
        .header("X-Account-ID", &acc_a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A's data is untouched
    let (_, v) = get(&app, &ta, &format!("/api/v2/config/campaigns/{camp}/leads")).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"][0]["status"], "new");
    let st: String = sqlx::query_scalar("SELECT status FROM interactions WHERE id = $1")
        .bind(call_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(st, "completed");
    // the same account id cannot be guessed into another tenant's token
    let mut c = claims(&tb);
    c["identity"] = json!(format!("{acc_a}:acme"));
    let forged = switchboard::dialects::leads::jwt_sign(b"wrong", &c);
    assert_eq!(get(&app, &forged, "/api/v2/config/campaigns").await.0, 401);
}

#[tokio::test]
async fn page_read_waits_for_an_in_flight_add() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let (token, _, _) = login(&app, &prov).await;
    let camp = campaign(&app, "acme", "InFlight").await;
    let (_, first) = add_lead(&app, &token, &camp, json!({"number": "+12135550600"})).await;
    // an add in flight: it holds the campaign's lead lock and has taken its sequence number
    let camp_id = Uuid::parse_str(&camp).unwrap();
    let mut tx = app.db.begin().await.unwrap();
    switchboard::domain::contacts::lock_campaign(&mut tx, camp_id, true).await.unwrap();
    let pending = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO contacts (id, tenant_id, campaign_id, number, status, created_at, updated_at)
         VALUES ($1, $2, $3, '+12135550601', 'pending', now(), now())",
    )
    .bind(pending)
    .bind(tenant_id(&prov).0)
    .bind(camp_id)
    .execute(&mut *tx)
    .await
    .unwrap();
    let reader = {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v2/config/campaigns/{camp}/leads?page_size=10"));
        let token = token.clone();
        tokio::spawn(async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !reader.is_finished(),
        "a page is not served while a lower sequence number is uncommitted"
    );
    tx.commit().await.unwrap();
    let v = reader.await.unwrap();
    let ids: Vec<&str> = v["data"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![first["id"].as_str().unwrap(), pending.simple().to_string().as_str()]);
}

#[tokio::test]
async fn openapi_and_postman_describe_what_is_served() {
    let root = env!("CARGO_MANIFEST_DIR");
    let spec = std::fs::read_to_string(format!("{root}/openapi/leads.yaml")).unwrap();
    assert!(spec.starts_with("openapi: 3.1"));
    let paths: Vec<String> = spec
        .lines()
        .filter(|l| l.starts_with("  /") && l.ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':').to_string())
        .collect();
    assert_eq!(paths.len(), 13, "{paths:?}");
    for st in [
        "new",
        "in_progress",
        "success",
        "failed",
        "dnc",
        "voicemail",
        "callback",
        "cancelled",
    ] {
        assert!(spec.contains(st));
    }
    // every documented path is routed (401 without credentials, not 404/405)
    let app = TestApp::spawn().await;
    let hex = "0".repeat(32);
    for p in &paths {
        let concrete = p
            .replace("{campaign_id}", &hex)
            .replace("{leadID}", &hex)
            .replace("{cdrID}", &hex)
            .replace("{status}", "new");
        let block = spec.split(&format!("  {p}:\n")).nth(1).unwrap();
        let block = block.split("\n  /").next().unwrap();
        for m in ["get", "post", "put", "delete"] {
            if block.contains(&format!("\n    {m}:")) {
                let r = app
                    .client
                    .request(common::method(&m.to_uppercase()), app.url(&concrete))
                    .body("{}")
                    .send()
                    .await
                    .unwrap();
                assert!(matches!(r.status().as_u16(), 400 | 401), "{m} {p}: {}", r.status());
            }
        }
    }
    let pm: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{root}/openapi/postman/leads.postman_collection.json")).unwrap()).unwrap();
    let login = &pm["item"][0];
    assert_eq!(login["request"]["url"]["raw"], "{{baseUrl}}/api/v2/login");
    let script = login["event"][0]["script"]["exec"].to_string();
    assert!(script.contains("pm.collectionVariables.set('access_token'"));
}

#[tokio::test]
async fn tenant_reset_ends_access_and_refresh_tokens() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let other = app.tenant("bravo").await;
    let (token, refresh, _) = login(&app, &prov).await;
    let (token_b, _, _) = login(&app, &other).await;
    let epoch0: i64 = sqlx::query_scalar("SELECT epoch FROM tenants WHERE slug = 'acme'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(claims(&token)["epoch"], epoch0);
    let path = "/api/v2/config/campaigns";
    assert_eq!(get(&app, &token, path).await.0, 200);
    let (s, v) = app.admin_post("/admin/v1/tenants/acme/reset", json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["epoch"], epoch0 + 1);
    // the access token (a stateless JWT, not yet expired) no longer works
    let (s, v) = get(&app, &token, path).await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["status"], "error");
    assert!(v["message"].as_str().unwrap().contains("reset"), "{v}");
    // nor does the refresh token
    let (s, _) = post_json(&app, "/api/v2/login/refresh", json!({"refresh_token": refresh})).await;
    assert_eq!(s, 401);
    // another tenant's tokens are untouched
    assert_eq!(get(&app, &token_b, path).await.0, 200);
    // a new login (credentials survive a reset) gets a token of the new epoch
    let (token2, refresh2, _) = login(&app, &prov).await;
    assert_eq!(claims(&token2)["epoch"], epoch0 + 1);
    assert_eq!(get(&app, &token2, path).await.0, 200);
    let (s, v) = post_json(&app, "/api/v2/login/refresh", json!({"refresh_token": refresh2})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(claims(v["access_token"].as_str().unwrap())["epoch"], epoch0 + 1);
    // a token re-signed with the old epoch removed is refused too
    let mut c = claims(&token2);
    c.as_object_mut().unwrap().remove("epoch");
    let parts: Vec<&str> = token2.split('.').collect();
    let stripped = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(c.to_string()), parts[2]);
    assert_eq!(get(&app, &stripped, path).await.0, 401);
}

#[tokio::test]
async fn admin_api_keys_on_every_endpoint_revocation_and_reset() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    app.tenant("bravo").await;
    let acc = prov["leads"]["account_id"].as_str().unwrap().to_string();
    let camp = campaign(&app, "acme", "Keyed").await;
    let other_camp = campaign(&app, "bravo", "NotYours").await;
    let (s, k) = app
        .admin_post("/admin/v1/tenants/acme/leads-api-keys", json!({"name": "crm"}))
        .await;
    assert_eq!(s, 201, "{k}");
    let key = k["key"].as_str().unwrap().to_string();
    let key_id = k["id"].as_str().unwrap().to_string();
    let send = |m: Method, p: String, body: Option<Value>| {
        let mut r = app
            .client
            .request(m, app.url(&p))
            .header("X-API-Key", &key)
            .header("X-Account-ID", &acc);
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move { status_json(r.send().await.unwrap()).await }
    };
    let (s, lead) = send(
        Method::PUT,
        format!("/api/v2/config/campaigns/{camp}/lead"),
        Some(json!({"number": "+12135550700"})),
    )
    .await;
    assert_eq!(s, 200, "{lead}");
    let (s, lead2) = send(
        Method::POST,
        format!("/api/v2/config/campaigns/{camp}/lead"),
        Some(json!({"number": "+12135550701"})),
    )
    .await;
    assert_eq!(s, 200, "{lead2}");
    let lid = lead["id"].as_str().unwrap().to_string();
    let call_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO interactions (id, tenant_id, kind, status, contact_id, created_at, updated_at) VALUES ($1, $2, 'call', 'completed', $3, now(), now())",
    )
    .bind(call_id)
    .bind(tenant_id(&prov).0)
    .bind(Uuid::parse_str(&lid).unwrap())
    .execute(&app.db)
    .await
    .unwrap();
    for (m, p) in [
        (Method::GET, "/api/v2/reports/campaigns/leads/status".to_string()),
        (Method::GET, "/api/v2/config/campaigns".to_string()),
        (Method::GET, format!("/api/v2/config/campaigns/{camp}")),
        (Method::GET, format!("/api/v2/config/campaigns/{camp}/leads")),
        (Method::POST, format!("/api/v2/config/campaigns/leads/{lid}/status/callback")),
        (
            Method::PUT,
            format!("/api/v2/config/campaigns/call/{}/disposition/voicemail", call_id.simple()),
        ),
        (Method::GET, "/api/v2/reports/campaigns/leads/history".to_string()),
        (Method::GET, "/callcenter/queues/status".to_string()),
        (
            Method::DELETE,
            format!("/api/v2/config/campaigns/leads/{}", lead2["id"].as_str().unwrap()),
        ),
    ] {
        let (s, v) = send(m.clone(), p.clone(), None).await;
        assert_eq!(s, 200, "{m} {p}: {v}");
    }
    // the key is the tenant's: another tenant's campaign is not found
    let (s, _) = send(Method::GET, format!("/api/v2/config/campaigns/{other_camp}/leads"), None).await;
    assert_eq!(s, 400);
    // a reset keeps credentials, so the key keeps working
    let (s, _) = app.admin_post("/admin/v1/tenants/acme/reset", json!({})).await;
    assert_eq!(s, 200);
    let (s, v) = send(Method::GET, "/api/v2/config/campaigns".to_string(), None).await;
    assert_eq!((s, v), (200, json!([])));
    // revoked through the admin API → 401 from the next request on
    let r = app
        .admin(Method::DELETE, &format!("/admin/v1/tenants/acme/leads-api-keys/{key_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (s, v) = send(Method::GET, "/api/v2/config/campaigns".to_string(), None).await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["status"], "error");
}

#[tokio::test]
async fn page_read_waits_for_another_dialects_in_flight_add() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let (token, _, _) = login(&app, &prov).await;
    let camp = campaign(&app, "acme", "Shared").await;
    let camp_id = Uuid::parse_str(&camp).unwrap();
    // another dialect (ONC, Campaign Manager) adds a contact without the Leads lock; its
    // transaction is still open when a later contact commits
    let mut tx = app.db.begin().await.unwrap();
    let pending = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO contacts (id, tenant_id, campaign_id, number, status, created_at, updated_at)
         VALUES ($1, $2, $3, '+12135550801', 'pending', now(), now())",
    )
    .bind(pending)
    .bind(tenant_id(&prov).0)
    .bind(camp_id)
    .execute(&mut *tx)
    .await
    .unwrap();
    let later = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO contacts (id, tenant_id, campaign_id, number, status, created_at, updated_at)
         VALUES ($1, $2, $3, '+12135550802', 'pending', now(), now())",
    )
    .bind(later)
    .bind(tenant_id(&prov).0)
    .bind(camp_id)
    .execute(&app.db)
    .await
    .unwrap();
    let reader = {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v2/config/campaigns/{camp}/leads?page_size=1"));
        let token = token.clone();
        tokio::spawn(async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!reader.is_finished(), "no page while a lower sequence number is uncommitted");
    tx.commit().await.unwrap();
    let v = reader.await.unwrap();
    assert_eq!(v["data"][0]["id"], pending.simple().to_string());
    let (seen, _) = all_pages(&app, &token, &camp, 1).await;
    assert_eq!(seen, vec![pending.simple().to_string(), later.simple().to_string()]);
}

#[tokio::test]
async fn a_refresh_token_is_single_use_even_when_raced() {
    let app = TestApp::spawn().await;
    let prov = app.tenant("acme").await;
    let (_, refresh, _) = login(&app, &prov).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let client = app.client.clone();
        let url = app.url("/api/v2/login/refresh");
        let body = json!({"refresh_token": refresh});
        tasks.push(tokio::spawn(async move {
            client.post(url).json(&body).send().await.unwrap().status().as_u16()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes.sort();
    assert_eq!(codes, vec![200, 401, 401, 401, 401, 401]);
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM auth_sessions WHERE revoked_at IS NULL")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(live, 1, "one new refresh token, the old one revoked");
}
