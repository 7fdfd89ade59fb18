//! The shared test harness: one throwaway PostgreSQL cluster per test binary (started
//! from the machine's binaries, as the `postgres` user when run as root; or the server
//! of `DATABASE_URL` when set), a fresh database per test, and the app served on a random
//! loopback port, reached over HTTP like a client would.
#![allow(dead_code)]

pub mod engine;

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use sqlx::PgPool;
use switchboard::db::embedded::{self, EmbeddedOptions, EmbeddedPg};
use switchboard::{AppState, Config};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const ADMIN_TOKEN: &str = "test-admin-token";

static CLUSTER: OnceLock<Result<(String, Option<EmbeddedPg>), String>> = OnceLock::new();

/// URL of the maintenance database of the test server.
pub fn admin_url() -> String {
    let r = CLUSTER.get_or_init(|| {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            return Ok((url, None));
        }
        cleanup_stale();
        let dir = std::env::temp_dir().join(format!("switchboard-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        embedded::start(&dir, &EmbeddedOptions { pg_bin: None, fast: true })
            .map(|pg| (pg.admin_url.clone(), Some(pg)))
            .map_err(|e| e.to_string())
    });
    match r {
        Ok((url, _)) => url.clone(),
        Err(e) => panic!("cannot start the test PostgreSQL: {e}"),
    }
}

/// Removes clusters left by test processes that are gone.
fn cleanup_stale() {
    let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(pid) = name.strip_prefix("switchboard-test-").and_then(|p| p.parse::<i32>().ok()) {
            if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() && embedded::running(&e.path().join("pg")).is_none() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// A fresh, migrated database; returns its URL.
pub async fn fresh_database() -> String {
    let admin = admin_url();
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    switchboard::db::ensure_database(&admin, &name).await.expect("create test database");
    let url = match admin.rsplit_once('/') {
        Some((base, rest)) => {
            let query = rest.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
            format!("{base}/{name}{query}")
        }
        None => panic!("bad DATABASE_URL"),
    };
    let pool = switchboard::db::pool(&url, 2).await.expect("connect test database");
    switchboard::db::migrate(&pool).await.expect("migrate");
    pool.close().await;
    url
}

/// The app, served on a random port against its own database.
pub struct TestApp {
    pub base: String,
    pub db_url: String,
    pub db: PgPool,
    pub state: AppState,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// A new app on a new database.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(fresh_database().await, |c| c).await
    }

    /// A new app on a new database with a changed configuration.
    pub async fn spawn_config(f: impl FnOnce(Config) -> Config) -> TestApp {
        Self::spawn_with(fresh_database().await, f).await
    }

    /// A new app process on an existing database (a "restart").
    pub async fn spawn_with(db_url: String, f: impl FnOnce(Config) -> Config) -> TestApp {
        let config = f(Config::for_tests(db_url.clone()));
        let db = switchboard::db::pool(&db_url, 10).await.expect("pool");
        let state = AppState::new(
            db.clone(),
            config,
            ADMIN_TOKEN.to_string(),
            switchboard::dialects::tenant_registry(),
        )
        .await
        .expect("state");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let st = state.clone();
        let server = tokio::spawn(async move {
            let _ = switchboard::launch(st, vec![listener], async move {
                let _ = rx.await;
            })
            .await;
        });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client");
        TestApp {
            base,
            db_url,
            db,
            state,
            client,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// Stops serving (graceful) and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
        self.db.close().await;
    }

    /// Stops this instance and starts a new one on the same database.
    pub async fn restart(self) -> TestApp {
        let url = self.db_url.clone();
        self.stop().await;
        Self::spawn_with(url, |c| c).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request with the admin token.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(ADMIN_TOKEN)
    }

    /// POST JSON to the admin API, returning status and body.
    pub async fn admin_post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.admin(Method::POST, path).json(&body).send().await.expect("request");
        status_json(r).await
    }

    /// GET from the admin API.
    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        let r = self.admin(Method::GET, path).send().await.expect("request");
        status_json(r).await
    }

    /// Creates a tenant through the admin API; returns the provisioning JSON.
    pub async fn tenant(&self, slug: &str) -> Value {
        let (s, v) = self.admin_post("/admin/v1/tenants", json!({"slug": slug})).await;
        assert_eq!(s, 201, "create tenant {slug}: {v}");
        v
    }

    /// Adds credits to a tenant.
    pub async fn credit(&self, slug: &str, amount: i64) {
        let (s, v) = self
            .admin_post(
                &format!("/admin/v1/tenants/{slug}/credits"),
                json!({"credit": amount, "description": "test"}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }

    /// Runs one scheduler pass now (instead of waiting for the tick).
    pub async fn tick(&self) {
        switchboard::engine::scheduler::tick_once(&self.state).await.expect("tick");
    }

    /// Polls `f` until it returns Some, up to `secs` seconds.
    pub async fn eventually<T, F, Fut>(&self, secs: u64, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f().await {
                return v;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("condition not met within {secs} s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Status and JSON body (Null when the body is empty or not JSON).
pub async fn status_json(r: Response) -> (u16, Value) {
    let s = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A request builder for any method/URL (re-export for tests).
pub fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).expect("method")
}

// ---------------------------------------------------------------------------------------
// The admin API beyond `admin_post` / `admin_get`

impl TestApp {
    /// `PATCH /admin/v1/tenants/{slug}` (name, settings).
    pub async fn patch_tenant(&self, slug: &str, body: Value) -> (u16, Value) {
        let r = self
            .admin(Method::PATCH, &format!("/admin/v1/tenants/{slug}"))
            .json(&body)
            .send()
            .await
            .expect("request");
        status_json(r).await
    }

    /// Sets some of a tenant's settings (`null` returns one to the default); asserts 200.
    pub async fn settings(&self, slug: &str, settings: Value) -> Value {
        let (s, v) = self.patch_tenant(slug, json!({ "settings": settings })).await;
        assert_eq!(s, 200, "settings of {slug}: {v}");
        v
    }

    /// Changes a tenant's virtual clock (`{"advance_seconds": n}`, `{"set": "…"}`,
    /// `{"freeze": bool}`, `{"reset": true}`); asserts 200 and returns the clock.
    pub async fn clock(&self, slug: &str, change: Value) -> Value {
        let (s, v) = self.admin_post(&format!("/admin/v1/tenants/{slug}/clock"), change.clone()).await;
        assert_eq!(s, 200, "clock of {slug}, {change}: {v}");
        v
    }

    /// Freezes a tenant's clock at `at` (RFC 3339, not before the tenant's now: the admin
    /// API never moves a clock backwards).
    pub async fn freeze_clock_at(&self, slug: &str, at: &str) {
        self.clock(slug, json!({"freeze": true})).await;
        self.clock(slug, json!({"set": at})).await;
    }

    /// Puts a tenant's clock `secs` ahead of real time (running): a reset, then an advance.
    pub async fn clock_offset(&self, slug: &str, secs: i64) {
        self.clock(slug, json!({"reset": true})).await;
        if secs != 0 {
            self.clock(slug, json!({ "advance_seconds": secs })).await;
        }
    }

    /// Moves a campaign (uuid, any form) through its state machine: `events` in order, in one
    /// transaction; asserts 200 and returns the campaign.
    pub async fn campaign_events(&self, slug: &str, id: &str, events: &[&str]) -> Value {
        let (s, v) = self
            .admin_post(
                &format!("/admin/v1/tenants/{slug}/campaigns/{id}/events"),
                json!({ "events": events }),
            )
            .await;
        assert_eq!(s, 200, "campaign {id} {events:?}: {v}");
        v
    }

    /// Creates a fixture under `/admin/v1/tenants/{slug}/{what}`; asserts 201.
    pub async fn admin_create(&self, slug: &str, what: &str, body: Value) -> Value {
        let (s, v) = self.admin_post(&format!("/admin/v1/tenants/{slug}/{what}"), body).await;
        assert_eq!(s, 201, "{what}: {v}");
        v
    }

    /// A new tenant and its Apps API client.
    pub async fn tenant_apps(&self, slug: &str) -> AppsClient {
        let p = self.tenant(slug).await;
        AppsClient::new(self, &p)
    }
}

// ---------------------------------------------------------------------------------------
// One small client per dialect, made from a tenant's provisioning answer

async fn send(rb: RequestBuilder, body: Option<Value>) -> (u16, Value) {
    let rb = match body {
        Some(b) => rb.json(&b),
        None => rb,
    };
    status_json(rb.send().await.expect("request")).await
}

/// `get`, `post` and `send` of a dialect client, over its `req` (which adds the auth).
macro_rules! client_calls {
    () => {
        pub async fn get(&self, path: &str) -> (u16, Value) {
            send(self.req(Method::GET, path), None).await
        }

        pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
            send(self.req(Method::POST, path), Some(body)).await
        }

        pub async fn send(&self, m: Method, path: &str, body: Option<Value>) -> (u16, Value) {
            send(self.req(m, path), body).await
        }
    };
}

/// Apps API and outbound dialer: HTTP Basic `subdomain : API token`.
#[derive(Clone)]
pub struct AppsClient {
    http: reqwest::Client,
    base: String,
    pub slug: String,
    pub token: String,
}

impl AppsClient {
    pub fn new(app: &TestApp, p: &Value) -> Self {
        Self::with(
            app,
            p["apps"]["subdomain"].as_str().expect("apps.subdomain"),
            p["apps"]["token"].as_str().expect("apps.token"),
        )
    }

    /// A client with any credentials (e.g. wrong ones).
    pub fn with(app: &TestApp, slug: &str, token: &str) -> Self {
        AppsClient {
            http: app.client.clone(),
            base: app.base.clone(),
            slug: slug.into(),
            token: token.into(),
        }
    }

    /// The same credentials against another instance (e.g. after a restart).
    pub fn on(&self, app: &TestApp) -> Self {
        Self::with(app, &self.slug, &self.token)
    }

    pub fn req(&self, m: Method, path: &str) -> RequestBuilder {
        self.http
            .request(m, format!("{}{}", self.base, path))
            .basic_auth(&self.slug, Some(&self.token))
    }

    client_calls!();
}

/// Campaign Manager: HTTP Basic `account SID : auth token`.
#[derive(Clone)]
pub struct CmClient {
    http: reqwest::Client,
    base: String,
    pub account_sid: String,
    pub auth_token: String,
    pub enterprise_sid: String,
}

impl CmClient {
    pub fn new(app: &TestApp, p: &Value) -> Self {
        let cm = &p["campaign_manager"];
        let s = |k: &str| cm[k].as_str().unwrap_or_else(|| panic!("campaign_manager.{k}")).to_string();
        CmClient {
            http: app.client.clone(),
            base: app.base.clone(),
            account_sid: s("account_sid"),
            auth_token: s("auth_token"),
            enterprise_sid: s("enterprise_sid"),
        }
    }

    pub fn req(&self, m: Method, path: &str) -> RequestBuilder {
        self.http
            .request(m, format!("{}{}", self.base, path))
            .basic_auth(&self.account_sid, Some(&self.auth_token))
    }

    client_calls!();
}

/// Leads: a bearer access token from `POST /api/v2/login`.
#[derive(Clone)]
pub struct LeadsClient {
    http: reqwest::Client,
    base: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl LeadsClient {
    /// Logs in with the tenant's Leads credentials; asserts 200.
    pub async fn login(app: &TestApp, p: &Value) -> Self {
        let l = &p["leads"];
        let body = json!({"username": l["username"], "password": l["password"], "domain": l["domain"]});
        let (s, v) = send(app.client.post(app.url("/api/v2/login")), Some(body)).await;
        assert_eq!(s, 200, "leads login: {v}");
        LeadsClient {
            http: app.client.clone(),
            base: app.base.clone(),
            access_token: v["access_token"].as_str().expect("access_token").to_string(),
            refresh_token: v["refresh_token"].as_str().unwrap_or_default().to_string(),
        }
    }

    pub fn req(&self, m: Method, path: &str) -> RequestBuilder {
        self.http
            .request(m, format!("{}{}", self.base, path))
            .bearer_auth(&self.access_token)
    }

    client_calls!();
}

/// ONC over its JSON binding (`POST /onc/json/{Method}`), with a session once opened.
#[derive(Clone)]
pub struct OncClient {
    http: reqwest::Client,
    base: String,
    pub session: String,
}

impl OncClient {
    /// Opens a session with the tenant's ONC credentials.
    pub async fn open(app: &TestApp, p: &Value) -> Self {
        let mut c = OncClient {
            http: app.client.clone(),
            base: app.base.clone(),
            session: String::new(),
        };
        let o = &p["onc"];
        let v = c
            .call(
                "OpenAPISession",
                json!({"accountId": o["account_id"], "username": o["username"], "password": o["password"]}),
            )
            .await;
        c.session = v["SessionId"].as_str().unwrap_or_else(|| panic!("OpenAPISession: {v}")).to_string();
        c
    }

    /// Calls `method` with `body` as it is; asserts 200 and returns the JSON answer.
    pub async fn call(&self, method: &str, body: Value) -> Value {
        let (s, v) = self.call_status(method, body).await;
        assert_eq!(s, 200, "{method}: {v}");
        v
    }

    /// Calls `method` with `body` as it is; status and JSON answer.
    pub async fn call_status(&self, method: &str, body: Value) -> (u16, Value) {
        send(self.http.post(format!("{}/onc/json/{method}", self.base)), Some(body)).await
    }
}
