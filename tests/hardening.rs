//! Bad input never gives a 5xx and never leaves data stuck: NUL characters (which
//! PostgreSQL text cannot store), `%00` in path ids, credit overflow, wrong JSON types,
//! and a fuzzing sweep over every JSON route (NUL, lone surrogates, 10 MB strings, deep
//! nesting, wrong types, huge integers) after which the server still answers valid requests.

mod common;

use common::{status_json, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use switchboard::domain::credits;

/// Credentials of one tenant in every dialect, and ids the routes need.
struct Ctx {
    apps: (String, String),
    cm: (String, String),
    leads_token: String,
    onc_session: String,
    dialer_campaign: i64,
    leads_campaign: String,
    cm_campaign: String,
}

#[derive(Clone, Copy)]
enum Auth {
    None,
    Admin,
    Apps,
    Cm,
    Leads,
}

async fn setup(app: &TestApp) -> Ctx {
    let p = app.tenant("acme").await;
    app.credit("acme", 100).await;
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants/acme/phone-numbers",
            json!({"number": "+14155550100", "default_outbound": true}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (_, dialer) = app
        .admin_post(
            "/admin/v1/tenants/acme/campaigns",
            json!({"name": "Dialer", "kind": "outbound_dialer"}),
        )
        .await;
    let (_, leads) = app
        .admin_post("/admin/v1/tenants/acme/campaigns", json!({"name": "Leads", "kind": "leads"}))
        .await;
    let (_, sms) = app
        .admin_post("/admin/v1/tenants/acme/campaigns", json!({"name": "Sms", "kind": "sms"}))
        .await;
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
    let leads_token = v["access_token"].as_str().unwrap().to_string();
    let (_, v) = status_json(
        app.client
            .post(app.url("/onc/json/OpenAPISession"))
            .json(&json!({"AccountId": p["onc"]["account_id"], "Username": p["onc"]["username"], "Password": p["onc"]["password"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let onc_session = v["SessionId"].as_str().unwrap_or_default().to_string();
    Ctx {
        apps: (
            p["apps"]["subdomain"].as_str().unwrap().into(),
            p["apps"]["token"].as_str().unwrap().into(),
        ),
        cm: (
            p["campaign_manager"]["account_sid"].as_str().unwrap().into(),
            p["campaign_manager"]["auth_token"].as_str().unwrap().into(),
        ),
        leads_token,
        onc_session,
        dialer_campaign: dialer["ids"]["apps"].as_i64().unwrap(),
        leads_campaign: leads["ids"]["leads"].as_str().unwrap().into(),
        cm_campaign: sms["ids"]["campaign_manager"].as_str().unwrap().into(),
    }
}

fn request(app: &TestApp, ctx: &Ctx, m: Method, path: &str, auth: Auth) -> reqwest::RequestBuilder {
    let b = app.client.request(m, app.url(path));
    match auth {
        Auth::None => b,
        Auth::Admin => b.bearer_auth(common::ADMIN_TOKEN),
        Auth::Apps => b.basic_auth(&ctx.apps.0, Some(&ctx.apps.1)),
        Auth::Cm => b.basic_auth(&ctx.cm.0, Some(&ctx.cm.1)),
        Auth::Leads => b.bearer_auth(&ctx.leads_token),
    }
}

async fn send_json(app: &TestApp, ctx: &Ctx, m: Method, path: &str, auth: Auth, body: Value) -> (u16, Value) {
    status_json(request(app, ctx, m, path, auth).json(&body).send().await.unwrap()).await
}

/// Every route that takes a JSON body.
fn json_routes(ctx: &Ctx) -> Vec<(Method, String, Auth)> {
    let t = "/admin/v1/tenants/acme";
    let od = format!("/apps/api/v1/outbound_dialer/campaigns/{}", ctx.dialer_campaign);
    let lc = &ctx.leads_campaign;
    let mut r = vec![
        (Method::POST, "/admin/v1/tenants".to_string(), Auth::Admin),
        (Method::PATCH, t.to_string(), Auth::Admin),
    ];
    for sub in [
        "agents",
        "menus",
        "phone-numbers",
        "queues",
        "credits",
        "campaigns",
        "opt-outs",
        "dnc",
        "clock",
        "leads-api-keys",
        "apps/org-items",
        "calls",
    ] {
        r.push((Method::POST, format!("{t}/{sub}"), Auth::Admin));
    }
    for p in [
        "/apps/api/v1/calls",
        "/apps/api/v1/sms",
        "/apps/api/v1/crm/contact_data",
        "/apps/api/v1/outbound_dialer/dnc",
        "/apps/api/v1/outbound_dialer/dnc/remove",
        "/apps/api/v1/bulk/users/proceed",
    ] {
        r.push((Method::POST, p.to_string(), Auth::Apps));
    }
    r.push((Method::POST, format!("{od}/contacts"), Auth::Apps));
    r.push((Method::PATCH, format!("{od}/contact"), Auth::Apps));
    r.push((Method::DELETE, format!("{od}/contact"), Auth::Apps));
    for (m, p) in [
        (Method::POST, "/campaignmanager/campaigns".to_string()),
        (Method::PUT, format!("/campaignmanager/campaigns/{}", ctx.cm_campaign)),
        (Method::POST, "/campaignmanager/announcement".to_string()),
        (Method::POST, "/campaignmanager/dnd/optout".to_string()),
        (Method::POST, "/campaignmanager/dnd/optin".to_string()),
    ] {
        r.push((m, p, Auth::Cm));
    }
    r.push((Method::POST, "/api/v2/login".to_string(), Auth::None));
    r.push((Method::POST, "/api/v2/login/refresh".to_string(), Auth::None));
    r.push((Method::PUT, format!("/api/v2/config/campaigns/{lc}/lead"), Auth::Leads));
    r.push((Method::POST, format!("/api/v2/config/campaigns/{lc}/lead"), Auth::Leads));
    r.push((
        Method::PUT,
        "/api/v2/config/campaigns/call/1/disposition/voicemail".to_string(),
        Auth::Leads,
    ));
    for m in [
        "OpenAPISession",
        "AddCampaign",
        "UpdateCampaign",
        "AddCampaignContact",
        "UpdateCampaignContact",
        "GetCampaigns",
    ] {
        r.push((Method::POST, format!("/onc/json/{m}"), Auth::None));
    }
    r
}

/// Field names of every dialect's bodies (a payload sets all of them, so each handler
/// finds the ones it reads).
const KEYS: &[&str] = &[
    "slug",
    "name",
    "email",
    "first_name",
    "last_name",
    "agent_number",
    "extension",
    "attrs",
    "number",
    "phone_number",
    "phone_numbers",
    "credit",
    "description",
    "kind",
    "status",
    "channel",
    "menu_type",
    "contacts",
    "contact",
    "contact_id",
    "call_type",
    "call_id",
    "ticket_id",
    "to",
    "from",
    "body",
    "message",
    "end_user_number",
    "expires_at",
    "username",
    "password",
    "domain",
    "refresh_token",
    "id",
    "lead",
    "phone",
    "data",
    "advance",
    "set",
    "label",
    "AccountId",
    "Username",
    "Password",
    "SessionId",
    "Campaign",
    "Contact",
    "Name",
    "PhoneNumber",
    "accountSid",
    "type",
    "recipients",
    "startDate",
    "user_custom_metadata",
    "external_unique_id",
];

fn object_with(ctx: &Ctx, v: Value) -> Value {
    let mut m = serde_json::Map::new();
    for k in KEYS {
        m.insert((*k).to_string(), v.clone());
    }
    m.insert("SessionId".into(), json!(ctx.onc_session));
    Value::Object(m)
}

/// The sweep's payloads: (label, raw body).
fn payloads(ctx: &Ctx) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut push = |label: &str, v: Value| out.push((label.to_string(), serde_json::to_vec(&v).unwrap()));
    push("nul strings", object_with(ctx, json!("a\u{0}b")));
    push("nul nested", object_with(ctx, json!({"x": "a\u{0}b", "list": ["\u{0}"]})));
    push("nul key", json!({"na\u{0}me": "x", "SessionId": ctx.onc_session}));
    push("objects", object_with(ctx, json!({})));
    push("arrays", object_with(ctx, json!([{}, null])));
    push("arrays of nulls", object_with(ctx, json!([null, null])));
    push("bools", object_with(ctx, json!(true)));
    push("empty strings", object_with(ctx, json!("")));
    push("i64 max", object_with(ctx, json!(i64::MAX)));
    push("i64 min", object_with(ctx, json!(i64::MIN)));
    push("u64 max", object_with(ctx, json!(u64::MAX)));
    push("float", object_with(ctx, json!(1e308)));
    push("array body", json!([1, "x", null]));
    push("string body", json!("x"));
    push("null body", json!(null));
    push("number body", json!(9223372036854775807i64));
    let mut raw = |label: &str, b: Vec<u8>| out.push((label.to_string(), b));
    raw(
        "huge integer",
        br#"{"credit": 123456789012345678901234567890, "id": 123456789012345678901234567890, "contact_id": 1e400}"#.to_vec(),
    );
    raw(
        "lone surrogate",
        br#"{"name": "\ud800", "email": "\udc00x", "phone_number": "\ud83d"}"#.to_vec(),
    );
    raw("invalid utf-8", b"{\"name\": \"\xed\xa0\x80\xff\"}".to_vec());
    raw("deep nesting", format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes());
    raw(
        "deep objects",
        format!("{}1{}", "{\"a\":".repeat(3000), "}".repeat(3000)).into_bytes(),
    );
    raw("malformed", b"{\"name\": ".to_vec());
    raw(
        "10 MB string",
        format!("{{\"name\": \"{}\", \"description\": \"x\"}}", "a".repeat(10 * 1024 * 1024)).into_bytes(),
    );
    out
}

async fn still_serves(app: &TestApp, ctx: &Ctx) {
    let r = app.client.get(app.url("/healthz")).send().await.expect("server still up");
    assert_eq!(r.status(), 200);
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants/acme/agents",
            json!({"email": format!("a{}@example.com", uuid::Uuid::new_v4().simple())}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = send_json(
        app,
        ctx,
        Method::POST,
        "/apps/api/v1/outbound_dialer/dnc",
        Auth::Apps,
        json!({"contacts": [{"phone_number": "+14155550199"}]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app.admin_post("/admin/v1/tenants/acme/credits", json!({"credit": 1000})).await;
    assert_eq!(s, 201, "{v}");
}

#[tokio::test]
async fn fuzz_sweep_over_every_json_route_never_answers_5xx() {
    let app = TestApp::spawn().await;
    let ctx = setup(&app).await;
    let mut failures = Vec::new();
    for (label, body) in payloads(&ctx) {
        for (m, path, auth) in json_routes(&ctx) {
            let r = request(&app, &ctx, m.clone(), &path, auth)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            match r {
                Ok(r) if r.status().is_server_error() => {
                    let s = r.status();
                    let text = r.text().await.unwrap_or_default();
                    failures.push(format!("{m} {path} [{label}] → {s} {}", text.chars().take(200).collect::<String>()));
                }
                Ok(_) => {}
                Err(e) => failures.push(format!("{m} {path} [{label}] → transport error {e}")),
            }
        }
        still_serves(&app, &ctx).await;
    }
    // The same NUL through SOAP (XML character reference) and through query strings.
    let soap = r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><OpenAPISession xmlns="http://tempuri.org/"><accountId>a&#0;b</accountId><username>u</username><password>p</password></OpenAPISession></s:Body></s:Envelope>"#;
    let r = app
        .client
        .post(app.url("/onc/ONCService.svc"))
        .header("content-type", "text/xml")
        .header("SOAPAction", "\"http://tempuri.org/IONCService/OpenAPISession\"")
        .body(soap)
        .send()
        .await
        .unwrap();
    if r.status().is_server_error() && r.status() != 500 {
        failures.push(format!("SOAP NUL → {}", r.status()));
    }
    for (path, auth) in [
        ("/admin/v1/tenants/acme/opt-outs?number=%00", Auth::Admin),
        ("/manager/api/v1/calls?phone_number=%00&search=%00", Auth::Apps),
        ("/apps/api/v1/outbound_dialer/dnc/check?phone_number=%00", Auth::Apps),
        ("/campaignmanager/campaigns/search?name=%00&search=%00", Auth::Cm),
        ("/campaignmanager/dnd/optout/search?phoneNumber=%00", Auth::Cm),
        ("/api/v2/reports/campaigns/leads/status?campaign_id=%00", Auth::Leads),
        ("/api/v2/config/campaigns?name=%00", Auth::Leads),
    ] {
        let r = request(&app, &ctx, Method::GET, path, auth).send().await.unwrap();
        if r.status().is_server_error() {
            failures.push(format!("GET {path} → {}", r.status()));
        }
    }
    still_serves(&app, &ctx).await;
    assert!(failures.is_empty(), "{} server errors:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn nul_in_a_body_is_the_dialects_own_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let ctx = setup(&app).await;
    let nul = "x\u{0}y";
    let t = "/admin/v1/tenants/acme";
    let admin_cases = [
        (Method::PATCH, t.to_string(), json!({"name": nul}), "name"),
        (Method::POST, format!("{t}/queues"), json!({"name": nul}), "name"),
        (
            Method::POST,
            format!("{t}/credits"),
            json!({"credit": 5, "description": nul}),
            "description",
        ),
        (Method::POST, format!("{t}/leads-api-keys"), json!({"name": nul}), "name"),
        (
            Method::POST,
            format!("{t}/agents"),
            json!({"email": "n@example.com", "attrs": {"k": nul}}),
            "attrs.k",
        ),
        (
            Method::POST,
            format!("{t}/apps/org-items"),
            json!({"name": nul, "type": "team"}),
            "name",
        ),
        (Method::POST, format!("{t}/campaigns"), json!({"name": nul, "kind": "sms"}), "name"),
    ];
    for (m, path, body, field) in admin_cases {
        let (s, v) = send_json(&app, &ctx, m.clone(), &path, Auth::Admin, body).await;
        assert_eq!(s, 422, "{m} {path}: {v}");
        let e = v["error"].as_str().unwrap_or_default();
        assert!(e.starts_with(field) && e.contains("NUL"), "{m} {path}: {v}");
    }
    // Apps: {"message"} with 400.
    let (s, v) = send_json(
        &app,
        &ctx,
        Method::POST,
        "/apps/api/v1/crm/contact_data",
        Auth::Apps,
        json!({"call_id": "1", "contact": {"name": nul}}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(v["message"].as_str().unwrap_or_default().contains("contact.name"), "{v}");
    let od = format!("/apps/api/v1/outbound_dialer/campaigns/{}", ctx.dialer_campaign);
    let (s, v) = send_json(
        &app,
        &ctx,
        Method::POST,
        &format!("{od}/contacts"),
        Auth::Apps,
        json!({"phone_number": "+14155550123"}),
    )
    .await;
    assert!(s < 300, "{s} {v}");
    let (s, v) = send_json(
        &app,
        &ctx,
        Method::PATCH,
        &format!("{od}/contact"),
        Auth::Apps,
        json!({"phone_number": "+14155550123", "first_name": nul}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(v["message"].as_str().unwrap_or_default().contains("first_name"), "{v}");
    // Leads and Campaign Manager: their own 400s.
    let (s, v) = send_json(
        &app,
        &ctx,
        Method::PUT,
        &format!("/api/v2/config/campaigns/{}/lead", ctx.leads_campaign),
        Auth::Leads,
        json!({"phone": "+14155550124", "name": nul}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = send_json(
        &app,
        &ctx,
        Method::POST,
        "/campaignmanager/announcement",
        Auth::Cm,
        json!({"name": nul}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    // ONC JSON: an InvalidArgument error code.
    let (s, v) = send_json(
        &app,
        &ctx,
        Method::POST,
        "/onc/json/OpenAPISession",
        Auth::None,
        json!({"AccountId": nul, "Username": "u", "Password": "p"}),
    )
    .await;
    assert!(s < 500, "{s} {v}");
    assert!(v.to_string().contains("AccountId"), "{v}");
}

#[tokio::test]
async fn nul_in_a_path_id_is_not_found() {
    let app = TestApp::spawn().await;
    let _ctx = setup(&app).await;
    for path in [
        "/admin/v1/tenants/%00",
        "/admin/v1/tenants/%00/opt-outs",
        "/admin/v1/tenants/acme/opt-outs/%00",
        "/manager/api/v1/calls/%00",
        "/campaignmanager/campaigns/search/EC%00",
    ] {
        let r = app.admin(Method::GET, path).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn credit_overflow_is_refused_and_the_balance_stays_usable() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let path = "/admin/v1/tenants/acme/credits";
    let (s, v) = app.admin_post(path, json!({"credit": 9223372036854775806i64})).await;
    assert_eq!(s, 422, "{v}");
    assert!(v["error"].as_str().unwrap().starts_with("credit"), "{v}");
    let (s, v) = app.admin_post(path, json!({"credit": 1_000_000_000_000i64})).await;
    assert_eq!(s, 201, "{v}");
    // Close to the balance bound (a ledger row written directly), then refused.
    let (_, t) = app.admin_get("/admin/v1/tenants/acme").await;
    let tenant = switchboard::domain::TenantId(t["id"].as_str().unwrap().parse().unwrap());
    let near = credits::MAX_BALANCE - credits::balance(&app.db, tenant).await.unwrap() - 10;
    credits::add(&app.db, tenant, near, "near the bound", None, chrono::Utc::now())
        .await
        .unwrap();
    let (s, v) = app.admin_post(path, json!({"credit": 11})).await;
    assert_eq!(s, 422, "{v}");
    assert!(v["error"].as_str().unwrap().starts_with("credit"), "{v}");
    let (s, v) = app.admin_post(path, json!({"credit": 1_000_000_000_000i64})).await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = app.admin_post(path, json!({"credit": 1000})).await;
    assert!(s == 201 || s == 422, "{v}");
    let (s, v) = app.admin_post(path, json!({"credit": -1000})).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = app.admin_post(path, json!({"credit": 1000})).await;
    assert_eq!(s, 201, "a small top-up works again: {v}");
    let (s, v) = app.admin_post(path, json!({"credit": 99999999999999999999u128 as f64})).await;
    assert!(s == 400 || s == 422, "{v}");
    let (s, _) = app.admin_get(path).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn wrong_types_are_refused_not_echoed() {
    let app = TestApp::spawn().await;
    let ctx = setup(&app).await;
    for attrs in [json!([null, null]), json!("str"), json!(5)] {
        let (s, v) = app
            .admin_post("/admin/v1/tenants/acme/agents", json!({"email": "w@example.com", "attrs": attrs}))
            .await;
        assert_eq!(s, 422, "{v}");
        assert!(v["error"].as_str().unwrap().starts_with("attrs"), "{v}");
    }
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants/acme/agents",
            json!({"email": "w@example.com", "attrs": {"team": "a"}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let dnc = "/apps/api/v1/outbound_dialer/dnc";
    for body in [
        json!({"contacts": [{"phone_number": "", "expires_at": {}}]}),
        json!({"contacts": [{"phone_number": {}}]}),
        json!({"contacts": [[]]}),
    ] {
        let (s, v) = send_json(&app, &ctx, Method::POST, dnc, Auth::Apps, body.clone()).await;
        assert_eq!(s, 400, "{body}: {v}");
        assert!(v["message"].is_string(), "{v}");
    }
    let (s, v) = send_json(
        &app,
        &ctx,
        Method::POST,
        &format!("{dnc}/remove"),
        Auth::Apps,
        json!({"phone_numbers": [{}]}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = send_json(
        &app,
        &ctx,
        Method::POST,
        "/apps/api/v1/crm/contact_data",
        Auth::Apps,
        json!({"call_id": "1", "call_type": {}}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("call_type"), "{v}");
}
