//! Benchmark: a `RUN_N`-contact (100,000) SMS campaign completed by advancing the tenant
//! clock through the admin API. The contacts are inserted with SQL (the add path has its
//! own benchmarks); the campaign is scheduled, and one clock advance of a minute runs it:
//! every contact is claimed, attempted (`sending`) and, 2 s later, delivered or failed per
//! the simulated carrier's table. Prints attempts/s and the process's peak memory
//! (VmHWM from /proc/self/status; the server runs in this process).
//!
//! Run: `cargo bench --bench campaign_run` (`RUN_N=2000` for a quick check; `--profile
//! dev` reuses the debug build). The test harness's database runs without fsync.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::TestApp;
use serde_json::json;

fn vm_hwm_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let n: i64 = std::env::var("RUN_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let app = TestApp::spawn().await;
        app.tenant("bench").await;
        app.freeze_clock_at("bench", "2030-01-07T10:00:00Z").await;
        let (s, c) = app
            .admin_post(
                "/admin/v1/tenants/bench/campaigns",
                json!({"name": "Bench", "kind": "sms", "channel": "sms", "starts_at": "2030-01-07T10:00:00Z",
                       "attrs": {"from": "+17608675309", "body": "hello"}}),
            )
            .await;
        assert_eq!(s, 201, "{c}");
        let id = uuid::Uuid::parse_str(c["id"].as_str().expect("id")).expect("uuid");
        let start = Instant::now();
        sqlx::query(
            "INSERT INTO contacts (id, tenant_id, campaign_id, number, status, created_at, updated_at)
             SELECT gen_random_uuid(), k.tenant_id, k.id, '+1212' || lpad((1000000 + g)::text, 7, '0'), 'pending',
                    '2030-01-07T10:00:00Z', '2030-01-07T10:00:00Z'
               FROM campaigns k, generate_series(1, $2::int) g WHERE k.id = $1",
        )
        .bind(id)
        .bind(n as i32)
        .execute(&app.db)
        .await
        .expect("contacts");
        println!("inserted {n} contacts in {:.1} s", start.elapsed().as_secs_f64());
        app.campaign_events("bench", &id.to_string(), &["schedule"]).await;
        let start = Instant::now();
        app.clock("bench", json!({"advance_seconds": 60})).await;
        let secs = start.elapsed().as_secs_f64();
        let attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM attempts WHERE campaign_id = $1 AND state = 'done'")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .expect("count");
        let status: String = sqlx::query_scalar("SELECT status FROM campaigns WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .expect("status");
        assert_eq!(attempts, n, "every contact attempted once");
        println!(
            "{attempts} attempts in {secs:.1} s: {:.0} attempts/s; campaign {status}",
            attempts as f64 / secs
        );
        println!("peak memory (VmHWM): {} MiB", vm_hwm_kb().unwrap_or(0) / 1024);
    });
}
