//! Benchmark: import 1,000,000 contacts through HTTP (`POST …/contacts/import`, the file
//! generated on the fly and streamed, never held in memory) into a fresh test database,
//! wait for the import job, and report contacts/second and the process's peak memory
//! (VmHWM from /proc/self/status; the server runs in this process).
//!
//! Run: `cargo bench --bench import_1m` (or `--profile dev` to reuse the debug build);
//! `IMPORT_N=100000` changes the number of contacts.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{status_json, TestApp};
use reqwest::multipart::{Form, Part};
use serde_json::json;

fn vm_hwm_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// The file, `per` contacts per piece.
fn file_stream(n: usize, per: usize) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::iter((0..n.div_ceil(per)).map(move |k| {
        let mut out = String::with_capacity(per * 160);
        if k == 0 {
            out.push_str("[\n");
        }
        for i in k * per..((k + 1) * per).min(n) {
            if i > 0 {
                out.push_str(",\n");
            }
            out.push_str(&format!(
                "{{\"name\": \"Contact {i}\", \"email\": \"c{i}@example.com\", \"phone_number\": \"+1 {:03} {:03}-{:04}\", \"outbound_number\": \"+1 760-867-5309\", \"external_unique_id\": \"UID_{i}\", \"Segment\": \"s{}\"}}",
                201 + i / 10_000_000,
                200 + (i / 10_000) % 1000,
                i % 10_000,
                i % 7
            ));
        }
        if (k + 1) * per >= n {
            out.push_str("\n]\n");
        }
        Ok(Bytes::from(out))
    }))
}

fn main() {
    let n: usize = std::env::var("IMPORT_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
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
        let base = format!("/apps/api/v1/outbound_dialer/campaigns/{campaign}/contacts");

        let start = Instant::now();
        let body = reqwest::Body::wrap_stream(file_stream(n, 1000));
        let form = Form::new().part(
            "file",
            Part::stream(body)
                .file_name("contacts.json")
                .mime_str("application/json")
                .expect("mime"),
        );
        let r = app
            .client
            .post(app.url(&format!("{base}/import")))
            .basic_auth("bench", Some(&token))
            .timeout(Duration::from_secs(3600))
            .multipart(form)
            .send()
            .await
            .expect("upload");
        let (s, v) = status_json(r).await;
        assert_eq!(s, 202, "{v}");
        let uploaded = start.elapsed();
        let job = v["id"].as_i64().expect("job id");
        eprintln!("uploaded and staged in {:.1} s", uploaded.as_secs_f64());
        let job_path = format!("{base}/jobs/{job}");
        let mut last = Instant::now();
        let v = loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let r = app
                .client
                .get(app.url(&job_path))
                .basic_auth("bench", Some(&token))
                .send()
                .await
                .expect("job");
            let (_, v) = status_json(r).await;
            if v["status"] != "in_progress" {
                break v;
            }
            if last.elapsed() > Duration::from_secs(15) {
                eprintln!("  … {} contacts after {:.0} s", v["total"], start.elapsed().as_secs_f64());
                last = Instant::now();
            }
        };
        let total = start.elapsed();
        let import = total - uploaded;
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts")
            .fetch_one(&app.db)
            .await
            .expect("count");
        println!(
            "import_1m: {n} contacts (stored {count}, job {}): upload+staging {:.1} s, job {:.1} s, total {:.1} s, {:.0} contacts/s, peak memory (VmHWM) {} MiB",
            v["status"],
            uploaded.as_secs_f64(),
            import.as_secs_f64(),
            total.as_secs_f64(),
            n as f64 / total.as_secs_f64(),
            vm_hwm_kb().unwrap_or(0) / 1024
        );
        assert_eq!(count as usize, n);
        app.stop().await;
    });
}
