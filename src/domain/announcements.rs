//! Announcements: what a voice campaign says (text to speech) or plays (an uploaded audio
//! file kept in [`super::blobs`]). Campaigns that use one name it in
//! `attrs.launch.announcement_id` (see [`super::campaign_launch`]).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor, PgPool};
use uuid::Uuid;

use super::{blobs, DomainError, DomainResult, TenantId};

/// Kinds of announcement.
pub mod kind {
    /// Text to speech.
    pub const SAY: &str = "say";
    /// An uploaded audio file.
    pub const PLAY: &str = "play";
}

/// An announcement row.
#[derive(Debug, Clone, FromRow)]
pub struct Announcement {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub kind: String,
    pub body: Option<String>,
    pub language: Option<String>,
    pub voice: Option<String>,
    pub blob_id: Option<Uuid>,
    pub file_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLS: &str = "id, name, description, kind, body, language, voice, blob_id, file_name, created_at, updated_at";

/// The say/play fields of a create or update (checked by the caller's vendor rules).
#[derive(Debug, Clone, Default)]
pub struct Content {
    pub kind: String,
    pub body: Option<String>,
    pub language: Option<String>,
    pub voice: Option<String>,
    /// Name the audio file is served under (play announcements).
    pub file_name: Option<String>,
}

/// A new announcement; `id` is chosen by the caller (its file name may derive from it).
#[derive(Debug, Clone)]
pub struct NewAnnouncement {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub content: Content,
    /// The account that made it.
    pub account: Option<String>,
}

/// Changes to an announcement: name and description only when given; the content always.
#[derive(Debug, Clone)]
pub struct AnnouncementUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub content: Content,
}

/// One announcement of the tenant.
pub async fn get<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid) -> DomainResult<Announcement> {
    let sql = format!("SELECT {COLS} FROM announcements WHERE tenant_id = $1 AND id = $2");
    sqlx::query_as::<_, Announcement>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("announcement"))
}

/// Creates an announcement.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn create(db: &PgPool, tenant: TenantId, a: NewAnnouncement, now: DateTime<Utc>) -> DomainResult<Announcement> {
    let sql = format!(
        "INSERT INTO announcements (id, tenant_id, name, description, kind, body, language, voice, file_name, account_sid, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING {COLS}"
    );
    Ok(sqlx::query_as::<_, Announcement>(sqlx::AssertSqlSafe(sql))
        .bind(a.id)
        .bind(tenant.0)
        .bind(&a.name)
        .bind(&a.description)
        .bind(&a.content.kind)
        .bind(&a.content.body)
        .bind(&a.content.language)
        .bind(&a.content.voice)
        .bind(&a.content.file_name)
        .bind(&a.account)
        .bind(now)
        .fetch_one(db)
        .await?)
}

/// Updates an announcement of the tenant.
#[tracing::instrument(skip_all, fields(tenant = %tenant, announcement = %id))]
pub async fn update(db: &PgPool, tenant: TenantId, id: Uuid, u: AnnouncementUpdate, now: DateTime<Utc>) -> DomainResult<Announcement> {
    let sql = format!(
        "UPDATE announcements SET name = COALESCE($3, name), description = COALESCE($4, description), kind = $5, body = $6,
                language = $7, voice = $8, file_name = $9, updated_at = $10
          WHERE tenant_id = $1 AND id = $2 RETURNING {COLS}"
    );
    sqlx::query_as::<_, Announcement>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .bind(&u.name)
        .bind(&u.description)
        .bind(&u.content.kind)
        .bind(&u.content.body)
        .bind(&u.content.language)
        .bind(&u.content.voice)
        .bind(&u.content.file_name)
        .bind(now)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("announcement"))
}

/// Keeps the announcement from being deleted until the end of `tx` (a campaign that
/// uses it is being created). NotFound when it is gone.
pub async fn hold(tx: &mut sqlx::PgConnection, tenant: TenantId, id: Uuid) -> DomainResult<()> {
    let still: Option<i32> = sqlx::query_scalar("SELECT 1 FROM announcements WHERE tenant_id = $1 AND id = $2 FOR SHARE")
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    still.map(|_| ()).ok_or(DomainError::NotFound("announcement"))
}

/// Deletes an announcement and its audio, in one transaction. `InvalidState` while a
/// campaign that has not finished (draft, scheduled, running, paused) uses it. Returns
/// the announcement as it was.
#[tracing::instrument(skip_all, fields(tenant = %tenant, announcement = %id))]
pub async fn delete(db: &PgPool, tenant: TenantId, id: Uuid) -> DomainResult<Announcement> {
    let mut tx = db.begin().await?;
    // Serialises with campaign creation, which holds this row FOR SHARE (see [`hold`]).
    let sql = format!("SELECT {COLS} FROM announcements WHERE tenant_id = $1 AND id = $2 FOR UPDATE");
    let a = sqlx::query_as::<_, Announcement>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(DomainError::NotFound("announcement"))?;
    let used: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM campaigns WHERE tenant_id = $1 AND deleted_at IS NULL
            AND attrs->'launch'->>'announcement_id' = $2 AND status IN ('draft', 'scheduled', 'running', 'paused'))",
    )
    .bind(tenant.0)
    .bind(id.to_string())
    .fetch_one(&mut *tx)
    .await?;
    if used {
        return Err(DomainError::InvalidState("the announcement is used by a campaign".into()));
    }
    sqlx::query("DELETE FROM announcements WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if let Some(b) = a.blob_id {
        blobs::delete(&mut *tx, tenant, b).await?;
    }
    tx.commit().await?;
    Ok(a)
}

/// Makes a stored blob the announcement's audio, served under `file_name`; the previous
/// audio is deleted in the same transaction.
#[tracing::instrument(skip_all, fields(tenant = %tenant, announcement = %id))]
pub async fn attach_audio(
    db: &PgPool,
    tenant: TenantId,
    id: Uuid,
    blob: Uuid,
    file_name: &str,
    now: DateTime<Utc>,
) -> DomainResult<Announcement> {
    let mut tx = db.begin().await?;
    let sql = format!("SELECT {COLS} FROM announcements WHERE tenant_id = $1 AND id = $2 FOR UPDATE");
    let old = sqlx::query_as::<_, Announcement>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(DomainError::NotFound("announcement"))?;
    let sql =
        format!("UPDATE announcements SET blob_id = $3, file_name = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2 RETURNING {COLS}");
    let updated = sqlx::query_as::<_, Announcement>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .bind(blob)
        .bind(file_name)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    if let Some(b) = old.blob_id.filter(|b| *b != blob) {
        blobs::delete(&mut *tx, tenant, b).await?;
    }
    tx.commit().await?;
    Ok(updated)
}

/// Sort orders of [`search`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Creation order.
    #[default]
    Created,
    /// By creation time (same as `Created`, with a direction).
    CreatedAt,
    /// By name, case-insensitive.
    Name,
}

/// Filters and page of [`search`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Name contains (case-insensitive).
    pub name_contains: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created at or before.
    pub to: Option<DateTime<Utc>>,
    /// Match nothing (e.g. another enterprise's announcements were asked for).
    pub none: bool,
    pub sort: Sort,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

/// A page of the tenant's announcements and the number matching the filter.
pub async fn search(db: &PgPool, tenant: TenantId, f: &Filter) -> DomainResult<(i64, Vec<Announcement>)> {
    let filters = |b: &mut sqlx::QueryBuilder<sqlx::Postgres>| {
        b.push(" WHERE tenant_id = ").push_bind(tenant.0);
        if f.none {
            b.push(" AND false");
        }
        if let Some(n) = &f.name_contains {
            b.push(" AND name ILIKE ").push_bind(like_pattern(n));
        }
        if let Some(from) = f.from {
            b.push(" AND created_at >= ").push_bind(from);
        }
        if let Some(to) = f.to {
            b.push(" AND created_at <= ").push_bind(to);
        }
    };
    let mut count = sqlx::QueryBuilder::new("SELECT count(*) FROM announcements");
    filters(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(db).await?;
    let mut b = sqlx::QueryBuilder::new(format!("SELECT {COLS} FROM announcements"));
    filters(&mut b);
    let dir = if f.descending { "DESC" } else { "ASC" };
    let order = match f.sort {
        Sort::Name => format!("lower(name) {dir}"),
        Sort::CreatedAt => format!("created_at {dir}"),
        Sort::Created => "seq ASC".into(),
    };
    b.push(format!(" ORDER BY {order}, seq LIMIT "))
        .push_bind(f.limit)
        .push(" OFFSET ")
        .push_bind(f.offset);
    let rows = b.build_query_as::<Announcement>().fetch_all(db).await?;
    Ok((total, rows))
}

/// `%text%` for ILIKE, with the pattern characters of `text` escaped.
fn like_pattern(text: &str) -> String {
    format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}
