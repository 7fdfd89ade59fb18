//! CRM records: contact data a client stores against a call (any JSON object), found
//! again by a key that one of its fields holds.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{DomainResult, TenantId};

/// A stored record.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Record {
    pub seq: i64,
    pub data: Value,
}

/// The attr of an interaction that names the CRM record stored for it.
pub const ATTR_RECORD: &str = "crm_record_id";

/// Stores a record and, when `call` is one of the tenant's calls (its integer id), links
/// the call to it, in one transaction. Returns the record's integer id.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn record(db: &PgPool, tenant: TenantId, call_ref: Option<&str>, data: &Value, now: DateTime<Utc>) -> DomainResult<i64> {
    let mut tx = db.begin().await?;
    let seq: i64 =
        sqlx::query_scalar("INSERT INTO crm_records (id, tenant_id, call_ref, data, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING seq")
            .bind(Uuid::new_v4())
            .bind(tenant.0)
            .bind(call_ref)
            .bind(data)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
    if let Some(call) = call_ref.and_then(|c| c.parse::<i64>().ok()) {
        sqlx::query(
            "UPDATE interactions SET attrs = attrs || jsonb_build_object($5::text, $3::bigint), updated_at = $4
              WHERE tenant_id = $1 AND kind = 'call' AND seq = $2",
        )
        .bind(tenant.0)
        .bind(call)
        .bind(seq)
        .bind(now)
        .bind(ATTR_RECORD)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(seq)
}

/// The latest record whose call reference is `key`, or one of whose fields at `paths`
/// (dotted JSON paths such as `contact.id`) holds `key` as text.
pub async fn find(db: &PgPool, tenant: TenantId, key: &str, paths: &[&str]) -> DomainResult<Option<Record>> {
    Ok(sqlx::query_as::<_, Record>(
        "SELECT seq, data FROM crm_records r
          WHERE tenant_id = $1 AND (call_ref = $2
                OR EXISTS (SELECT 1 FROM unnest($3::text[]) AS p(path) WHERE r.data #>> string_to_array(p.path, '.') = $2))
          ORDER BY seq DESC LIMIT 1",
    )
    .bind(tenant.0)
    .bind(key)
    .bind(paths)
    .fetch_optional(db)
    .await?)
}
