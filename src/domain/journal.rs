//! The request journal's storage: what each tenant's integration sent and got back.
//!
//! Records arrive already redacted (the HTTP layer, `controls::journal`, knows headers and
//! wire formats; the domain does not) and are written in batches by one writer task per
//! process ([`insert_batch`]). A record is written only while its tenant still has the
//! epoch the request saw, so a record of a request from before a tenant reset never lands
//! after the reset; records of deleted tenants are skipped. Retention ([`trim`]): the
//! tenants written to keep their newest `journal_limit` records (the tenant's setting,
//! else the default given), set-based.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::{DomainError, DomainResult, TenantId};

/// One request as the writer stores it (already redacted).
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub id: Uuid,
    pub tenant: TenantId,
    /// The tenant's epoch when the request was served.
    pub epoch: i64,
    /// On the tenant's clock.
    pub at: DateTime<Utc>,
    pub dialect: &'static str,
    /// The operation a request calls when its path does not say it (ONC SOAP), else the
    /// path's method name for ONC JSON; None for REST dialects.
    pub operation: Option<String>,
    pub method: String,
    pub path: String,
    pub route: Option<String>,
    pub query: Option<String>,
    pub request_id: Option<String>,
    /// A JSON object of header name → value.
    pub request_headers: serde_json::Value,
    pub request_body: Option<String>,
    pub request_body_size: i64,
    pub status: i32,
    pub response_headers: serde_json::Value,
    pub response_body: Option<String>,
    pub response_body_size: i64,
    pub duration_us: i64,
}

/// A journal entry as listed (without headers and bodies).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: Uuid,
    #[serde(skip)]
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub dialect: String,
    pub operation: Option<String>,
    pub method: String,
    pub path: String,
    pub route: Option<String>,
    pub query: Option<String>,
    pub status: i32,
    pub duration_ms: f64,
    pub request_id: Option<String>,
}

/// One journal entry with its headers and bodies.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    #[serde(flatten)]
    pub summary: Summary,
    pub request: Message,
    pub response: Message,
}

/// Headers and (possibly truncated) body of a request or response.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub headers: serde_json::Value,
    pub body: Option<String>,
    /// The body's full size in bytes (the stored body stops at 64 KiB).
    pub body_size: i64,
}

/// Which records a list, count or delete is about. `path` is a glob (`*` any run of
/// characters, `?` one) matched against the path and the operation.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub dialect: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<StatusMatch>,
    pub body_contains: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A status or a status class (`4xx` = 400..=499).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    Exact(i32),
    Class(i32),
}

/// A glob (`*`, `?`) as a LIKE pattern (with `\` as the escape character).
pub fn glob_to_like(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len() + 4);
    for c in glob.chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

enum Arg {
    Text(String),
    Int(i32),
    Big(i64),
    Time(DateTime<Utc>),
}

/// The WHERE clause of `f` (the tenant is `$1`), and its arguments (from `$2`).
fn where_clause(f: &Filter) -> (String, Vec<Arg>) {
    let mut sql = String::from("tenant_id = $1");
    let mut args: Vec<Arg> = Vec::new();
    let push = |cond: &str, a: Arg, args: &mut Vec<Arg>, sql: &mut String| {
        args.push(a);
        let n = args.len() + 1;
        sql.push_str(" AND ");
        sql.push_str(&cond.replace("$?", &format!("${n}")));
    };
    if let Some(d) = &f.dialect {
        push("dialect = $?", Arg::Text(d.clone()), &mut args, &mut sql);
    }
    if let Some(m) = &f.method {
        push("method = $?", Arg::Text(m.to_ascii_uppercase()), &mut args, &mut sql);
    }
    if let Some(p) = &f.path {
        push(
            "(path LIKE $? OR operation LIKE $?)",
            Arg::Text(glob_to_like(p)),
            &mut args,
            &mut sql,
        );
    }
    match f.status {
        Some(StatusMatch::Exact(s)) => push("status = $?", Arg::Int(s), &mut args, &mut sql),
        Some(StatusMatch::Class(c)) => push("status / 100 = $?", Arg::Int(c), &mut args, &mut sql),
        None => {}
    }
    if let Some(b) = &f.body_contains {
        push("strpos(request_body, $?) > 0", Arg::Text(b.clone()), &mut args, &mut sql);
    }
    if let Some(t) = f.since {
        push("at >= $?", Arg::Time(t), &mut args, &mut sql);
    }
    if let Some(t) = f.until {
        push("at <= $?", Arg::Time(t), &mut args, &mut sql);
    }
    (sql, args)
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    for a in args {
        q = match a {
            Arg::Text(s) => q.bind(s),
            Arg::Int(i) => q.bind(i),
            Arg::Big(i) => q.bind(i),
            Arg::Time(t) => q.bind(t),
        };
    }
    q
}

const SUMMARY_COLS: &str = "id, seq, at, dialect, operation, method, path, route, query, status, duration_us, request_id";

fn summary_from_row(r: &sqlx::postgres::PgRow) -> Result<Summary, sqlx::Error> {
    let us: i64 = r.try_get("duration_us")?;
    Ok(Summary {
        id: r.try_get("id")?,
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        dialect: r.try_get("dialect")?,
        operation: r.try_get("operation")?,
        method: r.try_get("method")?,
        path: r.try_get("path")?,
        route: r.try_get("route")?,
        query: r.try_get("query")?,
        status: r.try_get("status")?,
        duration_ms: us as f64 / 1000.0,
        request_id: r.try_get("request_id")?,
    })
}

/// The tenant's records matching `f`, newest first, at most `limit`, older than the
/// record `before` (a `seq`, the keyset cursor) when given.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn list(db: &PgPool, tenant: TenantId, f: &Filter, limit: i64, before: Option<i64>) -> DomainResult<Vec<Summary>> {
    let (mut cond, mut args) = where_clause(f);
    if let Some(b) = before {
        args.push(Arg::Big(b));
        cond.push_str(&format!(" AND seq < ${}", args.len() + 1));
    }
    args.push(Arg::Big(limit));
    let sql = format!(
        "SELECT {SUMMARY_COLS} FROM request_journal WHERE {cond} ORDER BY seq DESC LIMIT ${}",
        args.len() + 1
    );
    let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.0), args);
    let rows = q.fetch_all(db).await?;
    rows.iter().map(|r| summary_from_row(r).map_err(DomainError::from)).collect()
}

/// The number of the tenant's records matching `f`.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn count(db: &PgPool, tenant: TenantId, f: &Filter) -> DomainResult<i64> {
    let (cond, args) = where_clause(f);
    let sql = format!("SELECT count(*) FROM request_journal WHERE {cond}");
    let q = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.0), args);
    let row = q.fetch_one(db).await?;
    Ok(row.try_get::<i64, _>(0)?)
}

/// One of the tenant's records with headers and bodies; NotFound for another tenant's.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn get(db: &PgPool, tenant: TenantId, id: Uuid) -> DomainResult<Record> {
    let sql = format!(
        "SELECT {SUMMARY_COLS}, request_headers, request_body, request_body_size, response_headers, response_body,
                response_body_size
           FROM request_journal WHERE tenant_id = $1 AND id = $2"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(DomainError::NotFound("request"))?;
    Ok(Record {
        summary: summary_from_row(&row)?,
        request: Message {
            headers: row.try_get("request_headers")?,
            body: row.try_get("request_body")?,
            body_size: row.try_get("request_body_size")?,
        },
        response: Message {
            headers: row.try_get("response_headers")?,
            body: row.try_get("response_body")?,
            body_size: row.try_get("response_body_size")?,
        },
    })
}

/// Removes every record of the tenant; returns how many.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn clear(db: &PgPool, tenant: TenantId) -> DomainResult<u64> {
    Ok(sqlx::query("DELETE FROM request_journal WHERE tenant_id = $1")
        .bind(tenant.0)
        .execute(db)
        .await?
        .rows_affected())
}

/// Writes a batch of records of any tenants in one multi-row INSERT, skipping records
/// whose tenant is gone or was reset since. Returns the number of records written.
#[tracing::instrument(skip_all, fields(records = records.len()))]
pub async fn insert_batch(db: &PgPool, records: &[NewRecord]) -> DomainResult<u64> {
    if records.is_empty() {
        return Ok(0);
    }
    let mut ids = Vec::with_capacity(records.len());
    let mut tenants = Vec::with_capacity(records.len());
    let mut epochs = Vec::with_capacity(records.len());
    let mut ats = Vec::with_capacity(records.len());
    let mut dialects = Vec::with_capacity(records.len());
    let mut operations = Vec::with_capacity(records.len());
    let mut methods = Vec::with_capacity(records.len());
    let mut paths = Vec::with_capacity(records.len());
    let mut routes = Vec::with_capacity(records.len());
    let mut queries = Vec::with_capacity(records.len());
    let mut request_ids = Vec::with_capacity(records.len());
    let mut req_headers = Vec::with_capacity(records.len());
    let mut req_bodies = Vec::with_capacity(records.len());
    let mut req_sizes = Vec::with_capacity(records.len());
    let mut statuses = Vec::with_capacity(records.len());
    let mut resp_headers = Vec::with_capacity(records.len());
    let mut resp_bodies = Vec::with_capacity(records.len());
    let mut resp_sizes = Vec::with_capacity(records.len());
    let mut durations = Vec::with_capacity(records.len());
    for r in records {
        ids.push(r.id);
        tenants.push(r.tenant.0);
        epochs.push(r.epoch);
        ats.push(r.at);
        dialects.push(r.dialect.to_string());
        operations.push(r.operation.clone());
        methods.push(r.method.clone());
        paths.push(r.path.clone());
        routes.push(r.route.clone());
        queries.push(r.query.clone());
        request_ids.push(r.request_id.clone());
        req_headers.push(r.request_headers.to_string());
        req_bodies.push(r.request_body.clone());
        req_sizes.push(r.request_body_size);
        statuses.push(r.status);
        resp_headers.push(r.response_headers.to_string());
        resp_bodies.push(r.response_body.clone());
        resp_sizes.push(r.response_body_size);
        durations.push(r.duration_us);
    }
    let written = sqlx::query(
        "INSERT INTO request_journal (id, tenant_id, at, dialect, operation, method, path, route, query, request_id,
                request_headers, request_body, request_body_size, status, response_headers, response_body,
                response_body_size, duration_us)
         SELECT r.id, r.tenant_id, r.at, r.dialect, r.operation, r.method, r.path, r.route, r.query, r.request_id,
                r.request_headers::jsonb, r.request_body, r.request_body_size, r.status, r.response_headers::jsonb,
                r.response_body, r.response_body_size, r.duration_us
           FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::timestamptz[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[],
                       $15::int[], $16::text[], $17::text[], $18::bigint[], $19::bigint[])
                WITH ORDINALITY AS r(id, tenant_id, epoch, at, dialect, operation, method, path, route, query,
                       request_id, request_headers, request_body, request_body_size, status, response_headers,
                       response_body, response_body_size, duration_us, n)
           JOIN tenants t ON t.id = r.tenant_id AND t.epoch = r.epoch
          ORDER BY r.n",
    )
    .bind(&ids)
    .bind(&tenants)
    .bind(&epochs)
    .bind(&ats)
    .bind(&dialects)
    .bind(&operations)
    .bind(&methods)
    .bind(&paths)
    .bind(&routes)
    .bind(&queries)
    .bind(&request_ids)
    .bind(&req_headers)
    .bind(&req_bodies)
    .bind(&req_sizes)
    .bind(&statuses)
    .bind(&resp_headers)
    .bind(&resp_bodies)
    .bind(&resp_sizes)
    .bind(&durations)
    .execute(db)
    .await?
    .rows_affected();
    Ok(written)
}

/// Keeps the newest `journal_limit` records (`default_limit` when the tenant has no
/// setting) of each of `tenants`, in one set-based DELETE; returns how many went.
#[tracing::instrument(skip_all, fields(tenants = tenants.len()))]
pub async fn trim(db: &PgPool, tenants: &[TenantId], default_limit: i64) -> DomainResult<u64> {
    let ids: Vec<Uuid> = tenants.iter().map(|t| t.0).collect();
    Ok(sqlx::query(
        "DELETE FROM request_journal j
          USING (SELECT t.id AS tenant_id, c.seq AS cutoff
                   FROM tenants t
                   CROSS JOIN LATERAL (
                        SELECT r.seq FROM request_journal r WHERE r.tenant_id = t.id ORDER BY r.seq DESC
                        OFFSET GREATEST(COALESCE((t.settings->>'journal_limit')::bigint, $2), 0) LIMIT 1) c
                  WHERE t.id = ANY($1)) old
          WHERE j.tenant_id = old.tenant_id AND j.seq <= old.cutoff",
    )
    .bind(&ids)
    .bind(default_limit)
    .execute(db)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::glob_to_like;

    #[test]
    fn globs() {
        assert_eq!(glob_to_like("/api/v2/*/leads"), "/api/v2/%/leads");
        assert_eq!(glob_to_like("a_b%c?"), "a\\_b\\%c_");
    }
}
