//! Stored files, in chunks of at most [`CHUNK`] bytes, so no file needs to fit in memory.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use super::{DomainError, DomainResult, TenantId};

/// Size of one stored chunk.
pub const CHUNK: usize = 1024 * 1024;

/// A stored file's metadata.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Blob {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub size: i64,
}

/// Stores a stream of bytes as a blob of the tenant (one transaction: all or nothing).
/// Stops with a Validation error on `field` when more than `max` bytes arrive.
pub async fn store<S, E>(
    db: &PgPool,
    tenant: TenantId,
    filename: Option<&str>,
    content_type: Option<&str>,
    stream: S,
    max: usize,
) -> DomainResult<Blob>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut tx = db.begin().await?;
    let blob = store_in(&mut tx, tenant, filename, content_type, stream, max).await?;
    tx.commit().await?;
    Ok(blob)
}

/// [`store`] inside the caller's transaction, so that the blob and what refers to it
/// (e.g. the job that reads it) are committed together or not at all.
pub async fn store_in<S, E>(
    tx: &mut PgConnection,
    tenant: TenantId,
    filename: Option<&str>,
    content_type: Option<&str>,
    mut stream: S,
    max: usize,
) -> DomainResult<Blob>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO blobs (id, tenant_id, filename, content_type) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(tenant.0)
        .bind(filename)
        .bind(content_type)
        .execute(&mut *tx)
        .await?;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut n = 0i32;
    let mut size = 0usize;
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| DomainError::validation("file", format!("upload failed: {e}")))?;
        size += piece.len();
        if size > max {
            return Err(DomainError::validation("file", format!("file larger than {max} bytes")));
        }
        buf.extend_from_slice(&piece);
        while buf.len() >= CHUNK {
            let rest = buf.split_off(CHUNK);
            insert_chunk(&mut *tx, id, n, &buf).await?;
            n += 1;
            buf = rest;
        }
    }
    if !buf.is_empty() {
        insert_chunk(&mut *tx, id, n, &buf).await?;
    }
    sqlx::query("UPDATE blobs SET size = $2 WHERE id = $1")
        .bind(id)
        .bind(size as i64)
        .execute(&mut *tx)
        .await?;
    Ok(Blob {
        id,
        tenant_id: tenant.0,
        filename: filename.map(str::to_string),
        content_type: content_type.map(str::to_string),
        size: size as i64,
    })
}

async fn insert_chunk<'e>(db: impl PgExecutor<'e>, id: Uuid, n: i32, data: &[u8]) -> DomainResult<()> {
    sqlx::query("INSERT INTO blob_chunks (blob_id, n, data) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(n)
        .bind(data)
        .execute(db)
        .await?;
    Ok(())
}

/// Metadata of one blob of the tenant.
pub async fn get<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid) -> DomainResult<Blob> {
    sqlx::query_as::<_, Blob>("SELECT id, tenant_id, filename, content_type, size FROM blobs WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("file"))
}

/// Chunk `n` of a blob (None past the end).
pub async fn chunk<'e>(db: impl PgExecutor<'e>, id: Uuid, n: i32) -> DomainResult<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar::<_, Vec<u8>>("SELECT data FROM blob_chunks WHERE blob_id = $1 AND n = $2")
            .bind(id)
            .bind(n)
            .fetch_optional(db)
            .await?,
    )
}

/// The whole blob in memory (small files only: announcements, templates).
pub async fn read_all(db: &PgPool, tenant: TenantId, id: Uuid) -> DomainResult<Vec<u8>> {
    get(db, tenant, id).await?;
    let parts: Vec<Vec<u8>> = sqlx::query_scalar("SELECT data FROM blob_chunks WHERE blob_id = $1 ORDER BY n")
        .bind(id)
        .fetch_all(db)
        .await?;
    Ok(parts.concat())
}

/// A stream of a blob's chunks, fetched one at a time.
pub fn stream(db: PgPool, id: Uuid) -> impl Stream<Item = DomainResult<Vec<u8>>> {
    futures::stream::unfold(Some(0i32), move |n| {
        let db = db.clone();
        async move {
            let n = n?;
            match chunk(&db, id, n).await {
                Ok(Some(data)) => Some((Ok(data), Some(n + 1))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        }
    })
}

/// An upload to store: its name, type, bytes and the most bytes accepted.
pub struct Upload<'a, S> {
    pub filename: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub stream: S,
    pub max: usize,
}

/// Deletes a blob of the tenant and its chunks (no error when it is already gone). Runs
/// in the caller's transaction when given one, so the blob goes with what referred to it.
pub async fn delete<'e>(db: impl PgExecutor<'e>, tenant: TenantId, id: Uuid) -> DomainResult<()> {
    sqlx::query("DELETE FROM blobs WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}
