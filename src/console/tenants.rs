//! `/console/tenants`: list, create (credentials shown once, with curl lines and Postman
//! environments), delete after typing the slug.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use maud::{html, Markup};
use serde_json::{json, Map, Value};

use super::auth::{Post, Session};
use super::layout::{self, Flash};
use super::{see_other, see_other_error, PageResult};
use crate::domain::tenants::{self, NewTenant, Provisioned};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/tenants", get(list).post(create))
        .route("/console/tenants/{slug}/delete", post(remove))
}

/// `GET /console/tenants`
async fn list(State(st): State<AppState>, s: Session, flash: Flash) -> PageResult {
    let all = tenants::list(&st.db).await?;
    let content = html! {
        h1 { "Tenants" }
        @if all.is_empty() { p { "No tenant yet. Create one below." } } @else {
            table {
                caption class="visually-hidden" { "Tenants" }
                thead { tr { th scope="col" { "Slug" } th scope="col" { "Name" } th scope="col" { "Clock" } th scope="col" { "Created" } th scope="col" { "Delete" } } }
                tbody {
                    @for t in &all {
                        tr {
                            td { a href={ "/console/t/" (t.slug) } { (t.slug) } }
                            td { (t.name) }
                            td class="mono" { (layout::ts(st.now(t))) @if t.clock.frozen_at.is_some() { " (frozen)" } }
                            td class="mono" { (layout::ts(t.created_at)) }
                            td {
                                form class="inline" method="post" action={ "/console/tenants/" (t.slug) "/delete" } {
                                    (layout::csrf(&s))
                                    label class="visually-hidden" for={ "confirm-" (t.slug) } { "Type " (t.slug) " to confirm deletion" }
                                    input id={ "confirm-" (t.slug) } name="confirm" placeholder={ "type " (t.slug) } size="14" autocomplete="off";
                                    button type="submit" class="danger" { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Create a tenant" }
        form class="stack" method="post" action="/console/tenants" {
            (layout::csrf(&s))
            label class="field" { "Slug (a DNS label: the Leads domain and the Apps subdomain)"
                input name="slug" required pattern="[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?" autocomplete="off"; }
            label class="field" { "Name (optional)" input name="name" autocomplete="off"; }
            div { button type="submit" { "Create tenant" } }
        }
    };
    Ok(layout::page("Tenants", &s, None, "", &flash, content))
}

/// `POST /console/tenants`: creates the tenant and shows its credentials once.
async fn create(State(st): State<AppState>, headers: axum::http::HeaderMap, s: Session, f: Post) -> PageResult {
    let req = NewTenant {
        slug: f.get("slug").to_string(),
        name: f.opt("name"),
        fields: Map::new(),
    };
    let p = match tenants::create(&st.db, &st.tenants.provisioners, req).await {
        Ok(p) => p,
        Err(e) => return Ok(see_other_error("/console/tenants", &e.to_string())),
    };
    let base = base_url(&headers);
    let content = credentials(&p, &base);
    let mut resp = layout::page("Tenant created", &s, None, "", &Flash::default(), content);
    // The page carries secrets: never stored by the browser or a proxy.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store, private"));
    Ok(resp)
}

/// `POST /console/tenants/{slug}/delete` (`confirm` must repeat the slug).
async fn remove(State(st): State<AppState>, Path(slug): Path<String>, f: Post) -> Response {
    if f.get("confirm") != slug {
        return see_other_error("/console/tenants", &format!("Type {slug} to confirm deleting it."));
    }
    match tenants::delete(&st.db, &slug).await {
        Ok(()) => see_other("/console/tenants", &format!("Tenant {slug} deleted.")),
        Err(e) => see_other_error("/console/tenants", &e.to_string()),
    }
}

/// The server's base URL as the browser reached it.
fn base_url(headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
        .unwrap_or("127.0.0.1:8080");
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_default()
}

/// Ready-to-run curl lines per dialect (the secrets are the new tenant's own).
fn curl_lines(p: &Provisioned, base: &str) -> Vec<(&'static str, String)> {
    let c = &p.credentials;
    let none = Value::Null;
    let get = |k: &str| c.get(k).unwrap_or(&none);
    let (onc, leads, cm, apps) = (get("onc"), get("leads"), get("campaign_manager"), get("apps"));
    let mut out = Vec::new();
    if !onc.is_null() {
        out.push((
            "ONC (JSON binding)",
            format!(
                "curl -s -X POST {base}/onc/json/OpenAPISession -H 'Content-Type: application/json' \\\n  -d '{}'",
                json!({"accountId": s(onc, "account_id"), "username": s(onc, "username"), "password": s(onc, "password")})
            ),
        ));
    }
    if !leads.is_null() {
        out.push((
            "Leads",
            format!(
                "curl -s -X POST {base}/api/v2/login -H 'Content-Type: application/json' \\\n  -d '{}'",
                json!({"username": s(leads, "username"), "password": s(leads, "password"), "domain": s(leads, "domain")})
            ),
        ));
    }
    if !cm.is_null() {
        out.push((
            "Campaign Manager",
            format!(
                "curl -s -u '{}:{}' {base}/campaignmanager/campaigns/search",
                s(cm, "account_sid"),
                s(cm, "auth_token")
            ),
        ));
    }
    if !apps.is_null() {
        out.push((
            "Apps API",
            format!(
                "curl -s -u '{}:{}' {base}/apps/api/v1/wait_times",
                s(apps, "subdomain"),
                s(apps, "token")
            ),
        ));
        out.push((
            "Outbound dialer",
            format!(
                "curl -s -u '{}:{}' {base}/manager/api/v1/outbound_dialer/campaigns",
                s(apps, "subdomain"),
                s(apps, "token")
            ),
        ));
    }
    out
}

/// One Postman environment per collection of `openapi/postman/` (their variable names).
fn postman_envs(p: &Provisioned, base: &str) -> Vec<(&'static str, String)> {
    let c = &p.credentials;
    let none = Value::Null;
    let get = |k: &str| c.get(k).unwrap_or(&none);
    let (onc, leads, cm, apps) = (get("onc"), get("leads"), get("campaign_manager"), get("apps"));
    let env = |name: &'static str, vars: Vec<(&str, &str, bool)>| {
        let values: Vec<Value> = std::iter::once(("baseUrl", base, false))
            .chain(vars)
            .map(|(k, v, secret)| json!({"key": k, "value": v, "type": if secret {"secret"} else {"default"}, "enabled": true}))
            .collect();
        let env = json!({
            "id": uuid::Uuid::new_v4(),
            "name": format!("switchboard {name} ({})", p.tenant.slug),
            "values": values,
            "_postman_variable_scope": "environment",
        });
        (name, env.to_string())
    };
    vec![
        env(
            "onc",
            vec![
                ("accountId", s(onc, "account_id"), false),
                ("username", s(onc, "username"), false),
                ("password", s(onc, "password"), true),
            ],
        ),
        env(
            "leads",
            vec![
                ("username", s(leads, "username"), false),
                ("password", s(leads, "password"), true),
                ("domain", s(leads, "domain"), false),
            ],
        ),
        env(
            "campaign-manager",
            vec![
                ("accountSid", s(cm, "account_sid"), false),
                ("authToken", s(cm, "auth_token"), true),
                ("enterpriseSid", s(cm, "enterprise_sid"), false),
            ],
        ),
        env(
            "apps",
            vec![
                ("username", s(apps, "subdomain"), false),
                ("password", s(apps, "token"), true),
                ("subdomain", s(apps, "subdomain"), false),
            ],
        ),
        env(
            "outbound-dialer",
            vec![("subdomain", s(apps, "subdomain"), false), ("api_token", s(apps, "token"), true)],
        ),
    ]
}

fn credentials(p: &Provisioned, base: &str) -> Markup {
    let slug = &p.tenant.slug;
    html! {
        h1 { "Tenant " (slug) " created" }
        p class="notice" role="status" { strong { "Copy these credentials now: " } "they are shown only once (the server keeps only their hashes)." }
        table {
            thead { tr { th scope="col" { "Dialect" } th scope="col" { "Credentials" } } }
            tbody {
                @for (name, v) in &p.credentials {
                    tr {
                        th scope="row" { (name) }
                        td class="mono wrap" {
                            @if let Some(o) = v.as_object() {
                                @for (k, x) in o { (k) " = " (x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string())) br; }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Try it with curl" }
        @for (i, (label, line)) in curl_lines(p, base).iter().enumerate() {
            h3 { (label) }
            pre id={ "curl-" (i) } { (line) }
            button type="button" class="secondary" data-copy={ "curl-" (i) } { "Copy" }
        }
        h2 { "Postman environments" }
        p { "One per collection in " code { "openapi/postman/" } ":" }
        ul {
            @for (name, env) in postman_envs(p, base) {
                li {
                    a download={ (slug) "." (name) ".postman_environment.json" }
                      href={ "data:application/json;base64," (base64::engine::general_purpose::STANDARD.encode(env.as_bytes())) } {
                        (name) ".postman_environment.json"
                    }
                }
            }
        }
        p { a href={ "/console/t/" (slug) } { "Open " (slug) } " · " a href="/console/tenants" { "All tenants" } }
    }
}
