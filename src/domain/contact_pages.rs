//! Numbered pages of a campaign's contacts (the outbound dialer's `page`/`per_page` with
//! its `Total` and `Link` headers) that cost the same on page 1,000 as on page 1.
//!
//! A page by number needs the rows before it skipped. `ORDER BY seq LIMIT n OFFSET k`
//! fetches and throws away k whole heap rows; here the skip runs on the index
//! `contacts_campaign (tenant_id, campaign_id, seq)` alone (an index-only scan: no heap
//! row is read for a skipped contact, once the visibility map covers the table, which
//! autovacuum keeps up), and only the page's own rows are read from the heap, by `seq`
//! (a deferred join). A page past the middle of the campaign skips from the end instead
//! (`ORDER BY seq DESC` with the offset counted from the last contact), so the last pages
//! are as cheap as the first. The count (`Total`) is the same index-only scan, and page
//! and count come from one snapshot (a read-only REPEATABLE READ transaction), so they
//! always agree.
//!
//! Measured on a campaign of 1,000,000 contacts (`cargo bench --bench deep_pages`, dev
//! profile, PostgreSQL 15, shared 2-core machine at load ~7, after VACUUM ANALYZE),
//! `per_page=100`, EXPLAIN (ANALYZE, COSTS OFF), ids elided:
//!
//! ```text
//! page 1 (offset 0):
//! Sort (actual time=0.265..0.270 rows=100 loops=1)
//!   ->  Nested Loop (actual time=0.076..0.224 rows=100 loops=1)
//!         ->  HashAggregate (actual time=0.067..0.077 rows=100 loops=1)
//!               ->  Limit (actual time=0.016..0.030 rows=100 loops=1)
//!                     ->  Index Only Scan using contacts_campaign on contacts (actual time=0.015..0.023 rows=100 loops=1)
//!                           Index Cond: ((tenant_id = …) AND (campaign_id = …))
//!                           Heap Fetches: 0
//!         ->  Index Scan using contacts_seq_key on contacts c (actual time=0.001..0.001 rows=1 loops=100)
//!               Index Cond: (seq = contacts.seq)
//! Execution Time: 0.310 ms
//!
//! page 1,000 (offset 99,900): the same plan
//!                     ->  Index Only Scan using contacts_campaign on contacts (actual time=0.014..34.927 rows=100000 loops=1)
//!                           Heap Fetches: 0
//!         ->  Index Scan using contacts_seq_key on contacts c (actual time=0.001..0.001 rows=1 loops=100)
//! Execution Time: 38.366 ms
//!
//! Total (both pages):
//! Finalize Aggregate (actual time=251.659..274.648 rows=1 loops=1)
//!   ->  Gather (Workers Launched: 2)
//!         ->  Parallel Index Only Scan using contacts_campaign on contacts (actual time=0.039..186.641 rows=333333 loops=3)
//!               Heap Fetches: 0
//! Execution Time: 274.686 ms
//! ```
//!
//! So a page costs the count (one index-only pass over the campaign's entries, the same on
//! every page) plus a skip over at most half of them, never a heap row it does not show:
//! page 1,000 costs about 1.1–1.4 × page 1, and the last page what page 1 costs (read
//! backward). A cached count would take the count's part away, at the price of a counter
//! row that every add to the campaign would update (the adds must not serialise).
//!
//! The figures of the bench are in the README ("Benchmarks").

use sqlx::PgPool;
use uuid::Uuid;

use super::contacts::{Contact, COLS};
use super::{DomainResult, TenantId};

/// The rows to read: `limit` rows from `offset` of `total`, seen from the nearer end.
/// `(descending, limit, offset)`, or None when the page is past the end.
pub fn window(total: i64, limit: i64, offset: i64) -> Option<(bool, i64, i64)> {
    let (offset, limit) = (offset.max(0), limit.max(0));
    if offset >= total || limit == 0 {
        return None;
    }
    let end = offset.saturating_add(limit).min(total);
    let n = end - offset;
    let from_end = total - end;
    Some(if from_end < offset {
        (true, n, from_end)
    } else {
        (false, n, offset)
    })
}

/// Keeps the planner off the paths that read every heap row of the campaign (a
/// sequential or bitmap heap scan): a campaign that holds most of the table looks
/// unselective to it. Left: the index-only scan on `contacts_campaign`, or the `seq` index
/// when the heap is in `seq` order anyway.
const INDEX_ONLY_SQL: &str = "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)";

/// The SQL of a page: the seqs by an index-only scan, then their rows.
fn page_sql(descending: bool) -> String {
    let cols = COLS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
    let dir = if descending { "DESC" } else { "ASC" };
    format!(
        "SELECT {cols} FROM contacts c
          WHERE c.tenant_id = $1 AND c.seq IN (SELECT seq FROM contacts WHERE tenant_id = $1 AND campaign_id = $2
                                                ORDER BY seq {dir} LIMIT $3 OFFSET $4)
          ORDER BY c.seq"
    )
}

/// A page of a campaign's contacts in creation order (`limit` from `offset`) and the
/// campaign's number of contacts, from one snapshot (see the module doc).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn page_counted(db: &PgPool, tenant: TenantId, campaign: Uuid, limit: i64, offset: i64) -> DomainResult<(Vec<Contact>, i64)> {
    let mut tx = db.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    sqlx::query(INDEX_ONLY_SQL).execute(&mut *tx).await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE tenant_id = $1 AND campaign_id = $2")
        .bind(tenant.0)
        .bind(campaign)
        .fetch_one(&mut *tx)
        .await?;
    let rows = match window(total, limit, offset) {
        None => Vec::new(),
        Some((descending, n, skip)) => {
            sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(page_sql(descending)))
                .bind(tenant.0)
                .bind(campaign)
                .bind(n)
                .bind(skip)
                .fetch_all(&mut *tx)
                .await?
        }
    };
    tx.commit().await?;
    Ok((rows, total))
}

/// The EXPLAIN ANALYZE of a page and of the count (benchmarks, the module doc).
pub async fn explain(db: &PgPool, tenant: TenantId, campaign: Uuid, limit: i64, offset: i64) -> DomainResult<String> {
    use sqlx::Row;
    let mut out = String::new();
    let mut tx = db.begin().await?;
    sqlx::query(INDEX_ONLY_SQL).execute(&mut *tx).await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE tenant_id = $1 AND campaign_id = $2")
        .bind(tenant.0)
        .bind(campaign)
        .fetch_one(&mut *tx)
        .await?;
    let (descending, n, skip) = window(total, limit, offset).unwrap_or((false, limit, offset));
    let sql = format!("EXPLAIN (ANALYZE, COSTS OFF) {}", page_sql(descending));
    for r in sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(campaign)
        .bind(n)
        .bind(skip)
        .fetch_all(&mut *tx)
        .await?
    {
        out.push_str(&r.try_get::<String, _>(0)?);
        out.push('\n');
    }
    let sql = "EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM contacts WHERE tenant_id = $1 AND campaign_id = $2";
    for r in sqlx::query(sql).bind(tenant.0).bind(campaign).fetch_all(&mut *tx).await? {
        out.push_str(&r.try_get::<String, _>(0)?);
        out.push('\n');
    }
    tx.rollback().await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn pages_are_read_from_the_nearer_end() {
        assert_eq!(window(1_000_000, 100, 0), Some((false, 100, 0)));
        assert_eq!(window(1_000_000, 100, 99_900), Some((false, 100, 99_900)));
        assert_eq!(window(1_000_000, 100, 999_900), Some((true, 100, 0)));
        assert_eq!(window(1_000_000, 1000, 999_000), Some((true, 1000, 0)));
        assert_eq!(window(1_000_000, 100, 600_000), Some((true, 100, 399_900)));
        // a short last page
        assert_eq!(window(250, 100, 200), Some((true, 50, 0)));
        assert_eq!(window(250, 100, 300), None);
        assert_eq!(window(0, 100, 0), None);
        assert_eq!(window(10, 100, 0), Some((false, 10, 0)));
    }
}
