//! Directory and domain fixtures under `/admin/v1/tenants/{slug}/`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AdminAuth, AdminError, AdminJson};
use crate::domain::campaigns::{self, Campaign, NewCampaign};
use crate::domain::directory::{self, NewAgent, NewMenu, NewNumber, NewQueue};
use crate::domain::tenants::{self, Tenant};
use crate::domain::{credits, hex_id, sid};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/tenants/{slug}/agents", get(list_agents).post(create_agent))
        .route("/admin/v1/tenants/{slug}/menus", get(list_menus).post(create_menu))
        .route("/admin/v1/tenants/{slug}/phone-numbers", get(list_numbers).post(create_number))
        .route("/admin/v1/tenants/{slug}/queues", get(list_queues).post(create_queue))
        .route("/admin/v1/tenants/{slug}/credits", get(list_credits).post(add_credit))
        .route("/admin/v1/tenants/{slug}/campaigns", get(list_campaigns).post(create_campaign))
}

type Created = Result<(StatusCode, Json<Value>), AdminError>;
type Listed = Result<Json<Value>, AdminError>;

async fn tenant(st: &AppState, slug: &str) -> Result<Tenant, AdminError> {
    Ok(tenants::by_slug(&st.db, slug).await?)
}

fn to_json<T: serde::Serialize>(v: T) -> Result<Value, AdminError> {
    serde_json::to_value(v).map_err(|_| AdminError::Internal)
}

async fn create_agent(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>, AdminJson(a): AdminJson<NewAgent>) -> Created {
    let t = tenant(&st, &slug).await?;
    Ok((StatusCode::CREATED, Json(to_json(directory::create_agent(&st.db, t.id, a).await?)?)))
}

async fn list_agents(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Listed {
    let t = tenant(&st, &slug).await?;
    Ok(Json(to_json(directory::list_agents(&st.db, t.id).await?)?))
}

async fn create_menu(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>, AdminJson(m): AdminJson<NewMenu>) -> Created {
    let t = tenant(&st, &slug).await?;
    Ok((StatusCode::CREATED, Json(to_json(directory::create_menu(&st.db, t.id, m).await?)?)))
}

async fn list_menus(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Listed {
    let t = tenant(&st, &slug).await?;
    Ok(Json(to_json(directory::list_menus(&st.db, t.id).await?)?))
}

async fn create_number(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>, AdminJson(n): AdminJson<NewNumber>) -> Created {
    let t = tenant(&st, &slug).await?;
    Ok((
        StatusCode::CREATED,
        Json(to_json(directory::create_number(&st.db, t.id, n).await?)?),
    ))
}

async fn list_numbers(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Listed {
    let t = tenant(&st, &slug).await?;
    Ok(Json(to_json(directory::list_numbers(&st.db, t.id).await?)?))
}

async fn create_queue(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>, AdminJson(q): AdminJson<NewQueue>) -> Created {
    let t = tenant(&st, &slug).await?;
    Ok((StatusCode::CREATED, Json(to_json(directory::create_queue(&st.db, t.id, q).await?)?)))
}

async fn list_queues(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Listed {
    let t = tenant(&st, &slug).await?;
    Ok(Json(to_json(directory::list_queues(&st.db, t.id).await?)?))
}

#[derive(Deserialize)]
struct NewCredit {
    credit: i64,
    #[serde(default)]
    description: Option<String>,
}

async fn add_credit(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>, AdminJson(c): AdminJson<NewCredit>) -> Created {
    let t = tenant(&st, &slug).await?;
    if c.credit == 0 {
        return Err(AdminError::Unprocessable("credit: must not be zero".into()));
    }
    let desc = c.description.unwrap_or_else(|| {
        if c.credit > 0 {
            "Credit added by operator".into()
        } else {
            "Credit removed by operator".into()
        }
    });
    let (entry, balance) = credits::adjust(&st.db, t.id, c.credit, &desc, st.now(&t)).await?;
    let mut v = to_json(entry)?;
    v["balance"] = json!(balance);
    Ok((StatusCode::CREATED, Json(v)))
}

async fn list_credits(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Listed {
    let t = tenant(&st, &slug).await?;
    Ok(Json(to_json(credits::list(&st.db, t.id).await?)?))
}

/// A campaign with its id in every dialect's shape.
pub fn render_campaign(c: &Campaign) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "kind": c.kind,
        "status": c.status,
        "channel": c.channel,
        "starts_at": c.starts_at,
        "ends_at": c.ends_at,
        "created_at": c.created_at,
        "ids": {
            "onc": c.id,
            "leads": hex_id(c.id),
            "campaign_manager": sid("EC", c.id),
            "apps": c.seq,
        }
    })
}

async fn create_campaign(
    State(st): State<AppState>,
    _: AdminAuth,
    Path(slug): Path<String>,
    AdminJson(c): AdminJson<NewCampaign>,
) -> Created {
    let t = tenant(&st, &slug).await?;
    let c = campaigns::create(&st.db, t.id, NewCampaign { id: None, ..c }, st.now(&t)).await?;
    Ok((StatusCode::CREATED, Json(render_campaign(&c))))
}

async fn list_campaigns(State(st): State<AppState>, _: AdminAuth, Path(slug): Path<String>) -> Listed {
    let t = tenant(&st, &slug).await?;
    Ok(Json(Value::Array(
        campaigns::list(&st.db, t.id).await?.iter().map(render_campaign).collect(),
    )))
}
