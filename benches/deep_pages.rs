//! Benchmark: numbered pages of a large dialer campaign. Fills a campaign with `DEEP_N`
//! contacts (1,000,000, inserted with SQL, then VACUUM ANALYZE as autovacuum would), then
//! times `GET …/campaigns/{id}/contacts?page=P&per_page=100` through HTTP for page 1,
//! page 1,000, the middle page and the last page (median of `DEEP_REPEAT` = 15 requests
//! each, after one warm-up), and pages 1 and 1,000 as domain calls, new and former (`LIMIT … OFFSET`) query,
//! for comparison. Prints one line; the EXPLAIN ANALYZE of pages 1 and 1,000 go to stderr.
//!
//! Run: `cargo bench --bench deep_pages` (or `--profile dev` to reuse the debug build);
//! `DEEP_N=200000` for a smaller campaign.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use serde_json::json;
use switchboard::domain::{contact_pages, contacts, TenantId};

fn env(name: &str, default: i64) -> i64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let (n, repeat) = (env("DEEP_N", 1_000_000), env("DEEP_REPEAT", 15).max(1));
    let per_page = 100i64;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let app = TestApp::spawn().await;
        let v = app.tenant("bench").await;
        let token = v["apps"]["token"].as_str().expect("token").to_string();
        let (s, c) = app
            .admin_post(
                "/admin/v1/tenants/bench/campaigns",
                json!({"name": "Bench", "kind": "outbound_dialer"}),
            )
            .await;
        assert_eq!(s, 201);
        let campaign = c["ids"]["apps"].as_i64().expect("campaign id");
        let campaign_id = uuid::Uuid::parse_str(c["id"].as_str().expect("campaign uuid")).expect("uuid");
        let tenant = TenantId(
            sqlx::query_scalar("SELECT tenant_id FROM campaigns WHERE id = $1")
                .bind(campaign_id)
                .fetch_one(&app.db)
                .await
                .expect("tenant"),
        );
        let start = Instant::now();
        sqlx::query(
            "INSERT INTO contacts (id, tenant_id, campaign_id, number, unique_number, name, status, attrs, created_at, updated_at)
             SELECT gen_random_uuid(), k.tenant_id, k.id, '+1212' || lpad(g::text, 7, '0'), '+1212' || lpad(g::text, 7, '0'),
                    'Contact ' || g, 'pending', '{\"user_custom_metadata\": {\"segment\": \"gold\"}}', now(), now()
               FROM campaigns k, generate_series(1, $2::int) g WHERE k.id = $1",
        )
        .bind(campaign_id)
        .bind(n as i32)
        .execute(&app.db)
        .await
        .expect("fill");
        sqlx::query("VACUUM (ANALYZE) contacts").execute(&app.db).await.expect("vacuum");
        eprintln!("filled {n} contacts in {:.1} s", start.elapsed().as_secs_f64());

        let last = (n + per_page - 1) / per_page;
        let url = |page: i64| {
            app.url(&format!(
                "/apps/api/v1/outbound_dialer/campaigns/{campaign}/contacts?page={page}&per_page={per_page}"
            ))
        };
        let mut figures = Vec::new();
        for page in [1, 1000.min(last), (last / 2).max(1), last] {
            let mut times = Vec::new();
            let mut total = String::new();
            for k in 0..=repeat {
                let t0 = Instant::now();
                let r = app
                    .client
                    .get(url(page))
                    .basic_auth("bench", Some(&token))
                    .send()
                    .await
                    .expect("page");
                assert_eq!(r.status(), 200);
                total = r.headers().get("total").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let body: serde_json::Value = r.json().await.expect("json");
                let expect = per_page.min(n - (page - 1) * per_page) as usize;
                assert_eq!(body.as_array().map(Vec::len), Some(expect), "page {page}");
                if k > 0 {
                    times.push(t0.elapsed());
                }
            }
            assert_eq!(total, n.to_string(), "Total of page {page}");
            figures.push((page, median(times)));
        }
        // the same pages as domain calls (no HTTP), the new query and the former one
        // (LIMIT … OFFSET over the heap rows, plus the count)
        let mut domain = Vec::new();
        for page in [1, 1000.min(last)] {
            let (mut new, mut old) = (Vec::new(), Vec::new());
            for k in 0..=repeat {
                let t0 = Instant::now();
                let (rows, total) = contact_pages::page_counted(&app.db, tenant, campaign_id, per_page, (page - 1) * per_page)
                    .await
                    .expect("page");
                let t1 = Instant::now();
                let old_rows = contacts::list_page(&app.db, tenant, campaign_id, per_page, (page - 1) * per_page)
                    .await
                    .expect("old page");
                let old_total = contacts::count_in_campaign(&app.db, tenant, campaign_id).await.expect("count");
                assert_eq!((rows.len(), total), (old_rows.len(), old_total));
                assert_eq!(rows.first().map(|c| c.seq), old_rows.first().map(|c| c.seq));
                if k > 0 {
                    new.push(t1 - t0);
                    old.push(t1.elapsed());
                }
            }
            domain.push(format!("page {page} {:.1} ms (former {:.1} ms)", median(new), median(old)));
        }
        for page in [1, 1000.min(last)] {
            let plan = contact_pages::explain(&app.db, tenant, campaign_id, per_page, (page - 1) * per_page)
                .await
                .expect("explain");
            eprintln!("--- page {page}, per_page {per_page}:\n{plan}");
        }
        let shown: Vec<String> = figures.iter().map(|(p, ms)| format!("page {p} {ms:.1} ms")).collect();
        println!(
            "deep_pages: {n} contacts, per_page {per_page}, medians of {repeat}: HTTP {}; domain call with count {}",
            shown.join(", "),
            domain.join(", ")
        );
        app.stop().await;
    });
}
