//! `GET /metrics` (Prometheus text format) and trace propagation over OTLP.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{AppsClient, CmClient, LeadsClient, OncClient, TestApp};
use reqwest::Method;
use serde_json::json;

/// The body of `GET /metrics` (asserts 200).
async fn scrape(app: &TestApp) -> String {
    let r = app.client.get(app.url("/metrics")).send().await.expect("metrics");
    assert_eq!(r.status().as_u16(), 200);
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("text/plain"), "{ct}");
    r.text().await.expect("body")
}

/// The value of the series `name{labels}` where every `label="value"` given is present.
fn value(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    body.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (series, v) = l.rsplit_once(' ')?;
        let (n, rest) = match series.split_once('{') {
            Some((n, rest)) => (n, rest),
            None => (series, ""),
        };
        if n != name {
            return None;
        }
        labels
            .iter()
            .all(|(k, want)| rest.contains(&format!("{k}=\"{want}\"")))
            .then(|| v.parse().ok())?
    })
}

fn request_count(body: &str, route: &str, method: &str, status: &str) -> f64 {
    value(
        body,
        "http_server_request_duration_seconds_count",
        &[
            ("http_route", route),
            ("http_request_method", method),
            ("http_response_status_code", status),
        ],
    )
    .unwrap_or(0.0)
}

#[tokio::test]
async fn request_histogram_counts_route_templates_of_every_dialect() {
    let app = TestApp::spawn().await;
    let p = app.tenant("secret-slug").await;
    let apps = AppsClient::new(&app, &p);
    for _ in 0..3 {
        assert_eq!(apps.get("/apps/api/v1/wait_times?lang=en").await.0, 200);
    }
    let bad = AppsClient::with(&app, "secret-slug", "wrong-token");
    assert_eq!(bad.get("/apps/api/v1/wait_times?lang=en").await.0, 401);
    // A path with an id: counted under its template.
    let (s, _) = apps.get("/apps/api/v1/outbound_dialer/campaigns/987654/contacts").await;
    assert!(s >= 400, "{s}");
    let leads = LeadsClient::login(&app, &p).await;
    assert_eq!(leads.get("/api/v2/config/campaigns").await.0, 200);
    let cm = CmClient::new(&app, &p);
    assert_eq!(cm.get("/campaignmanager/credits/search?page=0&pageSize=10").await.0, 200);
    let onc = OncClient::open(&app, &p).await;
    let _ = onc.call_status("GetCampaigns", json!({"sessionId": onc.session})).await;
    let (s, _) = common::status_json(app.client.get(app.url("/no/such/path/555-0100")).send().await.unwrap()).await;
    assert_eq!(s, 404);

    let body = scrape(&app).await;
    assert!(body.contains("# TYPE http_server_request_duration_seconds histogram"), "{body}");
    assert_eq!(request_count(&body, "/apps/api/v1/wait_times", "GET", "200"), 3.0, "{body}");
    assert_eq!(request_count(&body, "/apps/api/v1/wait_times", "GET", "401"), 1.0, "{body}");
    assert_eq!(
        value(
            &body,
            "http_server_request_duration_seconds_count",
            &[
                ("dialect", "apps"),
                ("http_route", "/apps/api/v1/wait_times"),
                ("http_response_status_code", "200")
            ]
        ),
        Some(3.0)
    );
    assert!(
        value(
            &body,
            "http_server_request_duration_seconds_bucket",
            &[
                ("http_route", "/apps/api/v1/wait_times"),
                ("http_response_status_code", "200"),
                ("le", "+Inf")
            ]
        ) == Some(3.0),
        "{body}"
    );
    let dialer = "/apps/api/v1/outbound_dialer/campaigns/{campaign_id}/contacts";
    let dialer_routes: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("http_server_request_duration_seconds_count") && l.contains("dialect=\"outbound_dialer\""))
        .collect();
    assert_eq!(dialer_routes.len(), 1, "{body}");
    assert!(
        dialer_routes[0].contains("/apps/api/v1/outbound_dialer/campaigns/{"),
        "{dialer} {body}"
    );
    assert_eq!(request_count(&body, "/api/v2/login", "POST", "200"), 1.0, "{body}");
    assert_eq!(request_count(&body, "/api/v2/config/campaigns", "GET", "200"), 1.0, "{body}");
    assert_eq!(request_count(&body, "/campaignmanager/credits/search", "GET", "200"), 1.0, "{body}");
    assert!(
        value(
            &body,
            "http_server_request_duration_seconds_count",
            &[
                ("dialect", "onc"),
                ("http_route", "/onc/json/{method}"),
                ("http_request_method", "POST")
            ]
        )
        .unwrap_or(0.0)
            >= 2.0,
        "{body}"
    );
    assert_eq!(request_count(&body, "unmatched", "GET", "404"), 1.0, "{body}");
    assert!(value(&body, "http_server_request_duration_seconds_count", &[("dialect", "admin")]).is_some());
    // Raw paths, tenants and numbers never show.
    assert!(!body.contains("987654"), "{body}");
    assert!(!body.contains("555-0100"), "{body}");
    assert!(!body.contains("secret-slug"), "{body}");
    let tenant_id = p["tenant"]["id"].as_str().expect("tenant.id");
    assert!(!body.contains(tenant_id), "{body}");
}

#[tokio::test]
async fn token_is_required_when_set() {
    let app = TestApp::spawn_config(|c| switchboard::Config {
        metrics_token: Some("metrics-s3cret".into()),
        ..c
    })
    .await;
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = app.client.get(app.url("/metrics")).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(common::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "the admin token is not the metrics token");
    let r = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("metrics-s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("switchboard_db_pool_connections"));
}

#[tokio::test]
async fn attempts_jobs_pool_and_other_modules_counters() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let tenant = switchboard::domain::tenants::by_slug(&app.db, "acme").await.unwrap();
    let now = app.state.now(&tenant);
    let (s, _) = app
        .admin_post("/admin/v1/tenants/acme/dnc", json!({"number": "+14155550102"}))
        .await;
    assert_eq!(s, 201);
    let c = switchboard::domain::campaigns::create(
        &app.db,
        tenant.id,
        switchboard::domain::campaigns::NewCampaign {
            name: "now".into(),
            kind: "sms".into(),
            status: Some("draft".into()),
            channel: Some("sms".into()),
            starts_at: Some(now - chrono::Duration::minutes(1)),
            attrs: Some(json!({"body": "hi", "from": "+17608675309"})),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    for n in ["+14155550100", "+14155550101", "+14155550102"] {
        switchboard::domain::contacts::insert(
            &app.db,
            tenant.id,
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
    // Scheduled only once its contacts are in and the DNC entry is there, so the background
    // scheduler cannot run it half-built.
    let (s, v) = app
        .admin_post(
            &format!("/admin/v1/tenants/acme/campaigns/{}/events", c.id),
            json!({"event": "schedule"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    app.tick().await;
    // an SMS is in flight for 2 s on the tenant clock
    app.clock("acme", json!({"advance_seconds": 5})).await;
    let c = switchboard::domain::campaigns::get(&app.db, tenant.id, c.id).await.unwrap();
    assert_eq!(c.status, "completed");

    // A job, so the jobs gauge has a series.
    switchboard::domain::jobs::enqueue(
        &app.db,
        tenant.id,
        switchboard::domain::jobs::NewJob {
            kind: "metrics_test".into(),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();

    let body = scrape(&app).await;
    assert_eq!(
        value(&body, "switchboard_attempts_total", &[("channel", "sms"), ("outcome", "delivered")]),
        Some(2.0),
        "{body}"
    );
    assert_eq!(
        value(
            &body,
            "switchboard_attempts_total",
            &[("channel", "sms"), ("outcome", "suppressed")]
        ),
        Some(1.0),
        "{body}"
    );
    // Process-wide (other tests of this binary may add rows too).
    assert!(value(&body, "switchboard_outbox_rows_total", &[]).unwrap_or(0.0) >= 3.0, "{body}");
    assert_eq!(
        value(&body, "switchboard_jobs", &[("kind", "metrics_test"), ("status", "queued")]),
        Some(1.0),
        "{body}"
    );
    assert!(value(&body, "switchboard_db_pool_connections", &[]).unwrap_or(0.0) >= 1.0, "{body}");
    assert!(value(&body, "switchboard_db_pool_idle_connections", &[]).is_some(), "{body}");
    assert_eq!(value(&body, "switchboard_db_pool_max_connections", &[]), Some(10.0), "{body}");
    assert_eq!(value(&body, "switchboard_journal_dropped_total", &[]), Some(0.0), "{body}");
    for kind in ["status", "delay", "reset", "timeout", "malformed"] {
        assert_eq!(
            value(&body, "switchboard_faults_fired_total", &[("kind", kind)]),
            Some(0.0),
            "{body}"
        );
    }
    assert!(!body.contains("acme"), "{body}");
    assert!(!body.contains("+1415"), "{body}");
    assert!(!body.contains("4155550"), "{body}");
}

/// Counters of other modules are read at scrape time through `Sources`.
#[tokio::test]
async fn sources_are_read_at_scrape_time() {
    use switchboard::observability::{Metrics, Sources};
    fn seven() -> u64 {
        7
    }
    fn kinds() -> Vec<(&'static str, u64)> {
        vec![("delay", 2)]
    }
    let m = Metrics::new(
        Sources::default()
            .counter("switchboard_journal_dropped_total", "dropped", seven)
            .labelled_counter("switchboard_faults_fired_total", "fired", "kind", &["status", "delay"], kinds),
    );
    let url = common::fresh_database().await;
    let db = switchboard::db::pool(&url, 2).await.unwrap();
    let body = m.render(&db).await;
    assert_eq!(value(&body, "switchboard_journal_dropped_total", &[]), Some(7.0), "{body}");
    assert_eq!(
        value(&body, "switchboard_faults_fired_total", &[("kind", "delay")]),
        Some(2.0),
        "{body}"
    );
    assert_eq!(
        value(&body, "switchboard_faults_fired_total", &[("kind", "status")]),
        Some(0.0),
        "{body}"
    );
    db.close().await;
}

/// A tiny OTLP/HTTP receiver: keeps the bodies posted to `/v1/traces`.
async fn otlp_receiver() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    use axum::routing::post;
    let got: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let store = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                store.lock().unwrap().push(body.to_vec());
                ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/traces", l.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (url, got)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceparent_is_propagated_to_exported_spans() {
    use tracing_subscriber::layer::SubscriberExt;
    let (url, got) = otlp_receiver().await;
    let (layer, otel) = switchboard::observability::otel::to_endpoint(&url, Duration::from_millis(100)).unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(layer);
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber of this binary");

    let app = TestApp::spawn().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("traceparent", format!("00-{trace_id}-{parent}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = app.client.request(Method::GET, app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let want_trace = hex::decode(trace_id).unwrap();
    let want_parent = hex::decode(parent).unwrap();
    app.eventually(20, || {
        let got = got.clone();
        let (t, p) = (want_trace.clone(), want_parent.clone());
        async move {
            let bodies = got.lock().unwrap();
            bodies.iter().any(|b| contains(b, &t) && contains(b, &p)).then_some(())
        }
    })
    .await;
    let bodies = got.lock().unwrap().clone();
    assert!(bodies.iter().any(|b| contains(b, b"request")), "the request span is exported");
    tokio::task::spawn_blocking(move || otel.shutdown()).await.unwrap();
}
