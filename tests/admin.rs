//! The operator admin API beyond the foundation: suppression lists, tenant settings, Leads
//! API keys, the per-tenant virtual clock and the per-tenant reset.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use common::{status_json, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use switchboard::dialects::apps::tenant::AppsSettings;
use switchboard::dialects::leads::tenant::LeadsSettings;
use switchboard::dialects::onc::tenant::OncSettings;
use switchboard::domain::{credentials, jobs, optlists, secrets, tenants, TenantId};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------
// helpers

async fn tenant_id(app: &TestApp, slug: &str) -> TenantId {
    tenants::by_slug(&app.db, slug).await.expect("tenant").id
}

/// The tenant's now, as the dialects compute it (the row is loaded afresh).
async fn tenant_now(app: &TestApp, slug: &str) -> DateTime<Utc> {
    let t = tenants::by_slug(&app.db, slug).await.expect("tenant");
    app.state.now(&t)
}

async fn suppressed(app: &TestApp, slug: &str, number: &str, channel: &str) -> bool {
    let id = tenant_id(app, slug).await;
    let now = tenant_now(app, slug).await;
    optlists::is_suppressed(&app.db, id, number, channel, now)
        .await
        .expect("is_suppressed")
}

async fn send(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = app.admin(method, path);
    if let Some(b) = body {
        r = r.json(&b);
    }
    status_json(r.send().await.expect("request")).await
}

async fn patch(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    send(app, Method::PATCH, path, Some(body)).await
}

async fn delete(app: &TestApp, path: &str) -> u16 {
    send(app, Method::DELETE, path, None).await.0
}

fn err_names(v: &Value, field: &str) -> bool {
    v["error"].as_str().is_some_and(|e| e.contains(field))
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().expect("time string"))
        .expect("rfc3339")
        .with_timezone(&Utc)
}

/// Row counts of every table with a tenant_id column, for one tenant.
async fn counts(app: &TestApp, t: TenantId) -> BTreeMap<String, i64> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.table_name::text FROM information_schema.columns c
           JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.column_name = 'tenant_id' AND c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for table in tables {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{table}\" WHERE tenant_id = $1"
        )))
        .bind(t.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
        out.insert(table, n);
    }
    out
}

/// Fills a tenant with data in every table: directory, campaigns with contacts that the
/// scheduler delivered (outbox + events), credits, both lists, calls, SMS sessions, CRM
/// records, a blob, a session and a queued job.
async fn populate(app: &TestApp, slug: &str) {
    let t = tenant_id(app, slug).await;
    let now = tenant_now(app, slug).await;
    let base = format!("/admin/v1/tenants/{slug}");
    for (path, body) in [
        ("agents", json!({"email": format!("jane@{slug}.example"), "first_name": "Jane"})),
        ("menus", json!({"name": "Main", "menu_type": "ivr_menu"})),
        ("phone-numbers", json!({"number": "+17608675309"})),
        ("queues", json!({"name": "Support", "agents": [format!("jane@{slug}.example")]})),
        ("credits", json!({"credit": 100})),
        ("opt-outs", json!({"number": "+14155550101", "channels": ["sms"]})),
        ("dnc", json!({"number": "+14155550102"})),
    ] {
        let (s, v) = app.admin_post(&format!("{base}/{path}"), body).await;
        assert_eq!(s, 201, "{path}: {v}");
    }
    let c = switchboard::domain::campaigns::create(
        &app.db,
        t,
        switchboard::domain::campaigns::NewCampaign {
            name: "sms".into(),
            kind: "sms".into(),
            status: Some("scheduled".into()),
            channel: Some("sms".into()),
            starts_at: Some(now - Duration::seconds(1)),
            attrs: Some(json!({"body": "hello", "from": "+17608675309"})),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    for n in ["+14155550100", "+14155550101", "+14155550103"] {
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
    app.tick().await;
    app.tick().await;
    // the SMS are in flight for 2 s on the tenant clock: let them finish
    app.clock(slug, json!({"advance_seconds": 5})).await;
    for kind in ["call", "call", "sms"] {
        sqlx::query(
            "INSERT INTO interactions (id, tenant_id, kind, status, campaign_id, created_at, updated_at)
             VALUES ($1, $2, $3, 'completed', $4, $5, $5)",
        )
        .bind(Uuid::new_v4())
        .bind(t.0)
        .bind(kind)
        .bind(c.id)
        .bind(now)
        .execute(&app.db)
        .await
        .unwrap();
    }
    sqlx::query("INSERT INTO crm_records (id, tenant_id, call_ref, data, created_at) VALUES ($1, $2, 'c1', '{}', $3)")
        .bind(Uuid::new_v4())
        .bind(t.0)
        .bind(now)
        .execute(&app.db)
        .await
        .unwrap();
    let blob = Uuid::new_v4();
    sqlx::query("INSERT INTO blobs (id, tenant_id, filename, size) VALUES ($1, $2, 'a.csv', 3)")
        .bind(blob)
        .bind(t.0)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO blob_chunks (blob_id, n, data) VALUES ($1, 0, 'abc')")
        .bind(blob)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO auth_sessions (id, tenant_id, kind, token_digest, expires_at, created_at)
         VALUES ($1, $2, 'onc_session', $3, $4, $5)",
    )
    .bind(Uuid::new_v4())
    .bind(t.0)
    .bind(secrets::digest(&Uuid::new_v4().to_string()))
    .bind(now + Duration::minutes(20))
    .bind(now)
    .execute(&app.db)
    .await
    .unwrap();
    jobs::enqueue(
        &app.db,
        t,
        jobs::NewJob {
            kind: "test_import".into(),
            blob_id: Some(blob),
            campaign_id: Some(c.id),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------
// auth

/// Every admin endpoint answers 401 without the token and with a wrong one.
#[tokio::test]
async fn every_endpoint_requires_the_token() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let id = Uuid::new_v4();
    let endpoints: Vec<(&str, String)> = vec![
        ("GET", "/admin/v1/tenants".into()),
        ("POST", "/admin/v1/tenants".into()),
        ("GET", "/admin/v1/tenants/acme".into()),
        ("PATCH", "/admin/v1/tenants/acme".into()),
        ("DELETE", "/admin/v1/tenants/acme".into()),
        ("GET", "/admin/v1/tenants/acme/agents".into()),
        ("POST", "/admin/v1/tenants/acme/agents".into()),
        ("GET", "/admin/v1/tenants/acme/menus".into()),
        ("POST", "/admin/v1/tenants/acme/menus".into()),
        ("GET", "/admin/v1/tenants/acme/phone-numbers".into()),
        ("POST", "/admin/v1/tenants/acme/phone-numbers".into()),
        ("GET", "/admin/v1/tenants/acme/queues".into()),
        ("POST", "/admin/v1/tenants/acme/queues".into()),
        ("GET", "/admin/v1/tenants/acme/credits".into()),
        ("POST", "/admin/v1/tenants/acme/credits".into()),
        ("GET", "/admin/v1/tenants/acme/campaigns".into()),
        ("POST", "/admin/v1/tenants/acme/campaigns".into()),
        ("POST", format!("/admin/v1/tenants/acme/campaigns/{id}/events")),
        ("GET", "/admin/v1/tenants/acme/outbox".into()),
        ("GET", "/admin/v1/tenants/acme/opt-outs".into()),
        ("POST", "/admin/v1/tenants/acme/opt-outs".into()),
        ("GET", format!("/admin/v1/tenants/acme/opt-outs/{id}")),
        ("DELETE", format!("/admin/v1/tenants/acme/opt-outs/{id}")),
        ("GET", "/admin/v1/tenants/acme/dnc".into()),
        ("POST", "/admin/v1/tenants/acme/dnc".into()),
        ("GET", format!("/admin/v1/tenants/acme/dnc/{id}")),
        ("DELETE", format!("/admin/v1/tenants/acme/dnc/{id}")),
        ("GET", "/admin/v1/tenants/acme/leads-api-keys".into()),
        ("POST", "/admin/v1/tenants/acme/leads-api-keys".into()),
        ("DELETE", format!("/admin/v1/tenants/acme/leads-api-keys/{id}")),
        ("GET", "/admin/v1/tenants/acme/clock".into()),
        ("POST", "/admin/v1/tenants/acme/clock".into()),
        ("POST", "/admin/v1/tenants/acme/reset".into()),
    ];
    for (m, path) in &endpoints {
        let r = app
            .client
            .request(common::method(m), app.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let (s, v) = status_json(r).await;
        assert_eq!(s, 401, "{m} {path} without token");
        assert!(v["error"].is_string(), "{m} {path}: {v}");
        let r = app
            .client
            .request(common::method(m), app.url(path))
            .bearer_auth("not-the-token")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{m} {path} with a wrong token");
    }
    // Nothing was changed by the refused calls.
    let (s, v) = app.admin_get("/admin/v1/tenants/acme").await;
    assert_eq!(s, 200, "{v}");
}

// ---------------------------------------------------------------------------------------
// suppression lists

#[tokio::test]
async fn opt_outs_add_list_filter_remove() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    app.tenant("other").await;

    let (s, e) = app
        .admin_post("/admin/v1/tenants/acme/opt-outs", json!({"number": "(415) 555-0100"}))
        .await;
    assert_eq!(s, 201, "{e}");
    assert_eq!(e["number"], "+14155550100");
    assert_eq!(e["original"], "(415) 555-0100");
    assert_eq!(e["channels"], json!(["sms", "voice", "email"]));
    assert_eq!(e["source"], "admin");
    assert_eq!(e["expires_at"], Value::Null);
    assert_eq!(e["expired"], false);
    assert!(e["created_at"].is_string());
    let id = e["id"].as_str().unwrap().to_string();
    assert!(suppressed(&app, "acme", "+14155550100", "sms").await);
    assert!(suppressed(&app, "acme", "+14155550100", "voice").await);
    assert!(!suppressed(&app, "other", "+14155550100", "sms").await, "other tenant unaffected");

    // A channel opt-out blocks that channel only.
    let (s, e2) = app
        .admin_post(
            "/admin/v1/tenants/acme/opt-outs",
            json!({"number": "+1 415 555 0101", "channels": ["sms"]}),
        )
        .await;
    assert_eq!(s, 201, "{e2}");
    assert_eq!(e2["channels"], json!(["sms"]));
    assert!(suppressed(&app, "acme", "+14155550101", "sms").await);
    assert!(!suppressed(&app, "acme", "+14155550101", "voice").await);

    // Re-adding updates the expiry (and channels) of the same row.
    let exp = (tenant_now(&app, "acme").await + Duration::days(30)).to_rfc3339();
    let (s, again) = app
        .admin_post(
            "/admin/v1/tenants/acme/opt-outs",
            json!({"number": "+14155550100", "channels": ["voice", "sms"], "expires_at": exp}),
        )
        .await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["id"], id.as_str());
    assert_eq!(time(&again["expires_at"]).timestamp_micros(), time(&json!(exp)).timestamp_micros());
    assert_eq!(again["channels"], json!(["sms", "voice"]));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM suppressions WHERE number = '+14155550100'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 1, "no duplicate rows");

    // List, filter (any number format), single entry.
    let (s, all) = app.admin_get("/admin/v1/tenants/acme/opt-outs").await;
    assert_eq!(s, 200);
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["id"], id.as_str(), "creation order");
    let (s, one) = app.admin_get("/admin/v1/tenants/acme/opt-outs?number=%2B1%20415-555-0101").await;
    assert_eq!(s, 200);
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["number"], "+14155550101");
    let (s, v) = app.admin_get("/admin/v1/tenants/acme/opt-outs?number=abc").await;
    assert_eq!(s, 400);
    assert!(err_names(&v, "number"), "{v}");
    let (s, v) = app.admin_get(&format!("/admin/v1/tenants/acme/opt-outs/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["number"], "+14155550100");
    // DNC is a different list.
    let (_, dnc) = app.admin_get("/admin/v1/tenants/acme/dnc").await;
    assert_eq!(dnc, json!([]));
    let (_, other) = app.admin_get("/admin/v1/tenants/other/opt-outs").await;
    assert_eq!(other, json!([]));

    // Bad input: 400 naming number / expires_at, 422 for the rest.
    for bad in ["hello", "12", "", "+1 415 555 01OO"] {
        let (s, v) = app.admin_post("/admin/v1/tenants/acme/opt-outs", json!({"number": bad})).await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert!(err_names(&v, "number"), "{v}");
    }
    let (s, v) = app.admin_post("/admin/v1/tenants/acme/opt-outs", json!({})).await;
    assert_eq!(s, 422);
    assert!(err_names(&v, "number"), "{v}");
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants/acme/opt-outs",
            json!({"number": "+14155550100", "expires_at": "tomorrow"}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(err_names(&v, "expires_at"), "{v}");
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants/acme/opt-outs",
            json!({"number": "+14155550100", "channels": ["fax"]}),
        )
        .await;
    assert_eq!(s, 422);
    assert!(err_names(&v, "channels"), "{v}");
    let (s, v) = app
        .admin_post("/admin/v1/tenants/acme/opt-outs", json!({"number": "+14155550100", "channels": []}))
        .await;
    assert_eq!(s, 422);
    assert!(err_names(&v, "channels"), "{v}");
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants/acme/opt-outs",
            json!({"number": "+14155550100", "colour": "red"}),
        )
        .await;
    assert_eq!(s, 422);
    assert!(err_names(&v, "colour"), "{v}");
    let r = app
        .admin(Method::POST, "/admin/v1/tenants/acme/opt-outs")
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(r).await;
    assert_eq!(s, 400);
    assert!(v["error"].is_string());
    let (s, _) = app
        .admin_post("/admin/v1/tenants/ghost/opt-outs", json!({"number": "+14155550100"}))
        .await;
    assert_eq!(s, 404);

    // Another tenant's entry id under the wrong slug: 404, and the entry stays.
    let (s, v) = app.admin_get(&format!("/admin/v1/tenants/other/opt-outs/{id}")).await;
    assert_eq!(s, 404, "{v}");
    assert!(v["error"].is_string());
    assert_eq!(delete(&app, &format!("/admin/v1/tenants/other/opt-outs/{id}")).await, 404);
    // …and under the other list.
    assert_eq!(delete(&app, &format!("/admin/v1/tenants/acme/dnc/{id}")).await, 404);
    assert_eq!(delete(&app, "/admin/v1/tenants/acme/opt-outs/not-a-uuid").await, 404);
    assert!(suppressed(&app, "acme", "+14155550100", "sms").await);

    assert_eq!(delete(&app, &format!("/admin/v1/tenants/acme/opt-outs/{id}")).await, 204);
    assert!(!suppressed(&app, "acme", "+14155550100", "sms").await);
    assert_eq!(delete(&app, &format!("/admin/v1/tenants/acme/opt-outs/{id}")).await, 404);
    let (_, all) = app.admin_get("/admin/v1/tenants/acme/opt-outs").await;
    assert_eq!(all.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn dnc_add_list_remove_and_shared_rows() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    app.tenant("other").await;

    let (s, e) = app
        .admin_post("/admin/v1/tenants/acme/dnc", json!({"number": "+44 20 7946 0958"}))
        .await;
    assert_eq!(s, 201, "{e}");
    assert_eq!(e["number"], "+442079460958");
    assert_eq!(e["source"], "admin");
    assert_eq!(e["expired"], false);
    assert!(e.get("channels").is_none(), "DNC blocks every channel: {e}");
    let id = e["id"].as_str().unwrap().to_string();
    for ch in ["sms", "voice", "email"] {
        assert!(suppressed(&app, "acme", "+442079460958", ch).await, "{ch}");
    }
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants/acme/dnc",
            json!({"number": "+442079460958", "channels": ["sms"]}),
        )
        .await;
    assert_eq!(s, 422);
    assert!(err_names(&v, "channels"), "{v}");
    let (s, v) = app
        .admin_post("/admin/v1/tenants/acme/dnc", json!({"number": "not a number"}))
        .await;
    assert_eq!(s, 400);
    assert!(err_names(&v, "number"), "{v}");
    let (s, v) = app.admin_post("/admin/v1/tenants/acme/dnc", json!({"number": 4155550100u64})).await;
    assert_eq!(s, 422);
    assert!(err_names(&v, "number"), "{v}");

    // Re-add with an expiry: same row.
    let exp = (tenant_now(&app, "acme").await + Duration::hours(1)).to_rfc3339();
    let (s, again) = app
        .admin_post("/admin/v1/tenants/acme/dnc", json!({"number": "+442079460958", "expires_at": exp}))
        .await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["id"], id.as_str());

    // A row a dialect wrote (any source) is shown and removable here, and the other way
    // round: what the admin API wrote is what the domain reads.
    let t = tenant_id(&app, "acme").await;
    let n = switchboard::domain::phone::PhoneNumber::parse("+14155550199").unwrap();
    optlists::upsert(
        &app.db,
        t,
        optlists::NewEntry {
            list: "dnc",
            list_name: "",
            number: &n,
            channels: vec![],
            source: "apps",
            expires_at: None,
        },
        tenant_now(&app, "acme").await,
    )
    .await
    .unwrap();
    let (_, all) = app.admin_get("/admin/v1/tenants/acme/dnc").await;
    let all = all.as_array().unwrap().clone();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1]["source"], "apps");
    let (_, filtered) = app.admin_get("/admin/v1/tenants/acme/dnc?number=4155550199").await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let apps_id = all[1]["id"].as_str().unwrap();
    let found = optlists::find(&app.db, t, "dnc", "+442079460958").await.unwrap().unwrap();
    assert_eq!(found.id.to_string(), id);

    // Cross-tenant ids.
    let (s, _) = app.admin_get(&format!("/admin/v1/tenants/other/dnc/{id}")).await;
    assert_eq!(s, 404);
    assert_eq!(delete(&app, &format!("/admin/v1/tenants/other/dnc/{id}")).await, 404);
    assert_eq!(delete(&app, &format!("/admin/v1/tenants/acme/opt-outs/{id}")).await, 404);
    assert_eq!(delete(&app, &format!("/admin/v1/tenants/acme/dnc/{apps_id}")).await, 204);
    assert!(!suppressed(&app, "acme", "+14155550199", "voice").await);
    assert_eq!(delete(&app, &format!("/admin/v1/tenants/acme/dnc/{id}")).await, 204);
    let (_, all) = app.admin_get("/admin/v1/tenants/acme/dnc").await;
    assert_eq!(all, json!([]));
}

// ---------------------------------------------------------------------------------------
// settings

#[tokio::test]
async fn tenant_settings_patch() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    app.tenant("other").await;
    let (s, t) = app.admin_get("/admin/v1/tenants/acme").await;
    assert_eq!(s, 200);
    assert_eq!(
        t["settings"],
        json!({"apps_rate_limit": null, "apps_rate_burst": null, "sms_enabled": null, "outbound_sms_enabled": null,
               "leads_access_token_ttl_seconds": null, "onc_session_idle_seconds": null})
    );
    assert_eq!(t["clock"]["frozen"], false);

    let (s, t) = patch(
        &app,
        "/admin/v1/tenants/acme",
        json!({"name": "Acme Corp", "settings": {"apps_rate_limit": 5, "apps_rate_burst": 20, "sms_enabled": false,
               "outbound_sms_enabled": true, "leads_access_token_ttl_seconds": 600, "onc_session_idle_seconds": 300}}),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["name"], "Acme Corp");
    assert_eq!(t["slug"], "acme");
    assert_eq!(t["settings"]["apps_rate_limit"], 5);
    assert_eq!(t["settings"]["sms_enabled"], false);
    assert_eq!(t["settings"]["leads_access_token_ttl_seconds"], 600);
    // What dialects read on their next request (the row, loaded per request).
    let row = tenants::by_slug(&app.db, "acme").await.unwrap();
    assert_eq!(AppsSettings::of(&row).apps_rate_limit, Some(5));
    assert_eq!(AppsSettings::of(&row).apps_rate_burst, Some(20));
    assert_eq!(AppsSettings::of(&row).sms_enabled, Some(false));
    assert_eq!(AppsSettings::of(&row).outbound_sms_enabled, Some(true));
    assert_eq!(LeadsSettings::of(&row).leads_access_token_ttl_seconds, Some(600));
    assert_eq!(OncSettings::of(&row).onc_session_idle_seconds, Some(300));
    assert_eq!(row.name, "Acme Corp");

    // Partial: only what is given changes; null returns one setting to the default.
    let (s, t) = patch(
        &app,
        "/admin/v1/tenants/acme",
        json!({"settings": {"apps_rate_limit": null, "sms_enabled": true}}),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["settings"]["apps_rate_limit"], Value::Null);
    assert_eq!(t["settings"]["sms_enabled"], true);
    assert_eq!(t["settings"]["apps_rate_burst"], 20);
    let raw: Value = sqlx::query_scalar("SELECT settings FROM tenants WHERE slug = 'acme'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(raw.get("apps_rate_limit").is_none(), "null removes the key: {raw}");
    let (s, t) = patch(&app, "/admin/v1/tenants/acme", json!({"name": "Acme"})).await;
    assert_eq!(s, 200);
    assert_eq!(t["settings"]["apps_rate_burst"], 20, "name-only patch keeps settings");
    let (s, t) = patch(&app, "/admin/v1/tenants/acme", json!({})).await;
    assert_eq!((s, t["name"].as_str()), (200, Some("Acme")));

    // The other tenant is untouched.
    let other = tenants::by_slug(&app.db, "other").await.unwrap();
    assert_eq!(other.settings, tenants::Settings::default());

    // Bad input names the field.
    for (body, field, status) in [
        (json!({"settings": {"apps_rate_limit": -1}}), "apps_rate_limit", 422),
        (json!({"settings": {"apps_rate_limit": "fast"}}), "apps_rate_limit", 422),
        (json!({"settings": {"apps_rate_burst": 0}}), "apps_rate_burst", 422),
        (json!({"settings": {"sms_enabled": "yes"}}), "sms_enabled", 422),
        (
            json!({"settings": {"leads_access_token_ttl_seconds": 0}}),
            "leads_access_token_ttl_seconds",
            422,
        ),
        (
            json!({"settings": {"onc_session_idle_seconds": -5}}),
            "onc_session_idle_seconds",
            422,
        ),
        (
            json!({"settings": {"onc_session_idle_seconds": 9_000_000_000i64}}),
            "onc_session_idle_seconds",
            422,
        ),
        (json!({"settings": {"warp_speed": 9}}), "warp_speed", 422),
        (json!({"settings": 5}), "settings", 422),
        (json!({"name": ""}), "name", 422),
        (json!({"name": 7}), "name", 422),
        (json!({"slug": "renamed"}), "slug", 422),
    ] {
        let (s, v) = patch(&app, "/admin/v1/tenants/acme", body.clone()).await;
        assert_eq!(s, status, "{body}: {v}");
        assert!(err_names(&v, field), "{body}: {v}");
    }
    let r = app
        .admin(Method::PATCH, "/admin/v1/tenants/acme")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (s, _) = patch(&app, "/admin/v1/tenants/ghost", json!({"name": "x"})).await;
    assert_eq!(s, 404);
    // Nothing of the refused patches was stored.
    let row = tenants::by_slug(&app.db, "acme").await.unwrap();
    assert_eq!(AppsSettings::of(&row).apps_rate_burst, Some(20));
    assert_eq!(AppsSettings::of(&row).sms_enabled, Some(true));
}

// ---------------------------------------------------------------------------------------
// Leads API keys

#[tokio::test]
async fn leads_api_keys_create_list_revoke() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    app.tenant("other").await;

    let (s, k) = app
        .admin_post("/admin/v1/tenants/acme/leads-api-keys", json!({"name": "CI pipeline"}))
        .await;
    assert_eq!(s, 201, "{k}");
    assert_eq!(k["name"], "CI pipeline");
    assert!(k["created_at"].is_string());
    let key = k["key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 64);
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
    let id = k["id"].as_str().unwrap().to_string();

    // Stored hashed; the key is not kept in clear anywhere in the row.
    let row: (String, String, Option<String>) = sqlx::query_as("SELECT login_key, secret_hash, name FROM credentials WHERE id = $1::uuid")
        .bind(&id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(row.0, secrets::digest(&key));
    assert!(row.1.starts_with("$argon2id$") && !row.1.contains(&key));

    // It authenticates exactly as the Leads dialect checks X-API-Key.
    let cred = credentials::authenticate(&app.db, &app.state.creds, "leads_api_key", &secrets::digest(&key), &key)
        .await
        .expect("key authenticates");
    assert_eq!(cred.tenant_id, tenant_id(&app, "acme").await);

    // The list shows it without the key.
    let (s, list) = app.admin_get("/admin/v1/tenants/acme/leads-api-keys").await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["name"], "CI pipeline");
    assert!(list[0].get("key").is_none());
    assert!(!list.to_string().contains(&key));
    let (_, other) = app.admin_get("/admin/v1/tenants/other/leads-api-keys").await;
    assert_eq!(other, json!([]));

    // A second key; bad bodies.
    let (s, k2) = app
        .admin_post("/admin/v1/tenants/acme/leads-api-keys", json!({"name": "laptop"}))
        .await;
    assert_eq!(s, 201);
    assert_ne!(k2["key"], k["key"]);
    for (body, status) in [(json!({}), 422), (json!({"name": "  "}), 422), (json!({"name": 3}), 422)] {
        let (s, v) = app.admin_post("/admin/v1/tenants/acme/leads-api-keys", body.clone()).await;
        assert_eq!(s, status, "{body}: {v}");
        assert!(err_names(&v, "name"), "{v}");
    }
    let (s, _) = app.admin_post("/admin/v1/tenants/ghost/leads-api-keys", json!({"name": "x"})).await;
    assert_eq!(s, 404);

    // Revoking under another tenant's slug: 404, and the key still works.
    assert_eq!(delete(&app, &format!("/admin/v1/tenants/other/leads-api-keys/{id}")).await, 404);
    assert_eq!(delete(&app, "/admin/v1/tenants/acme/leads-api-keys/zzz").await, 404);
    assert!(
        credentials::authenticate(&app.db, &app.state.creds, "leads_api_key", &secrets::digest(&key), &key)
            .await
            .is_ok()
    );
    // Revoke: the very next authentication fails (even with the verified-secret cache warm).
    assert_eq!(delete(&app, &format!("/admin/v1/tenants/acme/leads-api-keys/{id}")).await, 204);
    assert!(
        credentials::authenticate(&app.db, &app.state.creds, "leads_api_key", &secrets::digest(&key), &key)
            .await
            .is_err()
    );
    assert_eq!(delete(&app, &format!("/admin/v1/tenants/acme/leads-api-keys/{id}")).await, 404);
    let (_, list) = app.admin_get("/admin/v1/tenants/acme/leads-api-keys").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "laptop");
    let k2s = k2["key"].as_str().unwrap();
    assert!(
        credentials::authenticate(&app.db, &app.state.creds, "leads_api_key", &secrets::digest(k2s), k2s)
            .await
            .is_ok()
    );
}

// ---------------------------------------------------------------------------------------
// clock

#[tokio::test]
async fn clock_advance_set_freeze_reset() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    app.tenant("other").await;
    let (s, c) = app.admin_get("/admin/v1/tenants/acme/clock").await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["offset_seconds"], 0);
    assert_eq!(c["frozen"], false);
    let real = Utc::now();
    assert!((time(&c["now"]) - real).num_seconds().abs() < 5);

    // advance
    let (s, c) = app
        .admin_post("/admin/v1/tenants/acme/clock", json!({"advance_seconds": 3600}))
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["offset_seconds"], 3600);
    let d = (time(&c["now"]) - Utc::now()).num_seconds();
    assert!((3595..=3600).contains(&d), "{d}");
    let (_, c) = app.admin_post("/admin/v1/tenants/acme/clock", json!({"advance_seconds": 0})).await;
    assert_eq!(c["offset_seconds"], 3600);
    // …for this tenant only.
    let (_, o) = app.admin_get("/admin/v1/tenants/other/clock").await;
    assert_eq!(o["offset_seconds"], 0);
    assert!((time(&o["now"]) - Utc::now()).num_seconds().abs() < 5);
    assert!((tenant_now(&app, "other").await - Utc::now()).num_seconds().abs() < 5);
    assert!((tenant_now(&app, "acme").await - Utc::now()).num_seconds() > 3590);
    // The tenant view shows the same clock.
    let (_, t) = app.admin_get("/admin/v1/tenants/acme").await;
    assert_eq!(t["clock"]["offset_seconds"], 3600);

    // set: not before the tenant's now.
    let past = (Utc::now() + Duration::minutes(30)).to_rfc3339();
    let (s, v) = app.admin_post("/admin/v1/tenants/acme/clock", json!({"set": past})).await;
    assert_eq!(s, 422, "{v}");
    assert!(err_names(&v, "set"), "{v}");
    let target = DateTime::parse_from_rfc3339("2031-03-01T09:00:00Z").unwrap().with_timezone(&Utc);
    let (s, c) = app
        .admin_post("/admin/v1/tenants/acme/clock", json!({"set": "2031-03-01T09:00:00Z"}))
        .await;
    assert_eq!(s, 200, "{c}");
    let now = time(&c["now"]);
    assert!(now >= target && now < target + Duration::seconds(3), "{now}");

    // freeze: now stands still; advance moves the frozen instant; unfreeze runs on from it.
    let (s, c) = app.admin_post("/admin/v1/tenants/acme/clock", json!({"freeze": true})).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["frozen"], true);
    let frozen = time(&c["now"]);
    assert_eq!(time(&c["frozen_at"]), frozen);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, c) = app.admin_get("/admin/v1/tenants/acme/clock").await;
    assert_eq!(time(&c["now"]), frozen);
    assert_eq!(tenant_now(&app, "acme").await, frozen);
    let (_, c) = app.admin_post("/admin/v1/tenants/acme/clock", json!({"advance_seconds": 90})).await;
    assert_eq!(time(&c["now"]), frozen + Duration::seconds(90));
    assert_eq!(c["frozen"], true);
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants/acme/clock",
            json!({"set": (frozen + Duration::seconds(10)).to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 422, "set before the (frozen) now: {v}");
    let (_, c) = app.admin_post("/admin/v1/tenants/acme/clock", json!({"freeze": false})).await;
    assert_eq!(c["frozen"], false);
    let resumed = time(&c["now"]);
    assert!(
        resumed >= frozen + Duration::seconds(90) && resumed < frozen + Duration::seconds(93),
        "{resumed}"
    );

    // The clock lives in Postgres: it survives a restart.
    let app = app.restart().await;
    let (_, c) = app.admin_get("/admin/v1/tenants/acme/clock").await;
    let after = time(&c["now"]);
    assert!(after >= resumed && after < resumed + Duration::seconds(30), "{after}");

    // reset
    let (s, c) = app.admin_post("/admin/v1/tenants/acme/clock", json!({"reset": true})).await;
    assert_eq!(s, 200);
    assert_eq!(c["offset_seconds"], 0);
    assert_eq!(c["frozen"], false);
    assert!((time(&c["now"]) - Utc::now()).num_seconds().abs() < 5);

    // Bad requests name the field.
    for (body, field) in [
        (json!({"advance_seconds": -1}), "advance_seconds"),
        (json!({"advance_seconds": "soon"}), "advance_seconds"),
        (json!({"advance_seconds": 9_223_372_036_854_775_807i64}), "advance_seconds"),
        (json!({"set": "next tuesday"}), "set"),
        (json!({"freeze": "please"}), "freeze"),
        (json!({"reset": false}), "reset"),
        (json!({}), "advance_seconds"),
        (json!({"advance_seconds": 5, "freeze": true}), "exactly one"),
        (json!({"rewind": 5}), "rewind"),
    ] {
        let (s, v) = app.admin_post("/admin/v1/tenants/acme/clock", body.clone()).await;
        assert_eq!(s, 422, "{body}: {v}");
        assert!(err_names(&v, field), "{body}: {v}");
    }
    let (_, c) = app.admin_get("/admin/v1/tenants/acme/clock").await;
    assert_eq!(c["offset_seconds"], 0, "refused changes change nothing");
    let (s, _) = app.admin_get("/admin/v1/tenants/ghost/clock").await;
    assert_eq!(s, 404);
    let (s, _) = app.admin_post("/admin/v1/tenants/ghost/clock", json!({"advance_seconds": 1})).await;
    assert_eq!(s, 404);
}

/// DNC and opt-out expiry read the tenant's clock; advancing one tenant changes nothing
/// for another.
#[tokio::test]
async fn advancing_the_clock_expires_suppression_for_that_tenant_only() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    app.tenant("other").await;
    for slug in ["acme", "other"] {
        let exp = (tenant_now(&app, slug).await + Duration::hours(1)).to_rfc3339();
        let (s, v) = app
            .admin_post(
                &format!("/admin/v1/tenants/{slug}/dnc"),
                json!({"number": "+14155550100", "expires_at": exp}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = app
            .admin_post(
                &format!("/admin/v1/tenants/{slug}/opt-outs"),
                json!({"number": "+14155550111", "channels": ["sms"], "expires_at": exp}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        assert!(suppressed(&app, slug, "+14155550100", "voice").await);
        assert!(suppressed(&app, slug, "+14155550111", "sms").await);
    }
    // 59 minutes: still blocked.
    let (s, _) = app
        .admin_post("/admin/v1/tenants/acme/clock", json!({"advance_seconds": 59 * 60}))
        .await;
    assert_eq!(s, 200);
    assert!(suppressed(&app, "acme", "+14155550100", "voice").await);
    let (_, l) = app.admin_get("/admin/v1/tenants/acme/dnc").await;
    assert_eq!(l[0]["expired"], false);
    // Past the expiry: no longer blocked, shown as expired.
    let (s, _) = app
        .admin_post("/admin/v1/tenants/acme/clock", json!({"advance_seconds": 2 * 60}))
        .await;
    assert_eq!(s, 200);
    assert!(!suppressed(&app, "acme", "+14155550100", "voice").await);
    assert!(!suppressed(&app, "acme", "+14155550111", "sms").await);
    let (_, l) = app.admin_get("/admin/v1/tenants/acme/dnc").await;
    assert_eq!(l.as_array().unwrap().len(), 1, "expired entries are still listed");
    assert_eq!(l[0]["expired"], true);
    let (_, l) = app.admin_get("/admin/v1/tenants/acme/opt-outs").await;
    assert_eq!(l[0]["expired"], true);
    // The other tenant's identical entries still block.
    assert!(suppressed(&app, "other", "+14155550100", "voice").await);
    assert!(suppressed(&app, "other", "+14155550111", "sms").await);
    let (_, l) = app.admin_get("/admin/v1/tenants/other/dnc").await;
    assert_eq!(l[0]["expired"], false);
    // Re-adding the expired entry with a later expiry blocks again (same row).
    let exp = (tenant_now(&app, "acme").await + Duration::days(1)).to_rfc3339();
    let (s, v) = app
        .admin_post("/admin/v1/tenants/acme/dnc", json!({"number": "+14155550100", "expires_at": exp}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["expired"], false);
    assert!(suppressed(&app, "acme", "+14155550100", "voice").await);
}

/// Campaign schedules and the scheduler's suppression check follow the tenant's clock.
#[tokio::test]
async fn advancing_the_clock_starts_that_tenants_scheduled_campaigns() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    app.tenant("other").await;
    let mut ids = Vec::new();
    for slug in ["acme", "other"] {
        let t = tenant_id(&app, slug).await;
        let now = tenant_now(&app, slug).await;
        let c = switchboard::domain::campaigns::create(
            &app.db,
            t,
            switchboard::domain::campaigns::NewCampaign {
                name: "later".into(),
                kind: "sms".into(),
                status: Some("scheduled".into()),
                channel: Some("sms".into()),
                starts_at: Some(now + Duration::hours(2)),
                attrs: Some(json!({"body": "hi", "from": "+17608675309"})),
                ..Default::default()
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
        // A DNC entry that has expired by the time the campaign runs.
        let exp = (now + Duration::hours(1)).to_rfc3339();
        let (s, _) = app
            .admin_post(
                &format!("/admin/v1/tenants/{slug}/dnc"),
                json!({"number": "+14155550101", "expires_at": exp}),
            )
            .await;
        assert_eq!(s, 201);
        ids.push((slug, t, c.id));
    }
    app.tick().await;
    for (_, t, id) in &ids {
        let c = switchboard::domain::campaigns::get(&app.db, *t, *id).await.unwrap();
        assert_eq!(c.status, "scheduled");
    }
    let (s, _) = app
        .admin_post("/admin/v1/tenants/acme/clock", json!({"advance_seconds": 3 * 3600}))
        .await;
    assert_eq!(s, 200);
    app.tick().await;
    app.tick().await;
    let (_, t, id) = ids[0];
    let c = switchboard::domain::campaigns::get(&app.db, t, id).await.unwrap();
    assert_eq!(c.status, "completed");
    let (_, outbox) = app.admin_get("/admin/v1/tenants/acme/outbox").await;
    let sent: Vec<_> = outbox
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["to_address"].as_str().unwrap().to_string(),
                d["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(sent.len(), 2, "{outbox}");
    assert!(sent.iter().all(|(_, s)| s == "delivered"), "the DNC entry had expired: {sent:?}");
    // Stamps are on the tenant's clock: the attempt started at the campaign's start time,
    // two hours ahead of real time (the advance replays what fell due, in order).
    let delivered_at = time(&outbox[0]["created_at"]);
    assert!((delivered_at - Utc::now()).num_seconds() > 2 * 3600 - 30, "{delivered_at}");
    let (_, t, id) = ids[1];
    let c = switchboard::domain::campaigns::get(&app.db, t, id).await.unwrap();
    assert_eq!(c.status, "scheduled", "the other tenant's clock did not move");
    let (_, outbox) = app.admin_get("/admin/v1/tenants/other/outbox").await;
    assert_eq!(outbox, json!([]));
}

// ---------------------------------------------------------------------------------------
// reset

#[tokio::test]
async fn reset_empties_one_tenant_and_keeps_its_directory_and_credentials() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    app.tenant("other").await;
    populate(&app, "acme").await;
    populate(&app, "other").await;
    let a = tenant_id(&app, "acme").await;
    let o = tenant_id(&app, "other").await;
    let (s, k) = app.admin_post("/admin/v1/tenants/acme/leads-api-keys", json!({"name": "ci"})).await;
    assert_eq!(s, 201);
    let before_a = counts(&app, a).await;
    let before_o = counts(&app, o).await;
    for table in [
        "agents",
        "menus",
        "queues",
        "queue_agents",
        "phone_numbers",
        "campaigns",
        "contacts",
        "deliveries",
        "events",
        "credit_ledger",
        "suppressions",
        "interactions",
        "crm_records",
        "blobs",
        "auth_sessions",
        "jobs",
    ] {
        assert!(before_a[table] > 0, "populated {table}");
    }
    let epoch_before = tenants::by_slug(&app.db, "acme").await.unwrap().epoch;

    let (s, r) = app.admin_post("/admin/v1/tenants/acme/reset", json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["keep_directory"], true);
    let d = &r["deleted"];
    for table in [
        "campaigns",
        "contacts",
        "deliveries",
        "events",
        "credit_ledger",
        "suppressions",
        "interactions",
        "crm_records",
        "blobs",
        "auth_sessions",
        "jobs",
    ] {
        assert_eq!(d[table], before_a[table], "{table}: {r}");
    }
    assert_eq!(d["calls"], 2);
    assert_eq!(d["sms_sessions"], 1);
    assert!(d.get("agents").is_none(), "directory kept: {r}");
    assert_eq!(r["epoch"], epoch_before + 1);

    let after_a = counts(&app, a).await;
    for (table, n) in &after_a {
        match table.as_str() {
            "agents" | "menus" | "queues" | "queue_agents" | "phone_numbers" | "credentials" => {
                assert_eq!(*n, before_a[table], "{table} kept")
            }
            _ => assert_eq!(*n, 0, "{table} emptied"),
        }
    }
    let chunks: i64 = sqlx::query_scalar("SELECT count(*) FROM blob_chunks c JOIN blobs b ON b.id = c.blob_id WHERE b.tenant_id = $1")
        .bind(o.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(chunks, 1, "the other tenant's blob chunks stay");
    // The other tenant is untouched.
    assert_eq!(counts(&app, o).await, before_o);
    // The tenant, its credentials and API keys still work.
    let (s, t) = app.admin_get("/admin/v1/tenants/acme").await;
    assert_eq!(s, 200, "{t}");
    let pw = acme["apps"]["token"].as_str().unwrap();
    assert!(credentials::authenticate(&app.db, &app.state.creds, "apps", "acme", pw)
        .await
        .is_ok());
    let key = k["key"].as_str().unwrap();
    assert!(
        credentials::authenticate(&app.db, &app.state.creds, "leads_api_key", &secrets::digest(key), key)
            .await
            .is_ok()
    );
    let (_, l) = app.admin_get("/admin/v1/tenants/acme/credits").await;
    assert_eq!(l, json!([]));
    let (_, l) = app.admin_get("/admin/v1/tenants/acme/agents").await;
    assert_eq!(l.as_array().unwrap().len(), 1);
    // The tenant works as new afterwards.
    let (s, _) = app
        .admin_post("/admin/v1/tenants/acme/dnc", json!({"number": "+14155550102"}))
        .await;
    assert_eq!(s, 201);

    // keep_directory: false removes the directory too; an empty body means keep.
    let (s, r) = app
        .admin(Method::POST, "/admin/v1/tenants/acme/reset")
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(s, 200);
    let r: Value = r.json().await.unwrap();
    assert_eq!(r["keep_directory"], true);
    assert_eq!(r["deleted"]["suppressions"], 1);
    let (s, r) = app
        .admin_post("/admin/v1/tenants/acme/reset", json!({"keep_directory": false}))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["deleted"]["agents"], 1);
    assert_eq!(r["deleted"]["menus"], 1);
    assert_eq!(r["deleted"]["queues"], 1);
    assert_eq!(r["deleted"]["queue_agents"], 1);
    assert_eq!(r["deleted"]["phone_numbers"], 1);
    let after = counts(&app, a).await;
    for (table, n) in &after {
        if table != "credentials" {
            assert_eq!(*n, 0, "{table}");
        }
    }
    assert_eq!(counts(&app, o).await, before_o);

    // Bad requests.
    let (s, v) = app
        .admin_post("/admin/v1/tenants/acme/reset", json!({"keep_directory": "yes"}))
        .await;
    assert_eq!(s, 422);
    assert!(err_names(&v, "keep_directory"), "{v}");
    let (s, v) = app.admin_post("/admin/v1/tenants/acme/reset", json!({"everything": true})).await;
    assert_eq!(s, 422);
    assert!(err_names(&v, "everything"), "{v}");
    let r = app
        .admin(Method::POST, "/admin/v1/tenants/acme/reset")
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(r).await;
    assert_eq!(s, 400);
    assert!(v["error"].is_string());
    let (s, _) = app.admin_post("/admin/v1/tenants/ghost/reset", json!({})).await;
    assert_eq!(s, 404);
}

/// A job running for the tenant is stopped by a reset and cannot write afterwards; jobs of
/// the old epoch are never claimed again; new jobs run.
#[tokio::test]
async fn reset_stops_running_jobs() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    app.tenant("other").await;
    let a = tenant_id(&app, "acme").await;
    let o = tenant_id(&app, "other").await;
    let now = tenant_now(&app, "acme").await;
    let kinds = vec!["admin_test_job".to_string()];
    let job = jobs::enqueue(
        &app.db,
        a,
        jobs::NewJob {
            kind: "admin_test_job".into(),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    let claimed = jobs::claim(&app.db, "worker-1", &kinds, 30).await.unwrap().expect("claimed");
    assert_eq!(claimed.id, job.id);
    let other_job = jobs::enqueue(
        &app.db,
        o,
        jobs::NewJob {
            kind: "admin_test_job".into(),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    // A stale job of the old epoch (e.g. enqueued by a request racing the reset).
    let old_epoch = tenants::by_slug(&app.db, "acme").await.unwrap().epoch;

    let (s, r) = app.admin_post("/admin/v1/tenants/acme/reset", json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["deleted"]["jobs"], 1);

    // The running job's next checkpoint fails, so it rolls back and writes nothing.
    let mut tx = app.db.begin().await.unwrap();
    assert!(!jobs::lock_owned(&mut tx, job.id, "worker-1").await.unwrap());
    assert!(!jobs::checkpoint(&mut tx, job.id, "worker-1", &json!({"row": 10})).await.unwrap());
    tx.rollback().await.unwrap();
    assert!(!jobs::renew(&app.db, job.id, "worker-1", 30).await.unwrap());
    assert!(!jobs::finish(&app.db, job.id, "worker-1", "completed", None, None, None)
        .await
        .unwrap());

    sqlx::query(
        "INSERT INTO jobs (id, tenant_id, kind, epoch, created_at, updated_at) VALUES ($1, $2, 'admin_test_job', $3, now(), now())",
    )
    .bind(Uuid::new_v4())
    .bind(a.0)
    .bind(old_epoch)
    .execute(&app.db)
    .await
    .unwrap();
    // The other tenant's job is claimable; the stale one never is.
    let next = jobs::claim(&app.db, "worker-2", &kinds, 30).await.unwrap().expect("other's job");
    assert_eq!(next.id, other_job.id);
    assert!(jobs::claim(&app.db, "worker-2", &kinds, 30).await.unwrap().is_none());
    // A job enqueued after the reset runs.
    let fresh = jobs::enqueue(
        &app.db,
        a,
        jobs::NewJob {
            kind: "admin_test_job".into(),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    let c = jobs::claim(&app.db, "worker-3", &kinds, 30).await.unwrap().expect("fresh job");
    assert_eq!(c.id, fresh.id);
}

/// A tenant table a dialect adds later and forgets to list is still emptied (only for the
/// tenant being reset).
#[tokio::test]
async fn reset_empties_tables_it_does_not_list() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    app.tenant("other").await;
    let a = tenant_id(&app, "acme").await;
    let o = tenant_id(&app, "other").await;
    sqlx::query("CREATE TABLE future_a_things (id uuid PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE)")
        .execute(&app.db)
        .await
        .unwrap();
    // A child table that references it without cascade: emptied first by the retry rounds.
    sqlx::query(
        "CREATE TABLE future_b_children (id uuid PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                                       thing_id uuid NOT NULL REFERENCES future_a_things(id))",
    )
    .execute(&app.db)
    .await
    .unwrap();
    for t in [a, a, o] {
        let id = Uuid::new_v4();
        sqlx::query("INSERT INTO future_a_things (id, tenant_id) VALUES ($1, $2)")
            .bind(id)
            .bind(t.0)
            .execute(&app.db)
            .await
            .unwrap();
        sqlx::query("INSERT INTO future_b_children (id, tenant_id, thing_id) VALUES ($1, $2, $3)")
            .bind(Uuid::new_v4())
            .bind(t.0)
            .bind(id)
            .execute(&app.db)
            .await
            .unwrap();
    }
    let (s, r) = app.admin_post("/admin/v1/tenants/acme/reset", json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["deleted"]["future_a_things"], 2);
    assert_eq!(r["deleted"]["future_b_children"], 2);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM future_a_things")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 1);
    let c = counts(&app, o).await;
    assert_eq!(c["future_b_children"], 1);
}

/// A reset that arrives while a job is inside its write transaction waits for that
/// transaction, then removes what it wrote; the job's next transaction finds it is no
/// longer its job and writes nothing.
#[tokio::test]
async fn reset_waits_for_a_job_transaction_and_removes_its_writes() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let a = tenant_id(&app, "acme").await;
    let now = tenant_now(&app, "acme").await;
    let camp = switchboard::domain::campaigns::create(
        &app.db,
        a,
        switchboard::domain::campaigns::NewCampaign {
            name: "import target".into(),
            kind: "leads".into(),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    let kinds = vec!["admin_test_import".to_string()];
    let job = jobs::enqueue(
        &app.db,
        a,
        jobs::NewJob {
            kind: "admin_test_import".into(),
            campaign_id: Some(camp.id),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    let claimed = jobs::claim(&app.db, "worker-1", &kinds, 30).await.unwrap().expect("claimed");
    assert_eq!(claimed.id, job.id);

    // The job is writing a batch.
    let mut tx = app.db.begin().await.unwrap();
    assert!(jobs::lock_owned(&mut tx, job.id, "worker-1").await.unwrap());
    switchboard::domain::contacts::insert(
        &mut *tx,
        a,
        camp.id,
        switchboard::domain::contacts::NewContact {
            number: Some("+14155550100".into()),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();

    let client = app.client.clone();
    let url = app.url("/admin/v1/tenants/acme/reset");
    let reset = tokio::spawn(async move {
        let r = client
            .post(url)
            .bearer_auth(common::ADMIN_TOKEN)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        status_json(r).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!reset.is_finished(), "the reset waits for the job's transaction");
    assert!(jobs::checkpoint(&mut tx, job.id, "worker-1", &json!({"rows": 1})).await.unwrap());
    tx.commit().await.unwrap();

    let (s, r) = reset.await.unwrap();
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["deleted"]["jobs"], 1);
    assert_eq!(r["deleted"]["contacts"], 1, "the batch committed before the reset is removed: {r}");
    assert_eq!(r["deleted"]["campaigns"], 1);
    // The job's next batch: not its job any more, so it rolls back.
    let mut tx = app.db.begin().await.unwrap();
    assert!(!jobs::lock_owned(&mut tx, job.id, "worker-1").await.unwrap());
    tx.rollback().await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE tenant_id = $1")
        .bind(a.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

// ---------------------------------------------------------------------------------------
// The same rows through the dialects. These run once the dialect is merged; on a branch
// where the dialect's routes do not exist yet (the app's fallback answers 404
// {"message":"Not Found"}), they say so on stderr and stop.

fn dialect_missing(status: u16, body: &Value, dialect: &str) -> bool {
    if status == 404 && *body == json!({"message": "Not Found"}) {
        eprintln!("SKIPPED: the {dialect} dialect is not built in this branch");
        return true;
    }
    false
}

/// Apps `outbound_dialer/dnc` ⇄ admin `/dnc`.
#[tokio::test]
async fn dnc_is_shared_with_the_apps_dialect() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    let token = p["apps"]["token"].as_str().unwrap().to_string();
    let apps = |m: Method, path: &str| app.client.request(m, app.url(path)).basic_auth("acme", Some(token.clone()));

    // Apps → admin
    let r = apps(Method::POST, "/apps/api/v1/outbound_dialer/dnc")
        .json(&json!({"contacts": [{"phone_number": "+1-4151115555"}]}))
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(r).await;
    if dialect_missing(s, &v, "apps") {
        return;
    }
    assert_eq!(s, 200, "{v}");
    let (_, l) = app.admin_get("/admin/v1/tenants/acme/dnc?number=%2B14151115555").await;
    assert_eq!(l.as_array().map(Vec::len), Some(1), "{l}");
    assert_eq!(l[0]["number"], "+14151115555");
    let r = apps(Method::POST, "/apps/api/v1/outbound_dialer/dnc/remove")
        .json(&json!({"phone_numbers": ["1-415-111-5555"]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let (_, l) = app.admin_get("/admin/v1/tenants/acme/dnc?number=%2B14151115555").await;
    assert_eq!(l, json!([]));

    // admin → Apps
    let (s, e) = app
        .admin_post("/admin/v1/tenants/acme/dnc", json!({"number": "+14151113333"}))
        .await;
    assert_eq!(s, 201);
    let r = apps(Method::GET, "/apps/api/v1/outbound_dialer/dnc/check?phone_number=14151113333")
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(r).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["do_not_call"], true, "{v}");
    assert_eq!(
        delete(&app, &format!("/admin/v1/tenants/acme/dnc/{}", e["id"].as_str().unwrap())).await,
        204
    );
    let r = apps(Method::GET, "/apps/api/v1/outbound_dialer/dnc/check?phone_number=14151113333")
        .send()
        .await
        .unwrap();
    let (_, v) = status_json(r).await;
    assert_eq!(v["do_not_call"], false, "{v}");
}

/// Campaign Manager `dnd/optout` ⇄ admin `/opt-outs`.
#[tokio::test]
async fn opt_outs_are_shared_with_the_campaign_manager_dialect() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    let sid = p["campaign_manager"]["account_sid"].as_str().unwrap().to_string();
    let tok = p["campaign_manager"]["auth_token"].as_str().unwrap().to_string();

    // Campaign Manager → admin
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"+14155550123\n+14155550124\n".to_vec()).file_name("optout.csv"),
    );
    let r = app
        .client
        .post(app.url("/campaignmanager/dnd/optout"))
        .basic_auth(&sid, Some(&tok))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(r).await;
    if dialect_missing(s, &v, "campaign_manager") {
        return;
    }
    assert_eq!(s, 200, "{v}");
    for n in ["%2B14155550123", "%2B14155550124"] {
        let (_, l) = app.admin_get(&format!("/admin/v1/tenants/acme/opt-outs?number={n}")).await;
        assert_eq!(l.as_array().map(Vec::len), Some(1), "{n}: {l}");
    }
    assert!(suppressed(&app, "acme", "+14155550123", "sms").await);

    // admin → Campaign Manager: its opt-out number SID is OT + the entry's hex.
    let (s, e) = app
        .admin_post("/admin/v1/tenants/acme/opt-outs", json!({"number": "+14155550125"}))
        .await;
    assert_eq!(s, 201);
    let id = Uuid::parse_str(e["id"].as_str().unwrap()).unwrap();
    let r = app
        .client
        .delete(app.url(&format!("/campaignmanager/dnd/optout/OT{}", id.simple())))
        .basic_auth(&sid, Some(&tok))
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(r).await;
    assert_eq!(s, 200, "{v}");
    let (_, l) = app.admin_get("/admin/v1/tenants/acme/opt-outs?number=%2B14155550125").await;
    assert_eq!(l, json!([]));
}

/// Whether an ONC JSON-binding answer to `GetCampaignListing` is a listing (session
/// accepted) rather than an error / null (session rejected).
fn onc_accepted(status: u16, v: &Value) -> bool {
    if status != 200 {
        return false;
    }
    if v.get("ErrorCode").and_then(Value::as_i64).is_some_and(|c| c != 0) {
        return false;
    }
    v.is_array() || v.as_object().is_some_and(|o| o.values().any(Value::is_array))
}

/// ONC sessions expire after 20 idle minutes on the tenant's clock (the tenant's own
/// clock only).
#[tokio::test]
async fn onc_session_idle_expiry_follows_the_tenant_clock() {
    let app = TestApp::spawn().await;
    let mut sessions = Vec::new();
    for slug in ["acme", "other"] {
        let p = app.tenant(slug).await;
        let r = app
            .client
            .post(app.url("/onc/json/OpenAPISession"))
            .json(&json!({"AccountId": p["onc"]["account_id"], "Username": p["onc"]["username"], "Password": p["onc"]["password"]}))
            .send()
            .await
            .unwrap();
        let (s, v) = status_json(r).await;
        if dialect_missing(s, &v, "onc") {
            return;
        }
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["ErrorCode"], 0, "{v}");
        sessions.push(v["SessionId"].as_str().expect("SessionId").to_string());
    }
    let listing = |sid: String| {
        let app = &app;
        async move {
            let r = app
                .client
                .post(app.url("/onc/json/GetCampaignListing"))
                .json(&json!({"SessionId": sid}))
                .send()
                .await
                .unwrap();
            let (s, v) = status_json(r).await;
            onc_accepted(s, &v)
        }
    };
    assert!(listing(sessions[0].clone()).await);
    // 19 idle minutes: still valid (and the use restarts the idle timer).
    app.admin_post("/admin/v1/tenants/acme/clock", json!({"advance_seconds": 19 * 60}))
        .await;
    assert!(listing(sessions[0].clone()).await, "accepted after 19 idle minutes");
    // 21 idle minutes: expired.
    app.admin_post("/admin/v1/tenants/acme/clock", json!({"advance_seconds": 21 * 60}))
        .await;
    assert!(!listing(sessions[0].clone()).await, "rejected after 21 idle minutes");
    // The other tenant's session is on its own clock.
    assert!(listing(sessions[1].clone()).await, "other tenant's session still valid");
}

/// Leads access tokens expire on the tenant's clock; another tenant's token still works.
#[tokio::test]
async fn leads_access_token_expiry_follows_the_tenant_clock() {
    let app = TestApp::spawn().await;
    let mut tokens = Vec::new();
    for slug in ["acme", "other"] {
        let p = app.tenant(slug).await;
        let r = app
            .client
            .post(app.url("/api/v2/login"))
            .json(&json!({"username": p["leads"]["username"], "password": p["leads"]["password"], "domain": slug}))
            .send()
            .await
            .unwrap();
        let (s, v) = status_json(r).await;
        if dialect_missing(s, &v, "leads") {
            return;
        }
        assert_eq!(s, 200, "{v}");
        assert!(v["refresh_token"].is_string(), "{v}");
        tokens.push((
            v["access_token"].as_str().expect("access_token").to_string(),
            p["leads"]["account_id"].as_str().unwrap().to_string(),
        ));
    }
    let status = |(tok, acct): (String, String)| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/api/v2/reports/campaigns/leads/status"))
                .bearer_auth(tok)
                .header("X-Account-ID", acct)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(tokens[0].clone()).await, 200);
    let ttl = app.state.config.leads_token_ttl;
    app.admin_post("/admin/v1/tenants/acme/clock", json!({"advance_seconds": ttl - 60}))
        .await;
    assert_eq!(status(tokens[0].clone()).await, 200, "valid a minute before its exp");
    app.admin_post("/admin/v1/tenants/acme/clock", json!({"advance_seconds": 120}))
        .await;
    assert_ne!(status(tokens[0].clone()).await, 200, "rejected after its exp");
    assert_eq!(status(tokens[1].clone()).await, 200, "other tenant's token still valid");
}
