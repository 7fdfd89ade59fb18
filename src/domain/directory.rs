//! Directory: agents (users), menus, queues and phone numbers of a tenant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor, PgPool};
use uuid::Uuid;

use super::phone::PhoneNumber;
use super::{DomainError, DomainResult, TenantId};

/// An agent (a user of the contact center).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Agent {
    #[serde(rename = "uuid")]
    pub id: Uuid,
    #[serde(rename = "id")]
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub agent_number: Option<String>,
    pub extension: Option<String>,
    pub status: String,
    pub can_call: bool,
    pub logged_in: bool,
    pub on_call: bool,
    pub attrs: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Fields of a new agent.
#[derive(Debug, Clone, Deserialize)]
pub struct NewAgent {
    pub email: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub agent_number: Option<String>,
    #[serde(default)]
    pub extension: Option<String>,
    #[serde(default = "default_available")]
    pub status: String,
    #[serde(default = "default_true")]
    pub can_call: bool,
    #[serde(default)]
    pub attrs: Option<serde_json::Value>,
}

fn default_available() -> String {
    "available".into()
}
fn default_true() -> bool {
    true
}

/// Whether `s` looks like an e-mail address (one `@`, a dot in the domain, no spaces).
pub fn valid_email(s: &str) -> bool {
    let s = s.trim();
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
}

const AGENT_COLS: &str = "id, seq, tenant_id, email, first_name, last_name, agent_number, extension, status, can_call, logged_in, on_call, attrs, created_at, updated_at";

/// Creates an agent.
pub async fn create_agent<'e>(db: impl PgExecutor<'e>, tenant: TenantId, a: NewAgent) -> DomainResult<Agent> {
    if !valid_email(&a.email) {
        return Err(DomainError::validation("email", "must be an e-mail address"));
    }
    if !matches!(a.status.as_str(), "available" | "unavailable") {
        return Err(DomainError::validation("status", "must be \"available\" or \"unavailable\""));
    }
    if a.attrs.as_ref().is_some_and(|v| !v.is_object() && !v.is_null()) {
        return Err(DomainError::validation("attrs", "must be a JSON object"));
    }
    let sql = format!(
        "INSERT INTO agents (id, tenant_id, email, first_name, last_name, agent_number, extension, status, can_call, attrs)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (tenant_id, lower(email)) DO NOTHING RETURNING {AGENT_COLS}"
    );
    let agent = sqlx::query_as::<_, Agent>(sqlx::AssertSqlSafe(sql))
        .bind(Uuid::new_v4())
        .bind(tenant.0)
        .bind(a.email.trim())
        .bind(&a.first_name)
        .bind(&a.last_name)
        .bind(&a.agent_number)
        .bind(&a.extension)
        .bind(&a.status)
        .bind(a.can_call)
        .bind(a.attrs.unwrap_or_else(|| serde_json::json!({})))
        .fetch_optional(db)
        .await?;
    agent.ok_or_else(|| DomainError::validation("email", "an agent with this e-mail already exists"))
}

/// The tenant's agents in creation order.
pub async fn list_agents<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<Vec<Agent>> {
    let sql = format!("SELECT {AGENT_COLS} FROM agents WHERE tenant_id = $1 ORDER BY seq");
    Ok(sqlx::query_as::<_, Agent>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .fetch_all(db)
        .await?)
}

/// The tenant's agent with this e-mail (case-insensitive).
pub async fn agent_by_email<'e>(db: impl PgExecutor<'e>, tenant: TenantId, email: &str) -> DomainResult<Option<Agent>> {
    let sql = format!("SELECT {AGENT_COLS} FROM agents WHERE tenant_id = $1 AND lower(email) = lower($2)");
    Ok(sqlx::query_as::<_, Agent>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(email.trim())
        .fetch_optional(db)
        .await?)
}

/// A menu (IVR, mobile or web).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Menu {
    #[serde(rename = "uuid")]
    pub id: Uuid,
    #[serde(rename = "id")]
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    #[serde(skip)]
    pub parent_id: Option<Uuid>,
    pub parent_seq: Option<i64>,
    pub name: String,
    pub menu_type: String,
    pub languages: Vec<String>,
    pub state: String,
    pub channels: Vec<String>,
    pub wait_seconds: Option<i32>,
    pub attrs: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Fields of a new menu.
#[derive(Debug, Clone, Deserialize)]
pub struct NewMenu {
    pub name: String,
    pub menu_type: String,
    /// Integer id of the parent menu.
    #[serde(default)]
    pub parent_id: Option<i64>,
    #[serde(default)]
    pub languages: Option<Vec<String>>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    #[serde(default)]
    pub wait_seconds: Option<i32>,
}

const MENU_COLS: &str = "m.id, m.seq, m.tenant_id, m.parent_id, p.seq AS parent_seq, m.name, m.menu_type, m.languages, m.state, m.channels, m.wait_seconds, m.attrs, m.created_at";

/// Creates a menu.
pub async fn create_menu(db: &PgPool, tenant: TenantId, m: NewMenu) -> DomainResult<Menu> {
    if m.name.trim().is_empty() {
        return Err(DomainError::validation("name", "must not be empty"));
    }
    if !matches!(m.menu_type.as_str(), "ivr_menu" | "mobile_menu" | "web_menu") {
        return Err(DomainError::validation("menu_type", "must be ivr_menu, mobile_menu or web_menu"));
    }
    let state = m.state.unwrap_or_else(|| "open".into());
    if !matches!(state.as_str(), "open" | "after_hours" | "manual_redirection") {
        return Err(DomainError::validation("state", "must be open, after_hours or manual_redirection"));
    }
    let channels = m.channels.unwrap_or_else(|| vec!["voice_call".into()]);
    if channels.is_empty() || channels.iter().any(|c| !matches!(c.as_str(), "voice_call" | "chat")) {
        return Err(DomainError::validation("channels", "must be a non-empty list of voice_call, chat"));
    }
    let languages = m.languages.unwrap_or_else(|| vec!["en".into()]);
    if languages.is_empty() || languages.iter().any(|l| l.len() < 2 || l.len() > 8) {
        return Err(DomainError::validation("languages", "must be a non-empty list of language codes"));
    }
    if m.wait_seconds.is_some_and(|w| w < 0) {
        return Err(DomainError::validation("wait_seconds", "must not be negative"));
    }
    let parent = match m.parent_id {
        Some(p) => Some(
            sqlx::query_scalar::<_, Uuid>("SELECT id FROM menus WHERE tenant_id = $1 AND seq = $2")
                .bind(tenant.0)
                .bind(p)
                .fetch_optional(db)
                .await?
                .ok_or_else(|| DomainError::validation("parent_id", "no such menu"))?,
        ),
        None => None,
    };
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO menus (id, tenant_id, parent_id, name, menu_type, languages, state, channels, wait_seconds)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(tenant.0)
    .bind(parent)
    .bind(&m.name)
    .bind(&m.menu_type)
    .bind(&languages)
    .bind(&state)
    .bind(&channels)
    .bind(m.wait_seconds)
    .execute(db)
    .await?;
    get_menu(db, tenant, id).await
}

/// One menu by uuid.
pub async fn get_menu<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid) -> DomainResult<Menu> {
    let sql = format!("SELECT {MENU_COLS} FROM menus m LEFT JOIN menus p ON p.id = m.parent_id WHERE m.tenant_id = $1 AND m.id = $2");
    sqlx::query_as::<_, Menu>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("menu"))
}

/// One menu by integer id.
pub async fn menu_by_seq<'e>(db: impl PgExecutor<'e>, tenant: TenantId, seq: i64) -> DomainResult<Option<Menu>> {
    let sql = format!("SELECT {MENU_COLS} FROM menus m LEFT JOIN menus p ON p.id = m.parent_id WHERE m.tenant_id = $1 AND m.seq = $2");
    Ok(sqlx::query_as::<_, Menu>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(seq)
        .fetch_optional(db)
        .await?)
}

/// The tenant's menus in creation order.
pub async fn list_menus<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<Vec<Menu>> {
    let sql = format!("SELECT {MENU_COLS} FROM menus m LEFT JOIN menus p ON p.id = m.parent_id WHERE m.tenant_id = $1 ORDER BY m.seq");
    Ok(sqlx::query_as::<_, Menu>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .fetch_all(db)
        .await?)
}

/// A phone number of the tenant.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct TenantNumber {
    #[serde(rename = "uuid")]
    pub id: Uuid,
    #[serde(rename = "id")]
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub number: String,
    pub sms: bool,
    pub voice: bool,
    pub default_outbound: bool,
    pub created_at: DateTime<Utc>,
}

/// Fields of a new phone number.
#[derive(Debug, Clone, Deserialize)]
pub struct NewNumber {
    pub number: String,
    #[serde(default = "default_true")]
    pub sms: bool,
    #[serde(default = "default_true")]
    pub voice: bool,
    #[serde(default)]
    pub default_outbound: bool,
}

/// Adds a phone number (one default per tenant: a new default clears the old one).
pub async fn create_number(db: &PgPool, tenant: TenantId, n: NewNumber) -> DomainResult<TenantNumber> {
    let parsed = PhoneNumber::parse(&n.number).map_err(|e| DomainError::validation("number", e.to_string()))?;
    let mut tx = db.begin().await?;
    if n.default_outbound {
        sqlx::query("UPDATE phone_numbers SET default_outbound = false WHERE tenant_id = $1")
            .bind(tenant.0)
            .execute(&mut *tx)
            .await?;
    }
    let row = sqlx::query_as::<_, TenantNumber>(
        "INSERT INTO phone_numbers (id, tenant_id, number, sms, voice, default_outbound) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, number) DO NOTHING
         RETURNING id, seq, tenant_id, number, sms, voice, default_outbound, created_at",
    )
    .bind(Uuid::new_v4())
    .bind(tenant.0)
    .bind(&parsed.e164)
    .bind(n.sms)
    .bind(n.voice)
    .bind(n.default_outbound)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| DomainError::validation("number", "this number already belongs to the tenant"))?;
    tx.commit().await?;
    Ok(row)
}

/// The tenant's phone numbers in creation order.
pub async fn list_numbers<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<Vec<TenantNumber>> {
    Ok(sqlx::query_as::<_, TenantNumber>(
        "SELECT id, seq, tenant_id, number, sms, voice, default_outbound, created_at FROM phone_numbers WHERE tenant_id = $1 ORDER BY seq",
    )
    .bind(tenant.0)
    .fetch_all(db)
    .await?)
}

/// A queue with its agents' e-mails.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Queue {
    #[serde(rename = "uuid")]
    pub id: Uuid,
    #[serde(rename = "id")]
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub name: String,
    pub extension: Option<String>,
    pub strategy: String,
    pub max_time_caller_in_queue: i32,
    pub agents: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// Fields of a new queue.
#[derive(Debug, Clone, Deserialize)]
pub struct NewQueue {
    pub name: String,
    #[serde(default)]
    pub extension: Option<String>,
    #[serde(default)]
    pub strategy: Option<String>,
    #[serde(default)]
    pub max_time_caller_in_queue: Option<i32>,
    #[serde(default)]
    pub agents: Vec<String>,
}

const QUEUE_SQL: &str = "SELECT q.id, q.seq, q.tenant_id, q.name, q.extension, q.strategy, q.max_time_caller_in_queue,
        COALESCE(array_agg(a.email ORDER BY a.seq) FILTER (WHERE a.id IS NOT NULL), '{}') AS agents, q.created_at
   FROM queues q LEFT JOIN queue_agents qa ON qa.queue_id = q.id AND qa.tenant_id = q.tenant_id
   LEFT JOIN agents a ON a.id = qa.agent_id
  WHERE q.tenant_id = $1";

/// Creates a queue; every agent e-mail must be an agent of the tenant.
pub async fn create_queue(db: &PgPool, tenant: TenantId, q: NewQueue) -> DomainResult<Queue> {
    if q.name.trim().is_empty() {
        return Err(DomainError::validation("name", "must not be empty"));
    }
    if q.max_time_caller_in_queue.is_some_and(|m| m < 0) {
        return Err(DomainError::validation("max_time_caller_in_queue", "must not be negative"));
    }
    let mut tx = db.begin().await?;
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO queues (id, tenant_id, name, extension, strategy, max_time_caller_in_queue) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(tenant.0)
        .bind(&q.name)
        .bind(&q.extension)
        .bind(q.strategy.unwrap_or_else(|| "round_robin".into()))
        .bind(q.max_time_caller_in_queue.unwrap_or(300))
        .execute(&mut *tx)
        .await?;
    for email in &q.agents {
        let agent = agent_by_email(&mut *tx, tenant, email)
            .await?
            .ok_or_else(|| DomainError::validation("agents", format!("no agent with e-mail {email}")))?;
        sqlx::query("INSERT INTO queue_agents (tenant_id, queue_id, agent_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(tenant.0)
            .bind(id)
            .bind(agent.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let sql = format!("{QUEUE_SQL} AND q.id = $2 GROUP BY q.id");
    Ok(sqlx::query_as::<_, Queue>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_one(db)
        .await?)
}

/// The tenant's queues in creation order.
pub async fn list_queues<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<Vec<Queue>> {
    let sql = format!("{QUEUE_SQL} GROUP BY q.id ORDER BY q.seq");
    Ok(sqlx::query_as::<_, Queue>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .fetch_all(db)
        .await?)
}

/// A custom role, team or location of a tenant (the names that user files may give
/// beside the built-in roles a dialect knows).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct OrgItem {
    pub seq: i64,
    pub kind: String,
    pub name: String,
}

/// Kinds of [`OrgItem`].
pub const ORG_ITEM_KINDS: &[&str] = &["role", "team", "location"];

/// Adds a role, team or location; names are unique per kind, case-insensitively
/// (a second one is a Conflict).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn add_org_item<'e>(db: impl PgExecutor<'e>, tenant: TenantId, kind: &str, name: &str) -> DomainResult<OrgItem> {
    if !ORG_ITEM_KINDS.contains(&kind) {
        return Err(DomainError::validation("kind", "must be role, team or location"));
    }
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::validation("name", "must not be empty"));
    }
    sqlx::query_as::<_, OrgItem>(
        "INSERT INTO apps_org_items (id, tenant_id, kind, name) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, kind, lower(name)) DO NOTHING RETURNING seq, kind, name",
    )
    .bind(Uuid::new_v4())
    .bind(tenant.0)
    .bind(kind)
    .bind(name)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| DomainError::Conflict(format!("name: this {kind} already exists")))
}

/// The tenant's roles, teams and locations in creation order.
pub async fn list_org_items<'e>(db: impl PgExecutor<'e>, tenant: TenantId) -> DomainResult<Vec<OrgItem>> {
    Ok(
        sqlx::query_as::<_, OrgItem>("SELECT seq, kind, name FROM apps_org_items WHERE tenant_id = $1 ORDER BY seq")
            .bind(tenant.0)
            .fetch_all(db)
            .await?,
    )
}

/// New values of an agent's fields (an absent `agent_number` keeps the old one).
#[derive(Debug, Clone)]
pub struct AgentChange {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub agent_number: Option<String>,
    pub attrs: serde_json::Value,
}

/// Changes an agent of the tenant.
pub async fn update_agent<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid, c: AgentChange, now: DateTime<Utc>) -> DomainResult<()> {
    let n = sqlx::query(
        "UPDATE agents SET email = $3, first_name = $4, last_name = $5, agent_number = COALESCE($6, agent_number),
                attrs = $7, updated_at = $8
          WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(&c.email)
    .bind(&c.first_name)
    .bind(&c.last_name)
    .bind(&c.agent_number)
    .bind(c.attrs)
    .bind(now)
    .execute(db)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(DomainError::NotFound("agent"));
    }
    Ok(())
}

/// A tenant's menus with an index by uuid (the read model `wait_times` renders, kept by
/// `caches::ReadCache::menus`).
#[derive(Debug, Clone, Default)]
pub struct Menus {
    /// In creation order.
    pub list: Vec<Menu>,
    index: std::collections::HashMap<Uuid, usize>,
}

impl Menus {
    /// Indexes `list`.
    pub fn new(list: Vec<Menu>) -> Self {
        let index = list.iter().enumerate().map(|(i, m)| (m.id, i)).collect();
        Menus { list, index }
    }

    /// The menu with uuid `id`.
    pub fn get(&self, id: Uuid) -> Option<&Menu> {
        self.index.get(&id).map(|i| &self.list[*i])
    }

    /// The menu and its ancestors, root first.
    pub fn path(&self, id: Uuid) -> Vec<&Menu> {
        let mut out = Vec::new();
        let mut cur = self.get(id);
        while let Some(m) = cur {
            if out.len() > 64 {
                break;
            }
            out.push(m);
            cur = m.parent_id.and_then(|p| self.get(p));
        }
        out.reverse();
        out
    }

    /// Whether `id` is `root` or below it.
    pub fn in_subtree(&self, id: Uuid, root: Uuid) -> bool {
        self.path(id).iter().any(|m| m.id == root)
    }
}
