//! Foundation: health, admin API, tenants, fixtures, credentials stored hashed.

mod common;

use common::{status_json, TestApp, ADMIN_TOKEN};
use reqwest::Method;
use serde_json::json;
use sqlx::Row;

#[tokio::test]
async fn health_and_ready() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-request-id").is_some(), "request id is set and echoed");
    let (s, v) = status_json(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("ready")));
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let (s, v) = status_json(app.client.get(app.url("/no/such/path")).send().await.unwrap()).await;
    assert_eq!(s, 404);
    assert_eq!(v["message"], "Not Found");
}

#[tokio::test]
async fn admin_requires_token() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/admin/v1/tenants")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let (s, v) = status_json(
        app.client
            .get(app.url("/admin/v1/tenants"))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 401);
    assert!(v["error"].is_string());
    let (s, _) = status_json(
        app.client
            .post(app.url("/admin/v1/tenants"))
            .json(&json!({"slug": "x"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 401);
    let (s, v) = app.admin_get("/admin/v1/tenants").await;
    assert_eq!(s, 200);
    assert_eq!(v, json!([]));
}

#[tokio::test]
async fn tenant_provisioning_through_admin_api() {
    let app = TestApp::spawn().await;
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants",
            json!({"slug": "acme", "name": "Acme", "onc_password": "keep-me", "apps_token": "apps-tok", "cm_account_sid": "AC0123456789abcdef0123456789abcdef"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["tenant"]["slug"], "acme");
    assert_eq!(v["tenant"]["name"], "Acme");
    assert_eq!(v["onc"]["password"], "keep-me");
    assert_eq!(v["apps"], json!({"subdomain": "acme", "token": "apps-tok"}));
    assert_eq!(v["leads"]["domain"], "acme");
    assert_eq!(v["campaign_manager"]["account_sid"], "AC0123456789abcdef0123456789abcdef");
    let en = v["campaign_manager"]["enterprise_sid"].as_str().unwrap();
    assert!(en.starts_with("EN") && en.len() == 34);
    for k in ["onc", "leads", "campaign_manager", "apps"] {
        assert!(v[k].is_object(), "{k}");
    }

    // Secrets are stored argon2id-hashed, never in clear.
    let rows = sqlx::query("SELECT kind, secret_hash FROM credentials c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'acme'")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    for r in rows {
        let h: String = r.get("secret_hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("keep-me") && !h.contains("apps-tok"));
    }

    // The returned credentials authenticate.
    let cred = switchboard::domain::credentials::authenticate(&app.db, &app.state.creds, "apps", "acme", "apps-tok").await;
    assert!(cred.is_ok());
    let bad = switchboard::domain::credentials::authenticate(&app.db, &app.state.creds, "apps", "acme", "nope").await;
    assert!(bad.is_err());
    let leads_pw = v["leads"]["password"].as_str().unwrap();
    assert!(
        switchboard::domain::credentials::authenticate(&app.db, &app.state.creds, "leads", "acme/admin", leads_pw)
            .await
            .is_ok()
    );

    // Duplicate slug → 409; bad slug → 422 naming the field; malformed JSON → 400.
    let (s, v) = app.admin_post("/admin/v1/tenants", json!({"slug": "acme"})).await;
    assert_eq!(s, 409, "{v}");
    let (s, v) = app.admin_post("/admin/v1/tenants", json!({"slug": "Not A Label"})).await;
    assert_eq!(s, 422);
    assert!(v["error"].as_str().unwrap().contains("slug"));
    let (s, v) = app.admin_post("/admin/v1/tenants", json!({"name": "no slug"})).await;
    assert_eq!(s, 422);
    assert!(v["error"].as_str().unwrap().contains("slug"), "{v}");
    let r = app
        .admin(Method::POST, "/admin/v1/tenants")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let (s, v) = app.admin_get("/admin/v1/tenants/acme").await;
    assert_eq!(s, 200);
    assert_eq!(v["slug"], "acme");
    let (s, _) = app.admin_get("/admin/v1/tenants/nope").await;
    assert_eq!(s, 404);
    app.tenant("beta").await;
    let (_, list) = app.admin_get("/admin/v1/tenants").await;
    let slugs: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(slugs, ["acme", "beta"]);
    let r = app.admin(Method::DELETE, "/admin/v1/tenants/beta").send().await.unwrap();
    assert_eq!(r.status(), 204);
    let (s, _) = app.admin_get("/admin/v1/tenants/beta").await;
    assert_eq!(s, 404);
    let _ = ADMIN_TOKEN;
}

#[tokio::test]
async fn fixtures() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    app.tenant("other").await;
    let (s, a) = app
        .admin_post(
            "/admin/v1/tenants/acme/agents",
            json!({"email": "jane@acme.example", "first_name": "Jane", "last_name": "Doe", "agent_number": "1001", "status": "available", "can_call": true}),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    assert!(a["id"].is_i64());
    assert_eq!(a["email"], "jane@acme.example");
    let (s, v) = app
        .admin_post("/admin/v1/tenants/acme/agents", json!({"email": "not-an-email"}))
        .await;
    assert_eq!(s, 422);
    assert!(v["error"].as_str().unwrap().contains("email"));
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants/acme/agents",
            json!({"email": "x@acme.example", "status": "sleepy"}),
        )
        .await;
    assert_eq!(s, 422);
    assert!(v["error"].as_str().unwrap().contains("status"));

    let (s, ivr) = app
        .admin_post(
            "/admin/v1/tenants/acme/menus",
            json!({"name": "Main", "menu_type": "ivr_menu", "languages": ["en", "fr"], "state": "open", "channels": ["voice_call"]}),
        )
        .await;
    assert_eq!(s, 201, "{ivr}");
    let (s, sub) = app
        .admin_post(
            "/admin/v1/tenants/acme/menus",
            json!({"name": "Sub", "menu_type": "web_menu", "parent_id": ivr["id"], "channels": ["voice_call", "chat"], "wait_seconds": 30}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    assert_eq!(sub["parent_seq"], ivr["id"]);
    let (s, v) = app
        .admin_post("/admin/v1/tenants/acme/menus", json!({"name": "Bad", "menu_type": "fax_menu"}))
        .await;
    assert_eq!(s, 422);
    assert!(v["error"].as_str().unwrap().contains("menu_type"));

    let (s, n) = app
        .admin_post(
            "/admin/v1/tenants/acme/phone-numbers",
            json!({"number": "+1 760-867-5309", "sms": true, "voice": true, "default_outbound": true}),
        )
        .await;
    assert_eq!(s, 201, "{n}");
    assert_eq!(n["number"], "+17608675309");
    let (s, v) = app
        .admin_post("/admin/v1/tenants/acme/phone-numbers", json!({"number": "hello"}))
        .await;
    assert_eq!(s, 422);
    assert!(v["error"].as_str().unwrap().contains("number"));

    let (s, q) = app
        .admin_post(
            "/admin/v1/tenants/acme/queues",
            json!({"name": "Support", "extension": "600", "strategy": "round_robin", "max_time_caller_in_queue": 120, "agents": ["jane@acme.example"]}),
        )
        .await;
    assert_eq!(s, 201, "{q}");
    assert_eq!(q["agents"], json!(["jane@acme.example"]));
    let (s, _) = app
        .admin_post(
            "/admin/v1/tenants/acme/queues",
            json!({"name": "X", "agents": ["ghost@acme.example"]}),
        )
        .await;
    assert_eq!(s, 422);

    let (s, c) = app
        .admin_post("/admin/v1/tenants/acme/credits", json!({"credit": 100, "description": "top-up"}))
        .await;
    assert_eq!(s, 201);
    assert_eq!(c["balance"], 100);
    let (_, c) = app
        .admin_post(
            "/admin/v1/tenants/acme/credits",
            json!({"credit": -30, "description": "correction"}),
        )
        .await;
    assert_eq!(c["balance"], 70);
    assert_eq!(c["kind"], "debit");
    let (s, _) = app.admin_post("/admin/v1/tenants/acme/credits", json!({"credit": "lots"})).await;
    assert_eq!(s, 422);

    let (s, camp) = app
        .admin_post(
            "/admin/v1/tenants/acme/campaigns",
            json!({"name": "Dialer", "kind": "outbound_dialer"}),
        )
        .await;
    assert_eq!(s, 201, "{camp}");
    let id = camp["id"].as_str().unwrap().replace('-', "");
    assert_eq!(camp["ids"]["leads"].as_str().unwrap(), id);
    assert_eq!(camp["ids"]["campaign_manager"].as_str().unwrap(), format!("EC{id}"));
    assert_eq!(camp["ids"]["onc"], camp["id"]);
    assert!(camp["ids"]["apps"].is_i64());
    assert_eq!(camp["status"], "draft");
    let (s, _) = app
        .admin_post("/admin/v1/tenants/acme/campaigns", json!({"name": "X", "kind": "carrier-pigeon"}))
        .await;
    assert_eq!(s, 422);

    for (path, n) in [
        ("agents", 1),
        ("menus", 2),
        ("phone-numbers", 1),
        ("queues", 1),
        ("credits", 2),
        ("campaigns", 1),
        ("outbox", 0),
    ] {
        let (s, v) = app.admin_get(&format!("/admin/v1/tenants/acme/{path}")).await;
        assert_eq!(s, 200);
        assert_eq!(v.as_array().unwrap().len(), n, "{path}");
        // Another tenant sees none of it.
        let (_, v) = app.admin_get(&format!("/admin/v1/tenants/other/{path}")).await;
        assert_eq!(v.as_array().unwrap().len(), 0, "{path} of other");
    }
    let (s, _) = app.admin_get("/admin/v1/tenants/ghost/agents").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn scheduler_runs_campaigns_and_honours_suppression() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    let tid = uuid::Uuid::parse_str(p["tenant"]["id"].as_str().unwrap()).unwrap();
    let t = switchboard::domain::TenantId(tid);
    let now = chrono::Utc::now();
    let c = switchboard::domain::campaigns::create(
        &app.db,
        t,
        switchboard::domain::campaigns::NewCampaign {
            name: "sms".into(),
            kind: "sms".into(),
            // Scheduled (through the admin API) once its contacts are in, so the
            // background scheduler cannot start and complete it half-filled.
            status: Some("draft".into()),
            channel: Some("sms".into()),
            starts_at: Some(now - chrono::Duration::seconds(1)),
            attrs: Some(json!({"body": "hello", "from": "+17608675309"})),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    let blocked = switchboard::domain::phone::PhoneNumber::parse("+14155550101").unwrap();
    switchboard::domain::optlists::upsert(
        &app.db,
        t,
        switchboard::domain::optlists::NewEntry {
            list: "opt_out",
            list_name: "",
            number: &blocked,
            channels: vec!["sms".into()],
            source: "test",
            expires_at: None,
        },
        now,
    )
    .await
    .unwrap();
    for n in ["+14155550100", "+14155550101"] {
        switchboard::domain::contacts::insert(
            &app.db,
            t,
            c.id,
            switchboard::domain::contacts::NewContact {
                number: Some(n.into()),
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
    }
    app.campaign_events("acme", &c.id.to_string(), &["schedule"]).await;
    app.tick().await;
    // an SMS is in flight for 2 s on the tenant clock
    app.clock("acme", json!({"advance_seconds": 5})).await;
    let c2 = switchboard::domain::campaigns::get(&app.db, t, c.id).await.unwrap();
    assert_eq!(c2.status, "completed");
    let (_, outbox) = app.admin_get("/admin/v1/tenants/acme/outbox").await;
    let outbox = outbox.as_array().unwrap();
    assert_eq!(outbox.len(), 2);
    let sent: Vec<_> = outbox
        .iter()
        .map(|d| (d["to_address"].as_str().unwrap(), d["status"].as_str().unwrap()))
        .collect();
    assert!(sent.contains(&("+14155550100", "delivered")));
    assert!(sent.contains(&("+14155550101", "suppressed")));
    let statuses: Vec<String> = sqlx::query_scalar("SELECT status FROM contacts WHERE campaign_id = $1 ORDER BY seq")
        .bind(c.id)
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(statuses, ["completed", "dnc"]);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let big = format!("{{\"slug\": \"acme\", \"name\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let r = app
        .admin(Method::POST, "/admin/v1/tenants")
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let (s, v) = app.admin_get("/admin/v1/tenants").await;
    assert_eq!((s, v), (200, json!([])), "nothing was written");
}

async fn boom() -> &'static str {
    panic!("boom")
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_keeps_serving() {
    use axum::routing::get;
    let app = TestApp::spawn().await;
    let router = axum::Router::new().route("/boom", get(boom)).route("/ok", get(|| async { "ok" }));
    let svc = switchboard::http::layers(router, &app.state).with_state(app.state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, svc).await;
    });
    let r = app.client.get(format!("http://{addr}/boom")).send().await.unwrap();
    assert_eq!(r.status(), 500);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["message"], "Internal Server Error");
    let r = app.client.get(format!("http://{addr}/ok")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
