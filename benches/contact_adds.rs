//! Benchmark: single dialer contact adds (`POST …/campaigns/{id}/contacts`, one contact per
//! request) from `ADDS_CLIENTS` concurrent clients (16) against a campaign pre-filled with
//! `ADDS_PREFILL` contacts (200,000, inserted with SQL), in `ADDS_ROUNDS` rounds (3) of
//! `ADDS_SECONDS` seconds (5). Prints adds/s per round: flat rounds mean an add costs the
//! same whatever the size of the campaign.
//!
//! Run: `cargo bench --bench contact_adds` (or `--profile dev` to reuse the debug build).
//! The test harness's database runs without fsync, so compare rounds, not absolute figures.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestApp;
use serde_json::json;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let (clients, prefill, rounds, secs) = (
        env("ADDS_CLIENTS", 16),
        env("ADDS_PREFILL", 200_000),
        env("ADDS_ROUNDS", 3),
        env("ADDS_SECONDS", 5),
    );
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let app = TestApp::spawn().await;
        let v = app.tenant("bench").await;
        let token = v["apps"]["token"].as_str().expect("token").to_string();
        let (s, _) = app
            .admin_post("/admin/v1/tenants/bench/phone-numbers", json!({"number": "+1 760-867-5309"}))
            .await;
        assert_eq!(s, 201);
        let (s, c) = app
            .admin_post(
                "/admin/v1/tenants/bench/campaigns",
                json!({"name": "Bench", "kind": "outbound_dialer"}),
            )
            .await;
        assert_eq!(s, 201);
        let campaign = c["ids"]["apps"].as_i64().expect("campaign id");
        let campaign_id = uuid::Uuid::parse_str(c["id"].as_str().expect("campaign uuid")).expect("uuid");
        let start = Instant::now();
        sqlx::query(
            "INSERT INTO contacts (id, tenant_id, campaign_id, number, unique_number, name, status, created_at, updated_at)
             SELECT gen_random_uuid(), k.tenant_id, k.id, '+1212' || lpad(g::text, 7, '0'), '+1212' || lpad(g::text, 7, '0'),
                    'Pre ' || g, 'pending', now(), now()
               FROM campaigns k, generate_series(1, $2::int) g WHERE k.id = $1",
        )
        .bind(campaign_id)
        .bind(prefill as i32)
        .execute(&app.db)
        .await
        .expect("prefill");
        println!("prefilled {prefill} contacts in {:.1} s", start.elapsed().as_secs_f64());
        let url = app.url(&format!("/apps/api/v1/outbound_dialer/campaigns/{campaign}/contacts"));
        for round in 0..rounds {
            let added = Arc::new(AtomicU64::new(0));
            let failed = Arc::new(AtomicU64::new(0));
            let until = Instant::now() + Duration::from_secs(secs);
            let mut tasks = Vec::new();
            for client in 0..clients {
                let (http, url, token) = (app.client.clone(), url.clone(), token.clone());
                let (added, failed) = (added.clone(), failed.clone());
                tasks.push(tokio::spawn(async move {
                    // distinct valid numbers: exchange by (round, client), line by request
                    let exchange = 220 + round * clients + client;
                    let mut n = 0u64;
                    while Instant::now() < until && n < 10_000 {
                        let body = json!({
                            "name": format!("Load {round}-{client}-{n}"),
                            "phone_number": format!("+1646{exchange:03}{n:04}"),
                            "outbound_number": "+1 760-867-5309",
                        });
                        n += 1;
                        let ok = match http.post(&url).basic_auth("bench", Some(&token)).json(&body).send().await {
                            Ok(r) if r.status().is_success() => r
                                .json::<serde_json::Value>()
                                .await
                                .map(|v| v["valid_contacts"].as_array().is_some_and(|a| a.len() == 1))
                                .unwrap_or(false),
                            _ => false,
                        };
                        if ok { &added } else { &failed }.fetch_add(1, Ordering::Relaxed);
                    }
                }));
            }
            let t0 = Instant::now();
            for t in tasks {
                t.await.expect("client");
            }
            let el = t0.elapsed().as_secs_f64();
            let a = added.load(Ordering::Relaxed);
            println!(
                "round {}: {:.0} adds/s ({a} added, {} failed, {clients} clients, {:.1} s)",
                round + 1,
                a as f64 / el,
                failed.load(Ordering::Relaxed),
                el
            );
        }
        app.stop().await;
    });
}
