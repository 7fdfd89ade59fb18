//! Tenant snapshots: one JSON document of all of a tenant's data, and its restore.
//!
//! The document (`"format": "switchboard-snapshot"`, `"version": 1`):
//!
//! ```json
//! {"format": "switchboard-snapshot", "version": 1, "exported_at": "…", "with_credentials": false,
//!  "tenant": {"id": "…", "slug": "acme", "name": "Acme", "settings": {…},
//!             "clock": {"offset_seconds": 0, "frozen_at": null}},
//!  "tables": {"agents": [{…row without tenant_id…}, …], "menus": […], …}}
//! ```
//!
//! Each row is the table row as `to_jsonb(row) - 'tenant_id'`, so the format follows the
//! schema; on restore, a row that lacks a NOT NULL column with a default (a snapshot of
//! before a migration added it) gets the default, and other missing columns are null. The table list is [`TABLES`], in insertion order (parents first): **a new tenant
//! table is one line there**. A listed table that does not exist in the schema yet is
//! left out of an export.
//!
//! Export streams: one read-only, repeatable-read transaction, rows fetched one by one and
//! sent in chunks of ~64 KiB through a bounded channel, so memory stays flat whatever the
//! tenant's size. Credentials (argon2 hashes) are only exported on request.
//!
//! Restore replaces the tenant's data in one transaction: the per-tenant reset (everything
//! but the tenant row and its credentials; epoch bumped, so sessions, access tokens and old
//! jobs end), the tenant's credentials too when the snapshot carries some, then every table
//! inserted with `jsonb_populate_recordset`. Ids are kept (uuid, and `seq` with
//! `OVERRIDING SYSTEM VALUE`), so every dialect's ids answer as before. When the ids cannot
//! be kept (the snapshot is of another tenant, or its rows clash with another tenant's),
//! every uuid of the snapshot (row ids and the tenant's id, also inside strings such as
//! SIDs, login keys and file names) gets a new one and `seq` values are generated anew in
//! the snapshot's order; integer ids kept inside JSON payloads are not rewritten then.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::channel::mpsc;
use futures::{SinkExt, Stream, TryStreamExt};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::tenants::{self, NewTenant, Provisioned, Provisioner};
use super::{credentials, sqlstate, sqlstate_of, tenant_ops, DomainError, DomainResult, TenantId};

/// The `format` of a snapshot document.
pub const FORMAT: &str = "switchboard-snapshot";
/// The version of the document this build writes and reads.
pub const VERSION: i64 = 1;

/// Which rows of a table belong to the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `tenant_id = $1`.
    Tenant,
    /// Rows of the tenant's blobs (`blob_id` of a blob of the tenant; no `tenant_id`).
    Blob,
    /// The credentials: exported only with `with_credentials`.
    Credentials,
}

/// One table of a snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub scope: Scope,
    /// `ORDER BY` of the export (and so of the insert); `None` → `seq` when the table has it.
    pub order: Option<&'static str>,
}

const fn t(name: &'static str) -> Table {
    Table {
        name,
        scope: Scope::Tenant,
        order: None,
    }
}

const fn ordered(name: &'static str, order: &'static str) -> Table {
    Table {
        name,
        scope: Scope::Tenant,
        order: Some(order),
    }
}

/// Every table of a snapshot, in insertion order (a table after those it refers to).
/// **A new tenant table is one line here.** Sessions (`auth_sessions`) are never part of
/// a snapshot.
pub const TABLES: &[Table] = &[
    Table {
        name: "credentials",
        scope: Scope::Credentials,
        order: Some("created_at, id"),
    },
    t("agents"),
    t("menus"),
    t("queues"),
    ordered("queue_agents", "queue_id, agent_id"),
    t("phone_numbers"),
    t("apps_org_items"),
    t("apps_end_users"),
    ordered("blobs", "created_at, id"),
    Table {
        name: "blob_chunks",
        scope: Scope::Blob,
        order: Some("blob_id, n"),
    },
    t("announcements"),
    t("campaigns"),
    t("contacts"),
    t("credit_ledger"),
    t("suppressions"),
    t("interactions"),
    t("attempts"),
    t("events"),
    t("crm_records"),
    t("deliveries"),
    t("jobs"),
    t("carrier_rules"),
    t("faults"),
    t("webhook_deliveries"),
];

fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

fn is_credentials(t: &Table) -> bool {
    t.scope == Scope::Credentials
}

/// A column of a table, from the catalog.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    identity: bool,
    /// The default of a NOT NULL column (SQL from the catalog): a row that lacks the
    /// column (a snapshot of before the column existed) gets it.
    fill: Option<String>,
}

/// The table's columns in order (empty when the table does not exist).
async fn columns(conn: &mut PgConnection, table: &str) -> Result<Vec<Column>, sqlx::Error> {
    let rows: Vec<(String, bool, Option<String>)> = sqlx::query_as(
        "SELECT column_name::text, is_identity = 'YES',
                CASE WHEN is_nullable = 'NO' AND is_identity = 'NO' THEN column_default::text END
           FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = $1 AND is_generated <> 'ALWAYS'
          ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, identity, fill)| Column { name, identity, fill })
        .collect())
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

// ---------------------------------------------------------------------------------------
// Export

/// What an export includes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// Include the credentials (argon2 hashes of the secrets).
    pub with_credentials: bool,
}

/// Bytes sent per chunk of the export stream.
const CHUNK: usize = 64 * 1024;

/// The tenant's snapshot document as a stream of byte chunks (see the module doc). The
/// work runs in its own task on its own connection; the stream ends early with an error
/// when a query fails, and the task stops when the stream is dropped.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub fn export(
    db: PgPool,
    tenant: TenantId,
    now: DateTime<Utc>,
    opts: ExportOptions,
) -> impl Stream<Item = DomainResult<Bytes>> + Send + 'static {
    let (mut tx, rx) = mpsc::channel::<DomainResult<Bytes>>(2);
    tokio::spawn(async move {
        let mut out = Sink {
            tx: tx.clone(),
            buf: String::with_capacity(CHUNK + 4096),
        };
        match write_document(&db, tenant, now, opts, &mut out).await {
            Ok(()) | Err(Stop::Gone) => {}
            Err(Stop::Failed(e)) => {
                tracing::error!(tenant = %tenant, error = %e, "snapshot export failed");
                let _ = tx.send(Err(e)).await;
            }
        }
    });
    rx
}

enum Stop {
    /// The reader went away.
    Gone,
    Failed(DomainError),
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        Stop::Failed(e.into())
    }
}

impl From<DomainError> for Stop {
    fn from(e: DomainError) -> Self {
        Stop::Failed(e)
    }
}

struct Sink {
    tx: mpsc::Sender<DomainResult<Bytes>>,
    buf: String,
}

impl Sink {
    async fn push(&mut self, s: &str) -> Result<(), Stop> {
        self.buf.push_str(s);
        if self.buf.len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Stop> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, String::with_capacity(CHUNK + 4096));
        self.tx.send(Ok(Bytes::from(chunk))).await.map_err(|_| Stop::Gone)
    }
}

async fn write_document(db: &PgPool, tenant: TenantId, now: DateTime<Utc>, opts: ExportOptions, out: &mut Sink) -> Result<(), Stop> {
    let mut tx = db.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let t = tenants::by_id(&mut *tx, tenant).await?;
    let head = json!({
        "format": FORMAT,
        "version": VERSION,
        "exported_at": now,
        "with_credentials": opts.with_credentials,
        "tenant": {
            "id": t.id.0,
            "slug": t.slug,
            "name": t.name,
            "settings": t.settings.0,
            "clock": {"offset_seconds": t.clock.offset_seconds, "frozen_at": t.clock.frozen_at},
            "created_at": t.created_at,
        },
    })
    .to_string();
    // `{…head…, "tables": {`
    out.push(&head[..head.len() - 1]).await?;
    out.push(",\"tables\":{").await?;
    let mut first_table = true;
    for spec in TABLES {
        if is_credentials(spec) && !opts.with_credentials {
            continue;
        }
        let cols = columns(&mut tx, spec.name).await?;
        if cols.is_empty() {
            continue;
        }
        let order = match spec.order {
            Some(o) => format!(" ORDER BY {o}"),
            None if cols.iter().any(|c| c.name == "seq") => " ORDER BY seq".to_string(),
            None => String::new(),
        };
        let filter = match spec.scope {
            Scope::Blob => "r.blob_id IN (SELECT id FROM blobs WHERE tenant_id = $1)",
            Scope::Tenant | Scope::Credentials => "r.tenant_id = $1",
        };
        let sql = format!(
            "SELECT (to_jsonb(r) - 'tenant_id')::text FROM {} r WHERE {filter}{order}",
            quoted(spec.name)
        );
        out.push(&format!("{}\"{}\":[", if first_table { "" } else { "," }, spec.name))
            .await?;
        first_table = false;
        let mut rows = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
            .bind(tenant.0)
            .fetch(&mut *tx);
        let mut first = true;
        while let Some(row) = rows.try_next().await? {
            out.push(if first { "\n" } else { ",\n" }).await?;
            out.push(&row).await?;
            first = false;
        }
        drop(rows);
        out.push("]").await?;
    }
    out.push("}}\n").await?;
    out.flush().await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The parsed document

/// The `tenant` part of a snapshot.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SnapshotTenant {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub settings: Option<Map<String, Value>>,
    #[serde(default)]
    pub clock: Option<SnapshotClock>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
}

/// The tenant clock of a snapshot.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct SnapshotClock {
    #[serde(default)]
    pub offset_seconds: i64,
    #[serde(default)]
    pub frozen_at: Option<DateTime<Utc>>,
}

/// A parsed snapshot: the tenant part, and each table's rows kept as compact JSON text
/// (one `Value` at a time is built while parsing, so memory is about the document's size).
#[derive(Debug, Default)]
pub struct Snapshot {
    pub tenant: SnapshotTenant,
    tables: Vec<(String, Rows)>,
}

#[derive(Debug, Default)]
struct Rows {
    texts: Vec<String>,
    ids: Vec<Uuid>,
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    format: Option<Value>,
    #[serde(default)]
    version: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    tables: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    tenant: SnapshotTenant,
    #[serde(default)]
    tables: Tables,
}

#[derive(Default)]
struct Tables(Vec<(String, Rows)>);

impl<'de> Deserialize<'de> for Tables {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tables;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of table name → array of rows")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Tables, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = m.next_key::<String>()? {
                    if table(&name).is_none() {
                        return Err(de::Error::custom(format!("tables.{name}: unknown table")));
                    }
                    let rows: Rows = m.next_value()?;
                    out.push((name, rows));
                }
                Ok(Tables(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Rows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Rows;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of row objects")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Rows, A::Error> {
                let mut out = Rows::default();
                while let Some(v) = s.next_element::<Value>()? {
                    let Value::Object(o) = &v else {
                        return Err(de::Error::custom("a row must be an object"));
                    };
                    if let Some(id) = o.get("id").and_then(Value::as_str).and_then(|s| Uuid::try_parse(s).ok()) {
                        out.ids.push(id);
                    }
                    out.texts.push(v.to_string());
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V)
    }
}

fn check_header(h: &Header) -> DomainResult<()> {
    if h.format.as_ref().and_then(Value::as_str) != Some(FORMAT) {
        return Err(DomainError::validation("format", format!("must be \"{FORMAT}\"")));
    }
    match h.version.as_ref().and_then(Value::as_i64) {
        Some(VERSION) => Ok(()),
        Some(v) => Err(DomainError::validation(
            "version",
            format!("snapshot version {v} is not supported (this server reads version {VERSION})"),
        )),
        None => Err(DomainError::validation("version", "missing or not an integer")),
    }
}

fn bad_document(e: serde_json::Error) -> DomainError {
    let msg = e.to_string();
    match msg.split_once(": ") {
        Some((field, rest)) if field.starts_with("tables.") => DomainError::validation(field, rest.to_string()),
        _ => DomainError::validation("snapshot", msg),
    }
}

impl Snapshot {
    /// Parses a document; a wrong `format` or `version` → a validation error on that field.
    pub fn from_slice(body: &[u8]) -> DomainResult<Snapshot> {
        let h: Header = serde_json::from_slice(body).map_err(bad_document)?;
        check_header(&h)?;
        let d: Document = serde_json::from_slice(body).map_err(bad_document)?;
        Ok(Snapshot {
            tenant: d.tenant,
            tables: d.tables.0,
        })
    }

    /// As [`Snapshot::from_slice`], from an already parsed value.
    pub fn from_value(v: Value) -> DomainResult<Snapshot> {
        let h = Header {
            format: v.get("format").cloned(),
            version: v.get("version").cloned(),
            tables: None,
        };
        check_header(&h)?;
        let d: Document = serde_json::from_value(v).map_err(bad_document)?;
        Ok(Snapshot {
            tenant: d.tenant,
            tables: d.tables.0,
        })
    }

    /// Whether the snapshot carries credentials.
    pub fn has_credentials(&self) -> bool {
        self.tables.iter().any(|(n, r)| n == "credentials" && !r.texts.is_empty())
    }

    fn rows(&self, name: &str) -> Option<&Rows> {
        self.tables.iter().find(|(n, _)| n == name).map(|(_, r)| r)
    }
}

// ---------------------------------------------------------------------------------------
// Restore

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The tenant's new epoch.
    pub epoch: i64,
    /// `kept` (every id as in the snapshot) or `remapped` (new ids, see the module doc).
    pub ids: &'static str,
    /// Rows inserted per table.
    pub rows: BTreeMap<String, u64>,
}

/// Replaces all the tenant's data with the snapshot's, in one transaction (see the module
/// doc). The tenant keeps its slug; its name, settings and clock become the snapshot's;
/// its credentials are replaced only when the snapshot carries some.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn restore(db: &PgPool, tenant: TenantId, snap: &Snapshot) -> DomainResult<RestoreReport> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut tx = db.begin().await?;
        let t = tenants::by_id(&mut *tx, tenant).await?;
        match restore_in(&mut tx, tenant, &t.slug, snap).await {
            Ok(report) => {
                tx.commit().await?;
                tracing::info!(tenant = %t.slug, ids = report.ids, "tenant restored from a snapshot");
                return Ok(report);
            }
            Err(DomainError::Conflict(m)) if attempt < 3 && m.contains("busy") => {
                let _ = tx.rollback().await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Creates the tenant `req.slug` from a snapshot, in one transaction. Its credentials are
/// the snapshot's when it carries some (then the answer shows none), else newly
/// provisioned as by [`tenants::create`] (and shown once in the answer). It gets the
/// snapshot's tenant id (and so every id of the snapshot) when that id is free.
#[tracing::instrument(skip_all, fields(tenant = %req.slug))]
pub async fn create_from(
    db: &PgPool,
    provisioners: &[&dyn Provisioner],
    mut req: NewTenant,
    snap: &Snapshot,
) -> DomainResult<(Provisioned, RestoreReport)> {
    if req.name.is_none() {
        req.name = snap.tenant.name.clone().filter(|n| !n.trim().is_empty());
    }
    let free: bool = match snap.tenant.id {
        Some(id) => {
            sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM tenants WHERE id = $1)")
                .bind(id)
                .fetch_one(db)
                .await?
        }
        None => false,
    };
    let id = snap.tenant.id.filter(|_| free).unwrap_or_else(Uuid::new_v4);
    let (summary, all) = tenants::plan(provisioners, id, &req)?;
    // The same tenant coming back (its id is free) keeps its creation time too.
    let created_at = snap.tenant.created_at.filter(|_| free);
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO tenants (id, slug, name, created_at) VALUES ($1, $2, $3, COALESCE($4, now()))")
        .bind(id)
        .bind(&summary.slug)
        .bind(&summary.name)
        .bind(created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.constraint() == Some("tenants_slug_key") => {
                DomainError::Conflict(format!("tenant {} already exists", req.slug))
            }
            sqlx::Error::Database(d) if d.constraint() == Some("tenants_pkey") => {
                DomainError::Conflict("the snapshot's tenant was just created by another request".into())
            }
            _ => DomainError::from(e),
        })?;
    let tenant = TenantId(id);
    let provisioned = if snap.has_credentials() {
        Vec::new()
    } else {
        for p in &all {
            credentials::insert(&mut *tx, tenant, p.credential.clone())
                .await
                .map_err(|e| match e {
                    DomainError::Conflict(m) => DomainError::validation(p.conflict_field, m),
                    other => other,
                })?;
        }
        all
    };
    let report = restore_in(&mut tx, tenant, &summary.slug, snap).await?;
    // The name asked for (else the snapshot's, see above) wins over the restored one.
    sqlx::query("UPDATE tenants SET name = $2 WHERE id = $1")
        .bind(id)
        .bind(&summary.name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(tenant = %summary.slug, ids = report.ids, "tenant created from a snapshot");
    let answer = if provisioned.is_empty() {
        Provisioned {
            tenant: summary,
            credentials: Map::new(),
        }
    } else {
        tenants::answer(provisioners, summary, &provisioned)
    };
    Ok((answer, report))
}

/// Rows per `INSERT … SELECT … FROM jsonb_populate_recordset`.
const INSERT_BATCH: usize = 2000;

async fn restore_in(tx: &mut PgConnection, tenant: TenantId, slug: &str, snap: &Snapshot) -> DomainResult<RestoreReport> {
    // Check the tables against the schema before touching anything.
    let mut plan = Vec::new();
    for spec in TABLES {
        let Some(rows) = snap.rows(spec.name) else { continue };
        let cols = columns(tx, spec.name).await?;
        if cols.is_empty() {
            return Err(DomainError::validation(
                format!("tables.{}", spec.name),
                "this server has no such table",
            ));
        }
        plan.push((spec, rows, cols));
    }

    let reset = tenant_ops::reset_in_tx(tx, tenant, false).await?;
    if snap.has_credentials() {
        sqlx::query("DELETE FROM credentials WHERE tenant_id = $1")
            .bind(tenant.0)
            .execute(&mut *tx)
            .await?;
    }

    let same_tenant = snap.tenant.id == Some(tenant.0);
    let old_slug = snap.tenant.slug.clone().unwrap_or_else(|| slug.to_string());
    let mut ids = "kept";
    let mut rows = None;
    if same_tenant {
        sqlx::query("SAVEPOINT snapshot_keep").execute(&mut *tx).await?;
        match insert_all(tx, tenant, &plan, None, &old_slug, slug).await {
            Ok(r) => {
                sqlx::query("RELEASE SAVEPOINT snapshot_keep").execute(&mut *tx).await?;
                rows = Some(r);
            }
            Err(e) if sqlstate_of(&e).as_deref() == Some(sqlstate::UNIQUE_VIOLATION) => {
                tracing::info!(tenant = %tenant, error = %e, "snapshot ids clash with another tenant's; remapping them");
                sqlx::query("ROLLBACK TO SAVEPOINT snapshot_keep").execute(&mut *tx).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let rows = match rows {
        Some(r) => r,
        None => {
            ids = "remapped";
            let map = id_map(snap, tenant);
            insert_all(tx, tenant, &plan, Some(&map), &old_slug, slug)
                .await
                .map_err(|e| match sqlstate_of(&e).as_deref() {
                    Some(sqlstate::UNIQUE_VIOLATION) => DomainError::Conflict(format!(
                        "the snapshot clashes with another tenant's data ({})",
                        match &e {
                            sqlx::Error::Database(d) => d.constraint().unwrap_or("unique key").to_string(),
                            _ => "unique key".to_string(),
                        }
                    )),
                    _ => e.into(),
                })?
        }
    };

    // The tenant: name, settings and clock of the snapshot.
    let st = &snap.tenant;
    let clock = st.clock.unwrap_or_default();
    sqlx::query(
        "UPDATE tenants SET name = COALESCE($2, name), settings = COALESCE($3, settings),
                clock_offset_seconds = $4, clock_frozen_at = $5, updated_at = now()
          WHERE id = $1",
    )
    .bind(tenant.0)
    .bind(st.name.as_deref().filter(|n| !n.trim().is_empty()))
    .bind(st.settings.clone().map(Value::Object))
    .bind(clock.offset_seconds)
    .bind(clock.frozen_at)
    .execute(&mut *tx)
    .await?;
    // Jobs of the snapshot belong to the new epoch; a job that was running starts over.
    sqlx::query(
        "UPDATE jobs SET epoch = $2, locked_by = NULL, locked_until = NULL,
                status = CASE status WHEN 'running' THEN 'queued' ELSE status END
          WHERE tenant_id = $1",
    )
    .bind(tenant.0)
    .bind(reset.epoch)
    .execute(&mut *tx)
    .await?;
    Ok(RestoreReport {
        epoch: reset.epoch,
        ids,
        rows,
    })
}

/// Old → new uuid for every row id of the snapshot and for its tenant id.
fn id_map(snap: &Snapshot, tenant: TenantId) -> HashMap<Uuid, Uuid> {
    let mut map: HashMap<Uuid, Uuid> = snap
        .tables
        .iter()
        .flat_map(|(_, r)| r.ids.iter())
        .map(|id| (*id, Uuid::new_v4()))
        .collect();
    if let Some(old) = snap.tenant.id {
        map.insert(old, tenant.0);
    }
    map
}

async fn insert_all(
    tx: &mut PgConnection,
    tenant: TenantId,
    plan: &[(&Table, &Rows, Vec<Column>)],
    remap: Option<&HashMap<Uuid, Uuid>>,
    old_slug: &str,
    new_slug: &str,
) -> Result<BTreeMap<String, u64>, sqlx::Error> {
    let mut counts = BTreeMap::new();
    for (spec, rows, cols) in plan {
        let keep_identity = remap.is_none();
        let used: Vec<&Column> = cols.iter().filter(|c| keep_identity || !c.identity).collect();
        let names = used.iter().map(|c| quoted(&c.name)).collect::<Vec<_>>().join(", ");
        let values = used
            .iter()
            .map(|c| match &c.fill {
                _ if c.name == "tenant_id" => "$2::uuid".to_string(),
                Some(default) => format!("COALESCE(r.{}, {default})", quoted(&c.name)),
                None => format!("r.{}", quoted(&c.name)),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let overriding = if used.iter().any(|c| c.identity) {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        };
        let sql = format!(
            "INSERT INTO {t} ({names}){overriding}
             SELECT {values} FROM jsonb_populate_recordset(NULL::{t}, $1::jsonb) WITH ORDINALITY AS r ORDER BY r.ordinality",
            t = quoted(spec.name)
        );
        let mut n = 0u64;
        for chunk in rows.texts.chunks(INSERT_BATCH) {
            let body = if remap.is_some() || (is_credentials(spec) && old_slug != new_slug) {
                let mut parts = Vec::with_capacity(chunk.len());
                for text in chunk {
                    let mut v: Value = serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                    if let Some(map) = remap {
                        remap_value(&mut v, map);
                    }
                    if is_credentials(spec) && old_slug != new_slug {
                        rekey_credential(&mut v, old_slug, new_slug);
                    }
                    parts.push(v.to_string());
                }
                format!("[{}]", parts.join(","))
            } else {
                format!("[{}]", chunk.join(","))
            };
            n += sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(body)
                .bind(tenant.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        if keep_identity {
            if let Some(c) = used.iter().find(|c| c.identity) {
                // Keep the identity ahead of the values just inserted.
                let sql = format!(
                    "SELECT setval(s.seq, m.v) FROM (SELECT pg_get_serial_sequence($1, $2)::regclass AS seq) s,
                            (SELECT max({col}) AS v FROM {t}) m
                      WHERE m.v IS NOT NULL AND m.v > COALESCE(pg_sequence_last_value(s.seq), 0)",
                    col = quoted(&c.name),
                    t = quoted(spec.name)
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(quoted(spec.name))
                    .bind(&c.name)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        counts.insert(spec.name.to_string(), n);
    }
    Ok(counts)
}

/// A credential's login key names the tenant's slug in some dialects (`<slug>` or
/// `<slug>/<user>`): move it to the new slug.
fn rekey_credential(v: &mut Value, old: &str, new: &str) {
    let Some(Value::String(k)) = v.get_mut("login_key") else { return };
    if k == old {
        *k = new.to_string();
    } else if let Some(rest) = k.strip_prefix(&format!("{old}/")) {
        *k = format!("{new}/{rest}");
    }
}

/// Rewrites every uuid of `map` found in the strings of `v`: hyphenated, or 32 hex at the
/// end of a hex run (SIDs such as `EC…`, `AC…`, `AN…_123.wav`).
fn remap_value(v: &mut Value, map: &HashMap<Uuid, Uuid>) {
    match v {
        Value::String(s) => {
            if let Some(new) = remap_str(s, map) {
                *s = new;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| remap_value(x, map)),
        Value::Object(o) => o.values_mut().for_each(|x| remap_value(x, map)),
        _ => {}
    }
}

fn remap_str(s: &str, map: &HashMap<Uuid, Uuid>) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 32 {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_hexdigit() || b[i] == b'-') {
            let start = i;
            while i < b.len() && !(b[i].is_ascii_hexdigit() || b[i] == b'-') {
                i += 1;
            }
            out.push_str(&s[start..i]);
            continue;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b'-') {
            i += 1;
        }
        let run = &s[start..i];
        out.push_str(&remap_run(run, map, &mut changed));
    }
    changed.then_some(out)
}

/// One run of hex digits and hyphens: its hyphenated uuid, or its trailing 32 hex.
fn remap_run(run: &str, map: &HashMap<Uuid, Uuid>, changed: &mut bool) -> String {
    if run.len() >= 36 {
        let (head, tail) = run.split_at(run.len() - 36);
        if tail.as_bytes()[8] == b'-' {
            if let Some(new) = Uuid::try_parse(tail).ok().and_then(|u| map.get(&u)) {
                *changed = true;
                return format!("{head}{}", new.hyphenated());
            }
        }
    }
    if run.len() >= 32 {
        let (head, tail) = run.split_at(run.len() - 32);
        if tail.bytes().all(|c| c.is_ascii_hexdigit()) {
            if let Some(new) = Uuid::try_parse(tail).ok().and_then(|u| map.get(&u)) {
                *changed = true;
                let hex = new.simple().to_string();
                let hex = if tail.bytes().any(|c| c.is_ascii_uppercase()) {
                    hex.to_uppercase()
                } else {
                    hex
                };
                return format!("{head}{hex}");
            }
        }
    }
    run.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaps_uuids_inside_strings() {
        let old = Uuid::new_v4();
        let new = Uuid::new_v4();
        let map = HashMap::from([(old, new)]);
        let mut v = json!({
            "id": old.to_string(),
            "sid": format!("EC{}", old.simple()),
            "file": format!("AN{}_1700000000000.wav", old.simple()),
            "login": format!("{old}/admin"),
            "enc": format!("ENC{}", old.simple()),
            "other": Uuid::new_v4().to_string(),
            "n": 3,
            "list": [old.to_string()],
        });
        let other = v["other"].clone();
        remap_value(&mut v, &map);
        assert_eq!(v["id"], json!(new.to_string()));
        assert_eq!(v["sid"], json!(format!("EC{}", new.simple())));
        assert_eq!(v["file"], json!(format!("AN{}_1700000000000.wav", new.simple())));
        assert_eq!(v["login"], json!(format!("{new}/admin")));
        assert_eq!(v["enc"], json!(format!("ENC{}", new.simple())));
        assert_eq!(v["other"], other);
        assert_eq!(v["list"][0], json!(new.to_string()));
    }

    #[test]
    fn header_checks() {
        let ok = Snapshot::from_slice(
            br#"{"format":"switchboard-snapshot","version":1,"tables":{"agents":[{"id":"00000000-0000-0000-0000-000000000001"}]}}"#,
        )
        .unwrap();
        assert_eq!(ok.rows("agents").map(|r| r.ids.len()), Some(1));
        let v2 = Snapshot::from_slice(br#"{"format":"switchboard-snapshot","version":2,"tables":{"x":1}}"#).unwrap_err();
        assert!(matches!(v2, DomainError::Validation { ref field, .. } if field == "version"));
        let bad = Snapshot::from_slice(br#"{"format":"switchboard-snapshot","version":1,"tables":{"nope":[]}}"#).unwrap_err();
        assert!(
            matches!(bad, DomainError::Validation { ref field, .. } if field == "tables.nope"),
            "{bad:?}"
        );
        let mut cred = json!({"login_key": "acme/admin"});
        rekey_credential(&mut cred, "acme", "beta");
        assert_eq!(cred["login_key"], "beta/admin");
    }
}
