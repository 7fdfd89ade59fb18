//! The web console at `/console`: sign-in, session cookie, CSRF, every page for a signed-in
//! operator and none without a session, and tenant isolation of the pages. The browser
//! scenario (headless Chromium driven by Python selenium) is the last test.

mod common;

use std::time::Duration;

use common::{TestApp, ADMIN_TOKEN};
use reqwest::header::{HeaderMap, HeaderName, COOKIE, LOCATION, SET_COOKIE};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

/// A client that does not follow redirects, with an optional session cookie.
struct Console {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Console {
    fn new(app: &TestApp, cookie: Option<String>) -> Console {
        Self::from(app, cookie, "127.0.0.1")
    }

    /// A client whose requests come from `local` (a loopback address of its own keeps the
    /// sign-in rate limit of one test away from the others in this process).
    fn from(app: &TestApp, cookie: Option<String>, local: &str) -> Console {
        Console {
            http: reqwest::Client::builder()
                .local_address(local.parse::<std::net::IpAddr>().ok())
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookie,
        }
    }

    /// Signed in through the test hook (no sign-in form, so no rate limit shared between tests).
    fn signed_in(app: &TestApp) -> Console {
        let v = switchboard::console::session_cookie_for_tests(&app.state);
        Console::new(app, Some(format!("{}={v}", switchboard::console::SESSION_COOKIE)))
    }

    fn req(&self, m: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(m, format!("{}{path}", self.base));
        match &self.cookie {
            Some(c) => r.header(COOKIE, c),
            None => r,
        }
    }

    async fn send(r: reqwest::RequestBuilder) -> Answer {
        let resp = r.send().await.unwrap();
        Answer {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap_or_default(),
        }
    }

    async fn get(&self, path: &str) -> Answer {
        Self::send(self.req(reqwest::Method::GET, path)).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        Self::send(self.req(reqwest::Method::POST, path).form(form)).await
    }

    /// Advances acme's clock by `seconds` through the overview's form.
    async fn advance(&self, token: &str, seconds: &str) -> Answer {
        self.post(
            "/console/t/acme/clock",
            &[("_csrf", token), ("action", "advance"), ("seconds", seconds)],
        )
        .await
    }

    /// The CSRF token of the forms on `path`.
    async fn csrf(&self, path: &str) -> String {
        let a = self.get(path).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        csrf_in(&a.body)
    }
}

fn csrf_in(body: &str) -> String {
    let i = body.find(r#"name="_csrf" value=""#).expect("a CSRF field") + r#"name="_csrf" value=""#.len();
    body[i..].split('"').next().unwrap().to_string()
}

/// A header of the answer as text ("" when absent).
fn header(a: &Answer, name: HeaderName) -> String {
    a.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

fn location(a: &Answer) -> String {
    header(a, LOCATION)
}

fn set_cookie(a: &Answer) -> String {
    header(a, SET_COOKIE)
}

/// Waits until the tenant's outbox has at least `n` rows.
async fn outbox_reaches(app: &TestApp, slug: &str, n: usize) {
    app.eventually(20, || async {
        let (_, v) = app.admin_get(&format!("/admin/v1/tenants/{slug}/outbox")).await;
        (v.as_array().map(|a| a.len()).unwrap_or(0) >= n).then_some(())
    })
    .await;
}

/// A Campaign Manager SMS campaign of `numbers` through the dialect; its SID.
async fn cm_sms(app: &TestApp, p: &Value, name: &str, numbers: &[&str], start_in_secs: Option<i64>) -> String {
    let cm = &p["campaign_manager"];
    let mut form = Form::new()
        .text("name", name.to_string())
        .text("body", "Hello from the console test")
        .part(
            "toFile",
            Part::bytes(numbers.join("\n").into_bytes())
                .file_name("to.csv")
                .mime_str("text/csv")
                .unwrap(),
        );
    if let Some(secs) = start_in_secs {
        let at = chrono::Utc::now() + chrono::Duration::seconds(secs);
        form = form.text("startTime", at.format("%Y-%m-%dT%H:%M:%S+0000").to_string());
    }
    let r = app
        .client
        .post(app.url("/campaignmanager/campaigns"))
        .basic_auth(cm["account_sid"].as_str().unwrap(), cm["auth_token"].as_str())
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (s, v) = common::status_json(r).await;
    assert_eq!(s, 201, "{v}");
    v["data"]["sid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn sign_in_sets_a_strict_expiring_cookie_and_failures_are_rate_limited() {
    let app = TestApp::spawn().await;
    let anon = Console::from(&app, None, "127.0.0.2");
    // Without a session: a page view goes to the sign-in page, anything else is 401.
    let a = anon.get("/console/tenants").await;
    assert_eq!(a.status, 303);
    assert_eq!(location(&a), "/console/login?next=%2Fconsole%2Ftenants");
    let a = Console::send(anon.req(reqwest::Method::GET, "/console/tenants").header("HX-Request", "true")).await;
    assert_eq!(a.status, 401);
    let a = anon.get("/console/login").await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains(r#"type="password""#));

    // The right token: a session cookie, HttpOnly, SameSite=Strict, expiring; Secure behind TLS.
    let a = anon
        .post("/console/login", &[("token", ADMIN_TOKEN), ("next", "/console/tenants")])
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(location(&a), "/console/tenants");
    let c = set_cookie(&a);
    assert!(c.starts_with("sb_console=v1."), "{c}");
    for part in ["HttpOnly", "SameSite=Strict", "Max-Age=28800", "Path=/console"] {
        assert!(c.contains(part), "{part} in {c}");
    }
    assert!(!c.contains("Secure"), "{c}");
    assert!(!c.contains(ADMIN_TOKEN));
    let tls = Console::send(
        anon.req(reqwest::Method::POST, "/console/login")
            .header("X-Forwarded-Proto", "https")
            .form(&[("token", ADMIN_TOKEN)]),
    )
    .await;
    assert!(set_cookie(&tls).contains("; Secure"), "{}", set_cookie(&tls));
    // An open redirect is refused.
    let a = anon
        .post("/console/login", &[("token", ADMIN_TOKEN), ("next", "//evil.example/")])
        .await;
    assert_eq!(location(&a), "/console/tenants");

    let cookie = c.split(';').next().unwrap().to_string();
    let me = Console::new(&app, Some(cookie.clone()));
    let a = me.get("/console/tenants").await;
    assert_eq!(a.status, 200);
    assert!(!a.body.contains(ADMIN_TOKEN), "the token is never shown");
    // A tampered cookie is no session.
    let tampered = Console::new(&app, Some(format!("{}0", cookie)));
    assert_eq!(tampered.get("/console/tenants").await.status, 303);
    // An expired one neither (signed with the right key, expiry in the past).
    let forged = Console::new(&app, Some("sb_console=v1.1.abcd.00".into()));
    assert_eq!(forged.get("/console/tenants").await.status, 303);

    // Sign out clears the cookie (and needs the CSRF token).
    assert_eq!(me.post("/console/logout", &[]).await.status, 403);
    let token = me.csrf("/console/tenants").await;
    let a = me.post("/console/logout", &[("_csrf", &token)]).await;
    assert_eq!(a.status, 303);
    assert!(set_cookie(&a).contains("Max-Age=0"), "{}", set_cookie(&a));

    // Wrong tokens: 401 with the form again, never echoing what was typed; then 429.
    for _ in 0..5 {
        let a = anon.post("/console/login", &[("token", "not-the-token-xyz")]).await;
        assert_eq!(a.status, 401);
        assert!(!a.body.contains("not-the-token-xyz"));
        assert!(set_cookie(&a).is_empty());
    }
    let a = anon.post("/console/login", &[("token", ADMIN_TOKEN)]).await;
    assert_eq!(a.status, 429, "even the right token waits: {}", a.body);
    assert!(set_cookie(&a).is_empty());
}

#[tokio::test]
async fn every_post_needs_the_csrf_token() {
    let app = TestApp::spawn().await;
    let me = Console::signed_in(&app);
    let a = me.post("/console/tenants", &[("slug", "acme")]).await;
    assert_eq!(a.status, 403, "{}", a.body);
    let a = me.post("/console/tenants", &[("slug", "acme"), ("_csrf", "0000")]).await;
    assert_eq!(a.status, 403);
    // A token of another session does not fit this one.
    let other = Console::signed_in(&app);
    let foreign = other.csrf("/console/tenants").await;
    let a = me.post("/console/tenants", &[("slug", "acme"), ("_csrf", &foreign)]).await;
    assert_eq!(a.status, 403);
    let (s, v) = app.admin_get("/admin/v1/tenants").await;
    assert_eq!((s, v), (200, json!([])), "nothing was created");

    // With the token: created, credentials shown once with curl lines and Postman environments.
    let token = me.csrf("/console/tenants").await;
    let a = me
        .post("/console/tenants", &[("slug", "acme"), ("name", "Acme"), ("_csrf", &token)])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.headers["cache-control"].to_str().unwrap().contains("no-store"));
    assert!(
        a.body.contains("curl -s -u &#39;AC") || a.body.contains("curl -s -u 'AC"),
        "{}",
        a.body
    );
    assert!(a.body.contains("/onc/json/OpenAPISession"));
    assert!(a.body.contains("campaign-manager.postman_environment.json"));
    assert!(a.body.contains("data:application/json;base64,"));

    // Delete needs the slug typed, and the token.
    let a = me.post("/console/tenants/acme/delete", &[("confirm", "acme")]).await;
    assert_eq!(a.status, 403);
    let a = me
        .post("/console/tenants/acme/delete", &[("confirm", "acm"), ("_csrf", &token)])
        .await;
    assert_eq!(a.status, 303);
    assert!(location(&a).contains("error="));
    assert_eq!(app.admin_get("/admin/v1/tenants/acme").await.0, 200);
    let a = me
        .post("/console/tenants/acme/delete", &[("confirm", "acme"), ("_csrf", &token)])
        .await;
    assert_eq!(a.status, 303);
    assert_eq!(app.admin_get("/admin/v1/tenants/acme").await.0, 404);
}

#[tokio::test]
async fn every_page_answers_the_operator_and_nobody_else() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    app.credit("acme", 100).await;
    let sid = cm_sms(&app, &p, "Spring sale", &["+14155550001", "+14155550002"], None).await;
    let campaign = uuid::Uuid::parse_str(&sid[2..]).unwrap();
    outbox_reaches(&app, "acme", 2).await;
    // the two SMS are `sending` for 2 s on the tenant clock: let them end
    app.clock("acme", json!({"advance_seconds": 60})).await;
    let (s, fault) = app
        .admin_post(
            "/admin/v1/tenants/acme/faults",
            json!({"kind": "status", "status": 503, "times": 1}),
        )
        .await;
    assert_eq!(s, 201, "{fault}");
    app.state.journal.flush().await;
    let (_, reqs) = app.admin_get("/admin/v1/tenants/acme/requests").await;
    let req_id = reqs[0]["id"].as_str().unwrap().to_string();

    let pages = [
        "/console/tenants".to_string(),
        "/console/t/acme".into(),
        "/console/t/acme/chart.svg".into(),
        "/console/t/acme/campaigns".into(),
        format!("/console/t/acme/campaigns/{campaign}"),
        format!("/console/t/acme/campaigns/{campaign}?state=completed"),
        "/console/t/acme/outbox".into(),
        "/console/t/acme/outbox?channel=sms&to=555".into(),
        "/console/t/acme/journal".into(),
        "/console/t/acme/journal?status=2xx&dialect=campaign_manager".into(),
        format!("/console/t/acme/journal/{req_id}"),
        "/console/t/acme/faults".into(),
        "/console/t/acme/carrier-rules".into(),
        "/console/t/acme/suppression".into(),
        "/console/t/acme/suppression?list=dnc".into(),
        "/console/t/acme/snapshot".into(),
        "/console/t/acme/snapshot.json".into(),
    ];
    let me = Console::signed_in(&app);
    let anon = Console::new(&app, None);
    for path in &pages {
        let a = me.get(path).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        assert!(!a.body.contains(ADMIN_TOKEN), "{path} shows the token");
        let a = anon.get(path).await;
        assert!(a.status == 303 || a.status == 401, "{path} without a session: {}", a.status);
        if a.status == 303 {
            assert!(location(&a).starts_with("/console/login?next="), "{path}");
        }
    }
    // Live streams: the first event at once for the operator, 401 for anybody else.
    for path in [
        "/console/t/acme/campaigns/live",
        "/console/t/acme/outbox/live",
        "/console/t/acme/journal/live",
    ] {
        let a = Console::send(anon.req(reqwest::Method::GET, path).header("Accept", "text/event-stream")).await;
        assert_eq!(a.status, 401, "{path}");
        let mut resp = me.req(reqwest::Method::GET, path).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(&chunk);
        assert!(text.contains("event: update"), "{path}: {text}");
    }
    // The campaigns table: the CM id, both contacts final, the progress bar full.
    let a = me.get("/console/t/acme/campaigns").await;
    assert!(a.body.contains(&sid), "{}", a.body);
    assert!(a.body.contains("Campaign Manager"));
    assert!(a.body.contains("2/2 (100%)"), "{}", a.body);
    let a = me.get(&format!("/console/t/acme/campaigns/{campaign}")).await;
    assert!(a.body.contains("+14155550002"), "{}", a.body);
    assert!(a.body.contains("data-status="), "{}", a.body);
    let a = me.get(&format!("/console/t/acme/journal/{req_id}")).await;
    assert!(a.body.contains("Copy as curl"));
    assert!(a.body.contains("curl -X "));
    // Unknown tenants and ids: 404.
    assert_eq!(me.get("/console/t/nobody").await.status, 404);
    assert_eq!(me.get("/console/t/acme/campaigns/not-a-uuid").await.status, 404);
    // Assets: versioned names, cached for a year.
    let a = me.get("/console/tenants").await;
    let i = a.body.find("/console/assets/htmx-2.0.11.min.").unwrap();
    let path: String = a.body[i..].split('"').next().unwrap().to_string();
    let asset = anon.get(&path).await;
    assert_eq!(asset.status, 200);
    assert!(asset.headers["cache-control"].to_str().unwrap().contains("immutable"));
    assert!(asset.body.starts_with("/*! htmx 2.0.11"));
}

#[tokio::test]
async fn a_tenants_pages_show_none_of_another_tenants_data() {
    let app = TestApp::spawn().await;
    let a = app.tenant("acme").await;
    let b = app.tenant("globex").await;
    app.credit("acme", 100).await;
    app.credit("globex", 100).await;
    let sid_a = cm_sms(&app, &a, "Acme campaign", &["+14155550101"], None).await;
    let sid_b = cm_sms(&app, &b, "Globex secret campaign", &["+14155550909"], None).await;
    outbox_reaches(&app, "globex", 1).await;
    let (s, _) = app
        .admin_post("/admin/v1/tenants/globex/dnc", json!({"number": "+14155550808"}))
        .await;
    assert_eq!(s, 201);
    app.admin_post(
        "/admin/v1/tenants/globex/faults",
        json!({"kind": "delay", "delay_ms": 1, "path": "/globex-only*"}),
    )
    .await;
    app.state.journal.flush().await;
    let me = Console::signed_in(&app);
    let campaign_b = uuid::Uuid::parse_str(&sid_b[2..]).unwrap();
    for path in [
        "/console/t/acme",
        "/console/t/acme/campaigns",
        "/console/t/acme/outbox",
        "/console/t/acme/journal",
        "/console/t/acme/faults",
        "/console/t/acme/suppression?list=dnc",
        "/console/t/acme/snapshot.json",
    ] {
        let p = me.get(path).await;
        assert_eq!(p.status, 200, "{path}");
        for secret in [
            "Globex secret campaign",
            "+14155550909",
            "+14155550808",
            "/globex-only",
            &sid_b[2..],
        ] {
            assert!(!p.body.contains(secret), "{path} shows {secret}");
        }
    }
    assert!(me.get("/console/t/acme/campaigns").await.body.contains(&sid_a));
    // Another tenant's campaign under this tenant's path: not found.
    assert_eq!(me.get(&format!("/console/t/acme/campaigns/{campaign_b}")).await.status, 404);
}

#[tokio::test]
async fn clock_faults_suppression_and_reset_go_through_the_domain() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let me = Console::signed_in(&app);
    let token = me.csrf("/console/t/acme").await;
    let a = me.advance(&token, "3600").await;
    assert_eq!(a.status, 303, "{}", a.body);
    let (_, c) = app.admin_get("/admin/v1/tenants/acme/clock").await;
    assert_eq!(c["offset_seconds"], 3600, "{c}");
    me.post(
        "/console/t/acme/clock",
        &[("_csrf", &token), ("action", "advance"), ("amount", "2"), ("unit", "60")],
    )
    .await;
    let (_, c) = app.admin_get("/admin/v1/tenants/acme/clock").await;
    assert_eq!(c["offset_seconds"], 3720, "{c}");
    me.post("/console/t/acme/clock", &[("_csrf", &token), ("action", "freeze")]).await;
    let (_, c) = app.admin_get("/admin/v1/tenants/acme/clock").await;
    assert_eq!(c["frozen"], true, "{c}");
    me.post("/console/t/acme/clock", &[("_csrf", &token), ("action", "reset")]).await;
    let (_, c) = app.admin_get("/admin/v1/tenants/acme/clock").await;
    assert_eq!((c["offset_seconds"].clone(), c["frozen"].clone()), (json!(0), json!(false)), "{c}");

    let a = me
        .post(
            "/console/t/acme/faults",
            &[
                ("_csrf", &token),
                ("kind", "status"),
                ("status", "503"),
                ("path", "*"),
                ("dialect", "campaign_manager"),
                ("times", "1"),
            ],
        )
        .await;
    assert_eq!(a.status, 303);
    assert!(location(&a).contains("notice="), "{}", location(&a));
    let (_, f) = app.admin_get("/admin/v1/tenants/acme/faults").await;
    assert_eq!(f[0]["status"], 503, "{f}");
    let id = f[0]["id"].as_str().unwrap().to_string();
    me.post(&format!("/console/t/acme/faults/{id}/delete"), &[("_csrf", &token)]).await;
    assert_eq!(app.admin_get("/admin/v1/tenants/acme/faults").await.1, json!([]));

    let a = me
        .post(
            "/console/t/acme/suppression",
            &[("_csrf", &token), ("list", "opt_out"), ("number", "+14155550123"), ("ch_sms", "1")],
        )
        .await;
    assert_eq!(a.status, 303);
    let (_, o) = app.admin_get("/admin/v1/tenants/acme/opt-outs").await;
    assert_eq!(o[0]["number"], "+14155550123", "{o}");
    assert_eq!(o[0]["channels"], json!(["sms"]));
    let page = me.get("/console/t/acme/suppression").await;
    assert!(page.body.contains("+14155550123"));
    let oid = o[0]["id"].as_str().unwrap();
    me.post(&format!("/console/t/acme/suppression/opt_out/{oid}/delete"), &[("_csrf", &token)])
        .await;
    assert_eq!(app.admin_get("/admin/v1/tenants/acme/opt-outs").await.1, json!([]));
    let a = me
        .post("/console/t/acme/suppression", &[("_csrf", &token), ("number", "not a number")])
        .await;
    assert!(location(&a).contains("error="));

    // Reset: only with the slug typed.
    app.admin_post("/admin/v1/tenants/acme/dnc", json!({"number": "+14155550124"}))
        .await;
    let a = me.post("/console/t/acme/reset", &[("_csrf", &token), ("confirm", "nope")]).await;
    assert!(location(&a).contains("error="));
    assert_eq!(app.admin_get("/admin/v1/tenants/acme/dnc").await.1.as_array().unwrap().len(), 1);
    let a = me.post("/console/t/acme/reset", &[("_csrf", &token), ("confirm", "acme")]).await;
    assert!(location(&a).contains("notice="));
    assert_eq!(app.admin_get("/admin/v1/tenants/acme/dnc").await.1, json!([]));
}

#[tokio::test]
async fn snapshot_downloads_and_restores_through_the_console() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    app.admin_post("/admin/v1/tenants/acme/dnc", json!({"number": "+14155550124"}))
        .await;
    let me = Console::signed_in(&app);
    let doc = me.get("/console/t/acme/snapshot.json").await;
    assert_eq!(doc.status, 200);
    assert!(doc.body.contains("+14155550124"));
    app.admin_post("/admin/v1/tenants/acme/reset", json!({})).await;
    assert_eq!(app.admin_get("/admin/v1/tenants/acme/dnc").await.1, json!([]));
    let token = me.csrf("/console/t/acme/snapshot").await;
    let form = |csrf: &str| {
        Form::new().text("_csrf", csrf.to_string()).part(
            "snapshot",
            Part::bytes(doc.body.clone().into_bytes())
                .file_name("acme.snapshot.json")
                .mime_str("application/json")
                .unwrap(),
        )
    };
    let a = Console::send(
        me.req(reqwest::Method::POST, "/console/t/acme/snapshot/restore")
            .multipart(form("bad")),
    )
    .await;
    assert_eq!(a.status, 403);
    let a = Console::send(
        me.req(reqwest::Method::POST, "/console/t/acme/snapshot/restore")
            .multipart(form(&token)),
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert!(location(&a).contains("notice="), "{}", location(&a));
    assert_eq!(app.admin_get("/admin/v1/tenants/acme/dnc").await.1.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn open_live_views_end_when_the_server_stops() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let me = Console::signed_in(&app);
    let mut resp = me.req(reqwest::Method::GET, "/console/t/acme/campaigns/live").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let first = tokio::time::timeout(Duration::from_secs(10), resp.chunk()).await.unwrap().unwrap();
    assert!(first.is_some());
    tokio::time::timeout(Duration::from_secs(20), app.stop())
        .await
        .expect("a graceful stop does not wait for open live views");
    let rest = tokio::time::timeout(Duration::from_secs(10), async { while let Ok(Some(_)) = resp.chunk().await {} }).await;
    assert!(rest.is_ok(), "the stream ended");
}

// ---- a real browser ---------------------------------------------------------------------

/// The first of `names` found on PATH.
fn which(names: &[&str]) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
            .map(|p| p.to_string_lossy().to_string())
    })
}

fn selenium_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import selenium"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[tokio::test]
async fn carrier_rules_are_edited_like_the_admin_api_edits_them() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let me = Console::signed_in(&app);
    let page = me.get("/console/t/acme/carrier-rules").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<textarea") && !page.body.contains("fieldset disabled"),
        "{}",
        page.body
    );
    let token = csrf_in(&page.body);
    let good = r#"[{"match": "+1415555*", "channel": "sms", "outcomes": ["undelivered", "delivered"]}]"#;

    // Without the CSRF token: refused, nothing stored.
    let a = me.post("/console/t/acme/carrier-rules", &[("rules", good)]).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(app.admin_get("/admin/v1/tenants/acme/carrier-rules").await.1, json!([]));

    // A refused list: 422, the page names the field and keeps the typed text.
    let bad = r#"[{"match": "+1415*", "outcomes": ["busy", "nope"]}]"#;
    let a = me.post("/console/t/acme/carrier-rules", &[("_csrf", &token), ("rules", bad)]).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(
        a.body.contains("role=\"alert\"") && a.body.contains("[0].outcomes[1]"),
        "{}",
        a.body
    );
    assert!(a.body.contains("nope"), "the typed text stays in the editor");
    let a = me
        .post("/console/t/acme/carrier-rules", &[("_csrf", &token), ("rules", "[{")])
        .await;
    assert_eq!(a.status, 422);
    assert!(a.body.contains("rules: not JSON"), "{}", a.body);
    assert_eq!(app.admin_get("/admin/v1/tenants/acme/carrier-rules").await.1, json!([]));

    // Saved: the admin API answers the same rules, the page shows them.
    let a = me
        .post("/console/t/acme/carrier-rules", &[("_csrf", &token), ("rules", good)])
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert!(location(&a).contains("notice="));
    let (_, r) = app.admin_get("/admin/v1/tenants/acme/carrier-rules").await;
    assert_eq!(
        r,
        json!([{"match": "+1415555*", "channel": "sms", "outcomes": ["undelivered", "delivered"]}])
    );
    let page = me.get("/console/t/acme/carrier-rules").await;
    assert!(
        page.body.contains("+1415555*") && page.body.contains("undelivered"),
        "{}",
        page.body
    );

    // An empty editor removes every rule.
    let a = me.post("/console/t/acme/carrier-rules", &[("_csrf", &token), ("rules", "")]).await;
    assert_eq!(a.status, 303);
    assert_eq!(app.admin_get("/admin/v1/tenants/acme/carrier-rules").await.1, json!([]));
}

#[tokio::test]
async fn contacts_and_outbox_show_the_engines_attempts() {
    let app = TestApp::spawn().await;
    let p = app.tenant("acme").await;
    app.credit("acme", 100).await;
    // SMS: +1 NPA 555 0002 ends in carrier_error, 0003 is delivered.
    let sid = cm_sms(&app, &p, "Attempts", &["+14155550002", "+14155550003"], Some(3600)).await;
    let me = Console::signed_in(&app);
    let token = me.csrf("/console/t/acme").await;
    let a = me.advance(&token, "86400").await;
    assert_eq!(a.status, 303, "{}", a.body);

    let id = uuid::Uuid::try_parse(&sid[2..]).unwrap();
    let page = me.get(&format!("/console/t/acme/campaigns/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let row = |number: &str| {
        let at = page.body.find(number).unwrap_or_else(|| panic!("{number} in {}", page.body));
        let end = page.body[at..].find("</tr>").map(|e| at + e).unwrap_or(page.body.len());
        page.body[at..end].to_string()
    };
    let failed = row("+14155550002");
    assert!(failed.contains("carrierError"), "Campaign Manager's word: {failed}");
    assert!(failed.contains("data-status=\"carrier_error\""), "{failed}");
    assert!(
        failed.contains("data-attempt=\"1\"") && failed.contains("data-outcome=\"carrier_error\""),
        "{failed}"
    );
    assert!(failed.contains("simulated"), "the sink: {failed}");
    let ok = row("+14155550003");
    assert!(ok.contains(">delivered<") && ok.contains("data-status=\"completed\""), "{ok}");

    let outbox = me.get("/console/t/acme/outbox").await;
    assert_eq!(outbox.status, 200);
    for needle in [
        "data-outcome=\"carrier_error\"",
        "data-outcome=\"delivered\"",
        "simulated",
        "Webhook deliveries",
        "No webhook delivery.",
    ] {
        assert!(outbox.body.contains(needle), "{needle} in {}", outbox.body);
    }
    let chart = me.get("/console/t/acme/chart.svg").await;
    assert!(
        chart.body.contains("carrier_error") && chart.body.contains("delivered"),
        "{}",
        chart.body
    );
}

const BROWSER_HINT: &str = "the console's browser test needs Debian's chromium and chromium-driver and Python selenium: \
     `apt-get install -y chromium chromium-driver && pip install selenium==4.38.0` \
     (or set SWITCHBOARD_SKIP_BROWSER=1 to skip it)";

#[tokio::test]
async fn browser_scenario_in_headless_chromium() {
    if std::env::var("SWITCHBOARD_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("SWITCHBOARD_SKIP_BROWSER=1: the browser scenario is skipped");
        return;
    }
    let chromium = which(&["chromium", "chromium-browser"]);
    let driver = which(&["chromedriver"]);
    assert!(
        chromium.is_some() && driver.is_some() && selenium_available(),
        "{BROWSER_HINT} (chromium: {chromium:?}, chromedriver: {driver:?}, selenium: {})",
        selenium_available()
    );
    let app = TestApp::spawn().await;
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").to_string());
    let shots = format!("{target}/console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/console_scenario.py");
    let out = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new("python3")
            .arg(script)
            .env("BASE_URL", &app.base)
            .env("ADMIN_TOKEN", ADMIN_TOKEN)
            .env("SHOT_DIR", &shots)
            .env("CHROMIUM_BIN", chromium.unwrap_or_default())
            .env("CHROMEDRIVER_BIN", driver.unwrap_or_default())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser scenario finishes within 5 minutes")
    .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser scenario failed (screenshots in {shots}):\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("BROWSER SCENARIO OK"), "{stdout}\n{stderr}");
    let taken = std::fs::read_dir(&shots).map(|d| d.count()).unwrap_or(0);
    assert!(taken >= 12, "a screenshot of each page in {shots}: {taken}");
}
