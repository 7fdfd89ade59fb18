//! The Manager API's list query as a public data-pipeline connector sends it: `per`,
//! `sort_column`/`sort_direction`, `created_at[from]`/`[to]`, `updated_at[from]`/`[to]`,
//! on `GET /manager/api/v1/calls` and `GET /manager/api/v1/outbound_dialer/campaigns`.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{status_json, TestApp};
use serde_json::{json, Value};
use switchboard::domain::campaigns::{self, NewCampaign};
use switchboard::domain::interactions::{self, NewInteraction};
use switchboard::domain::TenantId;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

async fn setup(app: &TestApp) -> (TenantId, (String, String)) {
    let p = app.tenant("acme").await;
    let (_, t) = app.admin_get("/admin/v1/tenants/acme").await;
    let tenant = TenantId(t["id"].as_str().unwrap().parse().unwrap());
    // Five calls and five dialer campaigns, one hour apart from 2026-01-01T00:00Z.
    for i in 0..5 {
        let at = t0() + Duration::hours(i);
        interactions::create(
            &app.db,
            tenant,
            NewInteraction {
                kind: "call".into(),
                direction: "outbound".into(),
                status: "completed".into(),
                agent_id: None,
                menu_id: None,
                campaign_id: None,
                contact_id: None,
                end_user_number: Some(format!("+1415555010{i}")),
                outbound_number: None,
                scheduled_at: None,
                attrs: json!({}),
            },
            at,
        )
        .await
        .unwrap();
        campaigns::create(
            &app.db,
            tenant,
            NewCampaign {
                id: None,
                name: format!("C{i}"),
                kind: "outbound_dialer".into(),
                status: None,
                channel: None,
                starts_at: None,
                ends_at: None,
                attrs: None,
            },
            at,
        )
        .await
        .unwrap();
    }
    let auth = (
        p["apps"]["subdomain"].as_str().unwrap().to_string(),
        p["apps"]["token"].as_str().unwrap().to_string(),
    );
    (tenant, auth)
}

async fn get(app: &TestApp, auth: &(String, String), path: &str) -> (u16, Value, Option<String>) {
    let r = app
        .client
        .get(app.url(path))
        .basic_auth(&auth.0, Some(&auth.1))
        .send()
        .await
        .unwrap();
    let link = r.headers().get("link").and_then(|v| v.to_str().ok()).map(str::to_string);
    let (s, v) = status_json(r).await;
    (s, v, link)
}

fn created(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c["created_at"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn calls_list_takes_the_connectors_query() {
    let app = TestApp::spawn().await;
    let (_, auth) = setup(&app).await;
    // Defaults: newest first, pages of 25.
    let (s, v, _) = get(&app, &auth, "/manager/api/v1/calls").await;
    assert_eq!(s, 200, "{v}");
    let all = created(&v);
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0] >= w[1]), "{all:?}");
    // `per` pages; ascending by created_at.
    let (s, v, link) = get(&app, &auth, "/manager/api/v1/calls?per=2&sort_column=created_at&sort_direction=ASC").await;
    assert_eq!(s, 200, "{v}");
    let page1 = created(&v);
    assert_eq!(page1.len(), 2);
    assert!(page1[0] < page1[1]);
    let link = link.unwrap();
    assert!(link.contains("page=2&per_page=2") && !link.contains("per=2&"), "{link}");
    let (_, v, _) = get(
        &app,
        &auth,
        "/manager/api/v1/calls?per=2&page=3&sort_column=created_at&sort_direction=asc",
    )
    .await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    // A bookmark: everything from the third call on, oldest first (a `+` offset sent raw
    // arrives as a space and is read back).
    let from = (t0() + Duration::hours(2)).to_rfc3339();
    let (s, v, _) = get(
        &app,
        &auth,
        &format!("/manager/api/v1/calls?per=100&sort_column=created_at&sort_direction=ASC&created_at[from]={from}"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(created(&v).len(), 3, "{v}");
    let (_, v, _) = get(
        &app,
        &auth,
        "/manager/api/v1/calls?created_at%5Bfrom%5D=2026-01-01T01:00:00Z&created_at%5Bto%5D=2026-01-01T02:00:00Z",
    )
    .await;
    assert_eq!(created(&v).len(), 2, "{v}");
    let (_, v, _) = get(
        &app,
        &auth,
        "/manager/api/v1/calls?updated_at[from]=2026-01-01T04:00:00Z&updated_at[to]=2030-01-01",
    )
    .await;
    assert_eq!(created(&v).len(), 1, "{v}");
    let (_, v, _) = get(&app, &auth, "/manager/api/v1/calls?sort_column=id&sort_direction=asc").await;
    let ids: Vec<i64> = v.as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let (_, v, _) = get(&app, &auth, "/manager/api/v1/calls?sort_column=updated_at").await;
    assert!(created(&v).windows(2).all(|w| w[0] >= w[1]), "{v}");
    // Bad values: 400 in the vendor's shape.
    for q in [
        "sort_column=name",
        "sort_direction=up",
        "created_at[from]=yesterday",
        "per=0",
        "per=1000",
    ] {
        let (s, v, _) = get(&app, &auth, &format!("/manager/api/v1/calls?{q}")).await;
        assert_eq!(s, 400, "{q}: {v}");
        assert!(v["message"].is_string(), "{v}");
    }
}

#[tokio::test]
async fn dialer_campaigns_list_takes_the_same_query() {
    let app = TestApp::spawn().await;
    let (_, auth) = setup(&app).await;
    let base = "/manager/api/v1/outbound_dialer/campaigns";
    let (s, v, _) = get(&app, &auth, base).await;
    assert_eq!(s, 200, "{v}");
    let all = created(&v);
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0] <= w[1]), "oldest first by default: {all:?}");
    let (_, v, link) = get(&app, &auth, &format!("{base}?per=2&sort_column=created_at&sort_direction=DESC")).await;
    let page = created(&v);
    assert_eq!(page.len(), 2);
    assert!(page[0] > page[1]);
    assert!(link.unwrap().contains("page=2&per_page=2"));
    let (_, v, _) = get(&app, &auth, &format!("{base}?created_at[from]=2026-01-01T03:00:00Z")).await;
    assert_eq!(created(&v).len(), 2, "{v}");
    let (_, v, _) = get(
        &app,
        &auth,
        &format!("{base}?created_at[to]=2026-01-01T00:00:00Z&updated_at[from]=2025-01-01"),
    )
    .await;
    assert_eq!(created(&v).len(), 1, "{v}");
    let (s, _, _) = get(&app, &auth, &format!("{base}?sort_direction=sideways")).await;
    assert_eq!(s, 400);
}
