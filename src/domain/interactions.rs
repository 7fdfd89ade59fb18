//! Interactions: calls and SMS sessions, whatever dialect made them (`interactions` rows).
//!
//! `status` keeps the shared interaction states (`selecting`, `queued`, `assigned`,
//! `connecting`, `connected`, `finished`, `failed`, `scheduled`, …); dialects map them.
//! Vendor details (call type, language, ticket, timestamps a vendor shows) live in `attrs`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::{DomainResult, TenantId};

/// Interaction kinds (`interactions.kind`).
pub mod kind {
    pub const CALL: &str = "call";
    pub const SMS: &str = "sms";
}

/// States in which an interaction is still live (not ended).
pub const ACTIVE_STATUSES: &[&str] = &["selecting", "queued", "assigned", "connecting", "connected", "switching"];

/// One interaction row.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Interaction {
    pub id: Uuid,
    pub seq: i64,
    #[serde(skip)]
    pub tenant_id: Uuid,
    pub kind: String,
    pub direction: String,
    pub status: String,
    pub agent_id: Option<Uuid>,
    pub menu_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub end_user_number: Option<String>,
    pub outbound_number: Option<String>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub attrs: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Columns of [`Interaction`].
pub const COLS: &str = "id, seq, tenant_id, kind, direction, status, agent_id, menu_id, campaign_id, contact_id, end_user_number, outbound_number, scheduled_at, ended_at, attrs, created_at, updated_at";

/// Fields of a new interaction.
#[derive(Debug, Clone, Default)]
pub struct NewInteraction {
    pub kind: String,
    /// outbound | inbound | scheduled
    pub direction: String,
    pub status: String,
    pub agent_id: Option<Uuid>,
    pub menu_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub end_user_number: Option<String>,
    pub outbound_number: Option<String>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub attrs: serde_json::Value,
}

/// Stores a new interaction.
pub async fn create<'e>(db: impl PgExecutor<'e>, tenant: TenantId, n: NewInteraction, now: DateTime<Utc>) -> DomainResult<Interaction> {
    let sql = format!(
        "INSERT INTO interactions (id, tenant_id, kind, direction, status, agent_id, menu_id, campaign_id, contact_id,
                                   end_user_number, outbound_number, scheduled_at, attrs, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING {COLS}"
    );
    let attrs = if n.attrs.is_null() { serde_json::json!({}) } else { n.attrs };
    Ok(sqlx::query_as::<_, Interaction>(sqlx::AssertSqlSafe(sql))
        .bind(Uuid::new_v4())
        .bind(tenant.0)
        .bind(&n.kind)
        .bind(&n.direction)
        .bind(&n.status)
        .bind(n.agent_id)
        .bind(n.menu_id)
        .bind(n.campaign_id)
        .bind(n.contact_id)
        .bind(&n.end_user_number)
        .bind(&n.outbound_number)
        .bind(n.scheduled_at)
        .bind(attrs)
        .bind(now)
        .fetch_one(db)
        .await?)
}

/// One interaction of the tenant by kind and integer id.
pub async fn get_by_seq<'e>(db: impl PgExecutor<'e>, tenant: TenantId, kind: &str, seq: i64) -> DomainResult<Option<Interaction>> {
    let sql = format!("SELECT {COLS} FROM interactions WHERE tenant_id = $1 AND kind = $2 AND seq = $3");
    Ok(sqlx::query_as::<_, Interaction>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(kind)
        .bind(seq)
        .fetch_optional(db)
        .await?)
}

/// A page of the tenant's interactions of `kind`, newest first.
pub async fn list_page<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    kind: &str,
    limit: i64,
    offset: i64,
) -> DomainResult<Vec<Interaction>> {
    let sql = format!("SELECT {COLS} FROM interactions WHERE tenant_id = $1 AND kind = $2 ORDER BY seq DESC LIMIT $3 OFFSET $4");
    Ok(sqlx::query_as::<_, Interaction>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(kind)
        .bind(limit)
        .bind(offset)
        .fetch_all(db)
        .await?)
}

/// How many interactions of `kind` the tenant has.
pub async fn count<'e>(db: impl PgExecutor<'e>, tenant: TenantId, kind: &str) -> DomainResult<i64> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM interactions WHERE tenant_id = $1 AND kind = $2")
            .bind(tenant.0)
            .bind(kind)
            .fetch_one(db)
            .await?,
    )
}

/// Whether the tenant has a live interaction of `kind` with `e164` created since `since`.
pub async fn has_active<'e>(db: impl PgExecutor<'e>, tenant: TenantId, kind: &str, e164: &str, since: DateTime<Utc>) -> DomainResult<bool> {
    Ok(sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM interactions
           WHERE tenant_id = $1 AND kind = $2 AND end_user_number = $3 AND status = ANY($4)
             AND ended_at IS NULL AND created_at >= $5)",
    )
    .bind(tenant.0)
    .bind(kind)
    .bind(e164)
    .bind(ACTIVE_STATUSES)
    .bind(since)
    .fetch_one(db)
    .await?)
}

/// For each (menu, kind), when the longest-waiting `queued` interaction created since
/// `since` started waiting.
pub async fn oldest_waiting<'e>(
    db: impl PgExecutor<'e>,
    tenant: TenantId,
    since: DateTime<Utc>,
) -> DomainResult<Vec<(Uuid, String, DateTime<Utc>)>> {
    Ok(sqlx::query_as::<_, (Uuid, String, DateTime<Utc>)>(
        "SELECT menu_id, kind, min(created_at) FROM interactions
          WHERE tenant_id = $1 AND status = 'queued' AND menu_id IS NOT NULL AND ended_at IS NULL
            AND created_at >= $2
          GROUP BY menu_id, kind",
    )
    .bind(tenant.0)
    .bind(since)
    .fetch_all(db)
    .await?)
}

/// The attr that holds an interaction's end-user id ([`end_user_id`]).
pub const ATTR_END_USER_ID: &str = "end_user_id";

/// The end user (consumer) id of a number, created on first use.
pub async fn end_user_id<'e>(db: impl PgExecutor<'e>, tenant: TenantId, e164: &str) -> DomainResult<i64> {
    Ok(sqlx::query_scalar::<_, i64>(
        "INSERT INTO apps_end_users (id, tenant_id, number) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, number) DO UPDATE SET number = EXCLUDED.number RETURNING seq",
    )
    .bind(Uuid::new_v4())
    .bind(tenant.0)
    .bind(e164)
    .fetch_one(db)
    .await?)
}

/// Stores a new interaction with its end user: the end user of `end_user_number` is
/// created on first use and its id kept in attrs ([`ATTR_END_USER_ID`]), in one transaction.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn create_for_end_user(
    db: &sqlx::PgPool,
    tenant: TenantId,
    mut n: NewInteraction,
    now: DateTime<Utc>,
) -> DomainResult<Interaction> {
    let mut tx = db.begin().await?;
    with_end_user(&mut tx, tenant, &mut n).await?;
    let row = create(&mut *tx, tenant, n, now).await?;
    tx.commit().await?;
    Ok(row)
}

async fn with_end_user(tx: &mut sqlx::PgConnection, tenant: TenantId, n: &mut NewInteraction) -> DomainResult<()> {
    let Some(number) = n.end_user_number.clone() else { return Ok(()) };
    let id = end_user_id(&mut *tx, tenant, &number).await?;
    if !n.attrs.is_object() {
        n.attrs = serde_json::json!({});
    }
    n.attrs[ATTR_END_USER_ID] = serde_json::json!(id);
    Ok(())
}

/// What [`start_session`] did.
#[derive(Debug, Clone)]
pub enum SessionStart {
    /// The session and its first message were stored.
    Started(Box<Interaction>),
    /// The end user already has a live session of that kind (nothing was stored).
    Busy,
}

/// Starts a messaging session with an end user (one live session per end user within
/// `window`): checks suppression of `end_user_number` on `channel` (→ `Suppressed`),
/// stores the interaction with its end user and the first message (`message`, built from
/// the stored interaction; its `status` is not used) as an attempt the engine delivers,
/// with its outbox row, in one transaction.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn start_session(
    db: &sqlx::PgPool,
    tenant: TenantId,
    channel: &str,
    window: chrono::Duration,
    mut n: NewInteraction,
    message: impl FnOnce(&Interaction) -> super::outbox::NewDelivery,
    now: DateTime<Utc>,
) -> DomainResult<SessionStart> {
    let number = n
        .end_user_number
        .clone()
        .ok_or_else(|| super::DomainError::validation("end_user_number", "is required"))?;
    if super::optlists::is_suppressed(db, tenant, &number, channel, now).await? {
        return Err(super::DomainError::Suppressed { number });
    }
    let mut tx = db.begin().await?;
    // Serialise sessions of one end user: a transaction-level advisory lock on the number.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1 || ':' || $2))")
        .bind(tenant.0.to_string())
        .bind(&number)
        .execute(&mut *tx)
        .await?;
    if has_active(&mut *tx, tenant, &n.kind, &number, now - window).await? {
        return Ok(SessionStart::Busy);
    }
    with_end_user(&mut tx, tenant, &mut n).await?;
    let row = create(&mut *tx, tenant, n, now).await?;
    // The first message is an attempt the engine delivers (outbox `sending`, then the
    // carrier's outcome): `interaction_attempts`.
    let delivery = message(&row);
    let single = super::interaction_attempts::NewSingle {
        interaction_id: row.id,
        channel: delivery.channel,
        to: delivery.to_address,
        from: delivery.from_address,
        body: delivery.body,
        start_at: now,
        attrs: delivery.attrs,
    };
    super::interaction_attempts::insert(&mut tx, tenant, &single, now).await?;
    tx.commit().await?;
    Ok(SessionStart::Started(Box::new(row)))
}

/// One page of the tenant's interactions of `kind`, ordered and windowed by `filter`, and
/// how many match in all.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn list_filtered(
    db: &sqlx::PgPool,
    tenant: TenantId,
    kind: &str,
    filter: &super::listing::ListFilter,
    limit: i64,
    offset: i64,
) -> DomainResult<(i64, Vec<Interaction>)> {
    let mut count = sqlx::QueryBuilder::<sqlx::Postgres>::new("SELECT count(*) FROM interactions WHERE tenant_id = ");
    count.push_bind(tenant.0).push(" AND kind = ").push_bind(kind);
    filter.push_conditions(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(db).await?;
    let mut rows = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!("SELECT {COLS} FROM interactions WHERE tenant_id = "));
    rows.push_bind(tenant.0).push(" AND kind = ").push_bind(kind);
    filter.push_conditions(&mut rows);
    filter.push_order(&mut rows);
    rows.push(" LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
    Ok((total, rows.build_query_as::<Interaction>().fetch_all(db).await?))
}

/// Shared statuses a call fixture may be created in: the live ones and the ended ones
/// ([`ENDED_CALL_STATUSES`]).
pub const CALL_FIXTURE_STATUSES: &[&str] = &[
    "selecting",
    "queued",
    "assigned",
    "connecting",
    "connected",
    "switching",
    "scheduled",
    "finished",
    "completed",
    "failed",
    "deflected",
    "recovered",
    "voicemail",
];

/// Statuses in which a call has ended (a call fixture in one gets `ended_at` = its creation).
pub const ENDED_CALL_STATUSES: &[&str] = &["finished", "completed", "failed", "deflected", "recovered", "voicemail"];

/// A call as an operator fixture describes it (nothing is dialled).
#[derive(Debug, Clone, Default)]
pub struct NewCallFixture {
    /// The end user's number (required unless `contact` gives one).
    pub to: Option<String>,
    /// The tenant number the call is from.
    pub from: Option<String>,
    /// `outbound` (default), `inbound` or `scheduled`.
    pub direction: Option<String>,
    /// One of [`CALL_FIXTURE_STATUSES`]; default `finished`.
    pub status: Option<String>,
    /// The tenant's campaign the call belongs to (default: the contact's).
    pub campaign: Option<Uuid>,
    /// The tenant's contact the call was made to.
    pub contact: Option<Uuid>,
}

/// Stores a call interaction as a fixture: validates the numbers (E.164), direction and
/// status, checks that the campaign and the contact are the tenant's (else
/// `NotFound("campaign")` / `NotFound("contact")`) and that the contact is on the campaign
/// when both are given, and stores the call with its end user in one transaction. A call
/// in an ended status gets `ended_at` = `now`.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn create_call_fixture(db: &sqlx::PgPool, tenant: TenantId, f: NewCallFixture, now: DateTime<Utc>) -> DomainResult<Interaction> {
    use super::phone::PhoneNumber;
    use super::DomainError;
    let direction = f.direction.unwrap_or_else(|| "outbound".into());
    if !["outbound", "inbound", "scheduled"].contains(&direction.as_str()) {
        return Err(DomainError::validation("direction", "must be outbound, inbound or scheduled"));
    }
    let status = f.status.unwrap_or_else(|| "finished".into());
    if !CALL_FIXTURE_STATUSES.contains(&status.as_str()) {
        return Err(DomainError::validation(
            "status",
            format!("must be one of {}", CALL_FIXTURE_STATUSES.join(", ")),
        ));
    }
    let number = |field: &'static str, s: &str| {
        PhoneNumber::parse(s)
            .map(|p| p.e164)
            .map_err(|e| DomainError::validation(field, e.to_string()))
    };
    let from = f.from.as_deref().map(|s| number("from", s)).transpose()?;
    let given_to = f.to.as_deref().map(|s| number("to", s)).transpose()?;
    let mut tx = db.begin().await?;
    let contact = match f.contact {
        Some(id) => Some(super::contacts::get(&mut *tx, tenant, id).await?),
        None => None,
    };
    let campaign = match (f.campaign, &contact) {
        (Some(id), c) => {
            let camp = super::campaigns::get(&mut *tx, tenant, id).await?;
            if c.as_ref().is_some_and(|c| c.campaign_id != camp.id) {
                return Err(DomainError::validation("contact", "is not on the campaign"));
            }
            Some(camp.id)
        }
        (None, Some(c)) => Some(c.campaign_id),
        (None, None) => None,
    };
    let to = match (given_to, contact.as_ref().and_then(|c| c.number.clone())) {
        (Some(to), _) => to,
        (None, Some(n)) => n,
        (None, None) => return Err(DomainError::validation("to", "is required")),
    };
    let mut n = NewInteraction {
        kind: kind::CALL.into(),
        direction,
        status,
        campaign_id: campaign,
        contact_id: contact.map(|c| c.id),
        end_user_number: Some(to),
        outbound_number: from,
        attrs: serde_json::json!({"fixture": true}),
        ..Default::default()
    };
    with_end_user(&mut tx, tenant, &mut n).await?;
    let ended = ENDED_CALL_STATUSES.contains(&n.status.as_str());
    let mut row = create(&mut *tx, tenant, n, now).await?;
    if ended {
        sqlx::query("UPDATE interactions SET ended_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(row.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        row.ended_at = Some(now);
    }
    tx.commit().await?;
    Ok(row)
}

/// Stores a call the engine places (an outbound call, a scheduled call): the interaction
/// (with its end user when `with_end_user`) and its attempt, undecided, starting at
/// `start_at` from the interaction's outbound number to its end user's number
/// (`interaction_attempts`), in one transaction.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn create_placed_call(
    db: &sqlx::PgPool,
    tenant: TenantId,
    mut n: NewInteraction,
    with_end_user_id: bool,
    start_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DomainResult<Interaction> {
    let to = n
        .end_user_number
        .clone()
        .ok_or_else(|| super::DomainError::validation("end_user_number", "is required"))?;
    let mut tx = db.begin().await?;
    if with_end_user_id {
        with_end_user(&mut tx, tenant, &mut n).await?;
    }
    let row = create(&mut *tx, tenant, n, now).await?;
    let single = super::interaction_attempts::NewSingle {
        interaction_id: row.id,
        channel: "voice".into(),
        to,
        from: row.outbound_number.clone(),
        body: None,
        start_at,
        attrs: serde_json::json!({"call_id": row.seq}),
    };
    super::interaction_attempts::insert(&mut tx, tenant, &single, now).await?;
    tx.commit().await?;
    Ok(row)
}

/// A call the engine places for a campaign's contact (an attempt on the voice channel of
/// a dialer campaign), shown as a call interaction.
#[derive(Debug, Clone)]
pub struct DialedCall {
    /// The interaction's id (the attempt refers to it).
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub contact_id: Uuid,
    /// The number dialled (E.164).
    pub to: String,
    /// The tenant number the call is made from.
    pub from: Option<String>,
}

/// Stores the calls of a batch of campaign attempts, in the engine's transaction, before
/// their attempts: outbound calls, `connecting` from `now` on, each with its end user
/// (created on first use). The engine keeps each in step with its attempt from then on
/// (`interaction_attempts::follow`): connected, then finished or failed with the
/// outcome, the seconds connected and the end. One statement for the batch.
pub async fn insert_dialed_calls(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    calls: &[DialedCall],
    now: DateTime<Utc>,
) -> DomainResult<()> {
    if calls.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = calls.iter().map(|c| c.id).collect();
    let campaigns: Vec<Uuid> = calls.iter().map(|c| c.campaign_id).collect();
    let contacts: Vec<Uuid> = calls.iter().map(|c| c.contact_id).collect();
    let tos: Vec<&str> = calls.iter().map(|c| c.to.as_str()).collect();
    let froms: Vec<Option<&str>> = calls.iter().map(|c| c.from.as_deref()).collect();
    sqlx::query(
        "WITH u AS (
           SELECT * FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[]) WITH ORDINALITY
             AS u(id, campaign_id, contact_id, number, outbound, i)),
         eu AS (
           INSERT INTO apps_end_users (id, tenant_id, number, created_at)
           SELECT gen_random_uuid(), $1, d.number, $7 FROM (SELECT DISTINCT number FROM u) d ORDER BY d.number
           ON CONFLICT (tenant_id, number) DO UPDATE SET number = EXCLUDED.number
           RETURNING number, seq)
         INSERT INTO interactions (id, tenant_id, kind, direction, status, campaign_id, contact_id, end_user_number,
                                   outbound_number, attrs, created_at, updated_at)
         SELECT u.id, $1, 'call', 'outbound', 'connecting', u.campaign_id, u.contact_id, u.number, u.outbound,
                jsonb_build_object('end_user_id', eu.seq), $7, $7
           FROM u JOIN eu ON eu.number = u.number ORDER BY u.i",
    )
    .bind(tenant.0)
    .bind(&ids)
    .bind(&campaigns)
    .bind(&contacts)
    .bind(&tos)
    .bind(&froms)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
